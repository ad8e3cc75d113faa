"""Sweep tests: rewrite the asserts of the shared checks so failures show values."""

from __future__ import annotations

import pytest

pytest.register_assert_rewrite("_sweep_checks")
