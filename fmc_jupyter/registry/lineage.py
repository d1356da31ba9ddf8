"""Version lineage of model lines: versions, aliases, comments and epoch checkpoints.

A *model line* is every row of ``models`` sharing one ``name``; each row is a version with a
``parent_id`` link (the version it was derived from) and, when training produced it, a ``run_id``.
:class:`LineageMixin` adds the lineage methods to :class:`~fmc_jupyter.registry.Registry`; like the
rest of the registry it is the only place that speaks SQL for these tables, and every read filters by
what the current user may see.

- Aliases (``production``, ``candidate``...) are names a team moves between versions of one line;
  ``reg.model("line@alias")`` resolves them. An alias can point only at a version you own, and only
  the user who set it (or the owner of the version it points at) may move or remove it.
- Comments (who, when, text) on a version are visible to whoever can see that version.
- Checkpoints: a file saved at a chosen epoch of a training run, registered as a version of its
  own with a parent link and the ``(run, epoch)`` it came from (table ``checkpoints``, migration 7).
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import InputError, NotFoundError, PermissionDeniedError
from ..records import ModelRecord

if TYPE_CHECKING:  # pragma: no cover
    from .registry import Registry

__all__ = ["LineageMixin", "ALIAS_PATTERN", "MAX_COMMENT_CHARS"]

#: Alias names: what ``reg.model("name@alias")`` accepts (a letter or ``_`` first, then word chars or ``-``).
ALIAS_PATTERN = re.compile(r"[A-Za-z_][\w-]{0,63}")
MAX_COMMENT_CHARS = 10_000


def _frame(cur) -> pd.DataFrame:
    return pd.DataFrame.from_records(cur.fetchall(), columns=[d[0] for d in cur.description])


class LineageMixin:
    """Lineage methods of :class:`Registry` (uses its ``db``, ``user``, ``model``, ``transaction``, ``add_model``)."""

    # ------------------------------------------------------------------ versions
    def versions(self: "Registry", ref: Any) -> pd.DataFrame:
        """Every visible version of ``ref``'s model line, oldest first.

        Columns: ``id, name, version, parent_id, parent_version, run_id, run_status, dataset, epoch`` (set for
        checkpoints), ``owner`` (who), ``created_at`` (when), ``visibility``, ``top1``, ``params``,
        ``val_accuracy`` (the checkpoint's epoch, else the best epoch of the producing run), ``metrics`` (the
        run's final metrics, JSON text), ``aliases`` (comma-separated), ``comments`` (count), ``sha256``.
        """
        name = self.model(ref).name
        visible, vparams = self._visible("m")
        cur = self.db.execute(
            "SELECT m.id, m.name, m.version, m.parent_id, p.version AS parent_version, m.run_id, "
            "r.status AS run_status, d.name AS dataset, c.epoch, m.owner, m.created_at, m.visibility, m.top1, "
            "m.params, CASE WHEN c.epoch IS NOT NULL THEN "
            "  (SELECT e.val_accuracy FROM epochs e WHERE e.run_id = c.run_id AND e.epoch = c.epoch) "
            "  ELSE (SELECT max(e.val_accuracy) FROM epochs e WHERE e.run_id = m.run_id) END AS val_accuracy, "
            "r.metrics, (SELECT group_concat(a.alias, ',') FROM (SELECT alias FROM aliases "
            "  WHERE model_id = m.id ORDER BY alias) a) AS aliases, "
            "(SELECT count(*) FROM comments k WHERE k.model_id = m.id) AS comments, m.sha256 "
            "FROM models m LEFT JOIN models p ON p.id = m.parent_id "
            "LEFT JOIN checkpoints c ON c.model_id = m.id "
            "LEFT JOIN runs r ON r.id = coalesce(m.run_id, c.run_id) "
            "LEFT JOIN datasets d ON d.id = r.dataset_id "
            f"WHERE m.name = ? AND {visible} ORDER BY m.version", [name] + vparams)
        return _frame(cur)

    def ancestors(self: "Registry", ref: Any) -> list[ModelRecord]:
        """The parent chain of ``ref``, nearest first (stops at a version you cannot see or a cycle)."""
        record = self.model(ref)
        chain: list[ModelRecord] = []
        seen = {record.id}
        while record.parent_id is not None and record.parent_id not in seen:
            try:
                record = self.model(int(record.parent_id))
            except NotFoundError:
                break
            seen.add(record.id)
            chain.append(record)
        return chain

    # ------------------------------------------------------------------ aliases
    def set_alias(self: "Registry", model: Any, alias: str) -> ModelRecord:
        """Point ``alias`` of ``model``'s line at that version (creating or moving it); returns the version.

        ``model`` must be a version you own. An alias someone else set can be moved only by them or by the
        owner of the version it points at now.
        """
        if not isinstance(alias, str) or not ALIAS_PATTERN.fullmatch(alias):
            raise InputError(f"alias {alias!r}: use a letter or '_' first, then letters, digits, '_' or '-' "
                             "(at most 64), e.g. 'production' or 'candidate'")
        record = self._owned(model, f"set alias '{alias}' on")
        with self.transaction() as db:
            row = db.execute("SELECT a.set_by, m.owner FROM aliases a LEFT JOIN models m ON m.id = a.model_id "
                             "WHERE a.name = ? AND a.alias = ?", [record.name, alias]).fetchone()
            if row and self.user.lower() not in (str(row[0]).lower(), str(row[1]).lower()):
                raise PermissionDeniedError(
                    f"{record.name}@{alias} was set by {row[0]} on a version you do not own; ask them to move it, "
                    "or use another alias name")
            db.execute("INSERT INTO aliases (name, alias, model_id, set_by) VALUES (?, ?, ?, ?) "
                       "ON CONFLICT (name, alias) DO UPDATE SET model_id = excluded.model_id, "
                       "set_by = excluded.set_by, set_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
                       [record.name, alias, record.id, self.user])
        return record

    def remove_alias(self: "Registry", line: Any, alias: str) -> None:
        """Remove ``alias`` from a model line (same permission as moving it)."""
        name = self._line_name(line)
        with self.transaction() as db:
            row = db.execute("SELECT a.set_by, m.owner FROM aliases a LEFT JOIN models m ON m.id = a.model_id "
                             "WHERE a.name = ? AND a.alias = ?", [name, alias]).fetchone()
            if row is None:
                raise NotFoundError(f"{name} has no alias '{alias}'; list them with reg.aliases({name!r})")
            if self.user.lower() not in (str(row[0]).lower(), str(row[1]).lower()):
                raise PermissionDeniedError(f"{name}@{alias} was set by {row[0]}; only they or the version's "
                                            "owner may remove it")
            db.execute("DELETE FROM aliases WHERE name = ? AND alias = ?", [name, alias])

    def aliases(self: "Registry", line: Any) -> pd.DataFrame:
        """Aliases of a model line that point at versions you can see: ``alias, model_id, version, set_by, set_at``."""
        name = self._line_name(line)
        visible, vparams = self._visible("m")
        return _frame(self.db.execute(
            "SELECT a.alias, a.model_id, m.version, a.set_by, a.set_at FROM aliases a JOIN models m "
            f"ON m.id = a.model_id WHERE a.name = ? AND {visible} ORDER BY a.alias", [name] + vparams))

    def _line_name(self: "Registry", line: Any) -> str:
        """The line name of ``line`` (a name, ``name:vN``, ``name@alias``, an id or a record) that you can see."""
        return self.model(line).name

    # ------------------------------------------------------------------ comments
    def add_comment(self: "Registry", model: Any, text: str) -> int:
        """Comment on a version you can see; returns the comment id. Whoever can see the version sees it."""
        if not isinstance(text, str) or not text.strip():
            raise InputError("a comment needs some text")
        if len(text) > MAX_COMMENT_CHARS:
            raise InputError(f"a comment holds at most {MAX_COMMENT_CHARS} characters, not {len(text)}")
        record = self.model(model)
        with self.transaction() as db:
            return db["comments"].insert({"model_id": record.id, "author": self.user, "text": text.strip()}).last_pk

    def comments(self: "Registry", model: Any) -> pd.DataFrame:
        """Comments on a version you can see, oldest first: ``id, model_id, author, text, created_at``."""
        record = self.model(model)
        return _frame(self.db.execute("SELECT id, model_id, author, text, created_at FROM comments "
                                      "WHERE model_id = ? ORDER BY id", [record.id]))

    def delete_comment(self: "Registry", comment_id: int) -> None:
        """Delete one of your own comments."""
        row = self.db.execute("SELECT author FROM comments WHERE id = ?", [int(comment_id)]).fetchone()
        if row is None or str(row[0]).lower() != self.user.lower():
            raise NotFoundError(f"no comment {comment_id} of yours")
        with self.transaction() as db:
            db.execute("DELETE FROM comments WHERE id = ?", [int(comment_id)])

    # ------------------------------------------------------------------ checkpoints
    def add_checkpoint(self: "Registry", path: str | os.PathLike, run_id: int, epoch: int, *, parent: Any = None,
                       visibility: str = "private", description: str | None = None,
                       **add_model_kwargs: Any) -> ModelRecord:
        """Register a model file saved at ``epoch`` of training run ``run_id`` as a version of its own.

        The version joins the line of ``parent`` (default: the run's base model) with ``parent_id`` set to it,
        ``run_id`` set, and a ``checkpoints`` row ``(model_id, run_id, epoch)``. ``add_model_kwargs`` pass on to
        :meth:`add_model` (labels, top1, ...). Registering the same run and epoch twice is refused.
        """
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise InputError(f"epoch must be a non-negative int, not {epoch!r}")
        run = self._own_run(run_id)
        if self.db.execute("SELECT 1 FROM checkpoints WHERE run_id = ? AND epoch = ?", [run["id"], epoch]).fetchone():
            raise InputError(f"epoch {epoch} of run {run_id} is already registered as a checkpoint; "
                             "see reg.versions(...)")
        base = parent if parent is not None else int(run["model_id"])
        text = description if description is not None else f"checkpoint at epoch {epoch} of training run {run_id}"
        tags = add_model_kwargs.pop("tags", ())
        tags = [t for t in (tags.split(",") if isinstance(tags, str) else list(tags)) if t] + ["checkpoint"]
        record = self.add_model(path, parent=base, visibility=visibility, description=text, run_id=int(run["id"]),
                                tags=tags, **add_model_kwargs)
        try:
            with self.transaction() as db:
                db["checkpoints"].insert({"model_id": record.id, "run_id": int(run["id"]), "epoch": epoch})
        except BaseException:
            self.delete_model(record.id)
            raise
        return record

    def checkpoints(self: "Registry", run_id: int) -> pd.DataFrame:
        """Checkpoint versions of one run you can see: ``epoch, model_id, name, version`` and that epoch's metrics."""
        self.run(run_id)  # visibility check
        visible, vparams = self._visible("m")
        return _frame(self.db.execute(
            "SELECT c.epoch, c.model_id, m.name, m.version, e.loss, e.accuracy, e.val_loss, e.val_accuracy "
            "FROM checkpoints c JOIN models m ON m.id = c.model_id "
            "LEFT JOIN epochs e ON e.run_id = c.run_id AND e.epoch = c.epoch "
            f"WHERE c.run_id = ? AND {visible} ORDER BY c.epoch", [int(run_id)] + vparams))

