"""Several processes on one sweep: ``sweep(..., n_workers=N)``.

Each worker process loads the study from the same storage and runs ``study.optimize`` on its
share of the trials, tracking every trial as a child run of the sweep's parent run (which the
calling process keeps). Optuna's storage coordinates the trials; workbench's spool lets every
process log without waiting for the database.

On Linux workers are started with ``fork``: the objective need not be importable, so a
function defined in a notebook cell works. Each worker then opens its own store client and its
own copy of the Optuna storage (fresh locks, connections and journal worker ids), and touches
nothing else inherited from the parent. Elsewhere (macOS, Windows) ``spawn`` is used, which
needs an objective importable from a module.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

import optuna
from optuna.trial import TrialState

from workbench import _validation as v
from workbench.exceptions import InvalidParameterError, WorkbenchError
from workbench.sweeps._progress import Progress
from workbench.sweeps._trial import counts

__all__ = ["SweepWorkerError", "WorkerPlan", "run_workers", "split"]

POLL_S = 0.5


class SweepWorkerError(WorkbenchError, RuntimeError):
    """A worker process of a sweep failed; the message carries its error and traceback."""

    error_code = "SWEEP_WORKER_FAILED"


@dataclass
class WorkerPlan:
    """What one worker process needs (picklable for ``spawn``)."""

    objective: Callable[..., Any]
    store_location: str
    storage: Any
    study_name: str
    sampler: Any
    pruner: Any
    sweep_id: str
    experiment: str
    directions: list[str]
    metric_names: list[str]
    tags: Mapping[str, Any]
    catch: tuple[type[Exception], ...]
    callbacks: tuple[Callable[..., None], ...]
    parent_run_id: str
    parent_name: str
    n_trials: int | None
    timeout: float | None
    n_jobs: int
    target: int | None


def split(total: int | None, parts: int) -> list[int | None]:
    """``total`` trials shared by ``parts`` workers as evenly as possible."""
    if total is None:
        return [None] * parts
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _context() -> multiprocessing.context.BaseContext:
    return multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")


def _worker_main(plan: WorkerPlan, conn: Connection) -> None:
    """Entry point of a worker process; reports ("ok" | "error" | "interrupted", text)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        from workbench.client import Workbench
        from workbench.sweeps._setup import handle
        from workbench.sweeps._storage import sync_storage
        from workbench.sweeps._trial import TrialRecorder, never_counting

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        client = Workbench(plan.store_location)  # never the parent's client: fresh locks
        storage = pickle.loads(pickle.dumps(plan.storage))  # fresh journal worker id / engine
        study = optuna.load_study(
            study_name=plan.study_name, storage=storage, sampler=plan.sampler, pruner=plan.pruner
        )
        study.sampler.reseed_rng()  # forked samplers would otherwise all draw the same points
        recorder = TrialRecorder(
            objective=plan.objective,
            client=client,
            parent=handle(client, plan.parent_run_id, plan.parent_name, plan.experiment),
            sweep_name=plan.study_name,
            sweep_id=plan.sweep_id,
            experiment=plan.experiment,
            directions=plan.directions,
            metric_names=plan.metric_names,
            tags=plan.tags,
            catch=plan.catch,
            target=plan.target,
            never_count=never_counting(study),
        )
        try:
            study.optimize(
                recorder,
                n_trials=plan.n_trials,
                timeout=plan.timeout,
                n_jobs=plan.n_jobs,
                catch=plan.catch,
                callbacks=list(plan.callbacks) or None,
            )
        finally:
            sync_storage(storage)
            client.close()  # flush, seal this process's spool journal, retire its heartbeat
        if recorder.contract_error is not None:
            conn.send(("contract", str(recorder.contract_error)))
        else:
            conn.send(("ok", ""))
    except KeyboardInterrupt:
        conn.send(("interrupted", ""))
    except BaseException as exc:
        detail = "".join(traceback.format_exception(exc)[-8:])
        with contextlib.suppress(Exception):  # the parent may be gone already
            conn.send(("error", f"{type(exc).__name__}: {exc}\n{detail}"))
    finally:
        conn.close()


def _start(ctx: Any, plan: WorkerPlan, index: int) -> tuple[Any, Connection]:
    receive, send = ctx.Pipe(duplex=False)
    process = ctx.Process(
        target=_worker_main,
        args=(plan, send),
        name=f"workbench-sweep-{plan.study_name}-{index}",
    )
    with warnings.catch_warnings():
        # Python >= 3.12 warns that fork() in a multi-threaded process may deadlock the child.
        # The child only uses objects it creates itself (store client, storage copy), never a
        # lock another thread of the parent may hold, so the warning does not apply.
        warnings.filterwarnings(
            "ignore", message=r".*multi-threaded.*fork", category=DeprecationWarning
        )
        process.start()
    send.close()
    return process, receive


def _poll(study: optuna.Study, progress: Progress, maximize: bool | None) -> None:
    done = 0
    states = {"complete": 0, "pruned": 0, "failed": 0}
    best: tuple[float, int] | None = None
    for trial in study.get_trials(deepcopy=False):
        if trial.state == TrialState.COMPLETE:
            states["complete"] += 1
            if maximize is not None and trial.value is not None:
                value = trial.value
                if best is None or (value > best[0] if maximize else value < best[0]):
                    best = (value, trial.number)
        elif trial.state == TrialState.PRUNED:
            states["pruned"] += 1
        elif trial.state == TrialState.FAIL and counts(trial):
            states["failed"] += 1
        done += counts(trial)
    progress.set_state(done, states, *(best if best else (None, None)))


def run_workers(
    plans: list[WorkerPlan], study: optuna.Study, progress: Progress, maximize: bool | None
) -> None:
    """Run one process per plan until all end; raise if any failed (after all ended)."""
    if not sys.platform.startswith("linux"):
        try:
            pickle.dumps(plans[0].objective)
        except Exception as exc:
            raise v.fail(
                "objective",
                "workbench.sweep",
                "importable from a module when n_workers is used on this platform",
                plans[0].objective,
                f"({exc}). Define it in a .py file and import it, or use n_jobs (threads).",
            ) from None
    ctx = _context()
    workers = [_start(ctx, plan, i) for i, plan in enumerate(plans)]
    results: dict[int, tuple[str, str]] = {}
    try:
        pending = {conn: i for i, (_, conn) in enumerate(workers)}
        while pending:
            for ready in wait(list(pending), timeout=POLL_S):
                conn = ready if isinstance(ready, Connection) else None
                if conn is None:
                    continue
                index = pending.pop(conn)
                try:
                    results[index] = conn.recv()
                except EOFError:
                    results[index] = ("died", "")
            _poll(study, progress, maximize)
        for process, _ in workers:
            process.join()
    except KeyboardInterrupt:
        _interrupt([p for p, _ in workers])
        raise
    _raise_failures(workers, results)


def _interrupt(processes: list[Any]) -> None:
    """Ask each worker to stop (KeyboardInterrupt: its trial ends as killed), then make sure."""
    for process in processes:
        if process.is_alive() and process.pid is not None:
            os.kill(process.pid, signal.SIGINT)
    deadline = time.monotonic() + 10
    for process in processes:
        process.join(timeout=max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.terminate()
            process.join(timeout=5)


def _raise_failures(
    workers: list[tuple[Any, Connection]], results: dict[int, tuple[str, str]]
) -> None:
    contract = [text for kind, text in results.values() if kind == "contract"]
    if contract:
        raise InvalidParameterError(contract[0])
    problems = []
    for index, (process, _) in enumerate(workers):
        kind, text = results.get(index, ("died", ""))
        if kind == "error":
            problems.append(f"worker {index} (pid {process.pid}) failed: {text}")
        elif kind in ("died", "interrupted"):
            problems.append(
                f"worker {index} (pid {process.pid}) ended without finishing (exit code "
                f"{process.exitcode}); its running trial is failed when the sweep is next run."
            )
    if problems:
        raise SweepWorkerError(
            "A sweep worker process failed; the trials of the other workers are kept.\n"
            + "\n".join(problems)
        )
