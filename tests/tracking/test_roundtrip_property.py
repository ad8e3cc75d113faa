"""Property: whatever is logged reads back equal (params by type, metrics point for point)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import workbench as wb
from workbench.store import DuckDBStore

keys = st.from_regex(r"[A-Za-z][A-Za-z0-9_\-.:/]{0,20}", fullmatch=True).filter(
    lambda k: not k.startswith("workbench.")
)
param_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**62), max_value=2**62),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=50),
    st.lists(st.integers(min_value=-1000, max_value=1000), max_size=5),
)
metric_series = st.lists(
    st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=1, max_size=30
)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[wb.Workbench]:
    store = DuckDBStore(Path(tmp_path_factory.mktemp("prop")) / "store")
    yield wb.Workbench(store)
    store.close()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    params=st.dictionaries(keys, param_values, max_size=8),
    metrics=st.dictionaries(keys, metric_series, min_size=1, max_size=4),
    tags=st.dictionaries(keys, st.text(max_size=40), max_size=4),
)
def test_logged_values_read_back_equal(
    client: wb.Workbench,
    params: dict[str, object],
    metrics: dict[str, list[float]],
    tags: dict[str, str],
) -> None:
    with client.start_run("prop") as run:
        run.log_params(params)
        for key, series in metrics.items():
            for value in series:
                run.log_metric(key, value)
        run.set_tags(tags)
    got = client.get_run(run.run_id)
    assert dict(got.params) == params
    assert dict(got.tags) == tags
    assert dict(got.metrics) == {k: s[-1] for k, s in metrics.items()}
    history = client.get_metric_history(run.run_id)
    for key, series in metrics.items():
        stored = history[history["key"] == key].sort_values("step")["value"].tolist()
        assert stored == series
    row = client.search_runs("prop", filter=f"run_id = '{run.run_id}'").iloc[0]
    for key, value in params.items():
        cell = row[f"params.{key}"]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if isinstance(value, int):
            assert cell == value  # integer params come back exact, not through a float
        else:
            assert math.isclose(cell, value, rel_tol=1e-12) or (value == 0 and cell == 0)
