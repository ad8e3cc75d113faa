"""How models become files and back: a small registry of serializers ("flavours").

Loading is safe by default. The built-in serializers:

* ``skops`` (scikit-learn objects): the file lists every type it needs, and nothing is imported
  or built before that list is checked. Objects of types from scikit-learn, NumPy and SciPy are
  trusted (except a deny-list of modules that read files or run code). Callables stored in the
  file (functions, bound methods, ``functools.partial``) are trusted by exact name only: NumPy
  and SciPy ufuncs and the few functions scikit-learn itself keeps in fitted estimators
  (:data:`SAFE_FUNCTIONS`, :data:`SAFE_PARTIAL_FUNCTIONS`). Anything else is refused with
  :class:`~workbench.UnsafeModelError` naming it, unless the caller trusts it by name
  (``trusted=["mypkg.MyModel"]``) or trusts the file (``trusted=True``, with a warning).
* ``pickle`` (anything else): unpickling can run arbitrary code, so it loads only with
  ``trusted=True``, and warns with :class:`~workbench.UnsafeLoadWarning`.

Add a flavour by subclassing :class:`Serializer` and calling :func:`register_serializer`; the
serializer with the highest ``priority`` whose ``applies(model)`` is true saves a model.
"""

from __future__ import annotations

import abc
import functools
import importlib
import json
import pickle
import threading
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from workbench.exceptions import InvalidParameterError, UnsafeLoadWarning, UnsafeModelError

__all__ = [
    "PickleSerializer",
    "Serializer",
    "SkopsSerializer",
    "Trusted",
    "get_serializer",
    "is_trusted_by_default",
    "is_trusted_callable",
    "list_serializers",
    "normalize_trusted",
    "register_serializer",
    "serializer_for",
    "serializer_for_path",
]

#: ``trusted`` after normalization: True (trust the file) or the type names trusted by the caller.
Trusted = bool | tuple[str, ...]

TRUSTED_PACKAGES = ("sklearn", "numpy", "scipy")
# Parts of a dotted name that make a NumPy/SciPy/sklearn name untrusted all the same: test
# helpers (numpy.testing runs code strings), build tools, and readers of other files.
DENIED_PARTS = frozenset(
    {
        "testing",
        "_testing",
        "tests",
        "_testutils",
        "conftest",
        "distutils",
        "f2py",
        "ctypeslib",
        "npyio",
        "_npyio_impl",
        "format",
        "load",
        "loads",
        "loadtxt",
        "genfromtxt",
        "fromfile",
        "fromregex",
        "memmap",
        "open_memmap",
        "DataSource",
        "save",
        "savez",
        "savez_compressed",
        "savetxt",
        "tofile",
        "externals",
        "system",
        "exec",
        "eval",
    }
)


#: Functions a model file may hold without being trusted (besides NumPy/SciPy ufuncs, which
#: skops trusts, SciPy's BSpline ``asarray`` and the metrics of scikit-learn's named scorers,
#: both looked up at run time): those scikit-learn keeps in fitted estimators itself, and the
#: other choices its documentation gives for the same parameters. Each is pure computation on
#: the arrays it is given. (module, name, who stores it)
SAFE_FUNCTIONS: tuple[tuple[str, str, str], ...] = (
    (
        "sklearn.utils.validation",
        "check_array",
        "HistGradientBoosting* with categorical features, inside functools.partial",
    ),
    ("sklearn.cluster._kmeans", "_kmeans_single_lloyd", "BisectingKMeans (algorithm='lloyd')"),
    ("sklearn.cluster._kmeans", "_kmeans_single_elkan", "BisectingKMeans (algorithm='elkan')"),
    ("numpy", "mean", "FeatureAgglomeration: pooling_func default"),
    ("sklearn.feature_selection", "f_classif", "SelectKBest & co.: score_func default"),
    ("sklearn.feature_selection", "f_regression", "SelectKBest & co.: score_func"),
    ("sklearn.feature_selection", "r_regression", "SelectKBest & co.: score_func"),
    ("sklearn.feature_selection", "chi2", "SelectKBest & co.: score_func"),
    ("sklearn.feature_selection", "mutual_info_classif", "SelectKBest & co.: score_func"),
    ("sklearn.feature_selection", "mutual_info_regression", "SelectKBest & co.: score_func"),
)
#: The functions a ``functools.partial`` in a model file may wrap without being trusted: exactly
#: what scikit-learn wraps itself. A partial fixes arguments chosen by whoever wrote the file, so
#: only a function that does nothing but validate and convert arrays is safe whatever they are.
SAFE_PARTIAL_FUNCTIONS: tuple[tuple[str, str], ...] = (("sklearn.utils.validation", "check_array"),)
_PARTIAL = "functools.partial"


def is_trusted_by_default(type_name: str) -> bool:
    """Whether objects of a type named in a model file load without being trusted.

    This is the rule for types (whose objects are rebuilt from stored attributes, without
    running their ``__init__``). Functions and other callables stored in a file follow the
    stricter :func:`is_trusted_callable`.

    Examples
    --------
    >>> is_trusted_by_default("sklearn.tree._tree.Tree")
    True
    >>> is_trusted_by_default("numpy.load"), is_trusted_by_default("posix.system")
    (False, False)
    """
    parts = type_name.split(".")
    if parts[0] not in TRUSTED_PACKAGES or len(parts) < 2:
        return False
    return not any(p in DENIED_PARTS or "pickle" in p.lower() for p in parts[1:])


def is_trusted_callable(name: str) -> bool:
    """Whether a function (or bound method) stored in a model file loads without being trusted.

    Callables are trusted by exact name, never by package: a file can pair a function with
    arguments of its choosing (``FunctionTransformer(func, kw_args=...)``), so any function that
    writes files or reaches the network (``sklearn.datasets.dump_svmlight_file``) would run when
    the model predicts. NumPy/SciPy ufuncs are trusted by skops before this is asked.

    Examples
    --------
    >>> is_trusted_callable("sklearn.feature_selection._univariate_selection.f_classif")
    True
    >>> is_trusted_callable("sklearn.datasets._svmlight_format_io.dump_svmlight_file")
    False
    """
    return name in _safe_function_names()


def _function_name(module: str, name: str) -> str | None:
    """The name a skops file gives a function (its defining module), or None if it is gone."""
    try:
        function = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):  # pragma: no cover - another scikit-learn version
        return None
    return f"{getattr(function, '__module__', None) or module}.{function.__name__}"


@functools.cache
def _safe_function_names() -> frozenset[str]:
    names = {_function_name(module, name) for module, name, _ in SAFE_FUNCTIONS}
    names.add(_bspline_asarray())
    names.update(_scorer_functions())
    return frozenset(n for n in names if n is not None)


def _scorer_functions() -> set[str]:
    """The metric functions behind scikit-learn's named scorers (``scoring="accuracy"``), which
    estimators with a ``scoring`` parameter keep once fitted (TunedThresholdClassifierCV by
    default; search CVs, HistGradientBoosting* with early stopping): pure metrics of
    ``(y_true, y_pred)``. Asked of scikit-learn, so its next scorers are covered too."""
    from sklearn.metrics import get_scorer, get_scorer_names

    names = set()
    for scoring in get_scorer_names():
        function = getattr(get_scorer(scoring), "_score_func", None)
        if callable(function):
            names.add(f"{function.__module__}.{function.__name__}")
    return names


@functools.cache
def _safe_partial_names() -> frozenset[str]:
    names = {_function_name(module, name) for module, name in SAFE_PARTIAL_FUNCTIONS}
    return frozenset(n for n in names if n is not None)


def _bspline_asarray() -> str | None:
    """SciPy's BSpline keeps the array-API ``asarray`` it was built with (so do the splines of a
    fitted SplineTransformer); the function lives in a private module that moves between SciPy
    releases, so the name is asked of SciPy rather than written here."""
    try:
        import numpy as np
        from scipy.interpolate import BSpline

        function = getattr(BSpline(np.array([0.0, 1.0]), np.array([0.0]), 0), "_asarray", None)
    except Exception:  # pragma: no cover - another SciPy version
        return None
    if function is None or getattr(function, "__name__", None) != "asarray":
        return None  # pragma: no cover - older SciPy keeps no function
    return f"{function.__module__}.asarray"


def normalize_trusted(trusted: Any, caller: str) -> Trusted:
    """``trusted=`` as given by a user: False, True, or type names / types to trust."""
    if isinstance(trusted, bool):
        return trusted
    if isinstance(trusted, (str, type)):
        trusted = [trusted]
    if isinstance(trusted, Sequence) and all(isinstance(t, (str, type)) for t in trusted):
        return tuple(
            t if isinstance(t, str) else f"{t.__module__}.{t.__qualname__}" for t in trusted
        )
    raise InvalidParameterError(
        f"The 'trusted' parameter of {caller} must be False, True, or a list of type names "
        f"such as ['mypackage.models.MyModel']. Got {trusted!r} instead."
    )


class Serializer(abc.ABC):
    """Saves one kind of model to a file and loads it back; see the module docs."""

    #: Unique name, stored as the model version's ``flavor``.
    name: ClassVar[str]
    #: File name suffix (``.skops``); also picks the serializer for an existing artifact.
    suffix: ClassVar[str]
    media_type: ClassVar[str] = "application/octet-stream"
    #: Higher goes first when choosing a serializer for a model.
    priority: ClassVar[int] = 50

    @abc.abstractmethod
    def applies(self, model: Any) -> bool:
        """Whether this serializer can save ``model``."""

    @abc.abstractmethod
    def save(self, model: Any, path: Path) -> None:
        """Write ``model`` to ``path``."""

    @abc.abstractmethod
    def load(self, path: Path, *, trusted: Trusted) -> Any:
        """Read a model from ``path``; raise UnsafeModelError rather than run untrusted code."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, priority={self.priority})"


def _warn_trusted(path: Path, what: str) -> None:
    warnings.warn(
        f"Loading {path.name} with trusted=True: {what} Load only models from sources you "
        "trust; prefer trusted=['module.Type', ...] naming exactly what you reviewed.",
        UnsafeLoadWarning,
        stacklevel=3,
    )


@dataclass(frozen=True)
class SkopsAudit:
    """What a skops file needs, read before anything in it is imported or built."""

    #: Every type and function skops does not trust itself (what ``skops.io.load`` must be told).
    needed: tuple[str, ...]
    #: Those workbench does not trust by default either (the caller must name them).
    refused: tuple[str, ...]
    #: The refused names that are functions or bound methods.
    functions: tuple[str, ...] = ()
    #: What the refused ``functools.partial`` objects wrap.
    wrapped: tuple[str, ...] = ()


def audit_skops(path: Path) -> SkopsAudit:
    """Check a skops file against the default trust policy (see the module docs).

    Objects: trusted by package (:func:`is_trusted_by_default`). Functions and bound methods:
    by exact name (:func:`is_trusted_callable`). ``functools.partial``: only around one of
    :data:`SAFE_PARTIAL_FUNCTIONS`. The file is read as skops reads it to load, so the answer is
    about the very objects a load would build.
    """
    from skops.io._audit import get_tree

    with zipfile.ZipFile(path) as archive:
        schema, context = _read_schema(archive)
        tree = get_tree(schema, context, trusted=None)
        needed = tuple(sorted(tree.get_unsafe_set()))
    callables: set[str] = set()
    wrapped: set[str] = set()
    partials = 0
    for node in _nodes(tree):
        kind = type(node).__name__
        if kind == "FunctionNode":
            callables.add(f"{node.module_name}.{node.class_name}")
        elif kind == "MethodNode":
            callables.add(f"{node.obj.module_name}.{node.obj.class_name}.{node.func}")
        elif kind == "PartialNode":
            partials += 1
            function = _partial_function(node)
            if function not in _safe_partial_names():
                wrapped.add(function)
    refused = []
    for name in needed:
        if name == _PARTIAL:
            safe = partials > 0 and not wrapped
        elif name in callables:
            safe = is_trusted_callable(name)
        else:
            safe = is_trusted_by_default(name)
        if not safe:
            refused.append(name)
    functions = tuple(n for n in refused if n in callables)
    return SkopsAudit(needed, tuple(refused), functions, tuple(sorted(wrapped)))


def _read_schema(archive: zipfile.ZipFile) -> tuple[dict[str, Any], Any]:
    try:
        from skops.io._utils import read_schema
    except ImportError:  # pragma: no cover - skops < 0.16 has no protocol check of its own
        from skops.io._utils import LoadContext

        schema = json.loads(archive.read("schema.json"))
        return schema, LoadContext(src=archive, protocol=schema["protocol"])
    schema, context = read_schema(archive)
    return schema, context


def _nodes(tree: Any) -> Iterator[Any]:
    """Every node of a skops tree once (a node reached twice is a shared object)."""
    from skops.io._audit import Node

    stack, seen = [tree], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        for child in node.children.values():
            values = (
                child
                if isinstance(child, list)
                else (list(child.values()) if isinstance(child, dict) else [child])
            )
            stack.extend(x for x in values if isinstance(x, Node))


def _partial_function(node: Any) -> str:
    """The name of the function a skops ``PartialNode`` wraps (``<kind>`` if not a function)."""
    function: Any = getattr(node, "func", None)
    while type(function).__name__ == "CachedNode":  # the same function, stored once before
        function = function.cached
    if type(function).__name__ != "FunctionNode":
        return f"<{type(function).__name__}>"
    return f"{function.module_name}.{function.class_name}"


class SkopsSerializer(Serializer):
    """scikit-learn estimators (and anything built from them) with ``skops.io``."""

    name = "skops"
    suffix = ".skops"
    media_type = "application/vnd.skops"
    priority = 10

    def applies(self, model: Any) -> bool:
        try:
            from sklearn.base import BaseEstimator
        except ImportError:  # pragma: no cover - scikit-learn is a dependency
            return False
        return isinstance(model, BaseEstimator)

    def save(self, model: Any, path: Path) -> None:
        import skops.io

        skops.io.dump(model, path)

    def load(self, path: Path, *, trusted: Trusted) -> Any:
        import skops.io

        try:
            audit = audit_skops(path)
        except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as exc:
            raise InvalidParameterError(
                f"{path.name} is not a readable skops file ({type(exc).__name__}: {exc}). "
                "Was it registered with the right flavor?"
            ) from None
        refused = list(audit.refused)
        if trusted is True:
            if refused:
                _warn_trusted(path, f"it builds objects of types {refused}, which can run code.")
        else:
            allowed = set(trusted or ())
            refused = [t for t in refused if t not in allowed]
            if refused:
                raise UnsafeModelError(_refusal(refused, audit), untrusted=refused)
        return skops.io.load(path, trusted=list(audit.needed))


def _refusal(refused: list[str], audit: SkopsAudit) -> str:
    why = "Loading them could run code from those modules."
    functions = [f for f in audit.functions if f in refused]
    if functions:
        why += (
            f" Functions ({functions}) are trusted by exact name only: the file also chooses "
            "the arguments they are called with."
        )
    if _PARTIAL in refused and audit.wrapped:
        why += (
            f" functools.partial wraps {list(audit.wrapped)} here; without trust it is only "
            f"accepted around {sorted(_safe_partial_names())}, as scikit-learn creates it."
        )
    return (
        f"The model file needs types that are not trusted by default: {refused}. {why} If you "
        f"trust this model, name exactly those types: load_model(uri, trusted={refused!r}), or "
        "trust the whole file with load_model(uri, trusted=True). Trusted by default: objects "
        f"of types from {', '.join(TRUSTED_PACKAGES)}, and the functions scikit-learn itself "
        "keeps in fitted estimators (docs/registry.md, 'Loading safely')."
    )


class PickleSerializer(Serializer):
    """Anything picklable, as a last resort: loads only with ``trusted=True``."""

    name = "pickle"
    suffix = ".pkl"
    media_type = "application/x-pickle"
    priority = 0

    def applies(self, model: Any) -> bool:
        return True

    def save(self, model: Any, path: Path) -> None:
        with open(path, "wb") as f:
            pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)

    def load(self, path: Path, *, trusted: Trusted) -> Any:
        if trusted is not True:
            raise UnsafeModelError(
                f"{path.name} is a pickle file: unpickling can run arbitrary code, and its "
                "types cannot be checked before they run. If you trust where this model came "
                "from, load it with load_model(uri, trusted=True). To make models safe to share, "
                "register scikit-learn models (saved with skops) or add a serializer for your "
                "framework with workbench.registry.register_serializer().",
                untrusted=["<pickle>"],
            )
        _warn_trusted(path, "unpickling runs whatever code the file names.")
        with open(path, "rb") as f:
            return pickle.load(f)  # only with trusted=True, warned above


_lock = threading.Lock()
_serializers: dict[str, Serializer] = {}


def register_serializer(serializer: Serializer, *, replace: bool = False) -> Serializer:
    """Add a flavour. Its ``name`` must be new unless ``replace=True``.

    Examples
    --------
    >>> class TorchSerializer(Serializer):  # doctest: +SKIP
    ...     name, suffix, priority = "torch", ".pt", 20
    ...     def applies(self, model): return isinstance(model, torch.nn.Module)
    ...     def save(self, model, path): torch.save(model.state_dict(), path)
    ...     def load(self, path, *, trusted): ...
    >>> register_serializer(TorchSerializer())  # doctest: +SKIP
    """
    if not isinstance(serializer, Serializer):
        raise InvalidParameterError(
            "The 'serializer' parameter of register_serializer must be an instance of "
            f"workbench.registry.Serializer. Got {type(serializer).__name__} instead."
        )
    name = getattr(serializer, "name", None)
    suffix = getattr(serializer, "suffix", None)
    if not isinstance(name, str) or not name or not isinstance(suffix, str) or not suffix:
        raise InvalidParameterError(
            f"{type(serializer).__name__} must set the class attributes 'name' (e.g. 'torch') "
            f"and 'suffix' (e.g. '.pt'). Got name={name!r}, suffix={suffix!r}."
        )
    with _lock:
        if name in _serializers and not replace:
            raise InvalidParameterError(
                f"A serializer named {name!r} is already registered ({_serializers[name]!r}). "
                "Choose another name, or pass replace=True to override it."
            )
        _serializers[name] = serializer
    return serializer


def list_serializers() -> list[str]:
    """Names of the registered serializers, highest priority first."""
    with _lock:
        ordered = sorted(_serializers.values(), key=lambda s: (-s.priority, s.name))
    return [s.name for s in ordered]


def get_serializer(name: str) -> Serializer:
    """The serializer registered as ``name``."""
    with _lock:
        found = _serializers.get(name)
    if found is None:
        raise InvalidParameterError(
            f"No serializer named {name!r}. Available serializers: {list_serializers()}. "
            "Add one with workbench.registry.register_serializer()."
        )
    return found


def serializer_for(model: Any) -> Serializer:
    """The highest-priority serializer that applies to ``model``."""
    for name in list_serializers():
        serializer = get_serializer(name)
        if serializer.applies(model):
            return serializer
    raise InvalidParameterError(  # pragma: no cover - pickle applies to everything
        f"No serializer can save a {type(model).__name__}. Available: {list_serializers()}."
    )


def serializer_for_path(path: str) -> Serializer:
    """The serializer whose suffix ends ``path`` (e.g. autolog's ``model/model.skops``)."""
    for name in list_serializers():
        serializer = get_serializer(name)
        if path.lower().endswith(serializer.suffix.lower()):
            return serializer
    suffixes = {n: get_serializer(n).suffix for n in list_serializers()}
    raise InvalidParameterError(
        f"Cannot tell the flavor of artifact {path!r} from its suffix; known suffixes: "
        f"{suffixes}. Pass flavor= to register_model, e.g. flavor='skops'."
    )


register_serializer(SkopsSerializer())
register_serializer(PickleSerializer())
