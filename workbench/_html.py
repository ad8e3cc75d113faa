"""HTML for notebooks and saved pages, from Jinja2 templates in ``workbench/templates/``.

Every object that renders itself as HTML (``_repr_mimebundle_``, ``to_html``) goes through
:func:`render`: the markup lives in the template files, and autoescaping is on, so every value a
user wrote (run names, params, tags, model names) is escaped without the renderer asking. Markup
built in Python on purpose (an SVG chart, a plotly figure) is passed as :func:`safe`.

jinja2 is imported on the first render, not with ``import workbench``; the environment is built
once per process.
"""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["render", "safe"]


def render(template: str, /, **context: Any) -> str:
    """``template`` (a file name under ``workbench/templates/``) rendered with ``context``."""
    return str(_environment().get_template(template).render(**context))


def safe(markup: str) -> Any:
    """``markup`` marked as HTML to insert as it is (never for text a user wrote)."""
    from markupsafe import Markup

    return Markup(markup)


@functools.cache
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("workbench", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
