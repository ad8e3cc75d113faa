"""The model server as an ASGI app: ``build_app(config) -> Starlette``.

Routes::

    POST /invocations     score rows (MLflow's JSON formats and CSV) -> {"predictions": [...]}
    GET  /health, /ping   liveness, the versions being served, problems
    GET  /ready           200 once every configured model is loaded (503 before)
    GET  /version         model and workbench versions
    GET  /metadata        model, versions per role, signature, input example, policy
    GET  /metrics         Prometheus text format
    GET  /openapi.json    OpenAPI 3.1, request schemas from the signature

Starlette rather than FastAPI: the request bodies are validated against the *model's* signature
(known only at run time, and changing when an alias moves), which FastAPI's pydantic layer cannot
express, and a plain ``Route`` keeps ~100 µs of framework work off every prediction.

The scoring path does no I/O besides the HTTP exchange: JSON is parsed with orjson, rows are
checked against the signature on the parsed values (:mod:`._convert`), the model runs in a thread
pool (so ``/health`` stays responsive and a timeout can be enforced), and the request log is one
append to an in-memory buffer (:mod:`._request_log`). Errors are answered as
``{"error_code", "message"}`` with the status of the :class:`~workbench.WorkbenchError` class.
All state lives on the app (no module globals): two apps can share a process.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from workbench._version import __version__
from workbench.entities import thaw
from workbench.exceptions import WorkbenchError
from workbench.registry import parse_model_uri
from workbench.serving._batching import Batcher
from workbench.serving._errors import (
    ClientDisconnectedError,
    HostNotAllowedError,
    InputRejectedError,
    InternalError,
    MalformedRequestError,
    ModelError,
    ModelTimeoutError,
    NotReadyError,
    PayloadTooLargeError,
    RequestTimeoutError,
)
from workbench.serving._guard import HostGuard, allowed_hosts
from workbench.serving._metrics import CONTENT_TYPE, ServingMetrics
from workbench.serving._openapi import openapi_document
from workbench.serving._payloads import Table, dumps, encode_predictions, parse_payload
from workbench.serving._policy import CANARY, FALLBACK, PRIMARY, SHADOW, Served, TrafficPolicy
from workbench.serving._request_log import RequestLog

if TYPE_CHECKING:
    from workbench.serving._config import ServingConfig
    from workbench.tracking.client import TrackingClient

__all__ = ["build_app"]

logger = logging.getLogger("workbench.serving")

JSON = "application/json"
DEFAULT = "default"  # the method (and version label) of a configured default answer
NOT_LOADED = "none"  # the version label of requests answered before a model was chosen
INTERNAL_ERROR = "INTERNAL_ERROR"
# What a model raises on input it cannot read (sklearn: ValueError, TypeError; pandas: KeyError).
_INPUT_FAULTS = (ValueError, TypeError, KeyError)
_SHADOW_BACKLOG = 64
_MAX_ID = 128  # a client's x-request-id is kept up to this length


def build_app(config: ServingConfig, *, client: TrackingClient | None = None) -> Starlette:
    """The ASGI app serving ``config.model_uri`` with ``config``'s traffic policy.

    Models load when the app starts (its lifespan); run it with uvicorn, or
    :func:`workbench.deploy` for a managed server process.

    Parameters
    ----------
    config
        What to serve and how (:class:`~workbench.serving.ServingConfig`).
    client
        The workbench client whose store holds the models and receives the request log
        (default: ``workbench.client_for(config.store)``).
    """
    from workbench.tracking.client import client_for

    server = ModelServer(config, client or client_for(config.store))
    routes = [
        Route("/invocations", server.invocations, methods=["POST"]),
        Route("/health", server.health, methods=["GET"]),
        Route("/ping", server.health, methods=["GET"]),
        Route("/ready", server.ready, methods=["GET"]),
        Route("/version", server.version, methods=["GET"]),
        Route("/metadata", server.metadata, methods=["GET"]),
        Route("/metrics", server.metrics_text, methods=["GET"]),
        Route("/openapi.json", server.openapi, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        lifespan=server.lifespan,
        exception_handlers={
            HTTPException: _http_error,
            WorkbenchError: _workbench_error,
            Exception: _unexpected_error,
        },
    )
    app.state.server = server
    hosts = allowed_hosts(config.host, config.allowed_hosts)
    app.add_middleware(HostGuard, allowed=hosts, refuse=server.refuse_host)
    return app


def error_response(code: str, message: str, status: int, headers: Any = None) -> Response:
    """The JSON error body every failure is answered with (whatever the message holds)."""
    try:
        body = dumps({"error_code": code, "message": message})
    except (TypeError, ValueError):  # text UTF-8 cannot hold (unpaired surrogates): escaped
        body = json.dumps({"error_code": code, "message": message}).encode()
    return Response(body, status_code=status, media_type=JSON, headers=headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
    message = exc.detail
    if exc.status_code == 404:
        message = f"No route {request.url.path}; see /openapi.json for the routes."
    return error_response(code, message, exc.status_code, exc.headers)


async def _workbench_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, WorkbenchError)
    return error_response(exc.error_code, str(exc), exc.http_status)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    # Starlette re-raises the exception after this answer, and uvicorn logs its traceback: one
    # line here, not a second traceback. (/invocations handles its own failures.)
    logger.error("Unexpected error answering %s: %s: %s", request.url.path, type(exc).__name__, exc)
    return error_response(
        INTERNAL_ERROR, f"The server failed unexpectedly ({type(exc).__name__}).", 500
    )


class ModelServer:
    """The state and handlers of one app: policy, metrics, request log, thread pools."""

    def __init__(self, config: ServingConfig, client: TrackingClient) -> None:
        self.config = config
        self.client = client
        self.deployment_id = config.deployment_id or f"local-{os.getpid()}"
        self.policy = TrafficPolicy(config, client)
        self.metrics = ServingMetrics()
        self.log = RequestLog(client, self.deployment_id, log_payloads=config.log_payloads)
        self.executor: ThreadPoolExecutor | None = None
        self.shadow_executor: ThreadPoolExecutor | None = None
        self._shadow_tasks: set[asyncio.Task[None]] = set()
        self._openapi: tuple[str, bytes] | None = None
        self._batchers: dict[tuple[bool, str, int, str], Batcher] = {}
        self._batchers_epoch = 0
        self.model_name = parse_model_uri(config.model_uri).name
        self._id_prefix = uuid.uuid4().hex[:16]
        self._ids = itertools.count()
        self.started_at = time.time()

    # -- lifecycle ----------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self.executor = ThreadPoolExecutor(self.config.threads, "workbench-predict")
        self.shadow_executor = ThreadPoolExecutor(1, "workbench-shadow")
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self.executor, self.policy.start)
        logger.info("Serving %s: %s", self.config.model_uri, self.policy.describe()["models"])
        try:
            yield
        finally:
            await self._drain_shadows()
            self.policy.stop()
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.shadow_executor.shutdown(wait=False, cancel_futures=True)
            try:
                self.log.flush()
            except Exception:
                logger.exception("Could not flush the request log at shutdown.")

    async def _drain_shadows(self) -> None:
        if self._shadow_tasks:
            await asyncio.wait(list(self._shadow_tasks), timeout=5)

    # -- scoring ------------------------------------------------------------------------------
    def _next_id(self) -> str:
        """A unique request id: random per app, then a counter (cheaper than a uuid4 each)."""
        return f"{self._id_prefix}{next(self._ids):016x}"

    def _request_id(self, headers: Any) -> str:
        return str(headers.get("x-request-id", ""))[:_MAX_ID] or self._next_id()

    async def invocations(self, request: Request) -> Response:
        """Score a request. Every answer carries ``x-request-id``, and every request (answered,
        refused, or abandoned by its client) is one request-log row and one metrics count."""
        started = time.perf_counter()
        received_us = time.time_ns() // 1000
        request_id = self._request_id(request.headers)
        served: Served | None = None
        role = PRIMARY
        try:
            if not self.policy.ready:
                raise NotReadyError("The models are still loading; retry when /ready answers 200.")
            served, role = self.policy.choose()
            body = await self._read_body(request)
            table = parse_payload(
                body, request.headers.get("content-type"), max_rows=self.config.max_rows
            )
            data, table = served.converter.convert(table)
        except Exception as exc:  # refused before the model saw it: no inputs logged
            return self._refuse(request_id, served, role, received_us, started, exc)
        try:
            return await self._answer(served, role, data, table, request_id, received_us, started)
        except Exception as exc:  # the model rejected the input, or this server failed
            return self._refuse(request_id, served, role, received_us, started, exc, table)

    def _refuse(
        self,
        request_id: str,
        served: Served | None,
        role: str,
        received_us: int,
        started: float,
        exc: Exception,
        table: Table | None = None,
    ) -> Response:
        """The error answer to a request, logged and counted. Exceptions that are not a
        WorkbenchError are faults of this server: 500, with one traceback in the log."""
        if not isinstance(exc, WorkbenchError):
            logger.error(
                "Unexpected error answering /invocations (request %s)", request_id, exc_info=exc
            )
            exc = InternalError(
                f"The server failed unexpectedly ({type(exc).__name__}: {_clip(str(exc))}); its "
                f"log has the details of request {request_id}."
            )
        status = exc.http_status
        self._record(served, role, started, status, None, exc.error_code)
        self._log(request_id, served, role, received_us, started, status, table, None, exc)
        headers = {"x-request-id": request_id}
        if isinstance(exc, ClientDisconnectedError):
            logger.info("Request %s: %s", request_id, exc)
        elif isinstance(exc, RequestTimeoutError):
            headers["connection"] = "close"  # the rest of the body may still be on its way
        return error_response(exc.error_code, str(exc), status, headers)

    async def refuse_host(self, scope: dict[str, Any], host: str) -> Response:
        """The 421 answer to a request for a host this server is not (see :mod:`._guard`)."""
        names = sorted(allowed_hosts(self.config.host, self.config.allowed_hosts) or ())
        exc = HostNotAllowedError(
            f"This server does not answer for host {host!r}: it is bound to {self.config.host} "
            f"and answers for {names}. If a proxy or a DNS name leads here, allow that name "
            "with deploy(..., allowed_hosts=[...]) (CLI: --allowed-host NAME)."
        )
        request = Request(scope)
        request_id = self._request_id(request.headers)
        if scope.get("path") != "/invocations" or scope.get("method") != "POST":
            return error_response(exc.error_code, str(exc), exc.http_status)
        started = time.perf_counter()
        received_us = time.time_ns() // 1000
        served = self.policy.primary if self.policy.ready else None
        return self._refuse(request_id, served, PRIMARY, received_us, started, exc)

    async def _read_body(self, request: Request) -> bytes:
        """The request body, or RequestTimeoutError if it takes longer than ``read_timeout_s``
        to arrive (a client that stops half-way would hold the connection forever)."""
        received = [0]
        timeout = self.config.read_timeout_s
        try:
            async with asyncio.timeout(timeout):
                return await self._receive_body(request, received)
        except TimeoutError:
            raise RequestTimeoutError(
                f"The request body did not arrive within {timeout:g} s ({received[0]:,} bytes "
                "received, then nothing). Send the whole body without pausing; the limit is "
                "deploy(read_timeout=...) (CLI: --read-timeout)."
            ) from None
        except ClientDisconnect:
            raise ClientDisconnectedError(
                f"The client closed the connection after sending {received[0]:,} bytes of its "
                "request body; nobody was answered."
            ) from None

    async def _receive_body(self, request: Request, received: list[int]) -> bytes:
        limit = self.config.max_body_bytes
        length = request.headers.get("content-length")
        if length is not None:
            try:
                size = int(length)
            except ValueError:
                raise MalformedRequestError(f"Invalid Content-Length header {length!r}.") from None
            if size > limit:
                raise _too_large(size, limit)
        chunks = []
        async for chunk in request.stream():
            received[0] += len(chunk)
            if received[0] > limit:
                raise _too_large(received[0], limit)
            chunks.append(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _answer(
        self,
        served: Served,
        role: str,
        data: Any,
        table: Table,
        request_id: str,
        received_us: int,
        started: float,
    ) -> Response:
        note = None
        try:
            result = await self._call(served, data, table.n_rows)
        except (ModelError, ModelTimeoutError) as failure:
            reason = "timeout" if isinstance(failure, ModelTimeoutError) else "error"
            self.metrics.error(
                served.name, str(served.number), role, failure.error_code, failure.http_status
            )
            rescued = await self._fallback(served, role, table, failure)
            if rescued is None:
                status = failure.http_status
                self._record(served, role, started, status, None)
                self._log(
                    request_id, served, role, received_us, started, status, table, None, failure
                )
                headers = {"x-request-id": request_id}
                return error_response(failure.error_code, str(failure), status, headers)
            self.metrics.fallbacks.labels(served.name, str(served.number), role, reason).inc()
            result, answered = rescued
            note = f"{served.label} ({role}) failed, {answered} answered: {failure}"
            served = self._fallback_served(answered, served)
            role = FALLBACK
        predictions = encode_predictions(result)
        body = b'{"predictions":' + predictions + b"}"
        self._record(served, role, started, 200, table.n_rows)
        self._log(
            request_id, served, role, received_us, started, 200, table, predictions, None, note
        )
        shadow = self.policy.shadow
        if shadow is not None:
            try:
                self._start_shadow(shadow, table, request_id, received_us)
            except Exception:  # the shadow must never disturb serving (the row is written)
                logger.exception("Could not start the shadow call of request %s.", request_id)
        headers = {
            "x-request-id": request_id,
            "x-model-version": served.label if served.method != DEFAULT else DEFAULT,
            "x-model-role": role,
        }
        return Response(body, media_type=JSON, headers=headers)

    def _batcher(self, served: Served, shadow: bool) -> Batcher:
        if self._batchers_epoch != self.policy.changes:  # versions were swapped: drop old ones
            live = {(s.name, s.number, s.method) for s in self.policy.served()}
            self._batchers = {k: b for k, b in self._batchers.items() if k[1:] in live}
            self._batchers_epoch = self.policy.changes
        key = (shadow, served.name, served.number, served.method)
        batcher = self._batchers.get(key)
        if batcher is None:
            executor = self.shadow_executor if shadow else self.executor
            assert executor is not None, "the app has not started"
            converter = served.converter
            batcher = self._batchers[key] = Batcher(
                served.predict,
                executor,
                slots=1 if shadow else self.config.threads,
                max_rows=self.config.max_rows,
                float_index=converter.index if converter.all_float64 else None,
            )
        return batcher

    async def _call(self, served: Served, data: Any, rows: int, *, shadow: bool = False) -> Any:
        """The model's output, from its batcher; ModelError / ModelTimeoutError otherwise."""
        batcher = self._batcher(served, shadow)
        timeout = self.config.timeout_s
        try:
            if timeout is None:
                return await batcher.predict(data, rows)
            return await asyncio.wait_for(batcher.predict(data, rows), timeout)
        except TimeoutError:
            raise ModelTimeoutError(
                f"Model {served.label} did not answer within {timeout:g} s."
            ) from None
        except Exception as exc:
            what = f"{type(exc).__name__}: {str(exc).strip().rstrip('.')}"
            converter = served.converter
            if isinstance(exc, _INPUT_FAULTS) and not converter.checks_all:
                # Nothing checked the input before the model: its refusal is the input's fault.
                if converter.signature is None:
                    why = (
                        "The model has no signature, so requests reach it unchecked; send rows "
                        "like those it was trained on (register it with input_example= for "
                        "precise errors)."
                    )
                else:
                    why = (
                        f"The model's signature does not give the types of columns "
                        f"{_clip(repr(converter.unchecked))}, so their values reach it "
                        "unchecked; send values like those it was trained on."
                    )
                raise InputRejectedError(
                    f"Model {served.label} rejected this input: {what}. {why}"
                ) from exc
            logger.warning("Model %s failed: %s", served.label, what)
            raise ModelError(f"Model {served.label} failed on this input: {what}") from exc

    async def _fallback(
        self, failed: Served, role: str, table: Table, failure: WorkbenchError
    ) -> tuple[Any, str] | None:
        """Another answer when ``failed`` raised or timed out: the primary (for a canary), the
        fallback version, or the default answer; None if there is none or it failed too."""
        candidates: list[Served] = []
        if role == CANARY:
            candidates.append(self.policy.primary)
        fallback = self.policy.fallback
        if fallback is not None and (fallback.name, fallback.number) != (
            failed.name,
            failed.number,
        ):
            candidates.append(fallback)
        for candidate in candidates:
            try:
                data, _ = candidate.converter.convert(table)
                return await self._call(candidate, data, table.n_rows), candidate.label
            except WorkbenchError as exc:
                logger.warning("Fallback %s failed too: %s", candidate.label, exc)
        if self.config.has_fallback_default:
            return [self.config.fallback_default] * table.n_rows, "default answer"
        return None

    def _fallback_served(self, answered: str, failed: Served) -> Served:
        for candidate in (self.policy.fallback, self.policy.primary):
            if candidate is not None and candidate.label == answered:
                return candidate
        return Served(failed.version, None, _no_model, failed.converter, DEFAULT)

    # -- shadow -------------------------------------------------------------------------------
    def _start_shadow(self, shadow: Served, table: Table, request_id: str, received: int) -> None:
        if len(self._shadow_tasks) >= _SHADOW_BACKLOG:
            self.metrics.shadow_dropped.labels(shadow.name, str(shadow.number)).inc()
            return
        task = asyncio.get_running_loop().create_task(
            self._run_shadow(shadow, table, request_id, received)
        )
        self._shadow_tasks.add(task)
        task.add_done_callback(self._shadow_tasks.discard)

    async def _run_shadow(
        self, shadow: Served, table: Table, request_id: str, received: int
    ) -> None:
        started = time.perf_counter()
        predictions: bytes | None = None
        error: Exception | None = None
        status = 200
        try:
            data, _ = shadow.converter.convert(table)
            result = await self._call(shadow, data, table.n_rows, shadow=True)
            predictions = encode_predictions(result)
        except WorkbenchError as exc:
            error, status = exc, exc.http_status
        except Exception as exc:  # the shadow must never disturb serving
            error, status = exc, 500
        code = None if error is None else getattr(error, "error_code", INTERNAL_ERROR)
        self._record(shadow, SHADOW, started, status, table.n_rows, code)
        self._log(
            request_id,
            shadow,
            SHADOW,
            received,
            started,
            status,
            None,
            predictions,
            error,
            rows=table.n_rows,
        )

    # -- bookkeeping --------------------------------------------------------------------------
    def _who(self, served: Served | None) -> tuple[str, str, int | None]:
        """Model name, version label and version number of an answer (``served`` is None when
        the request was refused before a version was chosen: the models were not loaded)."""
        if served is None:
            return self.model_name, NOT_LOADED, None
        if served.method == DEFAULT:
            return served.name, DEFAULT, None
        return served.name, str(served.number), served.number

    def _record(
        self,
        served: Served | None,
        role: str,
        started: float,
        status: int,
        rows: int | None,
        error_code: str | None = None,
    ) -> None:
        name, version, _ = self._who(served)
        seconds = time.perf_counter() - started
        self.metrics.observe(name, version, role, status, seconds, rows or 0, error_code)

    def _log(
        self,
        request_id: str,
        served: Served | None,
        role: str,
        received_us: int,
        started: float,
        status: int,
        table: Table | None,
        predictions: bytes | None,
        error: BaseException | None,
        note: str | None = None,
        rows: int | None = None,
    ) -> None:
        """One request-log row; if the inputs cannot be written, the row without them."""
        name, _, number = self._who(served)
        message = note if error is None else f"{type(error).__name__}: {error}"
        inputs = None
        try:
            inputs = table.to_json() if table is not None else None
        except Exception as exc:  # e.g. a CSV value pandas cannot write: the row still counts
            logger.warning("Request %s: its inputs are not logged: %s", request_id, exc)
            problem = f"inputs not logged ({type(exc).__name__}: {exc})"
            message = problem if message is None else f"{message}; {problem}"
        try:
            self.log.log(
                request_id=request_id,
                model_name=name,
                model_version=number,
                role=role,
                received_at_us=received_us,
                latency_ms=(time.perf_counter() - started) * 1000.0,
                status=status,
                n_rows=table.n_rows if table is not None else rows,
                inputs=inputs,
                outputs=predictions.decode() if predictions is not None else None,
                error=message,
            )
        except Exception:  # logging must never fail a request
            logger.exception("Could not log request %s.", request_id)

    # -- other routes -------------------------------------------------------------------------
    async def health(self, request: Request) -> Response:
        described = self.policy.describe() if self.policy.ready else {"models": {}}
        body = {
            "status": "ok",
            "ready": self.policy.ready,
            "deployment_id": self.deployment_id,
            "pid": os.getpid(),
            "uptime_s": round(time.time() - self.started_at, 3),
            "models": described["models"],
            "problems": described.get("problems", {}),
        }
        return Response(dumps(body), media_type=JSON)

    async def ready(self, request: Request) -> Response:
        if not self.policy.ready:
            raise NotReadyError("The models are still loading.")
        return Response(
            dumps({"ready": True, "models": self.policy.describe()["models"]}), media_type=JSON
        )

    def _primary(self) -> Served:
        if not self.policy.ready:
            raise NotReadyError("The models are still loading; retry when /ready answers 200.")
        return self.policy.primary

    async def version(self, request: Request) -> Response:
        primary = self._primary()
        body = {
            "model_uri": self.config.model_uri,
            "model": primary.name,
            "version": primary.number,
            "uri": primary.label,
            "workbench": __version__,
        }
        return Response(dumps(body), media_type=JSON)

    async def metadata(self, request: Request) -> Response:
        primary = self._primary()
        version = primary.version
        body = {
            "deployment_id": self.deployment_id,
            "model_uri": self.config.model_uri,
            "model": primary.name,
            "version": primary.number,
            "uri": primary.label,
            "run_id": version.run_id,
            "flavor": version.flavor,
            "method": primary.method,
            "signature": None if version.signature is None else version.signature.to_dict(),
            "input_example": thaw(version.input_example),
            "created_at": version.created_at.isoformat(),
            "policy": self.policy.describe(),
            "workbench": __version__,
        }
        return Response(dumps(body), media_type=JSON)

    async def metrics_text(self, request: Request) -> Response:
        return Response(self.metrics.render(), media_type=CONTENT_TYPE)

    async def openapi(self, request: Request) -> Response:
        primary = self._primary()
        if self._openapi is None or self._openapi[0] != primary.label:
            document = openapi_document(primary.version.signature, self.config.model_uri)
            self._openapi = (primary.label, dumps(document))
        return Response(self._openapi[1], media_type=JSON)


def _too_large(size: int, limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        f"The request body has {size:,} bytes or more; this server accepts at most {limit:,}. "
        "Send fewer rows per request, or score files with workbench.batch_predict()."
    )


def _clip(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _no_model(data: Any) -> Any:
    """The "model" of a default answer (never called: the answer is the configured value)."""
    return None
