"""The team store's server goes away for 20 s while processes log: they never raise or wait,
and everything they acknowledged arrives once it is back (docs/team-store.md states the bound
measured here)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from _postgres import PostgresServer, running_server

import workbench as wb
from workbench.store.postgres import PostgresStore

pytestmark = pytest.mark.slow

WRITER = Path(__file__).with_name("_outage_writer.py")
WRITERS = 2
RATE = 1_000.0  # points/s per writer
OUTAGE_S = 20.0
CATCH_UP_S = 60.0  # the test's patience
CATCH_UP_BOUND_S = 10.0  # docs/team-store.md: all there within 10 s (measured 0.4-1.1 s)


@pytest.fixture
def server() -> Iterator[PostgresServer]:
    """A server of this test's own: halting the session's would break the other tests."""
    with running_server() as server:
        yield server


def _wait(condition: Callable[[], bool], what: str, timeout: float) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"timed out after {timeout} s: {what}"
        time.sleep(0.05)
    return time.monotonic() - started


def _acked(ack: Path) -> tuple[str, int, int]:
    """(run id, points acknowledged, last tag acknowledged) from a writer's ack file."""
    lines = ack.read_text().splitlines() if ack.exists() else []
    complete = [line.split() for line in lines if len(line.split()) == 2]
    run_id = next((value for kind, value in complete if kind == "run"), "")
    points = sum(1 for kind, _ in complete if kind == "point")
    tags = [int(value) for kind, value in complete if kind == "tag"]
    return run_id, points, max(tags, default=-1)


def _on_server(store: PostgresStore, run_id: str) -> tuple[int, int]:
    """(points, tag ``reached``) of ``run_id`` on the server."""
    found = store.sql(
        "SELECT (SELECT count(*) FROM metric_history WHERE run_id = $r) AS n, "
        "(SELECT value FROM tags WHERE run_id = $r AND key = 'reached') AS tag",
        {"r": run_id},
    )
    tag = found["tag"].iloc[0]
    return int(found["n"].iloc[0]), int(tag) if isinstance(tag, str) else -1


def _all_there(store: PostgresStore, acks: list[Path], want: list[tuple[str, int, int]]) -> bool:
    for (run_id, points, tag), _ in zip(want, acks, strict=True):
        on_server = _on_server(store, run_id)
        if on_server[0] < points or on_server[1] < tag:
            return False
    return True


def test_logging_goes_on_through_an_outage_and_everything_arrives_after_it(
    server: PostgresServer, tmp_path: Path
) -> None:
    url = server.url(server.new_database())
    # The test reads from a folder of its own, so the writers' journals are shipped by them.
    store = PostgresStore(url, local=tmp_path / "reader")
    env = {**os.environ, "WORKBENCH_STORE": url, "XDG_CACHE_HOME": str(tmp_path)}
    stop = tmp_path / "stop"
    acks = [tmp_path / f"writer-{i}.ack" for i in range(WRITERS)]
    errors = [tmp_path / f"writer-{i}.err" for i in range(WRITERS)]
    writers = []
    for ack, err in zip(acks, errors, strict=True):
        with err.open("w") as stderr:  # the child keeps its own copy of the descriptor
            writers.append(
                subprocess.Popen(
                    [sys.executable, str(WRITER), str(ack), str(stop), str(RATE)],
                    env=env,
                    stderr=stderr,
                )
            )
    try:
        _wait(lambda: all(_acked(a)[1] >= 500 for a in acks), "the writers' first points", 120)
        before = [_acked(a) for a in acks]
        _wait(lambda: _all_there(store, acks, before), "the first points shipped", CATCH_UP_S)

        server.halt()
        halted = [_acked(a)[1] for a in acks]
        # A read meanwhile says the server is gone (not that the query was wrong).
        with pytest.raises(wb.StoreError, match=r"stopped answering|Could not connect"):
            _on_server(store, before[0][0])
        time.sleep(OUTAGE_S)  # the outage itself: its length is what is tested
        during = [_acked(a)[1] - n for a, n in zip(acks, halted, strict=True)]
        assert all(w.poll() is None for w in writers), "a writer died during the outage"
        # Logging went on at its pace: at least half the rate, though nothing was shipped.
        assert min(during) > OUTAGE_S * RATE / 2, during

        server.resume()
        acknowledged = [_acked(a) for a in acks]  # everything acknowledged before it came back
        catch_up = _wait(
            lambda: _all_there(store, acks, acknowledged), "the outage's points", CATCH_UP_S
        )
        print(
            f"\n{sum(during):,} points logged during a {OUTAGE_S:.0f} s outage; all on the "
            f"server {catch_up:.2f} s after it came back"
        )
        assert catch_up < CATCH_UP_BOUND_S
    finally:
        stop.touch()
        codes = [w.wait(timeout=120) for w in writers]
    assert codes == [0] * WRITERS, [e.read_text()[-2000:] for e in errors]
    final = [_acked(a) for a in acks]
    _wait(lambda: _all_there(store, acks, final), "the last points", CATCH_UP_S)
    for err in errors:  # the outage is said once per process, not once per attempt
        assert err.read_text().count("could not ship journals") <= 1, err.read_text()[-2000:]
    store.close()
