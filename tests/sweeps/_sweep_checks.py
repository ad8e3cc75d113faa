"""Assertions shared by the sweep tests."""

from __future__ import annotations

import pytest

from workbench.sweeps import Sweep


def assert_tracked_once(s: Sweep) -> None:
    """Every trial has exactly one finished run, child of the sweep, with its values."""
    trials = s.study.trials
    runs = s.runs()
    assert sorted(runs["trial_number"]) == sorted(t.number for t in trials)
    assert sorted(runs["run_id"]) == sorted(t.user_attrs["workbench.run_id"] for t in trials)
    assert (runs["status"] == "finished").all()
    assert (runs["parent_id"] == s.parent_run_id).all()
    by_number = runs.set_index("trial_number")
    for trial in trials:
        assert by_number.loc[trial.number, "metrics.objective"] == pytest.approx(trial.value)
        assert by_number.loc[trial.number, "params.x"] == pytest.approx(trial.params["x"])
