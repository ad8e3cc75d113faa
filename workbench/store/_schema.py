"""The DuckDB schema of a workbench store, its version, and forward-only migrations.

Tables carry a ``wb_`` prefix and are private; the documented, stable surface for SQL users is
the set of views created at the end of each migration (``runs``, ``params``, ``metrics``,
``metric_history``, ``tags``, ``datasets``, ``run_inputs``, ``artifacts``, ``experiments``; from
version 2 the registry's ``models``, ``model_versions``, ``aliases``, ``alias_history``; from
version 3 serving's ``requests`` and ``deployments``; from version 6 the feature store's
``feature_definitions`` and ``feature_lineage``). Times are stored as ``TIMESTAMP`` in UTC.

A migration is a list of SQL statements taking the schema from version ``n`` to ``n + 1``;
``MIGRATIONS[n - 1]`` is that list. Version 1 is the initial schema.
"""

from __future__ import annotations

SCHEMA_VERSION = 6

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

# Version 2: the model registry. Version numbers are never reused: a deleted version keeps its
# row (``deleted_at``), so ``max(version) + 1`` stays unique. The alias history is append-only;
# ``seq`` orders it across the whole store.
_V2 = [
    """CREATE TABLE wb_models (
        name VARCHAR PRIMARY KEY,
        description VARCHAR,
        created_at TIMESTAMP NOT NULL,
        tags JSON
    )""",
    """CREATE TABLE wb_model_versions (
        name VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        run_id VARCHAR NOT NULL,
        artifact_path VARCHAR NOT NULL,
        artifact_digest VARCHAR NOT NULL,
        flavor VARCHAR NOT NULL,
        signature JSON,
        input_example JSON,
        description VARCHAR,
        tags JSON,
        lineage JSON,
        created_by VARCHAR,
        created_at TIMESTAMP NOT NULL,
        deleted_at TIMESTAMP,
        PRIMARY KEY (name, version)
    )""",
    """CREATE TABLE wb_aliases (
        name VARCHAR NOT NULL,
        alias VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        PRIMARY KEY (name, alias)
    )""",
    """CREATE TABLE wb_alias_history (
        seq BIGINT NOT NULL,
        name VARCHAR NOT NULL,
        alias VARCHAR NOT NULL,
        action VARCHAR NOT NULL,
        from_version INTEGER,
        to_version INTEGER,
        actor VARCHAR,
        reason VARCHAR,
        changed_at TIMESTAMP NOT NULL
    )""",
    # --- the documented views -------------------------------------------------------------
    """CREATE VIEW model_versions AS
        SELECT name, version, run_id, artifact_path, artifact_digest, flavor, description, tags,
               created_at, created_by, signature, input_example, lineage
        FROM wb_model_versions WHERE deleted_at IS NULL""",
    """CREATE VIEW models AS
        SELECT m.name, m.description, m.created_at, m.tags,
               max(v.version) AS latest_version, count(v.version) AS versions,
               max(v.created_at) AS updated_at
        FROM wb_models m LEFT JOIN wb_model_versions v
             ON v.name = m.name AND v.deleted_at IS NULL
        GROUP BY m.name, m.description, m.created_at, m.tags""",
    """CREATE VIEW aliases AS SELECT name, alias, version FROM wb_aliases""",
    """CREATE VIEW alias_history AS
        SELECT seq, name, alias, action, from_version, to_version, actor, reason, changed_at
        FROM wb_alias_history""",
]

# Version 3: serving. ``wb_requests`` is the request log (one row per model call: the primary
# answer, a canary's, a shadow's, a fallback's), appended through the journals like metric
# points; monitoring reads it. ``wb_deployments`` holds one row per server process, written
# synchronously; a ``running`` row whose process is gone is reported (and then stored) as ``dead``.
_V3 = [
    """CREATE TABLE wb_requests (
        request_id VARCHAR NOT NULL,
        deployment_id VARCHAR,
        model_name VARCHAR NOT NULL,
        model_version INTEGER,
        role VARCHAR NOT NULL,
        received_at TIMESTAMP NOT NULL,
        latency_ms DOUBLE,
        status INTEGER NOT NULL,
        n_rows BIGINT,
        inputs JSON,
        outputs JSON,
        error VARCHAR
    )""",
    """CREATE TABLE wb_deployments (
        deployment_id VARCHAR PRIMARY KEY,
        model_uri VARCHAR NOT NULL,
        host VARCHAR NOT NULL,
        port INTEGER NOT NULL,
        url VARCHAR NOT NULL,
        machine VARCHAR,
        pid INTEGER,
        pid_started DOUBLE,
        status VARCHAR NOT NULL,
        started_at TIMESTAMP NOT NULL,
        stopped_at TIMESTAMP,
        policy JSON
    )""",
    # --- the documented views -------------------------------------------------------------
    """CREATE VIEW requests AS
        SELECT request_id, deployment_id, model_name, model_version, role, received_at,
               latency_ms, status, n_rows, inputs, outputs, error
        FROM wb_requests""",
    """CREATE VIEW deployments AS
        SELECT deployment_id, model_uri, status, url, host, port, machine, pid, started_at,
               stopped_at, policy
        FROM wb_deployments""",
]

# Version 4: damage found in spool journals. Damaged bytes are copied to ``spool/corrupt/`` and
# skipped; each such range is recorded here once (``workbench doctor`` lists them).
_V4 = [
    """CREATE TABLE wb_spool_damage (
        journal VARCHAR NOT NULL,
        start_offset BIGINT NOT NULL,
        end_offset BIGINT NOT NULL,
        reason VARCHAR NOT NULL,
        copy VARCHAR NOT NULL,
        host VARCHAR,
        pid INTEGER,
        found_at TIMESTAMP NOT NULL,
        PRIMARY KEY (journal, start_offset)
    )""",
]

# Version 5: who wrote (``user@host``): the creator of a run and of an experiment, and who
# started a deployment (model versions and alias changes had it already). Runs logged before
# get it from their recorded context where it has the user.
_V5 = [
    "ALTER TABLE wb_runs ADD COLUMN created_by VARCHAR",
    "ALTER TABLE wb_experiments ADD COLUMN created_by VARCHAR",
    "ALTER TABLE wb_deployments ADD COLUMN started_by VARCHAR",
    """UPDATE wb_runs SET created_by = (context->>'user') || '@' || host
        WHERE created_by IS NULL AND host IS NOT NULL AND context->>'user' IS NOT NULL""",
    """CREATE OR REPLACE VIEW experiments AS
        SELECT experiment_id, name, created_at, description, created_by FROM wb_experiments
        WHERE deleted_at IS NULL""",
    """CREATE OR REPLACE VIEW runs AS
        SELECT r.run_id, r.name, e.name AS experiment, r.experiment_id, r.parent_id, r.status,
               r.error, r.start_time, r.end_time,
               epoch(r.end_time) - epoch(r.start_time) AS duration_s, r.host, r.context,
               r.created_by
        FROM wb_runs r JOIN wb_experiments e USING (experiment_id)
        WHERE r.deleted_at IS NULL AND e.deleted_at IS NULL""",
    """CREATE OR REPLACE VIEW deployments AS
        SELECT deployment_id, model_uri, status, url, host, port, machine, pid, started_at,
               stopped_at, policy, started_by
        FROM wb_deployments""",
]


PUBLIC_VIEWS = (
    "alias_history",
    "aliases",
    "artifacts",
    "datasets",
    "deployments",
    "experiments",
    "feature_definitions",
    "feature_lineage",
    "metric_history",
    "metrics",
    "model_versions",
    "models",
    "params",
    "requests",
    "run_inputs",
    "runs",
    "tags",
)


# Version 6: the feature store's definitions (workbench.features). Every registration of an
# entity, feature view or feature service whose definition changed is a new version (1, 2, 3, ...
# per kind and name, never rewritten); ``spec`` is the definition as canonical JSON and
# ``fingerprint`` its SHA-256. ``wb_feature_lineage`` links a run to the training set it was given
# (the dataset ``digest`` of ``run_inputs``): the feature service version, and each feature with
# the version of its view (whose spec names the source).
_V6 = [
    """CREATE TABLE wb_feature_definitions (
        kind VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        fingerprint VARCHAR NOT NULL,
        spec JSON NOT NULL,
        description VARCHAR,
        created_by VARCHAR,
        created_at TIMESTAMP NOT NULL,
        PRIMARY KEY (kind, name, version)
    )""",
    """CREATE TABLE wb_feature_lineage (
        run_id VARCHAR NOT NULL,
        digest VARCHAR NOT NULL,
        service VARCHAR,
        service_version INTEGER,
        features JSON NOT NULL,
        n_rows BIGINT,
        created_at TIMESTAMP NOT NULL,
        PRIMARY KEY (run_id, digest)
    )""",
    # --- the documented views -------------------------------------------------------------
    """CREATE VIEW feature_definitions AS
        SELECT kind, name, version, fingerprint, description, created_by, created_at, spec
        FROM wb_feature_definitions""",
    """CREATE VIEW feature_lineage AS
        SELECT run_id, digest, service, service_version, features, n_rows, created_at
        FROM wb_feature_lineage""",
]

MIGRATIONS: list[list[str]] = [_V1, _V2, _V3, _V4, _V5, _V6]

assert len(MIGRATIONS) == SCHEMA_VERSION
