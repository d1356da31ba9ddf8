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
