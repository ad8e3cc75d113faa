"""The store's promise under the load our heaviest users create, with kill -9 on top.

Eight writer processes log 20,000 metric points a second each (plus tags and text artifacts),
a reader polls ``search_runs`` and a metric history, a syncer forces everything visible once a
second, and every 1-3 s a writer, the process that ingests, or the syncer is killed with
SIGKILL and replaced (see ``_stress.py``). Checked afterwards, against every acknowledgement:
nothing acknowledged more than ``durability_bound()`` (1 s) before a kill is missing (everything of
processes that were not killed), statuses are right, no process saw an exception or exited
abnormally. The reader's latency is reported (docs/store.md has measured figures); the test
bounds it with a margin that holds on a busy 2-core machine whatever else runs on it: reads
keep being answered (none waits for the whole backlog; median under 2 s, p99 under 12 s).

``WORKBENCH_STRESS_SECONDS`` sets the length (default 30 s).
"""

from __future__ import annotations

import os
import statistics
from pathlib import Path

import _stress
import pytest

from workbench.config import durability_bound

SECONDS = float(os.environ.get("WORKBENCH_STRESS_SECONDS", "30"))
RATE = 20_000  # points per second per writer
# Reader bounds with a margin over docs/store.md's measurements on 2 cores (medians 70-650 ms,
# 1.05 s in the stress mode with other jobs besides; p99 0.4-0.9 s on a quiet machine, up to
# 7.7 s with other jobs on it or the ingesting process just killed). They catch reads that wait
# for the whole backlog (the old design: median 2.3-4 s on a quiet machine), not a slow machine.
MEDIAN_MS = 2_000
P99_MS = 12_000
LONGEST_MS = 20_000


@pytest.mark.slow
def test_writers_reader_syncer_and_kill9_lose_nothing(tmp_path: Path) -> None:
    report = _stress.run(tmp_path, seconds=SECONDS, bound_s=durability_bound(), rate=RATE)
    print(report.summary())
    assert report.problems == [], "\n".join(report.problems[:30])
    assert report.kills >= SECONDS / 3 - 1
    assert report.ingester_kills >= 1, "the process that ingests must have been killed too"
    assert report.standby_takeovers >= 1, "a killed daemon's standby should have taken over"
    assert report.points_checked > 200_000 * SECONDS / 30
    assert report.tags_checked and report.artifacts_checked and report.killed_runs
    # The load was real: writers kept logging near the rate. One may dip (it hosts the reads
    # for a while, or a new daemon and its standby start beside it on the 2 cores).
    assert statistics.median(report.writer_rates) > 0.75 * RATE, report.summary()
    assert min(report.writer_rates) > RATE / 4, "the writers must have kept logging fast"
    for kind in ("search", "history"):
        assert len(report.read_ms[kind]) > SECONDS / 5, f"the reader should have polled {kind}"
        assert report.percentile(kind, 0.5) < MEDIAN_MS, report.summary()
        assert report.percentile(kind, 0.99) < P99_MS, report.summary()
        assert max(report.read_ms[kind]) < LONGEST_MS, report.summary()
