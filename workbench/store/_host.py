"""Reads served by the process that holds the database, to the other processes of the machine.

DuckDB lets one process at a time open the file. Under write load that is the ingester (the
process holding ``ingest.lock``), which keeps it open; a reader in another process would have
to make it close the file and then open it itself (~30 ms each way on a quiet machine, seconds
on a busy one). Instead the ingester *hosts* the store: it listens on a Unix socket named after
the store, other processes send it their reads (an operation of ``_ops.READS`` and its
arguments), and it runs each on a cursor of the connection it already has, in a thread per
client, concurrently with ingesting (DuckDB's MVCC), after applying the asker's own journals so
that a process always reads its own writes. The result, or the exception, goes back. Writes
do not go through the host: they are rare and take the database directly (the host gives it
up between slices when someone rings).

Messages are pickles, so only processes of the same user may connect: both ends check the
other's uid (``SO_PEERCRED``). Linux only (abstract socket names, nothing on disk); elsewhere
every process reads directly.
"""

from __future__ import annotations

import contextlib
import copyreg
import hashlib
import io
import logging
import os
import pickle
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import Any

from workbench import _threads
from workbench.exceptions import StoreError

logger = logging.getLogger("workbench.store")

FRAME = struct.Struct("!I")
CREDENTIALS = struct.Struct("3i")  # pid, uid, gid
AVAILABLE = sys.platform.startswith("linux")

Handler = Callable[[str, tuple[Any, ...], dict[str, int]], Any]


class HostMoved(Exception):
    """Raised by a handler whose process is leaving the role: the connection is dropped
    without an answer, so the caller asks the next host."""


class HostUnavailable(Exception):
    """No host answers (none runs, or it went away during the call): read directly."""


def address(db_path: Path) -> bytes:
    """The abstract socket name of the host of the database at ``db_path``."""
    digest = hashlib.sha256(str(db_path.resolve()).encode()).hexdigest()[:32]
    return b"\0workbench-store-" + digest.encode()


def _peer_uid(sock: socket.socket) -> int:
    _, uid, _ = CREDENTIALS.unpack(
        sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, CREDENTIALS.size)
    )
    return int(uid)


def _mapping_proxy(proxy: MappingProxyType[Any, Any]) -> tuple[Any, ...]:
    return read_only_mapping, (dict(proxy),)


def read_only_mapping(items: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    """Rebuild an entity's read-only mapping on the receiving side of a pickle."""
    return MappingProxyType(items)


_REDUCERS = {**copyreg.dispatch_table, MappingProxyType: _mapping_proxy}


def _send(sock: socket.socket, message: Any) -> None:
    """Pickle ``message`` (the entities' read-only mappings included) and send it framed."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _REDUCERS
    pickler.dump(message)
    payload = buffer.getvalue()
    sock.sendall(FRAME.pack(len(payload)) + payload)


def _receive(sock: socket.socket) -> Any:
    (length,) = FRAME.unpack(_read_exactly(sock, FRAME.size))
    return pickle.loads(_read_exactly(sock, length))


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    chunks, remaining = [], size
    while remaining:
        chunk = sock.recv(min(remaining, 1 << 20))
        if not chunk:
            raise ConnectionError("the other end closed the connection")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


class HostServer:
    """Accepts connections of the same user and answers their reads with ``handle``."""

    def __init__(self, name: bytes, handle: Handler) -> None:
        self._name = name
        self._handle = handle
        self._listener: socket.socket | None = None
        self._worker: _threads.Worker | None = None
        self._clients: set[socket.socket] = set()
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self.last_request = 0.0  # time.monotonic() of the last request answered
        self.requests = 0
        self.in_flight = 0  # requests being answered now
        self.closing = False

    @property
    def listening(self) -> bool:
        return self._listener is not None

    def start(self) -> bool:
        """Listen; False if another host already listens under this name."""
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(self._name)
        except OSError:
            listener.close()
            return False
        listener.listen(64)
        listener.settimeout(0.2)
        self._listener = listener
        self._worker = _threads.Worker("workbench-host", self._accept).start()
        return True

    def stop(self) -> None:
        """Stop listening and close every client connection (their calls fall back)."""
        self.close()
        self.join()

    def close(self) -> None:
        """Stop listening and cut every client connection off, without waiting for the reads
        in progress: their callers go to the next host at once (``closing`` tells the reads
        to stop early: their answers have nowhere to go)."""
        self.closing = True
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            clients, self._clients = set(self._clients), set()
        for client in clients:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)

    def join(self) -> None:
        """Wait for the reads in progress to end (after ``close``)."""
        with self._lock:
            threads = set(self._threads)
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(_threads.JOIN_TIMEOUT_S)

    def forget(self) -> None:
        """In a forked child: close our copies of the sockets, leave the parent's alone."""
        for sock in [self._listener, *self._clients]:
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()
        self._listener, self._clients, self._threads, self._worker = None, set(), set(), None
        self._lock = threading.Lock()

    def _accept(self, stop: threading.Event) -> None:
        assert self._listener is not None
        while not stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed
            if _peer_uid(client) != os.getuid():
                client.close()
                continue
            client.settimeout(None)
            thread = threading.Thread(
                target=self._serve, args=(client,), name="workbench-host-client", daemon=True
            )
            with self._lock:
                self._clients.add(client)
                self._threads.add(thread)
            thread.start()

    def _serve(self, client: socket.socket) -> None:
        try:
            while True:
                op, args, targets = _receive(client)
                self.requests += 1
                self.last_request = time.monotonic()
                with self._lock:
                    self.in_flight += 1
                try:
                    reply: tuple[str, Any] = ("ok", self._handle(op, args, targets))
                except Exception as exc:  # the caller gets it, as if it had read directly
                    if _threads.exiting() or isinstance(exc, HostMoved):
                        return  # cut short by our exit or our leaving: it asks elsewhere
                    reply = ("error", exc)
                finally:
                    with self._lock:
                        self.in_flight -= 1
                try:
                    _send(client, reply)
                except (pickle.PicklingError, TypeError, AttributeError):
                    _send(client, ("error", StoreError(f"{op} failed: {reply[1]!r}")))
        except (ConnectionError, OSError, EOFError):
            pass  # the client went away, or the host is stopping
        finally:
            with self._lock:
                self._clients.discard(client)
                self._threads.discard(threading.current_thread())
            client.close()


class HostClient:
    """One connection to the host of a store, used by this process's threads in turn.

    Get it with :func:`client_for`: every store object of one database in a process shares
    one connection, so stores that are never closed do not leave sockets behind.
    """

    def __init__(self, name: bytes, timeout: float) -> None:
        self._name = name
        self._timeout = timeout
        self._sock: socket.socket | None = None
        self._pid = os.getpid()
        self._lock = threading.Lock()

    def call(self, op: str, args: tuple[Any, ...], targets: dict[str, int]) -> Any:
        """Run ``op(*args)`` at the host; raises ``HostUnavailable`` if there is none."""
        with self._lock:
            sock = self._connected()
            try:
                _send(sock, (op, args, targets))
                status, value = _receive(sock)
            except (OSError, EOFError, ConnectionError, pickle.UnpicklingError) as exc:
                self._drop()
                raise HostUnavailable(str(exc)) from None
        if status == "error":
            raise value
        return value

    def _connected(self) -> socket.socket:
        if self._pid != os.getpid():  # forked: the parent's connection is not ours
            self._sock, self._pid = None, os.getpid()
        if self._sock is not None:
            return self._sock
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(self._name)
            if _peer_uid(sock) != os.getuid():
                raise OSError("the store host runs as another user")
        except OSError as exc:
            sock.close()
            raise HostUnavailable(str(exc)) from None
        sock.settimeout(self._timeout)
        self._sock = sock
        return sock

    def _drop(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None

    def close(self) -> None:
        with self._lock:
            self._drop()


_CLIENTS: dict[tuple[bytes, float], HostClient] = {}
_CLIENTS_LOCK = threading.Lock()


def client_for(name: bytes, timeout: float) -> HostClient:
    """This process's connection to the host called ``name`` (made on first use)."""
    with _CLIENTS_LOCK:
        client = _CLIENTS.get((name, timeout))
        if client is None:
            client = _CLIENTS[(name, timeout)] = HostClient(name, timeout)
        return client
