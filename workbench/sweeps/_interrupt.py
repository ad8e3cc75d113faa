"""Ctrl-C during a sweep: stop soon, and never leave a trial RUNNING.

Python raises ``KeyboardInterrupt`` wherever the main thread is when SIGINT arrives. In a sweep
that may be between Optuna creating a trial and calling the objective, or while a finished
trial is being recorded: the trial then stays RUNNING in the storage while its process lives
on, so nothing sees it as stale. It may also be inside an at-fork hook (a parent starting its
worker processes), where Python prints the exception and drops it: the interrupt is lost, and
the parent waits for the whole sweep. So while a sweep runs, :func:`deferred` replaces the
SIGINT handler:

* every interrupt asks the study to stop starting trials (``Study.stop``) and wakes whoever
  waits on :attr:`Interrupts.wakeup` (the parent of worker processes);
* ``KeyboardInterrupt`` is raised at once only while the main thread runs the objective
  (inside :meth:`Interrupts.objective`), where the trial records it as interrupted;
* elsewhere it waits: a trial about to run its objective is interrupted right away, and the
  sweep raises ``KeyboardInterrupt`` once the trials at hand are recorded
  (:meth:`Interrupts.raise_if_requested`).

The handler is only replaced in the main thread and when it is Python's default one (a program
with its own SIGINT handler keeps it).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

import optuna

__all__ = ["Interrupts", "deferred"]


class Interrupts:
    """The interrupts a sweep received while :func:`deferred` was in force (see module)."""

    def __init__(self, *, installed: bool, count: int = 0) -> None:
        self.installed = installed
        self.count = count  # SIGINTs received (in a forked child: also those before it took over)
        self._pid = os.getpid()
        self._studies: list[optuna.Study] = []
        self._in_objective = 0  # the main thread runs an objective
        self._pipe: tuple[int, int] | None = None

    @property
    def requested(self) -> bool:
        """Whether an interrupt asked the sweep to stop."""
        return self.count > 0

    def watch(self, study: optuna.Study) -> None:
        """Stop this study's ``optimize`` loop at the next interrupt."""
        self._studies.append(study)

    @property
    def wakeup(self) -> int:
        """A file descriptor that becomes readable at each interrupt (for ``select``/``wait``)."""
        if self._pipe is None:
            read, write = os.pipe()
            os.set_blocking(write, False)
            self._pipe = (read, write)
        return self._pipe[0]

    def drain(self) -> None:
        """Empty :attr:`wakeup` after it became readable."""
        if self._pipe is not None:
            os.set_blocking(self._pipe[0], False)
            with contextlib.suppress(BlockingIOError):
                while os.read(self._pipe[0], 64):
                    pass

    def handle(self, signum: int, frame: FrameType | None) -> None:
        """The SIGINT handler while :func:`deferred` is in force."""
        self.count += 1
        if os.getpid() != self._pid:
            # A forked worker that has not taken over yet: it finds the count when it does.
            return
        for study in self._studies:
            with contextlib.suppress(RuntimeError):  # outside its optimize loop
                study.stop()
        if self._pipe is not None:
            with contextlib.suppress(OSError):
                os.write(self._pipe[1], b"!")
        if self._in_objective:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def objective(self, trial: optuna.Trial) -> Iterator[None]:
        """Around the objective call: the one place an interrupt is raised at once."""
        if self.requested:  # asked before this trial began: it ends at once, as interrupted
            with contextlib.suppress(RuntimeError):
                trial.study.stop()
            raise KeyboardInterrupt
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        self._in_objective += 1
        try:
            yield
        finally:
            self._in_objective -= 1

    def raise_if_requested(self) -> None:
        """Raise the ``KeyboardInterrupt`` that was deferred, if there was an interrupt."""
        if self.requested:
            raise KeyboardInterrupt

    def close(self) -> None:
        if self._pipe is not None:
            for fd in self._pipe:
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._pipe = None


def _inherited(handler: Any) -> Interrupts | None:
    """The parent's :class:`Interrupts` if ``handler`` is its handler, seen in a forked child."""
    owner = getattr(handler, "__self__", None)
    if isinstance(owner, Interrupts) and owner._pid != os.getpid():
        return owner
    return None


@contextlib.contextmanager
def deferred(*studies: optuna.Study, worker: bool = False) -> Iterator[Interrupts]:
    """Defer SIGINT while a sweep runs (see the module docstring); restore the handler after.

    Yields an :class:`Interrupts` whose ``installed`` is False (and which never sees an
    interrupt) outside the main thread or when the program has its own SIGINT handler. A
    sweep's ``worker`` process always installs it, and counts the interrupts that reached it
    before (through the handler it inherited from its parent).
    """
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if main else None
    inherited = _inherited(previous)
    if inherited is not None:
        inherited.close()  # the parent's wakeup pipe: not ours to write to
    if worker and main:
        previous = signal.default_int_handler
    if not main or previous is not signal.default_int_handler:
        interrupts = Interrupts(installed=False)
    else:
        interrupts = Interrupts(installed=True, count=inherited.count if inherited else 0)
    for study in studies:
        interrupts.watch(study)
    if interrupts.installed:
        signal.signal(signal.SIGINT, interrupts.handle)
    try:
        yield interrupts
    finally:
        if interrupts.installed:
            signal.signal(signal.SIGINT, previous)
        interrupts.close()
