"""Test helpers shipped with workbench: the store contract suite."""

from workbench.testing.registry_contract import RegistryContract
from workbench.testing.store_contract import StoreContract

__all__ = ["RegistryContract", "StoreContract"]
