"""Adaptive micro-batching, in-process: requests that queue while the model is busy share one
call, and every request still gets exactly its own answer or its own error."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import pytest

from workbench.serving._batching import Batcher


class Recording:
    """A model that records the size of every call, is slow, and refuses negative values."""

    def __init__(self, delay: float = 0.02) -> None:
        self.calls: list[int] = []
        self.delay = delay
        self.lock = threading.Lock()

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        with self.lock:
            self.calls.append(len(X))
        time.sleep(self.delay)
        values = X["a"].to_numpy()
        if (values < 0).any():
            raise ValueError("negative")
        return values * 10


def frame(value: float) -> pd.DataFrame:
    return pd.DataFrame({"a": [value], "b": [0.0]})


async def score_all(
    batcher: Batcher, values: list[float], timeout: float | None = None
) -> list[Any]:
    async def one(value: float) -> Any:
        call = batcher.predict(frame(value), 1)
        try:
            if timeout is None:
                return await call
            return await asyncio.wait_for(call, timeout)
        except Exception as exc:
            return exc

    return await asyncio.gather(*(one(v) for v in values))


def run(model: Recording, values: list[float], *, slots: int = 1, **kw: Any) -> list[Any]:
    with ThreadPoolExecutor(slots) as pool:
        batcher = Batcher(
            model.predict,
            pool,
            slots=slots,
            max_rows=kw.pop("max_rows", 1000),
            float_index=pd.Index(["a", "b"]),
        )
        return asyncio.run(score_all(batcher, values, **kw))


def test_requests_that_queue_share_one_call_and_get_their_own_answer() -> None:
    model = Recording()
    results = run(model, [float(i) for i in range(20)])
    assert [r.tolist() for r in results] == [[i * 10.0] for i in range(20)]
    assert model.calls[0] == 1 and sum(model.calls) == 20 and len(model.calls) <= 3


def test_a_bad_request_fails_alone() -> None:
    model = Recording()
    results = run(model, [1.0, 2.0, -1.0, 3.0])
    assert isinstance(results[2], ValueError)
    assert [r.tolist() for i, r in enumerate(results) if i != 2] == [[10.0], [20.0], [30.0]]


def test_batches_respect_max_rows_and_slots() -> None:
    model = Recording()
    run(model, [float(i) for i in range(12)], max_rows=4)
    assert max(model.calls) <= 4 and sum(model.calls) == 12
    parallel = Recording(delay=0.05)
    started = time.perf_counter()
    run(parallel, [1.0, 2.0], slots=2)
    assert parallel.calls == [1, 1] and time.perf_counter() - started < 0.095


def test_requests_whose_caller_gave_up_are_not_scored() -> None:
    model = Recording(delay=0.2)
    results = run(model, [1.0, 2.0, 3.0], timeout=0.05)
    assert all(isinstance(r, TimeoutError) for r in results)
    assert model.calls == [1]  # the queued two were dropped


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (pd.DataFrame({"p": [1, 2, 3]}), [[1], [2, 3]]),
        (pd.Series([1, 2, 3]), [[1], [2, 3]]),
        ([1, 2, 3], [[1], [2, 3]]),
    ],
)
def test_outputs_of_every_shape_are_split(output: Any, expected: list[list[int]]) -> None:
    from workbench.serving._batching import _split

    parts = _split(output, [1, 2])
    assert parts is not None
    assert [list(np.asarray(p).ravel()) for p in parts] == expected
    assert _split(output, [1, 1]) is None  # wrong length: score one by one
