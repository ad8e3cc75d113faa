"""One store with registered models for every serving test, and helpers to run real servers.

Servers are real processes (``workbench.deploy``: uvicorn on a free port of 127.0.0.1); every
request in these tests goes to loopback only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression

import workbench as wb
from workbench.serving import Deployment, deploy

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _serving_models import FlakyModel, Models  # noqa: E402


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Models]:
    store = tmp_path_factory.mktemp("serving") / "store"
    client = wb.Workbench(store)
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    v1 = LogisticRegression(max_iter=5000).fit(X, y)
    v2 = LogisticRegression(C=1e-4, max_iter=5000).fit(X, y)
    constant = DummyClassifier(strategy="constant", constant=1).fit(X, y)
    registry = wb.registry.ModelRegistry(client)
    with client.start_run("serving-tests") as run:
        run.log_input(X, name="training", context="training")
    for name, model in (("bc", v1), ("bc", v2), ("live", v1), ("live", constant)):
        registry.register_model(name, run=run.run_id, model=model, input_example=X)
    registry.set_alias("bc", "champion", 1)
    registry.set_alias("live", "champion", 1)
    # "flk": version 1 behaves, version 2 raises on negative and sleeps on huge first values.
    registry.register_model("flk", run=run.run_id, model=v1, input_example=X)
    signature = wb.registry.infer_signature(X, v1)
    registry.register_model(
        "flk", run=run.run_id, model=FlakyModel(v1), signature=signature, flavor="pickle"
    )
    registry.set_alias("flk", "champion", 1)
    registry.set_alias("flk", "champion", 2)
    client.close()
    yield Models(store, X, v1, v2, constant)


@pytest.fixture(autouse=True)
def _server_imports(monkeypatch: pytest.MonkeyPatch) -> None:
    """Server processes import the test models the way this process does."""
    path = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(HERE), path) if p))


@pytest.fixture(scope="module")
def server(models: Models) -> Iterator[Deployment]:
    """``bc@champion`` served with small limits (so oversized requests are cheap to send)."""
    with deploy("bc@champion", client=models.client, max_rows=1000, max_body_bytes=300_000) as d:
        yield d


@pytest.fixture
def http(server: Deployment) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30.0, trust_env=False) as client:
        yield client
