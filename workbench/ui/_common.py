"""Helpers shared by the widgets: the client, messages, tables, and loading Panel's JS."""

from __future__ import annotations

import html
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd
import panel as pn

if TYPE_CHECKING:
    from workbench.client import Workbench

logger = logging.getLogger("workbench.ui")

EXTENSIONS = ("tabulator", "plotly")
INLINE_ENV = "WORKBENCH_PANEL_INLINE"
_TRUE = ("1", "true", "yes", "on")


def extension(*, inline: bool | None = None, **kwargs: Any) -> None:
    """Load Panel and the JavaScript the workbench widgets need, in a notebook.

    Call it once at the top of a notebook, before showing a widget. ``inline=True`` (the
    default, or ``WORKBENCH_PANEL_INLINE=1``) ships Panel's JavaScript inside the notebook, so
    the widgets work in a JupyterLab without internet, at the price of a saved notebook about
    17 MB larger; ``inline=False`` loads it from a CDN (small notebooks, needs internet).
    See docs/ui.md for what to use in papermill reports.
    """
    if inline is None:
        inline = os.environ.get(INLINE_ENV, "1").strip().lower() in _TRUE
    pn.extension(*EXTENSIONS, inline=inline, **kwargs)


def get_client(client: Workbench | None) -> Workbench:
    """``client``, or the client of the configured store."""
    from workbench.client import Workbench, connect

    if client is None:
        return connect()
    if not isinstance(client, Workbench):
        from workbench import _validation as v

        raise v.fail("client", "workbench.ui", "a workbench.Workbench or None", client)
    return client


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
