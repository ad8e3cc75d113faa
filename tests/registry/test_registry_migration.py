"""A store written before the registry existed (schema 1) is migrated to schema 2 on open."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from sklearn.linear_model import LogisticRegression

import workbench as wb
from workbench.registry import ModelRegistry
from workbench.store import _schema


def test_schema_1_store_gains_the_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as patch:
        patch.setattr("workbench.store._database.MIGRATIONS", _schema.MIGRATIONS[:1])
        patch.setattr("workbench.store._database.SCHEMA_VERSION", 1)
        old = wb.Workbench(tmp_path / "store")
        with old.start_run("before") as run:
            run.log_metric("m", 1.0)
        old.close()
    con = duckdb.connect(str(tmp_path / "store" / "workbench.duckdb"))
    tables = {r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()}
    con.close()
    assert "wb_models" not in tables

    registry = ModelRegistry(wb.Workbench(tmp_path / "store"))
    assert registry.client.get_run(run.run_id).metrics["m"] == 1.0
    model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    assert registry.register_model("m", run=run.run_id, model=model).version == 1
    views = set(registry.client.sql("select view_name from duckdb_views()")["view_name"])
    assert {"models", "model_versions", "aliases", "alias_history"} <= views
    assert set(_schema.PUBLIC_VIEWS) <= views
    registry.client.close()
