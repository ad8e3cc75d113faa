"""REST handlers of the Jupyter server extension, under ``<base_url>workbench/``.

    GET  experiments                      experiments with run counts
    GET  runs?experiment=&filter=&order_by=&page=&page_size=    one page of runs
    GET  runs/<run_id>                    one run
    GET  models, models/<name>            registered models; a model's versions and aliases
    GET  deployments                      deployments and their status
    GET  reports?page=&page_size=         kept drift reports
    GET  sweeps                           sweeps
    GET  info                             the store being read, the version
    GET  views/<kind>/<id>                a self-contained HTML page (compare, run, model, sweep,
                                          drift) for a main-area tab
    GET  views/<kind>/<id>?format=json    the same view as {kind, title, html, figures} for the
                                          sidebar to draw in the page (compare, run, sweep)
    GET  dashboard, POST dashboard        the dashboard's URL; start it (loopback) if needed
    GET  static/plotly.min.js             plotly.js for the view pages (public, cached)

Every data route requires an authenticated user (``@tornado.web.authenticated``; an
anonymous request gets 403). Store reads are short (the store lock is held for at most a
quarter of a second) but blocking, so they run in a small thread pool and the server's event
loop stays free. A :class:`~workbench.WorkbenchError` is answered as
``{"error_code", "message"}`` with the error's ``http_status``.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import tornado.web
from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.utils import url_path_join

from workbench.exceptions import WorkbenchError
from workbench.jupyter import _api, _dashboard, _views

__all__ = ["NAMESPACE", "setup_handlers"]

NAMESPACE = "workbench"
T = TypeVar("T")
_log = logging.getLogger("workbench.jupyter")
_executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="workbench-api")


class _Handler(APIHandler):  # type: ignore[misc]
    """Runs a blocking call off the event loop and answers JSON, errors included."""

    async def _call(self, function: Callable[..., T], *args: Any) -> T | None:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(_executor, functools.partial(function, *args))
        except WorkbenchError as exc:
            self._error(exc.http_status, exc.error_code, str(exc))
        except Exception as exc:  # an unexpected failure still answers JSON, and is logged
            _log.exception("workbench: %s %s failed", self.request.method, self.request.path)
            self._error(500, "INTERNAL_ERROR", f"{type(exc).__name__}: {exc}")
        return None

    def _error(self, status: int, code: str, message: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error_code": code, "message": message}))

    async def _answer(self, function: Callable[..., Any], *args: Any) -> None:
        result = await self._call(function, *args)
        if result is not None and not self._finished:
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(result))

    def _arg(self, name: str) -> str | None:
        value: str | None = self.get_query_argument(name, None)
        return value if value else None


class InfoHandler(_Handler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self._answer(_api.info)


class ExperimentsHandler(_Handler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self._answer(_api.experiments)


class RunsHandler(_Handler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self._answer(
            _api.runs_page,
            self._arg("experiment"),
            self._arg("filter"),
            self._arg("order_by"),
            self._arg("page"),
            self._arg("page_size"),
        )


class RunHandler(_Handler):
    @tornado.web.authenticated
    async def get(self, run_id: str) -> None:
        await self._answer(_api.run_detail, run_id)


class ModelsHandler(_Handler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self._answer(_api.models)


class ModelHandler(_Handler):
    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        await self._answer(_api.model_detail, name)


class DeploymentsHandler(_Handler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self._answer(_api.deployments)


class ReportsHandler(_Handler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self._answer(_api.reports, self._arg("page"), self._arg("page_size"))


class SweepsHandler(_Handler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self._answer(_api.sweeps)


class ViewHandler(_Handler):
    @tornado.web.authenticated
    async def get(self, kind: str, ident: str) -> None:
        if self._arg("format") == "json":
            await self._answer(_views.render_view_parts, kind, ident)
            return
        plotly_src = url_path_join(self.base_url, NAMESPACE, "static", "plotly.min.js")
        page = await self._call(
            functools.partial(_views.render_view, plotly_src=plotly_src), kind, ident
        )
        if page is not None and not self._finished:
            self.set_header("Cache-Control", "no-store")
            self.update_api_activity()
            # APIHandler.finish would relabel the page as application/json.
            self.set_header("Content-Type", "text/html; charset=utf-8")
            JupyterHandler.finish(self, page)


class DashboardHandler(_Handler):
    @tornado.web.authenticated
    async def get(self) -> None:
        await self._answer(_dashboard.status)

    @tornado.web.authenticated
    async def post(self) -> None:
        await self._answer(_dashboard.ensure_started)


class PlotlyHandler(JupyterHandler):  # type: ignore[misc]
    """plotly.py's bundled plotly.js: public code, no data, so served without login (the view
    pages run in a sandboxed iframe that carries no credentials)."""

    @allow_unauthenticated  # type: ignore[untyped-decorator]
    def get(self) -> None:
        script, etag = _plotly_js()
        self.set_header("Content-Type", "application/javascript; charset=utf-8")
        self.set_header("Cache-Control", "public, max-age=86400")
        self.set_header("ETag", etag)
        if self.request.headers.get("If-None-Match") == etag:
            self.set_status(304)
            self.finish()
            return
        self.finish(script)


@functools.cache
def _plotly_js() -> tuple[bytes, str]:
    from plotly.offline import get_plotlyjs

    script = get_plotlyjs().encode()
    return script, '"' + hashlib.sha256(script).hexdigest()[:32] + '"'


def setup_handlers(web_app: Any) -> None:
    """Register the routes under ``<base_url>workbench/``."""
    base_url = web_app.settings["base_url"]

    def route(pattern: str) -> str:
        return url_path_join(base_url, NAMESPACE, pattern)

    web_app.add_handlers(
        ".*$",
        [
            (route("info"), InfoHandler),
            (route("experiments"), ExperimentsHandler),
            (route("runs"), RunsHandler),
            (route("runs/([^/]+)"), RunHandler),
            (route("models"), ModelsHandler),
            (route("models/(.+)"), ModelHandler),
            (route("deployments"), DeploymentsHandler),
            (route("reports"), ReportsHandler),
            (route("sweeps"), SweepsHandler),
            (route("views/([a-z]+)/(.+)"), ViewHandler),
            (route("dashboard"), DashboardHandler),
            (route("static/plotly.min.js"), PlotlyHandler),
        ],
    )
