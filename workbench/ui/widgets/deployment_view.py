"""``DeploymentView``: a served model's status, traffic split and latency.

The view shows any object that follows :class:`DeploymentLike` (name, status, url, traffic,
``latency()``). A deployment id is looked up through ``workbench.serving``
(``get_deployment``, ``status()``, ``read_request_log(..., metadata=True)``), whose request log
gives the observed traffic per model version and the latency percentiles per minute (pure
functions :func:`traffic_table` and :func:`latency_table`). Without ``workbench.serving`` the
view says that deployments are not available.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import pandas as pd
import panel as pn
import param

from workbench.ui._common import (
    LiveViewer,
    error_text,
    figure_pane,
    get_client,
    message,
    not_available,
)

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from workbench.client import Workbench

__all__ = [
    "DeploymentLike",
    "DeploymentView",
    "latency_figure",
    "latency_table",
    "list_deployments",
    "serving_api",
    "traffic_table",
]

LATENCY_COLUMNS = ("timestamp", "p50_ms", "p95_ms", "p99_ms", "requests")
_STATUS_COLOURS = {
    "running": "success",
    "healthy": "success",
    "starting": "info",
    "stopped": "secondary",
}


@runtime_checkable
class DeploymentLike(Protocol):
    """What the view needs from a deployment (``workbench.serving`` is expected to provide it).

    ``traffic`` maps a model URI (``churn/3``) to its share of requests (0..1); ``latency()``
    returns a DataFrame with ``timestamp``, ``p50_ms``, ``p95_ms``, ``p99_ms`` and ``requests``
    per time bucket (most recent window).
    """

    name: str
    status: str
    url: str | None
    traffic: Mapping[str, float]

    def latency(self) -> pd.DataFrame: ...


LOG_WINDOW = pd.Timedelta(hours=1)


def traffic_table(log: pd.DataFrame) -> pd.DataFrame:
    """Requests and share per model version (and role) in a request log with metadata."""
    columns = ["model_version", "role", "requests", "share"]
    if log.empty or "request_id" not in log:
        return pd.DataFrame(columns=columns)
    requests = log.drop_duplicates("request_id")
    table = (
        requests.groupby(["model_version", "role"], dropna=False).size().rename("requests")
    ).reset_index()
    table["share"] = table["requests"] / table["requests"].sum()
    return table.sort_values("requests", ascending=False, kind="stable").reset_index(drop=True)[
        columns
    ]


def latency_table(log: pd.DataFrame, *, freq: str = "1min") -> pd.DataFrame:
    """Latency percentiles (ms) and request counts per time bucket of a request log."""
    if log.empty or "latency_ms" not in log:
        return pd.DataFrame(columns=list(LATENCY_COLUMNS))
    requests = log.drop_duplicates("request_id")
    grouped = requests.groupby(pd.Grouper(key="received_at", freq=freq))["latency_ms"]
    table = pd.DataFrame(
        {
            "p50_ms": grouped.quantile(0.5),
            "p95_ms": grouped.quantile(0.95),
            "p99_ms": grouped.quantile(0.99),
            "requests": grouped.size(),
        }
    )
    table = table[table["requests"] > 0].reset_index(names="timestamp")
    return table[list(LATENCY_COLUMNS)]


class _ServedDeployment:
    """A ``workbench.serving`` deployment seen through :class:`DeploymentLike`."""

    def __init__(self, api: Any, deployment_id: str, client: Any) -> None:
        self._api, self._client = api, client
        self.name = deployment_id
        self._handle = api.get_deployment(deployment_id, client=client)
        status = self._handle.status()
        self.status = status.state + ("" if status.healthy or not status.alive else " (unhealthy)")
        self.url: str | None = status.url
        self._log = self._read_log()
        traffic = traffic_table(self._log)
        self.traffic: Mapping[str, float] = {
            f"v{version} ({role})": float(share)
            for version, role, share in traffic[["model_version", "role", "share"]].itertuples(
                index=False
            )
        } or {str(self._handle.model_uri): 1.0}

    def _read_log(self) -> pd.DataFrame:
        since = pd.Timestamp.now(tz="UTC") - LOG_WINDOW
        try:
            log = self._api.read_request_log(
                self.name, since=since, metadata=True, client=self._client
            )
        except Exception:  # no request yet, or a log this version cannot read
            return pd.DataFrame()
        return log if isinstance(log, pd.DataFrame) else pd.DataFrame()

    def latency(self) -> pd.DataFrame:
        return latency_table(self._log)


def serving_api() -> Any:
    """``workbench.serving`` if it provides deployments, else None."""
    try:
        module = importlib.import_module("workbench.serving")
    except ImportError:
        return None
    return module if hasattr(module, "get_deployment") else None


def list_deployments(client: Workbench | None = None) -> pd.DataFrame | None:
    """Deployments as a DataFrame (``deployment_id``, ``model_uri``, ``status``, ...), or None
    when ``workbench.serving`` is not available."""
    api = serving_api()
    if api is None or not hasattr(api, "list_deployments"):
        return None
    frame = api.list_deployments(client=get_client(client))
    return frame if isinstance(frame, pd.DataFrame) else pd.DataFrame(frame)


def latency_figure(latency: pd.DataFrame) -> go.Figure:
    """Latency percentiles (lines) and request counts (bars) over time."""
    from plotly.subplots import make_subplots

    fig = make_subplots(specs=[[{"secondary_y": True}]])
    if "requests" in latency:
        fig.add_bar(
            x=latency["timestamp"],
            y=latency["requests"],
            name="requests",
            opacity=0.3,
            secondary_y=True,
        )
    for column in ("p50_ms", "p95_ms", "p99_ms"):
        if column in latency:
            fig.add_scatter(x=latency["timestamp"], y=latency[column], name=column, mode="lines")
    fig.update_layout(title={"text": "Latency"}, template="plotly_white", height=340)
    fig.update_yaxes(title_text="ms", secondary_y=False)
    fig.update_yaxes(title_text="requests", secondary_y=True)
    return fig


def _traffic_figure(traffic: Mapping[str, float]) -> go.Figure:
    import plotly.graph_objects as go

    fig = go.Figure(go.Pie(labels=list(traffic), values=list(traffic.values()), hole=0.5))
    fig.update_layout(title={"text": "Traffic split"}, template="plotly_white", height=340)
    return fig


class DeploymentView(LiveViewer):
    """A deployment: status, URL, the model versions it serves with their traffic, latency.

    Parameters
    ----------
    deployment
        A deployment name (looked up with ``workbench.serving.get_deployment``) or an object
        following :class:`DeploymentLike`.
    client
        The workbench client whose store records the deployment (default: the current store).
    """

    deployment = param.Parameter(default=None, doc="The deployment (name or object) shown.")
    refresh_s = param.Number(default=5.0, bounds=(0.5, None), doc="Refresh period when live.")
    live = param.Boolean(default=False, doc="Re-read status and latency periodically.")

    def __init__(
        self, deployment: Any = None, *, client: Workbench | None = None, **params: Any
    ) -> None:
        self._client = client
        super().__init__(deployment=deployment, **params)
        self._layout = pn.Column(sizing_mode="stretch_width", css_classes=["wb-deployment-view"])
        self.refresh()

    def _resolve(self) -> tuple[Any, str | None]:
        target = self.deployment
        if target is None:
            return None, "No deployment selected."
        if isinstance(target, str):
            api = serving_api()
            if api is None:
                return None, None
            try:
                target = _ServedDeployment(api, target, get_client(self._client))
            except Exception as exc:
                return None, error_text(exc)
        if not isinstance(target, DeploymentLike):
            return None, f"{type(target).__name__} does not look like a deployment."
        return target, None

    def refresh(self) -> None:
        """Read the deployment's status, traffic and latency again."""
        deployment, problem = self._resolve()
        if deployment is None and problem is None:
            self._layout.objects = [
                not_available(
                    "Deployments",
                    "`workbench.serving` is not installed: with it, this view shows each "
                    "deployment's status, traffic split between model versions and latency.",
                )
            ]
            return
        if deployment is None:
            self._layout.objects = [message(f"**No deployment to show.** {problem}", kind="light")]
            return
        status = str(deployment.status)
        header = pn.Row(
            pn.pane.Markdown(f"## Deployment {deployment.name}"),
            message(
                f"**{status}**", kind=_STATUS_COLOURS.get(status.lower(), "warning"), width=200
            ),
        )
        details = pn.pane.Markdown(
            f"URL: `{deployment.url or '-'}` \u00b7 serving "
            + ", ".join(f"`{uri}` ({share:.0%})" for uri, share in deployment.traffic.items())
        )
        self._layout.objects = [
            header,
            details,
            pn.Row(
                figure_pane(lambda: _traffic_figure(deployment.traffic), "traffic"),
                figure_pane(lambda: latency_figure(deployment.latency()), "latency"),
                sizing_mode="stretch_width",
            ),
        ]

    @param.depends("deployment", watch=True)
    def _on_deployment(self) -> None:
        self.refresh()

    def __panel__(self) -> pn.Column:
        self.start_live()
        return self._layout
