"""The runs browser's queries on nested runs: order, totals under a filter, default columns."""

from __future__ import annotations

from typing import Any

import pytest

import workbench as wb
from workbench.ui import RunsBrowser
from workbench.ui import _runs_query as q

pytestmark = pytest.mark.usefixtures("panel_ready")


@pytest.fixture
def client(ui_store: dict[str, Any]) -> Any:
    return wb.connect(ui_store["path"])


def _page(client: Any, **query: Any) -> q.RunsPage:
    return q.fetch_page(
        client, q.RunsQuery(**query), page=1, page_size=50, columns=["name", "metrics.auc"]
    )


@pytest.mark.parametrize("direction", ["ASC", "DESC"])
def test_ordering_by_a_metric_puts_the_best_run_first_even_under_a_parent(
    client: Any, direction: str
) -> None:
    # parent-run has no auc, its folds do (0.80-0.82); the churn runs have their own auc.
    frame = _page(client, order_by=f"metrics.auc {direction}").frame
    auc = frame["metrics.auc"].astype(float)
    every = client.search_runs(filter="metrics.auc > 0")["metrics.auc"]
    best = every.min() if direction == "ASC" else every.max()
    first_with_auc = int(auc.notna().to_numpy().argmax())
    assert first_with_auc <= 1  # row 1, or row 2 under its parent
    assert auc.iloc[first_with_auc] == pytest.approx(best)
    # Top-level rows are ordered by their own value, or their best matching descendant's;
    # trees in which no run has the metric come last, in both directions.
    tops = frame.index[frame["depth"] == 0].tolist()
    keys = []
    for i, top in enumerate(tops):
        end = tops[i + 1] if i + 1 < len(tops) else len(frame)
        tree = auc.iloc[top:end].dropna()
        own = auc.iloc[top]
        keys.append(own if own == own else (tree.iloc[0] if len(tree) else None))
    present = [k for k in keys if k is not None]
    assert present == sorted(present, reverse=direction == "DESC")
    assert all(k is None for k in keys[len(present) :])


def test_children_are_ordered_under_their_parent(client: Any) -> None:
    for direction, folds in [
        ("DESC", ["fold-2", "fold-1", "fold-0"]),
        ("ASC", ["fold-0", "fold-1", "fold-2"]),
    ]:
        nested = _page(client, experiments=("nested",), order_by=f"metrics.auc {direction}").frame
        assert nested["name"].tolist() == ["parent-run", *folds]
        assert nested["depth"].tolist() == [0, 1, 1, 1]


def test_a_filter_keeps_matching_children_under_their_parent(client: Any) -> None:
    page = _page(client, experiments=("nested",), filter="metrics.auc > 0.805")
    assert page.frame["name"].tolist() == ["parent-run", "fold-2", "fold-1"]
    assert page.frame["depth"].tolist() == [0, 1, 1]
    assert page.total == 1  # top-level runs matching, with or without a filter
    assert _page(client, experiments=("nested",)).total == 1
    flat = _page(client, experiments=("nested",), filter="metrics.auc > 0.805", group_nested=False)
    assert flat.total == 2 and set(flat.frame["name"]) == {"fold-2", "fold-1"}


def test_a_sweep_shows_its_best_trial_first(client: Any) -> None:
    page = q.fetch_page(
        client,
        q.RunsQuery(experiments=("lr-search",), order_by="metrics.objective ASC"),
        page=1,
        page_size=10,
        columns=["name", "metrics.objective"],
    )
    objective = page.frame["metrics.objective"]
    assert page.frame["depth"].tolist()[:2] == [0, 1]
    assert objective.iloc[1] == pytest.approx(objective.min())
    assert page.total == 1


def test_default_columns_are_key_metrics_then_user_params(client: Any) -> None:
    columns = q.default_columns(q.list_columns(client))
    extra = [c for c in columns if c not in q.BASE_COLUMNS]
    assert extra[0] == "metrics.objective"  # a sweep's objective comes first
    kinds = [c.split(".")[0] for c in extra]
    assert kinds == sorted(kinds, key=["metrics", "params"].index)  # metrics, then params
    assert {"metrics.auc", "params.x"} <= set(extra)
    internal = {"params.directions", "params.metric_names", "params.sampler", "params.pruner"}
    assert not internal & set(extra)
    assert not [c for c in extra if ".workbench." in c or c.startswith("tags.")]
    browser = RunsBrowser(client, experiment="lr-search")
    shown = [c for c in browser.frame.columns if "." in c]
    assert shown[0] == "metrics.objective" and "params.directions" not in shown
    assert "params.directions" in browser._columns_choice.options  # still available
