"""``drift_report``: is the current data distributed like the reference, column by column?

    import workbench as wb

    report = wb.drift_report(train_df, last_week_df, target="churned", prediction="proba")
    report.dataset_drift          # True when >= drift_share of the tested features drifted
    report.columns                # one row per column: test, statistic, p_value, threshold, ...
    report.save_html("drift.html")
    run_id = report.log()         # kept in the store: experiment "drift-reports"
    wb.load_drift_report(run_id)  # the same report, later

A report renders in a notebook (summary table and binned distributions, never raw rows), in
Panel (``__panel__``), and exports to self-contained HTML and JSON. See docs/monitoring.md.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench import _validation as v
from workbench.exceptions import ArtifactNotFoundError, InvalidParameterError
from workbench.monitoring._engine import (
    COLUMN_FIELDS,
    SCHEMA_STATUSES,
    TESTED_STATUSES,
    analyze_columns,
)
from workbench.monitoring._options import DriftOptions
from workbench.monitoring._sources import resolve_data
from workbench.monitoring.performance import PredictionSpec, performance_table
from workbench.monitoring.stattests import StatTest
from workbench.tracking.client import TrackingClient, resolve_client

__all__ = ["REPORT_EXPERIMENT", "DriftReport", "drift_report", "load_drift_report"]

REPORT_EXPERIMENT = "drift-reports"
REPORT_FORMAT = "workbench.drift_report"
REPORT_FORMAT_VERSION = 1
KIND_TAG = "workbench.kind"
#: What a schema change (a column missing on one side, all missing, or of another type) does to
#: the verdict: ``"report"`` lists it (headline, ``problems``, JSON); ``"drift"`` also makes the
#: dataset count as drifted, so ``--fail-on-drift`` and ``dataset_drift`` checks catch it.
_NAMED_IN_HEADLINE = 5
_METRIC_KEY_RE = re.compile(r"[^A-Za-z0-9_\-.:/ ]")


class DriftReport:
    """The result of :func:`drift_report`: per-column verdicts, dataset drift, performance.

    Attributes
    ----------
    columns
        DataFrame indexed by column name: ``role`` (feature / target / prediction), ``kind``,
        ``test``, ``statistic``, ``p_value`` (NaN for distance tests), ``threshold``,
        ``drifted``, ``status`` (ok, constant, mixed_types, small_sample, empty,
        missing_in_current,
        missing_in_reference, type_mismatch, unsupported, error), ``note``, ``n_reference``,
        ``n_current`` (non-missing values) and ``missing_reference``/``missing_current``
        (shares of rows missing).
    drift_share
        The share of drifted features at which the dataset counts as drifted.
    performance
        Metrics on reference vs current (and CBPE estimates) when target and prediction are
        known, else None.
    on_schema_change
        ``"report"`` (default) or ``"drift"``: whether a schema change (see
        :attr:`schema_changes`) makes :attr:`dataset_drift` true.
    """

    def __init__(
        self,
        *,
        columns: pd.DataFrame,
        drift_share: float,
        reference_rows: int,
        current_rows: int,
        distributions: Mapping[str, Mapping[str, Any]],
        performance: pd.DataFrame | None = None,
        task: str | None = None,
        target: str | None = None,
        prediction: PredictionSpec | None = None,
        name: str | None = None,
        sources: Mapping[str, str] | None = None,
        created_at: dt.datetime | None = None,
        run_id: str | None = None,
        on_schema_change: str = "report",
    ) -> None:
        self.columns = columns
        self.on_schema_change = on_schema_change
        self.drift_share = drift_share
        self.reference_rows = reference_rows
        self.current_rows = current_rows
        self.distributions = dict(distributions)
        self.performance = performance
        self.task = task
        self.target = target
        self.prediction = prediction
        self.name = name
        self.sources = dict(sources or {})
        self.created_at = created_at or dt.datetime.now(dt.UTC)
        self.run_id = run_id
        self.client: TrackingClient | None = None  # where log() keeps it (None: current store)

    # -- the verdict --------------------------------------------------------------------------
    @property
    def _features(self) -> pd.DataFrame:
        cols = self.columns
        return cols[(cols["role"] == "feature") & cols["status"].isin(TESTED_STATUSES)]

    @property
    def n_tested(self) -> int:
        """Features that were tested (not skipped)."""
        return len(self._features)

    @property
    def n_drifted(self) -> int:
        """Features whose test detected drift."""
        return int(self._features["drifted"].sum())

    @property
    def share_drifted(self) -> float:
        """Drifted features / tested features (0 when none was tested)."""
        return self.n_drifted / self.n_tested if self.n_tested else 0.0

    @property
    def dataset_drift(self) -> bool:
        """Whether at least ``drift_share`` of the tested features drifted (or, with
        ``on_schema_change="drift"``, a column's schema changed)."""
        if self.on_schema_change == "drift" and len(self.schema_changes):
            return True
        return self.n_tested > 0 and self.share_drifted >= self.drift_share

    @property
    def skipped_columns(self) -> list[str]:
        """Columns that were not tested (any role): schema changes, unsupported kinds, errors."""
        cols = self.columns
        return [str(c) for c in cols.index[~cols["status"].isin(TESTED_STATUSES)]]

    @property
    def schema_changes(self) -> pd.DataFrame:
        """Columns whose schema changed between the sides: missing on one side, with no value on
        a side, or numbers on one side and text on the other (never tested)."""
        cols = self.columns
        return cols.loc[cols["status"].isin(SCHEMA_STATUSES), ["role", "kind", "status", "note"]]

    @property
    def warnings(self) -> list[str]:
        """One sentence per tested column whose verdict is unreliable (status
        ``small_sample``): what is wrong and what to do."""
        cols = self.columns
        rows = cols[cols["status"] == "small_sample"]
        return [f"{name}: {row['note']}" for name, row in rows.iterrows()]

    @property
    def drifted_columns(self) -> list[str]:
        """Names of the drifted columns (features, target and prediction)."""
        return [str(c) for c in self.columns.index[self.columns["drifted"]]]

    @property
    def problems(self) -> pd.DataFrame:
        """Columns that could not be tested or were tested with a caveat, with the reason."""
        cols = self.columns
        return cols.loc[cols["status"] != "ok", ["role", "kind", "status", "note"]]

    def _role_drift(self, role: str) -> bool | None:
        rows = self.columns[self.columns["role"] == role]
        tested = rows[rows["status"].isin(TESTED_STATUSES)]
        return bool(tested["drifted"].any()) if len(tested) else None

    @property
    def target_drift(self) -> bool | None:
        """Whether the target column drifted (None without a tested target)."""
        return self._role_drift("target")

    @property
    def prediction_drift(self) -> bool | None:
        """Whether a prediction column drifted (None without a tested prediction)."""
        return self._role_drift("prediction")

    @property
    def headline(self) -> str:
        """The verdict in one line, naming the columns that were not tested and why."""
        share_drift = self.n_tested > 0 and self.share_drifted >= self.drift_share
        if share_drift:
            verdict = "DRIFT"
        elif self.dataset_drift:
            verdict = "DRIFT (schema changed)"
        else:
            verdict = "no drift"
        text = (
            f"{verdict}: {self.n_drifted}/{self.n_tested} features drifted, "
            f"share {self.share_drifted:.2f} vs {self.drift_share:g}"
        )
        cols = self.columns
        skipped = cols[~cols["status"].isin(TESTED_STATUSES)]
        if len(skipped):
            shown = skipped.iloc[:_NAMED_IN_HEADLINE]
            named = ", ".join(
                f"{str(c)!r} ({status})"
                for c, status in zip(shown.index, shown["status"], strict=True)
            )
            rest = len(skipped) - len(shown)
            more = f" and {rest} more" if rest else ""
            text += f"; {len(skipped)} NOT TESTED: {named}{more}"
        if self.warnings:
            text += f"; {len(self.warnings)} unreliable (small sample, see .warnings)"
        return text

    def __repr__(self) -> str:
        return (
            f"DriftReport({self.headline}; reference {self.reference_rows:,} rows, "
            f"current {self.current_rows:,} rows)"
        )

    # -- export -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable dict (non-finite numbers as ``"inf"``/``"-inf"``/``None``)."""
        records = []
        for name, row in self.columns.iterrows():
            record: dict[str, Any] = {"column": str(name)}
            for field in COLUMN_FIELDS:
                record[field] = _json_value(row[field])
            records.append(record)
        performance = None
        if self.performance is not None:
            performance = {
                str(metric): {str(k): _json_value(x) for k, x in row.items()}
                for metric, row in self.performance.iterrows()
            }
        return {
            "format": REPORT_FORMAT,
            "version": REPORT_FORMAT_VERSION,
            "name": self.name,
            "created_at": self.created_at.isoformat(),
            "run_id": self.run_id,
            "drift_share": self.drift_share,
            "dataset_drift": self.dataset_drift,
            "share_drifted": self.share_drifted,
            "n_drifted": self.n_drifted,
            "n_tested": self.n_tested,
            "target_drift": self.target_drift,
            "prediction_drift": self.prediction_drift,
            "headline": self.headline,
            "on_schema_change": self.on_schema_change,
            "schema_changes": [str(c) for c in self.schema_changes.index],
            "skipped_columns": [
                {
                    "column": str(name),
                    "role": row["role"],
                    "status": row["status"],
                    "note": row["note"],
                }
                for name, row in self.columns.iterrows()
                if row["status"] not in TESTED_STATUSES
            ],
            "warnings": self.warnings,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "target": self.target,
            "prediction": _json_prediction(self.prediction),
            "task": self.task,
            "sources": self.sources,
            "columns": records,
            "distributions": self.distributions,
            "performance": performance,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftReport:
        """Rebuild a report from :meth:`to_dict` output (e.g. a stored ``report.json``)."""
        if data.get("format") != REPORT_FORMAT:
            raise v.fail(
                "data", "DriftReport.from_dict", f"a dict with format {REPORT_FORMAT!r}", data
            )
        records = [
            {k: _from_json_value(x) for k, x in record.items()} for record in data["columns"]
        ]
        columns = _columns_frame(records)
        performance = None
        if data.get("performance"):
            performance = pd.DataFrame.from_dict(
                {
                    m: {k: _from_json_value(x) for k, x in row.items()}
                    for m, row in data["performance"].items()
                },
                orient="index",
            ).astype(float)
            performance.index.name = "metric"
        return cls(
            columns=columns,
            drift_share=float(data["drift_share"]),
            reference_rows=int(data["reference_rows"]),
            current_rows=int(data["current_rows"]),
            distributions=data.get("distributions") or {},
            performance=performance,
            task=data.get("task"),
            target=data.get("target"),
            prediction=data.get("prediction"),
            name=data.get("name"),
            sources=data.get("sources") or {},
            created_at=dt.datetime.fromisoformat(data["created_at"]),
            run_id=data.get("run_id"),
            on_schema_change=data.get("on_schema_change") or "report",
        )

    def to_json(self, path: str | Path | None = None) -> str:
        """The report as JSON text; also written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=1, allow_nan=False)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def to_html(self, *, interactive: bool = True) -> str:
        """A self-contained HTML page: summary, column table, one distribution plot per column.

        ``interactive=True`` embeds plotly.js once (about 5 MB) for zoomable plots;
        ``interactive=False`` draws static SVG (tens of KB). Neither loads anything from the
        network when opened.
        """
        from workbench.monitoring._html import render_report

        return render_report(self, interactive=interactive)

    def save_html(self, path: str | Path, *, interactive: bool = True) -> Path:
        """Write :meth:`to_html` to ``path``; returns the path."""
        target = Path(path)
        target.write_text(self.to_html(interactive=interactive), encoding="utf-8")
        return target

    def plot_column(self, column: str) -> Any:
        """The binned reference vs current distribution of one column (a plotly Figure)."""
        from workbench.monitoring._html import column_figure

        if column not in self.distributions:
            raise v.fail(
                "column",
                "DriftReport.plot_column",
                "a tested column",
                column,
                f"Available: {sorted(self.distributions)}.",
            )
        return column_figure(column, self.distributions[column], self.column_row(column))

    def column_row(self, column: str) -> pd.Series:
        """The row of :attr:`columns` for one column."""
        row = self.columns.loc[column]
        if not isinstance(row, pd.Series):  # duplicated column names
            row = row.iloc[0]
        return row

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from workbench.monitoring._html import render_fragment

        return {"text/plain": repr(self), "text/html": render_fragment(self)}

    def __panel__(self) -> Any:
        """A Panel component showing the report (needs ``pip install panel``)."""
        try:
            import panel as pn  # type: ignore[import-not-found,import-untyped,unused-ignore]
        except ImportError:
            raise ImportError(
                "Showing a drift report in Panel requires panel. Install it with "
                "`pip install panel`."
            ) from None
        from workbench.monitoring._html import render_fragment

        html_pane: Any = pn.pane.HTML  # panel has no type hints
        return html_pane(render_fragment(self), sizing_mode="stretch_width")

    # -- the store ----------------------------------------------------------------------------
    def log(
        self,
        *,
        experiment: str = REPORT_EXPERIMENT,
        name: str | None = None,
        client: TrackingClient | None = None,
    ) -> str:
        """Keep the report in the store as a run; returns its run id.

        The store is ``client``'s, else that of the client the report was made with, else the
        current store.

        The run (experiment ``drift-reports`` by default; a child of the active run, if any)
        has tags ``workbench.kind=drift_report`` and ``drift.dataset_drift``, metrics
        ``drifted_share``, ``drifted_columns``, ``dataset_drift`` (0/1) and ``drift.<column>``
        (each tested column's drift score: its p-value or distance), and artifacts
        ``report.json`` (reloadable with :func:`load_drift_report`) and ``report.html``
        (static, small).
        """
        title = name or self.name or "drift-report"
        client = resolve_client(client or self.client, "DriftReport.log")
        with client.start_run(experiment, title, tags=self._tags()) as run:
            run.log_params(
                {
                    "drift_share": self.drift_share,
                    "reference_rows": self.reference_rows,
                    "current_rows": self.current_rows,
                    "columns": len(self.columns),
                }
            )
            run.log_metrics(self._metrics())
            self.run_id = run.run_id
            run.log_dict(self.to_dict(), "report.json")
            run.log_bytes(self.to_html(interactive=False).encode(), "report.html", "text/html")
        client.flush()
        return run.run_id

    def _tags(self) -> dict[str, str]:
        tags = {
            KIND_TAG: "drift_report",
            "drift.dataset_drift": str(self.dataset_drift).lower(),
            "drift.schema_changed": str(bool(len(self.schema_changes))).lower(),
        }
        for side in ("reference", "current"):
            if side in self.sources:
                tags[f"drift.{side}"] = self.sources[side][:500]
        return tags

    def _metrics(self) -> dict[str, float]:
        metrics = {
            "drifted_share": self.share_drifted,
            "drifted_columns": float(self.n_drifted),
            "dataset_drift": float(self.dataset_drift),
            "skipped_columns": float(len(self.skipped_columns)),
            "schema_changes": float(len(self.schema_changes)),
        }
        used: set[str] = set(metrics)
        for column, row in self.columns.iterrows():
            if row["status"] not in TESTED_STATUSES:
                continue
            score = row["p_value"] if not math.isnan(row["p_value"]) else row["statistic"]
            if not math.isfinite(score):
                continue
            key = _METRIC_KEY_RE.sub("_", f"drift.{column}")[:240]
            while key in used:
                key += "_"
            used.add(key)
            metrics[key] = float(score)
        return metrics


def _json_value(value: Any) -> Any:
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        number = float(value)
        if math.isnan(number):
            return None
        if math.isinf(number):
            return "inf" if number > 0 else "-inf"
        return number
    return value


def _from_json_value(value: Any) -> Any:
    if value == "inf":
        return math.inf
    if value == "-inf":
        return -math.inf
    return value


def _json_prediction(prediction: PredictionSpec | None) -> Any:
    if prediction is None or isinstance(prediction, str):
        return prediction
    if isinstance(prediction, Mapping):
        return {str(k): c for k, c in prediction.items()}
    return list(prediction)


_FLOAT_FIELDS = ("statistic", "p_value", "threshold", "missing_reference", "missing_current")


def _columns_frame(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(list(records), columns=["column", *COLUMN_FIELDS]).set_index(
        "column"
    )
    for field in _FLOAT_FIELDS:
        frame[field] = frame[field].astype(float)  # None -> NaN
    frame["drifted"] = frame["drifted"].astype(bool)
    frame["n_reference"] = frame["n_reference"].astype("int64")
    frame["n_current"] = frame["n_current"].astype("int64")
    for field in ("role", "kind", "status", "note"):
        frame[field] = frame[field].astype(object)
    frame["test"] = frame["test"].astype(object).where(frame["test"].notna(), None)
    return frame


# -- building a report -------------------------------------------------------------------------


def drift_report(
    reference: Any,
    current: Any,
    *,
    target: str | None = None,
    prediction: PredictionSpec | None = None,
    columns: Sequence[str] | None = None,
    tests: str | StatTest | Mapping[str, str | StatTest] | None = None,
    thresholds: float | Mapping[str, float] | None = None,
    drift_share: float = 0.5,
    column_kinds: Mapping[str, str] | None = None,
    name: str | None = None,
    progress: bool | None = None,
    on_schema_change: str = "report",
    client: TrackingClient | None = None,
) -> DriftReport:
    """Compare the distribution of every column of ``current`` with ``reference``.

    Parameters
    ----------
    reference, current
        DataFrames, paths to .csv/.parquet/.json files, a model URI (reference: the model's
        training data from its lineage), or a request-log window (anything with
        ``to_frame()``).
    target, prediction
        The label column and the model output column(s) (see
        :mod:`workbench.monitoring.performance`). Both are tested for drift like features;
        when both are known, performance on reference vs current is added (estimated from
        probabilities when current has no labels yet).
    columns
        Features to test (default: every column except target and prediction).
    tests
        A test name for every column (``"psi"``), or a dict column -> test name; the rest use
        the default rule (:func:`workbench.monitoring._defaults.default_stattest`). A test that
        does not apply to a column's kind falls back to the default, with a note.
    thresholds
        One threshold for every column, or a dict column -> threshold (default: the test's).
    drift_share
        The dataset drifts when at least this share of the tested features drifted.
    column_kinds
        Force ``"numeric"`` or ``"categorical"`` for some columns (default: inferred).
    name
        A title for the report.
    progress
        Show a progress bar (default: only for large inputs).
    on_schema_change
        What a column missing on one side, with no value on a side, or holding numbers on one
        side and text on the other does: ``"report"`` (default) names it in the headline,
        :attr:`DriftReport.schema_changes` and the JSON; ``"drift"`` also makes
        ``dataset_drift`` true, so a pipeline that checks for drift stops on it.
    client
        The client whose store model URIs and request logs are read from, and where
        :meth:`DriftReport.log` keeps the report (default: the current store).

    Returns
    -------
    DriftReport
    """
    caller = "drift_report"
    ref, ref_source = resolve_data(reference, name="reference", caller=caller, client=client)
    cur, cur_source = resolve_data(current, name="current", caller=caller, client=client)
    options = DriftOptions.checked(
        caller,
        target=target,
        prediction=prediction,
        columns=columns,
        tests=tests,
        thresholds=thresholds,
        drift_share=drift_share,
        column_kinds=column_kinds,
        on_schema_change=on_schema_change,
    )
    plan = options.plan(ref, cur, caller)
    default_test, per_test, default_threshold, per_threshold, kinds = options.resolve(
        {c for c, _ in plan}, caller
    )
    results = analyze_columns(
        ref,
        cur,
        plan,
        kinds=kinds,
        tests=per_test,
        thresholds=per_threshold,
        default_test=default_test,
        default_threshold=default_threshold,
        progress=progress,
    )
    performance, task = _performance(ref, cur, target, prediction)
    report = DriftReport(
        columns=_columns_frame([{"column": r.column, **r.row()} for r in results]),
        drift_share=options.drift_share,
        reference_rows=len(ref),
        current_rows=len(cur),
        distributions={r.column: dict(r.distribution) for r in results if r.distribution},
        performance=performance,
        task=task,
        target=target,
        prediction=prediction,
        name=name,
        sources={"reference": ref_source, "current": cur_source},
        on_schema_change=on_schema_change,
    )
    report.client = client
    return report


def _performance(
    ref: pd.DataFrame, cur: pd.DataFrame, target: str | None, prediction: PredictionSpec | None
) -> tuple[pd.DataFrame | None, str | None]:
    try:
        return performance_table(ref, cur, target=target, prediction=prediction)
    except (KeyError, ValueError, TypeError) as exc:
        if isinstance(exc, InvalidParameterError):
            raise
        raise InvalidParameterError(
            f"Could not compute performance from target={target!r} and "
            f"prediction={prediction!r}: {type(exc).__name__}: {exc}"
        ) from exc


def load_drift_report(run_id: str, *, client: TrackingClient | None = None) -> DriftReport:
    """The drift report kept in run ``run_id`` (see :meth:`DriftReport.log`) of ``client``'s
    store (default: the current store)."""
    wb = resolve_client(client, "load_drift_report")
    try:
        data = wb.load_artifact(run_id, "report.json")
    except ArtifactNotFoundError:
        raise ArtifactNotFoundError(
            f"Run {run_id!r} holds no drift report (no report.json artifact). Find reports "
            "with workbench.search_runs(filter=\"tags.workbench.kind = 'drift_report'\")."
        ) from None
    report = DriftReport.from_dict(data)
    report.run_id = run_id
    report.client = client
    return report
