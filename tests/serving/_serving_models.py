"""Helpers of the serving tests, and a model that misbehaves on purpose (the server processes
import it, so it lives in a plain module rather than in conftest)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression

import workbench as wb


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


@dataclass(frozen=True)
class Models:
    """The serving fixtures' store and the in-process twins of what it holds."""

    store: Path
    X: pd.DataFrame
    v1: LogisticRegression  # "bc/1" (alias champion), "flk/1", "live/1"
    v2: LogisticRegression  # "bc/2": a different regularisation
    constant: DummyClassifier  # "live/2": always 1

    @property
    def client(self) -> wb.Workbench:
        """The client of the fixtures' store (what ``client=`` takes)."""
        return wb.connect(self.store)


def split_payload(frame: pd.DataFrame) -> dict[str, object]:
    return {"dataframe_split": {"columns": list(frame.columns), "data": frame.values.tolist()}}


@contextlib.contextmanager
def opened(store: Path) -> Iterator[wb.Workbench]:
    """A client of ``store``, closed after use (an unclosed one leaks its store socket)."""
    client = wb.Workbench(store)
    try:
        yield client
    finally:
        client.close()


def sql(store: Path, query: str, **params: Any) -> pd.DataFrame:
    """``query`` over the views of ``store``, from a client opened for it."""
    with opened(store) as client:
        return client.sql(query, **params)
