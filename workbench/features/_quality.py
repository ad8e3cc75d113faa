"""Quality at the door: a feature view's expectations checked against its source.

What is checked, and by what:

* **columns and types** (from the source's schema, without reading rows): the join keys, the
  event (and created) timestamp and every feature are present; each feature's source type fits
  its declared type; typed join keys have their type;
* **values**, with `pandera <https://pandera.readthedocs.io>`_: join keys and event time present
  on every row, and each feature's nullability, bounds (``ge``/``gt``/``le``/``lt``) and allowed
  values (``isin``). The rows stream from DuckDB in batches, so a source larger than memory is
  checked too; every failing row is counted, and a few examples of each failure are kept;
* **uniqueness** of (join keys, event time[, created time]), by DuckDB over the whole source.

:func:`validate_view` never raises for violations; :class:`ValidationReport` says what failed.
Materialization refuses data whose report is not clean (``raise_for_violations``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.features._engine import connect, describe, time_expression, utc_naive
from workbench.features._errors import FeatureValidationError
from workbench.features._sources import quote
from workbench.features._types import DTYPES, fits, kind_of_sql

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

    from workbench.features._definitions import FeatureView

__all__ = ["ValidationReport", "Violation", "validate_view"]

BATCH_ROWS = 1 << 20
MAX_EXAMPLES = 5


@dataclass(frozen=True)
class Violation:
    """One expectation that rows (or the schema) of a source fail.

    ``column`` is the column concerned (None: the whole row), ``check`` a short name
    (``missing_column``, ``type``, ``not_null``, ``>= 0``, ``in [...]``, ``unique``), ``count`` how
    many rows fail it (0 for a schema problem), ``examples`` a few failing values and
    ``message`` the explanation with the fix.
    """

    column: str | None
    check: str
    count: int
    examples: tuple[Any, ...]
    message: str


@dataclass(frozen=True)
class ValidationReport:
    """What checking a feature view's source against its expectations found."""

    view: str
    source: str
    rows: int
    violations: tuple[Violation, ...]
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    checks: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        """Whether no expectation failed."""
        return not self.violations

    def raise_for_violations(self) -> ValidationReport:
        """Return the report if it passed, else raise FeatureValidationError carrying it."""
        if not self.passed:
            raise FeatureValidationError(str(self), report=self)
        return self

    def to_frame(self) -> pd.DataFrame:
        """One row per violation: column, check, count, examples, message."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "column": v.column,
                    "check": v.check,
                    "count": v.count,
                    "examples": list(v.examples),
                    "message": v.message,
                }
                for v in self.violations
            ],
            columns=["column", "check", "count", "examples", "message"],
        )

    def __str__(self) -> str:
        window = ""
        if self.start is not None or self.end is not None:
            window = f", event times {self.start or '-inf'} .. {self.end or '+inf'}"
        head = f"Feature view {self.view!r}: {self.rows:,} rows of {self.source}{window}"
        if self.passed:
            return f"{head}: every expectation holds ({len(self.checks)} checks)."
        lines = [f"{head}: {len(self.violations)} expectation(s) failed:"]
        lines += [f"  - {v.message}" for v in self.violations]
        return "\n".join(lines)

    def __repr__(self) -> str:
        state = "passed" if self.passed else f"{len(self.violations)} violations"
        return f"ValidationReport({self.view!r}, rows={self.rows}, {state})"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from workbench.features._display import report_bundle

        return report_bundle(self)


def validate_view(view: FeatureView, *, start: Any = None, end: Any = None) -> ValidationReport:
    """Check ``view``'s source (event times in ``[start, end]`` when given); see the module."""
    caller = f"FeatureView({view.name!r}).validate"
    low = None if start is None else utc_naive(start, caller, name="start")
    high = None if end is None else utc_naive(end, caller, name="end")
    with connect() as con:
        relation = view.source.relation(con, view=view.name)
        types = describe(con, relation)
        violations, checks = _schema_violations(view, types)
        readable = {
            c for c in types if not any(v.column == c and v.check != "unique" for v in violations)
        }
        ts = view.source.timestamp
        where = []
        if ts in readable and kind_of_sql(types[ts]) in ("timestamp", "date"):
            expression = time_expression(ts, types[ts])
            if low is not None:
                where.append(f"{expression} >= $low")
            if high is not None:
                where.append(f"{expression} <= $high")
        elif low is not None or high is not None:
            where.append("false")
        filtered = f"SELECT * FROM {relation} AS s" + (
            f" WHERE {' AND '.join(where)}" if where else ""
        )
        parameters = {k: v for k, v in (("low", low), ("high", high)) if v is not None}
        rows, value_violations, value_checks = _value_violations(
            con, view, types, readable, filtered, parameters
        )
        duplicate = _duplicates(con, view, types, readable, filtered, parameters)
    return ValidationReport(
        view=view.name,
        source=view.source.describe(),
        rows=rows,
        violations=tuple(violations + value_violations + duplicate),
        start=low,
        end=high,
        checks=tuple(checks + value_checks + ["unique (keys, event time)"]),
    )


def _schema_violations(
    view: FeatureView, types: dict[str, str]
) -> tuple[list[Violation], list[str]]:
    violations, checks = [], []
    source = view.source
    roles = [(k, "join key") for k in view.join_keys]
    roles.append((source.timestamp, "event timestamp"))
    if source.created_timestamp:
        roles.append((source.created_timestamp, "created timestamp"))
    roles += [(f.name, "feature") for f in view.features]
    for column, role in roles:
        checks.append(f"{column}: present")
        if column not in types:
            violations.append(
                Violation(
                    column,
                    "missing_column",
                    0,
                    (),
                    f"{role} {column!r} is not a column of the source (its columns: "
                    f"{list(types)}). Add it to the source or fix the view's definition.",
                )
            )
    for column in (source.timestamp, source.created_timestamp or ""):
        if column in types and kind_of_sql(types[column]) not in ("timestamp", "date"):
            violations.append(
                Violation(
                    column,
                    "type",
                    0,
                    (),
                    f"{column!r} is {types[column]}, not a timestamp. Parse it in a QuerySource "
                    f"(strptime) or fix the files.",
                )
            )
    for feature in view.features:
        checks.append(f"{feature.name}: type {feature.dtype}")
        if feature.name in types and not fits(feature.dtype, types[feature.name]):
            violations.append(
                Violation(
                    feature.name,
                    "type",
                    0,
                    (),
                    f"feature {feature.name!r} is declared {feature.dtype} but the source column "
                    f"is {types[feature.name]}. Fix the source, or declare the type it has.",
                )
            )
    for entity in view.entities:
        for key, declared in zip(entity.join_keys, entity.key_dtypes, strict=True):
            if declared is None or key not in types:
                continue
            checks.append(f"{key}: type {declared}")
            if kind_of_sql(types[key]) != DTYPES[declared].kind:
                violations.append(
                    Violation(
                        key,
                        "type",
                        0,
                        (),
                        f"join key {key!r} of entity {entity.name!r} is declared {declared} but "
                        f"the source column is {types[key]}.",
                    )
                )
    return violations, checks


def _value_violations(
    con: duckdb.DuckDBPyConnection,
    view: FeatureView,
    types: dict[str, str],
    readable: set[str],
    filtered: str,
    parameters: dict[str, Any],
) -> tuple[int, list[Violation], list[str]]:
    """Count rows, and check each row's values with pandera, batch by batch."""
    import pandas as pd
    import pandera.pandas as pa
    import pyarrow as pa_arrow

    columns: dict[str, Any] = {}
    described: dict[tuple[str, int | None], str] = {}
    selected = []
    for key in view.join_keys:
        if key in readable:
            columns[key] = pa.Column(None, nullable=False)
            described[key, None] = "not null"
            selected.append(quote(key))
    ts = view.source.timestamp
    if ts in readable:
        columns[ts] = pa.Column(None, nullable=False)
        described[ts, None] = "not null"
        selected.append(quote(ts))
    for feature in view.features:
        if feature.name not in readable:
            continue
        checks, texts = _checks(feature)
        columns[feature.name] = pa.Column(None, checks, nullable=feature.nullable)
        described[feature.name, None] = "not null"
        for number, text in enumerate(texts):
            described[feature.name, number] = text
        selected.append(
            f"CAST({quote(feature.name)} AS {DTYPES[feature.dtype].sql}) AS {quote(feature.name)}"
        )
    schema = pa.DataFrameSchema(columns)
    check_names = [f"{c}: {t}" for (c, _), t in described.items()]
    if not selected:
        row = con.execute(f"SELECT count(*) FROM ({filtered})", parameters).fetchall()[0]
        return int(row[0]), [], check_names
    mapper = {
        pa_arrow.int64(): pd.Int64Dtype(),
        pa_arrow.int32(): pd.Int32Dtype(),
        pa_arrow.float64(): pd.Float64Dtype(),
        pa_arrow.float32(): pd.Float32Dtype(),
        pa_arrow.bool_(): pd.BooleanDtype(),
        pa_arrow.string(): pd.StringDtype(),
        pa_arrow.large_string(): pd.StringDtype(),
    }
    failures: dict[tuple[str, str], list[Any]] = {}
    counts: dict[tuple[str, str], int] = {}
    rows = 0
    reader = con.sql(
        f"SELECT {', '.join(selected)} FROM ({filtered})", params=parameters or None
    ).to_arrow_reader(BATCH_ROWS)
    for batch in reader:
        frame = batch.to_pandas(types_mapper=mapper.get)
        frame.index = pd.RangeIndex(rows, rows + len(frame))
        rows += len(frame)
        try:
            schema.validate(frame, lazy=True)
        except pa.errors.SchemaErrors as exc:
            _collect(exc.failure_cases, described, counts, failures)
    violations = [
        Violation(
            column,
            check,
            counts[column, check],
            tuple(failures[column, check]),
            _message(column, check, counts[column, check], failures[column, check]),
        )
        for column, check in counts
    ]
    return rows, violations, check_names


def _checks(feature: Any) -> tuple[list[Any], list[str]]:
    import pandera.pandas as pa

    checks, texts = [], []
    for op, bound, make in (
        (">=", feature.ge, pa.Check.ge),
        (">", feature.gt, pa.Check.gt),
        ("<=", feature.le, pa.Check.le),
        ("<", feature.lt, pa.Check.lt),
    ):
        if bound is not None:
            checks.append(make(bound))
            texts.append(f"{op} {bound:g}")
    if feature.isin is not None:
        checks.append(pa.Check.isin(list(feature.isin)))
        texts.append(f"in {list(feature.isin)!r}")
    return checks, texts


def _collect(
    cases: pd.DataFrame,
    described: dict[tuple[str, int | None], str],
    counts: dict[tuple[str, str], int],
    failures: dict[tuple[str, str], list[Any]],
) -> None:
    for (column, check, number), group in cases.groupby(
        ["column", "check", "check_number"], dropna=False, sort=False
    ):
        key_number = None if _plain(number) is None else int(float(str(number)))
        text = described.get((str(column), key_number), str(check))
        key = (str(column), text)
        counts[key] = counts.get(key, 0) + len(group)
        examples = failures.setdefault(key, [])
        for index, value in zip(group["index"], group["failure_case"], strict=True):
            if len(examples) >= MAX_EXAMPLES:
                break
            examples.append({"row": None if index is None else int(index), "value": _plain(value)})


def _plain(value: Any) -> Any:
    """A value as plain Python (None for every kind of missing)."""
    try:
        if value is None or value != value:
            return None
    except TypeError:  # pandas.NA
        return None
    return value.item() if hasattr(value, "item") else value


def _message(column: str, check: str, count: int, examples: list[Any]) -> str:
    shown = ", ".join(
        f"row {e['row']}" + ("" if check == "not null" else f": {e['value']!r}") for e in examples
    )
    if check == "not null":
        return f"{column!r} is missing in {count:,} rows (expected not null), e.g. {shown}."
    return f"{column!r} fails {check!r} in {count:,} rows, e.g. {shown}."


def _duplicates(
    con: duckdb.DuckDBPyConnection,
    view: FeatureView,
    types: dict[str, str],
    readable: set[str],
    filtered: str,
    parameters: dict[str, Any],
) -> list[Violation]:
    source = view.source
    columns = [*view.join_keys, source.timestamp]
    if source.created_timestamp:
        columns.append(source.created_timestamp)
    if not all(c in readable for c in columns):
        return []
    listed = ", ".join(quote(c) for c in columns)
    found = con.execute(
        f"SELECT {listed}, count(*) AS n, count(*) OVER () AS groups, sum(count(*)) OVER () "
        f"FROM ({filtered}) GROUP BY {listed} HAVING count(*) > 1 ORDER BY n DESC "
        f"LIMIT {MAX_EXAMPLES}",
        parameters,
    ).fetchall()
    if not found:
        return []
    examples = tuple(
        {
            **dict(zip(columns, (_plain(v) for v in row[: len(columns)]), strict=True)),
            "rows": row[-3],
        }
        for row in found
    )
    fix = (
        "remove the duplicates"
        if source.created_timestamp
        else "remove the duplicates, or name the column that says when each row was written "
        "(created_timestamp=...) so the latest correction wins"
    )
    return [
        Violation(
            None,
            "unique",
            int(found[0][-1]),
            examples,
            f"{found[0][-2]:,} ({', '.join(columns)}) values have more than one row "
            f"({int(found[0][-1]):,} rows), e.g. {examples[0]}: {fix}.",
        )
    ]
