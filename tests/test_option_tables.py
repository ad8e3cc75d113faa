"""The option tables in docs/*.md are generated from the option declarations and current."""

from __future__ import annotations

import argparse
import dataclasses
import importlib.machinery
import importlib.util
from pathlib import Path
from typing import Any

import pytest

from workbench import _options as o
from workbench.exceptions import InvalidParameterError

ROOT = Path(__file__).resolve().parents[1]


def _generator():  # type: ignore[no-untyped-def]
    path = ROOT / "scripts" / "update-option-tables"
    loader = importlib.machinery.SourceFileLoader("update_option_tables", str(path))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_docs_tables_are_current() -> None:
    stale = [
        str(path.relative_to(ROOT))
        for path, text in o.render_docs(ROOT / "docs", _generator().tables()).items()
        if path.read_text() != text
    ]
    assert not stale, f"Run `.venv/bin/python scripts/update-option-tables`: stale {stale}"


@pytest.mark.parametrize("name", ["deploy", "sweep", "monitor", "drift"])
def test_every_option_has_help_and_a_check(name: str) -> None:
    _, cls = _generator().tables()[name]
    declared = list(o.options_of(cls))
    assert declared
    for f, opt in declared:
        assert opt.help.strip(), f.name
        assert opt.check is not None and opt.check.text, f.name


@pytest.mark.parametrize("name", ["deploy", "sweep", "monitor", "drift"])
def test_cli_flags_are_unique_and_parse(name: str) -> None:
    _, cls = _generator().tables()[name]
    parser = argparse.ArgumentParser()
    o.add_arguments(parser, cls, skip=("model", "name"))
    args = parser.parse_args([])
    for key in o.cli_kwargs(args, cls):
        assert hasattr(args, key)


def test_checks_name_the_public_parameter() -> None:
    check = o.Int(1, 10)
    with pytest.raises(InvalidParameterError, match=r"'workers' parameter of f must be an int"):
        check(0, "workers", "f")
    assert o.Number(0, 1, low_open=True)(0.5, "x", "f") == 0.5
    with pytest.raises(InvalidParameterError, match=r"in \(0, 1\]"):
        o.Number(0, 1, low_open=True)(0, "x", "f")
    assert o.OneOf(("a", "b"), none=True)(None, "x", "f") is None
    with pytest.raises(InvalidParameterError, match="True or False"):
        o.Bool()(1, "x", "f")


def _signature_cases() -> list[tuple[str, Any, type, dict[str, str], set[str]]]:
    """(name, public function, option set, field -> keyword renames, options it fills itself)."""
    import workbench as wb
    from workbench.monitoring._options import DriftOptions
    from workbench.monitoring._policy import MonitorPolicy
    from workbench.serving._config import ServingConfig
    from workbench.sweeps._options import SweepOptions

    return [
        ("deploy", wb.deploy, ServingConfig, {}, set()),
        ("sweep", wb.sweep, SweepOptions, {}, set()),
        ("monitor", wb.monitor, MonitorPolicy, {"retrain": "on_drift"}, {"champion", "deployment"}),
        ("drift_report", wb.drift_report, DriftOptions, {}, set()),
    ]


@pytest.mark.parametrize("case", _signature_cases(), ids=lambda c: c[0])
def test_public_signatures_follow_the_declarations(case: Any) -> None:
    """Every declared option is a keyword of its function, with the declared default."""
    import inspect

    name, function, cls, renamed, filled = case
    parameters = inspect.signature(function).parameters
    for f, opt in o.options_of(cls):
        public = renamed.get(f.name, opt.param or f.name)
        if public in filled:
            continue
        assert public in parameters, f"{name}() lacks the declared option {public!r}"
        default = parameters[public].default
        declared = f.default if f.default is not dataclasses.MISSING else None
        if f.default_factory is not dataclasses.MISSING:
            declared = f.default_factory()
        if default is inspect.Parameter.empty or public in ("fallback_default",):
            continue
        normalised = list(default) if isinstance(declared, list) else default
        assert normalised == declared, f"{name}({public}=) is {default!r}, declared {declared!r}"
