"""The one runs query: paging (offset, max_results, the total), order_by, columns, trees, counts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import workbench as wb
from workbench.exceptions import FilterSyntaxError, InvalidParameterError
from workbench.store import DuckDBStore, RunSearch
from workbench.tracking.client import TrackingClient

N_RUNS = 250


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackingClient]:
    """250 runs in two experiments: ``i`` is a param; ``score`` only on runs with i % 3 != 0;
    ``tiers`` holds 3 parents with 4 children each, ``solo`` matches under no parent."""
    path = tmp_path_factory.mktemp("paging") / "store"
    client = TrackingClient(DuckDBStore(path))
    for i in range(N_RUNS):
        with client.start_run("odd" if i % 2 else "even", f"run-{i:03d}") as run:
            run.log_params({"i": i, "group": "abc"[i % 3]})
            if i % 3:
                run.log_metric("score", (i * 37) % 101 / 100)
            run.set_tag("parity", "odd" if i % 2 else "even")
    for p in range(3):
        with client.start_run("tiers", f"parent-{p}") as parent:
            parent.log_metric("best", p)
            for c in range(4):
                with client.start_run("tiers", f"child-{p}-{c}", parent=parent) as child:
                    child.log_metric("loss", p + c / 10)
    with client.start_run("tiers", "solo") as run:
        run.log_metric("loss", 9.0)
    client.flush()
    yield client
    client.close()


def _ids(frame: pd.DataFrame) -> list[str]:
    return frame["run_id"].tolist()


@pytest.mark.parametrize("order_by", [None, "params.i DESC", ["metrics.score", "params.i"]])
def test_paging_through_250_runs_yields_each_run_once_in_order(
    client: TrackingClient, order_by: Any
) -> None:
    experiments = ["odd", "even"]
    everything = client.search_runs(experiments, order_by=order_by, max_results=None)
    assert len(everything) == N_RUNS == everything.attrs["total"]
    pages = []
    for offset in range(0, N_RUNS + 40, 40):
        page = client.search_runs(experiments, order_by=order_by, max_results=40, offset=offset)
        assert page.attrs["total"] == N_RUNS
        assert len(page) == max(0, min(40, N_RUNS - offset))
        pages += _ids(page)
    assert pages == _ids(everything)
    assert len(set(pages)) == N_RUNS


def test_default_order_is_newest_first(client: TrackingClient) -> None:
    frame = client.search_runs(["odd", "even"], max_results=None)
    assert frame["params.i"].tolist() == list(reversed(range(N_RUNS)))


@pytest.mark.parametrize("direction", ["ASC", "DESC"])
def test_a_missing_metric_sorts_last_in_both_directions(
    client: TrackingClient, direction: str
) -> None:
    frame = client.search_runs(["odd", "even"], order_by=f"metrics.score {direction}")
    score = frame["metrics.score"]
    present = score[score.notna()].tolist()
    assert len(present) == N_RUNS - len(range(0, N_RUNS, 3))
    assert score.iloc[: len(present)].notna().all() and score.iloc[len(present) :].isna().all()
    assert present == sorted(present, reverse=direction == "DESC")


def test_several_order_by_keys_break_ties_in_turn(client: TrackingClient) -> None:
    frame = client.search_runs(
        ["odd", "even"], order_by=["params.group DESC", "attributes.name ASC"], max_results=None
    )
    keys = list(zip(frame["params.group"], frame["name"], strict=True))
    assert keys == sorted(keys, key=lambda k: (-ord(k[0]), k[1]))
    assert frame["params.group"].iloc[0] == "c"


@pytest.mark.parametrize(
    ("order_by", "names"),
    [
        ("metric.score DESC", ["'metric'", "did you mean metrics.score?"]),
        ("score", ["'score'", "params.score, metrics.score, tags.score"]),
        ("metrics.score DOWN", ["'DOWN'", "only ASC or DESC"]),
        ("params.i DESC,", ["Expected a field"]),
    ],
)
def test_an_invalid_order_by_names_the_bad_part_and_the_allowed_forms(
    client: TrackingClient, order_by: str, names: list[str]
) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        client.search_runs(order_by=order_by)
    message = str(info.value)
    for part in names:
        assert part in message
    assert "An order_by item is '<field> [ASC|DESC]'" in message
    assert "params.<key>, metrics.<key>, tags.<key>" in message
    assert message.endswith(f"\n  {order_by}\n  {' ' * info.value.position}^")
    with pytest.raises(InvalidParameterError, match="list of '<field> \\[ASC\\|DESC\\]'"):
        client.search_runs(order_by=["params.i", 3])


def test_columns_return_only_what_a_page_shows(client: TrackingClient) -> None:
    frame = client.search_runs(
        "odd", columns=["metrics.score", "tags.parity", "params.nope", "name"], max_results=5
    )
    assert list(frame.columns) == [
        *RunSearch.RUN_COLUMNS,
        "metrics.score",
        "tags.parity",
        "params.nope",
    ]
    assert frame["params.nope"].isna().all()
    assert set(frame["tags.parity"]) == {"odd"}
    stats = client.search_runs(
        "odd", columns=["metrics.score"], metric_stats=("latest", "max"), max_results=5
    )
    assert list(stats.columns)[-2:] == ["metrics.score", "max(metrics.score)"]
    bare = client.search_runs("odd", columns=[], max_results=5)
    assert list(bare.columns) == list(RunSearch.RUN_COLUMNS)
    every = client.search_runs("odd", max_results=5)
    assert {"params.i", "params.group", "metrics.score", "tags.parity"} <= set(every.columns)


@pytest.mark.parametrize("bad", ["score", ["params."], ["min(metrics.score)"], [1], 5])
def test_bad_columns_are_refused_with_the_allowed_forms(client: TrackingClient, bad: Any) -> None:
    with pytest.raises(InvalidParameterError, match=re.escape("'params.<key>', 'metrics.<key>'")):
        client.search_runs(columns=bad)


def test_count_runs_matches_search_runs(client: TrackingClient) -> None:
    assert client.count_runs(["odd", "even"]) == N_RUNS
    flt = "params.i >= 100 AND metrics.score IS NOT NULL"
    found = client.search_runs(["odd", "even"], filter=flt, max_results=7)
    assert len(found) == 7
    assert client.count_runs(["odd", "even"], filter=flt) == found.attrs["total"]
    assert found.attrs["total"] == sum(1 for i in range(100, N_RUNS) if i % 3)
    assert client.count_runs("odd") == N_RUNS // 2
    assert client.count_runs("no-such-experiment") == 0
    past_end = client.search_runs("odd", max_results=10, offset=1000)
    assert past_end.empty and past_end.attrs["total"] == N_RUNS // 2
    with pytest.raises(FilterSyntaxError, match=re.escape("metrics.score >")):
        client.count_runs(filter="metrics.score >")


def test_grouped_pages_are_trees_under_their_parent(client: TrackingClient) -> None:
    frame = client.search_runs("tiers", group_nested=True, order_by="metrics.loss ASC")
    assert frame.attrs["total"] == 4 == client.count_runs("tiers", group_nested=True)
    assert frame["name"].tolist() == [
        *[
            name
            for p in range(3)
            for name in (f"parent-{p}", *(f"child-{p}-{c}" for c in range(4)))
        ],
        "solo",
    ]
    assert frame["depth"].tolist() == ([0, 1, 1, 1, 1] * 3) + [0]
    assert frame["children"].tolist() == ([4, 0, 0, 0, 0] * 3) + [0]
    # A filter keeps the matching children under their (unmatched) parent; trees count.
    flt = "metrics.loss >= 1.2"
    matched = client.search_runs("tiers", flt, "metrics.loss DESC", group_nested=True)
    assert matched["name"].tolist()[:3] == ["solo", "parent-2", "child-2-3"]
    assert matched.attrs["total"] == 3 == client.count_runs("tiers", flt, group_nested=True)
    assert client.count_runs("tiers", flt) == 1 + 4 + 2  # flat: the matching runs
    # Pages of trees, and a cap on the children shown.
    page = client.search_runs(
        "tiers",
        order_by="metrics.loss",
        group_nested=True,
        max_results=2,
        offset=1,
        max_children=2,
    )
    assert page["name"].tolist() == [
        "parent-1",
        "child-1-0",
        "child-1-1",
        "parent-2",
        "child-2-0",
        "child-2-1",
    ]
    assert page.loc[page["depth"] == 0, "children"].tolist() == [4, 4]  # matching, not shown


def test_the_store_counts_without_reading_a_page(tmp_path: Path) -> None:
    client = wb.connect(tmp_path / "store")
    with client.start_run("x"):
        pass
    client.flush()
    empty = client.store.search_runs(RunSearch(max_results=0))
    assert empty.empty and empty.attrs["total"] == 1
    assert client.store.count_runs(RunSearch(experiments=("x",), max_results=1, offset=5)) == 1


def test_param_columns_take_the_type_their_values_need(tmp_path: Path) -> None:
    """The wide frame types each param column by every value logged for it: whole numbers
    stay whole (exactly, beyond 2**53 too; missing ones as <NA>), ints mixed with floats are
    numbers, anything else is the text as logged; a key only some runs have is missing on
    the others, and the columns keep the order params, metrics, tags, keys by code point."""
    client = TrackingClient(DuckDBStore(tmp_path / "store"))
    logged: list[dict[str, Any]] = [
        {"whole": 1, "big": 2**60 + 1, "huge": 2**70, "mixed": 1, "text": 1, "some": None},
        {"whole": 2, "big": -(2**60) - 3, "huge": 3, "mixed": 2.5, "text": "b", "B": "x"},
        {"whole": None, "big": 5, "huge": 4, "mixed": None, "text": 3},
    ]
    for i, params in enumerate(logged):
        with client.start_run("types", f"r{i}") as run:
            run.log_params(params)
            run.log_metric("m", float(i))
            run.set_tag("t", str(i))
    frame = client.search_runs("types", order_by=["name ASC"])
    keys = [c for c in frame.columns if "." in c]
    assert keys == [
        "params.B", "params.big", "params.huge", "params.mixed", "params.some",
        "params.text", "params.whole", "metrics.m", "tags.t",
    ]  # fmt: skip
    assert frame["params.whole"].dtype == "Int64"
    assert frame["params.whole"].tolist()[:2] == [1, 2] and frame[
        "params.whole"
    ].isna().tolist() == [False, False, True]
    assert frame["params.big"].tolist() == [2**60 + 1, -(2**60) - 3, 5]
    assert frame["params.huge"].tolist() == [float(2**70), 3.0, 4.0]
    assert frame["params.mixed"].dtype == float
    assert frame["params.mixed"].tolist()[:2] == [1.0, 2.5] and pd.isna(frame["params.mixed"][2])
    assert frame["params.text"].tolist() == ["1", "b", "3"]
    assert frame["params.B"].isna().tolist() == [True, False, True]
    assert frame["params.some"].isna().all()
    assert frame["metrics.m"].tolist() == [0.0, 1.0, 2.0]
    client.close()
