"""The API reference's entries, generated from ``workbench.__all__``.

A mkdocs hook (``hooks:`` in mkdocs.yml): on ``docs/api.md`` it replaces the line
``<!-- workbench.__all__ -->`` with one mkdocstrings entry (``::: workbench.<name>``) per public
name, grouped by the package that defines it, so the reference can never miss a name.
``tests/test_docs.py`` checks that every name gets an entry and has a docstring.

The docstrings cross-reference with Sphinx roles (``:func:`drift_report```); on the rendered
page each becomes a link to the entry it names, or plain code when the page has no such entry.
"""

from __future__ import annotations

import inspect
import re
from collections import defaultdict
from typing import Any

MARKER = "<!-- workbench.__all__ -->"
API_PAGE = "api.md"

#: Section order and titles, by the package (second part of ``__module__``) defining a name.
SECTIONS = {
    "client": "The client",
    "tracking": "Tracking",
    "entities": "Entities",
    "store": "The store",
    "sweeps": "Sweeps",
    "compare": "Comparing runs",
    "registry": "The model registry",
    "signature": "Model signatures",
    "serving": "Serving",
    "monitoring": "Monitoring",
    "pipelines": "Notebook pipelines",
    "exceptions": "Exceptions",
}
#: Names that are not documented objects (no docstring of their own): one line each.
PLAIN = {"__version__": "the installed version of workbench, a string such as ``0.1.0``."}


def section_of(obj: Any) -> str:
    """The package a public object comes from: ``workbench.tracking.fluent`` -> ``tracking``."""
    module = getattr(obj, "__module__", None) or "workbench"
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "client"


def sections() -> dict[str, list[str]]:
    """``workbench.__all__`` grouped by :func:`section_of`, in :data:`SECTIONS` order."""
    import workbench

    grouped: dict[str, list[str]] = defaultdict(list)
    for name in sorted(workbench.__all__, key=lambda n: (not n[0].isupper(), n.lower())):
        if name not in PLAIN:
            grouped[section_of(getattr(workbench, name))].append(name)
    order = [*SECTIONS, *sorted(set(grouped) - set(SECTIONS))]
    return {key: grouped[key] for key in order if grouped[key]}


def _entry(name: str, obj: Any) -> str:
    lines = [f"::: workbench.{name}"]
    if inspect.isclass(obj) and issubclass(obj, BaseException | Warning):
        # the hierarchy is in WorkbenchError's docstring; members (http_status, ...) are plumbing
        lines += ["    options:", "      members: false", "      inherited_members: false"]
    return "\n".join(lines)


def api_markdown() -> str:
    """The generated part of the API page."""
    import workbench

    out = []
    for key, names in sections().items():
        out.append(f"## {SECTIONS.get(key, key.capitalize())}\n")
        out.extend(_entry(name, getattr(workbench, name)) + "\n" for name in names)
    out.append("## Other names\n")
    out.extend(f"- `workbench.{name}`: {text}" for name, text in PLAIN.items())
    return "\n".join(out) + "\n"


_ROLE = re.compile(r":(?:meth|func|class|attr|mod|exc|data|obj):<code>(~?)([\w.]+)</code>")
_ID = re.compile(r'id="(workbench\.[\w.]+)"')


def link_roles(html: str) -> str:
    """Sphinx roles in rendered docstrings -> links to the page's entries (or plain code)."""
    ids = set(_ID.findall(html))

    def replace(match: re.Match[str]) -> str:
        short, name = match[1], match[2].lstrip(".")
        text = name.rsplit(".", 1)[-1] if short else name
        last = name.rsplit(".", 1)[-1]
        for target in (name, f"workbench.{name}", f"workbench.{last}"):
            if target in ids:
                return f'<a href="#{target}"><code>{text}</code></a>'
        return f"<code>{text}</code>"

    return _ROLE.sub(replace, html)


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    """mkdocs hook: fill the API page's marker."""
    if page.file.src_uri != API_PAGE:
        return markdown
    if MARKER not in markdown:
        raise ValueError(f"docs/{API_PAGE} has lost its marker line {MARKER!r}")
    return markdown.replace(MARKER, api_markdown())


def on_page_content(html: str, page: Any, **_: Any) -> str:
    """mkdocs hook: link the API page's cross-references."""
    return link_roles(html) if page.file.src_uri == API_PAGE else html
