"""The model card: one object that shows a model version in a notebook and exports to HTML/Markdown.

The card is computed first (:meth:`ModelCard.sections`: titled key/value lists and tables) and
drawn second, so the HTML, the Markdown and any other view show the same content.

Gate results (from the evaluation layer) plug in through :func:`register_gate_provider`: a
provider takes a :class:`ModelVersion` and returns objects with ``name``, ``passed`` and
``summary`` (for instance :class:`GateOutcome`); the card lists them under "Gates".
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

from workbench.entities import AliasEvent, ModelVersion, thaw
from workbench.exceptions import InvalidParameterError

__all__ = [
    "CardSection",
    "GateLike",
    "GateOutcome",
    "ModelCard",
    "gate_outcomes",
    "register_gate_provider",
]

MAX_HISTORY_ROWS = 20
MAX_VERSION_METRICS = 3
MAX_PACKAGES = 30


@runtime_checkable
class GateLike(Protocol):
    """What the card needs from a gate result."""

    @property
    def name(self) -> str: ...

    @property
    def passed(self) -> bool: ...

    @property
    def summary(self) -> str: ...


@dataclass(frozen=True)
class GateOutcome:
    """A gate result as the card shows it."""

    name: str
    passed: bool
    summary: str
    details: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


GateProvider = Callable[[ModelVersion], Iterable[GateLike]]
_providers: list[GateProvider] = []
_providers_lock = threading.Lock()


def register_gate_provider(provider: GateProvider) -> GateProvider:
    """Add a source of gate results for model cards (usable as a decorator).

    Examples
    --------
    >>> @register_gate_provider  # doctest: +SKIP
    ... def stored_gates(version):
    ...     return [GateOutcome("auc >= champion", True, "0.91 vs 0.89")]
    """
    if not callable(provider):
        raise InvalidParameterError(
            "The 'provider' parameter of register_gate_provider must be a callable taking a "
            f"ModelVersion and returning gate results. Got {provider!r} instead."
        )
    with _providers_lock:
        if provider not in _providers:
            _providers.append(provider)
    return provider


def gate_outcomes(version: ModelVersion) -> tuple[GateLike, ...]:
    """Every registered provider's gate results for ``version``, in registration order."""
    with _providers_lock:
        providers = list(_providers)
    return tuple(gate for provider in providers for gate in provider(version))


@dataclass(frozen=True)
class CardSection:
    """A titled part of the card: key/value ``items``, or a table (``columns`` + ``rows``)."""

    title: str
    items: tuple[tuple[str, str], ...] = ()
    columns: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    note: str = ""


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    if isinstance(value, (Mapping, list, tuple)):
        return json.dumps(thaw(value), default=str)
    return str(value)


@dataclass(frozen=True)
class ModelCard:
    """A model version with its lineage, signature, versions, alias history and gate results."""

    version: ModelVersion
    versions: tuple[ModelVersion, ...] = ()
    history: tuple[AliasEvent, ...] = ()
    gates: tuple[GateLike, ...] = ()

    @property
    def title(self) -> str:
        aliases = f" ({', '.join(self.version.aliases)})" if self.version.aliases else ""
        return f"Model {self.version.name} v{self.version.version}{aliases}"

    # -- content ----------------------------------------------------------------------------
    def sections(self) -> list[CardSection]:
        """The card's content, in display order."""
        parts = [
            self._overview(),
            CardSection("Metrics", _items(self.version.metrics), note="No metrics logged."),
            CardSection("Params", _items(self.version.params), note="No params logged."),
            *self._signature(),
            self._example(),
            self._lineage(),
            self._data(),
            self._environment(),
            self._versions(),
            self._history(),
            self._gates(),
        ]
        return parts

    def _overview(self) -> CardSection:
        mv = self.version
        run = mv.lineage.get("run", {})
        items = [
            ("URI", mv.uri),
            ("Aliases", ", ".join(mv.aliases) or "-"),
            ("Flavor", mv.flavor),
            ("Registered", f"{_text(mv.created_at)} by {mv.created_by or 'unknown'}"),
            ("Description", mv.description or "-"),
            (
                "Run",
                f"{run.get('name', '?')} ({mv.run_id}) in experiment {run.get('experiment', '?')}",
            ),
            ("Artifact", f"{mv.artifact_path} (sha256 {mv.artifact_digest[:16]}...)"),
        ]
        items += [(f"tag: {k}", _text(v)) for k, v in sorted(mv.tags.items())]
        return CardSection("Overview", tuple(items))

    def _signature(self) -> list[CardSection]:
        signature = self.version.signature
        if signature is None:
            return [CardSection("Signature", note="No signature recorded.")]
        header = ("column", "dtype", "kind", "nullable")
        inputs = CardSection(
            f"Signature: inputs ({signature.input_type})",
            columns=header,
            rows=tuple(
                (c.name, c.dtype, c.kind, "yes" if c.nullable else "no") for c in signature.inputs
            ),
        )
        if signature.method and signature.output_shape is not None:
            shape = signature.output_shape
            per_row = "one value" if shape == () else f"shape {list(shape)}"
            note = f"Observed from {signature.method}() on the input example: {per_row} per row."
        else:
            note = "Output not recorded (register with input_example= to record it)."
        outputs = CardSection(
            "Signature: outputs",
            columns=header if signature.outputs else (),
            rows=tuple(
                (c.name, c.dtype, c.kind, "yes" if c.nullable else "no") for c in signature.outputs
            ),
            note=note,
        )
        return [inputs, outputs]

    def _example(self) -> CardSection:
        example = self.version.input_example
        if not example:
            return CardSection("Input example", note="No input example stored.")
        return CardSection(
            "Input example",
            columns=tuple(str(c) for c in example.get("columns", ())),
            rows=tuple(tuple(_text(x) for x in row) for row in example.get("data", ())),
        )

    def _lineage(self) -> CardSection:
        lineage = self.version.lineage
        run = lineage.get("run", {})
        code = lineage.get("code", {})
        git = code.get("git", {})
        commit = git.get("commit")
        items = [
            ("Run status", _text(run.get("status"))),
            ("Started", _text(run.get("start_time"))),
            ("Ended", _text(run.get("end_time"))),
            ("Parent run", _text(run.get("parent_id"))),
            (
                "Code",
                "-"
                if not commit
                else f"{commit[:12]} on {git.get('branch') or '?'}"
                + (" (uncommitted changes)" if git.get("dirty") else ""),
            ),
            ("Notebook", _text(code.get("notebook"))),
            ("Command", _text(code.get("command"))),
        ]
        return CardSection("Lineage", tuple(items))

    def _data(self) -> CardSection:
        inputs = self.version.lineage.get("inputs", ())
        return CardSection(
            "Training data",
            columns=("name", "context", "rows", "columns", "digest") if inputs else (),
            rows=tuple(
                (
                    _text(i.get("name")),
                    _text(i.get("context")),
                    _text(i.get("n_rows")),
                    _text(i.get("n_cols")),
                    str(i.get("digest", ""))[:16],
                )
                for i in inputs
            ),
            note="" if inputs else "The run logged no datasets (run.log_input).",
        )

    def _environment(self) -> CardSection:
        env = self.version.lineage.get("environment", {})
        items = [(k, _text(env.get(k))) for k in ("python", "platform", "host", "user")]
        packages = env.get("packages", {})
        items += [(name, str(ver)) for name, ver in sorted(packages.items())[:MAX_PACKAGES]]
        return CardSection("Environment", tuple(items))

    def _versions(self) -> CardSection:
        names: list[str] = []
        for mv in self.versions:
            names += [k for k in sorted(mv.metrics) if k not in names]
        shown = [k for k in self.version.metrics if k in names][:MAX_VERSION_METRICS]
        shown = shown or names[:MAX_VERSION_METRICS]
        rows = tuple(
            (
                ("▶ " if mv.version == self.version.version else "") + str(mv.version),
                ", ".join(mv.aliases) or "-",
                _text(mv.created_at),
                mv.flavor,
                mv.run_id[:12],
                *(_text(mv.metrics.get(k)) for k in shown),
            )
            for mv in self.versions
        )
        columns = ("version", "aliases", "registered", "flavor", "run", *shown)
        return CardSection("Versions", columns=columns if rows else (), rows=rows)

    def _history(self) -> CardSection:
        events = sorted(self.history, key=lambda e: e.seq, reverse=True)[:MAX_HISTORY_ROWS]
        rows = tuple(
            (
                _text(e.changed_at),
                e.alias,
                e.action,
                f"{_text(e.from_version)} → {_text(e.to_version)}",
                _text(e.actor),
                e.reason or "",
            )
            for e in events
        )
        return CardSection(
            "Alias history",
            columns=("when", "alias", "action", "version", "by", "reason") if rows else (),
            rows=rows,
            note="" if rows else "No alias was ever set.",
        )

    def _gates(self) -> CardSection:
        rows = tuple((g.name, "PASS" if g.passed else "FAIL", g.summary) for g in self.gates)
        return CardSection(
            "Gates",
            columns=("gate", "result", "summary") if rows else (),
            rows=rows,
            note="" if rows else "No gate results yet.",
        )

    # -- views ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable content: the version, its versions, history and gates."""
        return {
            "title": self.title,
            "version": self.version.to_dict(),
            "versions": [
                {"version": mv.version, "aliases": list(mv.aliases), "run_id": mv.run_id}
                for mv in self.versions
            ],
            "alias_history": [
                {
                    "seq": e.seq,
                    "alias": e.alias,
                    "action": e.action,
                    "from_version": e.from_version,
                    "to_version": e.to_version,
                    "actor": e.actor,
                    "reason": e.reason,
                    "changed_at": e.changed_at.isoformat(),
                }
                for e in self.history
            ],
            "gates": [
                {"name": g.name, "passed": g.passed, "summary": g.summary} for g in self.gates
            ],
        }

    def to_markdown(self) -> str:
        """The card as GitHub-flavoured Markdown."""
        lines = [f"# {_md(self.title)}", ""]
        for section in self.sections():
            lines += [f"## {_md(section.title)}", ""]
            if section.items:
                lines += ["| | |", "|---|---|"]
                lines += [f"| {_md(k)} | {_md(value)} |" for k, value in section.items]
                lines.append("")
            if section.columns:
                lines.append("| " + " | ".join(_md(c) for c in section.columns) + " |")
                lines.append("|" + "---|" * len(section.columns))
                lines += ["| " + " | ".join(_md(x) for x in row) + " |" for row in section.rows]
                lines.append("")
            if section.note and not section.items:
                lines += [f"_{_md(section.note)}_", ""]
        return "\n".join(lines).rstrip() + "\n"

    def to_html(self, *, full_document: bool = True) -> str:
        """The card as self-contained HTML (inline styles, no scripts or external files)."""
        from workbench._html import render

        sections = [
            (section, [_row_class(section.title, row) for row in section.rows])
            for section in self.sections()
        ]
        return render(
            "model_card.html.j2",
            title=self.title,
            sections=sections,
            full_document=full_document,
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the card to ``path``: ``.html``/``.htm``, ``.md`` or ``.json`` by suffix."""
        target = Path(path)
        writers: dict[str, Callable[[], str]] = {
            ".html": self.to_html,
            ".htm": self.to_html,
            ".md": self.to_markdown,
            ".json": lambda: json.dumps(self.to_dict(), indent=2, default=str),
        }
        writer = writers.get(target.suffix.lower())
        if writer is None:
            raise InvalidParameterError(
                f"The 'path' parameter of ModelCard.save must end in one of {sorted(writers)}. "
                f"Got {str(path)!r} instead."
            )
        target.write_text(writer(), encoding="utf-8")
        return target

    def __repr__(self) -> str:
        mv = self.version
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(mv.metrics.items())[:4])
        return (
            f"ModelCard({mv.uri}, aliases={list(mv.aliases)}, flavor={mv.flavor!r}, "
            f"run={mv.run_id!r}, versions={len(self.versions)}"
            + (f", {metrics}" if metrics else "")
            + ")"
        )

    def _repr_html_(self) -> str:
        return self.to_html(full_document=False)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {
            "text/plain": repr(self),
            "text/html": self._repr_html_(),
            "text/markdown": self.to_markdown(),
        }


def _items(values: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), _text(v)) for k, v in sorted(values.items()))


def _md(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _row_class(title: str, row: Sequence[str]) -> str:
    if title == "Gates":
        return "pass" if row[1] == "PASS" else "fail"
    if title == "Versions" and row[0].startswith("▶"):
        return "current"
    return ""
