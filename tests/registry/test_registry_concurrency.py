"""Four processes register versions of one model at once: versions 1..40, no gaps, no
duplicates, and an alias history whose every entry starts where the previous one ended."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import skops.io
from sklearn.linear_model import LogisticRegression

import workbench as wb
from workbench import registry

WORKER = Path(__file__).with_name("_mp_register.py")
PROCESSES, EACH = 4, 10


@pytest.mark.slow
def test_concurrent_processes_get_unique_gap_free_versions(store_dir: Path, tmp_path: Path) -> None:
    model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    with wb.start_run("mp") as run:
        run.log_bytes(skops.io.dumps(model), "model/model.skops")
    wb.flush()
    go = tmp_path / "go"
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), str(store_dir), run.run_id, str(EACH), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    go.touch()
    outputs = [w.communicate(timeout=240) for w in workers]
    failures = [err for w, (_, err) in zip(workers, outputs, strict=True) if w.returncode]
    assert failures == [], "\n\n".join(f[-3000:] for f in failures)
    got = sorted(int(line) for out, _ in outputs for line in out.split())
    assert got == list(range(1, PROCESSES * EACH + 1))
    assert registry.list_model_versions("shared")["version"].tolist() == got
    history = registry.alias_history("shared", "champion")
    assert len(history) == PROCESSES * EACH
    assert history["seq"].is_unique and history["seq"].is_monotonic_increasing
    previous = history["to_version"].shift(1)
    assert (history["from_version"].iloc[1:] == previous.iloc[1:]).all()
    final = registry.get_model_version("shared@champion").version
    assert final == history["to_version"].iloc[-1]
