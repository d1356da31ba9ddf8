"""Version lineage of model lines: versions, aliases, comments and epoch checkpoints.

A *model line* is every row of ``models`` sharing one ``name``; each row is a version with a
``parent_id`` link (the version it was derived from) and, when training produced it, a ``run_id``.
:class:`LineageMixin` adds the lineage methods to :class:`~fmc_jupyter.registry.Registry`; like the
rest of the registry it is the only place that speaks SQL for these tables, and every read filters by
what the current user may see.

- Aliases (``production``, ``candidate``...) are names the owner of a line moves between its versions;
  ``reg.model("line@alias")`` resolves them. A line is ``(owner, name)`` (see :mod:`.access`), so an alias
  belongs to one owner's line: only that owner sets, moves or removes it, and others see it only while it
  points at a version they can see.
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
from . import fields

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
        """Every visible version of ``ref``'s model line (``owner/name``), oldest first.

        Columns: ``id, name, version, parent_id, parent_version, run_id, run_status, dataset, epoch`` (set for
        checkpoints), ``owner`` (who), ``created_at`` (when), ``visibility``, ``top1``, ``params``,
        ``val_accuracy`` (the checkpoint's epoch, else the best epoch of the producing run), ``metrics`` (the
        run's final metrics, JSON text), ``aliases`` (comma-separated), ``comments`` (count), ``sha256``.
        Parents and runs you may not see read as null.
        """
        record = self.model(ref)
        visible, vparams = self._visible("m")
        pvisible, pparams = self._visible("p")
        rvisible, rparams = self.access.run_visible("r")
        cur = self.db.execute(
            "SELECT m.id, m.name, m.version, p.id AS parent_id, p.version AS parent_version, r.id AS run_id, "
            "r.status AS run_status, d.name AS dataset, c.epoch, m.owner, m.created_at, m.visibility, m.top1, "
            "m.params, CASE WHEN r.id IS NULL THEN NULL WHEN c.epoch IS NOT NULL THEN "
            "  (SELECT e.val_accuracy FROM epochs e WHERE e.run_id = c.run_id AND e.epoch = c.epoch) "
            "  ELSE (SELECT max(e.val_accuracy) FROM epochs e WHERE e.run_id = m.run_id) END AS val_accuracy, "
            "r.metrics, (SELECT group_concat(a.alias, ',') FROM (SELECT alias FROM aliases "
            "  WHERE model_id = m.id ORDER BY alias) a) AS aliases, "
            "(SELECT count(*) FROM comments k WHERE k.model_id = m.id) AS comments, m.sha256 "
            f"FROM models m LEFT JOIN models p ON p.id = m.parent_id AND {pvisible} "
            "LEFT JOIN checkpoints c ON c.model_id = m.id "
            f"LEFT JOIN runs r ON r.id = coalesce(m.run_id, c.run_id) AND {rvisible} "
            "LEFT JOIN datasets d ON d.id = r.dataset_id "
            f"WHERE m.name = ? AND m.owner = ? AND {visible} ORDER BY m.version",
            pparams + rparams + [record.name, record.owner] + vparams)
        frame = _frame(cur)
        frame.loc[frame["run_id"].isna(), "epoch"] = None
        return frame

    # ------------------------------------------------------------------ aliases
    def set_alias(self: "Registry", model: Any, alias: str) -> ModelRecord:
        """Point ``alias`` of your line at ``model`` (a version of yours), creating or moving it; returns it."""
        if not isinstance(alias, str) or not ALIAS_PATTERN.fullmatch(alias):
            raise InputError(f"alias {alias!r:.80}: use a letter or '_' first, then letters, digits, '_' or '-' "
                             "(at most 64), e.g. 'production' or 'candidate'")
        record = self._owned(model, f"set alias '{alias}' on")
        with self.transaction() as db:
            db.execute("INSERT INTO aliases (owner, name, alias, model_id, set_by) VALUES (?, ?, ?, ?, ?) "
                       "ON CONFLICT (owner, name, alias) DO UPDATE SET model_id = excluded.model_id, "
                       "set_by = excluded.set_by, set_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
                       [record.owner, record.name, alias, record.id, self.user])
        return record

    def remove_alias(self: "Registry", line: Any, alias: str) -> None:
        """Remove ``alias`` from one of your lines."""
        if not isinstance(alias, str) or not ALIAS_PATTERN.fullmatch(alias):
            raise InputError(f"alias {alias!r:.80}: use a letter or '_' first, then letters, digits, '_' or '-'")
        record = self.model(line)
        visible, vparams = self._visible("m")
        row = self.db.execute(f"SELECT a.owner FROM aliases a JOIN models m ON m.id = a.model_id WHERE a.owner = ? "
                              f"AND a.name = ? AND a.alias = ? AND {visible}",
                              [record.owner, record.name, alias] + vparams).fetchone()
        if row is None:  # the same answer whether it does not exist or points at a version you cannot see
            raise NotFoundError(f"{record.line} has no alias '{alias}' that you can see; list them with "
                                f"reg.aliases({record.line!r})")
        if str(row[0]).lower() != self.user.lower():
            raise PermissionDeniedError(f"{record.line}@{alias} belongs to {row[0]}'s line; only they may remove it")
        with self.transaction() as db:
            db.execute("DELETE FROM aliases WHERE owner = ? AND name = ? AND alias = ?",
                       [record.owner, record.name, alias])

    def aliases(self: "Registry", line: Any) -> pd.DataFrame:
        """Aliases of a model line that point at versions you can see: ``alias, model_id, version, set_by, set_at``."""
        record = self.model(line)
        visible, vparams = self._visible("m")
        return _frame(self.db.execute(
            "SELECT a.alias, a.model_id, m.version, a.set_by, a.set_at FROM aliases a JOIN models m "
            f"ON m.id = a.model_id WHERE a.owner = ? AND a.name = ? AND {visible} ORDER BY a.alias",
            [record.owner, record.name] + vparams))

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
        comment_id = fields.integer(comment_id, "comment id")
        row = self.db.execute("SELECT author FROM comments WHERE id = ?", [comment_id]).fetchone()
        if row is None or str(row[0]).lower() != self.user.lower():
            raise NotFoundError(f"no comment {comment_id} of yours")
        with self.transaction() as db:
            db.execute("DELETE FROM comments WHERE id = ?", [comment_id])

    # ------------------------------------------------------------------ checkpoints
    def add_checkpoint(self: "Registry", path: str | os.PathLike, run_id: int, epoch: int, *, parent: Any = None,
                       visibility: str = "private", description: str | None = None,
                       **add_model_kwargs: Any) -> ModelRecord:
        """Register a model file saved at ``epoch`` of training run ``run_id`` as a version of its own.

        The version joins the line of ``parent`` (default: the run's base model) with ``parent_id`` set to it,
        ``run_id`` set, and a ``checkpoints`` row ``(model_id, run_id, epoch)``. ``add_model_kwargs`` pass on to
        :meth:`add_model` (labels, top1, ...). Registering the same run and epoch twice is refused.
        """
        epoch = fields.integer(epoch, "epoch", minimum=0)
        run = self._own_run(run_id)
        if self.db.execute("SELECT 1 FROM checkpoints WHERE run_id = ? AND epoch = ?", [run["id"], epoch]).fetchone():
            raise InputError(f"epoch {epoch} of run {run_id} is already registered as a checkpoint; "
                             "see reg.versions(...)")
        if "checkpoint_epoch" in add_model_kwargs or "run_id" in add_model_kwargs:
            raise InputError("add_checkpoint takes the run and epoch as its own arguments")
        base = parent if parent is not None else int(run["model_id"])
        text = description if description is not None else f"checkpoint at epoch {epoch} of training run {run_id}"
        tags = add_model_kwargs.pop("tags", ())
        tags = fields.tags(tags).split(",") if tags else []
        tags = [t for t in tags if t] + ["checkpoint"]
        return self._add_model(path, parent=base, visibility=visibility, description=text, run_id=run["id"],
                               tags=tags, checkpoint_epoch=epoch, **add_model_kwargs)

    def checkpoints(self: "Registry", run_id: int) -> pd.DataFrame:
        """Checkpoint versions of one run you can see: ``epoch, model_id, name, version`` and that epoch's metrics."""
        run_id = self.access.run_row(run_id)["id"]  # may you see the run?
        visible, vparams = self._visible("m")
        return _frame(self.db.execute(
            "SELECT c.epoch, c.model_id, m.name, m.version, e.loss, e.accuracy, e.val_loss, e.val_accuracy "
            "FROM checkpoints c JOIN models m ON m.id = c.model_id "
            "LEFT JOIN epochs e ON e.run_id = c.run_id AND e.epoch = c.epoch "
            f"WHERE c.run_id = ? AND {visible} ORDER BY c.epoch", [run_id] + vparams))

