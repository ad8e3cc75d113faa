"""``workbench.sweep``: every trial a tracked run, in every state Optuna knows."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import optuna
import pandas as pd
import pytest

import workbench as wb
from workbench.sweeps import Sweep, list_sweeps, load_sweep, sweep, trial_run
from workbench.sweeps._storage import journal_path


def quadratic(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -5, 5)
    y = trial.suggest_int("y", 1, 100, log=True)
    kind = trial.suggest_categorical("kind", ["a", "b"])
    return (x - 2) ** 2 + math.log(y) + (kind == "b")


def _runs_by_number(s: Sweep) -> dict[int, pd.Series]:
    df = s.runs()
    assert df["trial_number"].is_unique
    return {int(row["trial_number"]): row for _, row in df.iterrows()}


def test_single_objective_every_trial_is_a_child_run(store_dir: Path) -> None:
    s = sweep(quadratic, n_trials=12, name="quad", seed=0, progress=False, tags={"team": "ml"})

    assert isinstance(s.study, optuna.Study) and s.study.study_name == "quad"
    assert s.counts()["complete"] == 12
    parent = wb.get_run(s.parent_run_id)
    assert parent.status.value == "finished"
    assert parent.tags["workbench.kind"] == "sweep" and parent.tags["team"] == "ml"
    assert parent.metrics["best_value"] == pytest.approx(s.study.best_value)
    assert len(parent.children) == 12
    runs = _runs_by_number(s)
    for trial in s.study.trials:
        row = runs[trial.number]
        assert row["run_id"] == trial.user_attrs["workbench.run_id"]
        assert row["parent_id"] == s.parent_run_id
        assert row["status"] == "finished" and row["trial_state"] == "complete"
        assert row["tags.workbench.trial_state"] == "complete"
        assert row["tags.team"] == "ml"
        assert row["metrics.objective"] == pytest.approx(trial.value)
        assert row["params.x"] == pytest.approx(trial.params["x"])
        assert row["params.kind"] == trial.params["kind"]
    best = s.best_run
    assert best.run_id == s.best_trial.user_attrs["workbench.run_id"]
    assert best.metrics["objective"] == pytest.approx(s.study.best_value)
    assert s.best_trials == [s.best_trial]
    assert s.experiment == "quad" and best.experiment == "quad"


def test_objective_logs_through_the_active_run_and_trial_run(store_dir: Path) -> None:
    seen: list[str] = []

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0, 1)
        wb.log_metric("through_active_run", x)
        run = trial_run(trial)
        assert wb.active_run() is run
        seen.append(run.run_id)
        run.log_metric("through_trial_run", 2 * x)
        trial.set_user_attr("note", {"k": 1})
        trial.set_user_attr("odd key!", "v")
        return x

    s = sweep(objective, n_trials=3, name="logging", progress=False)

    df = s.runs()
    assert sorted(df["run_id"]) == sorted(seen)
    assert (df["metrics.through_trial_run"] == 2 * df["metrics.through_active_run"]).all()
    assert (df["tags.note"] == '{"k": 1}').all()
    assert (df["tags.odd key_"] == "v").all()
    assert wb.active_run() is None


def test_trial_run_outside_a_sweep_says_how_to_use_it() -> None:
    study = optuna.create_study()
    trial = study.ask()
    with pytest.raises(wb.InvalidParameterError, match="inside the objective"):
        trial_run(trial)


def test_pruned_trials_keep_their_intermediate_values(store_dir: Path) -> None:
    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", -1, 1)
        for step in range(5):
            trial.report(x * x + 1 / (step + 1), step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return x * x

    pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    s = sweep(objective, n_trials=20, name="pruning", pruner=pruner, seed=1, progress=False)

    counts = s.counts()
    assert counts["pruned"] > 0 and counts["complete"] > 0
    runs = _runs_by_number(s)
    for trial in s.study.trials:
        row = runs[trial.number]
        state = {"COMPLETE": "complete", "PRUNED": "pruned"}[trial.state.name]
        assert row["tags.workbench.trial_state"] == state
        assert row["status"] == "finished"
        history = wb.get_metric_history(row["run_id"], "intermediate_value")
        assert history["step"].tolist() == sorted(trial.intermediate_values)
        assert history["value"].tolist() == pytest.approx(
            [trial.intermediate_values[k] for k in sorted(trial.intermediate_values)]
        )
        if state == "pruned":
            assert pd.isna(row["metrics.objective"])


def test_failing_and_nan_trials_fail_alone_and_keep_their_error(store_dir: Path) -> None:
    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0, 1)
        if trial.number == 1:
            raise RuntimeError("CUDA out of memory")
        if trial.number == 2:
            return float("nan")
        return x

    s = sweep(objective, n_trials=5, name="failing", progress=False)

    assert s.counts() == {**s.counts(), "complete": 3, "failed": 2, "total": 5}
    runs = _runs_by_number(s)
    assert runs[1]["status"] == "failed"
    assert runs[1]["error"] == "RuntimeError: CUDA out of memory"
    assert s.study.trials[1].user_attrs["workbench.error"] == "RuntimeError: CUDA out of memory"
    assert runs[2]["status"] == "failed" and "must not be NaN" in runs[2]["error"]
    assert "raise optuna.TrialPruned()" in runs[2]["error"]
    assert runs[2]["tags.workbench.trial_state"] == "failed"
    assert {runs[n]["status"] for n in (0, 3, 4)} == {"finished"}


def test_catch_empty_stops_at_the_first_failure(store_dir: Path) -> None:
    def objective(trial: optuna.Trial) -> float:
        trial.suggest_float("x", 0, 1)
        raise KeyError("missing column")

    with pytest.raises(KeyError, match="missing column"):
        sweep(objective, n_trials=5, name="strict", catch=(), progress=False)
    s = load_sweep("strict")
    assert s.counts()["failed"] == 1 and s.counts()["total"] == 1
    assert wb.get_run(s.parent_run_id).status.value == "failed"


def test_multi_objective_has_a_pareto_front(store_dir: Path) -> None:
    def objective(trial: optuna.Trial) -> tuple[float, float]:
        x = trial.suggest_float("x", 0, 1)
        return x, (1 - x) ** 2

    s = sweep(
        objective,
        n_trials=15,
        name="pareto",
        directions=["minimize", "minimize"],
        metric_names=["error", "latency"],
        progress=False,
    )

    assert s.is_multi_objective and s.metric_names == ["error", "latency"]
    assert s.study.metric_names == ["error", "latency"]
    front = {t.number for t in s.best_trials}
    assert front == {t.number for t in s.study.best_trials} and front
    runs = {r.run_id for r in s.best_runs}
    assert runs == {t.user_attrs["workbench.run_id"] for t in s.best_trials}
    df = s.runs()
    assert {"metrics.error", "metrics.latency"} <= set(df.columns)
    with pytest.raises(wb.ConflictError, match="Pareto front"):
        _ = s.best_trial
    assert wb.get_run(s.parent_run_id).metrics["pareto_size"] == len(front)


def test_threads_track_every_trial_once(store_dir: Path) -> None:
    s = sweep(quadratic, n_trials=24, name="threads", n_jobs=3, progress=False)
    df = s.runs()
    assert sorted(df["trial_number"]) == list(range(24))
    assert set(df["run_id"]) == {t.user_attrs["workbench.run_id"] for t in s.study.trials}
    assert (df["status"] == "finished").all()


def test_same_name_continues_to_the_total(store_dir: Path) -> None:
    first = sweep(quadratic, n_trials=5, name="resume", progress=False)
    parent = first.parent_run_id
    again = sweep(quadratic, n_trials=5, name="resume", progress=False)
    assert again.counts()["total"] == 5  # already there: nothing to run
    more = sweep(quadratic, n_trials=8, name="resume", progress=False)
    assert more.counts()["total"] == 8
    assert more.parent_run_id == parent
    assert len(wb.get_run(parent).children) == 8
    assert wb.get_run(parent).status.value == "finished"
    assert sorted(more.runs()["trial_number"]) == list(range(8))


def test_a_different_direction_is_refused_and_changes_nothing(store_dir: Path) -> None:
    sweep(quadratic, n_trials=3, name="dir", progress=False)
    journal = journal_path(store_dir, "dir")
    before = journal.read_bytes()
    with pytest.raises(wb.InvalidParameterError) as info:
        sweep(quadratic, n_trials=6, name="dir", direction="maximize", progress=False)
    message = str(info.value)
    assert "'maximize'" in message and "'minimize'" in message and "'dir'" in message
    assert "choose another name" in message
    assert journal.read_bytes() == before
    with pytest.raises(wb.InvalidParameterError, match="metric names"):
        sweep(quadratic, n_trials=6, name="dir", metric_names=["loss"], progress=False)
    with pytest.raises(wb.InvalidParameterError, match="experiment"):
        sweep(quadratic, n_trials=6, name="dir", experiment="other", progress=False)
    assert journal.read_bytes() == before
    assert load_sweep("dir").counts()["total"] == 3


def test_an_existing_optuna_study_is_adopted(store_dir: Path) -> None:
    from workbench.sweeps._storage import open_journal

    storage = open_journal(journal_path(store_dir, "adopted"))
    plain = optuna.create_study(study_name="adopted", storage=storage, direction="maximize")
    plain.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    s = sweep(lambda t: t.suggest_float("x", 0, 1), n_trials=5, name="adopted", progress=False)
    assert s.directions == ["maximize"] and s.counts()["total"] == 5
    assert len(s.runs()) == 2  # only the trials run through workbench have runs
    assert s.run_id(0) is None


def test_views_of_a_sweep(store_dir: Path) -> None:
    sweep(quadratic, n_trials=6, name="views", seed=3, progress=False)
    s = load_sweep("views")
    assert s.parent_run_id is not None
    text = repr(s)
    assert text.startswith("Sweep('views', 6 trials: 6 complete; best")
    bundle = s._repr_mimebundle_()
    assert bundle["text/plain"] == text
    html = bundle["text/html"]
    assert "<svg" in html and "best value" in html and s.best_run.run_id in html
    assert len(html) < 40_000 and "<script" not in html
    df = s.trials_dataframe()
    assert df["run_id"].tolist() == [t.user_attrs["workbench.run_id"] for t in s.study.trials]
    assert not [c for c in df.columns if "workbench." in c]
    listing = list_sweeps()
    row = listing.set_index("name").loc["views"]
    assert row["complete"] == 6 and row["storage"] == "journal"
    assert row["best_value"] == pytest.approx(s.study.best_value)


def test_load_sweep_of_an_unknown_name_lists_the_known_ones(store_dir: Path) -> None:
    sweep(quadratic, n_trials=1, name="known", progress=False)
    with pytest.raises(wb.NotFoundError, match=r"No sweep named 'nope'.*\['known'\]"):
        load_sweep("nope")


def test_in_memory_store_works_for_one_process(tmp_path: Path) -> None:
    client = wb.Workbench(":memory:")
    s = sweep(quadratic, n_trials=3, name="mem", client=client, progress=False)
    assert len(s.runs()) == 3
    with pytest.raises(wb.InvalidParameterError, match="in-memory store"):
        sweep(quadratic, n_trials=3, name="mem", client=client, n_workers=2, progress=False)


def test_bad_return_values_stop_the_sweep_with_a_clear_error(store_dir: Path) -> None:
    def returns_text(trial: optuna.Trial) -> str:
        trial.suggest_float("x", 0, 1)
        return "0.5 accuracy"

    with pytest.raises(wb.InvalidParameterError) as info:
        sweep(returns_text, n_trials=5, name="text", progress=False)
    assert "must be a number. Got '0.5 accuracy'" in str(info.value)
    assert "float(value)" in str(info.value)
    s = load_sweep("text")
    assert s.counts()["total"] == 1 and s.counts()["failed"] == 1  # stopped at once
    assert s.runs()["status"].tolist() == ["failed"]

    def one_value(trial: optuna.Trial) -> float:
        return trial.suggest_float("x", 0, 1)

    with pytest.raises(wb.InvalidParameterError, match=r"a sequence of 2 numbers.*\(a, b\)"):
        sweep(
            one_value,
            n_trials=3,
            name="arity",
            directions=["minimize", "maximize"],
            metric_names=["a", "b"],
            progress=False,
        )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"objective": 42}, "'objective' parameter of workbench.sweep must be a callable"),
        ({"sampler": "bayes"}, r"'sampler'.*\['cmaes', 'gp', 'nsga2'.*Got 'bayes'"),
        ({"sampler": "grid"}, r"GridSampler\(\{"),
        ({"pruner": "early"}, r"'pruner'.*'hyperband'.*Got 'early'"),
        ({"direction": "up"}, r"'direction'.*'minimize' or 'maximize'. Got 'up'"),
        ({"direction": "minimize", "directions": ["minimize"]}, "not both"),
        ({"directions": "minimize"}, "For one objective use direction="),
        ({"directions": ["minimize"], "metric_names": ["a", "b"]}, "1 name"),
        ({"n_trials": 0}, "'n_trials'.*positive int"),
        ({"timeout": -1}, "'timeout'.*positive number"),
        ({"n_jobs": 0}, "'n_jobs'"),
        ({"catch": Exception}, None),  # a single class is accepted
        ({"catch": [ValueError]}, "'catch'.*tuple of Exception classes"),
        ({"progress": "loud"}, "'progress'"),
        ({"tags": {"workbench.kind": "x"}}, "reserved"),
        ({"storage": 3}, "'storage'"),
        ({"storage": "postgresql+psycopg2://u:secret@127.0.0.1:1/db"}, "reachable"),
    ],
)
def test_bad_arguments_name_the_value_and_write_nothing(
    store_dir: Path, kwargs: dict[str, object], match: str | None
) -> None:
    objective = kwargs.pop("objective", quadratic)
    arguments: dict[str, object] = {"n_trials": 1, "progress": False, **kwargs}
    if match is None:
        sweep(objective, name="fine", **arguments)  # type: ignore[arg-type]
        return
    with pytest.raises(wb.InvalidParameterError, match=match) as info:
        sweep(objective, name="bad", **arguments)  # type: ignore[arg-type]
    assert "secret" not in str(info.value)
    assert not journal_path(store_dir, "bad").exists()


def test_an_interrupt_kills_the_trial_run_and_does_not_count(store_dir: Path) -> None:
    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0, 1)
        if trial.number == 2:
            raise KeyboardInterrupt
        return x

    with pytest.raises(KeyboardInterrupt):
        sweep(objective, n_trials=5, name="interrupted", progress=False)
    s = load_sweep("interrupted")
    runs = _runs_by_number(s)
    assert runs[2]["status"] == "killed" and runs[2]["tags.workbench.trial_state"] == "failed"
    assert wb.get_run(s.parent_run_id).status.value == "killed"
    s = sweep(lambda t: t.suggest_float("x", 0, 1), n_trials=5, name="interrupted", progress=False)
    assert s.counts() == {**s.counts(), "complete": 5, "failed": 1, "total": 6}
    assert wb.get_run(s.parent_run_id).status.value == "finished"


class _InterruptingSampler(optuna.samplers.RandomSampler):
    """Sends this process SIGINT while Optuna starts trial ``at``: after the trial is created,
    before the objective runs, where a KeyboardInterrupt used to leave the trial RUNNING."""

    def __init__(self, at: int) -> None:
        super().__init__(seed=0)
        self.at = at

    def before_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        super().before_trial(study, trial)
        if trial.number == self.at:
            os.kill(os.getpid(), signal.SIGINT)


def test_an_interrupt_between_trials_leaves_no_trial_running(store_dir: Path) -> None:
    def objective(trial: optuna.Trial) -> float:
        return trial.suggest_float("x", 0, 1)

    sampler = _InterruptingSampler(at=2)
    with pytest.raises(KeyboardInterrupt):
        sweep(objective, n_trials=5, name="between", sampler=sampler, progress=False)
    s = load_sweep("between")
    assert s.counts() == {**s.counts(), "complete": 2, "failed": 1, "running": 0, "total": 3}
    runs = _runs_by_number(s)
    assert runs[2]["status"] == "killed"
    assert wb.get_run(s.parent_run_id).status.value == "killed"
    s = sweep(objective, n_trials=5, name="between", progress=False)  # it did not count
    assert s.counts() == {**s.counts(), "complete": 5, "failed": 1, "total": 6}


def test_an_objective_that_exits_leaves_no_trial_running(store_dir: Path) -> None:
    def exits(trial: optuna.Trial) -> float:
        if trial.number == 1:
            raise SystemExit(2)  # not an Exception: Optuna records nothing for the trial
        return trial.suggest_float("x", 0, 1)

    with pytest.raises(SystemExit):
        sweep(exits, n_trials=3, name="exits", progress=False)
    counts = load_sweep("exits").counts()
    assert counts == {**counts, "complete": 1, "failed": 1, "running": 0, "total": 2}


def _start_a_trial_and_die(store: Path, name: str) -> None:
    """In another process: Optuna creates a trial of the sweep, then the process is killed."""
    code = (
        "import os, optuna, sys\n"
        "from pathlib import Path\n"
        "from workbench.sweeps._storage import journal_path, open_journal\n"
        "storage = open_journal(journal_path(Path(sys.argv[1]), sys.argv[2]))\n"
        "optuna.load_study(study_name=sys.argv[2], storage=storage).ask()\n"
        "os._exit(9)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(store), name], check=False)
    assert done.returncode == 9


def test_load_sweep_fails_the_trials_of_dead_processes(store_dir: Path) -> None:
    sweep(quadratic, n_trials=2, name="stale", progress=False)
    _start_a_trial_and_die(store_dir, "stale")

    s = load_sweep("stale")
    assert s.counts() == {**s.counts(), "complete": 2, "failed": 1, "running": 0}
    assert s.study.trials[2].state == optuna.trial.TrialState.FAIL  # in the storage too
    assert list_sweeps().set_index("name").loc["stale", "running"] == 0


def test_stale_trials_of_a_read_only_sweep_are_shown_failed(
    store_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench.sweeps._storage import FileJournalBackend

    sweep(quadratic, n_trials=2, name="readonly", progress=False)
    _start_a_trial_and_die(store_dir, "readonly")

    def refuse(self: FileJournalBackend, logs: object) -> None:
        raise PermissionError(13, "Permission denied", self._file_path)

    monkeypatch.setattr(FileJournalBackend, "append_logs", refuse)
    s = load_sweep("readonly")
    assert s.counts() == {**s.counts(), "complete": 2, "failed": 1, "running": 0}
    assert s.study.trials[2].state == optuna.trial.TrialState.RUNNING  # not written
