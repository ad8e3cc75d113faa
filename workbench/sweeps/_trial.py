"""Every trial a tracked run: the wrapper ``sweep()`` hands to ``study.optimize``.

For each trial the wrapper starts a child run of the sweep's parent run, records the run id and
the owning process in the trial's user attributes, makes the run the *active run* while the
objective executes (so ``workbench.log_metric`` and ``workbench.trial_run(trial)`` reach it), and
when the objective is done records params, objective value(s), intermediate values and user
attributes, and ends the run:

=====================  ============  ===========================  ===========================
objective              Optuna state  run status                   ``workbench.trial_state``
=====================  ============  ===========================  ===========================
returns number(s)      COMPLETE      finished                     complete
raises TrialPruned     PRUNED        finished                     pruned
raises / returns NaN   FAIL          failed (with the error)      failed
KeyboardInterrupt      FAIL          killed                       failed
process killed         FAIL [#]_     killed (workbench's reaper)  -
=====================  ============  ===========================  ===========================

.. [#] at once by the parent of worker processes; else when the sweep is next started,
   joined, loaded or looked at (journal storage), or by Optuna's heartbeat (RDB storage).

Each trial records its process (:data:`OWNER_ATTR`: host, pid, start time; in the default
journal already in the record that creates the trial), which is how a RUNNING trial whose
process died is told from one still running.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import json
import logging
import math
import os
import re
import socket
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import TrialState

from workbench import _liveness
from workbench import _validation as v
from workbench.exceptions import ConflictError, InvalidParameterError
from workbench.sweeps._interrupt import Interrupts

if TYPE_CHECKING:
    from workbench.tracking.client import TrackingClient
    from workbench.tracking.run import ActiveRun

__all__ = [
    "TrialRecorder",
    "count_finished",
    "fail_stale_trials",
    "settled_trials",
    "trial_run",
]

logger = logging.getLogger("workbench.sweeps")

RUN_ID_ATTR = "workbench.run_id"
OWNER_ATTR = "workbench.owner"
ERROR_ATTR = "workbench.error"
KIND_TAG = "workbench.kind"
SWEEP_TAG = "workbench.sweep"
SWEEP_ID_TAG = "workbench.sweep_id"
TRIAL_NUMBER_TAG = "workbench.trial_number"
TRIAL_STATE_TAG = "workbench.trial_state"
INTERMEDIATE_KEY = "intermediate_value"
_TAG_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_\-.:/ ]+")
_MAX_ERROR = 2000
STALE_WITHOUT_OWNER_S = 60.0

_runs: weakref.WeakKeyDictionary[optuna.trial.Trial, ActiveRun] = weakref.WeakKeyDictionary()
_runs_lock = threading.Lock()


def trial_run(trial: optuna.trial.Trial) -> ActiveRun:
    """The tracked run of a trial, from inside an objective passed to ``workbench.sweep``.

    Inside the objective the trial's run is also the active run, so ``workbench.log_metric``
    and friends reach it too; ``trial_run`` is for code that holds the trial but not the block.

    Examples
    --------
    >>> def objective(trial):                                            # doctest: +SKIP
    ...     run = workbench.trial_run(trial)
    ...     for epoch in range(10):
    ...         run.log_metric("train_loss", train_one_epoch(), step=epoch)
    ...     return evaluate()
    """
    with _runs_lock:
        run = _runs.get(trial) if isinstance(trial, optuna.trial.Trial) else None
    if run is None:
        raise v.fail(
            "trial",
            "workbench.trial_run",
            "a trial of a running workbench.sweep(...)",
            trial,
            "Call it inside the objective function you passed to workbench.sweep().",
        )
    return run


_tokens: dict[int, str] = {}


def owner_token(pid: int | None = None) -> str:
    """A process (default: this one) as recorded on the trials it runs: ``host|pid|start``.

    Raises ``psutil.NoSuchProcess`` for a process that is gone.
    """
    pid = os.getpid() if pid is None else pid
    token = _tokens.get(pid)
    if token is None:
        token = f"{socket.gethostname()}|{pid}|{_liveness.start_time(pid):.3f}"
        if pid == os.getpid():
            _tokens.clear()  # a forked child: the parent's entry is not ours
            _tokens[pid] = token
    return token


def owner_alive(token: str) -> bool | None:
    """Whether the process of ``token`` still runs; None if it is on another machine."""
    try:
        host, pid, started = token.split("|")
        if host != socket.gethostname():
            return None
        return _liveness.process_alive(int(pid), started=float(started))
    except ValueError:
        return False


# -- trials left RUNNING by dead processes -----------------------------------------------------
def stale_trials(
    study: optuna.Study, *, local: bool, dead: frozenset[str] = frozenset()
) -> list[optuna.trial.FrozenTrial]:
    """The RUNNING trials whose process is dead (or one of the owner tokens ``dead``).

    A trial of a process on this machine that no longer runs is stale at once; one without an
    owner (a storage that cannot record it with the trial, and a process that died right after
    creating it) once it is a minute old, for storages only this machine uses (``local``).
    Trials of other machines are left to Optuna's heartbeat (RDB storages).
    """
    now = dt.datetime.now()
    stale = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = trial.user_attrs.get(OWNER_ATTR)
        if owner is not None:
            gone = str(owner) in dead or owner_alive(str(owner)) is False
        else:
            started = trial.datetime_start
            age = (now - started).total_seconds() if started is not None else 0.0
            gone = local and age > STALE_WITHOUT_OWNER_S
        if gone:
            stale.append(trial)
    return stale


def fail_trials(study: optuna.Study, trials: Sequence[optuna.trial.FrozenTrial]) -> int:
    """Mark ``trials`` FAIL (those still unfinished); return how many were."""
    failed = 0
    for trial in trials:
        study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
        failed += 1
    if failed:
        logger.warning(
            "Sweep %r: %d trial(s) left running by a process that died were marked failed.",
            study.study_name,
            failed,
        )
    return failed


def fail_stale_trials(
    study: optuna.Study, *, local: bool, dead: frozenset[str] = frozenset()
) -> int:
    """Mark FAIL the RUNNING trials whose process is dead (see :func:`stale_trials`)."""
    return fail_trials(study, stale_trials(study, local=local, dead=dead))


def settled_trials(study: optuna.Study, *, local: bool) -> list[optuna.trial.FrozenTrial]:
    """The study's trials, with RUNNING trials of dead processes failed (for views).

    They are marked FAIL in the storage; where it cannot be written (a read-only store), they
    are shown failed in the returned list only. Do not modify the trials returned.
    """
    trials = study.get_trials(deepcopy=False)
    if not any(t.state == TrialState.RUNNING for t in trials):
        return trials
    stale = stale_trials(study, local=local)
    if not stale:
        return trials
    try:
        fail_trials(study, stale)
    except OSError as exc:
        logger.debug("Could not mark stale trials failed (%s); showing them as failed.", exc)
        numbers = {t.number for t in stale}
        shown = []
        for trial in trials:
            if trial.number in numbers:
                trial = copy.copy(trial)
                trial.state = TrialState.FAIL
            shown.append(trial)
        return shown
    return study.get_trials(deepcopy=False)


def counts(trial: optuna.trial.FrozenTrial) -> bool:
    """Whether a finished trial counts toward ``n_trials`` (interrupted ones do not)."""
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    return trial.state == TrialState.FAIL and ERROR_ATTR in trial.user_attrs


def never_counting(study: optuna.Study) -> int:
    """Failed trials that do not count toward ``n_trials`` (interrupted by a crash)."""
    trials = study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
    return sum(1 for t in trials if not counts(t))


def count_finished(study: optuna.Study) -> int:
    """Trials that count toward ``n_trials``: complete, pruned, or failed by the objective."""
    trials = study.get_trials(
        deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    )
    return sum(1 for t in trials if counts(t))


@dataclass
class Outcome:
    """What the objective produced, as Optuna will record it."""

    state: str  # "complete", "pruned", "failed", "interrupted"
    values: list[float] | None = None
    error: str | None = None


@dataclass
class TrialRecorder:
    """The objective wrapper: one tracked child run per trial (see the module docstring)."""

    objective: Callable[[optuna.Trial], Any]
    client: TrackingClient
    parent: ActiveRun
    sweep_name: str
    sweep_id: str
    experiment: str
    directions: list[str]
    metric_names: list[str]
    tags: Mapping[str, Any]
    catch: tuple[type[Exception], ...]
    owns_parent: bool = False
    target: int | None = None  # stop the study once this many trials count (other processes)
    on_outcome: Callable[[Outcome, int], None] | None = None
    contract_error: InvalidParameterError | None = None
    interrupts: Interrupts = field(default_factory=lambda: Interrupts(installed=False))
    _owner: str = field(default_factory=owner_token)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _started: list[int] = field(default_factory=list)  # trial numbers, in order
    best: float | None = None  # best objective value seen (single objective)
    never_count: int = 0  # trials that will never count toward target (interrupted earlier)

    @property
    def objective_name(self) -> str:
        return getattr(self.objective, "__qualname__", type(self.objective).__name__)

    def fail_unfinished(self, study: optuna.Study) -> int:
        """After ``optimize`` ended, however: fail the trials this recorder began that are still
        RUNNING (an objective that raised ``SystemExit`` or another non-``Exception``, which
        Optuna lets through without recording the trial's end)."""
        with self._lock:
            started = set(self._started)
        if not started:
            return 0
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        return fail_trials(study, [t for t in running if t.number in started])

    def __call__(self, trial: optuna.Trial) -> Any:
        with self._lock:
            self._started.append(trial.number)
        if trial.user_attrs.get(OWNER_ATTR) != self._owner:  # not recorded with the trial
            trial.set_user_attr(OWNER_ATTR, self._owner)
        run = self.client.start_run(
            self.experiment,
            f"{self.sweep_name}-{trial.number}",
            parent=self.parent,
            tags={
                **self.tags,
                KIND_TAG: "trial",
                SWEEP_TAG: self.sweep_name,
                SWEEP_ID_TAG: self.sweep_id,
                TRIAL_NUMBER_TAG: trial.number,
            },
        )
        trial.set_user_attr(RUN_ID_ATTR, run.run_id)
        with _runs_lock:
            _runs[trial] = run
        try:
            with run:
                return self._run(trial, run)
        finally:
            with _runs_lock:
                _runs.pop(trial, None)

    def _run(self, trial: optuna.Trial, run: ActiveRun) -> Any:
        try:
            with self.interrupts.objective(trial):
                result = self.objective(trial)
        except optuna.TrialPruned:
            self._finish(trial, run, Outcome("pruned"))
            raise
        except KeyboardInterrupt:
            self._finish(
                trial, run, Outcome("interrupted", error="Interrupted (KeyboardInterrupt).")
            )
            raise
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            trial.set_user_attr(ERROR_ATTR, message[:_MAX_ERROR])
            self._finish(trial, run, Outcome("failed", error=message))
            raise
        try:
            values, problem = self._check_result(result, trial.number)
        except InvalidParameterError as exc:
            # A programming error that every trial would repeat: fail this trial, stop the sweep
            # once running trials end, and let sweep() raise it.
            trial.set_user_attr(ERROR_ATTR, str(exc)[:_MAX_ERROR])
            self._finish(trial, run, Outcome("failed", error=str(exc)))
            with self._lock:
                self.contract_error = self.contract_error or exc
            trial.study.stop()
            raise
        if problem is not None:
            trial.set_user_attr(ERROR_ATTR, problem[:_MAX_ERROR])
            self._finish(trial, run, Outcome("failed", values=values, error=problem))
            return values[0] if len(values) == 1 else values
        self._finish(trial, run, Outcome("complete", values=values))
        return values[0] if len(values) == 1 else values

    # -- the objective's return value ---------------------------------------------------------
    def _check_result(self, result: Any, number: int) -> tuple[list[float], str | None]:
        """The objective value(s) as floats, and a NaN problem (the trial fails, sweep goes on)."""
        n = len(self.directions)
        subject = f"value returned by objective '{self.objective_name}'"
        caller = f"sweep {self.sweep_name!r} (trial {number})"
        if n == 1:
            items = list(result) if _is_sequence(result) and len(result) == 1 else [result]
            if _is_sequence(result) and len(result) != 1:
                raise v.fail(
                    subject,
                    caller,
                    "one number (the sweep has one direction)",
                    result,
                    "Return a single float, or pass directions=[...] with one direction per "
                    "value for a multi-objective sweep.",
                )
        else:
            if not _is_sequence(result) or len(result) != n:
                raise v.fail(
                    subject,
                    caller,
                    f"a sequence of {n} numbers, one per direction {self.directions}",
                    result,
                    f"Return a tuple such as ({', '.join(self.metric_names)}).",
                )
            items = list(result)
        values = []
        for item in items:
            number_value = _as_float(item)
            if number_value is None:
                raise v.fail(
                    subject,
                    caller,
                    "a number" if n == 1 else f"{n} numbers",
                    result,
                    "Return float(value) (e.g. a validation loss); to stop a trial early, raise "
                    "optuna.TrialPruned().",
                )
            values.append(number_value)
        if any(math.isnan(x) for x in values):
            problem = (
                f"The {subject} must not be NaN. Got {result!r} in trial {number}: the trial "
                "failed and the sweep goes on. Return a finite number, or raise "
                "optuna.TrialPruned() to stop a diverging trial early."
            )
            return values, problem
        return values, None

    # -- recording ------------------------------------------------------------------------------
    def _finish(self, trial: optuna.Trial, run: ActiveRun, outcome: Outcome) -> None:
        _log_params(run, trial.params)
        if outcome.values is not None and outcome.state == "complete":
            tags: dict[str, Any] = {}
            for key, value in zip(self.metric_names, outcome.values, strict=True):
                if math.isfinite(value):
                    run.log_metric(key, value)
                else:
                    tags[key] = str(value)
            if tags:
                run.set_tags(tags)
        # Point by point: for the few to few hundred steps a trial reports, cheaper than
        # building an Arrow table with log_metric_series.
        for step, point in zip(*_intermediate_values(trial), strict=True):
            run.log_metric(INTERMEDIATE_KEY, point, step=step)
        user_tags = _user_attr_tags(trial.user_attrs)
        user_tags[TRIAL_STATE_TAG] = "failed" if outcome.state == "interrupted" else outcome.state
        run.set_tags(user_tags)
        status = {"interrupted": "killed", "failed": "failed"}.get(outcome.state, "finished")
        run.end(status, outcome.error)
        if outcome.state == "complete" and len(self.directions) == 1 and outcome.values:
            self._note_value(outcome.values[0], trial.number)
        if self.on_outcome is not None:
            self.on_outcome(outcome, trial.number)
        if outcome.state != "interrupted":
            self._stop_at_target(trial)

    def _note_value(self, value: float, number: int) -> None:
        with self._lock:
            better = (
                self.best is None
                or (self.directions[0] == "minimize" and value < self.best)
                or (self.directions[0] == "maximize" and value > self.best)
            )
            if better:
                self.best = value
        if better and self.owns_parent and math.isfinite(value):
            self.parent.log_metric("best_value", value, step=number)

    def _stop_at_target(self, trial: optuna.Trial) -> None:
        """Stop starting trials once the sweep, all processes together, reaches ``target``.

        Optuna numbers trials in creation order across processes, so this trial's number tells,
        in O(1), how many trials exist at least; the ones that will never count (interrupted
        before this session) are subtracted. Each executor may start at most one trial after
        the target is reached, so the overshoot is below the number of processes x threads.
        """
        if self.target is not None and trial.number + 1 - self.never_count >= self.target:
            trial.study.stop()


def _is_sequence(value: Any) -> bool:
    if isinstance(value, (str, bytes, Mapping)):
        return False
    if hasattr(value, "ndim") and hasattr(value, "__len__"):
        return bool(getattr(value, "ndim", 0) >= 1)
    return isinstance(value, Sequence)


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if hasattr(value, "item") and getattr(value, "size", 0) == 1:  # numpy scalar / 0-d array
        return _as_float(value.item())
    return None


def _log_params(run: ActiveRun, params: Mapping[str, Any]) -> None:
    try:
        run.log_params(params)
    except ConflictError:  # the objective logged one of these keys itself, with another value
        for key, value in params.items():
            with contextlib.suppress(ConflictError):
                run.log_param(key, value)


def _intermediate_values(trial: optuna.Trial) -> tuple[list[int], list[float]]:
    """The values ``trial.report`` recorded, finite ones only, ordered by step."""
    # Optuna keeps what report() stored on the trial's cached snapshot; reading it avoids a
    # storage round trip per trial. Fall back to the storage if a future Optuna renames it.
    frozen = getattr(trial, "_cached_frozen_trial", None)
    if frozen is None:
        frozen = trial.study._storage.get_trial(trial._trial_id)
    items = sorted(
        (int(step), float(value))
        for step, value in frozen.intermediate_values.items()
        if value is not None and math.isfinite(value)
    )
    return [s for s, _ in items], [x for _, x in items]


def _user_attr_tags(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Trial user attributes as run tags (JSON for non-scalars; workbench's own skipped)."""
    tags: dict[str, Any] = {}
    for key, value in attrs.items():
        if key.startswith(v.RESERVED_PREFIX):
            continue
        tag_key = _TAG_KEY_UNSAFE.sub("_", str(key))[: v.MAX_NAME_LENGTH] or "_"
        if not isinstance(value, (str, int, float, bool)):
            value = json.dumps(value, default=str)
        tags[tag_key] = str(value)[: v.MAX_TAG_VALUE_LENGTH]
    return tags
