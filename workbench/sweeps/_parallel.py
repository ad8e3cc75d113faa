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

Stopping (an interrupt of the calling process, or an error in it): each worker gets SIGINT and
ends the trial it runs as interrupted (see ``_interrupt``); a worker still alive after
``STOP_GRACE_S`` (an objective that ignores interrupts, or a machine too busy) gets SIGTERM,
then SIGKILL. Once every worker is gone, the parent marks FAIL the trials they left RUNNING, so
no trial of a sweep stays RUNNING after ``sweep()`` returns or raises. A second interrupt
skips the grace period.
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
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

import optuna
from optuna.trial import TrialState

from workbench import _validation as v
from workbench.exceptions import InvalidParameterError, SweepWorkerError
from workbench.sweeps import _interrupt
from workbench.sweeps._interrupt import Interrupts
from workbench.sweeps._progress import Progress
from workbench.sweeps._trial import counts, fail_stale_trials, owner_token

__all__ = ["SweepWorkerError", "WorkerPlan", "run_workers", "split"]

POLL_S = 0.5
STOP_GRACE_S = 10.0  # after SIGINT, for a worker to end its trial and exit
TERM_GRACE_S = 2.0  # after SIGTERM, before SIGKILL


@dataclass
class WorkerPlan:
    """What one worker process needs (picklable for ``spawn``)."""

    objective: Callable[..., Any]
    store_location: str
    store_environment: dict[str, str]  # a team store's password (Store.for_child_process)
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
    with _interrupt.deferred(worker=True) as interrupts:  # counts a SIGINT that came before
        report = _work(plan, interrupts)
    with contextlib.suppress(Exception):  # the parent may be gone already
        conn.send(report)
    conn.close()


def _work(plan: WorkerPlan, interrupts: Interrupts) -> tuple[str, str]:
    try:
        from workbench.sweeps._setup import handle
        from workbench.sweeps._storage import sync_storage
        from workbench.sweeps._trial import TrialRecorder, never_counting
        from workbench.tracking import client as tracking_client

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        os.environ.update(plan.store_environment)
        client = tracking_client.client_class(
            plan.store_location
        )  # never the parent's: fresh locks
        storage = pickle.loads(pickle.dumps(plan.storage))  # fresh journal worker id / engine
        study = optuna.load_study(
            study_name=plan.study_name, storage=storage, sampler=plan.sampler, pruner=plan.pruner
        )
        interrupts.watch(study)
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
            interrupts=interrupts,
        )
        try:
            if not interrupts.requested:
                study.optimize(
                    recorder,
                    n_trials=plan.n_trials,
                    timeout=plan.timeout,
                    n_jobs=plan.n_jobs,
                    catch=plan.catch,
                    callbacks=list(plan.callbacks) or None,
                )
        finally:
            recorder.fail_unfinished(study)
            sync_storage(storage)
            client.close()  # flush, seal this process's spool journal, retire its heartbeat
        if interrupts.requested:
            return ("interrupted", "")
        if recorder.contract_error is not None:
            return ("contract", str(recorder.contract_error))
        return ("ok", "")
    except KeyboardInterrupt:
        return ("interrupted", "")
    except BaseException as exc:
        detail = "".join(traceback.format_exception(exc)[-8:])
        return ("error", f"{type(exc).__name__}: {exc}\n{detail}")


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
    plans: list[WorkerPlan],
    study: optuna.Study,
    progress: Progress,
    maximize: bool | None,
    *,
    interrupts: Interrupts,
    local: bool,
) -> None:
    """Run one process per plan until all end; raise if any failed (after all ended).

    An interrupt (seen through ``interrupts``, see ``_interrupt.deferred``) or an error here
    stops the workers; either way, every worker is gone and none of their trials is RUNNING
    when this returns or raises. After an interrupt it returns: the caller raises it.
    """
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
    wakeup = interrupts.wakeup if interrupts.installed else None
    workers: list[tuple[Any, Connection]] = []
    owners: set[str] = set()
    results: dict[int, tuple[str, str]] = {}
    try:
        for index, plan in enumerate(plans):
            if interrupts.requested:
                break
            process, conn = _start(ctx, plan, index)
            workers.append((process, conn))
            with contextlib.suppress(Exception):  # psutil.NoSuchProcess: it is gone already
                owners.add(owner_token(process.pid))
        pending = {conn: i for i, (_, conn) in enumerate(workers)}
        while pending and not interrupts.requested:
            waitables: list[Any] = [*pending, *([wakeup] if wakeup is not None else [])]
            for ready in wait(waitables, timeout=POLL_S):
                if not isinstance(ready, Connection):
                    interrupts.drain()
                    continue
                index = pending.pop(ready)
                try:
                    results[index] = ready.recv()
                except EOFError:
                    results[index] = ("died", "")
            _poll(study, progress, maximize)
    finally:
        _stop(workers, set(results), interrupts)
        failed = fail_stale_trials(study, local=local, dead=frozenset(owners))
    if interrupts.requested:
        return
    _raise_failures(workers, results, failed)


def _stop(
    workers: list[tuple[Any, Connection]], reported: Collection[int], interrupts: Interrupts
) -> None:
    """End every worker. Those that reported are exiting; the others get SIGINT, then
    SIGTERM after ``STOP_GRACE_S`` (at once at a further interrupt), then SIGKILL."""
    processes = [p for p, _ in workers]
    seen = interrupts.count
    for index, process in enumerate(processes):
        if index not in reported and process.is_alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGINT)
    alive = [p for p in processes if p.is_alive()]
    wakeup = [interrupts.wakeup] if interrupts.installed else []
    deadline = time.monotonic() + STOP_GRACE_S
    while alive and time.monotonic() < deadline and interrupts.count <= seen:
        wait([p.sentinel for p in alive] + wakeup, timeout=deadline - time.monotonic())
        interrupts.drain()
        alive = [p for p in alive if p.is_alive()]
    for process in alive:
        process.terminate()
    deadline = time.monotonic() + TERM_GRACE_S
    for process in alive:
        process.join(timeout=max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
    for process in processes:
        process.join()


def _raise_failures(
    workers: list[tuple[Any, Connection]], results: dict[int, tuple[str, str]], failed: int
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
                f"{process.exitcode})."
            )
    if problems and failed:
        problems.append(f"{failed} trial(s) they left running were marked failed.")
    if problems:
        raise SweepWorkerError(
            "A sweep worker process failed; the trials of the other workers are kept.\n"
            + "\n".join(problems)
        )
