"""Immutable snapshots of what the store holds: experiments, runs, datasets, artifacts.

Stores return these; they never change after they are built. Mutating handles (the active run)
are separate types in :mod:`workbench.tracking`.
"""

from __future__ import annotations

import datetime as dt
import enum
import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = ["ArtifactRef", "Dataset", "DatasetInput", "Experiment", "Run", "RunStatus"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class RunStatus(enum.StrEnum):
    """Lifecycle of a run: ``running`` until it ends as finished, failed or killed."""

    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    KILLED = "killed"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Experiment:
    """A named group of runs."""

    experiment_id: str
    name: str
    created_at: dt.datetime
    deleted_at: dt.datetime | None = None
    description: str | None = None

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None


@dataclass(frozen=True)
class Dataset:
    """A dataset identified by the hash of its content, with its schema and a small profile."""

    digest: str
    name: str
    source: str | None
    n_rows: int | None
    n_cols: int | None
    schema: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    profile: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True)
class DatasetInput:
    """A dataset used by a run, and in which role (``training``, ``validation``, ...)."""

    dataset: Dataset
    context: str


@dataclass(frozen=True)
class ArtifactRef:
    """A file a run logged: its path inside the run and its content digest."""

    path: str
    digest: str
    size: int
    media_type: str


@dataclass(frozen=True)
class Run:
    """A snapshot of one run: identity, status, params, latest metrics, tags, inputs, artifacts."""

    run_id: str
    name: str
    experiment: str
    experiment_id: str
    status: RunStatus
    start_time: dt.datetime
    end_time: dt.datetime | None = None
    parent_id: str | None = None
    error: str | None = None
    params: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    metrics: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    tags: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    context: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    inputs: tuple[DatasetInput, ...] = ()
    artifacts: tuple[ArtifactRef, ...] = ()
    children: tuple[str, ...] = field(default=())

    @property
    def duration(self) -> dt.timedelta | None:
        """Wall time from start to end (``None`` while running)."""
        return None if self.end_time is None else self.end_time - self.start_time

    def __repr__(self) -> str:
        return (
            f"Run(run_id={self.run_id!r}, name={self.name!r}, experiment={self.experiment!r}, "
            f"status={self.status.value!r}, params={len(self.params)}, "
            f"metrics={dict(self.metrics)!r})"
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": repr(self), "text/html": self._repr_html_()}

    def _repr_html_(self) -> str:
        e = html.escape
        colour = {"running": "#1f77b4", "finished": "#2ca02c", "failed": "#d62728"}.get(
            self.status.value, "#7f7f7f"
        )
        duration = self.duration
        header = (
            f"<div style='font-family:sans-serif'><b>{e(self.name)}</b> "
            f"<span style='color:{colour}'>● {e(self.status.value)}</span> "
            f"<code>{e(self.run_id)}</code><br>"
            f"experiment <b>{e(self.experiment)}</b> · started {self.start_time:%Y-%m-%d %H:%M:%S}"
            + (f" · {duration.total_seconds():.1f} s" if duration is not None else "")
            + (f"<br><span style='color:#d62728'>{e(self.error)}</span>" if self.error else "")
        )
        sections = [
            _html_table("Params", self.params),
            _html_table("Metrics (latest)", {k: f"{v:.6g}" for k, v in self.metrics.items()}),
            _html_table("Tags", self.tags),
            _html_table(
                "Inputs",
                {
                    i.dataset.name: (
                        f"{i.context} · {i.dataset.n_rows} rows · {i.dataset.digest[:12]}"
                    )
                    for i in self.inputs
                },
            ),
            _html_table(
                "Artifacts", {a.path: f"{a.media_type} · {a.size} B" for a in self.artifacts}
            ),
        ]
        body = "".join(s for s in sections if s)
        return f"{header}<div style='display:flex;gap:2em;flex-wrap:wrap'>{body}</div></div>"


def _html_table(title: str, values: Mapping[str, Any]) -> str:
    if not values:
        return ""
    rows = "".join(
        f"<tr><td style='text-align:left'>{html.escape(str(k))}</td>"
        f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>"
        for k, v in sorted(values.items())
    )
    return f"<div><b>{html.escape(title)}</b><table>{rows}</table></div>"
