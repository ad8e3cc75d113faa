"""Dataset fingerprints, schemas and small profiles for ``run.log_input``.

The fingerprint is a SHA-256 over the content, so the same data logged twice (or by two runs)
is one dataset, and changed data is a new one. DataFrames hash their values (row order and index
included) with pandas' vectorised ``hash_pandas_object`` plus column names and dtypes; files hash
their bytes. The profile stays small whatever the size of the data: counts, missing values, and
a few statistics per column (at most 200 columns profiled).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench._columns import dtype_kind

MAX_PROFILED_COLUMNS = 200
_CHUNK = 1 << 20


def _hash_frame(df: pd.DataFrame) -> str:
    hasher = hashlib.sha256()
    hasher.update(repr([(str(c), str(t)) for c, t in df.dtypes.items()]).encode())
    hasher.update(pd.util.hash_pandas_object(df, index=True).to_numpy().tobytes())
    return hasher.hexdigest()


def _hash_file(path: Path) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def read_table(path: Path) -> pd.DataFrame | None:
    """Read csv/parquet/json files for profiling; None for other formats."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path)
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if suffix in (".json", ".jsonl"):
        return pd.read_json(path, lines=suffix == ".jsonl")
    return None


def schema_of(df: pd.DataFrame) -> dict[str, Any]:
    """Column names, dtypes and nullability, in column order."""
    return {
        "columns": [
            {"name": str(c), "dtype": str(df[c].dtype), "nullable": bool(df[c].isna().any())}
            for c in df.columns
        ]
    }


def profile_of(df: pd.DataFrame) -> dict[str, Any]:
    """Rows, columns, and per-column missing share and summary statistics."""
    columns: dict[str, Any] = {}
    for name in list(df.columns)[:MAX_PROFILED_COLUMNS]:
        series = df[name]
        entry: dict[str, Any] = {"missing": int(series.isna().sum())}
        kind = dtype_kind(series.dtype)
        if kind == "boolean":
            entry["true"] = int(series.sum())
        elif kind in ("integer", "float"):
            values = series.dropna().to_numpy(dtype=float)
            if values.size:
                q = np.quantile(values, [0.0, 0.25, 0.5, 0.75, 1.0])
                entry.update(
                    mean=float(values.mean()),
                    std=float(values.std()),
                    min=float(q[0]),
                    p25=float(q[1]),
                    median=float(q[2]),
                    p75=float(q[3]),
                    max=float(q[4]),
                )
        else:
            counts = series.astype("string").value_counts(dropna=True)
            entry.update(
                unique=int(counts.size), top={str(k): int(v) for k, v in counts.head(5).items()}
            )
        columns[str(name)] = entry
    return {"n_rows": len(df), "n_cols": int(df.shape[1]), "columns": columns}


def describe(data: Any, name: str | None) -> dict[str, Any]:
    """A dataset record (digest, name, source, sizes, schema, profile) for a frame or a file.

    Accepts a DataFrame, a Series, a numpy array (wrapped as a frame) or a file path.
    """
    source: str | None = None
    frame: pd.DataFrame | None
    if isinstance(data, (str, os.PathLike)):
        path = Path(data)
        digest = _hash_file(path)
        source = str(path.resolve())
        frame = read_table(path)
        name = name or path.stem
    else:
        if isinstance(data, pd.Series):
            frame = data.to_frame()
        elif isinstance(data, np.ndarray):
            frame = pd.DataFrame(data.reshape(len(data), -1) if data.ndim != 2 else data)
            frame.columns = [str(c) for c in frame.columns]
        else:
            frame = data
        assert frame is not None
        digest = _hash_frame(frame)
        name = name or "dataframe"
    record: dict[str, Any] = {
        "digest": digest,
        "name": name,
        "source": source,
        "n_rows": None,
        "n_cols": None,
        "schema": {},
        "profile": {},
    }
    if frame is not None:
        record.update(
            n_rows=len(frame),
            n_cols=int(frame.shape[1]),
            schema=schema_of(frame),
            profile=profile_of(frame),
        )
    return record
