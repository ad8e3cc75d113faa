"""The run handle: what ``workbench.start_run`` returns and what every ``log_*`` goes through.

Use it as a context manager (``with workbench.start_run(...) as run:``): inside the block it is
the *active run* for module-level calls such as ``workbench.log_metric``; leaving the block ends
it as ``finished``, or as ``failed`` with the error if an exception escaped (``killed`` for
KeyboardInterrupt). Without ``with``, call ``run.end()`` yourself.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import io
import json
import mimetypes
import os
import threading
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from workbench import _validation as v
from workbench.exceptions import ConflictError, NoActiveRunError, RunNotActiveError
from workbench.store.batch import METRIC_SCHEMA, Batch

if TYPE_CHECKING:
    import pandas as pd

    from workbench.entities import Run
    from workbench.tracking.client import TrackingClient

__all__ = ["ActiveRun", "active_run"]

_active: contextvars.ContextVar[ActiveRun | None] = contextvars.ContextVar(
    "workbench_active_run", default=None
)
PLOTLY_MEDIA_TYPE = "application/vnd.plotly.v1+json"
_MEDIA_TYPES = {
    ".parquet": "application/vnd.apache.parquet",
    ".jsonl": "application/jsonl",
    ".skops": "application/vnd.skops",
    ".ipynb": "application/x-ipynb+json",
}


def active_run() -> ActiveRun | None:
    """The run of the innermost enclosing ``with start_run()`` block in this context, if any."""
    return _active.get()


def require_active_run(caller: str) -> ActiveRun:
    """The active run, or a NoActiveRunError that says how to get one."""
    run = _active.get()
    if run is None:
        raise NoActiveRunError(
            f"No active run for {caller}(). Use `with workbench.start_run(...) as run:` and call "
            f"it inside the block, or call run.{caller.split('.')[-1]}(...) on a run handle."
        )
    return run


def _now_us() -> int:
    return time.time_ns() // 1000


def media_type_of(path: str) -> str:
    """The media type recorded for an artifact path."""
    suffix = Path(path).suffix.lower()
    return _MEDIA_TYPES.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"


class ActiveRun:
    """A run being logged. Thread-safe; every method validates its arguments."""

    def __init__(
        self,
        client: TrackingClient,
        *,
        run_id: str,
        name: str,
        experiment: str,
        parent_id: str | None,
    ) -> None:
        self._client = client
        self._recorder = client._recorder
        self.run_id = run_id
        self.name = name
        self.experiment = experiment
        self.parent_id = parent_id
        self.status = "running"
        self._params: dict[str, Any] = {}
        self._last_step: dict[str, int] = {}
        self._lock = threading.Lock()
        self._tokens: list[contextvars.Token[ActiveRun | None]] = []

    def __repr__(self) -> str:
        return (
            f"ActiveRun(run_id={self.run_id!r}, name={self.name!r}, "
            f"experiment={self.experiment!r}, status={self.status!r})"
        )

    # -- lifecycle --------------------------------------------------------------------------
    def __enter__(self) -> ActiveRun:
        self._tokens.append(_active.set(self))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._tokens:
            _active.reset(self._tokens.pop())
        if self.status != "running":
            return
        if exc is None:
            self.end()
        elif isinstance(exc, KeyboardInterrupt):
            self.end("killed", "Interrupted (KeyboardInterrupt).")
        else:
            self.end("failed", f"{type(exc).__name__}: {exc}")

    def end(self, status: str = "finished", error: str | None = None) -> None:
        """End the run (``finished``, ``failed`` or ``killed``); durable when this returns."""
        if status not in ("finished", "failed", "killed"):
            raise v.fail("status", "ActiveRun.end", "'finished', 'failed' or 'killed'", status)
        with self._lock:
            if self.status != "running":
                return
            self.status = status
        self._recorder.record(
            "run_updates",
            {"run_id": self.run_id, "status": status, "end_time": _now_us(), "error": error},
        )
        self._recorder.running.pop(self.run_id, None)
        self._recorder.flush()

    def _check_open(self, caller: str) -> None:
        if self.status != "running":
            raise RunNotActiveError(
                f"Cannot {caller}: run {self.run_id!r} has ended ({self.status}). "
                "Start a new run with workbench.start_run()."
            )

    # -- params -----------------------------------------------------------------------------
    def log_param(self, key: str, value: Any) -> None:
        """Record a hyperparameter. Params are immutable: re-logging the same value is a no-op."""
        self.log_params({key: value}, _caller="log_param")

    def log_params(self, params: Mapping[str, Any], *, _caller: str = "log_params") -> None:
        """Record several hyperparameters at once."""
        caller = f"ActiveRun.{_caller}"
        v.check_mapping(params, caller, name="params")
        self._check_open(_caller)
        encoded = {
            v.check_key(k, caller): v.param_to_record(k, x, caller) for k, x in params.items()
        }
        with self._lock:  # all or nothing: check every key before recording any
            for key, (text, _, kind) in encoded.items():
                if key in self._params and self._params[key] != (text, kind):
                    raise ConflictError(
                        f"Param {key!r} of run {self.run_id!r} was already logged as "
                        f"{self._params[key][0]!r}; params are immutable. Log changing "
                        "values as metrics or tags, or start a new run."
                    )
            fresh = {k: e for k, e in encoded.items() if k not in self._params}
            self._params.update({k: (text, kind) for k, (text, _, kind) in fresh.items()})
        for key, (text, number, kind) in fresh.items():
            self._recorder.record(
                "params",
                {
                    "run_id": self.run_id,
                    "key": key,
                    "value": text,
                    "value_num": number,
                    "value_type": kind,
                },
            )

    # -- metrics ----------------------------------------------------------------------------
    def _next_step(self, key: str, step: int | None) -> int:
        with self._lock:
            last = self._last_step.get(key, -1)
            step = last + 1 if step is None else step
            if step > last:
                self._last_step[key] = step
        return step

    def log_metric(
        self, key: str, value: float, step: int | None = None, timestamp: float | None = None
    ) -> None:
        """Record one point of a metric series.

        ``step`` defaults to one more than the last step logged for this key (0 first);
        ``timestamp`` (seconds since the epoch, or a datetime) defaults to now.
        """
        if self.status != "running":
            self._check_open("log_metric")
        key = v.check_key(key, "ActiveRun.log_metric")
        value = v.check_metric_value(value, "ActiveRun.log_metric", key=key)
        if step is not None:
            step = v.check_step(step, "ActiveRun.log_metric")
        stamp = (
            _now_us() if timestamp is None else v.check_timestamp(timestamp, "ActiveRun.log_metric")
        )
        self._recorder.point(self.run_id, key, self._next_step(key, step), value, stamp)

    def log_metrics(
        self,
        metrics: Mapping[str, float],
        step: int | None = None,
        timestamp: float | None = None,
    ) -> None:
        """Record one point for each of several metrics (same step and time)."""
        v.check_mapping(metrics, "ActiveRun.log_metrics", name="metrics")
        checked = {
            v.check_key(k, "ActiveRun.log_metrics"): v.check_metric_value(
                x, "ActiveRun.log_metrics", key=k
            )
            for k, x in metrics.items()
        }
        for key, value in checked.items():
            self.log_metric(key, value, step=step, timestamp=timestamp)

    def log_metric_series(
        self, key: str, values: Any, steps: Any = None, timestamps: Any = None
    ) -> None:
        """Record many points of one metric at once (arrays or lists); fast for bulk history."""
        caller = "ActiveRun.log_metric_series"
        self._check_open("log_metric_series")
        key = v.check_key(key, caller)
        array = np.asarray(values, dtype=float).ravel()
        if array.size == 0:
            return
        bad = ~np.isfinite(array)
        if bad.any():
            index = int(np.argmax(bad))
            raise v.fail(
                f"values of metric {key!r}",
                caller,
                "finite numbers",
                array[index],
                f"(at position {index}). Drop NaN/inf points before logging.",
            )
        if steps is None:
            start = self._next_step(key, None)
            step_array = np.arange(start, start + array.size, dtype=np.int64)
        else:
            step_array = np.asarray(steps)
            if (
                step_array.shape != array.shape
                or not np.issubdtype(step_array.dtype, np.integer)
                or (step_array < 0).any()
            ):
                raise v.fail("steps", caller, f"{array.size} non-negative integers", steps)
            step_array = step_array.astype(np.int64)
        self._next_step(key, int(step_array.max()))
        if timestamps is None:
            stamp_array = np.full(array.size, _now_us(), dtype="datetime64[us]")
        else:
            stamp_array = (np.asarray(timestamps, dtype=float) * 1e6).astype("datetime64[us]")
            if stamp_array.shape != array.shape:
                raise v.fail("timestamps", caller, f"{array.size} epoch seconds", timestamps)
        self._recorder.points_table(
            pa.table(
                [
                    Batch.constant_label(self.run_id, array.size),
                    Batch.constant_label(key, array.size),
                    pa.array(step_array),
                    pa.array(array),
                    pa.array(stamp_array),
                ],
                schema=METRIC_SCHEMA,
            )
        )

    # -- tags -------------------------------------------------------------------------------
    def set_tag(self, key: str, value: Any) -> None:
        """Attach a string label to the run (last value wins)."""
        self.set_tags({key: value}, _caller="set_tag")

    def set_tags(self, tags: Mapping[str, Any], *, _caller: str = "set_tags") -> None:
        """Attach several labels."""
        caller = f"ActiveRun.{_caller}"
        v.check_mapping(tags, caller, name="tags")
        rows = [
            {
                "run_id": self.run_id,
                "key": v.check_key(k, caller, allow_reserved=True),
                "value": v.check_tag_value(k, x, caller),
            }
            for k, x in tags.items()
        ]
        self._check_open(_caller)
        for row in rows:
            self._recorder.record("tags", row)

    # -- artifacts --------------------------------------------------------------------------
    def _record_artifact(self, path: str, digest: str, size: int, media_type: str) -> None:
        self._recorder.record(
            "artifacts",
            {
                "run_id": self.run_id,
                "path": path,
                "digest": digest,
                "size": size,
                "media_type": media_type,
                "created_at": _now_us(),
            },
        )

    def _artifact_name(self, name: Any, caller: str) -> str:
        if (
            not isinstance(name, str)
            or not name.strip()
            or name.startswith("/")
            or ".." in Path(name).parts
        ):
            raise v.fail(
                "artifact_path",
                caller,
                "a relative path inside the run",
                name,
                "e.g. 'plots/loss.json'.",
            )
        return name

    def log_artifact(
        self, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> str:
        """Copy a file (or every file of a folder) into the store; returns the artifact path."""
        caller = "ActiveRun.log_artifact"
        self._check_open("log_artifact")
        source = Path(local_path)
        if not source.exists():
            raise v.fail("local_path", caller, "an existing file or folder", str(local_path))
        name = self._artifact_name(artifact_path or source.name, caller)
        files = (
            [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
        )
        for file in files:
            relative = name if file == source else f"{name}/{file.relative_to(source).as_posix()}"
            digest, size = self._client.store.artifacts.put_file(file)
            self._record_artifact(relative, digest, size, media_type_of(relative))
        return name

    def log_bytes(self, data: bytes, artifact_path: str, media_type: str | None = None) -> str:
        """Store bytes as an artifact."""
        caller = "ActiveRun.log_bytes"
        self._check_open("log_bytes")
        name = self._artifact_name(artifact_path, caller)
        if not isinstance(data, (bytes, bytearray)):
            raise v.fail("data", caller, "bytes", data)
        digest, size = self._client.store.artifacts.put_bytes(bytes(data))
        self._record_artifact(name, digest, size, media_type or media_type_of(name))
        return name

    def log_text(self, text: str, artifact_path: str = "notes.txt") -> str:
        """Store a string as a UTF-8 text artifact."""
        if not isinstance(text, str):
            raise v.fail("text", "ActiveRun.log_text", "a str", text)
        return self.log_bytes(text.encode(), artifact_path)

    def log_dict(self, dictionary: Mapping[str, Any], artifact_path: str = "data.json") -> str:
        """Store a dict as JSON (or YAML when the path ends in .yaml/.yml)."""
        caller = "ActiveRun.log_dict"
        v.check_mapping(dictionary, caller, name="dictionary")
        try:
            if artifact_path.endswith((".yaml", ".yml")):
                import yaml

                text = yaml.safe_dump(dict(dictionary), sort_keys=False)
            else:
                text = json.dumps(dictionary, indent=2, default=v._json_default)
        except (TypeError, ValueError) as exc:
            raise v.fail("dictionary", caller, "JSON-serializable", dictionary, str(exc)) from None
        return self.log_bytes(text.encode(), artifact_path)

    def log_figure(self, figure: Any, artifact_path: str = "figure.json") -> str:
        """Store a plotly figure (.json, or self-contained .html) or a matplotlib figure (.png)."""
        caller = "ActiveRun.log_figure"
        if hasattr(figure, "to_plotly_json"):
            if artifact_path.endswith(".html"):
                data = figure.to_html(include_plotlyjs=True, full_html=True).encode()
                return self.log_bytes(data, artifact_path, "text/html")
            return self.log_bytes(figure.to_json().encode(), artifact_path, PLOTLY_MEDIA_TYPE)
        if hasattr(figure, "savefig"):
            buffer = io.BytesIO()
            figure.savefig(buffer, format=Path(artifact_path).suffix.lstrip(".") or "png")
            return self.log_bytes(buffer.getvalue(), artifact_path)
        raise v.fail("figure", caller, "a plotly or matplotlib figure", figure)

    def log_table(self, table: pd.DataFrame, artifact_path: str = "table.parquet") -> str:
        """Store a DataFrame as Parquet (or .csv / .json by the path's suffix)."""
        import pandas as pd

        caller = "ActiveRun.log_table"
        if not isinstance(table, pd.DataFrame):
            raise v.fail("table", caller, "a pandas DataFrame", table)
        buffer = io.BytesIO()
        suffix = Path(artifact_path).suffix.lower()
        if suffix == ".csv":
            table.to_csv(buffer, index=False)
        elif suffix == ".json":
            buffer.write(table.to_json(orient="records").encode())
        elif suffix == ".parquet":
            table.to_parquet(buffer, index=False)
        else:
            raise v.fail(
                "artifact_path", caller, "a path ending in .parquet, .csv or .json", artifact_path
            )
        return self.log_bytes(buffer.getvalue(), artifact_path)

    # -- datasets ---------------------------------------------------------------------------
    def log_input(self, data: Any, name: str | None = None, context: str = "training") -> str:
        """Record a dataset this run used: content fingerprint, schema and a small profile.

        ``data`` is a DataFrame, Series, numpy array or a file path (csv/parquet/json files are
        also profiled). Returns the dataset's digest.
        """
        import pandas as pd

        from workbench.tracking._datasets import describe

        caller = "ActiveRun.log_input"
        self._check_open("log_input")
        if isinstance(data, (str, os.PathLike)):
            if not Path(data).is_file():
                raise v.fail("data", caller, "a DataFrame or an existing file", str(data))
        elif not isinstance(data, (pd.DataFrame, pd.Series, np.ndarray)):
            raise v.fail("data", caller, "a DataFrame, Series, numpy array or file path", data)
        if name is not None:
            v.check_name(name, caller, name="name")
        v.check_key(context, caller, name="context")
        record = describe(data, name)
        record["schema"] = json.dumps(record["schema"])
        record["profile"] = json.dumps(record["profile"])
        record["created_at"] = _now_us()
        self._recorder.record("datasets", record)
        self._recorder.record(
            "inputs",
            {
                "run_id": self.run_id,
                "digest": record["digest"],
                "name": record["name"],
                "context": context,
            },
        )
        return str(record["digest"])

    # -- reading back -----------------------------------------------------------------------
    def snapshot(self) -> Run:
        """The run as stored right now (flushes first)."""
        return self._client.get_run(self.run_id)

    def metric_history(self, key: str | None = None) -> pd.DataFrame:
        """This run's metric points (all keys, or one)."""
        return self._client.get_metric_history(self.run_id, key)


def new_run_id() -> str:
    """A fresh run id (32 hex characters)."""
    return uuid.uuid4().hex


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
