"""What users would pick instead of Satchel, fed the same chunks and the same vectors.

* ``ChromaPeer`` — Chroma 1.5.9 ``PersistentClient`` (HNSW, cosine), embeddings passed in, no embedding
  function (so nothing is downloaded and only storage and search are compared). Vector search only: Chroma's
  local API has no BM25 (``where_document`` is a substring filter, not a ranking).
* ``SqlitePeer`` — SQLite with ``sqlite-vec`` (``vec0``, exact cosine scan) + FTS5 (BM25), through ``apsw``
  (this Python's ``sqlite3`` cannot load extensions). Hybrid = one FTS5 query + one vec0 query, which is what
  ``llm``-style tools run.
* ``NumpyFloor`` — a float32 matrix in memory, ``M @ q`` + ``argpartition``: the floor of exact search.

Every peer: ``build(ids, texts, vectors)`` (timed by the caller), ``vector(q, k)``, ``disk_bytes()``;
``SqlitePeer`` also ``keyword(query, k)`` and ``hybrid(query, q, k)``.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import numpy as np


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


class NumpyFloor:
    name = "numpy"

    def build(self, ids: np.ndarray, texts: list[str], vectors: np.ndarray) -> None:
        self.ids = np.asarray(ids)
        self.matrix = np.ascontiguousarray(vectors, dtype=np.float32)

    def vector(self, q: np.ndarray, k: int = 10) -> list[int]:
        scores = self.matrix @ q
        top = np.argpartition(-scores, k)[:k]
        return self.ids[top[np.argsort(-scores[top])]].tolist()

    def disk_bytes(self) -> int:
        return self.matrix.nbytes

    def close(self) -> None:
        self.matrix = None


class ChromaPeer:
    name = "Chroma"

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="bench-chroma-", dir=root))

    def build(self, ids: np.ndarray, texts: list[str], vectors: np.ndarray) -> None:
        import chromadb

        self.client = chromadb.PersistentClient(path=str(self.root))
        self.col = self.client.create_collection(
            "satchel-bench", embedding_function=None, configuration={"hnsw": {"space": "cosine"}})
        step = min(5000, self.client.get_max_batch_size())
        for s in range(0, len(ids), step):
            self.col.add(ids=[str(int(i)) for i in ids[s : s + step]], embeddings=vectors[s : s + step],
                         documents=texts[s : s + step])

    def vector(self, q: np.ndarray, k: int = 10) -> list[int]:
        r = self.col.query(query_embeddings=q[None, :], n_results=k, include=["distances"])
        return [int(i) for i in r["ids"][0]]

    def disk_bytes(self) -> int:
        return _dir_bytes(self.root)

    def close(self) -> None:
        try:
            self.client.clear_system_cache()
        except Exception:
            pass
        shutil.rmtree(self.root, ignore_errors=True)


_FTS_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def fts5_query(text: str) -> str:
    """A user's words as an FTS5 OR-query (quoted, so punctuation and keywords cannot break the syntax)."""
    words = list(dict.fromkeys(w.lower() for w in _FTS_WORD.findall(text)))[:32]
    return " OR ".join(f'"{w}"' for w in words)


class SqlitePeer:
    name = "sqlite-vec+FTS5"

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="bench-sqlite-", dir=root))
        self.path = self.root / "peer.db"

    def build(self, ids: np.ndarray, texts: list[str], vectors: np.ndarray) -> None:
        import apsw
        import sqlite_vec

        conn = apsw.Connection(str(self.path))
        conn.enable_load_extension(True)
        conn.load_extension(sqlite_vec.loadable_path())
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"CREATE VIRTUAL TABLE vec USING vec0(embedding float[{vectors.shape[1]}] distance_metric=cosine)")
        conn.execute("CREATE VIRTUAL TABLE fts USING fts5(text)")
        step = 10_000
        for s in range(0, len(ids), step):
            with conn:
                conn.executemany("INSERT INTO vec(rowid, embedding) VALUES (?, ?)",
                                 [(int(i), v.tobytes()) for i, v in zip(ids[s : s + step], vectors[s : s + step], strict=True)])
                conn.executemany("INSERT INTO fts(rowid, text) VALUES (?, ?)",
                                 list(zip((int(i) for i in ids[s : s + step]), texts[s : s + step], strict=True)))
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn = conn

    def vector(self, q: np.ndarray, k: int = 10) -> list[int]:
        rows = self.conn.execute("SELECT rowid FROM vec WHERE embedding MATCH ? AND k = ?",
                                 (np.asarray(q, np.float32).tobytes(), k))
        return [r[0] for r in rows]

    def keyword(self, query: str, k: int = 10) -> list[int]:
        match = fts5_query(query)
        if not match:
            return []
        rows = self.conn.execute("SELECT rowid FROM fts WHERE fts MATCH ? ORDER BY rank LIMIT ?", (match, k))
        return [r[0] for r in rows]

    def hybrid(self, query: str, q: np.ndarray, k: int = 10) -> list[int]:
        kw = self.keyword(query, k)
        vec = self.vector(q, k)
        return list(dict.fromkeys(kw + vec))[:k]

    def disk_bytes(self) -> int:
        return _dir_bytes(self.root)

    def close(self) -> None:
        self.conn.close()
        shutil.rmtree(self.root, ignore_errors=True)
