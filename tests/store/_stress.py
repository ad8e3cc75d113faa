"""The store stress run: fast writers, a reader, an ingester, and kill -9 while they work.

Used by ``tests/store/test_stress.py`` and runnable on its own to measure::

    python tests/store/_stress.py --seconds 60

Eight writer processes log metric points (at a set rate, or as fast as they can), with
occasional tags and text artifacts; a reader polls ``search_runs`` and a metric history and
times each call; a syncer makes every journal visible once a second. Every 1-3 s a process is
killed with SIGKILL and replaced: usually a random writer, sometimes the writer that holds the
background ingest role, sometimes the syncer. Afterwards every acknowledgement is checked
against the store: what a process acknowledged more than the documented bound before it was
killed (and everything of processes that were not killed) must be there.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from workbench.store._holders import flock_holder_pids

WORKER = Path(__file__).with_name("_stress_worker.py")
RECOVERY_S = 5.0  # how long after an ingester is killed reads may be slow (a new one starts)


@dataclass
class Proc:
    role: str
    process: subprocess.Popen[bytes]
    ack: Path
    killed_at: float | None = None

    def lines(self) -> list[list[str]]:
        if not self.ack.exists():
            return []  # killed while still importing: it acknowledged nothing
        text = self.ack.read_text()
        complete = text[: text.rfind("\n") + 1]  # a line cut by the kill was never finished
        return [line.split(" ") for line in complete.splitlines()]

    def stderr(self) -> str:
        path = self.ack.with_suffix(".stderr")
        return path.read_text()[-3000:] if path.exists() else ""


@dataclass
class Report:
    """What a stress run found; ``problems`` must be empty."""

    problems: list[str] = field(default_factory=list)
    kills: int = 0
    ingester_kills: int = 0
    standby_takeovers: int = 0  # ingester kills a waiting standby answered by taking the role
    syncer_kills: int = 0
    points_checked: int = 0
    tags_checked: int = 0
    artifacts_checked: int = 0
    killed_runs: int = 0
    finished_runs: int = 0
    writer_rates: list[float] = field(default_factory=list)
    read_ms: dict[str, list[float]] = field(default_factory=dict)
    read_at: dict[str, list[float]] = field(default_factory=dict)
    ingester_killed_at: list[float] = field(default_factory=list)
    lost_ages: list[float] = field(default_factory=list)

    def percentile(self, kind: str, q: float) -> float:
        values = sorted(self.read_ms.get(kind, []))
        if not values:
            return float("nan")
        return values[min(len(values) - 1, int(q * len(values)))]

    def steady(self, kind: str, after_kill_s: float = RECOVERY_S) -> list[float]:
        """Latencies of reads not within ``after_kill_s`` after an ingester was killed."""
        return sorted(
            ms
            for ms, at in zip(self.read_ms.get(kind, []), self.read_at.get(kind, []), strict=True)
            if not any(0 <= at - k <= after_kill_s for k in self.ingester_killed_at)
        )

    def summary(self) -> str:
        rates = self.writer_rates or [0.0]
        parts = [
            f"kills={self.kills} (ingester {self.ingester_kills}, syncer {self.syncer_kills},"
            f" standby takeovers {self.standby_takeovers})",
            f"points checked={self.points_checked}",
            f"tags={self.tags_checked} artifacts={self.artifacts_checked}",
            f"runs finished={self.finished_runs} killed={self.killed_runs}",
            f"writer rate median={statistics.median(rates):,.0f}/s min={min(rates):,.0f}/s",
        ]
        for kind in sorted(self.read_ms):
            steady = self.steady(kind)
            parts.append(
                f"{kind} p50={self.percentile(kind, 0.5):.0f} ms "
                f"p99={self.percentile(kind, 0.99):.0f} ms n={len(self.read_ms[kind])} "
                f"(outside {RECOVERY_S:.0f} s after an ingester kill: "
                f"p99={steady[min(len(steady) - 1, int(0.99 * len(steady)))]:.0f} ms "
                f"n={len(steady)})"
            )
        if self.lost_ages:
            parts.append(f"LOST acked {max(self.lost_ages):.2f} s before the kill")
        return "; ".join(parts)


def _spawn(role: str, store: Path, ack: Path, stop: Path, *extra: str) -> Proc:
    with open(ack.with_suffix(".stderr"), "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, str(WORKER), role, str(store), str(ack), str(stop), *extra],
            stderr=stderr,
        )
    return Proc(role, process, ack)


def _ingest_role_holders(store: Path) -> list[int]:
    """Pids holding the store's background ingest role."""
    return flock_holder_pids(store / "ingest.lock")


def _daemon_with_standby(store: Path) -> bool:
    """Whether the store daemon holds the ingest role and its standby waits."""
    daemon = flock_holder_pids(store / "daemon.lock")
    return (
        bool(daemon)
        and _ingest_role_holders(store) == daemon
        and bool(flock_holder_pids(store / "standby.lock"))
    )


def _check_takeover(store: Path, standby: list[int], report: Report) -> None:
    """After the daemon was killed: its waiting standby must take the role (within 10 s,
    a bound for a loaded machine; it takes milliseconds on a quiet one)."""
    try:
        _wait_for(lambda: _ingest_role_holders(store) == standby, 10, "the standby")
    except TimeoutError:
        report.problems.append(
            f"the waiting standby {standby} did not take over from the killed daemon "
            f"(the role went to {_ingest_role_holders(store)})"
        )
    else:
        report.standby_takeovers += 1


def _wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what} after {timeout} s")
        time.sleep(0.05)


def run(
    folder: Path,
    *,
    seconds: float,
    bound_s: float,
    writers: int = 8,
    rate: float = 0.0,
    seed: int = 7,
    kill_every: tuple[float, float] | None = (1.0, 3.0),
) -> Report:
    """Drive the load for ``seconds`` in ``folder``, then check everything acknowledged."""
    import workbench as wb

    store, stop = folder / "store", folder / "stop"
    wb.DuckDBStore(store).close()
    rng = random.Random(seed)
    procs: list[Proc] = []

    def start(role: str, *extra: str) -> Proc:
        proc = _spawn(role, store, folder / f"{role}-{len(procs)}.ack", stop, *extra)
        procs.append(proc)
        return proc

    for i in range(writers):
        start("writer", str(i), str(rate))
    start("reader")
    syncer = start("syncer")

    def started(proc: Proc) -> bool:
        return any(line[0] == "start" for line in proc.lines())

    _wait_for(lambda: all(started(p) for p in procs if p.role == "writer"), 120, "writers")
    report = Report()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if kill_every is None:  # steady state: only the load
            time.sleep(max(0.0, deadline - time.monotonic()))
            break
        time.sleep(rng.uniform(*kill_every))
        writers_alive = [p for p in procs if p.role == "writer" and p.killed_at is None]
        dice = rng.random()
        if dice < 0.25 and not report.standby_takeovers:  # once, kill a daemon with a standby
            with contextlib.suppress(TimeoutError):
                _wait_for(lambda: _daemon_with_standby(store), 30, "a daemon with a standby")
        ingesting = _ingest_role_holders(store)
        if dice < 0.25 and ingesting:  # the process that ingests (the store daemon, say)
            daemon = flock_holder_pids(store / "daemon.lock")
            standby = flock_holder_pids(store / "standby.lock")
            os.kill(ingesting[0], signal.SIGKILL)
            killed_at = time.time()
            report.kills += 1
            report.ingester_kills += 1
            report.ingester_killed_at.append(killed_at)
            by_pid = {p.process.pid: p for p in writers_alive}
            if ingesting[0] not in by_pid:
                if daemon == ingesting[:1] and standby:  # its standby takes over, no writer
                    _check_takeover(store, standby, report)
                continue
            victim = by_pid[ingesting[0]]
            victim.killed_at = killed_at
            victim.process.wait()
            start("writer", str(len(procs)), str(rate))
            continue
        if dice < 0.4:
            victim = syncer
        else:
            victim = rng.choice([p for p in writers_alive if started(p)] or writers_alive)
        victim.killed_at = time.time()
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait()
        report.kills += 1
        if victim is syncer:
            report.syncer_kills += 1
            syncer = start("syncer")
        else:
            start("writer", str(len(procs)), str(rate))
    stop.touch()
    for proc in procs:
        if proc.killed_at is None:
            code = proc.process.wait(timeout=300)
            if code != 0:
                report.problems.append(f"{proc.ack.name} exited {code}: {proc.stderr()}")
    _check(store, procs, report, bound_s)
    return report


def _check(store: Path, procs: list[Proc], report: Report, bound_s: float) -> None:
    import workbench as wb

    client = wb.Workbench(store)
    try:
        if not client.store.sync(block=True):  # what flush() does: it must catch up
            report.problems.append("a blocking sync returned before it caught up")
        runs = client.search_runs("stress", max_results=None).set_index("run_id")
        history = client.get_metric_history(list(runs.index), "loss")
        steps = history.groupby("run_id")["step"].agg(["max", "count"])
        tags = client.sql("SELECT run_id, key, value FROM tags")
        tag_values = {(r, k): v for r, k, v in tags.itertuples(index=False)}
        artifacts = client.sql("SELECT run_id, path FROM artifacts")
        artifact_keys = set(artifacts.itertuples(index=False, name=None))
    finally:
        client.close()
    for proc in procs:
        lines = proc.lines()
        errors = [" ".join(line)[:2000] for line in lines if line[0] == "EXC"]
        report.problems += [f"{proc.ack.name}: {error}" for error in errors]
        if proc.role == "reader":
            for line in lines:
                if line[0] == "read":
                    report.read_ms.setdefault(line[1], []).append(float(line[2]))
                    report.read_at.setdefault(line[1], []).append(float(line[3]))
            continue
        if proc.role != "writer":
            continue
        cutoff = proc.killed_at - bound_s if proc.killed_at else float("inf")
        ended = {line[1] for line in lines if line[0] == "end"}
        acked: dict[str, int] = {}
        for line in lines:
            kind, run_id = line[0], line[1] if len(line) > 1 else ""
            if kind == "rate":
                report.writer_rates.append(int(line[1]) / float(line[2]))
            if kind in ("pt", "tag", "art", "start") and float(line[-1]) >= cutoff:
                continue
            if kind == "pt":
                acked[run_id] = int(line[2]) + 1
                have = steps.loc[run_id] if run_id in steps.index else None
                if have is None or have["max"] < int(line[2]) or have["count"] < int(line[2]) + 1:
                    when = "(not killed)"
                    if proc.killed_at is not None:
                        report.lost_ages.append(proc.killed_at - float(line[-1]))
                        when = f"{proc.killed_at - float(line[-1]):.2f} s before the kill"
                    report.problems.append(
                        f"{proc.ack.name}: points of {run_id} up to step {line[2]} acknowledged "
                        f"{when}: stored {None if have is None else dict(have)}"
                    )
            elif kind == "tag":
                report.tags_checked += 1
                if tag_values.get((run_id, line[2])) != line[3]:
                    report.problems.append(f"{proc.ack.name}: tag {line[2]} of {run_id} lost")
            elif kind == "art":
                report.artifacts_checked += 1
                if (run_id, line[2]) not in artifact_keys:
                    report.problems.append(f"{proc.ack.name}: artifact {line[2]} of {run_id} lost")
            elif kind == "start":
                if run_id not in runs.index:
                    report.problems.append(f"{proc.ack.name}: run {run_id} lost")
                    continue
                status = runs.loc[run_id, "status"]
                expected = {"finished"} if run_id in ended else {"killed"}
                if run_id not in ended and proc.killed_at is not None:
                    expected.add("finished")  # the kill fell between run.end() and its ack line
                if run_id not in ended and proc.killed_at is None:
                    expected = {"?"}  # cannot happen: a writer that was not killed ends its runs
                if status not in expected:
                    report.problems.append(f"run {run_id} is {status}, expected {expected}")
                report.finished_runs += status == "finished"
                report.killed_runs += status == "killed"
        report.points_checked += sum(acked.values())
    # Dedupe point problems: one line per run is enough to read.
    seen: set[str] = set()
    report.problems = [p for p in report.problems if not (p[:60] in seen or seen.add(p[:60]))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--bound", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rate", type=float, default=0.0, help="points/s per writer (0: max)")
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it")
    parser.add_argument("--no-kills", action="store_true", help="steady state: no kill -9")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wb-stress-") as tmp:
        folder = Path(tmp)
        if args.keep:
            args.keep.mkdir(parents=True)
            folder = args.keep
        report = run(
            folder,
            seconds=args.seconds,
            writers=args.writers,
            bound_s=args.bound,
            rate=args.rate,
            seed=args.seed,
            kill_every=None if args.no_kills else (1.0, 3.0),
        )
    print(report.summary())
    for problem in report.problems[:40]:
        print("PROBLEM", problem)
    sys.exit(1 if report.problems else 0)


if __name__ == "__main__":
    main()
