"""Every exception workbench defines lives in workbench/exceptions.py, in its docstring tree."""

from __future__ import annotations

import ast
import builtins
import inspect
import re
from pathlib import Path

import workbench
from workbench import exceptions

PACKAGE = Path(workbench.__file__).parent

# Exceptions defined outside exceptions.py on purpose: never raised past their module's callers.
PRIVATE = {
    "workbench/store/_host.py::HostUnavailable": "no store host answers; the store falls back to "
    "direct access, never raised to a caller",
    "workbench/store/_host.py::HostMoved": "raised by a host's handler while it leaves the role; "
    "the connection is dropped and the caller asks the next host, never raised to a caller",
    "workbench/store/_lease.py::LeaseTimeout": "a lease wait ran out; the store retries or turns "
    "it into StoreBusyError",
    "workbench/jupyter/magics.py::_ArgumentError": "argparse's exit inside a %wb magic; printed as "
    "usage, never raised",
}

# In exceptions.py but not in workbench.__all__: only the scoring server raises them, and it turns
# them into an HTTP answer, so no caller ever sees one.
INTERNAL = {"ClientDisconnectedError", "InternalError"}


def _exception_bases() -> set[str]:
    """Names of the exception classes a workbench module can derive from."""
    return {
        name
        for module in (builtins, exceptions)
        for name, obj in vars(module).items()
        if isinstance(obj, type) and issubclass(obj, BaseException)
    }


def _classes_defined(path: Path) -> list[tuple[str, list[str]]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            bases = [ast.unparse(base).rsplit(".", 1)[-1] for base in node.bases]
            found.append((node.name, bases))
    return found


def test_no_exception_class_outside_exceptions_py() -> None:
    known = _exception_bases()
    outside: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).as_posix()
        if rel == "workbench/exceptions.py":
            continue
        local = _classes_defined(path)
        local_errors: set[str] = set()
        changed = True
        while changed:  # classes derived from an exception class in the same module count too
            changed = False
            for name, bases in local:
                if name not in local_errors and set(bases) & (known | local_errors):
                    local_errors.add(name)
                    changed = True
        outside += [f"{rel}::{name}" for name in sorted(local_errors)]
    unexpected = sorted(set(outside) - set(PRIVATE))
    assert not unexpected, f"define these in workbench/exceptions.py: {unexpected}"
    assert sorted(PRIVATE) == sorted(set(outside) & set(PRIVATE)), "stale PRIVATE entries"


def _exception_classes() -> dict[str, type[BaseException]]:
    return {
        name: obj
        for name, obj in vars(exceptions).items()
        if inspect.isclass(obj)
        and issubclass(obj, BaseException)
        and obj.__module__ == exceptions.__name__
    }


def test_every_exception_is_in_the_docstring_tree() -> None:
    doc = exceptions.__doc__ or ""
    drawn = set(re.findall(r"^\s*(?:[│├└─ ]*)([A-Z]\w+)", doc, flags=re.MULTILINE))
    classes = _exception_classes()
    assert set(classes) <= drawn, f"not drawn: {sorted(set(classes) - drawn)}"
    assert set(classes) == set(exceptions.__all__)


def test_tree_matches_the_class_hierarchy() -> None:
    # Each drawn child sits under its direct workbench parent.
    doc = (exceptions.__doc__ or "").split("Warnings")[0]
    stack: list[tuple[int, str]] = []
    for line in doc.splitlines():
        match = re.match(r"^(\s*(?:[│├└─ ]*))([A-Z]\w+)", line)
        if not match or match.group(2) not in exceptions.__all__:
            continue
        depth, name = len(match.group(1)), match.group(2)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        cls = getattr(exceptions, name)
        if stack:
            parent = getattr(exceptions, stack[-1][1])
            assert parent in cls.__bases__, f"{name} is drawn under {parent.__name__}"
        else:
            assert cls is exceptions.WorkbenchError
        stack.append((depth, name))


def test_every_error_is_public_or_internal() -> None:
    for name, cls in _exception_classes().items():
        if issubclass(cls, Warning):
            assert name in workbench.__all__, name
            continue
        assert issubclass(cls, exceptions.WorkbenchError), name
        if name in INTERNAL:
            assert name not in workbench.__all__, name
            assert (cls.__doc__ or "").startswith("Internal:"), name
        else:
            assert name in workbench.__all__, f"export workbench.{name} or list it as INTERNAL"


def test_old_import_paths_still_work() -> None:
    from workbench.jupyter._dashboard import DashboardUnavailableError
    from workbench.monitoring import GateFailedError
    from workbench.pipelines import NotebookFailedError
    from workbench.serving import DeploymentError, MalformedRequestError
    from workbench.serving._errors import InternalError, UnsupportedMediaTypeError
    from workbench.sweeps import SweepWorkerError

    assert GateFailedError is exceptions.GateFailedError
    assert NotebookFailedError is exceptions.NotebookFailedError
    assert SweepWorkerError is exceptions.SweepWorkerError
    assert DashboardUnavailableError is exceptions.DashboardUnavailableError
    assert DeploymentError is exceptions.DeploymentError
    assert MalformedRequestError is exceptions.MalformedRequestError
    assert UnsupportedMediaTypeError is exceptions.UnsupportedMediaTypeError
    assert InternalError is exceptions.InternalError
