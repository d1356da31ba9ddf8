"""The query language: parsing, units, aliases, errors with positions, and injection safety."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fmc_jupyter.errors import QueryError
from fmc_jupyter.query import compile_order, compile_query, parse_query


def test_empty_query_matches_everything():
    assert compile_query("") == ("1", [])
    assert compile_query("   ") == ("1", [])


@pytest.mark.parametrize("query, params", [
    ("params<5M", [5e6]),
    ("params <= 300K", [3e5]),
    ("size<100MB", [100.0]),
    ("size<1.5GB", [1500.0]),
    ("memory<=512kb", [0.512]),
    ("top1>=75%", [0.75]),
    ("top1>=0.75", [0.75]),
    ("accuracy>75", [0.75]),
    ("input=224px", [224.0]),
    ("resolution=224x224", [224.0]),
    ("latency<20ms", [20.0]),
    ("cpu_ms<0.02s", [20.0]),
])
def test_units_and_aliases(query, params):
    sql, got = compile_query(query)
    assert got == pytest.approx(params)
    assert sql.count("?") == len(params)


def test_boolean_structure_and_precedence():
    sql, params = compile_query("domain=natural and params<5M and (top1>=75% or family=mobilenet)")
    assert params == ["natural", 5e6, 0.75, "mobilenet"]
    assert " OR " in sql and sql.count(" AND ") == 2
    node = parse_query("a or b and c")
    assert node.op == "or" and node.children[1].op == "and"
    assert parse_query("not family=vgg").op == "not"
    assert parse_query("mobile net").op == "and"  # juxtaposition is "and"


def test_text_operators():
    sql, params = compile_query("name~net")
    assert "LIKE" in sql and params == ["%net%"]
    sql, params = compile_query("name~100%_x")
    assert params == ["%100\\%\\_x%"]  # LIKE wildcards are escaped
    sql, params = compile_query('family!="mobile net"')
    assert "!=" in sql and params == ["mobile net"]


def test_bare_words_are_fts_phrases():
    sql, params = compile_query('efficient "res net"')
    assert sql.count("models_fts MATCH ?") == 2
    assert params == ['"efficient"*', '"res net"*']


@pytest.mark.parametrize("query, position, fragment", [
    ("acuracy>0.7", 0, "Did you mean 'accuracy'"),
    ("params<5Q", 7, "not a number"),
    ("(params<5M", 10, "missing ')'"),
    ("params<5M)", 9, "unexpected ')'"),
    ("family>res", 6, "is text"),
    ("params~5", 6, "contains"),
    ("top1>=", 6, "value is missing"),
    ("and family=vgg", 0, "needs a condition"),
    ('name="abc', 5, "unterminated"),
    ("family=vgg or", 13, "ends too early"),
])
def test_errors_point_at_the_problem(query, position, fragment):
    with pytest.raises(QueryError) as info:
        compile_query(query)
    assert info.value.position == position
    assert fragment in str(info.value)
    assert "^" in str(info.value)


def test_unknown_field_lists_known_fields():
    with pytest.raises(QueryError, match="Known fields: .*params"):
        compile_query("flops<5")


def test_a_typo_gets_the_suggestion_and_only_fields_that_start_like_it():
    with pytest.raises(QueryError) as info:
        compile_query("parms<5M")
    message = str(info.value)
    assert "Did you mean 'params'?" in message and "pretrained" in message
    assert "domain" not in message and "in all)" in message


def test_deep_nesting_is_a_query_error_not_a_crash():
    with pytest.raises(QueryError, match="nested deeper"):
        compile_query("(" * 500 + "x" + ")" * 500)
    with pytest.raises(QueryError):
        compile_query("not " * 500 + "x")


def test_order_by():
    assert compile_order("-top1, params") == '"top1" DESC NULLS LAST, "params" ASC NULLS LAST'
    assert compile_order("params", use_index=False) == '+"params" ASC NULLS LAST'
    assert compile_order("accuracy desc") == '"top1" DESC NULLS LAST'
    with pytest.raises(QueryError):
        compile_order("top1; drop table models")
    with pytest.raises(QueryError):
        compile_order("nosuchfield")


INJECTIONS = [
    "name='x' or 1=1",
    "name=\"x\"; DROP TABLE models; --",
    "name=x' union select * from datasets --",
    "') or 1=1 --",
    "union select sqlite_version()",
    "name=x/* comment */",
    "\"zzq\" OR \"zzr\" NEAR(c)",
    "name=\"x\\\" or 1=1 --\"",
]


@pytest.mark.parametrize("query", INJECTIONS)
def test_injection_attempts_stay_literals(query, tmp_registry):
    try:
        result = tmp_registry.search(query)
    except QueryError:
        return
    assert len(result) == 0  # a harmless literal that matches nothing
    assert tmp_registry.count() == 64 + 128  # the catalog (Keras Applications + KerasHub presets) is intact


def _check(query: str) -> None:
    try:
        sql, params = compile_query(query)
    except QueryError:
        return
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE models (id INTEGER PRIMARY KEY, " + ", ".join(
        f'"{c}"' for c in ["name", "family", "architecture", "task", "domain", "source_kind", "pretrained_on",
                           "license", "preprocessing", "owner", "visibility", "tags", "description", "input_size",
                           "params", "size_mb", "top1", "top5", "depth", "cpu_ms", "gpu_ms", "num_classes",
                           "version"]) + ")")
    conn.execute("CREATE VIRTUAL TABLE models_fts USING fts5(name, description)")
    conn.execute(f"SELECT * FROM models WHERE {sql}", params).fetchall()  # valid SQL, values bound only


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abtop1size<>=!~()\"' %.5MKmnd;-*")), max_size=40))
def test_fuzz_grammar_alphabet(query):
    _check(query)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_fuzz_any_text(query):
    _check(query)


_ATOMS = st.sampled_from(["mobilenet", "params>1", "top1>50%", "name=x", "name~y", '"two words"', "family!=z",
                          "id=99999999999999999999", "size<1e400"])
_QUERIES = st.recursive(
    _ATOMS,
    lambda inner: st.one_of(
        inner.map(lambda q: f"not {q}"),
        inner.map(lambda q: f"({q})"),
        st.tuples(st.sampled_from([" and ", " or ", " "]), st.lists(inner, min_size=2, max_size=6))
        .map(lambda t: "(" + t[0].join(t[1]) + ")"),
    ),
    max_leaves=300,
)


@pytest.fixture(scope="module")
def fuzz_registry(tmp_path_factory):
    from fmc_jupyter.registry import Registry

    reg = Registry(tmp_path_factory.mktemp("fuzz") / "registry.db", user="alice")
    yield reg
    reg.close()


@settings(max_examples=80, deadline=None)
@given(_QUERIES)
def test_any_nested_or_wide_query_runs_or_is_refused_with_the_limit(fuzz_registry, query):
    """SQLite's parser stack and expression depth are never reached: a query either runs or is a QueryError."""
    try:
        fuzz_registry.count(query)
        fuzz_registry.search(query, limit=2)
    except QueryError as exc:
        assert "limit" in str(exc) or "(the limit)" in str(exc)


@pytest.mark.parametrize("pattern", [
    lambda k: "not " * k + "params>1",
    lambda k: "(a or " * k + "params>1" + ")" * k,
    lambda k: "(a and not " * k + "mobilenet" + ")" * k,
    lambda k: "(params>1 and not " * k + "params>2" + ")" * k,
])
def test_the_deepest_allowed_queries_run_in_sqlite(fuzz_registry, pattern):
    from fmc_jupyter.query import MAX_DEPTH

    deepest = max(k for k in range(1, MAX_DEPTH + 1) if _parses(pattern(k)))
    fuzz_registry.count(pattern(deepest))  # no "parser stack overflow" at the limit
    with pytest.raises(QueryError, match=f"deeper than {MAX_DEPTH}"):
        fuzz_registry.count(pattern(deepest + 1))


def _parses(query: str) -> bool:
    try:
        parse_query(query)
    except QueryError:
        return False
    return True


def test_many_conditions_are_refused_with_the_limit():
    from fmc_jupyter.query import MAX_CONDITIONS, MAX_QUERY_LENGTH

    parse_query(" or ".join(["a"] * MAX_CONDITIONS))
    with pytest.raises(QueryError, match=f"more than {MAX_CONDITIONS} conditions"):
        parse_query(" or ".join(["a"] * (MAX_CONDITIONS + 1)))
    with pytest.raises(QueryError, match=f"the limit is {MAX_QUERY_LENGTH}"):
        parse_query("a" * (MAX_QUERY_LENGTH + 1))
