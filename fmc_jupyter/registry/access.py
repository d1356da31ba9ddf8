"""Who may see and change what: the one authorization layer of the registry.

Every read, and every write that names another object (a model by ref or id, a parent, a run, a ranking's
models, a run's result model, an alias, a comment, a checkpoint), goes through :class:`Access`. Its rules
(also in ``docs/registry.md``):

- **Models.** A version is visible to its owner, and to everyone when public. The catalog (owner
  ``catalog``) is public and read-only. Only the owner changes a version.
- **Model lines and names.** A line is ``(owner, name)``; its full name is ``owner/name`` (catalog lines: just
  ``name``). You add versions only to your own lines, so a name someone else uses privately is never
  "taken" for you and never an oracle. Version numbers count within one line (the first version of your line
  derived from a same-named parent continues the parent's number), so they reveal nothing of other lines.
  A bare name resolves to your own line first, then the catalog's, then a public line of another user
  (several such owners: an error listing them, all public).
- **Runs.** Yours; or, for others, a run whose result model and base model you can both see.
- **Masking.** A visible row never points at an invisible one: ``parent_id``/``run_id`` of a model and
  ``model_id``/``result_model_id`` of a run read as null when they point at something you may not see.
- **Not yours vs. not there.** Anything invisible raises :class:`NotFoundError` with the same message as
  something that does not exist; :class:`PermissionDeniedError` only for what you can see but not change.

The SQL here is plain (``?`` parameters, no SQLite-only syntax) so a PostgreSQL backend can reuse it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..errors import InputError, NotFoundError, PermissionDeniedError
from ..records import ModelRecord
from . import fields

__all__ = ["Access", "CATALOG_OWNER", "parse_ref", "ModelRef", "not_found_model", "not_found_run"]

CATALOG_OWNER = "catalog"
_REF = re.compile(r"^(?:(?P<owner>[^/:@]+)/)?(?P<name>[^/]+?)(?::v(?P<version>\d+)|@(?P<alias>[A-Za-z_][\w-]*)"
                  r"|@(?P<num>\d+))?$")

#: runs(sql, params) -> rows as dicts
Query = Callable[[str, list[Any]], list[dict[str, Any]]]


class ModelRef:
    """A parsed textual model reference ``[owner/]name[:vN|@alias]``."""

    __slots__ = ("owner", "name", "version", "alias", "text")

    def __init__(self, text: str):
        m = _REF.match(text.strip())
        if not m:
            raise InputError(f"a model is named by its id, 'name', 'owner/name', 'name:vN' or 'name@alias', "
                             f"not {text!r}")
        self.text = text.strip()
        self.owner = m.group("owner")
        self.name = m.group("name").strip()
        version = m.group("version") or m.group("num")
        self.version = fields.integer(version, "version", minimum=0) if version else None
        self.alias = m.group("alias")


def parse_ref(ref: Any) -> int | ModelRef:
    """An id (int) or a :class:`ModelRef` for anything a caller may pass as a model reference."""
    if isinstance(ref, ModelRecord):
        ref = ref.id
    if isinstance(ref, (bool, np.bool_)):
        raise InputError(f"a model is named by its name, 'name:vN', 'name@alias' or id, not {ref!r}")
    if isinstance(ref, (int, np.integer)):
        return fields.integer(ref, "model id")
    if isinstance(ref, str) and ref.strip().isdigit():
        return fields.integer(ref.strip(), "model id")
    if not isinstance(ref, str) or not ref.strip() or len(ref) > 400:
        raise InputError(f"a model is named by its name, 'name:vN', 'name@alias' or id, not {ref!r:.80}")
    return ModelRef(fields.text(ref, "model reference", allow_none=False))


def not_found_model(ref: Any) -> NotFoundError:
    if isinstance(ref, int):
        return NotFoundError(f"no model with id {ref} that you can see; find ids with reg.search()")
    return NotFoundError(f"no model '{ref}' that you can see. Search with reg.search('...').")


def not_found_run(run_id: Any, whose: str = "that you can see") -> NotFoundError:
    return NotFoundError(f"no training run {run_id} {whose}")


class Access:
    """Visibility and ownership checks of one ``user`` over one database (``query`` runs SQL)."""

    def __init__(self, query: Query, user: str):
        self.query = query
        self.user = user

    # ------------------------------------------------------------------ SQL predicates
    def model_visible(self, alias: str = "") -> tuple[str, list[Any]]:
        """``WHERE`` fragment: model rows (``alias.``) you may see."""
        p = f"{alias}." if alias else ""
        return f"({p}visibility = 'public' OR {p}owner = ?)", [self.user]

    def run_visible(self, alias: str = "r") -> tuple[str, list[Any]]:
        """``WHERE`` fragment: runs you may see (yours; or result and base models both visible to you)."""
        p = f"{alias}."
        return (f"({p}owner = ? OR ({p}result_model_id IN (SELECT id FROM models WHERE visibility = 'public' "
                f"OR owner = ?) AND {p}model_id IN (SELECT id FROM models WHERE visibility = 'public' "
                "OR owner = ?)))", [self.user, self.user, self.user])

    # ------------------------------------------------------------------ models
    def model_row(self, ref: Any) -> dict[str, Any]:
        """The row of a model you may see (see the module's naming rule), else :class:`NotFoundError`."""
        parsed = parse_ref(ref)
        visible, vparams = self.model_visible()
        if isinstance(parsed, int):
            rows = self.query(f"SELECT * FROM models WHERE id = ? AND {visible}", [parsed] + vparams)
            if rows:
                return rows[0]
            raise not_found_model(parsed)
        row = self._resolve(parsed)
        if row is not None:
            return row
        sql, args = f"SELECT DISTINCT name FROM models WHERE {visible}", list(vparams)
        if parsed.owner:  # suggest only that owner's lines you can see
            sql += " AND owner = ?"
            args.append(parsed.owner)
        names = [r["name"] for r in self.query(sql, args)]
        close = difflib.get_close_matches(parsed.name, names, n=3, cutoff=0.6)
        if parsed.owner:
            close = [f"{parsed.owner}/{c}" for c in close]
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else " Search with reg.search('...')."
        raise NotFoundError(f"no model '{parsed.text}' that you can see.{hint}")

    def _resolve(self, ref: ModelRef) -> dict[str, Any] | None:
        visible, vparams = self.model_visible("m")
        if ref.alias:
            sql = (f"SELECT m.* FROM aliases a JOIN models m ON m.id = a.model_id WHERE a.name = ? AND a.alias = ? "
                   f"AND {visible}")
            args: list[Any] = [ref.name, ref.alias] + vparams
        else:
            sql = f"SELECT m.* FROM models m WHERE m.name = ? AND {visible}"
            args = [ref.name] + vparams
            if ref.version is not None:
                sql += " AND m.version = ?"
                args.append(ref.version)
        if ref.owner:
            sql += " AND m.owner = ?"
            args.append(ref.owner)
        rows = self.query(sql + " ORDER BY m.version DESC", args)
        if not rows:
            return None
        me, catalog = self.user.lower(), CATALOG_OWNER
        for tier in (lambda o: o == me, lambda o: o == catalog):
            mine = [r for r in rows if tier(str(r["owner"]).lower())]
            if mine:
                return mine[0]
        owners = sorted({str(r["owner"]) for r in rows}, key=str.lower)
        if len(owners) > 1:
            raise InputError(f"'{ref.text}' names public models of several users; say whose: "
                             + ", ".join(f"'{o}/{ref.text}'" for o in owners))
        return rows[0]

    def owned_model_row(self, ref: Any, action: str) -> dict[str, Any]:
        """A model you may see and own; :class:`PermissionDeniedError` if you see it but do not own it."""
        row = self.model_row(ref)
        if str(row["owner"]).lower() != self.user.lower():
            record = ModelRecord(**{k: row[k] for k in ("id", "name", "version", "source_kind", "owner",
                                                          "visibility")})
            how = " Catalog entries cannot be changed." if row["owner"] == CATALOG_OWNER else \
                " Fork it with keep_both, or ask its owner."
            raise PermissionDeniedError(f"cannot {action} {record.full_ref}: it belongs to {row['owner']}.{how}")
        return row

    def visible_model_ids(self, ids: Iterable[int]) -> set[int]:
        """Which of ``ids`` name models you may see."""
        ids = sorted(set(ids))
        seen: set[int] = set()
        visible, vparams = self.model_visible()
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            seen.update(r["id"] for r in self.query(f"SELECT id FROM models WHERE id IN ({marks}) AND {visible}",
                                                    chunk + vparams))
        return seen

    def require_models(self, ids: Iterable[int]) -> None:
        """Every id names a model you may see (else the same :class:`NotFoundError` as a missing id)."""
        ids = list(ids)
        seen = self.visible_model_ids(ids)
        for model_id in ids:
            if model_id not in seen:
                raise not_found_model(model_id)

    def mask_models(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Rows with ``parent_id``/``run_id`` nulled where they point at something you may not see."""
        parents = {r["parent_id"] for r in rows if r.get("parent_id") is not None}
        runs = {r["run_id"] for r in rows if r.get("run_id") is not None}
        seen_parents = self.visible_model_ids(parents) if parents else set()
        seen_runs = self.visible_run_ids(runs) if runs else set()
        for r in rows:
            if r.get("parent_id") is not None and r["parent_id"] not in seen_parents:
                r["parent_id"] = None
            if r.get("run_id") is not None and r["run_id"] not in seen_runs:
                r["run_id"] = None
        return rows

    # ------------------------------------------------------------------ runs
    def visible_run_ids(self, ids: Iterable[int]) -> set[int]:
        ids = sorted(set(ids))
        visible, vparams = self.run_visible("r")
        seen: set[int] = set()
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            seen.update(r["id"] for r in self.query(f"SELECT r.id FROM runs r WHERE r.id IN ({marks}) AND {visible}",
                                                    chunk + vparams))
        return seen

    def run_row(self, run_id: Any) -> dict[str, Any]:
        """A run you may see, else :class:`NotFoundError`."""
        run_id = fields.integer(run_id, "run id")
        visible, vparams = self.run_visible("r")
        rows = self.query(f"SELECT r.* FROM runs r WHERE r.id = ? AND {visible}", [run_id] + vparams)
        if not rows:
            raise not_found_run(run_id)
        return self.mask_run(rows[0])

    def own_run_row(self, run_id: Any) -> dict[str, Any]:
        """One of your runs, else :class:`NotFoundError` (the same for someone else's and a missing one)."""
        run_id = fields.integer(run_id, "run id")
        rows = self.query("SELECT * FROM runs WHERE id = ? AND owner = ?", [run_id, self.user])
        if not rows:
            raise not_found_run(run_id, "of yours")
        return rows[0]

    def mask_run(self, row: dict[str, Any]) -> dict[str, Any]:
        """A run row with ``model_id``/``result_model_id`` nulled where they name models you may not see."""
        ids = {row[k] for k in ("model_id", "result_model_id") if row.get(k) is not None}
        seen = self.visible_model_ids(ids) if ids else set()
        for key in ("model_id", "result_model_id"):
            if row.get(key) is not None and row[key] not in seen:
                row[key] = None
        return row

    def check_result_model(self, model_id: Any) -> int:
        """``result_model_id`` of your run: a version of yours."""
        model_id = fields.integer(model_id, "result_model_id", minimum=1)
        self.owned_model_row(model_id, "record as the result of your run")
        return model_id
