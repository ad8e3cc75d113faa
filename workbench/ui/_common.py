"""Helpers shared by the widgets: the client, messages, tables, and loading Panel's JS."""

from __future__ import annotations

import base64
import contextlib
import functools
import html
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, cast

import pandas as pd
import panel as pn
import param

if TYPE_CHECKING:
    from workbench.client import Workbench
    from workbench.tracking.client import TrackingClient

logger = logging.getLogger("workbench.ui")

EXTENSIONS = ("tabulator", "plotly")
INLINE_ENV = "WORKBENCH_PANEL_INLINE"
RESOURCES_ENV = "WORKBENCH_PANEL_RESOURCES"
RESOURCE_MODES = ("jupyter", "inline", "cdn")
# Where Panel's Jupyter server extension (enabled when panel is installed) serves Bokeh's and
# Panel's JavaScript and CSS, under the server's base URL.
JUPYTER_PREFIX = "panel-preview/"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
# The loader's URLs are relative ("static/..."); the page's Jupyter base URL is known only there.
_RELATIVE_URL = re.compile(r"""(["'])static/""")
_ROOT_JS = """window.__workbench_panel_root = (function () {
  var base = "/";
  var el = document.getElementById("jupyter-config-data");
  if (el) { try { base = JSON.parse(el.textContent).baseUrl || "/"; } catch (e) {} }
  else { console.warn("workbench.ui.extension(): not in JupyterLab or Notebook 7; Panel's " +
    "JavaScript may not load. Use workbench.ui.extension(resources='inline') there."); }
  return base.replace(/\\/?$/, "/") + "@PREFIX@";
})();
""".replace("@PREFIX@", JUPYTER_PREFIX)


def extension(*, resources: str | None = None, inline: bool | None = None, **kwargs: Any) -> None:
    """Load Panel and the JavaScript the workbench widgets need, in a notebook.

    Call it once at the top of a notebook, before showing a widget. ``resources`` says where the
    browser gets Panel's JavaScript (about 17 MB) and CSS; nothing comes from the internet
    except with ``"cdn"``:

    * ``"jupyter"`` (default): from the Jupyter server showing the notebook (Panel's server
      extension, enabled when panel is installed), once per browser session and cached. The
      notebook carries a loader of about 20 KB, not the bundle. Needs JupyterLab or Notebook 7
      served from an environment with panel; elsewhere (VS Code, nbviewer) use ``"inline"``.
    * ``"inline"``: inside the notebook, so the widgets work in any frontend without internet, at
      the price of a saved notebook about 17 MB larger.
    * ``"cdn"``: from Panel's CDN (needs internet).

    In every mode the widgets' stylesheets are inlined in their outputs. ``inline=True`` or
    ``False`` (or ``WORKBENCH_PANEL_INLINE=1``/``0``) is the older spelling of ``"inline"`` and
    ``"cdn"``; ``WORKBENCH_PANEL_RESOURCES`` sets the default. See docs/ui.md.
    """
    mode = _resource_mode(resources, inline)
    if mode == "cdn":
        pn.extension(*EXTENSIONS, inline=False, **kwargs)
        return
    if mode == "inline":
        pn.extension(*EXTENSIONS, inline=True, **kwargs)
    else:
        with _panel_loads_from_jupyter():
            pn.extension(*EXTENSIONS, inline=True, **kwargs)
    _inline_stylesheets_of_later_models()


def _resource_mode(resources: str | None, inline: bool | None) -> str:
    from workbench import _validation as v

    if resources is not None and inline is not None:
        raise v.fail("inline", "workbench.ui.extension", "None when resources= is given", inline)
    if resources is None and inline is not None:
        resources = "inline" if inline else "cdn"
    if resources is None:
        resources = os.environ.get(RESOURCES_ENV, "").strip().lower() or None
    if resources is None and os.environ.get(INLINE_ENV, "").strip():
        flag = os.environ[INLINE_ENV].strip().lower()
        resources = "inline" if flag in _TRUE else "cdn" if flag in _FALSE else None
    resources = resources or "jupyter"
    if resources not in RESOURCE_MODES:
        raise v.fail("resources", "workbench.ui.extension", f"one of {RESOURCE_MODES}", resources)
    return resources


def jupyter_loader_js(*, reloading: bool = False, load_timeout: int = 5000) -> str:
    """Panel's notebook loader with every asset read from the Jupyter server (see
    :func:`extension`): the same script ``pn.extension(inline=False)`` publishes, its relative
    ``static/...`` URLs resolved against the page's Jupyter base URL, and without the RequireJS
    configuration (CDN URLs used only by the classic Notebook < 7)."""
    from bokeh.resources import Resources as BokehResources
    from panel.io.notebook import _autoload_js, require_components
    from panel.io.resources import Resources, bundle_resources, set_resource_mode

    with set_resource_mode("server"):
        resources = Resources.from_bokeh(BokehResources(mode="server"), notebook=True)
        bundle = bundle_resources(
            None, resources, notebook=True, reloading=reloading, enable_mathjax=False
        )
        *_, skip_imports = require_components()
        script: str = _autoload_js(
            bundle=bundle,
            configs=[],
            requirements=[],
            exports={},
            skip_imports=skip_imports,
            ipywidget="ipywidgets_bokeh" in sys.modules,
            reloading=reloading,
            load_timeout=load_timeout,
        )
    rooted, found = _RELATIVE_URL.subn(r"window.__workbench_panel_root+\1static/", script)
    if not found:
        raise RuntimeError(
            "Panel's notebook loader has no relative static/ URL to point at the Jupyter "
            f"server (panel {pn.__version__}). Use workbench.ui.extension(resources='inline')."
        )
    return _ROOT_JS + rooted


@contextlib.contextmanager
def _panel_loads_from_jupyter() -> Iterator[None]:
    """While ``pn.extension()`` runs, its notebook loader publishes :func:`jupyter_loader_js`
    instead of the inline bundle (Panel has no such mode of its own in notebooks)."""
    import panel.io.notebook

    notebook: Any = panel.io.notebook  # untyped; the names load_notebook itself uses
    original = notebook.load_notebook

    def load_notebook(
        inline: bool = True,
        reloading: bool = False,
        enable_mathjax: Any = "auto",
        load_timeout: int = 5000,
    ) -> None:
        from IPython.display import publish_display_data

        script = jupyter_loader_js(reloading=reloading, load_timeout=load_timeout)
        css = (notebook.PANEL_DIR / "_templates" / "jupyter.css").read_text(encoding="utf-8")
        shim = '<script type="esms-options">{"shimMode": true}</script>'
        publish_display_data(data={"text/html": f"{shim}<style>{css}</style>"})
        publish_display_data({"application/javascript": script, notebook.LOAD_MIME: script})
        notebook.bokeh.io.notebook.curstate().output_notebook()
        comms = "\n".join(
            [notebook.PYVIZ_PROXY, notebook._JupyterCommManager.js_manager, notebook.nb_mime_js]
        )
        publish_display_data(data={notebook.LOAD_MIME: comms, "application/javascript": comms})

    notebook.load_notebook = load_notebook
    try:
        yield
    finally:
        notebook.load_notebook = original


def _inline_stylesheets_of_later_models() -> None:
    """Stylesheets of models created after a widget was first shown (a view rebuilt by a
    callback, a pane replaced, ...) never reach the network either.

    Panel inlines the stylesheets of a notebook output when it is first rendered, but models
    sent later over the comm kept links to its CDN (``loading.css``, ``native.css``,
    ``default.css``, ``markdown.css``). From here on, a stylesheet linked from Panel's CDN or
    its local ``static/extensions/panel/`` path whose file ships with panel becomes a
    ``data:`` URL of that file (same CSS, no request). Installed once per process.
    """
    from bokeh.models import ImportedStyleSheet

    if getattr(ImportedStyleSheet, "_workbench_local", False):
        return
    original = ImportedStyleSheet.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(kwargs.get("url"), str):
            kwargs["url"] = local_stylesheet_url(kwargs["url"])
        original(self, *args, **kwargs)

    ImportedStyleSheet.__init__ = __init__  # type: ignore[method-assign]
    ImportedStyleSheet._workbench_local = True  # type: ignore[attr-defined]


@functools.cache
def local_stylesheet_url(url: str) -> str:
    """``url`` as a ``data:`` URL of panel's own copy of the file when it names one of Panel's
    stylesheets (on its CDN or under ``static/extensions/panel/``); else ``url`` unchanged."""
    from panel.io.resources import CDN_DIST, DIST_DIR, LOCAL_DIST

    path = url.split("?", 1)[0]
    for prefix in (CDN_DIST, LOCAL_DIST):
        if path.startswith(prefix) and path.endswith(".css"):
            local = DIST_DIR / path[len(prefix) :]
            if local.is_file() and DIST_DIR.resolve() in local.resolve().parents:
                data = base64.b64encode(local.read_bytes()).decode("ascii")
                return f"data:text/css;base64,{data}"
    return url


def get_client(client: TrackingClient | None) -> Workbench:
    """``client``, or the client of the configured store."""
    from workbench.tracking.client import resolve_client

    return cast("Workbench", resolve_client(client, "workbench.ui"))


def store_is_read_only(client: TrackingClient) -> bool:
    """Whether ``client``'s store was opened read-only (a read-only folder, a team store the
    dashboard opened without ``--allow-writes``): no view then offers an action that writes."""
    return bool(client.store.read_only)


# PostgreSQL's SQLSTATE insufficient_privilege: a team store's role without the grant to write.
INSUFFICIENT_PRIVILEGE = "42501"


def attempt_write(action: str, write: Callable[[], Any]) -> str | None:
    """``write()``, a change a person asked for; None when it was done, else the message that
    says why it was not (Markdown, for a message box).

    A store opened read-only (``ReadOnlyStoreError``), a team store's database role that may
    only read (PostgreSQL's insufficient privilege) and any other ``WorkbenchError`` (a
    conflict, a bad name) are refusals to show; any other error propagates.
    """
    from workbench.exceptions import ReadOnlyStoreError, WorkbenchError

    try:
        write()
    except ReadOnlyStoreError as exc:
        return f"**Not allowed to {action}: the store is read-only.** {html.escape(str(exc))}"
    except WorkbenchError as exc:
        return f"**Could not {action}.** {error_text(exc)}"
    except Exception as exc:
        if getattr(exc, "sqlstate", None) != INSUFFICIENT_PRIVILEGE:
            raise
        reason = html.escape(str(exc).strip().splitlines()[0] if str(exc).strip() else "")
        return (
            f"**Not allowed to {action}: the store refused the change** ({reason}). The "
            "database role of this dashboard may only read. Serve it without `--allow-writes`, "
            "or connect with a role that may write (docs/team-store.md)."
        )
    return None


def read_only_refusal(action: str) -> str:
    """The message of an action that writes, asked of a read-only view."""
    return (
        f"**Not allowed to {action}: this view is read-only.** Serve the dashboard with "
        "`workbench dashboard --allow-writes` (with a role that may write) to change the store."
    )


def message(text: str, *, kind: str = "info", **kwargs: Any) -> pn.pane.Alert:
    """A coloured box with a Markdown message (kind: info, warning, danger, light, ...)."""
    return pn.pane.Alert(text, alert_type=kind, sizing_mode="stretch_width", **kwargs)


def not_available(what: str, detail: str) -> pn.pane.Alert:
    """The placeholder of a view whose core part has not landed yet."""
    return message(f"**{what} is not available yet.** {detail}", kind="secondary")


def error_text(exc: BaseException) -> str:
    """A short, HTML-safe description of an error, for a message box."""
    return html.escape(f"{type(exc).__name__}: {exc}")


def table(frame: pd.DataFrame, **kwargs: Any) -> pn.widgets.Tabulator:
    """A read-only Tabulator with the defaults the views share."""
    options: dict[str, Any] = {
        "disabled": True,
        "show_index": False,
        "sizing_mode": "stretch_width",
        "layout": "fit_data_table",
        "theme": "simple",
    }
    options.update(kwargs)
    return pn.widgets.Tabulator(display_frame(frame), **options)


def display_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Times as readable UTC text and object cells as strings, for tables."""
    frame = frame.copy()
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_datetime64_any_dtype(series):
            frame[column] = series.dt.strftime("%Y-%m-%d %H:%M:%S").fillna("")
        elif series.dtype == object:
            cells = [_cell_text(x) for x in series]
            present = [x for x in cells if x is not None]
            if present and all(type(x) is int for x in present):
                frame[column] = pd.array(cells, dtype="Int64")
            else:
                frame[column] = pd.Series(cells, index=frame.index, dtype=object)
    return frame


def _cell_text(value: Any) -> Any:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, (list, tuple, dict)):
        return ", ".join(map(str, value)) if not isinstance(value, dict) else str(value)
    if isinstance(value, (int, float, str, bool)):
        return value
    return str(value)


def safe(build: Callable[[], Any], what: str) -> Any:
    """``build()``, or a message box saying why ``what`` could not be shown."""
    try:
        return build()
    except Exception as exc:  # a view must never take the page down
        logger.debug("Could not show %s", what, exc_info=True)
        return message(f"Could not show {what}: {error_text(exc)}", kind="warning")


def figure_pane(build: Callable[[], Any], what: str, **kwargs: Any) -> Any:
    """A Plotly pane of ``build()``, or a message box saying why ``what`` could not be drawn."""
    try:
        figure = build()
    except Exception as exc:  # a view must never take the page down
        logger.debug("Could not draw %s", what, exc_info=True)
        return message(f"Could not draw {what}: {error_text(exc)}", kind="warning")
    kwargs.setdefault("sizing_mode", "stretch_width")
    return pn.pane.Plotly(figure, **kwargs)


class LiveViewer(pn.viewable.Viewer):
    """A widget that re-reads itself (``refresh()``) every ``refresh_s`` seconds while ``live``.

    The one live-refresh callback of the widgets: subclasses redeclare ``live`` and
    ``refresh_s`` with their own defaults, implement ``refresh``, and call :meth:`start_live`
    from ``__panel__`` (a periodic callback belongs to the document that shows the widget).
    Turning ``live`` off, or changing ``refresh_s``, stops the running callback.
    """

    live = param.Boolean(default=False, doc="Re-read periodically while displayed.")
    refresh_s = param.Number(default=2.0, bounds=(0.2, None), doc="Live refresh period (s).")

    _callback: Any = None  # the running pn.state periodic callback, if any

    def refresh(self) -> Any:
        """Read what the widget shows again."""
        raise NotImplementedError

    def start_live(self) -> None:
        """Start the periodic re-read if ``live`` is on and it is not running yet."""
        if self.live and self._callback is None:
            self._on_live()

    @param.depends("live", "refresh_s", watch=True)
    def _on_live(self) -> None:
        if self._callback is not None:
            self._callback.stop()
            self._callback = None
        if self.live:
            self._callback = pn.state.add_periodic_callback(
                self._tick, period=int(self.refresh_s * 1000)
            )

    def _tick(self) -> None:
        self.refresh()
