"""The model registry's reads and writes over an open, exclusively held DuckDB connection.

The caller (``DuckDBStore``) holds the store lock for the whole call, so reading
``max(version) + 1`` and inserting it cannot interleave with another process: version numbers
are unique and gap-free per model. Each write runs in one transaction. Alias changes append to
``wb_alias_history`` (never updated or deleted); rollback replays that history.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

import duckdb

from workbench.entities import (
    AliasEvent,
    ModelVersion,
    NewModelVersion,
    RegisteredModel,
    freeze,
    thaw,
)
from workbench.exceptions import ConflictError, ModelNotFoundError, RunNotFoundError
from workbench.signature import ModelSignature

__all__ = [
    "alias_history",
    "alias_target",
    "create_version",
    "delete_alias",
    "delete_version",
    "get_version",
    "list_models",
    "list_versions",
    "rollback_alias",
    "set_alias",
    "update_model",
]

_VERSION_COLUMNS = """name, version, run_id, artifact_digest, flavor, signature, input_example,
    description, tags, created_at, lineage, artifact_path, created_by"""


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else value.replace(tzinfo=dt.UTC)


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(thaw(value), default=str)


class _Transaction:
    """``with _Transaction(con):`` commits on success and rolls back on any error."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def __enter__(self) -> duckdb.DuckDBPyConnection:
        self.con.begin()
        return self.con

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.con.commit()
        else:
            self.con.rollback()


# -- lookups --------------------------------------------------------------------------------


def _require_model(con: duckdb.DuckDBPyConnection, name: str) -> None:
    if con.execute("SELECT 1 FROM wb_models WHERE name = $n", {"n": name}).fetchone():
        return
    names = [r[0] for r in con.execute("SELECT name FROM wb_models ORDER BY name").fetchall()]
    close = [n for n in names if n.lower() == name.lower()]
    hint = f" Did you mean {close[0]!r}?" if close else ""
    shown = names[:20] + (["..."] if len(names) > 20 else [])
    raise ModelNotFoundError(
        f"No registered model named {name!r}.{hint} Registered models: {shown}. "
        "Register one with workbench.register_model(name, run=..., model=...)."
    )


def _live_versions(con: duckdb.DuckDBPyConnection, name: str) -> list[int]:
    return [
        r[0]
        for r in con.execute(
            "SELECT version FROM wb_model_versions WHERE name = $n AND deleted_at IS NULL "
            "ORDER BY version",
            {"n": name},
        ).fetchall()
    ]


def _aliases_by_version(con: duckdb.DuckDBPyConnection, name: str) -> dict[int, tuple[str, ...]]:
    found: dict[int, list[str]] = {}
    for alias, version in con.execute(
        "SELECT alias, version FROM wb_aliases WHERE name = $n ORDER BY alias", {"n": name}
    ).fetchall():
        found.setdefault(version, []).append(alias)
    return {v: tuple(a) for v, a in found.items()}


def _version_from_row(row: tuple[Any, ...], aliases: tuple[str, ...]) -> ModelVersion:
    (name, version, run_id, digest, flavor, signature, example, description, tags, created_at,
     lineage, artifact_path, created_by) = row  # fmt: skip
    signature_data = _load(signature)
    example_data = _load(example)
    return ModelVersion(
        name=name,
        version=int(version),
        run_id=run_id,
        artifact_digest=digest,
        flavor=flavor,
        signature=None if signature_data is None else ModelSignature.from_dict(signature_data),
        input_example=None if example_data is None else freeze(example_data),
        description=description,
        tags=freeze(_load(tags) or {}),
        created_at=_aware(created_at),  # type: ignore[arg-type]
        aliases=aliases,
        lineage=freeze(_load(lineage) or {}),
        artifact_path=artifact_path,
        created_by=created_by,
    )


def get_version(con: duckdb.DuckDBPyConnection, name: str, version: int | None) -> ModelVersion:
    """One live version (the latest when ``version`` is None)."""
    _require_model(con, name)
    live = _live_versions(con, name)
    if version is None:
        if not live:
            raise ModelNotFoundError(
                f"Model {name!r} has no versions left (all were deleted). Register one with "
                f"workbench.register_model({name!r}, run=..., model=...)."
            )
        version = live[-1]
    if version not in live:
        raise ModelNotFoundError(
            f"Model {name!r} has no version {version}. Its versions: {live}. "
            f"List them with workbench.list_model_versions({name!r})."
        )
    row = con.execute(
        f"SELECT {_VERSION_COLUMNS} FROM wb_model_versions WHERE name = $n AND version = $v",
        {"n": name, "v": version},
    ).fetchone()
    assert row is not None
    return _version_from_row(row, _aliases_by_version(con, name).get(version, ()))


def list_versions(con: duckdb.DuckDBPyConnection, name: str) -> list[ModelVersion]:
    """Every live version of a model, oldest first."""
    _require_model(con, name)
    aliases = _aliases_by_version(con, name)
    rows = con.execute(
        f"SELECT {_VERSION_COLUMNS} FROM wb_model_versions "
        "WHERE name = $n AND deleted_at IS NULL ORDER BY version",
        {"n": name},
    ).fetchall()
    return [_version_from_row(r, aliases.get(r[1], ())) for r in rows]


def alias_target(con: duckdb.DuckDBPyConnection, name: str, alias: str) -> int:
    """The version an alias points at."""
    _require_model(con, name)
    row = con.execute(
        "SELECT version FROM wb_aliases WHERE name = $n AND alias = $a", {"n": name, "a": alias}
    ).fetchone()
    if row is None:
        existing = {
            a: v
            for a, v in con.execute(
                "SELECT alias, version FROM wb_aliases WHERE name = $n ORDER BY alias",
                {"n": name},
            ).fetchall()
        }
        raise ModelNotFoundError(
            f"Model {name!r} has no alias {alias!r}. Its aliases: {existing}. Point one at a "
            f"version with workbench.set_alias({name!r}, {alias!r}, version)."
        )
    return int(row[0])


def list_models(con: duckdb.DuckDBPyConnection) -> list[RegisteredModel]:
    """Every registered model, by name."""
    aliases: dict[str, dict[str, int]] = {}
    for name, alias, version in con.execute(
        "SELECT name, alias, version FROM wb_aliases ORDER BY name, alias"
    ).fetchall():
        aliases.setdefault(name, {})[alias] = int(version)
    rows = con.execute(
        """SELECT m.name, m.description, m.tags, m.created_at, v.latest, coalesce(v.n, 0),
                  v.updated
           FROM wb_models m LEFT JOIN (
               SELECT name, max(version) AS latest, count(*) AS n, max(created_at) AS updated
               FROM wb_model_versions WHERE deleted_at IS NULL GROUP BY name) v
           ON v.name = m.name
           ORDER BY m.name"""
    ).fetchall()
    return [
        RegisteredModel(
            name=name,
            description=description,
            tags=freeze(_load(tags) or {}),
            created_at=_aware(created),  # type: ignore[arg-type]
            latest_version=None if latest is None else int(latest),
            versions=int(count),
            aliases=freeze(aliases.get(name, {})),
            updated_at=_aware(updated),
        )
        for name, description, tags, created, latest, count, updated in rows
    ]


# -- writes ---------------------------------------------------------------------------------


def create_version(
    con: duckdb.DuckDBPyConnection, new: NewModelVersion, now: dt.datetime
) -> ModelVersion:
    """Insert the next version of ``new.name`` (and the model, on first use)."""
    if not con.execute("SELECT 1 FROM wb_runs WHERE run_id = $r", {"r": new.run_id}).fetchone():
        raise RunNotFoundError(
            f"No run with id {new.run_id!r} in this store; a model version must point at the "
            "run that trained it. Find runs with workbench.search_runs()."
        )
    with _Transaction(con):
        con.execute(
            "INSERT INTO wb_models VALUES ($n, NULL, $t, '{}') ON CONFLICT DO NOTHING",
            {"n": new.name, "t": now},
        )
        row = con.execute(
            "SELECT coalesce(max(version), 0) + 1 FROM wb_model_versions WHERE name = $n",
            {"n": new.name},
        ).fetchone()
        assert row is not None
        version = int(row[0])
        path = new.artifact_path
        if new.record_artifact:
            path = f"models/{new.name}/v{version}/model{new.suffix}"
            con.execute(
                "INSERT INTO wb_artifacts VALUES ($r, $p, $d, $s, $m, $t) "
                "ON CONFLICT (run_id, path) DO UPDATE SET digest = excluded.digest, "
                "size = excluded.size, media_type = excluded.media_type, "
                "created_at = excluded.created_at",
                {
                    "r": new.run_id,
                    "p": path,
                    "d": new.artifact_digest,
                    "s": new.artifact_size,
                    "m": new.media_type,
                    "t": now,
                },
            )
        con.execute(
            """INSERT INTO wb_model_versions (name, version, run_id, artifact_path,
                   artifact_digest, flavor, signature, input_example, description, tags, lineage,
                   created_by, created_at)
               VALUES ($n, $v, $r, $p, $d, $f, $sig, $ex, $desc, $tags, $lin, $by, $t)""",
            {
                "n": new.name,
                "v": version,
                "r": new.run_id,
                "p": path,
                "d": new.artifact_digest,
                "f": new.flavor,
                "sig": None if new.signature is None else json.dumps(new.signature.to_dict()),
                "ex": _dump(new.input_example),
                "desc": new.description,
                "tags": _dump(new.tags),
                "lin": _dump(new.lineage),
                "by": new.created_by,
                "t": now,
            },
        )
    return get_version(con, new.name, version)


def update_model(
    con: duckdb.DuckDBPyConnection,
    name: str,
    description: str | None,
    tags: Mapping[str, str] | None,
) -> RegisteredModel:
    """Set a model's description and/or merge tags into its tags."""
    _require_model(con, name)
    with _Transaction(con):
        if description is not None:
            con.execute(
                "UPDATE wb_models SET description = $d WHERE name = $n",
                {"d": description, "n": name},
            )
        if tags:
            row = con.execute("SELECT tags FROM wb_models WHERE name = $n", {"n": name}).fetchone()
            merged = {**(_load(row[0] if row else None) or {}), **dict(tags)}
            con.execute(
                "UPDATE wb_models SET tags = $t WHERE name = $n",
                {"t": json.dumps(merged), "n": name},
            )
    return next(m for m in list_models(con) if m.name == name)


def delete_version(
    con: duckdb.DuckDBPyConnection, name: str, version: int, now: dt.datetime
) -> None:
    """Soft-delete a version (its number is never reused); refused while an alias points at it."""
    get_version(con, name, version)
    pointing = [
        r[0]
        for r in con.execute(
            "SELECT alias FROM wb_aliases WHERE name = $n AND version = $v ORDER BY alias",
            {"n": name, "v": version},
        ).fetchall()
    ]
    if pointing:
        raise ConflictError(
            f"Version {version} of model {name!r} is the target of aliases {pointing}. Move or "
            f"delete them first (workbench.set_alias / workbench.delete_alias)."
        )
    con.execute(
        "UPDATE wb_model_versions SET deleted_at = $t WHERE name = $n AND version = $v",
        {"t": now, "n": name, "v": version},
    )


def _current(con: duckdb.DuckDBPyConnection, name: str, alias: str) -> int | None:
    row = con.execute(
        "SELECT version FROM wb_aliases WHERE name = $n AND alias = $a", {"n": name, "a": alias}
    ).fetchone()
    return None if row is None else int(row[0])


def _append(
    con: duckdb.DuckDBPyConnection,
    name: str,
    alias: str,
    action: str,
    versions: tuple[int | None, int | None],
    actor: str | None,
    reason: str | None,
    now: dt.datetime,
) -> AliasEvent:
    """Point the alias at ``versions[1]`` (None: remove it) and append the history entry."""
    before, after = versions
    with _Transaction(con):
        if after is None:
            con.execute(
                "DELETE FROM wb_aliases WHERE name = $n AND alias = $a", {"n": name, "a": alias}
            )
        else:
            con.execute(
                "INSERT INTO wb_aliases VALUES ($n, $a, $v) "
                "ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version",
                {"n": name, "a": alias, "v": after},
            )
        row = con.execute("SELECT coalesce(max(seq), 0) + 1 FROM wb_alias_history").fetchone()
        assert row is not None
        seq = int(row[0])
        con.execute(
            "INSERT INTO wb_alias_history VALUES ($s, $n, $a, $act, $f, $to, $who, $why, $t)",
            {
                "s": seq,
                "n": name,
                "a": alias,
                "act": action,
                "f": before,
                "to": after,
                "who": actor,
                "why": reason,
                "t": now,
            },
        )
    return AliasEvent(seq, name, alias, action, before, after, actor, reason, _aware(now))  # type: ignore[arg-type]


def set_alias(
    con: duckdb.DuckDBPyConnection,
    name: str,
    alias: str,
    version: int,
    actor: str | None,
    reason: str | None,
    now: dt.datetime,
) -> AliasEvent | None:
    """Point ``alias`` at ``version``; None (and no history entry) if it already does."""
    get_version(con, name, version)
    before = _current(con, name, alias)
    if before == version:
        return None
    return _append(con, name, alias, "set", (before, version), actor, reason, now)


def delete_alias(
    con: duckdb.DuckDBPyConnection,
    name: str,
    alias: str,
    actor: str | None,
    reason: str | None,
    now: dt.datetime,
) -> AliasEvent:
    """Remove an alias (the history keeps where it pointed, so rollback can restore it)."""
    before = alias_target(con, name, alias)
    return _append(con, name, alias, "delete", (before, None), actor, reason, now)


def _rollback_stack(events: list[AliasEvent]) -> list[int | None]:
    """The alias's targets in order, as sets and deletes pushed them and rollbacks popped them."""
    stack: list[int | None] = []
    for event in events:
        if event.action == "rollback":
            while stack and stack[-1] != event.to_version:
                stack.pop()
            if not stack:
                stack.append(event.to_version)
        else:
            stack.append(event.to_version)
    return stack


def rollback_alias(
    con: duckdb.DuckDBPyConnection,
    name: str,
    alias: str,
    actor: str | None,
    reason: str | None,
    now: dt.datetime,
) -> AliasEvent:
    """Move the alias back to the version it pointed at before its current one.

    Repeated rollbacks keep walking back (3 → 2 → 1), skipping deleted versions; a rollback
    after ``delete_alias`` restores the alias.
    """
    _require_model(con, name)
    events = alias_history(con, name, alias)
    current = _current(con, name, alias)
    live = set(_live_versions(con, name))
    stack = _rollback_stack(events)
    if stack:
        stack.pop()  # the current target
    while stack and (stack[-1] is None or stack[-1] == current or stack[-1] not in live):
        stack.pop()
    if not stack:
        shown = [(e.action, e.from_version, e.to_version) for e in events]
        raise ConflictError(
            f"Alias {alias!r} of model {name!r} has no earlier version to roll back to "
            f"(history as (action, from, to): {shown}). Point it at a version explicitly with "
            f"workbench.set_alias({name!r}, {alias!r}, version)."
        )
    return _append(con, name, alias, "rollback", (current, stack[-1]), actor, reason, now)


def alias_history(
    con: duckdb.DuckDBPyConnection, name: str, alias: str | None = None
) -> list[AliasEvent]:
    """The alias history of a model (one alias, or all), oldest first."""
    _require_model(con, name)
    rows = con.execute(
        """SELECT seq, name, alias, action, from_version, to_version, actor, reason, changed_at
           FROM wb_alias_history WHERE name = $n AND ($a IS NULL OR alias = $a) ORDER BY seq""",
        {"n": name, "a": alias},
    ).fetchall()
    return [
        AliasEvent(s, n, a, act, f, to, who, why, _aware(t))  # type: ignore[arg-type]
        for s, n, a, act, f, to, who, why, t in rows
    ]
