"""Notebook HTML: every renderer goes through workbench._html (Jinja2, autoescaped), escapes what
users wrote, and jinja2 loads only when something is rendered."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import workbench as wb
from workbench import _html
from workbench.entities import DeploymentRecord

PACKAGE = Path(wb.__file__).parent
NASTY = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


def _run(store_dir: Path) -> str:
    with wb.start_run(NASTY, NASTY) as run:
        run.log_params({"p": NASTY})
        run.set_tag("note", NASTY)
    wb.flush()
    return str(wb.get_run(run.run_id)._repr_mimebundle_()["text/html"])


def _comparison(store_dir: Path) -> str:
    ids = []
    for value in ("a", NASTY):
        with wb.start_run(NASTY, NASTY) as run:
            run.log_param("p", value)
            run.log_metric("m", 1.0)
        ids.append(run.run_id)
    wb.flush()
    return str(wb.compare(ids)._repr_mimebundle_()["text/html"])


def _sweep(store_dir: Path) -> str:
    def objective(trial: Any) -> float:
        return float(len(trial.suggest_categorical("x", [NASTY, "b"])))

    result = wb.sweep(objective, n_trials=2, name="nasty", experiment=NASTY, progress=False)
    return str(result._repr_mimebundle_()["text/html"])


def _deployment(store_dir: Path) -> str:
    from workbench.serving import Deployment

    record = DeploymentRecord(
        deployment_id=NASTY,
        model_uri=NASTY,
        host="127.0.0.1",
        port=1,
        url=NASTY,
        machine="m",
        pid=1,
        pid_started=0.0,
        status="running",
        started_at=dt.datetime(2024, 1, 1),
    )
    return str(Deployment(record, store=wb.connect().store)._repr_mimebundle_()["text/html"])


def _progress(store_dir: Path) -> str:
    from workbench.sweeps._progress import _FinalLine

    return str(_FinalLine(NASTY, 1, 2)._repr_mimebundle_()["text/html"])


def _gate(store_dir: Path) -> str:
    from workbench.monitoring.gates import GateCheck, GateResult

    check = GateCheck(NASTY, "threshold", False, 1.0, None, 2.0, NASTY)
    return str(GateResult((check,), name=NASTY)._repr_mimebundle_()["text/html"])


def _loop_step(store_dir: Path) -> str:
    from workbench.monitoring import LoopStep

    step = LoopStep(0, NASTY, "kept", NASTY, 1, 1, links={"check": NASTY})
    return str(step._repr_mimebundle_()["text/html"])


def _drift_report(store_dir: Path) -> str:
    import pandas as pd

    reference = pd.DataFrame({NASTY: [NASTY, "a"] * 50, "x": range(100)})
    current = pd.DataFrame({NASTY: ["a", "b"] * 50, "x": range(100)})
    report = wb.drift_report(reference, current, name=NASTY, progress=False)
    return str(report._repr_mimebundle_()["text/html"]) + report.to_html(interactive=False)


RENDERERS: dict[str, Callable[[Path], str]] = {
    "drift report": _drift_report,
    "gate": _gate,
    "loop step": _loop_step,
    "run": _run,
    "comparison": _comparison,
    "sweep": _sweep,
    "deployment": _deployment,
    "sweep progress": _progress,
}


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_user_text_is_escaped(name: str, store_dir: Path) -> None:
    page = RENDERERS[name](store_dir)
    assert NASTY not in page
    assert ESCAPED in page


def test_autoescape_is_on_and_safe_is_explicit() -> None:
    assert _html.render("_inline.html.j2", tag="b", text=NASTY) == f"<b>{ESCAPED}</b>"
    assert (
        _html.render("_inline.html.j2", tag="b", text=_html.safe("<i>x</i>")) == "<b><i>x</i></b>"
    )


def test_every_template_is_used() -> None:
    sources = "\n".join(p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py"))
    sources += "\n".join(p.read_text(encoding="utf-8") for p in PACKAGE.glob("templates/*.j2"))
    for template in (PACKAGE / "templates").glob("*.j2"):
        assert re.search(rf"[\"']{re.escape(template.name)}[\"']", sources), template.name


def test_import_workbench_loads_no_jinja2() -> None:
    code = "import sys, workbench; print('jinja2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
