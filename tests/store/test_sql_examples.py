"""Every example query of docs/store.md ("Querying with SQL") gives the same answer on a local
store and on the team store it was copied to (``workbench store copy`` keeps the ids)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

import workbench as wb
from workbench.registry import ModelRegistry
from workbench.store import copy_store

DOCS = Path(__file__).parents[2] / "docs" / "store.md"


def _examples() -> list[str]:
    text = DOCS.read_text()
    section = text[text.index("## Querying with SQL") :]
    section = section[: section.index("\n## ", 1)] if "\n## " in section[1:] else section
    return [q.strip() for q in re.findall(r"```sql\n(.*?)```", section, re.S)]


EXAMPLES = _examples()


def _fill(client: wb.Workbench) -> None:
    """A small sweep by hand: runs over C with a loss history, two teams, a registered
    model with an alias."""
    from sklearn.dummy import DummyClassifier

    best = None
    for i, c in enumerate([0.1, 1.0, 10.0, 100.0, 0.5, 5.0]):
        with client.start_run("tuning", f"c-{c}", tags={"team": "ab"[i % 2]}) as run:
            run.log_params({"C": c, "solver": "lbfgs"})
            for step in range(20):
                run.log_metric("loss", 1.0 / (step + 1) + i * 0.01, step=step)
            run.log_metric("accuracy", 0.5 + 0.05 * i)
            best = run
    with client.start_run("other", "failing") as run:
        run.log_metric("loss", 3.0)
        run.end("failed", "on purpose")
    assert best is not None
    model = DummyClassifier().fit([[0.0], [1.0]], [0, 1])
    registry = ModelRegistry(client)
    registry.register_model("clf", run=best.run_id, model=model)
    registry.register_model("clf", run=best.run_id, model=model)
    registry.set_alias("clf", "champion", 1)


def _normal(frame: pd.DataFrame) -> list[tuple[object, ...]]:
    """Rows as plain Python values (the two stores type missing values and numbers alike
    but not identically: NaN or None, int64 or Int64, numpy or Python floats)."""
    rows = []
    for row in frame.astype(object).itertuples(index=False):
        rows.append(
            tuple(
                None
                if v is None or (isinstance(v, float) and pd.isna(v))
                else round(float(v), 9)
                if isinstance(v, float)
                else v
                for v in row
            )
        )
    return rows


def test_the_docs_have_examples() -> None:
    assert len(EXAMPLES) >= 6


@pytest.mark.slow
def test_every_example_query_answers_the_same_on_both_stores(
    tmp_path: Path, team_store: object
) -> None:
    local = wb.Workbench(tmp_path / "local")
    _fill(local)
    local.flush()
    url = team_store.sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://")  # type: ignore[attr-defined]
    report = copy_store(local.store, url, progress=False)
    assert report.verified
    team = wb.Workbench(team_store)  # type: ignore[arg-type]
    for query in EXAMPLES:
        expected = _normal(local.sql(query))
        assert expected, f"the example finds nothing in the test data: {query}"
        assert _normal(team.sql(query)) == expected, query
    local.close()
