"""The documentation: every public name in the API reference with a docstring of its own, every
page in the site's navigation, and the pointers that name doc files lead somewhere.

The site itself is built offline with warnings as errors by scripts/test
(``mkdocs build --strict``); these checks are the fast part.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

import workbench

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"


def _hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_api", REPO / "scripts" / "docs_api.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("docs_api", module)
    spec.loader.exec_module(module)
    return module


def test_every_public_name_is_in_the_api_reference() -> None:
    hook = _hook()
    page = (DOCS / "api.md").read_text()
    assert hook.MARKER in page
    generated = hook.api_markdown()
    entries = re.findall(r"^::: workbench\.(\w+)$", generated, flags=re.M)
    assert len(entries) == len(set(entries))
    plain = set(hook.PLAIN)
    assert set(entries) | plain == set(workbench.__all__)
    assert not set(entries) & plain
    assert all(f"`workbench.{name}`" in generated for name in plain)


def test_every_public_name_has_a_docstring_of_its_own() -> None:
    hook = _hook()
    missing = []
    for name in sorted(set(workbench.__all__) - set(hook.PLAIN)):
        doc = getattr(workbench, name).__doc__
        # a dataclass without a docstring gets its signature as __doc__: not documentation
        if not doc or not doc.strip() or doc.startswith(f"{name}("):
            missing.append(name)
    assert not missing, f"no docstring: {missing}"


@pytest.mark.slow  # ~4 s: griffe reads the whole package
def test_the_docs_tool_finds_every_entry_and_its_docstring() -> None:
    """What mkdocstrings renders comes from griffe's reading of the source, not from the imported
    objects: every entry must resolve there too, to an object with a docstring."""
    import griffe

    hook = _hook()
    package = griffe.load("workbench", search_paths=[str(REPO)], resolve_aliases=False)
    problems = []
    for name in sorted(set(workbench.__all__) - set(hook.PLAIN)):
        try:
            obj = package[name]
            target = obj.final_target if obj.is_alias else obj
        except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError) as exc:
            problems.append(f"{name}: {type(exc).__name__}")
            continue
        if target.docstring is None or not target.docstring.value.strip():
            problems.append(f"{name}: no docstring at {target.path}")
    assert not problems, problems


def test_sphinx_roles_become_links_to_the_page_entries() -> None:
    html = (
        '<h3 id="workbench.drift_report">drift_report</h3>'
        "<p>see :func:<code>~workbench.drift_report</code>, :meth:<code>Monitor.run</code>"
        " and :func:<code>workbench.compare.drift_report</code></p>"
    )
    linked = _hook().link_roles(html)
    assert linked.count('<a href="#workbench.drift_report"><code>drift_report</code></a>') == 1
    assert "<code>Monitor.run</code>" in linked and ":meth:" not in linked
    assert '<a href="#workbench.drift_report"><code>workbench.compare.drift_report</code>' in linked


def test_every_docs_page_is_in_the_site_navigation() -> None:
    # mkdocs.yml holds a !!python/name tag (pymdownx's mermaid fence); read it without running it
    class _Loader(yaml.SafeLoader):
        pass

    _Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda *_: None)
    config = yaml.load((REPO / "mkdocs.yml").read_text(), Loader=_Loader)
    listed = {next(iter(item.values())) for item in config["nav"]}
    assert listed == {page.name for page in DOCS.glob("*.md")}


def test_doc_pointers_lead_to_files() -> None:
    texts = [REPO / "pyproject.toml", REPO / "README.md", REPO / "CONTRIBUTING.md"]
    pointers = {
        (source.name, target)
        for source in texts
        for target in re.findall(r"\b((?:docs|workbench/data)/[\w./-]+\.md)\b", source.read_text())
    }
    assert ("pyproject.toml", "docs/dependencies.md") in pointers
    missing = sorted(p for p in pointers if not (REPO / p[1]).is_file())
    assert not missing, missing
