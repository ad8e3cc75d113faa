"""``workbench.ui.extension()``: where Panel's JavaScript and stylesheets come from."""

from __future__ import annotations

import base64

import pytest
from bokeh.models import ImportedStyleSheet
from panel.io.resources import CDN_DIST, DIST_DIR

from workbench.exceptions import InvalidParameterError
from workbench.ui import _common


@pytest.mark.parametrize(
    ("resources", "inline", "env", "mode"),
    [
        (None, None, {}, "jupyter"),
        (None, True, {}, "inline"),
        (None, False, {}, "cdn"),
        ("inline", None, {}, "inline"),
        (None, None, {"WORKBENCH_PANEL_INLINE": "1"}, "inline"),
        (None, None, {"WORKBENCH_PANEL_INLINE": "0"}, "cdn"),
        (None, None, {"WORKBENCH_PANEL_RESOURCES": "cdn"}, "cdn"),
    ],
)
def test_resource_mode(
    monkeypatch: pytest.MonkeyPatch,
    resources: str | None,
    inline: bool | None,
    env: dict[str, str],
    mode: str,
) -> None:
    monkeypatch.delenv("WORKBENCH_PANEL_INLINE", raising=False)
    monkeypatch.delenv("WORKBENCH_PANEL_RESOURCES", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert _common._resource_mode(resources, inline) == mode


def test_bad_resource_modes_are_refused() -> None:
    with pytest.raises(InvalidParameterError, match="resources"):
        _common._resource_mode("server", None)
    with pytest.raises(InvalidParameterError, match="inline"):
        _common._resource_mode("inline", True)


def test_loader_reads_every_asset_from_the_jupyter_server() -> None:
    script = _common.jupyter_loader_js()
    assert "jupyter-config-data" in script and "panel-preview/" in script
    assert "window.__workbench_panel_root+" in script
    for cdn in ("cdn.holoviz.org", "cdn.bokeh.org", "unpkg.com", "cdn.jsdelivr.net"):
        assert cdn not in script


def test_panel_stylesheets_become_data_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ImportedStyleSheet, "__init__", ImportedStyleSheet.__init__)  # restored
    monkeypatch.setattr(ImportedStyleSheet, "_workbench_local", False, raising=False)
    url = _common.local_stylesheet_url(f"{CDN_DIST}css/markdown.css?v=1")
    assert url.startswith("data:text/css;base64,")
    css = base64.b64decode(url.split(",", 1)[1])
    assert css == (DIST_DIR / "css" / "markdown.css").read_bytes()
    assert _common.local_stylesheet_url("static/extensions/panel/css/loading.css").startswith(
        "data:"
    )
    assert _common.local_stylesheet_url("https://example.org/x.css") == "https://example.org/x.css"
    assert _common.local_stylesheet_url(f"{CDN_DIST}../../secret.css").startswith("https://")
    _common._inline_stylesheets_of_later_models()
    _common._inline_stylesheets_of_later_models()  # idempotent
    sheet = ImportedStyleSheet(url=f"{CDN_DIST}css/loading.css")
    assert sheet.url.startswith("data:text/css;base64,")
