"""The DuckDB schema of a workbench store, its version, and forward-only migrations.

Tables carry a ``wb_`` prefix and are private; the documented, stable surface for SQL users is
the set of views created at the end (``runs``, ``params``, ``metrics``, ``metric_history``,
``tags``, ``datasets``, ``run_inputs``, ``artifacts``, ``experiments``). Times are stored as
``TIMESTAMP`` in UTC.

A migration is a list of SQL statements taking the schema from version ``n`` to ``n + 1``;
``MIGRATIONS[n - 1]`` is that list. Version 1 is the initial schema.
"""

from __future__ import annotations

SCHEMA_VERSION = 1

_V1 = [
    """CREATE TABLE wb_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)""",
    """CREATE TABLE wb_experiments (
        experiment_id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        deleted_at TIMESTAMP,
        description VARCHAR
    )""",
    """CREATE TABLE wb_runs (
        run_id VARCHAR PRIMARY KEY,
        experiment_id VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        parent_id VARCHAR,
        status VARCHAR NOT NULL,
        error VARCHAR,
        start_time TIMESTAMP NOT NULL,
        end_time TIMESTAMP,
        deleted_at TIMESTAMP,
        proc_id VARCHAR,
        host VARCHAR,
        pid INTEGER,
        pid_started DOUBLE,
        context JSON
    )""",
    """CREATE TABLE wb_params (
        run_id VARCHAR NOT NULL,
        key VARCHAR NOT NULL,
        value VARCHAR,
        value_num DOUBLE,
        value_type VARCHAR NOT NULL,
        PRIMARY KEY (run_id, key)
    )""",
    """CREATE TABLE wb_tags (
        run_id VARCHAR NOT NULL,
        key VARCHAR NOT NULL,
        value VARCHAR NOT NULL,
        PRIMARY KEY (run_id, key)
    )""",
    """CREATE TABLE wb_metric_points (
        run_id VARCHAR NOT NULL,
        key VARCHAR NOT NULL,
        step BIGINT NOT NULL,
        value DOUBLE NOT NULL,
        timestamp TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE wb_metric_summary (
        run_id VARCHAR NOT NULL,
        key VARCHAR NOT NULL,
        latest DOUBLE NOT NULL,
        latest_step BIGINT NOT NULL,
        latest_timestamp TIMESTAMP NOT NULL,
        min DOUBLE NOT NULL,
        max DOUBLE NOT NULL,
        count BIGINT NOT NULL,
        PRIMARY KEY (run_id, key)
    )""",
    """CREATE TABLE wb_datasets (
        digest VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        source VARCHAR,
        n_rows BIGINT,
        n_cols BIGINT,
        schema JSON,
        profile JSON,
        created_at TIMESTAMP NOT NULL
    )""",
    """CREATE TABLE wb_run_inputs (
        run_id VARCHAR NOT NULL,
        digest VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        context VARCHAR NOT NULL,
        PRIMARY KEY (run_id, digest, context)
    )""",
    """CREATE TABLE wb_artifacts (
        run_id VARCHAR NOT NULL,
        path VARCHAR NOT NULL,
        digest VARCHAR NOT NULL,
        size BIGINT NOT NULL,
        media_type VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        PRIMARY KEY (run_id, path)
    )""",
    """CREATE TABLE wb_spool_offsets (journal VARCHAR PRIMARY KEY, "offset" BIGINT NOT NULL)""",
    # --- the documented views -------------------------------------------------------------
    """CREATE VIEW experiments AS
        SELECT experiment_id, name, created_at, description FROM wb_experiments
        WHERE deleted_at IS NULL""",
    """CREATE VIEW runs AS
        SELECT r.run_id, r.name, e.name AS experiment, r.experiment_id, r.parent_id, r.status,
               r.error, r.start_time, r.end_time,
               epoch(r.end_time) - epoch(r.start_time) AS duration_s, r.host, r.context
        FROM wb_runs r JOIN wb_experiments e USING (experiment_id)
        WHERE r.deleted_at IS NULL AND e.deleted_at IS NULL""",
    """CREATE VIEW params AS SELECT run_id, key, value, value_num, value_type FROM wb_params""",
    """CREATE VIEW tags AS SELECT run_id, key, value FROM wb_tags""",
    """CREATE VIEW metrics AS
        SELECT run_id, key, latest AS value, latest_step AS step, latest_timestamp AS timestamp,
               min, max, count
        FROM wb_metric_summary""",
    """CREATE VIEW metric_history AS
        SELECT run_id, key, step, value, timestamp FROM wb_metric_points""",
    """CREATE VIEW datasets AS
        SELECT digest, name, source, n_rows, n_cols, schema, profile, created_at
        FROM wb_datasets""",
    """CREATE VIEW run_inputs AS SELECT run_id, digest, name, context FROM wb_run_inputs""",
    """CREATE VIEW artifacts AS
        SELECT run_id, path, digest, size, media_type, created_at FROM wb_artifacts""",
]

MIGRATIONS: list[list[str]] = [_V1]

PUBLIC_VIEWS = (
    "artifacts",
    "datasets",
    "experiments",
    "metric_history",
    "metrics",
    "params",
    "run_inputs",
    "runs",
    "tags",
)

assert len(MIGRATIONS) == SCHEMA_VERSION
