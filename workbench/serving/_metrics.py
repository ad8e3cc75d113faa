"""Prometheus metrics of one server: requests, latency, errors, rows, fallbacks, per version.

Built on ``prometheus_client`` rather than a hand-written exposition, for one reason that matters
here: with ``workers > 1`` every worker is its own process, and a scrape reaches only one of them.
``prometheus_client``'s multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, set by the server's
supervisor) sums counters and histograms over all workers, so ``/metrics`` is right whichever
worker answers. Each app has its own ``CollectorRegistry`` (no module-level state).

Metric names (all labelled ``model``, ``version``, ``role``)::

    workbench_requests_total{status}          requests answered, by HTTP status
    workbench_request_latency_seconds         histogram, from request received to response ready
    workbench_request_errors_total{error_code,kind}  4xx (kind="client": the request was at
                                              fault) and 5xx answers (kind="server"), and
                                              model calls that failed (server)
    workbench_prediction_rows_total           rows scored
    workbench_fallbacks_total{reason}         answers given by the fallback (error, timeout)
    workbench_shadow_dropped_total            shadow calls skipped because the shadow lagged
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from workbench.serving._errors import error_kind

__all__ = ["CONTENT_TYPE", "ServingMetrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.002,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
_LABELS = ("model", "version", "role")


class ServingMetrics:
    """The counters and histograms of one app."""

    def __init__(self) -> None:
        self.multiprocess_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
        self._children: dict[tuple[str, str, str, int], tuple[Any, Any, Any]] = {}
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.requests = Counter(
            "workbench_requests",
            "Scoring requests answered, by model version, role and HTTP status.",
            (*_LABELS, "status"),
            registry=registry,
        )
        self.latency = Histogram(
            "workbench_request_latency_seconds",
            "Time from receiving a scoring request to having its response ready.",
            _LABELS,
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.errors = Counter(
            "workbench_request_errors",
            "Scoring requests answered with an error, or model calls that failed; kind is "
            "'client' for 4xx answers (the request was at fault), 'server' otherwise.",
            (*_LABELS, "error_code", "kind"),
            registry=registry,
        )
        self.rows = Counter(
            "workbench_prediction_rows",
            "Rows scored.",
            _LABELS,
            registry=registry,
        )
        self.fallbacks = Counter(
            "workbench_fallbacks",
            "Answers given by the fallback because the model failed or timed out.",
            (*_LABELS, "reason"),
            registry=registry,
        )
        self.shadow_dropped = Counter(
            "workbench_shadow_dropped",
            "Shadow calls skipped because earlier ones were still running.",
            ("model", "version"),
            registry=registry,
        )

    def observe(
        self,
        model: str,
        version: str,
        role: str,
        status: int,
        seconds: float,
        rows: int,
        error_code: str | None = None,
    ) -> None:
        """Count one answered request (or one model call, for shadows)."""
        key = (model, version, role, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.requests.labels(model, version, role, str(status)),
                self.latency.labels(model, version, role),
                self.rows.labels(model, version, role),
            )
        requests, latency, rows_counter = children
        requests.inc()
        latency.observe(seconds)
        if rows:
            rows_counter.inc(rows)
        if error_code is not None:
            self.error(model, version, role, error_code, status)

    def error(self, model: str, version: str, role: str, error_code: str, status: int) -> None:
        """Count one error answer, or one failed model call, as a client or server error."""
        self.errors.labels(model, version, role, error_code, error_kind(status)).inc()

    def render(self) -> bytes:
        """The text exposition format (summed over workers in multiprocess mode)."""
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
