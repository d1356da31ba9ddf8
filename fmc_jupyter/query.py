"""The model search language: text -> parameterised SQL, for SQLite and PostgreSQL (one compiler, two dialects).

Grammar (case-insensitive keywords)::

    query      := or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr (["and"] not_expr)*        # juxtaposition means "and"
    not_expr   := "not" not_expr | atom
    atom       := "(" query ")" | field OP value | word | "quoted phrase"
    OP         := "=" | "==" | "!=" | "<" | "<=" | ">" | ">=" | "~"     (~ means "contains")

Bare words and quoted phrases are full-text searched over name, description, tags and family.
Values carry units: ``5M`` / ``300K`` parameters, ``100MB`` / ``1.5GB`` size, ``75%`` or ``0.75``
accuracy, ``224px`` input size, ``20ms`` / ``0.02s`` latency.

The compiler emits only ``?`` placeholders for values and only whitelisted column names,
so no user text ever becomes SQL. Every problem raises :class:`QueryError` with the column.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from .errors import QueryError

__all__ = ["Field", "FIELDS", "ALIASES", "parse_query", "compile_query", "compile_order", "resolve_field", "Node",
           "FTS_DRIVEN", "ORDER_DRIVEN", "MAX_DEPTH", "MAX_CONDITIONS", "MAX_QUERY_LENGTH", "MAX_ORDER_FIELDS",
           "TSQUERY", "Dialect", "DIALECTS", "SQLITE", "POSTGRESQL", "get_dialect", "required_phrases",
           "text_phrases", "query_fields"]


@dataclass(frozen=True)
class Field:
    """A searchable column: ``kind`` decides how values and units are read."""

    name: str
    column: str
    kind: str  # text | count | megabytes | fraction | pixels | millis | int | flag
    help: str


FIELDS: dict[str, Field] = {
    f.name: f
    for f in [
        Field("name", "name", "text", "model name, e.g. MobileNetV2"),
        Field("family", "family", "text", "architecture family: mobilenet, resnet, efficientnet, ..."),
        Field("architecture", "architecture", "text", "the constructor, e.g. MobileNetV3Small"),
        Field("task", "task", "text", "classification, feature-vector, ..."),
        Field("domain", "domain", "text", "visual domain: natural, medical, birds, insects, ..."),
        Field("source", "source_kind", "text", "keras_application, keras_file, tflite_file or kerashub_preset"),
        Field("format", "format", "text", "how the model is stored: keras, tflite, kerashub, hf, kaggle"),
        Field("weights", "weights_present", "flag", "whether the weights are on this machine: present or absent"),
        Field("pretrained", "pretrained_on", "text", "upstream dataset, e.g. imagenet"),
        Field("license", "license", "text", "license of the weights"),
        Field("preprocessing", "preprocessing", "text", "tf, caffe, torch, in-model, uint8"),
        Field("owner", "owner", "text", "who registered it"),
        Field("visibility", "visibility", "text", "public or private"),
        Field("tags", "tags", "text", "comma-separated tags"),
        Field("description", "description", "text", "free text"),
        Field("input", "input_size", "pixels", "input side in pixels, e.g. 224px"),
        Field("params", "params", "count", "number of parameters, e.g. 5M, 300K"),
        Field("size", "size_mb", "megabytes", "file size, e.g. 100MB, 1.5GB"),
        Field("top1", "top1", "fraction", "ImageNet (or source) top-1 accuracy, e.g. 75% or 0.75"),
        Field("top5", "top5", "fraction", "top-5 accuracy"),
        Field("depth", "depth", "int", "number of layers in the Keras table"),
        Field("cpu_ms", "cpu_ms", "millis", "CPU latency per batch-32 step, e.g. 50ms"),
        Field("gpu_ms", "gpu_ms", "millis", "GPU latency per batch-32 step"),
        Field("classes", "num_classes", "count", "number of output labels"),
        Field("version", "version", "int", "version number within the model line"),
        Field("id", "id", "int", "registry id"),
    ]
}

ALIASES: dict[str, str] = {
    "accuracy": "top1", "acc": "top1", "top-1": "top1", "top_1": "top1", "top-5": "top5", "top_5": "top5",
    "size_mb": "size", "memory": "size", "mb": "size", "filesize": "size",
    "parameters": "params", "param": "params", "num_params": "params",
    "input_size": "input", "resolution": "input", "res": "input", "image_size": "input",
    "latency": "cpu_ms", "cpu": "cpu_ms", "gpu": "gpu_ms", "gpu_latency": "gpu_ms", "cpu_latency": "cpu_ms",
    "arch": "architecture", "model": "name", "kind": "source", "source_kind": "source",
    "pretrained_on": "pretrained", "dataset": "pretrained", "labels": "classes", "num_classes": "classes",
    "tag": "tags", "layers": "depth", "user": "owner", "weights_present": "weights", "offline": "weights",
    "license_name": "license",
}

#: limits far above any hand-written query, below where SQLite (expression depth 1000) or PostgreSQL give up
MAX_DEPTH = 20          # nested parentheses and "not"s (SQLite's parser stack holds ~30 levels)
MAX_CONDITIONS = 256    # comparisons and words
MAX_QUERY_LENGTH = 10_000  # characters
MAX_ORDER_FIELDS = 32
_MAX_DEPTH = MAX_DEPTH
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<op><=|>=|!=|==|=|<|>|~)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<word>[^\s()<>=!~"']+|!)
    """,
    re.VERBOSE,
)
_NUMBER = re.compile(r"^([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z%]*)$", re.IGNORECASE)
_UNITS = {
    "count": {"": 1, "k": 1e3, "m": 1e6, "mio": 1e6, "b": 1e9, "g": 1e9},
    "megabytes": {"": 1, "mb": 1, "m": 1, "kb": 1e-3, "k": 1e-3, "gb": 1e3, "g": 1e3, "b": 1e-6},
    "pixels": {"": 1, "px": 1},
    "millis": {"": 1, "ms": 1, "s": 1e3},
    "int": {"": 1},
    "fraction": {"": 1, "%": 0.01},
}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int


@dataclass(frozen=True)
class Node:
    """AST node: ``op`` is ``and``/``or``/``not``/``cmp``/``text``."""

    op: str
    children: tuple["Node", ...] = ()
    field: Field | None = None
    cmp: str = ""
    value: Any = None
    pos: int = 0


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _tokenize(query: str) -> list[Token]:
    bad = _CONTROL.search(query)
    if bad:
        raise QueryError(f"the query contains a control character ({bad.group()!r}); remove it", query, bad.start())
    tokens, pos = [], 0
    while pos < len(query):
        m = _TOKEN.match(query, pos)
        if m is None:  # an unterminated quote
            raise QueryError("unterminated quoted string: close it with the same quote", query, pos)
        kind = m.lastgroup or "word"
        if kind != "ws":
            tokens.append(Token(kind, m.group(), pos))
        pos = m.end()
    return tokens


def resolve_field(name: str, query: str = "", pos: int = 0) -> Field:
    """Map a user-typed field name or alias to its :class:`Field`, or raise with a suggestion."""
    key = name.lower()
    key = ALIASES.get(key, key)
    if key in FIELDS:
        return FIELDS[key]
    known = sorted(FIELDS) + sorted(ALIASES)
    close = difflib.get_close_matches(name.lower(), known, n=1, cutoff=0.6)
    if close:  # a likely typo: the suggestion, and only the fields that start like it
        shown = sorted({f for f in FIELDS if f[0] == close[0][0]} | {ALIASES.get(close[0], close[0])})
        raise QueryError(f"unknown field '{name}'. Did you mean '{close[0]}'? Known fields: {', '.join(shown)}, "
                         f"... ({len(FIELDS)} in all)", query, pos)
    raise QueryError(f"unknown field '{name}'. Known fields: {', '.join(sorted(FIELDS))}", query, pos)


_FLAGS = {"present": 1, "yes": 1, "true": 1, "1": 1, "local": 1, "absent": 0, "no": 0, "false": 0, "0": 0,
          "missing": 0}


def _value(field: Field, raw: str, query: str, pos: int) -> Any:
    if field.kind == "text":
        return raw
    if field.kind == "flag":
        if raw.lower() not in _FLAGS:
            raise QueryError(f"'{raw}' is not a value of field '{field.name}': use present or absent (yes/no)",
                             query, pos)
        return _FLAGS[raw.lower()]
    if field.kind == "pixels":
        raw = re.sub(r"^(\d+)\s*x\s*\d+", r"\1", raw.lower())
    m = _NUMBER.match(raw.strip())
    units = _UNITS[field.kind]
    if not m or m.group(2).lower() not in units:
        allowed = ", ".join(repr(u) for u in units if u) or "none"
        raise QueryError(f"'{raw}' is not a number for field '{field.name}' (units allowed: {allowed})", query, pos)
    number = float(m.group(1)) * units[m.group(2).lower()]
    if field.kind == "fraction" and not m.group(2) and number > 1:
        number /= 100.0  # "top1>75" means 75 %
    return number


class _Parser:
    def __init__(self, query: str):
        self.query = query
        self.tokens = _tokenize(query)
        self.i = 0
        self.depth = 0
        self.conditions = 0

    def peek(self, offset: int = 0) -> Token | None:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else None

    def keyword(self, word: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == "word" and tok.text.lower() == word

    def error(self, message: str, tok: Token | None = None) -> QueryError:
        pos = tok.pos if tok is not None else len(self.query)
        return QueryError(message, self.query, pos)

    def parse(self) -> Node | None:
        if not self.tokens:
            return None
        node = self.or_expr()
        if self.peek() is not None:
            tok = self.peek()
            raise self.error(f"unexpected '{tok.text}'" + (": no '(' to close" if tok.kind == "rparen" else ""), tok)
        return node

    def nest(self) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.error(f"the query is nested deeper than {_MAX_DEPTH} levels of parentheses or 'not' (the "
                             "limit); simplify it", self.peek())

    def count(self, tok: Token) -> None:
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise self.error(f"the query has more than {MAX_CONDITIONS} conditions (the limit); split it into several "
                             "searches, or pass a list of models instead of many name=... or-ed together", tok)

    def or_expr(self) -> Node:
        self.nest()
        parts = [self.and_expr()]
        while self.keyword("or"):
            self.i += 1
            parts.append(self.and_expr())
        self.depth -= 1
        return parts[0] if len(parts) == 1 else Node("or", tuple(parts))

    def and_expr(self) -> Node:
        parts = [self.not_expr()]
        while True:
            tok = self.peek()
            if tok is None or tok.kind == "rparen" or self.keyword("or"):
                break
            if self.keyword("and"):
                self.i += 1
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else Node("and", tuple(parts))

    def not_expr(self) -> Node:
        if self.keyword("not") or (self.peek() is not None and self.peek().text == "!"):
            tok = self.peek()
            self.i += 1
            self.nest()
            child = self.not_expr()
            self.depth -= 1
            return Node("not", (child,), pos=tok.pos)
        return self.atom()

    def atom(self) -> Node:
        tok = self.peek()
        if tok is None:
            raise self.error("the query ends too early: a condition is missing")
        if tok.kind == "lparen":
            self.i += 1
            node = self.or_expr()
            close = self.peek()
            if close is None or close.kind != "rparen":
                raise self.error("missing ')'", close if close is not None else None)
            self.i += 1
            return node
        nxt = self.peek(1)
        if tok.kind in ("word", "string"):
            self.count(tok)
        if tok.kind == "word" and nxt is not None and nxt.kind == "op":
            return self.comparison()
        if tok.kind in ("word", "string"):
            if tok.text.lower() in ("and", "or"):
                raise self.error(f"'{tok.text}' needs a condition before it", tok)
            self.i += 1
            text = _unquote(tok.text) if tok.kind == "string" else tok.text
            return Node("text", value=text, pos=tok.pos)
        raise self.error(f"unexpected '{tok.text}': expected a field, a word or '('", tok)

    def comparison(self) -> Node:
        name, op = self.tokens[self.i], self.tokens[self.i + 1]
        self.i += 2
        field = resolve_field(name.text, self.query, name.pos)
        value_tok = self.peek()
        if value_tok is None or value_tok.kind not in ("word", "string"):
            raise self.error(f"a value is missing after '{name.text}{op.text}'", value_tok)
        self.i += 1
        raw = _unquote(value_tok.text) if value_tok.kind == "string" else value_tok.text
        cmp = "=" if op.text == "==" else op.text
        if field.kind == "text" and cmp in ("<", "<=", ">", ">="):
            raise QueryError(f"field '{field.name}' is text: use =, != or ~ (contains)", self.query, op.pos)
        if field.kind == "flag" and cmp not in ("=", "!="):
            raise QueryError(f"field '{field.name}' is present or absent: use = or !=", self.query, op.pos)
        if field.kind != "text" and cmp == "~":
            raise QueryError(f"'~' (contains) works on text fields; '{field.name}' is a number", self.query, op.pos)
        return Node("cmp", field=field, cmp=cmp, value=_value(field, raw, self.query, value_tok.pos), pos=name.pos)


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def parse_query(query: str) -> Node | None:
    """Parse ``query`` into an AST (``None`` for an empty query). Raises :class:`QueryError`."""
    if not isinstance(query, str):
        raise QueryError(f"a query must be text, not {type(query).__name__}")
    if len(query) > MAX_QUERY_LENGTH:
        raise QueryError(f"the query is {len(query)} characters long; the limit is {MAX_QUERY_LENGTH}. Shorten it or "
                         "split it into several searches")
    return _Parser(query).parse()


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _fts_phrase(text: str) -> str:
    """One FTS5 phrase with prefix match; double quotes inside are doubled, so FTS syntax cannot leak."""
    return '"' + text.replace('"', '""') + '"*'


_WORD = re.compile(r"[^\W_]+")


def _tsquery_phrase(text: str) -> str | None:
    """The PostgreSQL twin of :func:`_fts_phrase`: ``'w1' <-> 'w2':*`` (words adjacent, last one a prefix).

    Words are runs of letters and digits, exactly what the ``models.search_vector`` column indexes (it replaces
    every other character by a space), so only letters and digits ever reach ``to_tsquery``: no tsquery syntax can
    leak. ``None`` when the text holds no word (it then matches nothing, like an empty FTS5 phrase).
    """
    words = [w.lower() for w in _WORD.findall(text)]
    if not words:
        return None
    return " <-> ".join(f"'{w}'" for w in words) + ":*"


@dataclass(frozen=True)
class Dialect:
    """How one database spells what the compiler emits.

    ``placeholder`` is the parameter marker; ``text_sql`` the default condition for a bare word (one placeholder);
    ``true`` the condition of an empty query.
    """

    name: str
    placeholder: str
    text_sql: str
    true: str


_INTEGER_KINDS = {"count", "pixels", "int"}  # fields stored in integer columns
#: the one range the filter-driven plan leaves indexable on SQLite: the second key of the covering indexes of the
#: equality fields (registry/schema.py, migration 40), so ``input=224px and top1>=80%`` reads one index range
COVERING_RANGE = "top1"
FTS_DRIVEN = "id IN (SELECT rowid FROM models_fts WHERE models_fts MATCH ?)"
ORDER_DRIVEN = "+id IN (SELECT rowid FROM models_fts WHERE models_fts MATCH ?)"
#: bare words on PostgreSQL: the GIN-indexed ``search_vector`` column (see registry/postgres_schema.py)
TSQUERY = "search_vector @@ to_tsquery('simple', %s)"

SQLITE = Dialect("sqlite", "?", FTS_DRIVEN, "1")
POSTGRESQL = Dialect("postgresql", "%s", TSQUERY, "TRUE")
DIALECTS: dict[str, Dialect] = {d.name: d for d in (SQLITE, POSTGRESQL)}


def get_dialect(dialect: str | Dialect) -> Dialect:
    """``"sqlite"`` / ``"postgresql"`` (or a :class:`Dialect`) -> the :class:`Dialect`."""
    if isinstance(dialect, Dialect):
        return dialect
    try:
        return DIALECTS[dialect]
    except KeyError:
        raise QueryError(f"unknown SQL dialect {dialect!r}; known: {', '.join(DIALECTS)}") from None


def _compile(node: Node, params: list[Any], text_sql: str, d: Dialect, walk_order: bool = False) -> str:
    """SQL for ``node``: values go to ``params`` behind ``d.placeholder``; columns come from :data:`FIELDS` only.

    Text comparisons are case-insensitive on both databases: SQLite through ``COLLATE NOCASE`` (and its ASCII
    case-insensitive ``LIKE``), PostgreSQL through ``ILIKE`` and the case-insensitive ``citext`` columns of its
    schema (where ``=`` ignores case).

    ``walk_order`` (SQLite): every column is written ``+"col"`` so that no filter's index is chosen and SQLite walks
    the ORDER BY column's index, stopping after the first page (see :func:`compile_query`).
    """
    ph = d.placeholder
    if node.op in ("and", "or"):
        return "(" + f" {node.op.upper()} ".join(_compile(c, params, text_sql, d, walk_order)
                                                for c in node.children) + ")"
    if node.op == "not":
        return f"(NOT {_compile(node.children[0], params, text_sql, d, walk_order)})"
    if node.op == "text":
        if d is POSTGRESQL:
            phrase = _tsquery_phrase(node.value)
            if phrase is None:
                return "(FALSE)"
            params.append(phrase)
        else:
            params.append(_fts_phrase(node.value))
        return text_sql
    field, col = node.field, f'"{node.field.column}"'
    if walk_order and d is SQLITE:
        col = "+" + col
    if field.kind == "text":
        if node.cmp == "~":
            params.append(f"%{_like_escape(node.value)}%")
            like = "ILIKE" if d is POSTGRESQL else "LIKE"
            return f"({col} {like} {ph} ESCAPE '\\')"
        params.append(node.value)
        nocase = "" if d is POSTGRESQL else " COLLATE NOCASE"
        if node.cmp == "!=":
            return f"({col} IS NULL OR {col} != {ph}{nocase})"
        return f"({col} = {ph}{nocase})"
    value = node.value
    if d is POSTGRESQL and field.kind in _INTEGER_KINDS and float(value).is_integer():
        value = int(value)  # an integer against a BIGINT column keeps its index usable (a float casts the column)
    params.append(value)
    if field.kind == "flag":
        return f"(coalesce({col}, 0) {node.cmp} {ph})"
    if node.cmp in ("<", "<=", ">", ">=") and d is SQLITE and not walk_order and field.column != COVERING_RANGE:
        # Unary + keeps ranges out of index selection: without STAT4, SQLite guesses every range keeps 1/4 of the
        # rows and picks a range index over an equality's (covering) index, then looks up most of the table.
        return f"(+{col} {node.cmp} {ph})"
    return f"({col} {node.cmp} {ph})"


def compile_query(query: str, text_sql: str | None = None, dialect: str | Dialect = "sqlite",
                  walk_order: bool = False) -> tuple[str, list[Any]]:
    """Compile ``query`` to ``(where_sql, params)``; an empty query gives ``("1", [])`` (``("TRUE", [])``).

    ``dialect`` is ``"sqlite"`` (``?`` placeholders, FTS5) or ``"postgresql"`` (``%s`` placeholders, tsvector).
    ``text_sql`` is the SQL used for a bare word, with one placeholder for the phrase; default: the dialect's.
    ``walk_order=True`` (SQLite) compiles for the order-driven plan: no condition may drive the scan (every column
    ``+"col"``, bare words :data:`ORDER_DRIVEN`), so SQLite walks the ORDER BY index and checks each row. The
    default compiles for the filter-driven plan: equalities and full text pick their (covering) index.
    """
    d = get_dialect(dialect)
    node = parse_query(query)
    params: list[Any] = []
    if node is None:
        return d.true, params
    if walk_order and text_sql is None and d is SQLITE:
        text_sql = ORDER_DRIVEN
    return _compile(node, params, text_sql or d.text_sql, d, walk_order), params


def query_fields(query: str) -> set[str]:
    """The fields ``query`` compares: ``"weights=present and acc>70%"`` -> ``{"weights", "top1"}``."""
    found: set[str] = set()
    stack = [parse_query(query)]
    while stack:
        node = stack.pop()
        if node is not None:
            if node.field is not None:
                found.add(node.field.name)
            stack.extend(node.children)
    return found


def required_phrases(query: str, dialect: str | Dialect = "sqlite") -> list[str | None]:
    """The full-text phrases of the bare words every match must contain (the top-level ``and`` of ``query``).

    ``"resnet and top1>70%"`` -> ``['"resnet"*']`` (SQLite's FTS5) or ``["'resnet':*"]`` (PostgreSQL's tsquery;
    ``None`` for a word without letters or digits, which matches nothing). Words under ``or`` or ``not`` are not
    required. The registry counts a phrase's matches in the full-text index (cheap) to pick a search plan.
    """
    node = parse_query(query)
    if node is None:
        return []
    phrase = _tsquery_phrase if get_dialect(dialect) is POSTGRESQL else _fts_phrase
    conjuncts = node.children if node.op == "and" else (node,)
    return [phrase(c.value) for c in conjuncts if c.op == "text"]


def text_phrases(query: str) -> list[str]:
    """Every full-text phrase (SQLite FTS5) of the bare words of ``query``, required or not, in query order."""
    node = parse_query(query)
    out: list[str] = []

    def walk(n: Node) -> None:
        if n.op == "text":
            out.append(_fts_phrase(n.value))
        for child in n.children or ():
            walk(child)

    if node is not None:
        walk(node)
    return out


def compile_order(order_by: str | None, use_index: bool = True, dialect: str | Dialect = "sqlite") -> str:
    """``"-top1, params"`` -> ``'"top1" DESC NULLS LAST, "params" ASC NULLS LAST'`` (whitelisted columns only).

    The default is best top-1 first. ``use_index=False`` writes ``+"col"`` so SQLite sorts the matches
    instead of walking the column's index (PostgreSQL's planner needs no such hint; it is ignored there).
    """
    plus = "" if use_index or get_dialect(dialect) is not SQLITE else "+"
    default = f'{plus}"top1" DESC NULLS LAST, {plus}"name" ASC'
    if not order_by:
        return default
    if isinstance(order_by, (list, tuple)) and all(isinstance(item, str) for item in order_by):
        order_by = ",".join(order_by)
    if not isinstance(order_by, str):
        raise QueryError(f"order_by must be text such as '-top1,params' (or a list of such fields), not "
                         f"{type(order_by).__name__}")
    if len(order_by) > MAX_QUERY_LENGTH or order_by.count(",") >= MAX_ORDER_FIELDS:
        raise QueryError(f"order_by names more than {MAX_ORDER_FIELDS} fields or is too long (the limits); "
                         "order by a few fields")
    parts, seen = [], set()
    for item in order_by.split(","):
        words = item.strip().split()
        if not words:
            continue
        name, desc = words[0], False
        if name.startswith("-"):
            name, desc = name[1:], True
        elif name.startswith("+"):
            name = name[1:]
        if len(words) == 2 and words[1].lower() in ("asc", "desc"):
            desc = words[1].lower() == "desc"
        elif len(words) > 1:
            raise QueryError(f"cannot order by '{item.strip()}': write a field, '-field' or 'field desc'", order_by, 0)
        field = resolve_field(name, order_by, 0)
        if field.column in seen:  # a later mention of the same field cannot change the order
            continue
        seen.add(field.column)
        parts.append(f'{plus}"{field.column}" {"DESC" if desc else "ASC"} NULLS LAST')
    return ", ".join(parts) or default
