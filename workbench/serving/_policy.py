"""Which model version answers a request: primary, canary split, shadow, fallback; kept live.

A :class:`TrafficPolicy` resolves the configured model URIs (``churn@champion``, ``churn/4``, ...)
to versions and keeps one loaded model per version (:class:`Served`). A background thread
(``workbench-serving-refresh``) re-resolves them every ``refresh_interval_s`` (1 s by default), so
``set_alias``, ``rollback`` and new ``latest`` versions take effect without a restart: the new
version is loaded and warmed up *before* it is swapped in, so no request waits for a load. On a
local store the refresh only queries the store when the database file changed since the last
look (a ``stat`` otherwise), and then holds the store lock for one short read, never lingering.
On a team store aliases move on other machines, which no local file tells: every refresh is a
few small queries on the server (short transactions that hold no lock anyone waits for).

If a URI stops resolving (alias deleted) or a new version fails to load, the server keeps serving
what it has and reports the problem in ``/health`` and the log.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.exceptions import ModelNotFoundError, WorkbenchError
from workbench.registry import ModelRegistry, ModelVersion, parse_model_uri
from workbench.serving._convert import InputConverter
from workbench.store import DuckDBStore, Store

if TYPE_CHECKING:
    from workbench.serving._config import ServingConfig
    from workbench.tracking.client import TrackingClient

__all__ = ["Served", "TrafficPolicy"]

logger = logging.getLogger("workbench.serving")

FORCED_REFRESH_S = 30.0
PRIMARY, CANARY, SHADOW, FALLBACK = "primary", "canary", "shadow", "fallback"
ROLES = (PRIMARY, CANARY, SHADOW, FALLBACK)


@dataclass(frozen=True)
class Served:
    """One loaded model version, ready to answer."""

    version: ModelVersion
    model: Any = field(repr=False)
    predict: Callable[[Any], Any] = field(repr=False)
    converter: InputConverter = field(repr=False)
    method: str = "predict"

    @property
    def name(self) -> str:
        return self.version.name

    @property
    def number(self) -> int:
        return self.version.version

    @property
    def label(self) -> str:
        return self.version.uri

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.number,
            "uri": self.label,
            "run_id": self.version.run_id,
            "method": self.method,
        }


class TrafficPolicy:
    """Resolves and loads the configured versions; decides which one answers each request."""

    def __init__(self, config: ServingConfig, client: TrackingClient) -> None:
        self.config = config
        self.client = client
        self.registry = ModelRegistry(client)
        self.store, self._db_file = _refresh_store(client.store)
        self._refs = {
            PRIMARY: parse_model_uri(config.model_uri),
            CANARY: None if config.canary_uri is None else parse_model_uri(config.canary_uri),
            SHADOW: None if config.shadow_uri is None else parse_model_uri(config.shadow_uri),
        }
        self._served: dict[str, Served | None] = dict.fromkeys(ROLES)
        self._cache: dict[tuple[str, int], Served] = {}
        self._load_lock = threading.Lock()
        self._random = random.Random()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen_file: tuple[int, int, int, int] | None = None
        self._last_resolve = 0.0
        self.problems: dict[str, str] = {}
        self.ready = False
        self.changes = 0

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        """Resolve and load every configured version (raises if the primary cannot be served),
        then start refreshing in the background."""
        self.refresh(force=True, strict=True)
        self.ready = True
        self._thread = threading.Thread(
            target=self._loop, name="workbench-serving-refresh", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.store is not self.client.store:
            self.store.close()

    def _loop(self) -> None:
        while not self._stop.wait(self.config.refresh_interval_s):
            try:
                self.refresh()
            except Exception:  # keep serving what we have; retried next interval
                logger.exception("Refreshing the served model versions failed; retrying.")

    # -- the hot path -------------------------------------------------------------------------
    @property
    def primary(self) -> Served:
        served = self._served[PRIMARY]
        assert served is not None, "the policy has not started"
        return served

    @property
    def shadow(self) -> Served | None:
        return self._served[SHADOW]

    @property
    def fallback(self) -> Served | None:
        return self._served[FALLBACK]

    def served(self) -> list[Served]:
        """Every version loaded for a role now."""
        return [s for s in self._served.values() if s is not None]

    def choose(self) -> tuple[Served, str]:
        """The version that answers the next request, and its role (primary or canary)."""
        canary = self._served[CANARY]
        if canary is not None and self._random.random() < self.config.canary_weight:
            return canary, CANARY
        return self.primary, PRIMARY

    # -- resolving ----------------------------------------------------------------------------
    def _file_state(self) -> tuple[int, int, int, int] | None:
        if self._db_file is None:
            return None
        state = []
        for path in (self._db_file, Path(f"{self._db_file}.wal")):
            try:
                st = os.stat(path)
                state += [st.st_mtime_ns, st.st_size]
            except FileNotFoundError:
                state += [0, 0]
        return (state[0], state[1], state[2], state[3])

    def refresh(self, *, force: bool = False, strict: bool = False) -> bool:
        """Re-resolve the URIs; load and swap in versions that changed. True if any did."""
        state = self._file_state()
        now = time.monotonic()
        if (
            not force
            and state is not None
            and state == self._seen_file
            and now - self._last_resolve < FORCED_REFRESH_S
        ):
            return False
        self._seen_file, self._last_resolve = state, now
        changed = False
        for role in (PRIMARY, CANARY, SHADOW):
            ref = self._refs[role]
            if ref is None:
                continue
            changed |= self._update(role, functools.partial(self._resolve, ref), strict=strict)
        if self.config.fallback_version is not None:
            changed |= self._update(FALLBACK, self._resolve_fallback, strict=False)
        if changed:
            self.changes += 1
            keep = {(s.name, s.number) for s in self._served.values() if s is not None}
            with self._load_lock:
                for key in [k for k in self._cache if k not in keep]:
                    del self._cache[key]
        return changed

    def _update(self, role: str, resolve: Callable[[], ModelVersion | None], strict: bool) -> bool:
        try:
            version = resolve()
            if version is None:
                self.problems.pop(role, None)
                changed = self._served[role] is not None
                self._served[role] = None
                return changed
            current = self._served[role]
            if current is not None and (current.name, current.number) == (
                version.name,
                version.version,
            ):
                self.problems.pop(role, None)
                return False
            served = self.load(version)
        except WorkbenchError as exc:
            if strict and role == PRIMARY:
                raise
            self.problems[role] = f"{type(exc).__name__}: {exc}"
            logger.error("Keeping the current %s model: %s", role, exc)
            return False
        previous = self._served[role]
        self._served[role] = served
        self.problems.pop(role, None)
        if previous is not None:
            logger.warning("The %s model is now %s (was %s).", role, served.label, previous.label)
        return True

    def _resolve(self, ref: Any) -> ModelVersion:
        version = ref.version
        if ref.alias is not None:
            version = self.store.get_model_alias(ref.name, ref.alias)
        return self.store.get_model_version(ref.name, version)

    def _resolve_fallback(self) -> ModelVersion | None:
        spec = str(self.config.fallback_version)
        primary = self._served[PRIMARY]
        if primary is None:
            return None
        if spec.isdigit():
            return self.store.get_model_version(primary.name, int(spec))
        if spec != "previous":
            return self._resolve(parse_model_uri(spec))
        ref = self._refs[PRIMARY]
        assert ref is not None
        current = primary.number
        if ref.alias is not None:
            # The version the alias was *set* from to reach the current one (rollbacks skipped:
            # after rolling back from 3 to 2, falling back to 3 would serve the bad version).
            for event in reversed(self.store.get_alias_history(ref.name, ref.alias)):
                if event.action == "set" and event.to_version == current and event.from_version:
                    try:
                        return self.store.get_model_version(ref.name, event.from_version)
                    except ModelNotFoundError:
                        break
        older = [v.version for v in self.store.list_model_versions(ref.name) if v.version < current]
        if not older:
            return None
        return self.store.get_model_version(ref.name, max(older))

    # -- loading ------------------------------------------------------------------------------
    def load(self, version: ModelVersion) -> Served:
        """The loaded, warmed-up model of ``version`` (cached per version)."""
        key = (version.name, version.version)
        with self._load_lock:
            served = self._cache.get(key)
            if served is not None:
                return served
        model = self.registry.load_model(version, trusted=self.config.trusted)
        method = self.config.method or (
            version.signature.method
            if version.signature is not None and version.signature.method
            else "predict"
        )
        predict = getattr(model, method, None)
        if not callable(predict):
            from workbench.exceptions import InvalidParameterError

            raise InvalidParameterError(
                f"Model {version.uri} ({type(model).__name__}) has no {method}() method to serve."
            )
        served = Served(version, model, predict, InputConverter(version.signature), method)
        _warm_up(served)
        with self._load_lock:
            self._cache[key] = served
        logger.info("Loaded %s (%s.%s).", version.uri, type(model).__name__, method)
        return served

    # -- reporting ----------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """Served versions per role, the policy, and problems (for /health and /metadata)."""
        served = {role: s.describe() for role, s in self._served.items() if s is not None}
        return {
            "model_uri": self.config.model_uri,
            "models": served,
            "canary": (
                None
                if self.config.canary_uri is None
                else {"uri": self.config.canary_uri, "weight": self.config.canary_weight}
            ),
            "shadow": self.config.shadow_uri,
            "fallback": (
                {"version": self.config.fallback_version}
                if self.config.fallback_version is not None
                else {"default": self.config.fallback_default}
                if self.config.has_fallback_default
                else None
            ),
            "timeout_s": self.config.timeout_s,
            "problems": dict(self.problems),
        }


def _refresh_store(store: Store) -> tuple[Store, Path | None]:
    """The store the refresh reads, and the file whose changes tell it to (``None``: none).

    A local store folder: an instance of our own that never lingers (the refresh holds the
    store lock for one short read only), and its database file. Any other store (a team store,
    an in-memory one) is read as the client's; there is no file to watch.
    """
    if isinstance(store, DuckDBStore) and store.location != ":memory:":
        own = DuckDBStore(store.root, linger=0.0, lock_timeout=store.lock_timeout)
        return own, store.db_path
    return store, None


def _warm_up(served: Served) -> None:
    """Call the model once on its input example: first calls pay one-off costs (imports, caches)."""
    example = served.version.input_example
    if example is None:
        return
    try:
        from workbench.serving._payloads import Table

        table = Table(list(example.get("columns", [])), [list(r) for r in example["data"]], "")
        data, _ = served.converter.convert(table)
        served.predict(data)
    except Exception as exc:  # a warm-up is best effort; real requests report real errors
        logger.info("Warm-up of %s skipped: %s", served.label, exc)
