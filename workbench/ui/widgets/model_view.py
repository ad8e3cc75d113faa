"""``ModelView``: a registered model's card, versions, aliases (with history) and lineage."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import panel as pn
import param

from workbench.exceptions import WorkbenchError
from workbench.ui._common import (
    attempt_write,
    error_text,
    get_client,
    message,
    read_only_refusal,
    store_is_read_only,
    table,
)

if TYPE_CHECKING:
    from workbench.client import Workbench

__all__ = ["ModelView"]


class ModelView(pn.viewable.Viewer):
    """A model of the registry: pick a version, read its card, versions and alias history.

    The card (from ``workbench.model_card``) holds the version's metrics, params, signature,
    lineage (run, datasets, code, environment) and gate results.

    Parameters
    ----------
    model
        A model name, a URI (``churn/3``, ``churn@champion``) or a ``ModelVersion``.
    client
        The workbench client (default: the configured store).
    """

    model = param.String(default="", doc="The model's name.")
    version = param.Integer(default=None, allow_None=True, doc="Version shown; None: latest.")
    read_only = param.Boolean(
        default=True, doc="Hide the form that moves aliases (always, on a read-only store)."
    )

    def __init__(
        self, model: Any = None, *, client: Workbench | None = None, **params: Any
    ) -> None:
        self._client = get_client(client)
        if store_is_read_only(self._client):
            params["read_only"] = True
        self._error: str | None = None
        if model is not None and not isinstance(model, str):  # a ModelVersion
            params.setdefault("version", getattr(model, "version", None))
            model = getattr(model, "name", model)
        elif isinstance(model, str) and model:
            model, version = self._resolve(model)
            params.setdefault("version", version)
        super().__init__(model=model or "", **params)
        self._layout = pn.Column(sizing_mode="stretch_width", css_classes=["wb-model-view"])
        self._render()

    def _registry(self) -> Any:
        from workbench.registry import ModelRegistry

        return ModelRegistry(self._client)

    def _resolve(self, uri: str) -> tuple[str, int | None]:
        if "/" not in uri.removeprefix("models:/") and "@" not in uri:
            return uri, None
        try:
            mv = self._registry().get_model_version(uri)
        except WorkbenchError as exc:
            self._error = error_text(exc)
            return uri, None
        return mv.name, mv.version

    @param.depends("model", "version", watch=True)
    def _render(self) -> None:
        if not self.model:
            self._layout.objects = [message("**No model selected.**", kind="light")]
            return
        try:
            registry = self._registry()
            versions = registry.list_model_versions(self.model)
            uri = self.model if self.version is None else f"{self.model}/{self.version}"
            card = registry.model_card(uri)
            history = registry.alias_history(self.model)
        except WorkbenchError as exc:
            text = self._error or error_text(exc)
            self._layout.objects = [
                message(f"**Cannot show model {self.model!r}.** {text}", kind="warning")
            ]
            return
        options = {
            f"v{v}" + (f" ({', '.join(a)})" if len(a) else ""): int(v)
            for v, a in zip(versions["version"], versions["aliases"], strict=True)
        }
        picker = pn.widgets.Select(
            label="Version", options=options, value=card.version.version, width=220
        )
        picker.param.watch(lambda e: setattr(self, "version", e.new), "value")
        aliases = (
            " ".join(
                f"`{a}` \u2192 v{v}"
                for v, a_list in zip(versions["version"], versions["aliases"], strict=True)
                for a in a_list
            )
            or "no aliases"
        )
        tabs = pn.Tabs(
            ("Card", pn.pane.HTML(card.to_html(full_document=False), sizing_mode="stretch_width")),
            ("Versions", table(versions, height=300)),
            (
                "Alias history",
                table(history, height=300)
                if not history.empty
                else pn.pane.Markdown("_No alias changes yet._"),
            ),
            dynamic=True,
            sizing_mode="stretch_width",
        )
        parts: list[Any] = [
            pn.pane.Markdown(f"## Model {self.model}\n{len(versions)} versions \u00b7 {aliases}"),
            picker,
        ]
        if not self.read_only:
            parts.append(self._alias_form(card.version.version))
        self._layout.objects = [*parts, tabs]

    def _alias_form(self, version: int) -> pn.Row:
        alias = pn.widgets.TextInput(label="Alias", placeholder="champion", width=160)
        reason = pn.widgets.TextInput(label="Reason", placeholder="why", width=240)
        button = pn.widgets.Button(label=f"Point alias at v{version}", color="warning")
        refusal = message("", kind="warning", visible=False)

        def move(_: Any) -> None:
            if not alias.value:
                return
            action = f"point alias {alias.value!r} at v{version}"
            if self.read_only:
                refused: str | None = read_only_refusal(action)
            else:
                refused = attempt_write(
                    action,
                    lambda: self._registry().set_alias(
                        self.model,
                        alias.value,
                        version,
                        reason=reason.value or "set from the dashboard",
                    ),
                )
            if refused is None:
                self._render()
                return
            refusal.object, refusal.visible = refused, True

        button.on_click(move)
        return pn.Row(alias, reason, button, refusal, css_classes=["wb-alias-form"])

    def __panel__(self) -> pn.Column:
        return self._layout
