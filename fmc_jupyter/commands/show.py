"""``%findcnn show <model>``: one model's card (``Registry.model``) with its comments (``Registry.comments``)."""

from __future__ import annotations

import argparse
import html
from dataclasses import fields
from typing import Any

import pandas as pd

from ..records import ModelRecord
from . import Command, Context, unquote

__all__ = ["COMMANDS", "ModelCard", "comments_html"]

COMMENT_COLUMNS = ["id", "model_id", "author", "text", "created_at"]


def comments_html(comments: pd.DataFrame) -> str:
    """Comments as HTML: author and time, then the text. Every value is escaped (a comment is never HTML)."""
    if comments is None or not len(comments):
        return "<p><i>no comments yet</i> (add one: <code>%findcnn comment &lt;model&gt; &lt;text&gt;</code>)</p>"
    items = "".join(
        f"<li><b>{html.escape(str(row.author))}</b> <small>{html.escape(str(row.created_at or ''))}</small>"
        f"<div style='white-space:pre-wrap'>{html.escape(str(row.text))}</div></li>"
        for row in comments.itertuples()
    )
    return f"<ul class='fmc-comments'>{items}</ul>"


class ModelCard(ModelRecord):
    """A :class:`ModelRecord` (usable wherever one is) that also shows the version's comments.

    ``comments``: DataFrame ``id, model_id, author, text, created_at``, oldest first.
    """

    comments: pd.DataFrame

    @classmethod
    def of(cls, record: ModelRecord, comments: pd.DataFrame) -> "ModelCard":
        card = cls(**{f.name: getattr(record, f.name) for f in fields(record)})
        card.comments = comments if comments is not None else pd.DataFrame(columns=COMMENT_COLUMNS)
        return card

    def _repr_html_(self) -> str:
        card = super()._repr_html_()
        section = f"<h5>comments ({len(self.comments)})</h5>{comments_html(self.comments)}"
        return card[: -len("</div>")] + section + "</div>"

    def __repr__(self) -> str:
        lines = [super().__repr__()]
        lines += [f"  {row.author} ({row.created_at}): {row.text}" for row in self.comments.itertuples()]
        return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=unquote, help="name (latest version), name:vN, name@alias or id")


def run(args: argparse.Namespace, ctx: Context) -> Any:
    registry = ctx.registry
    record = registry.model(args.model)
    return ModelCard.of(record, registry.comments(record.id))


COMMANDS = [Command("show", "a model's card and its comments", add_arguments, run)]
