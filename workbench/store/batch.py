"""A batch: everything one process logged during one flush interval, as plain records.

The tracking layer fills batches; a store accepts them whole (``Store.write_batch``). A batch
encodes to one Arrow IPC file: metric points are the table, the other (small) records travel as
JSON in the schema metadata. That keeps the spool format columnar for the hot path and a single
file so it can be written atomically.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

SPOOL_FORMAT = 1

# Run ids and keys repeat on every point: dictionary-encoded they cost 4 bytes a point.
LABEL = pa.dictionary(pa.int32(), pa.string())
METRIC_SCHEMA = pa.schema(
    [
        ("run_id", LABEL),
        ("key", LABEL),
        ("step", pa.int64()),
        ("value", pa.float64()),
        ("timestamp", pa.timestamp("us")),
    ]
)

# Record kinds and their columns, in table order. Times are microseconds since the epoch (UTC).
RECORD_KINDS: dict[str, tuple[str, ...]] = {
    "experiments": ("name", "created_at", "created_by"),
    "runs": (
        "run_id",
        "experiment",
        "name",
        "parent_id",
        "start_time",
        "proc_id",
        "host",
        "pid",
        "pid_started",
        "context",
        "created_by",
    ),
    "params": ("run_id", "key", "value", "value_num", "value_type"),
    "tags": ("run_id", "key", "value"),
    "datasets": ("digest", "name", "source", "n_rows", "n_cols", "schema", "profile", "created_at"),
    "inputs": ("run_id", "digest", "name", "context"),
    "artifacts": ("run_id", "path", "digest", "size", "media_type", "created_at"),
    # Status changes: ends (finished/failed/killed) and resumes (back to running, new owner).
    "run_updates": (
        "run_id",
        "status",
        "end_time",
        "error",
        "proc_id",
        "host",
        "pid",
        "pid_started",
    ),
    # Served predictions (workbench.serving): one row per model call, read by monitoring.
    "requests": (
        "request_id",
        "deployment_id",
        "model_name",
        "model_version",
        "role",
        "received_at",
        "latency_ms",
        "status",
        "n_rows",
        "inputs",
        "outputs",
        "error",
    ),
}


@dataclass
class Batch:
    """Records of every kind plus metric points; ``batch_id`` makes ingestion idempotent."""

    batch_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    records: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {kind: [] for kind in RECORD_KINDS}
    )
    metrics: pa.Table = field(default_factory=METRIC_SCHEMA.empty_table)

    def __len__(self) -> int:
        return sum(len(rows) for rows in self.records.values()) + int(self.metrics.num_rows)

    def to_ipc(self) -> bytes:
        """Serialize to Arrow IPC file bytes."""
        events = json.dumps(
            {
                "format": SPOOL_FORMAT,
                "batch_id": self.batch_id,
                "records": {k: v for k, v in self.records.items() if v},
            }
        )
        # One chunk with one dictionary per label column: the IPC file format allows no more.
        table = self.metrics.unify_dictionaries().combine_chunks()
        table = table.replace_schema_metadata({"workbench.events": events})
        sink = pa.BufferOutputStream()
        with pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        return sink.getvalue().to_pybytes()  # type: ignore[no-any-return]

    @classmethod
    def from_ipc(cls, data: bytes | pa.Buffer) -> Batch:
        """Read bytes written by :meth:`to_ipc`; raises ``ValueError`` if they are not a batch."""
        try:
            table = pa.ipc.open_file(
                pa.py_buffer(data) if isinstance(data, bytes) else data
            ).read_all()
            events = json.loads((table.schema.metadata or {})[b"workbench.events"])
        except (pa.ArrowInvalid, KeyError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a workbench spool batch: {exc}") from exc
        if events.get("format") != SPOOL_FORMAT:
            raise ValueError(f"unsupported spool format {events.get('format')!r}")
        records = {kind: list(events["records"].get(kind, [])) for kind in RECORD_KINDS}
        return cls(
            batch_id=events["batch_id"],
            records=records,
            metrics=table.replace_schema_metadata(None),
        )

    @staticmethod
    def labels(values: list[str] | tuple[str, ...]) -> pa.DictionaryArray:
        """Dictionary-encode repeated strings (run ids, metric keys) for ``METRIC_SCHEMA``."""
        return pa.array(values, pa.string()).dictionary_encode()

    @staticmethod
    def constant_label(value: str, size: int) -> pa.DictionaryArray:
        """``size`` copies of one label, without building ``size`` Python strings."""
        import numpy as np

        return pa.DictionaryArray.from_arrays(
            pa.array(np.zeros(size, dtype=np.int32)), pa.array([value], pa.string())
        )

    @staticmethod
    def merge(batches: list[Batch]) -> Batch:
        """One batch holding all records and points of ``batches``, in order."""
        merged = Batch(batch_id="merged")
        for batch in batches:
            for kind, rows in batch.records.items():
                merged.records[kind].extend(rows)
        tables = [b.metrics for b in batches if b.metrics.num_rows]
        if tables:
            # One chunk: DuckDB scans an Arrow table of thousands of tiny chunks very slowly.
            merged.metrics = pa.concat_tables(tables).combine_chunks()
        return merged
