"""Report HTML is self-contained (nothing fetched when opened), small, and escaped."""

from __future__ import annotations

import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from workbench.monitoring import drift_report, make_drift_dataset


class _Resources(HTMLParser):
    """Every URL the browser would fetch: script/img/iframe src, link href, CSS url()."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            self.scripts += 1
        for attribute in ("src", "href", "data"):
            if values.get(attribute) and tag in ("script", "img", "iframe", "link", "object"):
                self.urls.append(str(values[attribute]))

    def handle_data(self, data: str) -> None:
        self.urls += re.findall(r"@import\s+url\(([^)]+)\)", data)


def _resources(page: str) -> _Resources:
    parser = _Resources()
    parser.feed(page)
    return parser


@pytest.fixture(scope="module")
def report() -> object:
    data = make_drift_dataset(200_000, n_numeric=15, n_categorical=5, seed=3)
    return drift_report(data.reference, data.current, name="<b>weekly</b>")


def test_interactive_page_embeds_plotly_once_and_fetches_nothing(report: object) -> None:
    page = report.to_html(interactive=True)  # type: ignore[attr-defined]
    found = _resources(page)
    assert found.urls == []
    assert page.count("Plotly.newPlot(") == 20
    assert len(re.findall(r"<script[^>]*>\s*/\*\*\s*\n?\s*\* plotly\.js", page)) <= 1
    assert page.count("plotly.js v") <= 2  # the bundle's own banner, embedded once
    assert len(page.encode()) < 8_000_000


def test_static_page_has_no_script_at_all(report: object) -> None:
    page = report.to_html(interactive=False)  # type: ignore[attr-defined]
    found = _resources(page)
    assert found.urls == [] and found.scripts == 0
    assert page.count("<svg") == 20
    assert len(page.encode()) < 500_000


def test_text_is_escaped(report: object) -> None:
    page = report.to_html(interactive=False)  # type: ignore[attr-defined]
    assert "<b>weekly</b>" not in page and "&lt;b&gt;weekly&lt;/b&gt;" in page


def test_hostile_category_names_cannot_break_out() -> None:
    frame = pd.DataFrame({"c": ["</script><script>alert(1)</script>", "ok"] * 600})
    page = drift_report(frame, frame).to_html(interactive=True)
    assert "<script>alert(1)" not in page


def test_size_does_not_grow_with_rows(report: object) -> None:
    small = make_drift_dataset(2_000, seed=3)
    small_page = drift_report(small.reference, small.current).to_html(interactive=False)
    big_page = report.to_html(interactive=False)  # type: ignore[attr-defined]
    assert len(big_page) < 1.5 * len(small_page)


def test_save_html_and_notebook_bundle(report: object, tmp_path: Path) -> None:
    path = report.save_html(tmp_path / "drift.html", interactive=False)  # type: ignore[attr-defined]
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    bundle = report._repr_mimebundle_()  # type: ignore[attr-defined]
    assert bundle["text/plain"].startswith("DriftReport(")
    assert "<svg" in bundle["text/html"] and "<script" not in bundle["text/html"]


def test_panel_is_optional_and_never_imported_by_core() -> None:
    code = (
        "import sys, workbench.monitoring as m\n"
        "bad = {'panel', 'ipywidgets', 'jupyter_server', 'tornado'} & set(sys.modules)\n"
        "assert not bad, bad\n"
        "import pandas as pd\n"
        "r = m.drift_report(pd.DataFrame({'x': [1.0, 2.0]}), pd.DataFrame({'x': [1.0, 2.0]}))\n"
        "try:\n"
        "    import panel\n"
        "except ImportError:\n"
        "    try:\n"
        "        r.__panel__()\n"
        "    except ImportError as exc:\n"
        "        assert 'pip install panel' in str(exc)\n"
        "    else:\n"
        "        raise AssertionError('no ImportError')\n"
        "else:\n"
        "    assert r.__panel__() is not None\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
