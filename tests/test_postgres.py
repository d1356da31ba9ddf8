"""The registry on a real PostgreSQL server (started by the tests, see tests/_postgres.py).

Same answers as the embedded SQLite registry for the query language; clear errors for an unreachable server,
a wrong password, a newer schema and a read-only role, with nothing half-done; unique version numbers and every
row present under concurrent writers in several processes.
"""

from __future__ import annotations

import multiprocessing as mp
import socket

import numpy as np
import pytest

from fmc_jupyter.errors import (InputError, NotFoundError, PermissionDeniedError, QueryError,
                                RegistryUnavailableError, SchemaVersionError)
from fmc_jupyter.registry import Registry, open_registry
from fmc_jupyter.registry.postgres import PostgresRegistry, redact_url
from fmc_jupyter.registry.postgres_db import translate
from fmc_jupyter.registry.postgres_schema import PG_MIGRATIONS
from fmc_jupyter.registry.schema import MIGRATIONS

KNOWN = [number for number, _ in PG_MIGRATIONS]

FAMILIES = ["mobilenet", "resnet", "efficientnet", "vgg"]
DOMAINS = ["natural", "Medical", "satellite", "birds"]


def synthetic_rows(n: int, seed: int = 0) -> list[dict]:
    """Seeded model rows with mixed case, NULLs, punctuation and LIKE wildcards in the text fields."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        family = FAMILIES[i % len(FAMILIES)]
        params = int(10 ** rng.uniform(5, 8))
        rows.append({
            "name": f"{family.title() if i % 2 else family}-{i}_v{i % 3}", "version": 1, "family": family,
            "architecture": family.upper() if i % 5 == 0 else family, "domain": DOMAINS[i % len(DOMAINS)],
            "task": "classification", "source_kind": "keras_file", "input_size": int(rng.choice([96, 224, 299])),
            "params": params, "size_mb": round(params * 4 / 1e6, 2),
            "top1": None if i % 7 == 0 else round(float(rng.uniform(0.4, 0.9)), 4),
            "cpu_ms": round(float(rng.uniform(5, 500)), 1), "license": None if i % 4 == 0 else "MIT",
            "description": f"synthetic {family} model number {i}" + (" with 100%_sure accuracy" if i % 11 == 0 else ""),
            "tags": "synthetic,Fast" if i % 3 else "slow", "owner": f"user{i % 3}",
            "visibility": "public" if i % 2 else "private",
        })
    return rows


QUERIES = [
    "", "params<5M", "params<10M and top1>=75%", "domain=medical and (params<5M or size<20MB)", "family=MobileNet",
    "family!=mobilenet", "license!=mit", "name~NET and input>=224", "name~100%", "description~100%_s", "efficient",
    "resnet and top1>70%", "Synthetic model", '"model number 1"', "number 12", "4242", "not family=vgg and params<50M",
    "latency<30ms and domain=natural", "tags~fast", "mobilenet or vgg", "not top1>0.5", "v2", "fast", "_", "Mobile*",
]


@pytest.fixture(scope="module")
def both(tmp_path_factory, postgres_server):
    """The same 400 rows in an embedded registry and in a PostgreSQL one, both opened as user1."""
    rows = synthetic_rows(400)
    lite = Registry(tmp_path_factory.mktemp("lite") / "r.db", user="user1")
    pg = PostgresRegistry(postgres_server.url(postgres_server.create_database()), user="user1",
                          artifacts=tmp_path_factory.mktemp("pg-artifacts"))
    assert lite.insert_models(rows) == pg.insert_models(rows)
    yield lite, pg
    lite.close()
    pg.close()


@pytest.mark.parametrize("query", QUERIES)
def test_search_gives_the_same_models_as_sqlite(both, query):
    lite, pg = both
    expected = lite.search(query, order_by="id", limit=None)
    got = pg.search(query, order_by="id", limit=None)
    assert got["id"].tolist() == expected["id"].tolist()
    assert pg.count(query) == lite.count(query) == len(expected)


@pytest.mark.parametrize("order, keys", [("-top1", ["top1"]), ("params, -size", ["params", "size_mb"]),
                                         ("name desc", ["name"]), (None, ["top1", "name"])])
def test_ordering_and_paging_match_sqlite(both, order, keys):
    lite, pg = both
    for offset in (0, 20):
        a = lite.search("synthetic", order_by=order, limit=20, offset=offset)
        b = pg.search("synthetic", order_by=order, limit=20, offset=offset)
        # the same sort keys page by page (rows tied on every key may come in either order on either database)
        assert b[keys].fillna(-1).values.tolist() == a[keys].fillna(-1).values.tolist()


def test_a_walk_past_its_budget_gives_way_to_the_filters_in_and_out_of_transactions(both, monkeypatch):
    """The order-driven walk runs under a statement timeout (pipelined with its BEGIN / savepoint); a walk that
    runs past it (here: waiting for a lock another session holds on the table) is cancelled and the filters-first
    plan answers, outside a transaction and inside a write transaction alike, which then commits as usual. A walk
    cancelled because everything was slow (the filters waited for the lock too) is not remembered as lost."""
    import threading

    import psycopg

    import fmc_jupyter.registry.postgres as pg_module

    lite, pg = both
    query, order = "domain=medical and top1>0.5", "-params"
    expected = lite.search(query, order_by=order, limit=10)["id"].tolist()
    monkeypatch.setattr(type(pg), "_broad_words", lambda self, q, listed=None: False)  # the walk goes first
    monkeypatch.setattr(pg_module, "ORDER_SCAN_BUDGET_MS", 50)
    cancelled = []
    guard = pg.db.guard

    def counting_guard(fn):
        try:
            return guard(fn)
        except psycopg.errors.QueryCanceled as exc:
            cancelled.append(exc)      # one exception passes every nested guard: count it once
            raise

    monkeypatch.setattr(pg.db, "guard", counting_guard)
    url = pg.db.connection.info.dsn
    before = pg.change_count()
    for in_transaction in (False, True):
        locker = psycopg.connect(url + f" password={pg.db.connection.info.password}", autocommit=False)
        locker.execute("LOCK TABLE models IN ACCESS EXCLUSIVE MODE")
        release = threading.Timer(0.5, locker.rollback)
        release.start()
        if in_transaction:
            with pg.transaction():
                got = pg.search(query, order_by=order, limit=10)["id"].tolist()
                pg.db.execute("UPDATE registry_changes SET count = count WHERE id = 1")
        else:
            got = pg.search(query, order_by=order, limit=10)["id"].tolist()
        release.join()
        locker.close()
        assert got == expected
    assert len({id(exc) for exc in cancelled}) == 2 and not pg._lost_walks
    assert pg.change_count() == before + 1  # the write transaction committed after its cancelled walk
    assert pg.db.connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


def test_private_rows_stay_private_on_postgres(both):
    _, pg = both
    seen = pg.search("", limit=None)
    assert set(seen["owner"]) == {"catalog", "user0", "user1", "user2"}
    assert set(seen[seen.visibility == "private"]["owner"]) == {"user1"}


@pytest.mark.parametrize("query, message", [
    ("famly=vgg", "Did you mean 'family'"), ("top1>>5", "a value is missing"), ("family<3", "is text"),
    ('"open', "unterminated"), ("size<5parsecs", "not a number"), ("(params<5M", "missing ')'"),
])
def test_the_same_did_you_mean_errors(both, query, message):
    lite, pg = both
    with pytest.raises(QueryError) as lite_err:
        lite.search(query)
    with pytest.raises(QueryError) as pg_err:
        pg.search(query)
    assert str(pg_err.value) == str(lite_err.value)
    if message:
        assert message in str(pg_err.value)


def test_text_and_case_insensitive_lookups(both):
    _, pg = both
    assert pg.model("MOBILENETV2").name == "MobileNetV2"  # catalog entry, citext name
    with pytest.raises(NotFoundError, match="that you can see"):
        pg.model("no-such-model")
    rows = pg.db.execute("SELECT count(*) FROM models").fetchone()[0]
    # an injection attempt is a phrase, not SQL or tsquery syntax
    assert pg.search("'x; DROP TABLE models; --'", limit=None).empty
    assert pg.search("name='x''; DROP TABLE models; --'", limit=None).empty
    assert pg.search("a & !b | c:*", limit=None).empty
    assert pg.db.execute("SELECT count(*) FROM models").fetchone()[0] == rows > 400  # the table is intact


def test_migrations_match_the_embedded_ones(postgres_url, tmp_path):
    assert KNOWN == sorted(number for number, _ in MIGRATIONS)
    with Registry(tmp_path / "r.db", user="alice") as lite, \
            PostgresRegistry(postgres_url, user="alice", artifacts=tmp_path / "a") as pg:
        assert pg.schema_version() == lite.schema_version() == KNOWN
        # the same seeded catalog, row for row
        cols = ["id", "name", "version", "source_kind", "format", "weights_present", "top1", "owner"]
        a = lite.db.execute(f"SELECT {', '.join(cols)} FROM models ORDER BY id").fetchall()
        b = pg.db.execute(f"SELECT {', '.join(cols)} FROM models ORDER BY id").fetchall()
        assert [tuple(r) for r in b] == [tuple(r) for r in a] and len(a) > 64


def test_translation_of_the_shared_sql():
    assert translate("SELECT * FROM m WHERE a = ? AND b LIKE '100%?'") == \
        "SELECT * FROM m WHERE a = %s AND b LIKE '100%%?'"
    assert "string_agg(" in translate("SELECT group_concat(a, ',') FROM t")
    assert "COLLATE" not in translate("SELECT 1 WHERE a = ? COLLATE NOCASE")
    assert "clock_timestamp()" in translate("UPDATE t SET at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')")


# ---------------------------------------------------------------------------------------------------------- bad input
def test_unreachable_server_is_a_clear_error(tmp_path):
    with socket.socket() as sock:  # a port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(RegistryUnavailableError, match="cannot reach PostgreSQL at .*check that the server runs"):
        open_registry(f"postgresql://fmc:secret@127.0.0.1:{port}/fmc", user="alice")


def test_wrong_password_is_a_clear_error_and_never_echoes_it(postgres_server):
    url = postgres_server.url(postgres_server.create_database(), password="not-the-password")
    with pytest.raises(RegistryUnavailableError, match="refused the login") as err:
        open_registry(url, user="alice")
    assert "not-the-password" not in str(err.value)
    assert redact_url(url).count("***") == 1


def test_missing_database_and_bad_urls(postgres_server):
    with pytest.raises(RegistryUnavailableError, match="does not exist"):
        open_registry(postgres_server.url("no_such_database"), user="alice")
    with pytest.raises(InputError):
        PostgresRegistry("mysql://x/y", user="alice")


def test_a_newer_schema_is_refused_untouched(postgres_server, tmp_path):
    url = postgres_server.url(postgres_server.create_database())
    PostgresRegistry(url, user="alice", artifacts=tmp_path).close()
    postgres_server.sql("INSERT INTO schema_migrations VALUES (999, 'future')", url.rsplit("/", 1)[1])
    with pytest.raises(SchemaVersionError, match=r"\[999\].*Upgrade fmc_jupyter"):
        open_registry(url, user="alice")
    rows = postgres_server.sql("SELECT id FROM schema_migrations ORDER BY id", url.rsplit("/", 1)[1])
    assert [r[0] for r in rows] == KNOWN + [999]


def test_a_database_of_another_application_is_refused_untouched(postgres_server):
    dbname = postgres_server.create_database()
    postgres_server.sql("CREATE TABLE models (id int, title text)", dbname)
    with pytest.raises(SchemaVersionError, match=r"tables \['models'\] that fmc_jupyter did not create"):
        open_registry(postgres_server.url(dbname), user="alice")
    assert postgres_server.sql("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
                               dbname) == [("models",)]


def test_a_read_only_role_reads_but_cannot_write_or_migrate(postgres_server, tmp_path):
    dbname = postgres_server.create_database()
    owner = PostgresRegistry(postgres_server.url(dbname), user="alice", artifacts=tmp_path)
    before = owner.count()
    owner.close()
    postgres_server.sql("CREATE ROLE reader LOGIN PASSWORD 'reader-pw'")
    postgres_server.sql("GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader", dbname)
    reader_url = postgres_server.url(dbname, user="reader", password="reader-pw")
    reader = open_registry(reader_url, user="alice")
    assert reader.count() == before and reader.model("MobileNetV2").name == "MobileNetV2"
    with pytest.raises(PermissionDeniedError, match="'reader' may not change the registry.*read-only"):
        reader.start_run("MobileNetV2")
    with pytest.raises(PermissionDeniedError):
        reader.add_dataset(np.zeros((2, 4, 4, 3), np.uint8), [0, 1], "toy", ["a", "b"])
    assert reader.runs().empty and reader.datasets().empty  # nothing half-written
    reader.close()
    # the same role on an empty database cannot create the schema: a clear error, and no table is left behind
    empty = postgres_server.create_database()
    postgres_server.sql("REVOKE CREATE ON SCHEMA public FROM PUBLIC", empty)
    with pytest.raises(PermissionDeniedError, match="may not create the registry's tables.*nothing was changed"):
        open_registry(postgres_server.url(empty, user="reader", password="reader-pw"), user="alice")
    assert postgres_server.sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", empty) == [(0,)]


# ---------------------------------------------------------------------------------------------------------- concurrency
def _writer(args: tuple[str, str, int, int]) -> tuple[list[int], list[str]]:
    url, artifacts, worker, runs = args
    ids, errors = [], []
    with PostgresRegistry(url, user=f"worker{worker}", artifacts=artifacts) as reg:
        for i in range(runs):
            try:
                run_id = reg.start_run("MobileNetV2", optimizer="adam", config={"worker": worker, "i": i})
                reg.log_epoch(run_id, 0, loss=1.0, val_accuracy=0.5)
                reg.finish_run(run_id, metrics={"i": i})
                ids.append(run_id)
            except Exception as exc:  # counted, never hidden
                errors.append(repr(exc))
    return ids, errors


def test_concurrent_writer_processes_lose_and_double_nothing(postgres_server, tmp_path):
    url = postgres_server.url(postgres_server.create_database())
    procs, runs = 4, 15
    with mp.get_context("spawn").Pool(procs) as pool:  # the first opens also race to create the schema
        results = pool.map(_writer, [(url, str(tmp_path), w, runs) for w in range(procs)])
    assert [e for _, errs in results for e in errs] == []
    ids = [i for got, _ in results for i in got]
    assert len(ids) == len(set(ids)) == procs * runs
    check = postgres_server.sql("SELECT count(*), count(DISTINCT id) FROM runs WHERE status = 'finished'",
                                url.rsplit("/", 1)[1])
    assert check == [(procs * runs, procs * runs)]
    assert [r[0] for r in postgres_server.sql("SELECT id FROM schema_migrations ORDER BY id",
                                              url.rsplit("/", 1)[1])] == KNOWN


def test_same_dataset_from_two_registries_is_stored_once(postgres_server, tmp_path):
    url = postgres_server.url(postgres_server.create_database())
    x = np.arange(4 * 8 * 8 * 3, dtype=np.uint8).reshape(4, 8, 8, 3)
    with PostgresRegistry(url, user="alice", artifacts=tmp_path) as a, \
            PostgresRegistry(url, user="bob", artifacts=tmp_path) as b:
        first = a.add_dataset(x, [0, 1, 0, 1], "toy", ["a", "b"])
        again = b.add_dataset(x, [0, 1, 0, 1], "other name", ["a", "b"])
        assert again.id == first.id
        with pytest.raises(InputError, match="(?i)already named 'toy'"):
            b.add_dataset(x[:2], [0, 1], "TOY", ["a", "b"])  # names ignore case, as on SQLite
        loaded = b.load_dataset(first.id)
        assert np.array_equal(loaded.x, x) and list(loaded.y) == [0, 1, 0, 1]
        with pytest.raises(Exception, match="datasets are never deleted"):  # the schema's trigger, as on SQLite
            a.db.execute("DELETE FROM datasets")
        assert len(a.datasets()) == 1


def test_artifacts_on_an_s3_api_server(postgres_url, s3_server, tmp_path, monkeypatch):
    """FMC_ARTIFACTS=s3://... (moto's S3 emulator on 127.0.0.1): datasets and model files live in the bucket."""
    bucket = s3_server.make_bucket("fmc-pg-artifacts")
    for key, value in s3_server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("FMC_ARTIFACTS", f"s3://{bucket}/team")
    monkeypatch.setenv("FMC_CACHE_DIR", str(tmp_path / "cache"))
    x = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3)
    with open_registry(postgres_url, user="alice") as reg:
        assert reg.artifacts.url == f"s3://{bucket}/team"
        record = reg.add_dataset(x, [0, 1], "in-s3", ["a", "b"])
    import boto3

    client = boto3.client("s3", endpoint_url=s3_server.endpoint, aws_access_key_id=s3_server.key,
                          aws_secret_access_key=s3_server.secret, region_name="us-east-1")
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == [f"team/{record.artifact}"]
    monkeypatch.setenv("FMC_CACHE_DIR", str(tmp_path / "another-host-cache"))  # another replica, empty cache
    with open_registry(postgres_url, user="bob") as other:
        assert np.array_equal(other.load_dataset("in-s3").x, x)


def test_a_lost_connection_is_a_clear_error(postgres_server, tmp_path):
    dbname = postgres_server.create_database()
    reg = PostgresRegistry(postgres_server.url(dbname), user="alice", artifacts=tmp_path)
    pid = reg.db.connection.info.backend_pid
    postgres_server.sql("SELECT pg_terminate_backend(%s)", params=(pid,))  # the server drops this session
    with pytest.raises(RegistryUnavailableError, match="lost the connection to PostgreSQL.*open the registry again"):
        reg.search("mobilenet")
    reg.close()
    with open_registry(postgres_server.url(dbname), user="alice") as again:  # a new connection works
        assert again.count("family=mobilenet") > 0
