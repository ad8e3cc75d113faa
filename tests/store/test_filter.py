"""Tests of the run filter language, run against a real in-memory DuckDB store schema."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.exceptions import FilterSyntaxError, InvalidParameterError
from workbench.store._filter import Join, RunQuery
from workbench.store._schema import MIGRATIONS

INJECTION = "a'; DROP TABLE wb_runs; --"
GB = [f"r{i:02d}" for i in range(8, 20)]  # twelve plain runs in exp-b
E1 = ["r00", "r01", "r02", "r03", "r04"]
ALL = [f"r{i:02d}" for i in range(20)]

# run_id, experiment_id, name, status, start, duration in seconds (None: still running), parent
_D1, _D2, _D3 = datetime(2026, 1, 30, 10), datetime(2026, 2, 1, 9), datetime(2026, 2, 2)
RUNS: list[tuple[str, str, str, str, datetime, int | None, str | None]] = [
    ("r00", "e1", "cv-fold-0", "FINISHED", _D1, 60, None),
    ("r01", "e1", "cv-fold-1", "FINISHED", _D1 + timedelta(hours=1), 120, "r00"),
    ("r02", "e1", "CV-fold-2", "FAILED", _D1 + timedelta(hours=2), 30, "r00"),
    ("r03", "e1", "baseline", "FINISHED", _D1 + timedelta(hours=3), 3600, None),
    ("r04", "e1", "baseline-2", "RUNNING", _D1 + timedelta(hours=4), None, None),
    ("r05", "e2", "sweep-1", "FINISHED", _D2, 10, None),
    ("r06", "e2", "sweep-2", "FINISHED", _D2 + timedelta(hours=1), 20, None),
    ("r07", "e2", "sweep-3", "KILLED", _D2 + timedelta(hours=2), 5, None),
] + [
    (r, "e2", f"gb-{r}", "FINISHED", _D3 + timedelta(hours=i), 100, None) for i, r in enumerate(GB)
]
PARAMS: dict[str, dict[str, str]] = {
    "r00": {"model": "rf", "lr": "0.01", "n": "10", "flag": "True", "learning rate": "0.5"},
    "r01": {"model": "rf", "lr": "0.1", "n": "10.0", "flag": "False"},
    "r02": {"model": "xgb", "lr": "0.001", "n": "20"},
    "r03": {"model": "RF", "lr": "0.05", "n": "abc", "we`ird": "1"},
    "r04": {"lr": "1e-3", "n": "-5"},
    "r05": {"model": "svm", "lr": "0.2", "n": "100"},
    "r06": {"model": "svm", "n": "7", "x": INJECTION},
    "r07": {"model": "linear", "lr": "0.3", "n": "1e2"},
} | {r: {"model": "gb"} for r in GB}
TAGS: dict[str, dict[str, str]] = {
    "r00": {"team": "a"},
    "r01": {"team": "b", "my tag": "x"},
    "r02": {"team": "c", "note": "it's fine"},
    "r04": {"team": "a", "note": "hello"},
    "r05": {"team": "a", "priority": "3"},
    "r06": {"priority": "10"},
    "r07": {"priority": "high"},
}
METRICS: dict[str, dict[str, tuple[float, float, float]]] = {  # key -> (latest, min, max)
    "r00": {"auc": (0.95, 0.5, 0.96), "val.loss": (0.2, 0.1, 0.9)},
    "r01": {"auc": (0.85, 0.4, 0.88), "val.loss": (0.3, 0.25, 0.8)},
    "r02": {"auc": (0.92, 0.91, 0.93)},
    "r04": {"auc": (0.5, 0.5, 0.5)},
    "r05": {"auc": (0.99, 0.7, 0.99)},
    "r06": {"auc": (0.7, 0.6, 0.75)},
    "r07": {"auc": (0.6, 0.1, 0.65)},
} | {r: {"auc": (0.5 + i / 100, 0.5, 0.7)} for i, r in enumerate(GB)}


def _num(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _new_db() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for statement in MIGRATIONS[0]:
        con.execute(statement)
    con.execute(
        "INSERT INTO wb_experiments VALUES ('e1', 'exp-a', now(), NULL, NULL), "
        "('e2', 'exp-b', now(), NULL, NULL)"
    )
    return con


def _insert_params(con: duckdb.DuckDBPyConnection, params: dict[str, dict[str, str]]) -> None:
    rows = [(run, k, v, _num(v), "str") for run, kv in params.items() for k, v in kv.items()]
    if rows:
        con.executemany("INSERT INTO wb_params VALUES (?, ?, ?, ?, ?)", rows)


@pytest.fixture(scope="module")
def db() -> Iterator[duckdb.DuckDBPyConnection]:
    con = _new_db()
    for run, exp, name, status, start, duration, parent in RUNS:
        end = None if duration is None else start + timedelta(seconds=duration)
        con.execute(
            "INSERT INTO wb_runs (run_id, experiment_id, name, parent_id, status, "
            "start_time, end_time) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [run, exp, name, parent, status, start, end],
        )
    _insert_params(con, PARAMS)
    con.executemany(
        "INSERT INTO wb_tags VALUES (?, ?, ?)",
        [(run, k, v) for run, kv in TAGS.items() for k, v in kv.items()],
    )
    con.executemany(
        "INSERT INTO wb_metric_summary VALUES (?, ?, ?, 0, now(), ?, ?, 1)",
        [(run, k, *v) for run, kv in METRICS.items() for k, v in kv.items()],
    )
    yield con
    con.close()


def search(
    con: duckdb.DuckDBPyConnection, text: str | None, order_by: str | Sequence[str] | None = None
) -> list[str]:
    """Run ids matching the filter ``text``, embedded the way the store embeds it."""
    q = RunQuery()
    where = q.where(text)
    order = [*q.order_by(order_by), "r.start_time DESC", "r.run_id"]
    sql = (
        f"SELECT r.run_id FROM wb_runs r JOIN wb_experiments e "
        f"ON e.experiment_id = r.experiment_id\n{q.join_sql()}\n"
        f"WHERE r.deleted_at IS NULL AND ({where}) ORDER BY {', '.join(order)}"
    )
    rows = con.execute(sql, q.parameters).fetchall()
    return [row[0] for row in rows] if order_by else sorted(row[0] for row in rows)


def but(*excluded: str) -> list[str]:
    return [r for r in ALL if r not in excluded]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("params.model = 'rf'", ["r00", "r01"]),
        ("params.model == 'rf'", ["r00", "r01"]),
        ('params.model = "rf"', ["r00", "r01"]),
        ("params.model = 'RF'", ["r03"]),
        ("params.model != 'rf'", ["r02", "r03", "r05", "r06", "r07", *GB]),
        ("params.model <> 'rf'", ["r02", "r03", "r05", "r06", "r07", *GB]),
        ("params.model > 'svm'", ["r02"]),
        ("params.model < 'gb'", ["r03"]),
        ("params.model >= 'svm'", ["r02", "r05", "r06"]),
        ("params.model <= 'RF'", ["r03"]),
    ],
)
def test_string_comparisons(db: duckdb.DuckDBPyConnection, text: str, expected: list[str]) -> None:
    assert search(db, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("params.n = 10", ["r00", "r01"]),  # '10' and '10.0'
        ("params.n = '10'", ["r00"]),  # a string literal compares the text
        ("params.n = 1e1", ["r00", "r01"]),
        ("params.n = +10", ["r00", "r01"]),
        ("params.n = 10.", ["r00", "r01"]),
        ("params.n != 10", ["r02", "r04", "r05", "r06", "r07"]),  # 'abc' is not numeric
        ("params.n > 50", ["r05", "r07"]),  # '100' and '1e2'
        ("params.n >= 10", ["r00", "r01", "r02", "r05", "r07"]),
        ("params.n < 0", ["r04"]),
        ("params.n <= 7", ["r04", "r06"]),
        ("params.n > -6", ["r00", "r01", "r02", "r04", "r05", "r06", "r07"]),
        ("params.lr <= 0.01", ["r00", "r02", "r04"]),
        ("params.lr = .001", ["r02", "r04"]),
        ("params.lr < 1E-2", ["r02", "r04"]),
    ],
)
def test_numeric_param_comparisons(
    db: duckdb.DuckDBPyConnection, text: str, expected: list[str]
) -> None:
    assert search(db, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("params.lr IS NULL", ["r06", *GB]),
        ("params.lr is not null", ["r00", "r01", "r02", "r03", "r04", "r05", "r07"]),
        ("params.nope IS NULL", ALL),
        ("metrics.auc IS NULL", ["r03"]),
        ("max(metrics.val.loss) IS NOT NULL", ["r00", "r01"]),
        ("tags.team IS NULL", but("r00", "r01", "r02", "r04", "r05")),
        ("end_time IS NULL", ["r04"]),
        ("parent_id IS NOT NULL", ["r01", "r02"]),
    ],
)
def test_is_null(db: duckdb.DuckDBPyConnection, text: str, expected: list[str]) -> None:
    assert search(db, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tags.team IN ('a', 'b')", ["r00", "r01", "r04", "r05"]),
        ("tags.team NOT IN ('a', 'b')", ["r02"]),  # runs without the tag match neither
        ("tags.team in ('c')", ["r02"]),
        ("params.n IN (10, 20)", ["r00", "r01", "r02"]),
        ("params.n NOT IN (10, 20)", ["r04", "r05", "r06", "r07"]),
        ("params.model IN ('rf', 'svm', 'nope')", ["r00", "r01", "r05", "r06"]),
        ("params.flag IN (TRUE, 'False')", ["r00", "r01"]),
        ("status IN ('KILLED', 'FAILED')", ["r02", "r07"]),
        ("metrics.auc IN (0.5, 0.99)", ["r04", "r05", "r08"]),
        ("start_time IN ('2026-01-30 10:00:00', '2026-02-01T09:00')", ["r00", "r05"]),
    ],
)
def test_in(db: duckdb.DuckDBPyConnection, text: str, expected: list[str]) -> None:
    assert search(db, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name LIKE 'cv-%'", ["r00", "r01"]),
        ("name ILIKE 'cv-%'", ["r00", "r01", "r02"]),
        ("name NOT LIKE 'cv-%'", but("r00", "r01")),
        ("name not ilike 'CV-%'", but("r00", "r01", "r02")),
        ("name LIKE 'sweep-_'", ["r05", "r06", "r07"]),
        ("params.model LIKE 'r%'", ["r00", "r01"]),
        ("params.model ILIKE 'r%'", ["r00", "r01", "r03"]),
        ("tags.note LIKE '%''%'", ["r02"]),
        ("experiment LIKE '%-b'", ALL[5:]),
    ],
)
def test_like(db: duckdb.DuckDBPyConnection, text: str, expected: list[str]) -> None:
    assert search(db, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # AND binds tighter than OR
        ("params.model = 'rf' OR params.model = 'xgb' AND metrics.auc > 0.95", ["r00", "r01"]),
        ("(params.model = 'rf' OR params.model = 'xgb') AND metrics.auc > 0.9", ["r00", "r02"]),
        (
            "metrics.auc > 0.9 AND params.model = 'xgb' OR params.model = 'rf'",
            ["r00", "r01", "r02"],
        ),
        # NOT binds tighter than AND
        ("NOT params.model = 'rf' AND tags.team = 'a'", ["r05"]),
        # three-valued logic: r04 has no model, so NOT (NULL AND TRUE) is NULL
        (
            "NOT (params.model = 'rf' AND tags.team = 'a')",
            ["r01", "r02", "r03", "r05", "r06", "r07", *GB],
        ),
        ("NOT NOT params.model = 'rf'", ["r00", "r01"]),
        ("params.model = 'rf' and not tags.team = 'b'", ["r00"]),
        ("((params.model = 'rf'))", ["r00", "r01"]),
        (
            (
                "params.model = 'rf' AND (metrics.auc > 0.9 OR tags.team IN ('a', 'b')) "
                "AND params.lr <= 0.01 AND name LIKE 'cv-%' AND tags.note IS NULL"
            ),
            ["r00"],
        ),
        (
            "(params.n = 10 OR params.n = 20) AND (tags.team = 'a' OR tags.team = 'c')",
            ["r00", "r02"],
        ),
    ],
)
def test_boolean_logic(db: duckdb.DuckDBPyConnection, text: str, expected: list[str]) -> None:
    assert search(db, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.auc > 0.9", ["r00", "r02", "r05"]),
        ("metrics.auc = 0.5", ["r04", "r08"]),
        ("min(metrics.auc) < 0.45", ["r01", "r07"]),
        ("MAX(metrics.auc) >= 0.96", ["r00", "r05"]),
        ("max( metrics.auc ) >= 0.96 AND metrics.auc < 0.98", ["r00"]),
        ("metrics.val.loss < 0.25", ["r00"]),
        ("metrics.`val.loss` > 0.25", ["r01"]),
        ("tags.priority > 5", ["r06"]),  # 'high' does not cast
        ("tags.priority >= 3", ["r05", "r06"]),
        ("tags.priority = 'high'", ["r07"]),
    ],
)
def test_metrics_and_tags(db: duckdb.DuckDBPyConnection, text: str, expected: list[str]) -> None:
    assert search(db, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("status = 'FAILED'", ["r02"]),
        ("attributes.name = 'baseline'", ["r03"]),
        ("attr.name = 'baseline'", ["r03"]),
        ("run_id = 'r03'", ["r03"]),
        ("experiment = 'exp-b'", ALL[5:]),
        ("experiment_id = 'e1'", E1),
        ("parent_id = 'r00'", ["r01", "r02"]),
        ("start_time >= '2026-02-01'", ALL[5:]),
        ("start_time < '2026-01-30 12:00:00'", ["r00", "r01"]),
        ("start_time > '2026-01-30T11:30:00Z'", ALL[2:]),
        ("start_time > '2026-01-30T12:30:00+01:00'", ALL[2:]),  # 11:30 UTC
        ("start_time = '2026-01-30 10:00'", ["r00"]),
        ("end_time < '2026-01-30 10:01:01'", ["r00"]),
        ("duration > 100", ["r01", "r03"]),
        ("duration >= 100", ["r01", "r03", *GB]),
        ("duration < 30", ["r05", "r06", "r07"]),
        ("attributes.duration = 3.6e3", ["r03"]),
    ],
)
def test_attributes(db: duckdb.DuckDBPyConnection, text: str, expected: list[str]) -> None:
    assert search(db, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("params.`learning rate` = 0.5", ["r00"]),
        ('params."learning rate" = 0.5', ["r00"]),
        ("params.`we``ird` = 1", ["r03"]),
        ("tags.\"my tag\" = 'x'", ["r01"]),
        ("params.flag = TRUE", ["r00"]),
        ("params.flag = false", ["r01"]),
        ("tags.note = 'it''s fine'", ["r02"]),
        ("tags.note = 'it\\'s fine'", ["r02"]),
        ('tags.note = "it\'s fine"', ["r02"]),
        ("PARAMS.model = 'rf' And Name Like 'cv%'", ["r00", "r01"]),
        ("params.model='rf'AND(tags.team='a')", ["r00"]),
    ],
)
def test_keys_literals_and_case(
    db: duckdb.DuckDBPyConnection, text: str, expected: list[str]
) -> None:
    assert search(db, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "params.x = 'a''; DROP TABLE wb_runs; --'",
        "params.x = 'a\\'; DROP TABLE wb_runs; --'",
        'params.x = "a\'; DROP TABLE wb_runs; --"',
        "params.x IN ('a''; DROP TABLE wb_runs; --')",
    ],
)
def test_injection_is_just_a_string(db: duckdb.DuckDBPyConnection, text: str) -> None:
    q = RunQuery()
    sql = q.where(text) + q.join_sql()
    assert "DROP" not in sql and INJECTION in q.parameters.values()
    assert search(db, text) == ["r06"]
    assert db.execute("SELECT count(*) FROM wb_runs").fetchone() == (20,)


def test_injection_in_key(db: duckdb.DuckDBPyConnection) -> None:
    text = 'params.`x\'; DROP TABLE wb_runs; --` = 1 OR tags."a"" OR 1=1 --" = \'b\''
    q = RunQuery()
    assert "DROP" not in q.where(text) + q.join_sql()
    assert search(db, text) == []
    assert db.execute("SELECT count(*) FROM wb_runs").fetchone() == (20,)


@pytest.mark.parametrize("text", [None, "", "   \n\t"])
def test_empty_filter(db: duckdb.DuckDBPyConnection, text: str | None) -> None:
    q = RunQuery()
    assert q.where(text) == "TRUE"
    assert q.joins == [] and q.join_sql() == "" and q.parameters == {}
    assert search(db, text) == ALL


def test_joins_and_parameters() -> None:
    q = RunQuery()
    sql = q.where("params.a = 1 AND metrics.b > 0 AND tags.c = 'x' AND params.a < 5")
    assert q.joins == [
        Join("p0", "wb_params", "k0"),
        Join("m1", "wb_metric_summary", "k1"),
        Join("t2", "wb_tags", "k2"),
    ]
    assert sql == (
        "(p0.value_num = $p0 AND m1.latest > $p1 AND t2.value = $p2 AND p0.value_num < $p3)"
    )
    assert q.parameters == {
        "k0": "a",
        "p0": 1.0,
        "k1": "b",
        "p1": 0.0,
        "k2": "c",
        "p2": "x",
        "p3": 5.0,
    }
    assert q.join_sql().splitlines()[1] == (
        "LEFT JOIN wb_metric_summary AS m1 ON m1.run_id = r.run_id AND m1.key = $k1"
    )
    assert q.order_by(["max(metrics.b) DESC", "tags.d"]) == [
        "m1.max DESC NULLS LAST",
        "TRY_CAST(t3.value AS DOUBLE) ASC NULLS LAST",
        "t3.value ASC NULLS LAST",
    ]
    assert len(q.joins) == 4  # metrics.b is shared between filter and order_by


def test_failed_compile_leaves_query_unchanged() -> None:
    q = RunQuery()
    q.where("params.a = 1")
    with pytest.raises(FilterSyntaxError):
        q.where("metrics.auc > 1 AND tags.t = 'x' AND bogus = 1")
    with pytest.raises(FilterSyntaxError):
        q.order_by(["metrics.auc", "sideways"])
    assert q.joins == [Join("p0", "wb_params", "k0")]
    assert q.parameters == {"k0": "a", "p0": 1.0}


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        ("metrics.auc DESC", ["r00", "r02", "r01", "r04", "r03"]),
        ("metrics.auc", ["r04", "r01", "r02", "r00", "r03"]),  # NULLS LAST even ascending
        ("metrics.auc asc", ["r04", "r01", "r02", "r00", "r03"]),
        ("min(metrics.auc)", ["r01", "r04", "r00", "r02", "r03"]),  # tie: start_time DESC
        ("params.lr", ["r02", "r04", "r00", "r03", "r01"]),  # numeric; tie broken by text
        ("params.model", ["r03", "r01", "r00", "r02", "r04"]),
        ("params.model DESC", ["r02", "r01", "r00", "r03", "r04"]),
        ("params.n", ["r04", "r00", "r01", "r02", "r03"]),  # numbers before text
        ("params.n DESC", ["r02", "r01", "r00", "r04", "r03"]),
        (["tags.team", "metrics.auc DESC"], ["r00", "r04", "r01", "r02", "r03"]),
        ("tags.team ASC, metrics.auc DESC", ["r00", "r04", "r01", "r02", "r03"]),
        (("duration DESC",), ["r03", "r01", "r00", "r02", "r04"]),
        ("attr.start_time", E1),
        ("name desc", ["r01", "r00", "r04", "r03", "r02"]),  # binary collation
    ],
)
def test_order_by(
    db: duckdb.DuckDBPyConnection, order_by: str | Sequence[str], expected: list[str]
) -> None:
    assert search(db, "experiment_id = 'e1'", order_by) == expected


@pytest.mark.parametrize("order_by", [None, "", " ", []])
def test_order_by_empty(order_by: str | Sequence[str] | None) -> None:
    assert RunQuery().order_by(order_by) == []


@pytest.mark.parametrize(
    ("text", "match", "position"),
    [
        ("param.x = 1", r"Unknown identifier prefix 'param'; did you mean params\.x\?", 0),
        ("metric.auc > 1", r"did you mean metrics\.auc\?", 0),
        ("x.y = 1", r"use params\., metrics\., tags\. or attributes\.", 0),
        ("metrics.auc = 'high'", "metrics are numeric", 14),
        ("metrics.auc != TRUE", "metrics are numeric", 15),
        ("metrics.auc LIKE 'a%'", "LIKE works on text only: metrics are numeric", 12),
        ("params.x IN ()", r"IN \(\) is empty", 13),
        ("params.x IN (1, 'a')", "mixes numbers and strings", 16),
        ("params.x IN 1", "parenthesised list", 12),
        ("params.x IN (1 2)", "Expected ',' or '\\)'", 15),
        ("params.x IN (1,)", "Expected a value", 15),
        ("params.x = 1 foo", "Unexpected 'foo' after a complete expression", 13),
        ("params.x = 1 AND params.y = 2)", "Unexpected '\\)'", 29),
        ("(params.x = 1", "Expected '\\)' to close the '\\(' at position 0", 13),
        ("params.x = 'abc", "Unterminated", 11),
        ("params.`abc = 1", "Unterminated", 7),
        ("nme = 'x'", "Unknown attribute 'nme'; did you mean name\\?", 0),
        ("attributes.bogus = 1", "Valid attributes: run_id, name", 0),
        ("start_time > '2026-13-01'", "'2026-13-01' is not a timestamp", 13),
        ("end_time < 'yesterday'", "not a timestamp", 11),
        ("start_time > 5", "start_time is a UTC timestamp", 13),
        ("start_time LIKE '2026%'", "LIKE works on text only", 11),
        ("duration > '1h'", "number of seconds", 11),
        ("name = 5", "name is text; quote the value", 7),
        ("params.x = NULL", "IS NULL", 11),
        ("params.x IS 5", "Expected NULL after IS", 12),
        ("params.x IN (NULL)", "IS NULL", 13),
        ("params.x", "Expected an operator after params.x", 8),
        ("params.x NOT = 1", "Expected an operator", 13),
        ("params.x = 1 AND", "Expected a field", 16),
        ("params.x = 1 OR OR params.y = 1", "Expected a field", 16),
        ("10 = params.x", "Expected a field", 0),
        ("()", "Expected a field", 1),
        ("params.x =", "Expected a value", 10),
        ("params.x = params.y", "Expected a value", 11),
        ("min(params.x) > 1", "takes a metric", 4),
        ("max(metrics.x > 1", "Expected '\\)' after max\\(metrics.x", 14),
        ("params.x LIKE 5", "quoted pattern", 14),
        ("params. = 1", "needs a key after the dot", 0),
        ("params.x ! 1", "Unexpected character '!'", 9),
        ("params.x = 1.2.3", "Malformed number", 11),
        ("params.x = 10abc", "Malformed number", 11),
        ("params.x = 1 && params.y = 2", "Unexpected character '&'", 13),
    ],
)
def test_errors(text: str, match: str, position: int) -> None:
    with pytest.raises(FilterSyntaxError, match=match) as info:
        RunQuery().where(text)
    assert info.value.position == position
    assert info.value.text == text
    assert str(info.value).endswith(f"\n  {text}\n  {' ' * position}^")


@pytest.mark.parametrize(
    ("order_by", "match", "position"),
    [
        ("metrics.auc sideways", "Unexpected 'sideways'", 12),
        ("param.x", "did you mean params.x", 0),
        ("metrics.auc DESC,", "Expected a field", 17),
        ("DESC", "Expected a field", 0),
        (["metrics.auc", " "], "Empty order_by item", 1),
        ("nope", "Unknown attribute 'nope'", 0),
    ],
)
def test_order_by_errors(order_by: str | list[str], match: str, position: int) -> None:
    with pytest.raises(FilterSyntaxError, match=match) as info:
        RunQuery().order_by(order_by)
    assert info.value.position == position


def test_order_by_rejects_non_strings() -> None:
    with pytest.raises(FilterSyntaxError, match="must be strings, got int"):
        RunQuery().order_by(["metrics.auc", 5])  # type: ignore[list-item]


def test_error_is_an_invalid_parameter_value_error() -> None:
    with pytest.raises(InvalidParameterError):
        RunQuery().where("params.x ==")
    with pytest.raises(ValueError, match="did you mean"):
        RunQuery().where("tag.x = 'a'")


# --- property: SQL agrees with a Python evaluation (SQL three-valued logic) -----------------
_VALUES = st.one_of(
    st.none(),
    st.integers(-20, 20).map(str),
    st.floats(-50, 50, allow_nan=False).map(repr),
    st.sampled_from(["abc", "", "1e1", "-0", ".5", "10.0", "True"]),
)
_OPS = {
    "=": float.__eq__,
    "==": float.__eq__,
    "!=": float.__ne__,
    "<>": float.__ne__,
    "<": float.__lt__,
    "<=": float.__le__,
    ">": float.__gt__,
    ">=": float.__ge__,
}
_LITERALS = st.one_of(st.integers(-20, 20).map(float), st.floats(-50, 50, allow_nan=False))

Value = dict[str, str | None]
Predicate = tuple[str, object]  # (filter text, evaluator tree)


def _leaf(key: str, op: str, literal: float) -> tuple[str, tuple[str, str, str, float]]:
    return f"params.{key} {op} {literal!r}", ("cmp", key, op, literal)


_LEAVES = st.one_of(
    st.builds(_leaf, st.sampled_from(["a", "b"]), st.sampled_from(sorted(_OPS)), _LITERALS),
    st.sampled_from(["a", "b"]).flatmap(
        lambda k: st.sampled_from(
            [
                (f"params.{k} IS NULL", ("null", k, True)),
                (f"params.{k} IS NOT NULL", ("null", k, False)),
            ]
        )
    ),
)


def _combine(children: st.SearchStrategy[Predicate]) -> st.SearchStrategy[Predicate]:
    binary = st.tuples(st.sampled_from(["AND", "OR", "and", "or"]), children, children).map(
        lambda t: (f"({t[1][0]} {t[0]} {t[2][0]})", (t[0].upper(), t[1][1], t[2][1]))
    )
    negated = children.map(lambda c: (f"NOT ({c[0]})", ("NOT", c[1])))
    return st.one_of(binary, negated)


def _evaluate(tree: object, params: Value) -> bool | None:
    assert isinstance(tree, tuple)
    if tree[0] == "cmp":
        _, key, op, literal = tree
        number = _num(params[key])
        return None if number is None else bool(_OPS[op](number, literal))
    if tree[0] == "null":
        return (params[tree[1]] is None) is tree[2]
    if tree[0] == "NOT":
        inner = _evaluate(tree[1], params)
        return None if inner is None else not inner
    left, right = _evaluate(tree[1], params), _evaluate(tree[2], params)
    if tree[0] == "AND":
        return False if False in (left, right) else None if None in (left, right) else True
    return True if True in (left, right) else None if None in (left, right) else False


@settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    runs=st.lists(st.fixed_dictionaries({"a": _VALUES, "b": _VALUES}), min_size=1, max_size=8),
    predicate=st.recursive(_LEAVES, _combine, max_leaves=6),
)
def test_sql_matches_python_evaluation(runs: list[Value], predicate: Predicate) -> None:
    text, tree = predicate
    con = _new_db()
    ids = [f"r{i}" for i in range(len(runs))]
    for run in ids:
        con.execute(
            "INSERT INTO wb_runs (run_id, experiment_id, name, status, start_time) "
            "VALUES (?, 'e1', ?, 'FINISHED', now())",
            [run, run],
        )
    _insert_params(
        con,
        {
            run: {k: v for k, v in values.items() if v is not None}
            for run, values in zip(ids, runs, strict=True)
        },
    )
    expected = sorted(
        run for run, values in zip(ids, runs, strict=True) if _evaluate(tree, values) is True
    )
    assert search(con, text) == expected, text
    con.close()
