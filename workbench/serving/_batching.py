"""Adaptive micro-batching: requests that queue while the model is busy are scored in one call.

A :class:`Batcher` runs one model version's ``predict`` in a thread pool, with at most
``slots`` calls in flight. A request that arrives while a slot is free is scored at once, alone:
sequential traffic pays no batching delay at all. Requests that arrive while every slot is busy
wait in a queue, and the next free slot scores all of them (up to ``max_rows`` rows) in a single
``predict`` call, whose output is split back per request. For scikit-learn models a call costs
about the same for 1 row as for 50 (input validation dominates), and one call holds the GIL
once instead of many times, so under concurrency this multiplies throughput.

If a combined call raises (one bad request would otherwise fail its neighbours) or returns the
wrong number of rows, each request of the batch is scored again on its own, so every request gets
exactly the answer, or the error, it would have had alone. A request whose caller gave up (a
timeout) is dropped from the queue.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import itertools
from concurrent.futures import Executor
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Batcher"]

_Outcome = tuple[bool, Any]  # (ok, result or exception)


class Batcher:
    """Scores the requests of one served model version; see the module docstring."""

    def __init__(
        self,
        predict: Any,
        executor: Executor,
        *,
        slots: int,
        max_rows: int,
        float_index: pd.Index | None = None,
    ) -> None:
        self._predict = predict
        self._executor = executor
        self._slots = slots
        self._max_rows = max_rows
        self._float_index = float_index  # frames of one float64 block with these columns
        self._pending: collections.deque[tuple[Any, int, asyncio.Future[Any]]] = collections.deque()
        self._running = 0
        self.calls = 0
        self.batched_requests = 0

    async def predict(self, data: Any, rows: int) -> Any:
        """The model's output for ``data`` (``rows`` rows), possibly computed in a batch."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((data, rows, future))
        if self._running < self._slots:
            self._launch(loop)
        return await future

    def _launch(self, loop: asyncio.AbstractEventLoop) -> None:
        batch: list[tuple[Any, int, asyncio.Future[Any]]] = []
        total = 0
        while self._pending:
            data, rows, future = self._pending[0]
            if future.done():  # its caller timed out
                self._pending.popleft()
                continue
            if batch and total + rows > self._max_rows:
                break
            self._pending.popleft()
            batch.append((data, rows, future))
            total += rows
        if not batch:
            return
        self._running += 1
        self.calls += 1
        if len(batch) > 1:
            self.batched_requests += len(batch)
        call = loop.run_in_executor(
            self._executor, self._score, [b[0] for b in batch], [b[1] for b in batch]
        )
        call.add_done_callback(functools.partial(self._finish, batch, loop))

    def _finish(
        self,
        batch: list[tuple[Any, int, asyncio.Future[Any]]],
        loop: asyncio.AbstractEventLoop,
        call: asyncio.Future[list[_Outcome]],
    ) -> None:
        self._running -= 1
        try:
            outcomes = call.result()
        except BaseException as exc:  # the pool was shut down
            outcomes = [(False, exc)] * len(batch)
        for (_, _, future), (ok, value) in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
        while self._pending and self._running < self._slots:
            before = len(self._pending)
            self._launch(loop)
            if len(self._pending) == before:
                break

    # -- in the worker thread -----------------------------------------------------------------
    def _one(self, data: Any) -> _Outcome:
        try:
            return True, self._predict(data)
        except Exception as exc:
            return False, exc

    def _score(self, datas: list[Any], rows: list[int]) -> list[_Outcome]:
        if len(datas) == 1:
            return [self._one(datas[0])]
        try:
            output = self._predict(self._combine(datas))
            parts = _split(output, rows)
        except Exception:
            parts = None
        if parts is None:
            return [self._one(data) for data in datas]
        return [(True, part) for part in parts]

    def _combine(self, datas: list[Any]) -> Any:
        first = datas[0]
        if isinstance(first, pd.DataFrame):
            if self._float_index is not None:
                arrays = [d.to_numpy(dtype=np.float64, copy=False) for d in datas]
                return pd.DataFrame(np.vstack(arrays), columns=self._float_index, copy=False)
            return pd.concat(datas, ignore_index=True)
        if isinstance(first, np.ndarray):
            return np.concatenate(datas)
        raise TypeError(f"cannot batch {type(first).__name__} inputs")


def _split(output: Any, rows: list[int]) -> list[Any] | None:
    """``output`` cut into consecutive pieces of ``rows`` rows; None if its length differs."""
    if hasattr(output, "toarray"):  # scipy sparse
        output = output.toarray()
    try:
        length = len(output)
    except TypeError:
        return None
    if length != sum(rows):
        return None
    bounds = np.cumsum([0, *rows]).tolist()
    if isinstance(output, pd.DataFrame | pd.Series):
        return [output.iloc[a:b] for a, b in itertools.pairwise(bounds)]
    return [output[a:b] for a, b in itertools.pairwise(bounds)]
