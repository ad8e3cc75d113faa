"""`workbench models ...`, run as a real subprocess against a real store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import workbench as wb
from workbench import registry as reg


def _cli(store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", "--store", str(store), "models", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def registered(store_dir: Path) -> Path:
    X, y = load_iris(return_X_y=True, as_frame=True)
    with wb.start_run("iris") as run:
        model = LogisticRegression(max_iter=500).fit(X, y)
        run.log_metric("accuracy", model.score(X, y))
    for _ in range(3):
        reg.register_model("iris", run=run, model=model, input_example=X)
    return store_dir


@pytest.mark.slow
def test_alias_rollback_history_round_trip(registered: Path) -> None:
    for version in ("1", "2", "3"):
        done = _cli(registered, "alias", "iris", "champion", version, "--reason", f"v{version}")
        assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "iris@champion -> version 3"
    rolled = _cli(registered, "rollback", "iris", "champion", "--reason", "v3 is worse")
    assert rolled.returncode == 0 and "rolled back to version 2" in rolled.stdout
    history = _cli(registered, "history", "iris", "champion", "--format", "json")
    rows = json.loads(history.stdout)
    assert [(r["action"], r["to_version"]) for r in rows][-2:] == [("set", 3), ("rollback", 2)]
    assert rows[-1]["reason"] == "v3 is worse"
    deleted = _cli(registered, "alias", "iris", "champion", "--delete")
    assert deleted.returncode == 0 and "deleted alias iris@champion" in deleted.stdout
    assert reg.alias_history("iris")["action"].tolist()[-1] == "delete"


@pytest.mark.slow
def test_list_show_versions_and_card(registered: Path, tmp_path: Path) -> None:
    listed = json.loads(_cli(registered, "list", "--format", "json").stdout)
    assert [(m["name"], m["latest_version"], m["versions"]) for m in listed] == [("iris", 3, 3)]
    versions = _cli(registered, "versions", "iris", "--format", "csv")
    assert versions.stdout.splitlines()[0].startswith("name,version,aliases,flavor")
    shown = _cli(registered, "show", "iris/2")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("Model iris v2") and "sepal length (cm)" in shown.stdout
    as_json = json.loads(_cli(registered, "show", "models:/iris/2", "--format", "json").stdout)
    assert as_json["version"]["version"] == 2
    markdown = _cli(registered, "show", "iris", "--format", "markdown").stdout
    assert markdown.startswith("# Model iris v3")
    target = tmp_path / "card.html"
    assert _cli(registered, "card", "iris", "-o", str(target)).returncode == 0
    assert target.read_text().startswith("<!DOCTYPE html>")


def test_errors_exit_2_with_the_message(registered: Path) -> None:
    missing = _cli(registered, "show", "nope")
    assert missing.returncode == 2 and "No registered model named 'nope'" in missing.stderr
    no_version = _cli(registered, "alias", "iris", "champion")
    assert no_version.returncode == 2 and "--delete" in no_version.stderr
    nothing = _cli(registered, "rollback", "iris", "champion")
    assert nothing.returncode == 2 and "no earlier version" in nothing.stderr
