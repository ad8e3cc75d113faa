"""The feature definition methods of the Store contract (schema 6), on every backend: versions
gap-free per kind and name, never rewritten, an unchanged definition adds nothing, a concurrent
registration is refused, lineage joins the model versions of live registrations."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from _postgres import PostgresServer

from workbench.exceptions import ConflictError, NotFoundError
from workbench.store import DuckDBStore, Store
from workbench.store.base import FeatureLineageRecord, NewFeatureDefinition
from workbench.store.postgres import PostgresStore


@pytest.fixture(params=["duckdb-file", "duckdb-memory", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    made: Store
    if request.param == "duckdb-file":
        made = DuckDBStore(tmp_path / "store")
    elif request.param == "duckdb-memory":
        made = DuckDBStore(":memory:")
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        made = PostgresStore(server.url(server.new_database()), local=tmp_path / "local")
    yield made
    made.close()


def _new(
    name: str, spec: dict[str, object], parent: int, kind: str = "feature_view"
) -> NewFeatureDefinition:
    text = json.dumps(spec, sort_keys=True)
    return NewFeatureDefinition(kind, name, text, f"fp-{text}", parent, "about it", "me@here")


def test_versions_are_gap_free_and_kept(store: Store) -> None:
    first = store.create_feature_definition(_new("stats", {"a": 1}, 0))
    assert (first.kind, first.name, first.version) == ("feature_view", "stats", 1)
    assert first.created_at.tzinfo is not None and first.created_by == "me@here"
    same = store.create_feature_definition(_new("stats", {"a": 1}, 0))
    assert same.version == 1  # the same fingerprint: nothing added
    second = store.create_feature_definition(_new("stats", {"a": 2}, 1))
    assert second.version == 2
    store.create_feature_definition(_new("stats", {"a": 1}, 0, kind="feature_service"))
    history = store.list_feature_definitions("feature_view", "stats", history=True)
    assert [(r.version, json.loads(r.spec)) for r in history] == [(1, {"a": 1}), (2, {"a": 2})]
    latest = store.list_feature_definitions()
    assert [(r.kind, r.name, r.version) for r in latest] == [
        ("feature_service", "stats", 1),
        ("feature_view", "stats", 2),
    ]
    assert store.get_feature_definition("feature_view", "stats", 1).spec == history[0].spec
    with pytest.raises(NotFoundError, match="no version 3"):
        store.get_feature_definition("feature_view", "stats", 3)
    with pytest.raises(NotFoundError, match=r"No entity named 'stats'"):
        store.get_feature_definition("entity", "stats")


def test_a_registration_that_raced_another_is_refused(store: Store) -> None:
    store.create_feature_definition(_new("stats", {"a": 1}, 0))
    store.create_feature_definition(_new("stats", {"a": 2}, 1))
    with pytest.raises(ConflictError, match=r"version 2 is the latest now, not 1"):
        store.create_feature_definition(_new("stats", {"a": 3}, 1))
    assert [r.version for r in store.list_feature_definitions(history=True)] == [1, 2]


def test_lineage_and_the_models_it_gave(store: Store) -> None:
    record = FeatureLineageRecord("run-1", "digest-1", "eta", 3, '{"features": []}', 10)
    store.record_feature_lineage(record)
    store.record_feature_lineage(record)  # once per run and digest
    (found,) = store.list_feature_lineage()
    assert (found.run_id, found.service, found.service_version, found.n_rows) == (
        "run-1",
        "eta",
        3,
        10,
    )
    assert found.created_at is not None and found.model is None
    assert store.list_feature_lineage(run_id="run-2") == []
    assert store.list_feature_lineage(registered=True) == []  # no model from that run
    frame = store.sql("SELECT run_id, service FROM feature_lineage")
    assert frame.to_dict("records") == [{"run_id": "run-1", "service": "eta"}]
