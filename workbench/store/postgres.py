"""The team store: one PostgreSQL database shared by the processes of many machines.

Logging works as on the local store: a batch is appended to this process's journal on local
disk (``_spool``), durable against ``kill -9`` when the append returns, and never waits on the
network. A ``workbench-shipper`` thread ships the journals of the machine to PostgreSQL in bulk
and exactly once (``_pg_ingest``); a journal whose process died is shipped by the next
workbench process of the machine that uses the same store. Reads, the registry and
deployments run the local store's SQL on the server through ``_pg_sql.PgSession``, after this
process's own journals are shipped (a process reads its own writes).

The local part of a team store (journals; artifacts, or their staging area and cache when they
live in a shared location: ``_team_artifacts``) lives in a folder per store URL under the
user's cache directory, or where ``local=`` says.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from workbench import _threads
from workbench.config import redact_url, without_password
from workbench.exceptions import (
    InvalidParameterError,
    ReadOnlyStoreError,
    StoreError,
)
from workbench.store import _ops, _pg, _pg_ingest, _pg_live, _team_artifacts
from workbench.store._pg_sql import PgResult, PgSession, translate
from workbench.store._schema import PUBLIC_VIEWS
from workbench.store._spool import Spool
from workbench.store._sql_store import SqlStore
from workbench.store._team_artifacts import set_artifacts_location as set_artifacts_location
from workbench.store.artifacts import ArtifactStore
from workbench.store.base import ProcessInfo

if TYPE_CHECKING:
    import pandas as pd
    import psycopg

    from workbench.store.batch import Batch

logger = logging.getLogger("workbench.store")
T = TypeVar("T")

SHIP_EVERY_S = 0.25  # how often the shipper looks for new journal bytes
SHIP_BYTES = 8 << 20  # the most one journal transaction ships
SHIP_POLL_S = 0.02  # how often sync() looks again at a journal another process ships
SYNC_WAIT_S = 60.0  # how long sync() waits for journals other processes ship
ALL_SHIPPED = 1 << 62  # the offset of a journal shipped to its end


def local_folder(url: str) -> Path:
    """The folder of this machine's part of the team store at ``url`` (journals, artifacts):
    one per database, whatever user or password the URL carries."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    digest = hashlib.sha256(_database_identity(url).encode()).hexdigest()[:16]
    return base / "workbench" / "team" / digest


def _database_identity(url: str) -> str:
    """``host:port/database`` of ``url`` (the user and password left out)."""
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(url)
    return f"{info.get('host', '')}:{info.get('port', '5432')}/{info.get('dbname', '')}"


class PostgresStore(SqlStore):
    """A workbench store in a PostgreSQL database (``postgresql://USER@HOST:PORT/DATABASE``).

    The password goes in ``PGPASSWORD`` or ``~/.pgpass``, never in the URL of a command line.
    ``local`` is this machine's folder for the store's journals and artifacts (default: one per
    database under the user's cache directory). ``artifacts`` is where the artifact blobs live,
    a folder every machine reaches or a URL such as ``s3://BUCKET/PREFIX``; it is recorded in
    the store for every machine if none is yet. Without it: ``WORKBENCH_ARTIFACTS``, else the
    store's recorded location, else ``local`` (``_team_artifacts``; docs/team-store.md).
    """

    def __init__(
        self,
        url: str,
        *,
        local: str | os.PathLike[str] | None = None,
        read_only: bool = False,
        artifacts: str | os.PathLike[str] | None = None,
    ) -> None:
        self.location = redact_url(url)
        self.read_only = read_only
        self._url = url
        self._con = _pg.connect(url)
        try:
            _pg.ensure_schema(self._con, self.location, read_only=read_only)
        except BaseException:
            self._con.close()
            raise
        self._session = PgSession(self._con)
        self._lock = threading.RLock()  # one connection, used by this process's threads in turn
        self.root = Path(local) if local is not None else local_folder(url)
        try:
            self._artifacts = _team_artifacts.open_artifacts(
                self._con,
                self.root / "artifacts",
                explicit=artifacts,
                location=self.location,
                read_only=read_only,
            )
        except BaseException:
            self._con.close()
            raise
        if not read_only:
            (self.root / "spool").mkdir(parents=True, exist_ok=True)
        self.spool = Spool(self.root / "spool")
        self._shipped: dict[str, int] = {}  # journal -> offset shipped (as far as we know)
        self._shipping = threading.Lock()  # one shipping pass of this process at a time
        self._ship_con: psycopg.Connection[Any] | None = None
        self._shipper: _threads.Worker | None = None
        self._failing = False
        self._closed = False
        self._beating: dict[str, ProcessInfo] = {}  # this process's, while it runs runs
        self._beat_at = self._reaped_at = float("-inf")
        _threads.at_exit(functools.partial(_close_at_exit, weakref.ref(self)), _threads.FILES)

    # -- writes --------------------------------------------------------------------------------
    def write_batch(self, batch: Batch) -> None:
        if self.read_only:
            raise ReadOnlyStoreError(self._read_only_reason("log to it"))
        self.spool.write(batch)
        if self._shipper is None and not _threads.exiting():
            self._shipper = _threads.Worker("workbench-shipper", self._ship_loop).start()

    def sync(self, *, block: bool = True) -> bool:
        """Ship journals to the server: all of this machine's (``block``), or this process's.
        With ``block``, this machine's artifact blobs are uploaded first (when they live in a
        shared location), so every row shipped comes with its blob."""
        if self.read_only:
            return True
        if block and not self._artifacts.upload_pending():
            return False
        targets = self._targets(own=not block)
        deadline = time.monotonic() + SYNC_WAIT_S
        while True:
            progress = self._ship(targets)
            if self._reached(targets):
                return True
            if not progress:  # another process ships it right now, or it is damaged
                self._learn_offsets(targets)
                if self._reached(targets):
                    return True
                if time.monotonic() > deadline:
                    return False
                time.sleep(SHIP_POLL_S)

    def _reached(self, targets: Mapping[str, int]) -> bool:
        return all(self._shipped.get(key, 0) >= size for key, size in targets.items())

    def _learn_offsets(self, targets: Mapping[str, int]) -> None:
        """What other processes shipped of ``targets``: the server's offsets (a journal
        shipped to its end and removed counts as all shipped)."""
        with self._shipping:
            if self._ship_con is None or self._closed:
                return
            with self._ship_con.transaction():
                rows = dict(
                    self._ship_con.execute(
                        'SELECT journal, "offset" FROM wb_spool_offsets WHERE journal = ANY(%s)',
                        (list(targets),),
                    ).fetchall()
                )
        present = {Spool.key(p) for p in self.spool.journals()}
        for key in targets:
            offset = rows.get(key)
            if offset == _pg_ingest.DONE or (offset is None and key not in present):
                offset = ALL_SHIPPED
            if offset is not None:
                self._shipped[key] = max(int(offset), self._shipped.get(key, 0))

    def heartbeat(self, process: ProcessInfo) -> None:
        """Note that ``process`` is alive; the shipper tells the server (``_pg_live``), so a
        logging call never waits on the network for it."""
        self._beating[process.proc_id] = process

    def retire(self, process: ProcessInfo) -> None:
        """This process is done writing: ship its journal, remove its heartbeat."""
        self._beating.pop(process.proc_id, None)
        if not self.read_only:
            self.spool.close()
            with contextlib.suppress(Exception):  # the server is down: the next process ships it
                self.sync(block=False)
            with contextlib.suppress(Exception), self._shipping:  # the server is down: it
                if self._ship_con is not None and not self._closed:  # times out, harmlessly
                    _pg_live.forget(self._ship_con, [process.proc_id])

    def for_child_process(self) -> tuple[str, dict[str, str]]:
        from psycopg.conninfo import conninfo_to_dict

        password = conninfo_to_dict(self._url).get("password")
        secrets = {} if password is None else {"PGPASSWORD": str(password)}
        return without_password(self._url), secrets

    @property
    def sqlalchemy_url(self) -> str:
        """The database as a SQLAlchemy URL (psycopg 3 driver), for tools beside workbench:
        sweeps keep their Optuna study in it by default."""
        return "postgresql+psycopg://" + self._url.split("://", 1)[1]

    @property
    def artifacts(self) -> ArtifactStore:
        return self._artifacts

    def _targets(self, *, own: bool) -> dict[str, int]:
        if own:
            return self.spool.own_targets()
        return {Spool.key(p): self.spool.pending_bytes(p, 0) for p in self.spool.journals()}

    def _ship(self, targets: Mapping[str, int] | None = None) -> int:
        """One shipping pass over this machine's journals; returns what it did (batches
        shipped, damaged stretches set aside, journals finished)."""
        with self._shipping:
            if self._closed:
                return 0  # closed: the journals wait for the next process
            if self._ship_con is None or self._ship_con.closed:
                self._ship_con = _pg.connect(self._url)
            shipped = _pg_ingest.ship_journals(
                self._ship_con,
                self.spool,
                max_bytes=SHIP_BYTES,
                only=None if targets is None else set(targets),
            )
            for key, offset in shipped.offsets.items():
                self._shipped[key] = max(offset, self._shipped.get(key, 0))
            for key in shipped.finished:
                self._shipped[key] = ALL_SHIPPED  # and the file is gone
            return shipped.batches + shipped.damaged + len(shipped.finished)

    def _keep_alive(self) -> None:
        """Every few seconds: this process's heartbeats to the server, and dead processes'
        runs marked ``killed`` (``_pg_live``)."""
        now = time.monotonic()
        with self._shipping:
            if self._ship_con is None or self._closed:
                return
            if now - self._beat_at > _pg_live.BEAT_EVERY_S:
                _pg_live.beat(self._ship_con, list(self._beating.values()))
                self._beat_at = now
            if now - self._reaped_at > _pg_live.REAP_EVERY_S:
                _pg_live.reap(self._ship_con)
                self._reaped_at = now

    def _ship_loop(self, stop: threading.Event) -> None:
        while not stop.wait(SHIP_EVERY_S):
            try:
                self._ship()
                self._keep_alive()
            except Exception as exc:  # the server is down, say: keep the journals, retry
                if not self._failing and not _threads.exiting():
                    logger.error(
                        "workbench could not ship journals to %s; retrying: %s", self.location, exc
                    )
                self._failing = True
                with contextlib.suppress(Exception):
                    if self._ship_con is not None:
                        self._ship_con.close()
            else:
                if self._failing:
                    logger.warning("workbench ships journals to %s again.", self.location)
                self._failing = False

    # -- reads ---------------------------------------------------------------------------------
    def _read(self, op: str, *args: Any) -> Any:
        """Run the read ``op`` on the server, after this process's own journals are shipped."""
        if not self.read_only:
            self._ship_own()

        def read() -> Any:
            with self._con.transaction():
                # One snapshot for every statement of the read: the search selects its page
                # again in each of its queries, which must see the same runs (under READ
                # COMMITTED a run shipped in between shifted the rows).
                self._con.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                return _ops.READS[op](self._session, *args)

        return self._on_server(read, retry=True)

    def _ship_own(self) -> None:
        """Ship what this process logged and the server has not seen (it reads its writes)."""
        own = self.spool.own_targets()
        if any(self._shipped.get(key, 0) < size for key, size in own.items()):
            with contextlib.suppress(Exception):  # the server is down: read what is there
                self._ship(own)

    def _on_server(self, work: Callable[[], T], *, retry: bool) -> T:
        """``work()`` on this process's connection to the server (one thread at a time). A
        connection the server dropped (a restart, an outage) is opened again; a read that
        found it dropped is run again once. ``StoreError`` while the server is unreachable
        (logging goes on meanwhile: it only needs the journal)."""
        import psycopg

        for attempt in (1, 2):
            with self._lock:
                if self._closed:
                    raise StoreError(f"The team store {self.location} is closed.")
                if self._con.closed or self._con.broken:
                    self._reconnect()
                try:
                    return work()
                except psycopg.OperationalError as exc:
                    if not (self._con.closed or self._con.broken):
                        raise  # the statement failed, not the connection
                    if attempt == 2 or not retry:
                        reason = _first_line(exc)
                        raise StoreError(
                            f"The team store {self.location} stopped answering ({reason}). "
                            "What this process logs is kept in its journal and shipped when the "
                            "server is back; retry the read then."
                        ) from None
        raise AssertionError("unreachable")

    def _reconnect(self) -> None:
        with contextlib.suppress(Exception):
            self._con.close()
        self._con = _pg.connect(self._url)
        self._session = PgSession(self._con)

    def sql(self, query: str, parameters: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """One SELECT in PostgreSQL's dialect (``$name`` parameters, and the DuckDB functions
        of the documented examples translated as for workbench's own queries), run in a
        read-only transaction that is rolled back."""
        import psycopg

        if not self.read_only:
            self._ship_own()

        def select() -> pd.DataFrame:
            try:
                with self._con.transaction() as transaction:
                    self._con.execute("SET TRANSACTION READ ONLY")
                    cursor = self._con.cursor()  # server-side binding: exactly one statement
                    cursor.execute(translate(query), dict(parameters or {}))
                    if cursor.description is None:
                        raise psycopg.ProgrammingError("the statement returns no rows")
                    frame = PgResult(cursor).df()
                    raise psycopg.Rollback(transaction)
            except (psycopg.Error, KeyError) as exc:
                if self._con.closed or self._con.broken:
                    raise  # the connection failed, not the query: _on_server says so
                raise InvalidParameterError(
                    f"workbench.sql runs exactly one read-only SELECT; this query failed: "
                    f"{_first_line(exc)}. Query the views {', '.join(PUBLIC_VIEWS)}."
                ) from None
            return frame

        return self._on_server(select, retry=True)

    # -- changes -------------------------------------------------------------------------------
    def _change(
        self, change: Callable[..., Any], *args: Any, lock: tuple[int, str] | None = None
    ) -> Any:
        """``change(session, *args)`` in one transaction, after this process's own journals
        are shipped; ``lock`` is taken as an advisory lock for the transaction, so a change
        on another machine waits for it (the shipper creates experiments under the same)."""
        if self.read_only:
            raise ReadOnlyStoreError(self._read_only_reason("change it"))
        with contextlib.suppress(StoreError):  # unreachable: the uploader retries (it logs)
            self._artifacts.upload_pending(own=True)  # a registered model's file, for others
        self._ship_own()

        def apply() -> Any:
            with self._con.transaction():
                if lock is not None:
                    kind, name = lock
                    self._session.execute(
                        "SELECT pg_advisory_xact_lock(hashtextextended($n, $k))",
                        {"n": name, "k": kind},
                    )
                return change(self._session, *args)

        import psycopg

        try:
            return self._on_server(apply, retry=False)  # not twice: it may have been applied
        except psycopg.errors.InsufficientPrivilege as exc:
            reason = str(exc).strip().splitlines()[0]
            raise ReadOnlyStoreError(
                f"The team store {self.location} refused the change ({reason}): the database "
                "role this process connects as may only read. Connect as a role that may write "
                "(docs/team-store.md lists the grants)."
            ) from None

    # -- life ------------------------------------------------------------------------------------
    def _read_only_reason(self, action: str) -> str:
        return (
            f"The team store {self.location} is open read-only, so workbench cannot {action}. "
            "Connect with a role that may write (and without read_only=True)."
        )

    def close(self) -> None:
        """Stop shipping (what is left stays in the journals for the next process), close."""
        if self._closed:
            return
        if self._shipper is not None:
            self._shipper.stop()
            self._shipper = None
        self._artifacts.close()  # uploads this process's blobs first, if the location answers
        with contextlib.suppress(Exception):
            self.sync(block=False)  # this process's own journals, if the server answers
        with self._lock:
            self._closed = True
            for con in (self._con, self._ship_con):
                if con is not None:
                    with contextlib.suppress(Exception):
                        con.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _close_at_exit(ref: weakref.ref[PostgresStore]) -> None:
    store = ref()
    if store is not None:
        with contextlib.suppress(Exception):
            store.close()
