"""The model card: one object, same content in a notebook, in HTML and in Markdown; gate
results plug in."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import workbench as wb
from workbench.registry import GateOutcome, ModelCard, ModelRegistry, ModelVersion, card


@pytest.fixture
def model_card(tmp_path: Path) -> Iterator[ModelCard]:
    registry = ModelRegistry(wb.Workbench(tmp_path / "store"))
    X, y = load_iris(return_X_y=True, as_frame=True)
    with registry.client.start_run("iris", "first") as run:
        run.log_params({"C": 1.0})
        run.log_input(X, name="iris-features")
        model = LogisticRegression(max_iter=500).fit(X, y)
        run.log_metric("accuracy", model.score(X, y))
    registry.register_model(
        "iris",
        run=run,
        model=model,
        input_example=X,
        tags={"note": "a|b"},
        description="<script>alert(1)</script>",
    )
    registry.register_model("iris", run=run, model=model, description="second")
    registry.set_alias("iris", "champion", 1, reason="launch")
    registry.set_alias("iris", "champion", 2, reason="retrained")
    registry.rollback("iris", "champion", reason="v2 regressed")
    yield registry.model_card("iris@champion")
    registry.client.close()


def test_card_holds_versions_aliases_lineage_signature(model_card: ModelCard) -> None:
    assert model_card.version.version == 1 and model_card.title == "Model iris v1 (champion)"
    titles = [s.title for s in model_card.sections()]
    assert titles == [
        "Overview",
        "Metrics",
        "Params",
        "Signature: inputs (dataframe)",
        "Signature: outputs",
        "Input example",
        "Lineage",
        "Training data",
        "Environment",
        "Versions",
        "Alias history",
        "Gates",
    ]
    sections = {s.title: s for s in model_card.sections()}
    assert ("C", "1") in sections["Params"].items
    assert sections["Training data"].rows[0][:3] == ("iris-features", "training", "150")
    assert [r[0] for r in sections["Versions"].rows] == ["▶ 1", "2"]
    assert [r[2] for r in sections["Alias history"].rows] == ["rollback", "set", "set"]
    assert sections["Gates"].note == "No gate results yet."
    assert len(sections["Input example"].rows) == 5


def test_html_is_self_contained_and_escaped(model_card: ModelCard, tmp_path: Path) -> None:
    page = model_card.to_html()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    assert "http://" not in page and "https://" not in page and "<link" not in page
    assert "v2 regressed" in page and "sepal length (cm)" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    bundle = model_card._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html", "text/markdown"}
    assert not bundle["text/html"].startswith("<!DOCTYPE") and "wb-card" in bundle["text/html"]
    assert bundle["text/plain"].startswith("ModelCard(iris/1, aliases=['champion']")
    saved = model_card.save(tmp_path / "card.html")
    assert saved.read_text(encoding="utf-8") == page


def test_markdown_tables_are_well_formed(model_card: ModelCard, tmp_path: Path) -> None:
    text = model_card.to_markdown()
    assert text.startswith("# Model iris v1 (champion)\n")
    assert "| tag: note | a\\|b |" in text  # pipes escaped inside cells
    for block in text.split("\n\n"):
        rows = [line for line in block.splitlines() if line.startswith("|")]
        assert len({len(re.findall(r"(?<!\\)\|", row)) for row in rows}) <= 1, block
    assert (tmp_path / "c.md") == model_card.save(tmp_path / "c.md")
    data = json.loads(model_card.save(tmp_path / "c.json").read_text())
    assert data["version"]["version"] == 1 and len(data["alias_history"]) == 3
    with pytest.raises(wb.InvalidParameterError, match=r"must end in one of \['.htm'"):
        model_card.save(tmp_path / "card.pdf")


def test_gate_results_plug_in(model_card: ModelCard, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(card, "_providers", [])

    @card.register_gate_provider
    def gates(version: ModelVersion) -> list[GateOutcome]:
        return [
            GateOutcome("accuracy >= 0.9", version.metrics["accuracy"] >= 0.9, "0.97 >= 0.9"),
            GateOutcome("latency", False, "p99 120 ms > 100 ms"),
        ]

    refreshed = ModelCard(
        model_card.version,
        model_card.versions,
        model_card.history,
        card.gate_outcomes(model_card.version),
    )
    rows = {s.title: s for s in refreshed.sections()}["Gates"].rows
    assert rows == (
        ("accuracy >= 0.9", "PASS", "0.97 >= 0.9"),
        ("latency", "FAIL", "p99 120 ms > 100 ms"),
    )
    assert (
        "<tr class='fail'>" in refreshed.to_html()
        and "| latency | FAIL |" in refreshed.to_markdown()
    )
    with pytest.raises(wb.InvalidParameterError, match="must be a callable"):
        card.register_gate_provider("not callable")  # type: ignore[arg-type]
