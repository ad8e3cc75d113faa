"""The online table: the latest feature values per entity, for lookups at serving time.

Where it lives and why (docs/features.md says more): a folder beside the store,
``<store>/features/online/``, holding one Arrow IPC file per feature view and ``manifest.json``
naming the current file of each view.

* **Readers never wait and never see half a write.** A materialization writes new files next to
  the current ones, then replaces the manifest in one ``rename``: a reader sees the old state or
  the new one, for every view the materialization touched (atomic per run). Nothing already
  materialized is lost when a run fails: the old files stay current until the manifest changes.
* **Any process can read it** (a model server, a notebook), also while another writes, and it
  survives restarts: it is plain files. Writers take ``.lock`` (one at a time, per folder).
* **Lookups are in memory.** A reader maps each view's file (Arrow IPC, uncompressed: the pages
  are shared between processes and loaded on demand) and builds a dict from join key to row the
  first time a view is used; a lookup is then a few dict and list accesses. Before each lookup the
  reader compares the manifest's ``stat`` with the one it loaded (one system call) and reloads
  what changed.

The cost of this design is that each materialization rewrites a view's whole table (its merge with
the new values), which is fine for millions of entities; the DuckDB store file is not used at all
(it may be held by one process at a time, and a reader there would block writers).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._validation import fail
from workbench.features._errors import FeatureNotFoundError
from workbench.features._selection import Selection, output_columns, select

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["OnlineStore"]

FORMAT = 1
MANIFEST = "manifest.json"
LOCK = ".lock"
TS = "__wb_ts"
KEEP_RUNS = 50  # materialization runs remembered per view


class OnlineStore:
    """The online table in a folder (see the module): lookups and atomic replacement.

    Parameters
    ----------
    path
        The folder (``<store>/features/online`` for a store's own).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()  # this process's readers share the cached state
        self._stat: tuple[int, int, int] | None = None
        self._manifest: dict[str, Any] = {"format": FORMAT, "views": {}}
        self._tables: dict[str, _Table] = {}
        self._plans: dict[Any, list[_Part]] = {}

    def __repr__(self) -> str:
        return f"OnlineStore({str(self.path)!r})"

    # -- reading ---------------------------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        """The current manifest (views, their files and materialization runs)."""
        self._refresh()
        return self._manifest

    def _refresh(self) -> None:
        try:
            stat = os.stat(self.path / MANIFEST)
        except FileNotFoundError:
            key = None
        else:
            key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if key == self._stat:
            return
        with self._lock:
            if key == self._stat:
                return
            manifest = _read_manifest(self.path)
            kept = {
                name: table
                for name, table in self._tables.items()
                if manifest["views"].get(name, {}).get("file") == table.file
            }
            self._manifest, self._tables, self._plans, self._stat = manifest, kept, {}, key

    def _table(self, view: str) -> _Table:
        table = self._tables.get(view)
        if table is not None:
            return table
        with self._lock:
            table = self._tables.get(view)
            if table is None:
                entry = self._manifest["views"][view]
                table = _Table(self.path, entry)
                self._tables[view] = table
            return table

    def get_online_features(
        self,
        entity_rows: Any,
        features: Any,
        *,
        full_feature_names: bool = False,
        as_of: dt.datetime | None = None,
    ) -> dict[str, list[Any]]:
        """The latest materialized value of each feature for each entity row: a dict of columns
        (the join keys as given, then one list per feature). None where the entity has no
        value, or its value is older than the view's TTL at ``as_of`` (default: now, UTC).

        ``features`` is a :class:`~workbench.features.FeatureService` or a list of
        ``"view:feature"`` references (views and projections too); nothing is read from the
        workbench store.
        """
        caller = "get_online_features"
        selection = features if isinstance(features, Selection) else select(features, caller)
        if selection.service is not None and not selection.projections:
            raise fail(
                "features",
                caller,
                "a FeatureService object or a list of 'view:feature' references",
                features,
                "The online table knows no service names: pass the service itself "
                "(workbench.features.get_feature_service(name)).",
            )
        self._refresh()
        rows, key_columns = _entity_columns(entity_rows, caller)
        plan = self._plans.get((selection.projections, full_feature_names))
        if plan is None:
            plan = self._plan(selection, full_feature_names, caller)
            if len(self._plans) > 1000:
                self._plans = {}
            self._plans[selection.projections, full_feature_names] = plan
        now = as_of if as_of is not None else dt.datetime.now(dt.UTC).replace(tzinfo=None)
        now_us = _micros(now)
        out: dict[str, list[Any]] = {k: list(v) for k, v in key_columns.items()}
        for part in plan:
            table = self._table(part.view)
            keys = table.keys(key_columns, rows, part.view, caller)
            positions = [table.index.get(k) for k in keys]
            if table.ttl_us is not None:
                oldest = now_us - table.ttl_us
                times = table.times()
                positions = [None if p is None or times[p] < oldest else p for p in positions]
            for feature, column in part.columns:
                values = table.values(feature)
                out[column] = [None if p is None else values[p] for p in positions]
        return out

    def _plan(self, selection: Selection, full_feature_names: bool, caller: str) -> list[_Part]:
        views = self._manifest["views"]
        for projection in selection.projections:
            entry = views.get(projection.view)
            if entry is None:
                raise FeatureNotFoundError(
                    f"Feature view {projection.view!r} has not been materialized to the online "
                    f"table at {self.path}; materialized views: {sorted(views)}. Run "
                    f"workbench.features.materialize({projection.view!r}, start, end) first."
                )
            missing = [f for f in projection.features if f not in entry["features"]]
            if missing:
                raise FeatureNotFoundError(
                    f"The online table of feature view {projection.view!r} (version "
                    f"{entry['version']}) has no features {missing}; it has "
                    f"{list(entry['features'])}. Materialize the view's current version again."
                )
        columns = output_columns(selection.projections, full_feature_names, caller)
        parts: dict[str, list[tuple[str, str]]] = {}
        for view, feature, column in columns:
            parts.setdefault(view, []).append((feature, column))
        return [_Part(view, tuple(pairs)) for view, pairs in parts.items()]

    # -- writing ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def writing(self, timeout: float = 600.0) -> Iterator[_Writer]:
        """Hold the writers' lock; what the writer stages is committed in one manifest swap."""
        from filelock import FileLock, Timeout

        self.path.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.path / LOCK), timeout=timeout)
        try:
            lock.acquire()
        except Timeout:
            from workbench.exceptions import StoreBusyError

            raise StoreBusyError(
                f"Another materialization holds the online table {self.path} for more than "
                f"{timeout:.0f} s; try again when it is done."
            ) from None
        try:
            writer = _Writer(self.path)
            try:
                yield writer
            except BaseException:
                writer.abort()
                raise
            writer.commit()
        finally:
            lock.release()

    def current(self, view: str) -> pa.Table | None:
        """The current table of ``view`` (None if never materialized)."""
        entry = _read_manifest(self.path)["views"].get(view)
        if entry is None:
            return None
        return _open(self.path / entry["file"])


@dataclass(frozen=True)
class _Part:
    view: str
    columns: tuple[tuple[str, str], ...]  # (feature, output column)


class _Table:
    """One view's current file, mapped, with its key index built on first use."""

    def __init__(self, root: Path, entry: Mapping[str, Any]) -> None:
        self.file = entry["file"]
        self.join_keys: tuple[str, ...] = tuple(entry["join_keys"])
        self.key_kinds: dict[str, str] = dict(entry.get("key_kinds", {}))
        ttl = entry.get("ttl_seconds")
        self.ttl_us = None if ttl is None else round(ttl * 1_000_000)
        self.table = _open(root / self.file)
        self._index: dict[Any, int] | None = None
        self._values: dict[str, list[Any]] = {}
        self._times: list[int] | None = None
        self._lock = threading.Lock()

    @property
    def index(self) -> dict[Any, int]:
        if self._index is None:
            with self._lock:
                if self._index is None:
                    columns = [self.table.column(k).to_pylist() for k in self.join_keys]
                    keys = columns[0] if len(columns) == 1 else list(zip(*columns, strict=True))
                    self._index = dict(zip(keys, range(len(keys)), strict=True))
        return self._index

    def values(self, feature: str) -> list[Any]:
        found = self._values.get(feature)
        if found is None:
            found = self._values[feature] = self.table.column(feature).to_pylist()
        return found

    def times(self) -> list[int]:
        if self._times is None:
            import pyarrow as pa

            self._times = self.table.column(TS).cast(pa.int64()).to_pylist()
        return self._times

    def keys(
        self, columns: Mapping[str, Sequence[Any]], rows: int, view: str, caller: str
    ) -> list[Any]:
        for key in self.join_keys:
            if key not in columns:
                raise fail(
                    "entity_rows",
                    caller,
                    f"rows with the join keys {list(self.join_keys)} of feature view {view!r}",
                    f"keys {sorted(columns)}",
                    f"Add {key!r} to every row, e.g. [{{{key!r}: ...}}].",
                )
            _check_kind(key, columns[key], self.key_kinds.get(key), view, caller)
        if len(self.join_keys) == 1:
            return list(columns[self.join_keys[0]])
        return list(zip(*(columns[k] for k in self.join_keys), strict=True))


def _check_kind(key: str, values: Sequence[Any], kind: str | None, view: str, caller: str) -> None:
    if kind is None or not len(values):
        return
    value = values[0]
    if value is None:
        return
    given = _value_kind(value)
    if given != kind and not (kind == "float" and given == "integer"):
        raise fail(
            f"join key {key!r}",
            caller,
            f"{kind} values, as the online table of feature view {view!r} holds them",
            value,
            f"Convert it, e.g. {{{key!r}: {'int' if kind == 'integer' else 'str'}(value)}}.",
        )


def _value_kind(value: Any) -> str:
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int) or type(value).__name__.startswith(("int", "uint")):  # numpy too
        return "integer"
    return type(value).__name__


def _entity_columns(entity_rows: Any, caller: str) -> tuple[int, dict[str, Sequence[Any]]]:
    """Entity rows (list of dicts, dict of lists, or a DataFrame) as columns."""
    columns: dict[str, Sequence[Any]]
    if isinstance(entity_rows, Mapping):
        columns = {
            str(k): list(v) if not isinstance(v, list) else v for k, v in entity_rows.items()
        }
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise fail("entity_rows", caller, "columns of one length", entity_rows)
        return (lengths.pop() if lengths else 0), columns
    if isinstance(entity_rows, Sequence) and not isinstance(entity_rows, str):
        if not entity_rows:
            return 0, {}
        if not all(isinstance(r, Mapping) for r in entity_rows):
            raise fail(
                "entity_rows",
                caller,
                "a list of dicts such as [{'driver_id': 1001}]",
                entity_rows,
            )
        names = list(entity_rows[0])
        return len(entity_rows), {n: [r.get(n) for r in entity_rows] for n in names}
    if hasattr(entity_rows, "to_dict") and hasattr(entity_rows, "columns"):  # a DataFrame
        return len(entity_rows), {str(k): v for k, v in entity_rows.to_dict("list").items()}
    raise fail(
        "entity_rows",
        caller,
        "a list of dicts, a dict of lists or a DataFrame",
        entity_rows,
        "e.g. [{'driver_id': 1001}, {'driver_id': 1002}].",
    )


class _Writer:
    """Files staged by one materialization run, made current together by :meth:`commit`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.manifest = _read_manifest(root)
        self._staged: dict[str, tuple[str, dict[str, Any]]] = {}
        self._sweep()

    def _sweep(self) -> None:
        """Remove what a writer killed mid-run left: files no manifest names (the lock is ours,
        so no other writer is staging; a reader may still map an old one, which is harmless)."""
        current = {entry["file"] for entry in self.manifest["views"].values()}
        for path in self.root.glob("*/*"):
            name = f"{path.parent.name}/{path.name}"
            if path.is_file() and name not in current and path.suffix in (".arrow", ".tmp"):
                with contextlib.suppress(OSError):
                    path.unlink()
        for path in self.root.glob(f".{MANIFEST}.*.tmp"):
            with contextlib.suppress(OSError):
                path.unlink()

    def current(self, view: str) -> pa.Table | None:
        entry = self.manifest["views"].get(view)
        return None if entry is None else _open(self.root / entry["file"])

    def entry(self, view: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.manifest["views"].get(view)
        return found

    def stage(self, view: str, table: pa.Table | None, entry: dict[str, Any]) -> None:
        """Write ``table`` as the next file of ``view`` (not current until commit); None keeps
        the current file (only ``entry`` changes)."""
        import pyarrow as pa

        if table is None:
            self._staged[view] = (self.manifest["views"][view]["file"], entry)
            return
        folder = self.root / view
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.arrow"
        target = folder / name
        tmp = folder / f".{name}.tmp"
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as out:
            out.write_table(table, max_chunksize=1 << 20)
        _fsync(tmp)
        os.replace(tmp, target)
        self._staged[view] = (f"{view}/{name}", entry)

    def abort(self) -> None:
        """Remove the files staged so far (none of them became current)."""
        current = {entry["file"] for entry in self.manifest["views"].values()}
        for file, _ in self._staged.values():
            if file not in current:
                with contextlib.suppress(OSError):
                    (self.root / file).unlink()
        self._staged.clear()

    def commit(self) -> None:
        if not self._staged:
            return
        replaced = []
        views = dict(self.manifest["views"])
        for view, (file, entry) in self._staged.items():
            old = views.get(view)
            if old is not None and old["file"] != file:
                replaced.append(old["file"])
            views[view] = {**entry, "file": file}
        manifest = {"format": FORMAT, "views": views}
        tmp = self.root / f".{MANIFEST}.{uuid.uuid4().hex[:8]}.tmp"
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True, default=str))
        _fsync(tmp)
        os.replace(tmp, self.root / MANIFEST)
        _fsync_dir(self.root)
        for file in replaced:  # readers that mapped them keep them until they let go
            with contextlib.suppress(OSError):
                (self.root / file).unlink()


def _read_manifest(root: Path) -> dict[str, Any]:
    try:
        text = (root / MANIFEST).read_text()
    except FileNotFoundError:
        return {"format": FORMAT, "views": {}}
    manifest: dict[str, Any] = json.loads(text)
    if manifest.get("format", 0) > FORMAT:
        from workbench.exceptions import StoreVersionError

        raise StoreVersionError(
            f"The online table {root} was written by a newer workbench (format "
            f"{manifest.get('format')}); upgrade workbench to read it."
        )
    return manifest


def _open(path: Path) -> pa.Table:
    """The table in ``path``, its buffers mapped (the map lives as long as they do)."""
    import pyarrow as pa

    return pa.ipc.open_file(pa.memory_map(str(path), "r")).read_all()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        _fsync(path)


def _micros(value: dt.datetime) -> int:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    delta = value - dt.datetime(1970, 1, 1)
    return delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds
