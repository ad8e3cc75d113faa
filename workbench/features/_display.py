"""Notebook display of the feature store's objects: a text summary and an HTML card each.

Cards are computed as titled sections (key/value items or a table) and drawn by the card
template every workbench card uses (``model_card.html.j2``, autoescaped), so what users wrote
(names, descriptions, values) is escaped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.registry.card import CardSection  # the model card's section: one template

if TYPE_CHECKING:
    from workbench.features._catalog import RegisteredDefinition
    from workbench.features._definitions import Entity, FeatureService, FeatureView
    from workbench.features._materialize import MaterializationResult
    from workbench.features._quality import ValidationReport

__all__ = [
    "entity_bundle",
    "materialization_bundle",
    "registered_bundle",
    "report_bundle",
    "service_bundle",
    "view_bundle",
]


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _bundle(
    title: str,
    sections: list[CardSection],
    plain: str,
    row_classes: dict[str, list[str]] | None = None,
) -> dict[str, str]:
    from workbench._html import render

    classes = row_classes or {}
    html = render(
        "model_card.html.j2",
        title=title,
        sections=[(s, classes.get(s.title, [""] * len(s.rows))) for s in sections],
        full_document=False,
    )
    return {"text/plain": plain, "text/html": html}


def _entity_section(entities: tuple[Entity, ...]) -> CardSection:
    rows = tuple(
        (
            e.name,
            ", ".join(f"{k}: {t or 'any'}" for k, t in zip(e.join_keys, e.key_dtypes, strict=True)),
            _text(e.description),
        )
        for e in entities
    )
    return CardSection("Entities", columns=("entity", "join keys", "description"), rows=rows)


def entity_bundle(entity: Entity) -> dict[str, str]:
    keys = ", ".join(entity.join_keys)
    items = (
        ("join keys", keys),
        ("description", _text(entity.description)),
        *((f"tag {k}", v) for k, v in entity.tags.items()),
    )
    return _bundle(f"Entity {entity.name}", [CardSection("Overview", items)], repr(entity))


def _view_sections(view: FeatureView) -> list[CardSection]:
    source = view.source
    items = (
        ("source", source.describe()),
        ("event timestamp", source.timestamp),
        ("created timestamp", _text(source.created_timestamp)),
        ("ttl", "never expires" if view.ttl is None else str(view.ttl)),
        ("description", _text(view.description)),
        *((f"tag {k}", v) for k, v in view.tags.items()),
    )
    features = tuple(
        (f.name, f.dtype, ", ".join(f.expectations()) or "-", _text(f.description))
        for f in view.features
    )
    return [
        CardSection("Overview", items),
        _entity_section(view.entities),
        CardSection(
            "Features", columns=("feature", "type", "expectations", "description"), rows=features
        ),
    ]


def view_bundle(view: FeatureView) -> dict[str, str]:
    plain = (
        f"FeatureView {view.name!r}: {len(view.features)} features "
        f"({', '.join(view.feature_names)}) of {', '.join(e.name for e in view.entities)} "
        f"from {view.source.describe()}; ttl {view.ttl or 'none'}"
    )
    return _bundle(f"Feature view {view.name}", _view_sections(view), plain)


def _service_sections(service: FeatureService) -> list[CardSection]:
    rows = tuple((p.view, f) for p in service.projections for f in p.features)
    items = (
        ("features", str(len(rows))),
        ("description", _text(service.description)),
        *((f"tag {k}", v) for k, v in service.tags.items()),
    )
    return [
        CardSection("Overview", items),
        CardSection("Features", columns=("view", "feature"), rows=rows),
    ]


def service_bundle(service: FeatureService) -> dict[str, str]:
    plain = f"FeatureService {service.name!r}: {', '.join(service.feature_refs)}"
    return _bundle(f"Feature service {service.name}", _service_sections(service), plain)


def registered_bundle(registered: RegisteredDefinition) -> dict[str, str]:
    from workbench.features._definitions import Entity, FeatureService

    state = "stored as a new version" if registered.created else "unchanged"
    version = CardSection(
        "Version",
        (
            ("version", str(registered.version)),
            ("state", state),
            ("registered by", _text(registered.created_by)),
            ("registered at", f"{registered.created_at:%Y-%m-%d %H:%M:%S} UTC"),
            ("fingerprint", registered.fingerprint[:16]),
        ),
    )
    definition = registered.definition
    if isinstance(definition, Entity):
        body = [CardSection("Overview", (("join keys", ", ".join(definition.join_keys)),))]
    elif isinstance(definition, FeatureService):
        body = _service_sections(definition)
    else:
        body = _view_sections(definition)
    label = registered.kind.replace("_", " ").capitalize()
    return _bundle(
        f"{label} {registered.name} v{registered.version}", [version, *body], repr(registered)
    )


def report_bundle(report: ValidationReport) -> dict[str, str]:
    items = (
        ("source", report.source),
        ("rows checked", f"{report.rows:,}"),
        ("event times", f"{report.start or '-inf'} .. {report.end or '+inf'}"),
        ("verdict", "passed" if report.passed else f"{len(report.violations)} violations"),
    )
    sections = [CardSection("Overview", items)]
    if report.violations:
        rows = tuple(
            (_text(v.column), v.check, f"{v.count:,}", _text(list(v.examples)[:3]), v.message)
            for v in report.violations
        )
        sections.append(
            CardSection(
                "Violations",
                columns=("column", "check", "rows", "examples", "what to do"),
                rows=rows,
            )
        )
        classes = {"Violations": ["fail"] * len(rows)}
    else:
        sections.append(
            CardSection("Checks", columns=("check",), rows=tuple((c,) for c in report.checks))
        )
        classes = {}
    return _bundle(f"Validation of feature view {report.view}", sections, str(report), classes)


def materialization_bundle(result: MaterializationResult) -> dict[str, str]:
    rows = tuple(
        (
            v.view,
            str(v.version),
            _text(v.start),
            _text(v.end),
            f"{v.rows_read:,}",
            f"{v.entities_updated:,}",
            f"{v.entities_total:,}",
            f"{v.seconds:.2f} s",
        )
        for v in result.views
    )
    sections = [
        CardSection("Online table", (("location", result.location),)),
        CardSection(
            "Views",
            columns=(
                "view",
                "version",
                "start",
                "end",
                "rows read",
                "entities updated",
                "entities",
                "time",
            ),
            rows=rows,
        ),
    ]
    return _bundle("Materialization", sections, repr(result))
