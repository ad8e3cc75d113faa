"""Close the loop: watch a model's windows, retrain when a trigger fires, gate, promote or keep.

    import workbench as wb

    mon = wb.monitor("churn", target="churned", time_column="day", window="7D",
                     performance_floor=0.8, on_drift=train_fn, gate=["accuracy>=champion+0.01"])
    step = mon.check(last_week_df)      # one window -> a LoopStep explaining every decision
    mon.run(history_df)                 # a replay, window by window
    mon.history()                       # one row per check

One check: a drift report of the window against the reference (the champion's training data) and
the champion's metric on the window's labelled rows -> which triggers fired -> on an alarm,
retrain on the recent labelled rows except a held-out sample -> register the challenger (alias
``challenger``) -> evaluate challenger and champion on the held-out rows -> the gate -> move the
``champion`` alias (servers following it switch without restart) or keep the champion. Every check
is a run in experiment ``monitoring`` (``workbench.kind=monitor_check``) whose tags link the drift
report, retrain and evaluation runs, the challenger version and the decision.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from workbench import _validation as v
from workbench.exceptions import InvalidParameterError, WorkbenchError
from workbench.monitoring._check import MonitorState, record_step, run_check
from workbench.monitoring._policy import (
    DECISIONS,
    SIGNALS,
    LoopStep,
    MonitorPolicy,
    history_columns,
    parse_gate,
)
from workbench.monitoring._sources import resolve_data
from workbench.monitoring._windowing import DEFAULT_ORIGIN, cut_windows
from workbench.monitoring.gates import MetricThreshold
from workbench.registry import (
    GateOutcome,
    ModelVersion,
    get_model_version,
    parse_model_uri,
    register_gate_provider,
)
from workbench.tracking.client import TrackingClient, resolve_client

__all__ = [
    "DECISIONS",
    "SIGNALS",
    "LoopStep",
    "Monitor",
    "MonitorPolicy",
    "monitor",
    "parse_gate",
    "split_windows",
]

logger = logging.getLogger("workbench.monitoring.loop")

KIND = "monitor_check"
_DEPLOYMENT_PREFIX = "deployment:"


# -- the entry point ----------------------------------------------------------------------------


def monitor(
    model: Any,
    *,
    reference: Any = None,
    target: str | None = None,
    features: Sequence[str] | None = None,
    time_column: str | None = None,
    window: str | int | None = None,
    origin: Any = DEFAULT_ORIGIN,
    on_drift: Callable[[pd.DataFrame], Any] | str | os.PathLike[str] | None = None,
    gate: Mapping[str, MetricThreshold] | Sequence[str] | str | None = None,
    triggers: Sequence[str] | None = None,
    metric: str = "accuracy",
    greater_is_better: bool | None = None,
    performance_floor: float | None = None,
    max_performance_drop: float | None = None,
    drift_share: float = 0.5,
    thresholds: float | Mapping[str, float] | None = None,
    retrain_window: str | int | None = None,
    holdout: float = 0.3,
    evaluation: str = "forward",
    challenger: str = "challenger",
    promote: bool = True,
    min_rows: int = 10,
    experiment: str = "monitoring",
    trusted: bool | Sequence[str] = False,
    settle: float = 2.0,
    lateness: float = 600.0,
    client: TrackingClient | None = None,
) -> Monitor:
    """A :class:`Monitor` that closes the loop for a registered model or a deployment.

    The other parameters are :class:`MonitorPolicy`'s (``on_drift`` is its ``retrain``), where
    each option is declared once with its check and CLI flag (table in docs/monitoring.md).

    Parameters
    ----------
    model
        A model name (``"churn"``: its ``champion``), a model URI with an alias
        (``"churn@prod"``: that alias is the champion), a :class:`workbench.serving.Deployment`
        or ``"deployment:<id>"`` (the deployment's alias; its request log is the default source
        of windows, and a promotion switches what it serves).
    on_drift
        What retrains: a callable ``(train_df) -> fitted model`` or a notebook path (papermill).
    client
        The client whose store holds the model, its data and the check runs (default: the
        current store).

    Examples
    --------
    >>> mon = workbench.monitor("weather", target="weather", performance_floor=0.5,
    ...                         triggers=["performance"], on_drift=train)  # doctest: +SKIP
    >>> mon.check(april_df).decision  # doctest: +SKIP
    'promoted'
    """
    wb = resolve_client(client, "monitor")
    name, champion, deployment = _resolve_subject(model, wb)
    policy = MonitorPolicy(
        model=name,
        target=target,
        features=features,
        reference=reference,
        time_column=time_column,
        window=window,
        origin=origin,
        champion=champion,
        challenger=challenger,
        triggers=triggers,
        drift_share=drift_share,
        thresholds=thresholds,
        metric=metric,
        greater_is_better=greater_is_better,
        performance_floor=performance_floor,
        max_performance_drop=max_performance_drop,
        gate=gate,
        retrain=on_drift,
        retrain_window=retrain_window,
        holdout=holdout,
        evaluation=evaluation,
        promote=promote,
        min_rows=min_rows,
        deployment=deployment,
        experiment=experiment,
        trusted=trusted,
        settle=settle,
        lateness=lateness,
    )
    return Monitor(policy, client=wb)


def _resolve_subject(subject: Any, client: TrackingClient) -> tuple[str, str, str | None]:
    """(model name, champion alias, deployment id) for what :func:`monitor` was given."""
    caller = "monitor"
    deployment_id = getattr(subject, "deployment_id", None)
    if isinstance(subject, str) and subject.startswith(_DEPLOYMENT_PREFIX):
        deployment_id = subject[len(_DEPLOYMENT_PREFIX) :]
    if isinstance(deployment_id, str):
        uri = getattr(subject, "model_uri", None) or _deployment_model_uri(deployment_id, client)
        ref = parse_model_uri(uri, caller)
        if ref.alias is None:
            raise v.fail(
                "model",
                caller,
                "a deployment that follows an alias (e.g. deployed as 'name@champion')",
                subject,
                f"It serves {uri!r}, a fixed version: a promotion could not switch its "
                f"traffic. Redeploy '{ref.name}@champion'.",
            )
        return ref.name, ref.alias, deployment_id
    if isinstance(subject, ModelVersion):
        subject = subject.name
    if not isinstance(subject, str):
        raise v.fail(
            "model",
            caller,
            "a model name, 'name@alias', a Deployment or 'deployment:<id>'",
            subject,
        )
    ref = parse_model_uri(subject, caller)
    if ref.version is not None:
        raise v.fail(
            "model",
            caller,
            "a model name or 'name@alias' (the champion moves)",
            subject,
            f"Monitor {ref.name!r} and point its champion alias at version {ref.version}.",
        )
    return ref.name, ref.alias or "champion", None


def _deployment_model_uri(deployment_id: str, client: TrackingClient) -> str:
    store = client.store
    get = getattr(store, "get_deployment", None)
    if get is None:  # pragma: no cover - stores without serving
        raise InvalidParameterError(
            f"This store keeps no deployments, so 'deployment:{deployment_id}' cannot be "
            "monitored. Monitor the model by name instead."
        )
    return str(get(deployment_id).model_uri)


# -- windows ------------------------------------------------------------------------------------


def split_windows(
    frame: pd.DataFrame,
    *,
    time_column: str | None,
    window: str | int | None,
    caller: str,
    origin: Any = DEFAULT_ORIGIN,
) -> list[pd.DataFrame]:
    """Consecutive non-empty windows of ``frame``: blocks of ``window`` rows, or periods of
    ``time_column`` (any pandas frequency: ``"30D"``, ``"7D"``, ``"W"``, ``"MS"``) binned as
    :func:`~workbench.drift_over_time` bins them, in time order."""
    if window is None:
        raise v.fail(
            "window",
            caller,
            "set to cut data into windows",
            None,
            "Pass window='30D' (with time_column=) or a number of rows, or pass a list of batches.",
        )
    if isinstance(window, str) and time_column is None:
        raise v.fail(
            "time_column",
            caller,
            "a timestamp column of the data for a calendar window",
            time_column,
            f"Available: {[str(c) for c in frame.columns]}.",
        )
    parts = cut_windows(frame, time_column=time_column, window=window, origin=origin, caller=caller)
    return [part.rows for part in parts if len(part.rows)]


class _RequestLogWindow:
    """Requests a deployment answered in ``[since, until)``, as the model saw them, except the
    requests in ``checked`` (ids of rows an earlier window already covered)."""

    def __init__(
        self,
        deployment_id: str,
        since: Any,
        until: Any,
        checked: Iterable[str] = (),
        client: TrackingClient | None = None,
    ) -> None:
        self.deployment_id, self.since, self.until = deployment_id, since, until
        self.checked = set(checked)
        self.client = client

    def __repr__(self) -> str:
        return f"_RequestLogWindow({self.deployment_id!r}, {self.since} .. {self.until})"

    def to_frame(self) -> pd.DataFrame:
        from workbench.serving import read_request_log

        frame: pd.DataFrame = read_request_log(
            self.deployment_id,
            since=self.since,
            until=self.until,
            metadata=True,
            client=self.client,
        )
        if self.checked and len(frame):
            frame = frame[~frame["request_id"].isin(self.checked)].reset_index(drop=True)
        return frame


# -- the monitor --------------------------------------------------------------------------------


class Monitor:
    """Checks windows of a model's data against its policy and acts on what it finds.

    Built by :func:`monitor` (or ``Monitor(MonitorPolicy(...), client=...)``; ``client``: the
    store it reads and writes, default the current one). Not thread-safe: one check at a time.
    """

    def __init__(self, policy: MonitorPolicy, *, client: TrackingClient | None = None) -> None:
        if not isinstance(policy, MonitorPolicy):
            raise v.fail("policy", "Monitor", "a MonitorPolicy", policy)
        self.policy = policy
        self.client = resolve_client(client, "Monitor")
        self._steps: list[LoopStep] = []
        self._state = MonitorState(policy, self.client)
        # Request-log windows: the watermark (UTC, naive) up to which requests were checked,
        # and the requests checked within ``lateness`` of it (late rows are read again,
        # these are not).
        self._watermark: pd.Timestamp | None = None
        self._checked: dict[str, pd.Timestamp] = {}
        self._pending: tuple[pd.Timestamp, dict[str, pd.Timestamp]] | None = None

    def __repr__(self) -> str:
        p = self.policy
        return (
            f"Monitor({p.model}@{p.champion}, triggers={list(p.triggers or ())}, "
            f"{len(self._steps)} checks)"
        )

    # -- public -----------------------------------------------------------------------------
    def check(self, batch: Any = None) -> LoopStep:
        """Check one window and act on it; returns the step with every decision explained.

        ``batch`` is a DataFrame, a file, or anything with ``to_frame()``; for a deployment's
        monitor, ``None`` reads the requests received up to the watermark (``settle`` seconds
        ago) that no earlier check covered: those since the previous watermark, and late ones
        (received before it, visible only since). The first time it starts ``window`` before
        the watermark when that is a time span.
        """
        frame, source = self._batch(batch)
        client = self.client
        index = len(self._steps) + 1
        champion = get_model_version(f"{self.policy.model}@{self.policy.champion}", client=client)
        # Before the check's run starts: a reference that cannot be found is a setup error,
        # raised without leaving a failed check run behind.
        self._state.reference_frame()
        tags = {
            "workbench.kind": KIND,
            "workbench.model": self.policy.model,
            "workbench.champion_alias": self.policy.champion,
            "workbench.champion_version": str(champion.version),
            "monitor.source": source[:500],
        }
        if self.policy.deployment:
            tags["workbench.deployment"] = self.policy.deployment
        if batch is None and self._pending is not None:
            tags["monitor.watermark"] = self._pending[0].isoformat()
        name = f"{self.policy.model}-check-{index}"
        with client.start_run(self.policy.experiment, name, tags=tags) as run:
            run.log_params({k: x for k, x in self.policy.describe().items() if x is not None})
            step = run_check(self._state, run, index, champion, (frame, source))
            record_step(run, step)
        self._steps.append(step)
        self._state.remember(frame)
        if batch is None and self._pending is not None:  # committed once the check succeeded
            self._watermark, self._checked = self._pending
            self._pending = None
        logger.info("%s", " ".join(step.explain()))
        return step

    def run(self, data: Any, *, progress: bool = False) -> list[LoopStep]:
        """Replay: check each window in order. ``data`` is a list of batches, or one frame (or
        file) cut into windows by the policy's ``window`` and ``time_column``."""
        if isinstance(data, (pd.DataFrame, str, os.PathLike)):
            frame, _ = resolve_data(data, name="data", caller="Monitor.run", client=self.client)
            batches: Iterable[Any] = split_windows(
                frame,
                time_column=self.policy.time_column,
                window=self.policy.window,
                caller="Monitor.run",
                origin=self.policy.origin,
            )
        elif isinstance(data, Iterable):
            batches = data
        else:
            raise v.fail("data", "Monitor.run", "a DataFrame, a file or a list of batches", data)
        items = list(batches)
        if progress:
            from tqdm.auto import tqdm

            items = list(tqdm(items, desc=f"monitor {self.policy.model}", unit="window"))
        return [self.check(batch) for batch in items]

    def watch(self, every: float, *, max_checks: int | None = None) -> Iterator[LoopStep]:
        """Check the deployment's new requests every ``every`` seconds (a generator of steps)."""
        if not self.policy.deployment:
            raise v.fail(
                "every",
                "Monitor.watch",
                "used on a deployment's monitor",
                every,
                "Without a deployment, call check(batch) as data arrives.",
            )
        if not isinstance(every, (int, float)) or every <= 0:
            raise v.fail("every", "Monitor.watch", "a positive number of seconds", every)
        done = 0
        while max_checks is None or done < max_checks:
            if done:
                time.sleep(every)
            yield self.check()
            done += 1

    @property
    def watermark(self) -> pd.Timestamp | None:
        """For a deployment's monitor: the receipt time (UTC) up to which requests were
        checked (``None`` before the first request-log check)."""
        return self._watermark

    @property
    def steps(self) -> list[LoopStep]:
        """The steps checked so far, oldest first."""
        return list(self._steps)

    def history(self) -> pd.DataFrame:
        """One row per check: window, champion metric, drift, what fired, gate, decision."""
        return pd.DataFrame(
            [s.row() for s in self._steps], columns=history_columns(self.policy.metric)
        )

    def to_figure(self) -> Any:
        """The champion's metric per window, alarms and promotions marked (plotly)."""
        import plotly.graph_objects as go

        frame = self.history()
        metric = f"champion_{self.policy.metric}"
        x = [
            str(s)[:10] if s is not None else str(i)
            for i, s in zip(frame["check"], frame["window_start"], strict=True)
        ]
        figure = go.Figure()
        figure.add_scatter(x=x, y=frame[metric], mode="lines+markers", name=metric)
        for decision, color, symbol in (
            ("promoted", "#1e6b3a", "star"),
            ("kept", "#9b1c1c", "x"),
            ("alarm", "#d62728", "x"),
        ):
            rows = frame["decision"] == decision
            figure.add_scatter(
                x=[x[i] for i in np.flatnonzero(rows.to_numpy())],
                y=frame.loc[rows, metric],
                mode="markers",
                name=decision,
                marker={"color": color, "size": 13, "symbol": symbol},
            )
        if self.policy.performance_floor is not None:
            figure.add_hline(
                y=self.policy.performance_floor, line_dash="dash", annotation_text="floor"
            )
        figure.update_layout(
            title=f"{self.policy.model}: the closed loop",
            template="plotly_white",
            yaxis_title=self.policy.metric,
        )
        return figure

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from workbench._html import render, safe

        table = (
            self.history()
            .drop(columns=["reason", "run_id"])
            .to_html(index=False, na_rep="", float_format=lambda x: f"{x:.3f}")
        )
        page = render("titled_table.html.j2", title=repr(self), table=safe(table))
        return {"text/plain": repr(self), "text/html": page}

    # -- internals ----------------------------------------------------------------------------
    def _batch(self, batch: Any) -> tuple[pd.DataFrame, str]:
        if batch is not None:
            return resolve_data(batch, name="batch", caller="Monitor.check", client=self.client)
        deployment = self.policy.deployment
        if not deployment:
            raise v.fail(
                "batch",
                "Monitor.check",
                "a DataFrame, a file or a request-log window",
                None,
                "Only a deployment's monitor reads its windows by itself.",
            )
        self.client.flush()  # what this process logged is visible before the window is cut
        policy = self.policy
        watermark = self._now().tz_convert("UTC").tz_localize(None)
        watermark -= pd.Timedelta(seconds=policy.settle)
        lateness = pd.Timedelta(seconds=policy.lateness)
        if self._watermark is None:
            since = None
            if isinstance(policy.window, str):
                since = watermark - pd.tseries.frequencies.to_offset(policy.window)
        else:  # late rows: received before the last watermark, visible only since
            since = min(self._watermark - lateness, watermark)
        window = _RequestLogWindow(deployment, since, watermark, self._checked, self.client)
        frame, source = resolve_data(window, name="batch", caller="Monitor.check")
        checked = dict(self._checked)
        if len(frame):
            received = pd.to_datetime(frame["received_at"])
            checked.update(zip(frame["request_id"].astype(str), received, strict=True))
        horizon = watermark - lateness
        self._pending = (watermark, {k: t for k, t in checked.items() if t >= horizon})
        return frame, f"request log of {deployment!r} up to the watermark {watermark} ({source})"

    def _now(self) -> pd.Timestamp:
        return pd.Timestamp.now(tz="UTC")


# -- model cards --------------------------------------------------------------------------------


@register_gate_provider
def monitor_gate_outcomes(version: ModelVersion) -> list[GateOutcome]:
    """The gates a version met as a challenger in monitor checks (for its model card)."""
    from workbench.tracking.client import client_for

    query = (
        f"tags.`workbench.kind` = '{KIND}' AND tags.`workbench.model` = '{version.name}' AND "
        f"tags.`workbench.challenger_version` = '{version.version}'"
    )
    try:
        runs = client_for().search_runs(filter=query, max_results=20)
    except WorkbenchError:
        return []
    outcomes = []
    for _, row in runs.iterrows():
        if row.get("tags.workbench.decision") == "retrained":  # not gated yet
            continue
        passed = row.get("tags.workbench.gate_passed") == "true"
        decision = row.get("tags.workbench.decision", "")
        summary = f"{row.get('tags.monitor.gate_summary', '')} Decision: {decision}."
        outcomes.append(
            GateOutcome(
                name=f"monitor gate ({row['name']})",
                passed=passed,
                summary=summary.strip(),
                details={"run_id": row["run_id"], "decision": decision},
            )
        )
    return outcomes
