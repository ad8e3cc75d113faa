"""Lazy public names for a package (PEP 562): ``import workbench`` stays cheap.

A package lists ``name -> defining module`` and gets a module ``__getattr__`` that imports the
module the first time the name is used, then keeps the value in the package's namespace (so the
next access is a plain attribute). Type checkers and the docs tool read the same names from an
``if TYPE_CHECKING:`` block of ordinary imports in the package, and a test holds the table and
those imports to the same names.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["attach"]


def attach(
    namespace: dict[str, Any],
    exports: Mapping[str, str],
    *,
    before_import: Callable[[str], None] | None = None,
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a package (``namespace`` is its ``globals()``).

    ``before_import(module)`` runs before a name's module is first imported (``workbench`` uses
    it to load its client class before any layer can build a client).
    """
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if before_import is not None:
            before_import(module)
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *exports})

    return __getattr__, __dir__
