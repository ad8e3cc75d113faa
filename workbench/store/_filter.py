"""The run filter language of ``search_runs(filter=..., order_by=...)``, compiled to DuckDB SQL.

Grammar (keywords are case-insensitive; NOT binds tighter than AND, AND tighter than OR)::

    filter     := and_expr (OR and_expr)*
    and_expr   := not_expr (AND not_expr)*
    not_expr   := NOT not_expr | '(' filter ')' | comparison
    comparison := field (= | == | != | <> | < | <= | > | >=) literal
                | field [NOT] (LIKE | ILIKE) 'pattern'
                | field [NOT] IN '(' literal (',' literal)* ')'
                | field IS [NOT] NULL
    field      := params.<key> | tags.<key> | metrics.<key> | (min | max)(metrics.<key>)
                | [attributes. | attr.]<attribute>
    order_by   := field [ASC | DESC] (',' field [ASC | DESC])*

Keys are bare (letters, digits and ``_-./:``) or quoted with backticks or double quotes. Every key
and literal becomes a named parameter: nothing the user writes is spliced into the SQL text.
Comparisons follow SQL's three-valued logic, so a run without the param/tag/metric matches
neither ``=`` nor ``!=``; use ``IS NULL`` to find it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from workbench.exceptions import FilterSyntaxError

__all__ = ["Join", "RunQuery"]

_NUM = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_\-./:]*")
_OPS = ("==", "!=", "<>", "<=", ">=", "=", "<", ">")
_KEYWORDS = frozenset(
    ["and", "or", "not", "like", "ilike", "in", "is", "null", "true", "false", "asc", "desc"]
)
_PREFIXES = {
    "params": "params",
    "metrics": "metrics",
    "tags": "tags",
    "attributes": "attr",
    "attr": "attr",
}
_ALIAS = {"wb_params": "p", "wb_metric_summary": "m", "wb_tags": "t"}
_HINTS = {
    "text": "{0} is text; quote the value, e.g. {0} = 'x'",
    "time": "{0} is a UTC timestamp; compare it with e.g. '2026-01-31' or '2026-01-31 12:00:00'",
    "num": "{0} is a number of seconds; compare it with a number, e.g. {0} > 60",
}
_ATTRIBUTES = {  # name -> (kind, SQL)
    "run_id": ("text", "r.run_id"),
    "name": ("text", "r.name"),
    "status": ("text", "r.status"),
    "experiment": ("text", "e.name"),
    "experiment_id": ("text", "r.experiment_id"),
    "parent_id": ("text", "r.parent_id"),
    "start_time": ("time", "r.start_time"),
    "end_time": ("time", "r.end_time"),
    "duration": ("num", "(epoch(r.end_time) - epoch(r.start_time))"),
}


ORDER_BY_FORMS = (
    "An order_by item is '<field> [ASC|DESC]' (several: a list, or commas between them), "
    "the field one of params.<key>, metrics.<key>, tags.<key>, min(metrics.<key>), "
    f"max(metrics.<key>) or an attribute ({', '.join(_ATTRIBUTES)}); "
    "e.g. ['metrics.auc DESC', 'params.lr']"
)


@dataclass(frozen=True)
class Join:
    """One ``LEFT JOIN`` a compiled filter or order_by needs."""

    alias: str  # e.g. "p0", "m1", "t2"
    table: str  # "wb_params" | "wb_metric_summary" | "wb_tags"
    key_param: str  # name of the $parameter holding the key, e.g. "k0"


@dataclass(frozen=True)
class _Tok:
    kind: str  # "word" | "ident" | "str" | "num" | "op" | "(" | ")" | "," | "end"
    pos: int
    text: str  # the token as written
    value: str = ""  # a string literal's decoded value, or an identifier's key
    prefix: str = ""  # an identifier's prefix, e.g. "params"

    def kw(self, *words: str) -> bool:
        return self.kind == "word" and self.text.lower() in words

    def describe(self) -> str:
        return "the end of the text" if self.kind == "end" else repr(self.text)


@dataclass(frozen=True)
class _Field:
    label: str  # as the user wrote it, for messages
    hint: str  # how to compare it, for type errors
    text: str | None = None  # SQL compared with strings
    num: str | None = None  # SQL compared with numbers
    time: str | None = None  # SQL TIMESTAMP compared with date strings
    null: str = ""  # SQL tested by IS [NOT] NULL
    order: tuple[str, ...] = ()  # SQL sort keys


def _error(message: str, src: str, position: int) -> FilterSyntaxError:
    return FilterSyntaxError(message, text=src, position=position)


def _read_quoted(src: str, start: int) -> tuple[str, int]:
    """Decode the quoted text at ``start``; return it and the offset after the closing quote."""
    quote, out, i = src[start], [], start + 1
    while i < len(src):
        c = src[i]
        if c == "\\" and i + 1 < len(src) and src[i + 1] in (quote, "\\"):
            out.append(src[i + 1])
            i += 2
        elif c == quote and src.startswith(quote * 2, i):
            out.append(quote)
            i += 2
        elif c == quote:
            return "".join(out), i + 1
        else:
            out.append(c)
            i += 1
    q = quote
    message = f"Unterminated {q}...{q}: close it with {q} (write {q}{q} for a literal {q})"
    raise _error(message, src, start)


def _word(src: str, m: re.Match[str]) -> _Tok:
    word, end = m.group(), m.end()
    if "." not in word:
        return _Tok("word", m.start(), word)
    prefix, key = word.split(".", 1)
    if not key:
        if end < len(src) and src[end] in '`"':
            key, end = _read_quoted(src, end)
        else:
            hint = f"e.g. {prefix}.lr; quote other keys: {prefix}.`my key`"
            raise _error(f"{word!r} needs a key after the dot, {hint}", src, m.start())
    return _Tok("ident", m.start(), src[m.start() : end], key, prefix)


def _tokenize(src: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i = 0
    while i < len(src):
        c = src[i]
        if c.isspace():
            i += 1
            continue
        num, word = _NUM.match(src, i), _WORD.match(src, i)
        op = next((o for o in _OPS if src.startswith(o, i)), None)
        if c in "(),":
            toks.append(_Tok(c, i, c))
            end = i + 1
        elif c in "'\"":
            value, end = _read_quoted(src, i)
            toks.append(_Tok("str", i, src[i:end], value))
        elif num:
            end = num.end()
            if end < len(src) and (src[end].isalnum() or src[end] in "_."):
                hint = "numbers look like 10, -0.5 or 1e-3; quote other values"
                raise _error(f"Malformed number {src[i : end + 1]!r}...; {hint}", src, i)
            toks.append(_Tok("num", i, num.group()))
        elif word:
            toks.append(_word(src, word))
            end = i + len(toks[-1].text)
        elif op:
            toks.append(_Tok("op", i, op))
            end = i + len(op)
        else:
            hint = "quote strings ('...') and keys (params.`...`)"
            raise _error(f"Unexpected character {c!r}; {hint}", src, i)
        i = end
    toks.append(_Tok("end", len(src), ""))
    return toks


def _timestamp(value: str) -> str | None:
    """``value`` as a normalised naive-UTC timestamp string, or None if it is not one."""
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt.isoformat(sep=" ")


class RunQuery:
    """Accumulates joins and named parameters for one search; compile filter and order_by into it.

    Every parameter in :attr:`parameters` is referenced by the SQL returned so far, so the caller
    must use :meth:`join_sql` and every result of :meth:`where` / :meth:`order_by` (DuckDB rejects
    unused named parameters). A call that raises leaves the query unchanged.
    """

    def __init__(self) -> None:
        self._joins: dict[tuple[str, str], Join] = {}
        self._params: dict[str, object] = {}
        self._n_literals = 0

    def where(self, text: str | None) -> str:
        """Compile a filter to a SQL boolean expression; ``"TRUE"`` when it is empty."""
        if text is None or not text.strip():
            return "TRUE"
        with self._atomic():
            return _Parser(self, text).parse_filter()

    def order_by(self, items: str | Sequence[str] | None) -> list[str]:
        """Compile ``"<field> [ASC|DESC]"`` items (or one comma-separated str) to ORDER BY terms."""
        if items is None or (isinstance(items, str) and not items.strip()):
            return []
        out: list[str] = []
        with self._atomic():
            for item in [items] if isinstance(items, str) else items:
                if not isinstance(item, str):
                    raise FilterSyntaxError(
                        f"order_by items must be strings, got {type(item).__name__}. "
                        f"{ORDER_BY_FORMS}"
                    )
                try:
                    out.extend(_Parser(self, item).parse_order())
                except FilterSyntaxError as exc:
                    message = str(exc).split("\n", 1)[0]  # without the pointer lines
                    stop = "" if message.endswith(("?", ".")) else "."
                    raise FilterSyntaxError(
                        f"{message}{stop} {ORDER_BY_FORMS}", text=exc.text, position=exc.position
                    ) from None
        return out

    @property
    def joins(self) -> list[Join]:
        """The joins needed so far, in creation order."""
        return list(self._joins.values())

    def join_sql(self) -> str:
        """The ``LEFT JOIN`` clauses (one per line) for :attr:`joins`; ``""`` if none."""
        return "\n".join(
            f"LEFT JOIN {j.table} AS {j.alias} ON {j.alias}.run_id = r.run_id"
            f" AND {j.alias}.key = ${j.key_param}"
            for j in self._joins.values()
        )

    @property
    def parameters(self) -> dict[str, object]:
        """All named parameters (join keys and literals) for ``execute(sql, parameters)``."""
        return dict(self._params)

    @contextmanager
    def _atomic(self) -> Iterator[None]:
        saved = dict(self._joins), dict(self._params), self._n_literals
        try:
            yield
        except BaseException:
            self._joins, self._params, self._n_literals = saved
            raise

    def _join(self, table: str, key: str) -> str:
        join = self._joins.get((table, key))
        if join is None:
            n = len(self._joins)
            join = Join(f"{_ALIAS[table]}{n}", table, f"k{n}")
            self._joins[(table, key)] = join
            self._params[join.key_param] = key
        return join.alias

    def _bind(self, value: object) -> str:
        name = f"p{self._n_literals}"
        self._n_literals += 1
        self._params[name] = value
        return f"${name}"


class _Parser:
    """Recursive descent over the tokens of one filter or order_by item."""

    def __init__(self, query: RunQuery, src: str) -> None:
        self.q, self.src, self.toks, self.i = query, src, _tokenize(src), 0

    def error(self, message: str, tok: _Tok) -> FilterSyntaxError:
        return _error(message, self.src, tok.pos)

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i = min(self.i + 1, len(self.toks) - 1)
        return tok

    def accept(self, *words: str) -> _Tok | None:
        """Take the next token if it is one of ``words`` (keywords or punctuation)."""
        tok = self.peek()
        return self.take() if tok.kw(*words) or tok.kind in words else None

    def expect(self, word: str, message: str) -> _Tok:
        tok = self.accept(word)
        if tok is None:
            raise self.error(f"{message}, got {self.peek().describe()}", self.peek())
        return tok

    def expect_end(self, hint: str) -> None:
        if self.peek().kind != "end":
            tok = self.peek()
            raise self.error(
                f"Unexpected {tok.describe()} after a complete expression; {hint}", tok
            )

    # --- filters -------------------------------------------------------------------------------
    def parse_filter(self) -> str:
        sql = self.or_expr()
        self.expect_end("join conditions with AND or OR")
        return sql

    def or_expr(self) -> str:
        return self.chain("or", self.and_expr)

    def and_expr(self) -> str:
        return self.chain("and", self.not_expr)

    def chain(self, word: str, operand: Callable[[], str]) -> str:
        parts = [operand()]
        while self.accept(word):
            parts.append(operand())
        return parts[0] if len(parts) == 1 else "(" + f" {word.upper()} ".join(parts) + ")"

    def not_expr(self) -> str:
        if self.accept("not"):
            return f"(NOT {self.not_expr()})"
        if opening := self.accept("("):
            inner = self.or_expr()
            self.expect(")", f"Expected ')' to close the '(' at position {opening.pos}")
            return inner
        return self.comparison()

    def comparison(self) -> str:
        field = self.field()
        tok = self.take()
        if tok.kind == "op":
            return self.compare(field, tok)
        if tok.kw("is"):
            negate = self.accept("not") is not None
            self.expect("null", "Expected NULL after IS")
            return f"{field.null} IS {'NOT ' if negate else ''}NULL"
        negate = tok.kw("not")
        op = self.take() if negate else tok
        if op.kw("like", "ilike"):
            return self.like(field, op, negate)
        if op.kw("in"):
            return self.in_list(field, negate)
        ops = "=, !=, <, <=, >, >=, [NOT] LIKE, [NOT] ILIKE, [NOT] IN, IS [NOT] NULL"
        raise self.error(
            f"Expected an operator after {field.label} ({ops}), got {op.describe()}", op
        )

    def literal(self, after: str) -> tuple[_Tok, str | float]:
        tok = self.take()
        if tok.kind == "num":
            return tok, float(tok.text)
        if tok.kind == "str":
            return tok, tok.value
        if tok.kw("true", "false"):
            return tok, tok.text.capitalize()
        if tok.kw("null"):
            raise self.error("NULL only works as IS NULL / IS NOT NULL, e.g. params.x IS NULL", tok)
        raise self.error(
            f"Expected a value (a number or a 'quoted string') after {after}, got {tok.describe()}",
            tok,
        )

    def operand(self, field: _Field, tok: _Tok, value: str | float) -> tuple[str, str]:
        """The column to compare with ``value`` and the SQL of the bound value."""
        if isinstance(value, float):
            if field.num is None:
                raise self.error(f"Cannot compare {field.label} with a number: {field.hint}", tok)
            return field.num, self.q._bind(value)
        if field.time is not None:
            ts = _timestamp(value)
            if ts is None:
                raise self.error(f"{value!r} is not a timestamp; {field.hint}", tok)
            return field.time, f"CAST({self.q._bind(ts)} AS TIMESTAMP)"
        if field.text is None:
            raise self.error(f"Cannot compare {field.label} with a string: {field.hint}", tok)
        return field.text, self.q._bind(value)

    def compare(self, field: _Field, op: _Tok) -> str:
        tok, value = self.literal(op.text)
        column, param = self.operand(field, tok, value)
        sql_op = {"==": "=", "!=": "<>"}.get(op.text, op.text)
        return f"{column} {sql_op} {param}"

    def like(self, field: _Field, op: _Tok, negate: bool) -> str:
        if field.text is None:
            raise self.error(f"{op.text.upper()} works on text only: {field.hint}", op)
        tok, value = self.literal(op.text.upper())
        if tok.kind != "str":
            raise self.error(f"{op.text.upper()} needs a quoted pattern such as 'cv-%'", tok)
        not_ = "NOT " if negate else ""
        return f"{field.text} {not_}{op.text.upper()} {self.q._bind(value)}"

    def in_list(self, field: _Field, negate: bool) -> str:
        self.expect("(", "IN needs a parenthesised list, e.g. IN ('a', 'b')")
        if self.peek().kind == ")":
            raise self.error("IN () is empty; list at least one value, e.g. IN ('a')", self.peek())
        values = [self.literal("IN (")]
        while self.accept(","):
            values.append(self.literal("','"))
        self.expect(")", "Expected ',' or ')' in the IN list")
        first_kind = isinstance(values[0][1], float)
        for tok, value in values:
            if isinstance(value, float) != first_kind:
                raise self.error("IN list mixes numbers and strings; use only one kind", tok)
        sql = [self.operand(field, tok, value) for tok, value in values]
        items = ", ".join(param for _, param in sql)
        return f"{sql[0][0]} {'NOT ' if negate else ''}IN ({items})"

    # --- fields ----------------------------------------------------------------------------
    def field(self) -> _Field:
        tok = self.take()
        if tok.kw("min", "max") and self.accept("("):
            inner = self.take()
            if inner.kind != "ident" or _PREFIXES.get(inner.prefix.lower()) != "metrics":
                raise self.error(
                    f"{tok.text}() takes a metric, e.g. {tok.text}(metrics.loss)", inner
                )
            end = self.expect(")", f"Expected ')' after {tok.text}({inner.text}")
            return self.metric(inner.value, tok.text.lower(), self.src[tok.pos : end.pos + 1])
        if tok.kind == "ident":
            return self.qualified(tok)
        if tok.kind == "word" and tok.text.lower() not in _KEYWORDS:
            return self.attribute(tok.text, tok)
        raise self.error(
            "Expected a field such as params.x, metrics.x, tags.x or an attribute "
            f"({', '.join(_ATTRIBUTES)}), got {tok.describe()}",
            tok,
        )

    def qualified(self, tok: _Tok) -> _Field:
        kind = _PREFIXES.get(tok.prefix.lower())
        if kind is None:
            guess = difflib.get_close_matches(tok.prefix.lower(), _PREFIXES, n=1)
            hint = "use params., metrics., tags. or attributes."
            hint = f"did you mean {guess[0]}.{tok.value}?" if guess else hint
            raise self.error(f"Unknown identifier prefix {tok.prefix!r}; {hint}", tok)
        if kind == "attr":
            return self.attribute(tok.value, tok)
        if kind == "metrics":
            return self.metric(tok.value, "latest", tok.text)
        table = "wb_params" if kind == "params" else "wb_tags"
        a = self.q._join(table, tok.value)
        value = f"{a}.value"
        num = f"{a}.value_num" if kind == "params" else f"TRY_CAST({a}.value AS DOUBLE)"
        return _Field(tok.text, "", text=value, num=num, null=value, order=(num, value))

    def metric(self, key: str, column: str, label: str) -> _Field:
        sql = f"{self.q._join('wb_metric_summary', key)}.{column}"
        hint = f"metrics are numeric; compare with a number, e.g. {label} > 0.5"
        return _Field(label, hint, num=sql, null=sql, order=(sql,))

    def attribute(self, name: str, tok: _Tok) -> _Field:
        if name.lower() not in _ATTRIBUTES:
            guess = difflib.get_close_matches(name.lower(), _ATTRIBUTES, n=1)
            hint = f"did you mean {guess[0]}? " if guess else ""
            valid = f"{', '.join(_ATTRIBUTES)} (or params.{name}, metrics.{name}, tags.{name})"
            raise self.error(f"Unknown attribute {name!r}; {hint}Valid attributes: {valid}", tok)
        kind, sql = _ATTRIBUTES[name.lower()]
        return _Field(
            tok.text,
            _HINTS[kind].format(tok.text),
            text=sql if kind == "text" else None,
            num=sql if kind == "num" else None,
            time=sql if kind == "time" else None,
            null=sql,
            order=(sql,),
        )

    # --- order_by ---------------------------------------------------------------------------
    def parse_order(self) -> list[str]:
        if self.peek().kind == "end":
            raise self.error(
                "Empty order_by item; write a field such as 'metrics.auc DESC'", self.peek()
            )
        terms: list[str] = []
        while True:
            field = self.field()
            direction = tok.text.upper() if (tok := self.accept("asc", "desc")) else "ASC"
            terms.extend(f"{sql} {direction} NULLS LAST" for sql in field.order)
            if not self.accept(","):
                self.expect_end("only ASC or DESC may follow the field")
                return terms
