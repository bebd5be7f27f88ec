"""Schema migrations as code: append-only functions, applied in order, recorded by name.

A shipped migration is never edited or renamed; change the schema with a new one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import duckdb

from satchel.errors import VaultUnavailable

Migration = Callable[[duckdb.DuckDBPyConnection], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append((fn.__name__, fn))
    return fn


@migration
def m001_initial(db: duckdb.DuckDBPyConnection) -> None:
    db.execute(
        """
        CREATE TABLE conversations (
            id BIGINT PRIMARY KEY,
            provider TEXT NOT NULL,
            external_id TEXT NOT NULL,
            title TEXT,
            url TEXT,
            model TEXT,
            created_at TIMESTAMP,
            updated_at TIMESTAMP NOT NULL,
            captured_at TIMESTAMP NOT NULL,
            source TEXT NOT NULL DEFAULT 'capture',
            summary TEXT,
            meta JSON,
            UNIQUE (provider, external_id)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE messages (
            id BIGINT PRIMARY KEY,
            conversation_id BIGINT NOT NULL,
            external_id TEXT NOT NULL,
            parent_external_id TEXT,
            ordinal INTEGER NOT NULL,
            role TEXT NOT NULL,
            text TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            created_at TIMESTAMP,
            captured_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            version INTEGER NOT NULL DEFAULT 1,
            model TEXT,
            on_thread BOOLEAN NOT NULL DEFAULT TRUE,
            meta JSON
        )
        """
    )
    # Earlier texts of edited or regenerated messages: history is kept, never overwritten.
    db.execute(
        """
        CREATE TABLE message_versions (
            message_id BIGINT NOT NULL,
            version INTEGER NOT NULL,
            text TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            captured_at TIMESTAMP NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE chunks (
            id BIGINT PRIMARY KEY,
            message_id BIGINT NOT NULL,
            ordinal INTEGER NOT NULL,
            text TEXT NOT NULL
        )
        """
    )
    # float32 little-endian bytes: loads into numpy in one call; tagged with the model that made it.
    db.execute(
        """
        CREATE TABLE embeddings (
            chunk_id BIGINT NOT NULL,
            model TEXT NOT NULL,
            vector BLOB NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE sessions (
            id BIGINT PRIMARY KEY,
            conversation_id BIGINT NOT NULL,
            ordinal INTEGER NOT NULL,
            started_at TIMESTAMP,
            ended_at TIMESTAMP,
            first_message_id BIGINT,
            last_message_id BIGINT,
            summary TEXT
        )
        """
    )
    db.execute(
        """
        CREATE TABLE memories (
            id BIGINT PRIMARY KEY,
            kind TEXT NOT NULL,
            text TEXT NOT NULL,
            key TEXT,
            status TEXT NOT NULL DEFAULT 'active',
            pinned BOOLEAN NOT NULL DEFAULT FALSE,
            valid_from TIMESTAMP,
            valid_to TIMESTAMP,
            superseded_by BIGINT,
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL,
            origin TEXT NOT NULL DEFAULT 'extracted'
        )
        """
    )
    db.execute("CREATE TABLE memory_sources (memory_id BIGINT NOT NULL, message_id BIGINT NOT NULL)")
    db.execute("CREATE TABLE settings (key TEXT PRIMARY KEY, value JSON)")
    db.execute("CREATE INDEX messages_conversation ON messages (conversation_id)")
    db.execute("CREATE INDEX chunks_message ON chunks (message_id)")
    db.execute("CREATE INDEX embeddings_chunk ON embeddings (chunk_id)")
    db.execute("CREATE INDEX memory_sources_message ON memory_sources (message_id)")


@migration
def m002_chunk_spans(db: duckdb.DuckDBPyConnection) -> None:
    """Chunks become (start, stop) offsets into their message's text instead of a copy of it."""
    import numpy as np

    from satchel.vault.chunking import split_spans

    db.execute(
        """
        CREATE TABLE chunk_spans (
            id BIGINT PRIMARY KEY,
            message_id BIGINT NOT NULL,
            ordinal INTEGER NOT NULL,
            start INTEGER NOT NULL,
            stop INTEGER NOT NULL
        )
        """
    )
    (next_id, top_message) = db.execute(
        "SELECT (SELECT coalesce(max(id), 0) + 1 FROM chunks), (SELECT coalesce(max(id), 0) FROM messages)"
    ).fetchone()
    step = 20_000  # messages per batch: memory stays near one batch of texts
    for low in range(0, int(top_message) + 1, step):
        rows = db.execute(
            "SELECT m.id, m.text, list(ch.id ORDER BY ch.ordinal) FROM messages m JOIN chunks ch ON ch.message_id = m.id"
            " WHERE m.id BETWEEN ? AND ? GROUP BY m.id, m.text", [low, low + step - 1]).fetchall()
        columns: dict[str, list[int]] = {"id": [], "message_id": [], "ordinal": [], "start": [], "stop": []}
        stale: list[int] = []
        for message_id, text, chunk_ids in rows:
            spans = split_spans(text)
            if len(spans) != len(chunk_ids):  # chunked by other rules: new chunks, embedded again
                stale.extend(chunk_ids)
                chunk_ids = list(range(next_id, next_id + len(spans)))
                next_id += len(spans)
            for ordinal, (chunk_id, (start, stop)) in enumerate(zip(chunk_ids, spans, strict=True)):
                for name, value in zip(columns, (chunk_id, message_id, ordinal, start, stop), strict=True):
                    columns[name].append(value)
        spans_frame = {name: np.asarray(values, np.int64) for name, values in columns.items()}  # noqa: F841
        db.execute("INSERT INTO chunk_spans SELECT id, message_id, ordinal, start, stop FROM spans_frame")
        if stale:
            db.execute("DELETE FROM embeddings WHERE chunk_id IN (SELECT unnest(?::BIGINT[]))", [stale])
    db.execute("DROP TABLE chunks")
    db.execute("ALTER TABLE chunk_spans RENAME TO chunks")
    db.execute("CREATE INDEX chunks_message ON chunks (message_id)")


def applied(db: duckdb.DuckDBPyConnection) -> list[str]:
    db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TIMESTAMP)")
    return [row[0] for row in db.execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()]


def migrate(db: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply every pending migration, each in its own transaction. Returns the names applied."""
    done = set(applied(db))
    unknown = done - {name for name, _ in MIGRATIONS}
    if unknown:
        # Writing into a schema this code does not know could corrupt what the newer release stored.
        raise VaultUnavailable(f"this vault was written by a newer Satchel ({max(unknown)}); "
                               "upgrade: pip install -U satchel")
    ran: list[str] = []
    for name, fn in MIGRATIONS:
        if name in done:
            continue
        db.execute("BEGIN TRANSACTION")
        try:
            fn(db)
            db.execute(
                "INSERT INTO schema_migrations VALUES (?, ?)", [name, datetime.now(UTC).replace(tzinfo=None)]
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        ran.append(name)
    return ran
