"""Background threads that stop, in order, before the interpreter finalizes.

Python force-unwinds daemon threads that still run when the interpreter finalizes; one caught
inside DuckDB's C++ code aborts the whole process (``terminate called ... FATAL: exception not
rethrown``, exit -6), so a script could die after its last line. Every workbench thread is a
:class:`Worker`, and one ``atexit`` handler runs the shutdown steps registered with
:func:`at_exit` in order (flush and end runs, then stop and join the workers, then close the
database), so by the time the interpreter finalizes no thread of ours is inside native code.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections.abc import Callable

logger = logging.getLogger("workbench")

#: Shutdown order: logged data first, then long database work is interrupted (it is redone
#: from the journals by the next process), then threads stop, then files close.
FLUSH, INTERRUPT, THREADS, FILES = 10, 15, 20, 30

_steps: list[tuple[int, int, Callable[[], None]]] = []
_workers: weakref.WeakSet[Worker] = weakref.WeakSet()
_exiting = threading.Event()
JOIN_TIMEOUT_S = 60.0


def at_exit(step: Callable[[], None], order: int = FILES) -> None:
    """Run ``step`` at interpreter exit, after the steps of a lower ``order``."""
    _steps.append((order, len(_steps), step))


def exiting() -> bool:
    """Whether the interpreter is shutting down (no new lingering resources then)."""
    return _exiting.is_set()


class Worker:
    """A daemon thread running ``loop(stop)`` until ``stop`` is set; joined at exit.

    ``loop`` must return soon after ``stop`` is set (wait on it rather than sleeping).
    """

    def __init__(self, name: str, loop: Callable[[threading.Event], None]) -> None:
        self.stop_event = threading.Event()
        self._loop = loop
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Worker:
        _workers.add(self)
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self._loop(self.stop_event)
        except Exception:  # a worker that dies says so, once
            logger.exception("workbench background thread %s stopped", self._thread.name)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = JOIN_TIMEOUT_S) -> None:
        """Ask the loop to end and wait for it (not from inside the loop itself)."""
        self.stop_event.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.warning(
                    "workbench thread %s did not stop within %.0f s", self._thread.name, timeout
                )


def _stop_workers() -> None:
    for worker in list(_workers):
        worker.stop()


def _shutdown() -> None:
    _exiting.set()
    for _, _, step in sorted(_steps, key=lambda s: s[:2]):
        try:
            step()
        except Exception:
            logger.exception("workbench shutdown step %r failed", step)


at_exit(_stop_workers, THREADS)
atexit.register(_shutdown)
