"""Models for the serving tests that misbehave on purpose (importable by the server process)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np


class FlakyModel:
    """Wraps a fitted classifier; raises on a negative first feature, sleeps on a huge one."""

    def __init__(self, inner: Any, delay: float = 3.0) -> None:
        self.inner = inner
        self.delay = delay

    def predict(self, X: Any) -> np.ndarray:
        first = np.asarray(X)[:, 0]
        if (first < 0).any():
            raise ValueError("negative radius: this model cannot score it")
        if (first > 999).any():
            time.sleep(self.delay)
        return self.inner.predict(X)  # type: ignore[no-any-return]
