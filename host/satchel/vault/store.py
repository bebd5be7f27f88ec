"""The vault: one DuckDB file, owned by one process, with its search indexes kept in memory.

Every public method takes `self.lock`; DuckDB work happens on one connection. Embedding runs on a
background thread outside the lock, so a capture is acknowledged as soon as its rows are committed.
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import json
import logging
import os
import sys
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from satchel.errors import DiskFull, InvalidParams, NotFound, VaultCorrupt, VaultUnavailable
from satchel.redact import redact
from satchel.retrieve import Doc, Filters, Retriever, snapshot
from satchel.timeutil import epoch, iso, parse_time, utcnow
from satchel.vault.chunking import split_spans
from satchel.vault.migrations import migrate

log = logging.getLogger("satchel.vault")

VAULT_FILE = "vault.duckdb"
ROLES = ("user", "assistant", "system", "tool")
EMBED_BATCH = 8
LOAD_BATCH = 20_000  # rows per step when the owner loads its indexes at start
COMPACT_AFTER_IMPORT = 10_000  # messages added by one import before the file is checked for free blocks
COMPACT_FREE_SHARE = 0.2
COMPACT_MIN_BLOCKS = 256  # 64 MB: below this the free blocks are not worth a rewrite
SNAPSHOT_EVERY = 20_000  # chunks added or removed before an idle owner saves the keyword index again
# DuckDB would otherwise cache table blocks up to 80 % of RAM (0.5 GB after one pass over a 100k-message vault);
# the owner reads by primary key and the index lives in our own arrays, so a small cache costs no latency.
_DB_CONFIG: dict[str, Any] = {"autoinstall_known_extensions": False, "autoload_known_extensions": False,
                              "memory_limit": os.environ.get("SATCHEL_DB_MEMORY", "128MB")}
# Reads that sort or join every chunk (rebuilding the index, the embedding backlog at start, exporting vectors) get
# this much while they run: at a million chunks they may not fit the steady-state cache. Imports stream within it
# (1M messages imported under 128 MB), as do backups and compaction (a 100k vault compacted under 128 MB in 3 s);
# lending them more would only let DuckDB's cache, and the owner's peak memory, grow.
BULK_DB_MEMORY = os.environ.get("SATCHEL_DB_BULK_MEMORY", "1GB")


def content_hash(role: str, text: str) -> str:
    return hashlib.sha256(f"{role}\n{text}".encode()).hexdigest()


def derived_message_id(conversation_id: str, previous_id: str | None, role: str) -> str:
    """Id for a message the site gave no id: its place in the thread, not its text,
    so a streamed answer that grows or an edited prompt keeps its identity."""
    return "auto:" + hashlib.sha256(f"{conversation_id}|{previous_id or ''}|{role}".encode()).hexdigest()[:24]


@dataclass(slots=True)
class _Existing:
    id: int
    content_hash: str
    version: int
    ordinal: int
    text: str


def storable(text: str) -> str:
    """Text as it may be stored: lone surrogates (valid in JSON, not in UTF-8) become U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text


def _clean(value: str | None) -> str | None:
    """Titles and URLs are redacted too: a token in a share link or a title is still a token."""
    return redact(storable(value))[0] if value else None


FLUSH_ROWS = 50_000
# (column, numpy dtype) in insert order; "O" columns hold str or None, datetime64 columns NaT for NULL.
_CONVERSATION_COLUMNS = (("id", "int64"), ("provider", "O"), ("external_id", "O"), ("title", "O"), ("url", "O"),
                         ("model", "O"), ("created_at", "datetime64[us]"), ("updated_at", "datetime64[us]"),
                         ("captured_at", "datetime64[us]"), ("source", "O"))
_MESSAGE_COLUMNS = (("id", "int64"), ("conversation_id", "int64"), ("external_id", "O"),
                    ("parent_external_id", "O"), ("ordinal", "int32"), ("role", "O"), ("text", "O"),
                    ("content_hash", "O"), ("created_at", "datetime64[us]"), ("captured_at", "datetime64[us]"),
                    ("updated_at", "datetime64[us]"), ("version", "int32"), ("model", "O"), ("on_thread", "bool"),
                    ("meta", "O"))
_CHUNK_COLUMNS = (("id", "int64"), ("message_id", "int64"), ("ordinal", "int32"), ("start", "int32"),
                  ("stop", "int32"))
# A chunk's text: its span of the message's text (DuckDB's substring counts code points, as Python does).
_CHUNK_TEXT = "substring(m.text, ch.start + 1, ch.stop - ch.start)"


@dataclass(slots=True)
class _Pending:
    """Rows of conversations new to the vault, waiting for one bulk insert."""

    conversations: list[list[Any]] = field(default_factory=list)
    messages: list[list[Any]] = field(default_factory=list)
    chunks: list[list[Any]] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return len(self.messages) + len(self.chunks)


def _bulk_insert(db: duckdb.DuckDBPyConnection, table: str, columns: tuple[tuple[str, str], ...],
                 rows: list[list[Any]]) -> None:
    """Insert through a DuckDB scan of numpy columns: ~10 µs a row, where executemany costs ~3 ms a row."""
    if not rows:
        return
    frame: dict[str, np.ndarray] = {}
    select: list[str] = []
    for index, (name, dtype) in enumerate(columns):
        values = [row[index] for row in rows]
        if dtype.startswith("datetime64"):
            frame[name] = np.array([np.datetime64("NaT") if v is None else v for v in values], dtype=dtype)
            select.append(name)
        elif dtype == "O" and any(v is None for v in values):
            # NULLs travel as a mask: DuckDB's type sniffing of object arrays trips over some None patterns.
            frame[name] = np.array(["" if v is None else v for v in values], dtype=object)
            frame[name + "__null"] = np.array([v is None for v in values], dtype=bool)
            select.append(f"CASE WHEN {name}__null THEN NULL ELSE {name} END")
        else:
            frame[name] = np.array(values, dtype=dtype)
            select.append(name)
    names = ", ".join(name for name, _ in columns)
    # DuckDB reads the local dict of numpy arrays by its name (a replacement scan); no pandas needed.
    db.execute(f"INSERT INTO {table} ({names}) SELECT {', '.join(select)} FROM frame")


def _is_disk_full(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "no space left" in text or "disk full" in text or "enospc" in text


class Vault:
    def __init__(self, db: duckdb.DuckDBPyConnection, home: Path) -> None:
        self.db = db
        self.home = home
        self.lock = threading.RLock()
        self.retriever = Retriever()
        self._next_id: dict[str, int] = {}
        for table in ("conversations", "messages", "chunks", "sessions", "memories"):
            (top,) = db.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()
            self._next_id[table] = int(top) + 1
        self._embedder: Any = None
        self._embed_wakeup = threading.Event()
        self._embed_thread: threading.Thread | None = None
        self._closed = False
        self._known: dict[tuple[str, str], int] | None = None  # set during import_batch
        self._pending: _Pending | None = None
        # conversation id -> ids of messages added or changed since its last maintenance
        self._dirty: dict[int, set[int]] = {}
        # chunk ids without a vector of the current model; None until the model's vectors are loaded
        self._unembedded: set[int] | None = None
        self._memory_vectors: dict[int, np.ndarray] = {}
        self._saved_changes = -1  # retriever.changes when the index snapshot was saved or loaded
        self._forgets = 0  # bumped by every forget: a snapshot taken before one must not be kept
        self._load_indexes()

    # ----------------------------------------------------------------- opening
    @classmethod
    def open(cls, home: Path, *, background_embedding: bool = True) -> Vault:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(home, 0o700)
        path = home / VAULT_FILE
        try:
            db = duckdb.connect(str(path), config=_DB_CONFIG)
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise VaultUnavailable(f"the vault is held by another process: {exc}") from None
            raise VaultCorrupt(f"cannot open {path}: {exc}. {_recovery_hint(home)}") from None
        except duckdb.Error as exc:
            raise VaultCorrupt(f"cannot open {path}: {exc}. {_recovery_hint(home)}") from None
        for private in (path, path.with_suffix(".duckdb.wal")):
            if private.exists():
                os.chmod(private, 0o600)
        try:
            migrate(db)
            vault = cls(db, home)
        except duckdb.Error as exc:
            db.close()
            raise VaultCorrupt(f"{path} is not a readable Satchel vault: {exc}. {_recovery_hint(home)}") from None
        except BaseException:
            db.close()
            raise
        if background_embedding:
            vault.start_embedding()
        return vault

    def close(self) -> None:
        self._closed = True
        self._embed_wakeup.set()
        if self._embed_thread is not None:
            self._embed_thread.join(timeout=30)
        try:
            self.save_index_snapshot()
        except OSError as exc:  # a full disk: the next start rebuilds the index instead
            log.warning("could not save the index snapshot: %s", exc)
        with self.lock:
            self.compact_if_sparse()
            try:
                self.db.execute("CHECKPOINT")
            except duckdb.Error:
                pass
            self.db.close()

    def allocate(self, table: str, count: int = 1) -> int:
        first = self._next_id[table]
        self._next_id[table] = first + count
        return first

    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            from satchel.embed import get_embedder

            self._embedder = get_embedder()
        return self._embedder

    @contextlib.contextmanager
    def roomy(self) -> Iterator[None]:
        """Raise DuckDB's memory limit for one bulk operation, then give the cache back."""
        with self.lock:
            self.db.execute(f"SET memory_limit = '{BULK_DB_MEMORY}'")
        try:
            yield
        finally:
            with self.lock:
                try:
                    self.db.execute(f"SET memory_limit = '{_DB_CONFIG['memory_limit']}'")
                except duckdb.Error as exc:  # still pinned by a running query: the next bulk end retries
                    log.warning("could not lower DuckDB's memory limit: %s", exc)

    # A chunk with its message's metadata and, for the first chunk of a message, the previous turn's text (it is
    # indexed with the chunk). {inner} narrows the conversations read, {outer} the chunks returned.
    _DOCS_SQL = """
        SELECT * FROM (
            SELECT ch.id, m.id AS message_id, m.conversation_id, c.provider, m.role,
                   epoch(coalesce(m.created_at, m.captured_at)), {text}, m.ordinal,
                   CASE WHEN ch.ordinal = 0 THEN coalesce(
                       lag(m.text) OVER (PARTITION BY m.conversation_id ORDER BY m.ordinal, m.id, ch.ordinal), '')
                   ELSE '' END
            FROM chunks ch JOIN messages m ON m.id = ch.message_id JOIN conversations c ON c.id = m.conversation_id
            {inner}
        ) docs {outer} ORDER BY 1
    """

    def _snapshot_settings(self) -> dict[str, Any]:
        """What a saved keyword index depends on: a snapshot made under other settings is rebuilt."""
        from satchel.retrieve import text as textmod

        return {"tokenizer": textmod.VERSION, "prefix_weight": self.retriever.config.prefix_weight,
                "dim": self.retriever.dim}

    def _load_indexes(self) -> None:
        """Fill the in-memory retriever: from the snapshot the last clean stop saved, reconciled with the tables
        (chunks added or removed since are indexed or dropped), else from the tables."""
        with self.roomy():
            self._fill_indexes()
        _release_freed_memory()

    def _fill_indexes(self) -> None:
        state = snapshot.load(self.home, self._snapshot_settings())
        if state is not None:
            try:
                restored = Retriever.restore(state, self.retriever.dim, self.retriever.config)
            except (KeyError, ValueError) as exc:
                log.warning("ignoring the index snapshot (%s): rebuilding", exc)
            else:
                self.retriever = restored
                self._saved_changes = restored.changes  # what the snapshot holds; catching up is a change
                if self._catch_up():
                    return
                self._saved_changes = -1
                self.retriever = Retriever(self.retriever.dim, self.retriever.config)
        self._rebuild_indexes()

    def _catch_up(self) -> bool:
        """Bring a restored index in line with the tables. False when so much changed that a rebuild is cheaper."""
        in_db = np.asarray([r[0] for r in self.db.execute("SELECT id FROM chunks ORDER BY id").fetchall()], np.int64)
        indexed = self.retriever.chunk_ids()
        gone = np.setdiff1d(indexed, in_db, assume_unique=True)
        new = np.setdiff1d(in_db, indexed, assume_unique=True)
        if gone.size + new.size > max(LOAD_BATCH, in_db.size // 2):
            return False
        self.retriever.remove_chunks(gone.tolist())
        if new.size:
            messages = [r[0] for r in self.db.execute(
                "SELECT DISTINCT message_id FROM chunks WHERE id IN (SELECT unnest(?::BIGINT[]))",
                [new.tolist()]).fetchall()]
            # The turn after a new or changed message is indexed with its text: index it again too.
            successors = [r[0] for r in self.db.execute(
                "SELECT id FROM (SELECT id, lag(id) OVER (PARTITION BY conversation_id ORDER BY ordinal, id) AS prev"
                " FROM messages WHERE conversation_id IN (SELECT conversation_id FROM messages WHERE id IN"
                " (SELECT unnest(?::BIGINT[])))) WHERE prev IN (SELECT unnest(?::BIGINT[]))",
                [messages, messages]).fetchall()]
            self._reindex(sorted(set(messages) | set(successors)))
        log.info("index snapshot loaded: %d chunks dropped, %d added since it was saved", gone.size, new.size)
        return True

    def _rebuild_indexes(self) -> None:
        """Index every chunk from the tables, a range of conversations at a time: DuckDB's working memory (the
        window over the previous turn) and ours stay near one batch of rows."""
        counts = self.db.execute("SELECT conversation_id, count(*) FROM messages GROUP BY 1 ORDER BY 1").fetchall()
        start = 0
        while start < len(counts):
            stop, total = start, 0
            while stop < len(counts) and (total < LOAD_BATCH or stop == start):
                total += counts[stop][1]
                stop += 1
            sql = self._DOCS_SQL.format(text=_CHUNK_TEXT, inner="WHERE m.conversation_id BETWEEN ? AND ?", outer="")
            rows = self.db.execute(sql, [counts[start][0], counts[stop - 1][0]]).fetchall()
            self.retriever.add_documents([_doc(row) for row in rows])
            start = stop

    def save_index_snapshot(self) -> bool:
        """Save the keyword index if it changed since it was loaded or last saved. The lock is held only to take
        the arrays (segments are immutable); writing happens outside it."""
        with self.lock:
            if self.retriever.changes == self._saved_changes:
                return False
            state = self.retriever.state()
            changes = self.retriever.changes
            settings = self._snapshot_settings()
            forgets = self._forgets
        snapshot.save(self.home, state, settings)
        with self.lock:
            if self._forgets != forgets:  # what we wrote may hold words forgotten meanwhile
                snapshot.discard(self.home)
                return False
            self._saved_changes = changes
        return True

    def _chunk_texts(self, chunk_ids: list[int]) -> list[tuple[int, str]]:
        """(id, text) of these chunks, newest first: two lookups by primary key (a join would scan messages)."""
        spans = self.db.execute(
            f"SELECT id, message_id, start, stop FROM chunks WHERE id IN ({_placeholders(len(chunk_ids))})"
            " ORDER BY id DESC", chunk_ids).fetchall()
        message_ids = sorted({row[1] for row in spans})
        texts = dict(self.db.execute(f"SELECT id, text FROM messages WHERE id IN ({_placeholders(len(message_ids))})",
                                     message_ids).fetchall()) if message_ids else {}
        return [(chunk_id, texts[mid][start:stop]) for chunk_id, mid, start, stop in spans if mid in texts]

    def _save_snapshot_if_stale(self) -> None:
        """When idle, save the index once enough changed that a crash would make the next start slow."""
        if self._saved_changes < 0 or self.retriever.changes - self._saved_changes >= SNAPSHOT_EVERY:
            try:
                self.save_index_snapshot()
            except OSError as exc:
                log.warning("could not save the index snapshot: %s", exc)

    def _reindex(self, message_ids: list[int]) -> None:
        """Index these messages again (their previous turn changed: it is indexed with them)."""
        if not message_ids:
            return
        self.retriever.remove_messages(message_ids)
        rows = self.db.execute(
            self._DOCS_SQL.format(
                text=_CHUNK_TEXT,
                inner="WHERE m.conversation_id IN (SELECT conversation_id FROM messages WHERE id IN"
                      " (SELECT unnest(?::BIGINT[])))",
                outer="WHERE message_id IN (SELECT unnest(?::BIGINT[]))"),
            [message_ids, message_ids]).fetchall()
        self.retriever.add_documents([_doc(row) for row in rows])

    def _load_vectors(self) -> None:
        """Read every vector of the current model into the retriever, a range of chunk ids at a time, taking the
        lock per range so the owner keeps answering meanwhile. A chunk forgotten meanwhile is unknown to the
        retriever and skipped; one captured meanwhile is in the pending set read after."""
        model = self.embedder.model_id
        with self.lock:
            low, high = self.db.execute("SELECT min(chunk_id), max(chunk_id) FROM embeddings WHERE model = ?",
                                        [model]).fetchone()
        # By ranges of chunk ids: each statement reads at most LOAD_BATCH rows, so the lock is held for ≈20 ms at a
        # time and no open result has to survive a compaction swapping the connection.
        for start in range(low or 0, (high or -1) + 1, LOAD_BATCH):
            with self.lock:
                rows = self.db.execute(
                    "SELECT chunk_id, vector FROM embeddings WHERE model = ? AND chunk_id BETWEEN ? AND ?",
                    [model, start, start + LOAD_BATCH - 1]).fetchall()
                if rows:
                    matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(len(rows), -1)
                    self.retriever.add_vectors([r[0] for r in rows], matrix)
        with self.lock, self.roomy():
            self._unembedded = None
            self._pending_chunks()
        _release_freed_memory()

    def _pending_chunks(self) -> set[int]:
        """Chunk ids still to embed: read once from the tables, then kept up to date in memory (a scan per
        batch would hold the lock for ~100 ms at 20k chunks and stall captures)."""
        if self._unembedded is None:
            self._unembedded = {r[0] for r in self.db.execute(
                "SELECT ch.id FROM chunks ch LEFT JOIN embeddings e ON e.chunk_id = ch.id AND e.model = ?"
                " WHERE e.chunk_id IS NULL", [self.embedder.model_id]).fetchall()}
        return self._unembedded

    # ----------------------------------------------------------------- capture
    def capture(self, conversation: dict[str, Any], messages: list[dict[str, Any]], *,
                source: str = "capture") -> dict[str, int]:
        with self.lock:
            self._begin()
            try:
                counts, docs = self._capture_one(conversation, messages, source)
                self._commit()
            except BaseException:
                self._rollback()
                raise
            self.retriever.add_documents(docs)
            self._mark_dirty(docs)
        self._embed_wakeup.set()
        return counts

    def import_batch(self, items: Iterable[tuple[dict[str, Any], list[dict[str, Any]]]], *,
                     source: str, progress: Any = None) -> dict[str, int]:
        """Several conversations in one transaction: all of them land, or none."""
        totals = {"conversations": 0, "added": 0, "updated": 0, "unchanged": 0}
        all_docs: list[Doc] = []
        with self.lock:
            saved_ids = dict(self._next_id)
            self._begin()
            # Bulk mode: conversation keys are looked up once, and the rows of conversations new to the vault
            # are buffered and inserted in bulk (DuckDB's executemany costs milliseconds per row).
            self._known = {(p, e): i for p, e, i in self.db.execute(
                "SELECT provider, external_id, id FROM conversations").fetchall()}
            self._pending = _Pending()
            seen: set[tuple[str, str]] = set()
            try:
                for conversation, messages in items:
                    key = (storable(conversation["provider"]), storable(conversation["id"]))
                    if key in seen:  # its rows must be in the tables before they are read back
                        self._flush_pending()
                    seen.add(key)
                    counts, docs = self._capture_one(conversation, messages, source)
                    if self._pending.rows > FLUSH_ROWS:
                        self._flush_pending()
                    all_docs.extend(docs)
                    totals["conversations"] += 1
                    for key in ("added", "updated", "unchanged"):
                        totals[key] += counts[key]
                    if progress is not None:
                        progress(totals)
                self._flush_pending()
                self._commit()
            except BaseException:
                self._rollback()
                self._next_id = saved_ids
                raise
            finally:
                self._known = None
                self._pending = None
            self.retriever.add_documents(all_docs)
            self._mark_dirty(all_docs)
            if totals["added"] >= COMPACT_AFTER_IMPORT:
                self.compact_if_sparse()
        self._embed_wakeup.set()
        return totals

    def compact_if_sparse(self) -> bool:
        """Rewrite the file when a fifth of it is free blocks (a big import leaves a third: 584 → 405 MB at 100k
        messages, in 2 s). The caller holds the lock."""
        from satchel.vault import backup

        try:
            total, free = self.db.execute("SELECT total_blocks, free_blocks FROM pragma_database_size()").fetchone()
        except duckdb.Error:
            return False
        if total < COMPACT_MIN_BLOCKS or free < total * COMPACT_FREE_SHARE:
            return False
        try:
            self.db = backup.compact(self.db, self.home, _DB_CONFIG)
        except (DiskFull, duckdb.Error, OSError) as exc:
            log.warning("could not compact the vault: %s", exc)
            return False
        return True

    def _flush_pending(self) -> None:
        pending = self._pending
        if pending is None or not (pending.rows or pending.conversations):
            return
        _bulk_insert(self.db, "conversations", _CONVERSATION_COLUMNS, pending.conversations)
        _bulk_insert(self.db, "messages", _MESSAGE_COLUMNS, pending.messages)
        _bulk_insert(self.db, "chunks", _CHUNK_COLUMNS, pending.chunks)
        self._pending = _Pending()

    def _mark_dirty(self, docs: list[Doc]) -> None:
        for doc in docs:
            self._dirty.setdefault(doc.conversation_id, set()).add(doc.message_id)
        if self._unembedded is not None:
            self._unembedded.update(doc.chunk_id for doc in docs)

    def maintain(self, max_conversations: int | None = None) -> int:
        """Sessions, summaries and distilled memories for conversations changed since last time."""
        from satchel.vault.memories import maintain_conversation

        done = 0
        while self._dirty and (max_conversations is None or done < max_conversations):
            with self.lock:
                conv_id, message_ids = self._dirty.popitem()
            try:
                maintain_conversation(self, conv_id, message_ids)
            except Exception:
                log.exception("maintenance of conversation %d failed", conv_id)
            done += 1
        return done

    def settings(self) -> dict[str, Any]:
        with self.lock:
            return {k: json.loads(v) for k, v in self.db.execute("SELECT key, value FROM settings").fetchall()}

    def set_setting(self, key: str, value: Any) -> None:
        with self.lock:
            if value is None:
                self.db.execute("DELETE FROM settings WHERE key = ?", [key])
            else:
                self.db.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", [key, json.dumps(value)])

    def memory_cosines(self, ids: list[int], texts: list[str], query_vector: np.ndarray | None) -> list[float]:
        """Cosine of each memory to the query; memory vectors are few, so they are kept in memory, not stored."""
        if query_vector is None:
            return [0.0] * len(ids)
        missing = [i for i, mid in enumerate(ids) if mid not in self._memory_vectors]
        if missing:
            vectors = self.embedder.embed([texts[i] for i in missing])
            for i, vector in zip(missing, vectors, strict=True):
                self._memory_vectors[ids[i]] = vector
        return [float(np.dot(self._memory_vectors[mid], query_vector)) for mid in ids]

    def forget_memory_vectors(self) -> None:
        self._memory_vectors.clear()

    def _begin(self) -> None:
        self.db.execute("BEGIN TRANSACTION")

    def _commit(self) -> None:
        try:
            self.db.execute("COMMIT")
        except duckdb.Error as exc:
            if _is_disk_full(exc):
                raise DiskFull("the disk is full: this capture was not stored; nothing stored was lost") from None
            raise

    def _rollback(self) -> None:
        try:
            self.db.execute("ROLLBACK")
        except duckdb.Error:
            pass

    def _upsert_conversation(self, conversation: dict[str, Any], source: str, now: datetime) -> tuple[int, bool]:
        """(conversation id, whether it is new to the vault)."""
        provider = storable(conversation["provider"])
        external_id = storable(conversation["id"])
        # Provenance travels with a Satchel export: a moved conversation keeps "capture" / "import:chatgpt".
        # (dispatch's capture never passes "source", so a browser cannot set it.)
        source = conversation.get("source") or source
        if self._known is not None and self._pending is not None and (provider, external_id) not in self._known:
            conv_id = self.allocate("conversations")
            self._known[(provider, external_id)] = conv_id
            self._pending.conversations.append([
                conv_id, provider, external_id, _clean(conversation.get("title")), _clean(conversation.get("url")),
                _clean(conversation.get("model")),
                parse_time(conversation.get("created_at"), "conversation.created_at"), now, now, source])
            return conv_id, True
        row = self.db.execute(
            "SELECT id, title, url, model FROM conversations WHERE provider = ? AND external_id = ?",
            [provider, external_id],
        ).fetchone()
        title = _clean(conversation.get("title"))
        url = _clean(conversation.get("url"))
        model = _clean(conversation.get("model"))
        created = parse_time(conversation.get("created_at"), "conversation.created_at")
        if row is None:
            conv_id = self.allocate("conversations")
            self.db.execute(
                "INSERT INTO conversations (id, provider, external_id, title, url, model, created_at, updated_at,"
                " captured_at, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [conv_id, provider, external_id, title, url, model, created, now, now, source],
            )
            return conv_id, True
        conv_id = row[0]
        if (title and title != row[1]) or (url and url != row[2]) or (model and model != row[3]):
            self.db.execute(
                "UPDATE conversations SET title = coalesce(?, title), url = coalesce(?, url),"
                " model = coalesce(?, model) WHERE id = ?",
                [title, url, model, conv_id],
            )
        return conv_id, False

    def _capture_one(self, conversation: dict[str, Any], messages: list[dict[str, Any]],
                     source: str) -> tuple[dict[str, int], list[Doc]]:
        now = utcnow()
        conv_id, is_new = self._upsert_conversation(conversation, source, now)
        existing: dict[str, _Existing] = {}
        by_hash: dict[str, str] = {}
        for ext, mid, chash, version, ordinal, text in [] if is_new else self.db.execute(
            "SELECT external_id, id, content_hash, version, ordinal, text FROM messages WHERE conversation_id = ?",
            [conv_id],
        ).fetchall():
            existing[ext] = _Existing(mid, chash, version, ordinal, text)
            by_hash.setdefault(chash, ext)
        counts = {"added": 0, "updated": 0, "unchanged": 0}
        docs: list[Doc] = []
        previous_id: str | None = None
        previous_text = ""
        next_ordinal = max((e.ordinal for e in existing.values()), default=-1) + 1
        new_messages: list[list[Any]] = []
        new_chunks: list[list[Any]] = []
        provider = storable(conversation["provider"])
        for index, message in enumerate(messages):
            role = message["role"]
            text, _ = redact(storable(message["text"]))
            chash = content_hash(role, text)
            created = parse_time(message.get("created_at"), f"messages[{index}].created_at")
            ext = storable(message.get("id") or "") or by_hash.get(chash) or derived_message_id(conversation["id"], previous_id, role)
            parent = storable(message.get("parent_id") or "") or previous_id
            old = existing.get(ext)
            if old is not None and old.content_hash == chash:
                counts["unchanged"] += 1
                ordinal = old.ordinal
            elif old is not None:
                ordinal = old.ordinal
                grew = text.startswith(old.text)  # a streamed answer growing is not an edit
                if not grew:
                    self.db.execute(
                        "INSERT INTO message_versions VALUES (?, ?, ?, ?, ?)",
                        [old.id, old.version, old.text, old.content_hash, now],
                    )
                version = old.version if grew else old.version + 1
                self.db.execute(
                    "UPDATE messages SET text = ?, content_hash = ?, version = ?, updated_at = ?,"
                    " created_at = coalesce(?, created_at) WHERE id = ?",
                    [text, chash, version, now, created, old.id],
                )
                self._drop_chunks([old.id])
                docs.extend(self._chunk_rows(new_chunks, old.id, conv_id, provider, role, created or now,
                                             text, ordinal, previous_text))
                existing[ext] = _Existing(old.id, chash, version, ordinal, text)
                counts["updated"] += 1
            else:
                ordinal = existing[previous_id].ordinal + 1 if previous_id in existing else next_ordinal
                next_ordinal = max(next_ordinal, ordinal + 1)
                mid = self.allocate("messages")
                meta = message.get("meta")
                new_messages.append([
                    mid, conv_id, ext, parent, ordinal, role, text, chash, created, now, now, 1,
                    message.get("model"), bool(message.get("on_thread", True)),
                    json.dumps(meta) if meta is not None else None,
                ])
                docs.extend(self._chunk_rows(new_chunks, mid, conv_id, provider, role, created or now,
                                             text, ordinal, previous_text))
                existing[ext] = _Existing(mid, chash, 1, ordinal, text)
                by_hash.setdefault(chash, ext)
                counts["added"] += 1
            previous_id = ext
            previous_text = text
        if self._pending is not None:
            self._pending.messages.extend(new_messages)
            self._pending.chunks.extend(new_chunks)
        else:
            _bulk_insert(self.db, "messages", _MESSAGE_COLUMNS, new_messages)
            _bulk_insert(self.db, "chunks", _CHUNK_COLUMNS, new_chunks)
        if not is_new and (counts["added"] or counts["updated"]):
            self.db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", [now, conv_id])
        return counts, docs

    def _chunk_rows(self, sink: list[list[Any]], message_id: int, conv_id: int, provider: str, role: str,
                    when: datetime, text: str, ordinal: int, previous_text: str) -> list[Doc]:
        docs = []
        for index, (start, stop) in enumerate(split_spans(text)):
            piece = text[start:stop]
            chunk_id = self.allocate("chunks")
            sink.append([chunk_id, message_id, index, start, stop])
            docs.append(Doc(chunk_id=chunk_id, message_id=message_id, conversation_id=conv_id, provider=provider,
                            role=role, created_at=epoch(when), text=piece, position=ordinal,
                            prefix=previous_text if index == 0 else ""))
        return docs

    def _drop_chunks(self, message_ids: list[int]) -> None:
        if not message_ids:
            return
        self.db.execute(
            "DELETE FROM embeddings WHERE chunk_id IN (SELECT id FROM chunks WHERE message_id IN "
            "(SELECT unnest(?::BIGINT[])))", [message_ids])
        self.db.execute("DELETE FROM chunks WHERE message_id IN (SELECT unnest(?::BIGINT[]))", [message_ids])
        self.retriever.remove_messages(message_ids)

    # ----------------------------------------------------------------- reading
    def _resolve_conversation(self, provider: str, external_id: str) -> int:
        row = self.db.execute(
            "SELECT id FROM conversations WHERE provider = ? AND external_id = ?", [provider, external_id]
        ).fetchone()
        if row is None:
            raise NotFound(f"no conversation {provider}/{external_id}")
        return int(row[0])

    def search(self, query: str, k: int = 10, *, provider: str | None = None,
               conversation: dict[str, str] | None = None, since: str | None = None,
               until: str | None = None, exclude: dict[str, str] | None = None,
               query_vector: np.ndarray | None = None, strict: bool = True) -> list[dict[str, Any]]:
        if query_vector is None:
            query_vector = self.query_vector(query)
        with self.lock:
            filters = Filters(
                providers={provider} if provider else None,
                since=epoch(parse_time(since, "since")) if since else None,
                until=epoch(parse_time(until, "until")) if until else None,
            )
            if conversation:
                try:
                    filters.conversation_ids = {self._resolve_conversation(conversation["provider"],
                                                                           conversation["id"])}
                except NotFound:
                    return []
            if exclude:
                row = self.db.execute(
                    "SELECT id FROM conversations WHERE provider = ? AND external_id = ?",
                    [exclude.get("provider"), exclude.get("id")],
                ).fetchone()
                if row:
                    filters.exclude_conversation_ids = {int(row[0])}
            scored = self.retriever.search(query, query_vector, max(k * 3, 20), filters, strict=strict)
            best: dict[int, float] = {}
            for hit in scored:
                if hit.message_id not in best:
                    best[hit.message_id] = hit.score
                if len(best) >= 2 * k:
                    break
            # The same text captured twice (a copied prompt, a re-run conversation) is one result, not two.
            seen: set[tuple[str, str]] = set()
            unique = []
            for hit in self._hits(best):
                key = (hit["role"], " ".join(hit["text"].split()).casefold())
                if key not in seen:
                    seen.add(key)
                    unique.append(hit)
            return unique[:k]

    def query_vector(self, query: str) -> np.ndarray | None:
        """Embed the query unless the model is still loading (keyword search answers meanwhile)."""
        if self._embedder is None or not query.strip():
            return None
        try:
            return self._embedder.embed([query])[0]
        except Exception:
            log.exception("query embedding failed")
            return None

    def _hits(self, best: dict[int, float]) -> list[dict[str, Any]]:
        if not best:
            return []
        # Two lookups by primary key: joining messages to conversations in one statement makes DuckDB scan
        # every conversation (11 ms at 100k messages against 2.6 ms).
        rows = self.db.execute(
            "SELECT id, external_id, role, text, created_at, captured_at, ordinal, conversation_id FROM messages"
            f" WHERE id IN ({_placeholders(len(best))})", list(best)).fetchall()
        conv_ids = sorted({row[7] for row in rows})
        convs = {row[0]: row for row in self.db.execute(
            f"SELECT id, provider, external_id, title, url FROM conversations WHERE id IN ({_placeholders(len(conv_ids))})",
            conv_ids).fetchall()} if conv_ids else {}
        by_id = {row[0]: row for row in rows}
        hits = []
        for mid, score in best.items():
            row = by_id.get(mid)
            conv = convs.get(row[7]) if row is not None else None
            if row is None or conv is None:
                continue
            hits.append({
                "provider": conv[1], "conversation_id": conv[2], "message_id": row[1], "role": row[2],
                "text": row[3], "score": round(float(score), 4), "created_at": iso(row[4] or row[5]),
                "title": conv[3], "url": conv[4], "_ordinal": row[6], "_conversation_pk": row[7],
                "_message_pk": mid,
            })
        return hits

    def neighbours(self, conversation_pk: int, ordinal: int, radius: int = 1) -> list[tuple[int, str, str]]:
        """(ordinal, role, text) of the turns around one message, for context expansion."""
        return self.db.execute(
            "SELECT ordinal, role, text FROM messages WHERE conversation_id = ? AND ordinal BETWEEN ? AND ?"
            " AND on_thread ORDER BY ordinal",
            [conversation_pk, ordinal - radius, ordinal + radius],
        ).fetchall()

    def context(self, prompt: str, budget_tokens: int = 800,
                exclude: dict[str, str] | None = None) -> dict[str, Any]:
        from satchel.vault.context import build_context

        return build_context(self, prompt, budget_tokens=budget_tokens, exclude=exclude)

    def list_conversations(self, limit: int = 50, offset: int = 0,
                           provider: str | None = None) -> dict[str, Any]:
        with self.lock:
            where, args = ("WHERE c.provider = ?", [provider]) if provider else ("", [])
            (total,) = self.db.execute(f"SELECT count(*) FROM conversations c {where}", args).fetchone()
            rows = self.db.execute(
                f"""
                SELECT c.provider, c.external_id, c.title, c.url, c.created_at, c.updated_at, c.source,
                       (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id)
                FROM conversations c {where}
                ORDER BY c.updated_at DESC, c.id DESC LIMIT ? OFFSET ?
                """,
                [*args, limit, offset],
            ).fetchall()
        return {
            "total": total,
            "conversations": [
                {"provider": r[0], "id": r[1], "title": r[2], "url": r[3], "created_at": iso(r[4]),
                 "updated_at": iso(r[5]), "source": r[6], "message_count": r[7]}
                for r in rows
            ],
        }

    def get_conversation(self, provider: str, external_id: str, offset: int = 0,
                         limit: int = 200, history: bool = False,
                         max_bytes: int | None = None) -> dict[str, Any]:
        """One page of a conversation. With `max_bytes` (the protocol's replies), a page stops early at that
        much message text, and a single larger message is cut and marked `truncated`."""
        with self.lock:
            conv_id = self._resolve_conversation(provider, external_id)
            conv = self.db.execute(
                "SELECT provider, external_id, title, url, model, created_at, updated_at, captured_at, source,"
                " summary FROM conversations WHERE id = ?", [conv_id]).fetchone()
            (total,) = self.db.execute(
                "SELECT count(*) FROM messages WHERE conversation_id = ?", [conv_id]).fetchone()
            rows = self.db.execute(
                "SELECT id, external_id, parent_external_id, ordinal, role, text, content_hash, created_at,"
                " captured_at, updated_at, version, model, on_thread, meta FROM messages"
                " WHERE conversation_id = ? ORDER BY ordinal, id LIMIT ? OFFSET ?",
                [conv_id, limit, offset],
            ).fetchall()
            versions: dict[int, list[dict[str, Any]]] = {}
            if history and rows:
                for mid, version, text, chash, captured in self.db.execute(
                    "SELECT message_id, version, text, content_hash, captured_at FROM message_versions"
                    " WHERE message_id IN (SELECT unnest(?::BIGINT[])) ORDER BY message_id, version",
                    [[r[0] for r in rows]],
                ).fetchall():
                    versions.setdefault(mid, []).append(
                        {"version": version, "text": text, "content_hash": chash, "replaced_at": iso(captured)})
        messages = []
        budget = max_bytes
        for r in rows:
            text = r[5]
            if budget is not None:
                size = len(text.encode("utf-8"))
                if messages and size > budget:
                    break  # the rest comes with the next page
                budget -= size
                if size > max_bytes:
                    text = text.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")
            item = {"id": r[1], "parent_id": r[2], "ordinal": r[3], "role": r[4], "text": text,
                    "content_hash": r[6], "created_at": iso(r[7]), "captured_at": iso(r[8]),
                    "updated_at": iso(r[9]), "version": r[10], "model": r[11], "on_thread": r[12],
                    "meta": json.loads(r[13]) if r[13] else None}
            if text is not r[5]:
                item["truncated"] = True  # one message larger than a reply: exports carry it whole
            if history:
                item["history"] = versions.get(r[0], [])
            messages.append(item)
        next_offset = offset + len(messages) if offset + len(messages) < total else None
        return {
            "conversation": {"provider": conv[0], "id": conv[1], "title": conv[2], "url": conv[3],
                             "model": conv[4], "created_at": iso(conv[5]), "updated_at": iso(conv[6]),
                             "captured_at": iso(conv[7]), "source": conv[8], "summary": conv[9],
                             "message_count": total},
            "messages": messages,
            "next_offset": next_offset,
        }

    def iter_conversation_keys(self, provider: str | None = None,
                               since: str | None = None) -> Iterator[tuple[str, str]]:
        with self.lock:
            sql = "SELECT provider, external_id FROM conversations WHERE 1=1"
            args: list[Any] = []
            if provider:
                sql += " AND provider = ?"
                args.append(provider)
            if since:
                sql += " AND updated_at >= ?"
                args.append(parse_time(since, "since"))
            rows = self.db.execute(sql + " ORDER BY provider, external_id", args).fetchall()
        yield from rows

    # ----------------------------------------------------------------- forgetting
    def forget(self, scope: str, provider: str | None = None, conversation_id: str | None = None,
               message_id: str | None = None) -> dict[str, int]:
        with self.lock:
            if scope == "all":
                conv_sql, conv_args = "SELECT id FROM conversations", []
            elif scope == "provider":
                conv_sql, conv_args = "SELECT id FROM conversations WHERE provider = ?", [provider]
            elif scope in ("conversation", "message"):
                conv_sql = "SELECT id FROM conversations WHERE provider = ? AND external_id = ?"
                conv_args = [provider, conversation_id]
            else:
                raise InvalidParams(f"unknown forget scope {scope!r}")
            conv_ids = [r[0] for r in self.db.execute(conv_sql, conv_args).fetchall()]
            if scope in ("conversation", "message") and not conv_ids:
                raise NotFound(f"no conversation {provider}/{conversation_id}")
            if scope == "message":
                rows = self.db.execute(
                    "SELECT id FROM messages WHERE conversation_id = ? AND external_id = ?",
                    [conv_ids[0], message_id]).fetchall()
                if not rows:
                    raise NotFound(f"no message {message_id} in {provider}/{conversation_id}")
                message_ids = [rows[0][0]]
                conv_ids_to_drop: list[int] = []
                # The next turn is indexed with this one's text as its context: it must be indexed anew.
                successors = [r[0] for r in self.db.execute(
                    "SELECT id FROM messages WHERE conversation_id = ? AND ordinal > (SELECT ordinal FROM messages"
                    " WHERE id = ?) ORDER BY ordinal, id LIMIT 1", [conv_ids[0], message_ids[0]]).fetchall()]
            else:
                message_ids = [r[0] for r in self.db.execute(
                    "SELECT id FROM messages WHERE conversation_id IN (SELECT unnest(?::BIGINT[]))",
                    [conv_ids]).fetchall()]
                conv_ids_to_drop = conv_ids
            everything = scope == "all"

            def delete_rows(db: duckdb.DuckDBPyConnection) -> None:
                # Row ids are the same in the vault and in its backups (copies), so this runs on both.
                ids = [message_ids]
                db.execute("DELETE FROM embeddings WHERE chunk_id IN (SELECT id FROM chunks WHERE message_id IN"
                           " (SELECT unnest(?::BIGINT[])))", ids)
                db.execute("DELETE FROM chunks WHERE message_id IN (SELECT unnest(?::BIGINT[]))", ids)
                db.execute("DELETE FROM message_versions WHERE message_id IN (SELECT unnest(?::BIGINT[]))", ids)
                # A memory distilled only from forgotten turns is forgotten with them.
                db.execute("DELETE FROM memory_sources WHERE message_id IN (SELECT unnest(?::BIGINT[]))", ids)
                db.execute(
                    "DELETE FROM memories WHERE origin <> 'user' AND id NOT IN (SELECT memory_id FROM memory_sources)")
                db.execute("DELETE FROM messages WHERE id IN (SELECT unnest(?::BIGINT[]))", ids)
                db.execute("DELETE FROM sessions WHERE conversation_id IN (SELECT unnest(?::BIGINT[]))",
                           [conv_ids_to_drop])
                db.execute("DELETE FROM conversations WHERE id IN (SELECT unnest(?::BIGINT[]))", [conv_ids_to_drop])
                if everything:
                    db.execute("DELETE FROM memories")
                    db.execute("DELETE FROM memory_sources")

            self._begin()
            try:
                delete_rows(self.db)
                self._commit()
            except BaseException:
                self._rollback()
                raise
            self.retriever.remove_messages(message_ids)
            self._forgets += 1
            snapshot.discard(self.home)  # its vocabulary holds the forgotten words
            if scope == "message":
                self._reindex(successors)
                self._dirty.setdefault(conv_ids[0], set())  # sessions and summaries without the forgotten turn
            for conv_id in conv_ids_to_drop:
                self._dirty.pop(conv_id, None)
            self.forget_memory_vectors()
            self._erase_traces(delete_rows, everything)
        return {"conversations": len(conv_ids_to_drop), "messages": len(message_ids)}

    def _erase_traces(self, delete_rows: Any, everything: bool) -> None:
        """DuckDB leaves deleted rows in free blocks: rewrite the file, and the backups, so forgotten text is
        gone from the bytes on disk too."""
        from satchel.vault import backup

        try:
            self.db = backup.compact(self.db, self.home, _DB_CONFIG)
        except DiskFull:
            log.error("no room to compact the vault after forget; forgotten rows stay in free blocks until then")
        if everything:
            backup.drop_all(self.home)
        else:
            backup.scrub(self.home, delete_rows)

    def back_up(self) -> None:
        """A daily restore point (called by the owner's background loop)."""
        from satchel.vault import backup

        with self.lock:
            backup.rotate(self.db, self.home)

    # ----------------------------------------------------------------- stats
    def stats(self) -> dict[str, Any]:
        with self.lock:
            conversations, messages, chunks = self.db.execute(
                "SELECT (SELECT count(*) FROM conversations), (SELECT count(*) FROM messages),"
                " (SELECT count(*) FROM chunks)").fetchone()
            providers = dict(self.db.execute(
                "SELECT c.provider, count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id"
                " GROUP BY 1 ORDER BY 2 DESC").fetchall())
            (memories,) = self.db.execute("SELECT count(*) FROM memories WHERE status = 'active'").fetchone()
            # The model is reported once its vectors are in memory: until then vector search is not live.
            model = self._embedder.model_id if self._embedder is not None and self._unembedded is not None else None
            (embedded,) = self.db.execute(
                "SELECT count(*) FROM embeddings WHERE model = ?", [model]).fetchone() if model else (0,)
        path = self.home / VAULT_FILE
        size = sum(p.stat().st_size for p in (path, path.with_suffix(".duckdb.wal")) if p.exists())
        return {
            "conversations": conversations, "messages": messages, "chunks": chunks,
            "embedded": embedded, "backlog": max(chunks - embedded, 0) if model else chunks,
            "memories": memories, "providers": providers, "vault_bytes": size,
            "model": model,
            "path": str(path),
        }

    # ----------------------------------------------------------------- embedding
    def start_embedding(self) -> None:
        if self._embed_thread is None:
            self._embed_thread = threading.Thread(target=self._embed_loop, name="satchel-embed", daemon=True)
            self._embed_thread.start()

    def _embed_loop(self) -> None:
        try:
            self._load_vectors()
            # The query session is built here, before this thread lowers its priority: the ONNX worker
            # threads it starts inherit the priority of the thread that builds it.
            warm_up = getattr(self.embedder, "warm_up", None)
            if warm_up is not None:
                warm_up()
        except Exception:
            log.exception("cannot load the embedding model; keyword search only")
            return
        _lower_thread_priority()
        while not self._closed:
            self.back_up()
            try:
                # Memory first (cheap, and what context needs most), then vectors, newest first.
                done = self.maintain(max_conversations=8) + self.embed_pending(max_batches=4)
            except Exception:
                log.exception("background batch failed")
                done = 0
            if not done:
                self._save_snapshot_if_stale()
                self._embed_wakeup.wait(timeout=float(os.environ.get("SATCHEL_EMBED_IDLE", "30")))
                self._embed_wakeup.clear()

    def embed_pending(self, max_batches: int | None = None) -> int:
        """Embed chunks that have no vector for the current model, newest first. Returns how many."""
        from satchel.embed import get_background_embedder

        embedder = get_background_embedder()
        total = 0
        batches = 0
        while max_batches is None or batches < max_batches:
            with self.lock:
                pending = self._pending_chunks()
                wanted = heapq.nlargest(EMBED_BATCH, pending)  # newest first
                rows = self._chunk_texts(wanted) if wanted else []
                pending.difference_update(wanted)  # forgotten or re-chunked ones simply drop out
            if not rows:
                if wanted:
                    continue
                break
            try:
                vectors = embed_whole(embedder, [r[1] for r in rows])
            except BaseException:
                with self.lock:
                    self._pending_chunks().update(r[0] for r in rows)  # retried by the next batch
                raise
            with self.lock:
                # A chunk forgotten or re-chunked while we embedded is skipped.
                live = {r[0] for r in self.db.execute(
                    "SELECT id FROM chunks WHERE id IN (SELECT unnest(?::BIGINT[]))", [[r[0] for r in rows]]
                ).fetchall()}
                keep = [i for i, r in enumerate(rows) if r[0] in live]
                if keep:
                    self.db.executemany(
                        "INSERT INTO embeddings VALUES (?, ?, ?)",
                        [[rows[i][0], embedder.model_id, vectors[i].tobytes()] for i in keep],
                    )
                    self.retriever.add_vectors([rows[i][0] for i in keep], vectors[keep])
            total += len(rows)
            batches += 1
        return total


def embed_whole(embedder: Any, texts: list[str]) -> np.ndarray:
    """One vector per text, covering all of it: a chunk longer than the model's window (code, CJK, logs run
    to many tokens per word) is split at natural breaks and its pieces' vectors averaged."""
    from satchel.embed.split import split_for_embedding

    limit = embedder.max_text_tokens
    counts = embedder.count_tokens_batch(texts)
    pieces: list[str] = []
    owners: list[int] = []
    for index, (text, count) in enumerate(zip(texts, counts, strict=True)):
        parts = [text] if count <= limit else split_for_embedding(text, embedder.count_tokens, limit)
        pieces.extend(parts)
        owners.extend([index] * len(parts))
    piece_vectors = np.asarray(embedder.embed(pieces), dtype=np.float32)
    if len(pieces) == len(texts):
        return piece_vectors.astype("<f4")
    summed = np.zeros((len(texts), piece_vectors.shape[1]), dtype=np.float32)
    np.add.at(summed, owners, piece_vectors)
    norms = np.linalg.norm(summed, axis=1, keepdims=True)
    return (summed / np.where(norms > 0, norms, 1.0)).astype("<f4")


def _release_freed_memory() -> None:
    """Hand the heap freed by a bulk load back to the system (glibc keeps it otherwise: ~1 GB at 100k chunks)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):
            pass


def _lower_thread_priority() -> None:
    """Background work yields the CPU to requests: on Linux a nice value is per thread (and inherited by the
    threads it starts); elsewhere this is a no-op."""
    if sys.platform.startswith("linux"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        except OSError:
            pass


def _placeholders(n: int) -> str:
    """``?, ?, ...``: an IN list of parameters is looked up through the primary key's index."""
    return ", ".join("?" * n)


def _recovery_hint(home: Path) -> str:
    from satchel.vault.backup import recovery_hint

    return recovery_hint(home)


def _doc(row: tuple[Any, ...]) -> Doc:
    return Doc(chunk_id=row[0], message_id=row[1], conversation_id=row[2], provider=row[3], role=row[4],
               created_at=float(row[5] or 0.0), text=row[6], position=row[7], prefix=row[8] or "")
