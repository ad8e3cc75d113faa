"""``workbench sweeps list|show`` and the objective loader of ``workbench sweep worker``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _sweep_objectives import quadratic

import workbench as wb
import workbench.cli as cli
from workbench.cli import sweeps as sweeps_cli
from workbench.sweeps import sweep


@pytest.fixture
def run_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], store_dir: Path
) -> object:
    if sweeps_cli not in cli.COMMAND_MODULES:  # until workbench.cli registers it
        monkeypatch.setattr(cli, "COMMAND_MODULES", [*cli.COMMAND_MODULES, sweeps_cli])

    def run(*args: str) -> tuple[int, str, str]:
        code = cli.main(["--store", str(store_dir), *args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_list_and_show(run_cli: object, store_dir: Path) -> None:
    s = sweep(quadratic, n_trials=12, name="cli-show", seed=0, progress=False)
    code, out, _ = run_cli("sweeps", "list")  # type: ignore[operator]
    assert code == 0 and "cli-show" in out and "journal" in out
    code, out, _ = run_cli("sweeps", "list", "--format", "json")  # type: ignore[operator]
    (row,) = json.loads(out)
    assert row["complete"] == 12 and row["run_id"] == s.parent_run_id

    code, out, _ = run_cli("sweeps", "show", "cli-show", "--top", "3")  # type: ignore[operator]
    assert code == 0
    assert out.startswith("Sweep('cli-show', 12 trials: 12 complete; best")
    assert f"parent run: {s.parent_run_id}" in out
    lines = out.splitlines()
    header = lines.index("  top 3 trials:") + 1
    assert lines[header].split()[:4] == ["number", "run_id", "state", "duration"]
    assert lines[header + 1].split()[0] == str(s.best_trial.number)  # best first
    code, out, _ = run_cli("sweeps", "show", "cli-show", "--format", "json")  # type: ignore[operator]
    payload = json.loads(out)
    assert payload["counts"]["complete"] == 12 and len(payload["trials"]) == 10
    assert payload["trials"][0]["run_id"] == s.best_run.run_id


def test_show_unknown_sweep_is_an_error(run_cli: object) -> None:
    code, _, err = run_cli("sweeps", "show", "nope")  # type: ignore[operator]
    assert code == 2 and "No sweep named 'nope'" in err


def test_objective_loader(tmp_path: Path) -> None:
    file = tmp_path / "my_objective.py"
    file.write_text("def f(trial):\n    return 1.0\n")
    assert sweeps_cli.load_objective(f"{file}:f")(None) == 1.0
    with pytest.raises(wb.InvalidParameterError, match="'module:function'"):
        sweeps_cli.load_objective("no_colon")
    with pytest.raises(wb.InvalidParameterError, match="has no function 'g'"):
        sweeps_cli.load_objective(f"{file}:g")
    with pytest.raises(wb.InvalidParameterError, match="cannot import module"):
        sweeps_cli.load_objective("not_a_module_anywhere:f")
