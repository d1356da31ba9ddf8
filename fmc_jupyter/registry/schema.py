"""Numbered schema migrations of the registry database.

Each migration is applied once, inside the same ``BEGIN IMMEDIATE`` transaction that records it in
``schema_migrations``; several processes opening a new registry at once therefore serialise on the
write lock and the later ones find the work done. Add a migration by appending ``(number, sql)`` or
``(number, function(connection))``; never edit one that has shipped. Migrations run with foreign keys
off (checked with ``PRAGMA foreign_key_check`` before the commit), so a table can be rebuilt.
"""

from __future__ import annotations

import re
import sqlite3

__all__ = ["MIGRATIONS", "COVERED"]

_V1 = """
CREATE TABLE models (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL COLLATE NOCASE,          -- the model line; versions share it
    version INTEGER NOT NULL DEFAULT 1,
    family TEXT COLLATE NOCASE,
    architecture TEXT COLLATE NOCASE,
    task TEXT COLLATE NOCASE DEFAULT 'classification',
    domain TEXT COLLATE NOCASE DEFAULT 'natural',
    source_kind TEXT NOT NULL COLLATE NOCASE,   -- keras_application | keras_file | tflite_file
    source TEXT NOT NULL DEFAULT '{}',          -- JSON: constructor and kwargs, or file facts
    input_size INTEGER,
    params INTEGER,
    size_mb REAL,
    top1 REAL,                                  -- fraction, 0..1
    top5 REAL,
    depth INTEGER,
    cpu_ms REAL,
    gpu_ms REAL,
    pretrained_on TEXT COLLATE NOCASE,
    license TEXT COLLATE NOCASE,
    preprocessing TEXT COLLATE NOCASE,
    num_classes INTEGER,
    labels TEXT,                                -- JSON list of output labels ("type" of the model)
    description TEXT DEFAULT '',
    tags TEXT DEFAULT '' COLLATE NOCASE,
    owner TEXT NOT NULL COLLATE NOCASE,
    visibility TEXT NOT NULL DEFAULT 'private' CHECK (visibility IN ('public', 'private')),
    parent_id INTEGER REFERENCES models(id) ON DELETE SET NULL,
    run_id INTEGER,                             -- the training run that produced this version
    artifact TEXT,                              -- path relative to the artifact store
    sha256 TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (name, version)
);
CREATE INDEX models_params ON models(params);
CREATE INDEX models_top1 ON models(top1);
CREATE INDEX models_size ON models(size_mb);
CREATE INDEX models_input ON models(input_size);
CREATE INDEX models_cpu_ms ON models(cpu_ms);
CREATE INDEX models_gpu_ms ON models(gpu_ms);
CREATE INDEX models_created ON models(created_at);
CREATE INDEX models_domain ON models(domain, top1);
CREATE INDEX models_family ON models(family, top1);
CREATE INDEX models_owner ON models(owner);
CREATE INDEX models_visibility ON models(visibility);
CREATE INDEX models_parent ON models(parent_id);

CREATE TABLE datasets (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    content_hash TEXT NOT NULL UNIQUE,
    num_examples INTEGER NOT NULL,
    image_shape TEXT NOT NULL,                  -- JSON [H, W, C]
    num_classes INTEGER NOT NULL,
    class_names TEXT NOT NULL,                  -- JSON list
    class_counts TEXT NOT NULL,                 -- JSON list, aligned with class_names
    source TEXT NOT NULL DEFAULT 'arrays',
    description TEXT DEFAULT '',
    artifact TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
-- datasets are public and never deleted
CREATE TRIGGER datasets_never_deleted BEFORE DELETE ON datasets
BEGIN SELECT RAISE(ABORT, 'datasets are never deleted'); END;

CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    dataset_id INTEGER REFERENCES datasets(id),
    owner TEXT NOT NULL COLLATE NOCASE,
    kind TEXT NOT NULL DEFAULT 'finetune',      -- finetune | trial | lr_find
    status TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'finished', 'failed', 'interrupted')),
    optimizer TEXT,
    optimizer_config TEXT,                      -- JSON
    loss TEXT,
    batch_size INTEGER,
    batch_size_changes TEXT DEFAULT '[]',       -- JSON [{epoch, step, from, to, reason}]
    learning_rate REAL,
    epochs INTEGER,
    config TEXT DEFAULT '{}',                   -- JSON: unfreeze, augmentation, seed, ...
    device TEXT,
    started_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    finished_at TEXT,
    duration_s REAL,
    outcome TEXT,                               -- kept | kept_both | discarded
    result_model_id INTEGER REFERENCES models(id) ON DELETE SET NULL,
    metrics TEXT DEFAULT '{}',                  -- JSON: final/test metrics
    confusion TEXT,                             -- JSON matrix
    error TEXT
);
CREATE INDEX runs_model ON runs(model_id);
CREATE INDEX runs_dataset ON runs(dataset_id);

CREATE TABLE epochs (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    loss REAL,
    accuracy REAL,
    val_loss REAL,
    val_accuracy REAL,
    learning_rate REAL,
    batch_size INTEGER,
    seconds REAL,
    extra TEXT DEFAULT '{}',
    PRIMARY KEY (run_id, epoch)
);

CREATE TABLE rankings (
    id INTEGER PRIMARY KEY,
    dataset_id INTEGER REFERENCES datasets(id),
    owner TEXT NOT NULL COLLATE NOCASE,
    method TEXT NOT NULL,
    per_class INTEGER,
    seed INTEGER,
    models_query TEXT,
    seconds REAL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TABLE ranking_scores (
    ranking_id INTEGER NOT NULL REFERENCES rankings(id) ON DELETE CASCADE,
    model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    rank INTEGER,
    score REAL,
    scores TEXT DEFAULT '{}',                   -- JSON: each method's score
    stability TEXT DEFAULT '{}',                -- JSON: top1/top3 frequencies
    seconds REAL,
    error TEXT,
    PRIMARY KEY (ranking_id, model_id)
);

CREATE TABLE evaluations (
    id INTEGER PRIMARY KEY,
    model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    dataset_id INTEGER REFERENCES datasets(id),
    owner TEXT NOT NULL COLLATE NOCASE,
    num_examples INTEGER,
    accuracy REAL,
    loss REAL,
    metrics TEXT DEFAULT '{}',
    confusion TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX evaluations_dataset ON evaluations(dataset_id);

CREATE TABLE aliases (
    name TEXT NOT NULL COLLATE NOCASE,          -- model line
    alias TEXT NOT NULL COLLATE NOCASE,         -- production, candidate, ...
    model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    set_by TEXT NOT NULL,
    set_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (name, alias)
);

CREATE TABLE comments (
    id INTEGER PRIMARY KEY,
    model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
    author TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX comments_model ON comments(model_id);

-- full-text search over the words people type; kept in sync by triggers
CREATE VIRTUAL TABLE models_fts USING fts5(name, description, tags, family, architecture, content='models', content_rowid='id');
CREATE TRIGGER models_fts_ai AFTER INSERT ON models BEGIN
  INSERT INTO models_fts(rowid, name, description, tags, family, architecture)
  VALUES (new.id, new.name, new.description, new.tags, new.family, new.architecture);
END;
CREATE TRIGGER models_fts_ad AFTER DELETE ON models BEGIN
  INSERT INTO models_fts(models_fts, rowid, name, description, tags, family, architecture)
  VALUES ('delete', old.id, old.name, old.description, old.tags, old.family, old.architecture);
END;
CREATE TRIGGER models_fts_au AFTER UPDATE ON models BEGIN
  INSERT INTO models_fts(models_fts, rowid, name, description, tags, family, architecture)
  VALUES ('delete', old.id, old.name, old.description, old.tags, old.family, old.architecture);
  INSERT INTO models_fts(rowid, name, description, tags, family, architecture)
  VALUES (new.id, new.name, new.description, new.tags, new.family, new.architecture);
END;
"""

# 7: checkpoints (model versions saved at a chosen epoch of a training run; see registry/lineage.py)
_V7 = """
CREATE TABLE checkpoints (
    model_id INTEGER PRIMARY KEY REFERENCES models(id) ON DELETE CASCADE,
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    UNIQUE (run_id, epoch)
);
CREATE INDEX aliases_model ON aliases(model_id);
"""

# 8: the registry service (fmc_jupyter.service) remembers the result of each acknowledged change by the
# client's request id, so a client that retries after losing the answer (service killed, network) gets the
# same answer instead of applying the change twice. Written in the same transaction as the change.
_V8 = """
CREATE TABLE service_requests (
    id TEXT PRIMARY KEY,                        -- client-chosen request id (uuid4 hex)
    user TEXT NOT NULL,                         -- the hub user who sent it
    method TEXT NOT NULL,
    result TEXT NOT NULL,                       -- the JSON answer that was (or would have been) sent
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX service_requests_created ON service_requests(created_at);
"""



def _v9_owner_namespaces(conn: sqlite3.Connection) -> None:
    """9: model lines are ``(owner, name)``: versions are unique per owner's line, not per name.

    Rebuilds ``models`` (the same columns, whatever earlier migrations added) with ``UNIQUE (owner, name,
    version)`` instead of ``UNIQUE (name, version)``, keeping ids, indexes and the full-text triggers, and
    ``aliases`` keyed by ``(owner, name, alias)`` (an alias belongs to the line of the version it names).
    Existing rows keep their numbers: a user's version on a catalog line becomes a version of their own line.
    """
    table_sql = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'models'").fetchone()[0]
    new_sql, n = re.subn(r"UNIQUE\s*\(\s*name\s*,\s*version\s*\)", "UNIQUE (owner, name, version)", table_sql)
    if n != 1:
        raise RuntimeError("migration 9: the models table has no UNIQUE (name, version) to replace")
    new_sql = re.sub(r"^CREATE TABLE\s+\"?models\"?", "CREATE TABLE models_v9", new_sql)
    extras = [r[0] for r in conn.execute("SELECT sql FROM sqlite_master WHERE tbl_name = 'models' AND type IN "
                                         "('index', 'trigger') AND sql IS NOT NULL")]
    cols = ", ".join(f'"{r[1]}"' for r in conn.execute("PRAGMA table_info(models)"))
    conn.execute(new_sql)
    conn.execute(f"INSERT INTO models_v9 ({cols}) SELECT {cols} FROM models")
    conn.execute("DROP TABLE models")
    conn.execute("ALTER TABLE models_v9 RENAME TO models")
    for statement in extras:
        conn.execute(statement)
    conn.execute("CREATE INDEX models_name ON models(name, version)")
    conn.execute("""CREATE TABLE aliases_v9 (
        owner TEXT NOT NULL COLLATE NOCASE,         -- the line's owner (owner of every version it may name)
        name TEXT NOT NULL COLLATE NOCASE,          -- the line's name
        alias TEXT NOT NULL COLLATE NOCASE,         -- production, candidate, ...
        model_id INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
        set_by TEXT NOT NULL,
        set_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        PRIMARY KEY (owner, name, alias))""")
    conn.execute("INSERT INTO aliases_v9 (owner, name, alias, model_id, set_by, set_at) SELECT m.owner, m.name, "
                 "a.alias, a.model_id, a.set_by, a.set_at FROM aliases a JOIN models m ON m.id = a.model_id")
    conn.execute("DROP TABLE aliases")
    conn.execute("ALTER TABLE aliases_v9 RENAME TO aliases")
    conn.execute("CREATE INDEX aliases_model ON aliases(model_id)")


# 10: a counter bumped by every committed change (Registry.change_count: live refresh for every backend)
_V10 = """
CREATE TABLE registry_changes (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    count INTEGER NOT NULL
);
INSERT INTO registry_changes (id, count) VALUES (1, 0);
"""

# ---- 30-31: model sources (issue 15, branch `sources`): facets format / weights_present, the KerasHub catalog
def _v30_model_sources(conn: sqlite3.Connection) -> None:
    """30: ``format`` (keras | tflite | kerashub | hf | kaggle) and ``weights_present`` (1 when the weights are
    on this machine, as seen when the row was written or the registry migrated) on every model row."""
    from ..zoo.sources.presence import row_format, weights_present

    conn.execute("ALTER TABLE models ADD COLUMN format TEXT COLLATE NOCASE")
    conn.execute("ALTER TABLE models ADD COLUMN weights_present INTEGER")
    cur = conn.execute("SELECT id, source_kind, source, artifact FROM models")
    names = [d[0] for d in cur.description]
    updates = []
    for values in cur.fetchall():
        row = dict(zip(names, values))
        updates.append((row_format(row), weights_present(row), row["id"]))
    conn.executemany("UPDATE models SET format = ?, weights_present = ? WHERE id = ?", updates)
    conn.execute("CREATE INDEX models_format ON models(format, top1)")


def _v31_kerashub_catalog(conn: sqlite3.Connection) -> None:
    """31: the KerasHub image presets join the built-in catalog (``catalog/kerashub_presets.csv``)."""
    from ..catalog import kerashub_rows
    from ..zoo.sources.presence import row_format, weights_present

    rows = kerashub_rows()
    for row in rows:
        row["format"], row["weights_present"] = row_format(row), weights_present(row)
    cols = list(rows[0])
    conn.executemany(f"INSERT INTO models ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                     [tuple(r[c] for c in cols) for r in rows])


# ---- 20-21: dataset identity and records (issue 16, branch `ranking`): slices of registered datasets, the
# per-image hash index and slice links (registry/datasets_identity.py); dataset signatures
# (registry/dataset_records.py)
from .dataset_records import MIGRATION_21 as _V21  # noqa: E402
from .datasets_identity import MIGRATION_20 as _V20  # noqa: E402

# 40: covering indexes for an equality plus ranges plus an order (`input=224px and top1>=80% order -params`): the
# filter-driven plan of Registry.search reads the matches' ids, filters and sort keys from the index alone
#: the columns every covering index of migration 40 carries after its equality column
COVERED = ("top1", "params", "size_mb", "input_size", "cpu_ms", "name", "visibility", "owner")
_V40 = "\n".join(f"DROP INDEX models_{name};\nCREATE INDEX models_{name} ON models({column}, "
                  f"{', '.join(c for c in COVERED if c != column)});"
                  for name, column in [("domain", "domain"), ("family", "family"), ("format", "format"),
                                       ("input", "input_size")])

#: (number, SQL or function). Migration 1 also seeds the catalog (see ``registry.catalog``).
MIGRATIONS: list[tuple[int, object]] = [(1, _V1), (7, _V7), (8, _V8), (9, _v9_owner_namespaces), (10, _V10),
                                        (20, _V20), (21, _V21),
                                        (30, _v30_model_sources), (31, _v31_kerashub_catalog), (40, _V40)]
