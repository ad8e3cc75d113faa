"""What a model version remembers about the run that trained it, read once at registration.

The run can change later (it may be resumed, its tags edited, or it may be deleted); the lineage
stored with the version is what was true when the model was registered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.signature import ColumnSpec, ModelSignature, kind_of

if TYPE_CHECKING:
    from workbench.entities import Run

__all__ = ["lineage_of", "signature_from_training_input"]

TRAINING_CONTEXT = "training"


def lineage_of(run: Run) -> dict[str, Any]:
    """Run identity, params, metrics, tags, input datasets, code version and environment."""
    context = dict(run.context)
    return {
        "run": {
            "run_id": run.run_id,
            "name": run.name,
            "experiment": run.experiment,
            "experiment_id": run.experiment_id,
            "status": run.status.value,
            "start_time": run.start_time.isoformat(),
            "end_time": None if run.end_time is None else run.end_time.isoformat(),
            "parent_id": run.parent_id,
        },
        "params": dict(run.params),
        "metrics": dict(run.metrics),
        "tags": dict(run.tags),
        "inputs": [
            {
                "name": item.dataset.name,
                "context": item.context,
                "digest": item.dataset.digest,
                "n_rows": item.dataset.n_rows,
                "n_cols": item.dataset.n_cols,
                "source": item.dataset.source,
            }
            for item in run.inputs
        ],
        "code": {
            "git": dict(context.get("git") or {}),
            "notebook": context.get("notebook"),
            "command": context.get("command"),
            "cwd": context.get("cwd"),
        },
        "environment": {
            "python": context.get("python"),
            "platform": context.get("platform"),
            "packages": dict(context.get("packages") or {}),
            "host": context.get("host"),
            "user": context.get("user"),
        },
    }


def _kind(dtype: str) -> str:
    try:
        return kind_of(pd.api.types.pandas_dtype(dtype))
    except TypeError:
        return "object"


def signature_from_training_input(run: Run) -> ModelSignature | None:
    """Input-only signature from the schema of the run's ``training`` dataset, if it has one."""
    for item in run.inputs:
        columns = item.dataset.schema.get("columns") if item.context == TRAINING_CONTEXT else None
        if columns:
            inputs = tuple(
                ColumnSpec(
                    str(c["name"]), str(c["dtype"]), _kind(str(c["dtype"])), bool(c["nullable"])
                )
                for c in columns
            )
            # log_input names array columns "0", "1", ...: such data was most likely an array
            names = [c.name for c in inputs]
            array_like = names == [str(i) for i in range(len(names))]
            return ModelSignature(inputs, input_type="ndarray" if array_like else "dataframe")
    return None
