"""One vocabulary across the public API: the same concept has the same parameter name everywhere.

Walks ``workbench.__all__``: a model reference is ``model``, a deployment ``deployment``, the
store handle ``client``, drift limits ``thresholds``. Every function that reads or writes a
store takes ``client=`` (keyword-only, default ``None`` = the configured store), and
``Workbench`` offers each of them as a method with ``client`` bound.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

import workbench
from workbench.client import Workbench

# Other spellings of one concept, and the one name the API uses for it.
SYNONYMS = {
    "model_uri": "model",
    "model_or_uri": "model",
    "uri": "model",
    "model_name": "model",
    "deployment_id": "deployment",
    "deployment_name": "deployment",
    "wb": "client",
    "workbench": "client",
    "drift_thresholds": "thresholds",
    "threshold": "thresholds",
}
# Functions that choose the store itself, and so take ``store`` (a path or a Store).
STORE_SELECTORS = {"connect", "get_store", "set_store"}
# Functions that never touch a store: pure computation on what they are given, or the active
# run (which carries its own client).
STORE_FREE = {
    "active_run",
    "autolog",
    "estimate_performance",
    "log_artifact",
    "log_dict",
    "log_figure",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_table",
    "log_text",
    "plot_drift_over_time",
    "set_tag",
    "set_tags",
    "trial_run",
}


def public_functions() -> dict[str, Callable[..., Any]]:
    return {
        name: obj
        for name in workbench.__all__
        if inspect.isfunction(obj := getattr(workbench, name))
    }


def test_the_public_functions_are_all_checked() -> None:
    functions = public_functions()
    assert len(functions) > 70
    assert set(functions) >= STORE_FREE, STORE_FREE - set(functions)
    assert set(functions) >= STORE_SELECTORS


@pytest.mark.parametrize("name", sorted(public_functions()))
def test_one_name_per_concept(name: str) -> None:
    parameters = inspect.signature(public_functions()[name]).parameters
    for parameter in parameters:
        if parameter == "store" and name in STORE_SELECTORS:
            continue
        assert parameter not in SYNONYMS, (
            f"workbench.{name}({parameter}=...): call it {SYNONYMS.get(parameter)!r}, "
            "as every other public function does"
        )
        assert parameter != "store", f"workbench.{name}(store=...): take client= instead"


@pytest.mark.parametrize("name", sorted(set(public_functions()) - STORE_FREE - STORE_SELECTORS))
def test_store_functions_take_client(name: str) -> None:
    parameter = inspect.signature(public_functions()[name]).parameters.get("client")
    assert parameter is not None, f"workbench.{name} reads or writes a store: give it client="
    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, name
    assert parameter.default is None, name


def test_workbench_offers_every_layer_function_as_a_method() -> None:
    tracking = {name for name in dir(Workbench) if not name.startswith("_")}
    missing = sorted(set(public_functions()) - STORE_FREE - STORE_SELECTORS - tracking)
    assert not missing, f"Workbench lacks methods for {missing}"
    for name, module in Workbench.layer_methods().items():
        assert getattr(workbench, name) is getattr(__import__(module, fromlist=[name]), name)


def test_a_layer_method_binds_its_client(tmp_path: Any) -> None:
    client = workbench.connect(tmp_path / "store")
    with client.start_run("bound") as run:
        run.log_metric("auc", 0.5)
    client.flush()
    comparison = client.compare([run.run_id])
    assert comparison.client is client
    assert client.list_models().empty
    assert workbench.connect() is not client
