"""The full-text matches of a word, listed once per connection while the registry is unchanged (SQLite).

A search that walks the ORDER BY column's index (the order-driven plan of :meth:`Registry.search`) checks each row
it passes against the query's words. Asked of FTS5 directly (``+id IN (SELECT rowid FROM models_fts WHERE ...)``),
SQLite reads the word's whole match list and builds a throw-away index of it on every search: ~3 ms for a word
matching 12,000 of 100,000 models, most of the search. :class:`WordHits` keeps that list instead, in the
connection's own temporary table ``temp.fmc_word_hits (phrase, id)``, filled by one ``INSERT ... SELECT`` from the
full-text index the first time a phrase is asked for; the walk then checks each row with one primary-key lookup
(:data:`LISTED_WORD`). Typing a query, refining it, re-sorting and paging through the results ask for the same words
again and again: they are read from the full-text index once.

The listing is valid while the models are unchanged. Every committed change to ``models`` rewrites the full-text
index (its triggers) and with it the index's structure record (``models_fts_data`` row 10, where FTS5 itself
keeps its segment list and write counter, and which it re-reads for the same purpose); that record, one small row,
is remembered when a listing is made, and a different one empties the table. Runs, epochs and other tables do not
touch it, so a team service taking a stream of epochs keeps its listings. It is never used inside a transaction
(a rollback would take rows away that the listing still counts on) and holds at most :data:`MAX_PHRASES` phrases. The count of a phrase's matches comes with it, which is
what the search plan is chosen by (:meth:`Registry._broad_words`).
"""

from __future__ import annotations

import sqlite3

__all__ = ["WordHits", "LISTED_WORD", "MAX_PHRASES"]

#: a bare word in the order-driven walk: one primary-key lookup in the listing (one placeholder: the phrase)
LISTED_WORD = "EXISTS (SELECT 1 FROM temp.fmc_word_hits h WHERE h.phrase = ? AND h.id = models.id)"
#: phrases listed at most; one more empties the listing
MAX_PHRASES = 32

_CREATE = ("CREATE TEMP TABLE IF NOT EXISTS fmc_word_hits (phrase TEXT NOT NULL, id INTEGER NOT NULL, "
           "PRIMARY KEY (phrase, id)) WITHOUT ROWID")


class WordHits:
    """The listed full-text matches of one SQLite connection (module docstring)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.counts: dict[str, int] = {}      # phrase -> number of matches listed
        self.state: bytes | None = None

    def _state(self) -> bytes:
        """The full-text index's structure record (FTS5_STRUCTURE_ROWID = 10): it changes with every write."""
        row = self.conn.execute("SELECT block FROM models_fts_data WHERE id = 10").fetchone()
        return b"" if row is None else bytes(row[0])

    def list(self, phrases: list[str]) -> dict[str, int] | None:
        """List ``phrases`` (FTS5 MATCH expressions) not listed yet; ``{phrase: matches}``, or ``None`` inside a
        transaction (nothing is listed then: use the full-text index directly)."""
        if self.conn.in_transaction:
            return None
        if not phrases:
            return {}
        state = self._state()             # listing writes only the temporary table: the record stays as read
        new = [p for p in dict.fromkeys(phrases) if p not in self.counts]
        if state != self.state or len(self.counts) + len(new) > MAX_PHRASES:
            self.conn.execute(_CREATE)
            self.conn.execute("DELETE FROM temp.fmc_word_hits")
            self.counts.clear()
            new = list(dict.fromkeys(phrases))
        for phrase in new:
            before = self.conn.total_changes
            self.conn.execute("INSERT INTO temp.fmc_word_hits (phrase, id) SELECT ?, rowid FROM models_fts "
                              "WHERE models_fts MATCH ?", [phrase, phrase])
            self.counts[phrase] = self.conn.total_changes - before
        self.state = state
        return {p: self.counts[p] for p in phrases}
