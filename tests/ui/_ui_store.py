"""A store with something on every dashboard page: runs, nested runs, a sweep, a model, drift."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import workbench as wb

CHURN_RUNS = 6
SWEEP = "lr-search"
MODEL = "churn-model"


def populate(path: Path | str) -> dict[str, Any]:
    """Fill a fresh store at ``path`` (a folder, or a team store's URL); returns what the tests
    look for."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    wb.set_store(path)
    try:
        client = wb.connect()
        churn = []
        for i in range(CHURN_RUNS):
            with client.start_run("churn", f"churn-{i}", tags={"team": "growth"}) as run:
                run.log_params(
                    {"C": 0.1 * (i + 1), "penalty": ("l1", "l2")[i % 2], "max_iter": 100}
                )
                for step in range(15):
                    run.log_metric("loss", math.exp(-step / (3 + i)) + 0.01 * i, step=step)
                run.log_metrics({"auc": 0.7 + 0.04 * i, "accuracy": 0.65 + 0.03 * i})
            churn.append(run.run_id)
        with client.start_run("nested", "parent-run") as parent:
            parent.log_param("kind", "cv")
            for fold in range(3):
                with client.start_run("nested", f"fold-{fold}", parent=parent) as child:
                    child.log_metric("auc", 0.8 + fold / 100)

        from workbench.sweeps import sweep

        def objective(trial: Any) -> float:
            x = trial.suggest_float("x", -2.0, 2.0)
            y = trial.suggest_int("y", 0, 3)
            for step in range(3):
                trial.report((x - 0.5) ** 2 + y + 1 / (step + 1), step)
            return (x - 0.5) ** 2 + y

        sweep(objective, n_trials=6, name=SWEEP, seed=0, progress=False, client=client)

        from workbench.registry import ModelRegistry

        rng = np.random.default_rng(0)
        features = rng.normal(size=(60, 3))
        labels = (features[:, 0] > 0).astype(int)
        registry = ModelRegistry(client)
        for i in range(2):
            with client.start_run("churn", f"train-{i}") as run:
                run.log_metric("auc", 0.8 + i / 10)
            model = LogisticRegression(C=1.0 + i).fit(features, labels)
            registry.register_model(MODEL, run=run.run_id, model=model)
        registry.set_alias(MODEL, "champion", 2, reason="better auc")

        from workbench.monitoring import drift_report, make_drift_dataset

        data = make_drift_dataset(400, n_numeric=4, n_categorical=1, drift=0.5, seed=1)
        report = drift_report(data.reference, data.current, name="weekly-drift")
        report_id = report.log()
        client.flush()
        return {"churn": churn, "report": report_id, "parent": parent.run_id}
    finally:
        wb.set_store(None)
