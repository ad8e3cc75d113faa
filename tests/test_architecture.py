"""The documented shape of the package matches the code.

The import layering itself is checked by ``lint-imports`` (contracts in pyproject.toml, run by
scripts/test); this file checks what that tool cannot: the documented size of the store contract.
"""

from __future__ import annotations

import re
from pathlib import Path

from workbench.store import Store

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_the_store_guide_states_the_true_number_of_abstract_members() -> None:
    count = len(Store.__abstractmethods__)
    guide = (DOCS / "store.md").read_text()
    stated = re.search(r"\*\*What to implement: (\d+) abstract members\*\*", guide)
    assert stated is not None, "docs/store.md lost its 'What to implement' line"
    assert int(stated[1]) == count, (
        f"docs/store.md says a backend implements {stated[1]} abstract members; Store has "
        f"{count}: {sorted(Store.__abstractmethods__)}. Update the guide and Store's docstring."
    )
    assert f"implements the {count} abstract members" in " ".join(Store.__doc__.split())
