"""Option sets declared once: each field says its check, help, CLI flag and public name.

An option set (what :func:`workbench.deploy`, :func:`workbench.sweep`, :func:`workbench.monitor`
and the drift functions accept) is a frozen dataclass whose fields carry an :class:`Option` in
their metadata. From that one declaration come:

- the checks: :func:`check_fields` runs every field's :class:`Check` in declaration order and
  returns the normalised values; errors have the standard shape of :func:`workbench._validation.
  fail` ("The 'port' parameter of deploy must be an integer in [0, 65535]. Got -1 instead.");
- the command line: :func:`add_arguments` adds one argparse argument per field with a flag, and
  :func:`cli_kwargs` turns the parsed namespace back into the public function's keywords;
- the documentation: :func:`markdown_table` renders the set as a table, kept in docs/*.md
  between ``<!-- options:NAME -->`` markers by ``scripts/update-option-tables`` (a test checks
  that the tables are current).

Public functions keep explicit keyword parameters (tab completion and help in notebooks); their
bodies only build the option object.

Why dataclasses and this small module rather than pydantic, attrs or param: the option objects
were frozen dataclasses already; the checks must produce the house error messages (naming the
public parameter and the caller, with a fix), which pydantic's ``ValidationError`` text does not;
field metadata is the standard-library hook for exactly this; and the core adds no dependency
(pydantic would add ~5 MB and its import time to ``import workbench``, attrs and param would add a
second way of writing classes for four option sets). The helper is ~250 lines and has no state.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import MISSING, dataclass, field
from pathlib import Path
from typing import Any

from workbench import _validation as v

__all__ = [
    "Bool",
    "Check",
    "Int",
    "Name",
    "Number",
    "OneOf",
    "Option",
    "add_arguments",
    "check_fields",
    "cli_kwargs",
    "field_values",
    "markdown_table",
    "option",
    "options_of",
    "render_docs",
    "update_docs",
]

_KEY = "workbench.option"


# -- checks -------------------------------------------------------------------------------------


class Check:
    """A constraint on one value: ``check(value, name, caller)`` returns it normalised or raises
    :class:`~workbench.InvalidParameterError`; ``text`` says what is accepted (docs, errors)."""

    def __init__(
        self,
        function: Callable[[Any, str, str], Any] | None = None,
        text: str = "",
        *,
        none: bool = False,
        fix: str = "",
    ) -> None:
        self.function = function
        self.text = text
        self.none = none
        self.fix = fix

    def __call__(self, value: Any, name: str, caller: str) -> Any:
        if value is None and self.none:
            return None
        return self.convert(value, name, caller)

    def convert(self, value: Any, name: str, caller: str) -> Any:
        assert self.function is not None
        return self.function(value, name, caller)

    def fail(self, value: Any, name: str, caller: str) -> Exception:
        """The standard error: ``name`` of ``caller`` must be ``text``; then ``fix``."""
        return v.fail(name, caller, self.text, value, self.fix)


class Bool(Check):
    """``True`` or ``False`` (not 0/1: those are usually a mistake)."""

    def __init__(self, *, none: bool = False) -> None:
        super().__init__(text="True or False" + (", or None" if none else ""), none=none)

    def convert(self, value: Any, name: str, caller: str) -> Any:
        if not isinstance(value, bool):
            raise self.fail(value, name, caller)
        return value


class Int(Check):
    """An integer in ``[low, high]`` (``high=None``: no upper bound)."""

    def __init__(
        self, low: int, high: int | None = None, *, none: bool = False, text: str = ""
    ) -> None:
        default = f"an integer in [{low}, {high}]" if high is not None else f"an int >= {low}"
        if not text and low == 1 and high is None:
            default = "a positive int"
        super().__init__(text=text or default + (" or None" if none else ""), none=none)
        self.low, self.high = low, high

    def convert(self, value: Any, name: str, caller: str) -> Any:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= self.low
        if not ok or (self.high is not None and value > self.high):
            raise self.fail(value, name, caller)
        return int(value)


class Number(Check):
    """A finite real number between ``low`` and ``high`` (open ends as told); returns a float."""

    def __init__(
        self,
        low: float | None = None,
        high: float | None = None,
        *,
        low_open: bool = False,
        high_open: bool = False,
        none: bool = False,
        text: str = "",
        fix: str = "",
    ) -> None:
        if not text:
            left = "-inf" if low is None else f"{low:g}"
            right = "inf" if high is None else f"{high:g}"
            text = f"a number in {'(' if low_open or low is None else '['}{left}, {right}"
            text += ")" if high_open or high is None else "]"
            text += " or None" if none else ""
        super().__init__(text=text, none=none, fix=fix)
        self.low, self.high, self.low_open, self.high_open = low, high, low_open, high_open

    def convert(self, value: Any, name: str, caller: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(value, name, caller)
        number = float(value)
        low, high = self.low, self.high
        if (
            not math.isfinite(number)
            or (low is not None and (number < low or (self.low_open and number == low)))
            or (high is not None and (number > high or (self.high_open and number == high)))
        ):
            raise self.fail(value, name, caller)
        return number


class OneOf(Check):
    """One of a few strings."""

    def __init__(
        self, choices: Sequence[Any], *, none: bool = False, text: str = "", fix: str = ""
    ) -> None:
        listed = ", ".join(map(repr, choices))
        default = f"one of {listed}" + (" or None" if none else "")
        super().__init__(text=text or default, none=none, fix=fix)
        self.choices = tuple(choices)

    def convert(self, value: Any, name: str, caller: str) -> Any:
        if not isinstance(value, str) or value not in self.choices:
            raise self.fail(value, name, caller)
        return value


class Name(Check):
    """A user-facing name: a non-empty single-line string (see ``_validation.check_name``)."""

    def __init__(self, *, none: bool = False) -> None:
        super().__init__(text="a non-empty string" + (" or None" if none else ""), none=none)

    def convert(self, value: Any, name: str, caller: str) -> Any:
        return v.check_name(value, caller, name=name)


# -- declaring options --------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """What one field of an option set means, outside Python's type.

    ``param``: the keyword of the public function (default: the field name). ``flag``: the
    command-line flag, ``None`` when the option has none. ``cli``: more argparse keywords
    (``type``, ``metavar``, ``action``, ``choices``, ``default``). ``default_text``: the default
    as the docs show it, when the field's default is computed or a placeholder.
    """

    help: str
    check: Check | None = None
    param: str | None = None
    flag: str | None = None
    cli: Mapping[str, Any] = field(default_factory=dict)
    default_text: str | None = None


def option(
    default: Any = MISSING,
    *,
    help: str,  # noqa: A002 - argparse's word
    check: Check | None = None,
    param: str | None = None,
    flag: str | None = None,
    cli: Mapping[str, Any] | None = None,
    default_text: str | None = None,
    default_factory: Any = MISSING,
    repr: bool = True,  # noqa: A002 - dataclasses' word
) -> Any:
    """A dataclass field declared as an option (see :class:`Option`)."""
    meta = {_KEY: Option(help, check, param, flag, dict(cli or {}), default_text)}
    if default_factory is not MISSING:
        return field(default_factory=default_factory, metadata=meta, repr=repr)
    return field(default=default, metadata=meta, repr=repr)


def options_of(cls: type) -> Iterator[tuple[dataclasses.Field[Any], Option]]:
    """The declared options of an option-set class, in order (other fields are skipped)."""
    for f in dataclasses.fields(cls):
        opt = f.metadata.get(_KEY)
        if opt is not None:
            yield f, opt


def public_name(f: dataclasses.Field[Any], opt: Option) -> str:
    return opt.param or f.name


def check_fields(obj: Any, caller: str) -> dict[str, Any]:
    """Every declared field of ``obj`` checked, in order: ``{field name: normalised value}``.

    Raises the first field's :class:`~workbench.InvalidParameterError`, named by its public
    parameter name."""
    values = {}
    for f, opt in options_of(type(obj)):
        value = getattr(obj, f.name)
        if opt.check is not None:
            value = opt.check(value, public_name(f, opt), caller)
        values[f.name] = value
    return values


def field_values(cls: type, params: Mapping[str, Any]) -> dict[str, Any]:
    """Public keywords -> ``{field name: value}`` of ``cls`` (for its constructor)."""
    names = {public_name(f, opt): f.name for f, opt in options_of(cls)}
    return {names.get(key, key): value for key, value in params.items()}


def set_fields(obj: Any, values: Mapping[str, Any]) -> None:
    """Store normalised values on a frozen dataclass (from its ``__post_init__``)."""
    for name, value in values.items():
        object.__setattr__(obj, name, value)


# -- the command line ---------------------------------------------------------------------------


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return None


def add_arguments(
    parser: argparse.ArgumentParser | Any,
    cls: type,
    *,
    skip: Sequence[str] = (),
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """One argparse argument per option with a flag; ``dest`` is the public parameter name.

    ``skip``: public names to leave out; ``overrides``: argparse keywords per public name that
    differ here (e.g. another default on the command line). ``cli={"also": [...]}`` in a
    declaration adds alias flags."""
    overrides = overrides or {}
    for f, opt in options_of(cls):
        name = public_name(f, opt)
        if opt.flag is None or name in skip:
            continue
        text = _plain(opt.help, "").replace("%", "%%")
        kwargs: dict[str, Any] = {"help": text, "dest": name}
        if not opt.flag.startswith("-"):  # a positional argument
            del kwargs["dest"]
        kwargs.update(opt.cli)
        also = kwargs.pop("also", ())
        kwargs.update(overrides.get(name, {}))
        if "default" not in kwargs and kwargs.get("action") not in ("store_true", "append"):
            kwargs["default"] = _default(f)
        if "default" in kwargs and not opt.flag.startswith("-") and kwargs.get("nargs") is None:
            del kwargs["default"]  # a required positional argument
        parser.add_argument(opt.flag, *also, **kwargs)


def cli_kwargs(args: argparse.Namespace, cls: type, *, skip: Sequence[str] = ()) -> dict[str, Any]:
    """The public keywords the parsed flags of ``cls`` stand for (``{param: value}``)."""
    out = {}
    for f, opt in options_of(cls):
        name = public_name(f, opt)
        if opt.flag is not None and name not in skip and hasattr(args, name):
            out[name] = getattr(args, name)
    return out


# -- the docs -----------------------------------------------------------------------------------


def _plain(text: str, code: str) -> str:
    """Help text written for docstrings (reST roles, ````code````) with ``code`` quotes."""
    text = re.sub(r":\w+:`~?([^`]+)`", rf"{code}\1{code}", text)
    return text.replace("``", code)


def _cell(text: str) -> str:
    return " ".join(_plain(text, "`").split()).replace("|", "\\|")


def _default_text(f: dataclasses.Field[Any], opt: Option) -> str:
    if opt.default_text is not None:
        return opt.default_text
    if f.default is MISSING and f.default_factory is MISSING:
        return "required"
    value = _default(f)
    return f"`{value!r}`"


def markdown_table(cls: type) -> str:
    """The option set as a markdown table: parameter, CLI flag, default, accepted, meaning."""
    lines = [
        "| Parameter | CLI | Default | Accepted | Meaning |",
        "|---|---|---|---|---|",
    ]
    for f, opt in options_of(cls):
        flag = "" if opt.flag is None else f"`{opt.flag}`"
        if opt.cli.get("action") is argparse.BooleanOptionalAction and opt.flag:
            flag += f" / `--no-{opt.flag.removeprefix('--')}`"
        if opt.flag and not opt.flag.startswith("-"):
            flag = f"`{opt.flag.upper()}` (positional)"
        accepted = "" if opt.check is None else opt.check.text
        lines.append(
            f"| `{public_name(f, opt)}` | {flag} | {_cell(_default_text(f, opt))} | "
            f"{_cell(accepted)} | {_cell(opt.help)} |"
        )
    return "\n".join(lines) + "\n"


def render_docs(docs: Path, tables: Mapping[str, tuple[str, type]]) -> dict[Path, str]:
    """The docs files with every ``<!-- options:NAME -->`` block regenerated (not written).

    ``tables``: marker name -> (file in ``docs``, option-set class)."""
    out: dict[Path, str] = {}
    for marker, (filename, cls) in tables.items():
        path = docs / filename
        text = out.get(path) or path.read_text()
        pattern = re.compile(
            rf"(<!-- options:{marker} -->\n).*?(<!-- /options:{marker} -->)", re.DOTALL
        )
        match = pattern.search(text)
        if match is None:
            raise ValueError(f"{path} has no <!-- options:{marker} --> ... markers")
        table = match[1] + markdown_table(cls) + match[2]
        out[path] = text[: match.start()] + table + text[match.end() :]
    return out


def update_docs(docs: Path, tables: Mapping[str, tuple[str, type]]) -> list[Path]:
    """Rewrite the generated tables in ``docs``; returns the files that changed."""
    changed = []
    for path, text in render_docs(docs, tables).items():
        if path.read_text() != text:
            path.write_text(text)
            changed.append(path)
    return changed
