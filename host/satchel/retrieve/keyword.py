"""BM25 over an in-memory inverted index with numpy postings.

Postings live in a few immutable CSR segments (term offsets + row ids + term weights) plus a small write buffer of
Python lists, so a new chunk is searchable the moment it is added. When the buffer fills it becomes a segment;
segments of similar size are merged (a binary-counter policy), which keeps the segment count logarithmic and the
amortised cost per posting small. Removal filters postings out immediately, and terms no document uses any more
leave the vocabulary: forgotten text leaves no trace in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BUFFER_POSTINGS = 50_000


@dataclass(slots=True)
class _Segment:
    offsets: np.ndarray  # int64 (n_terms_at_build + 1,)
    rows: np.ndarray  # int32
    weights: np.ndarray  # uint8 half-units of term frequency (prefix occurrences count half): 5 bytes a posting

    def __len__(self) -> int:
        return int(self.rows.size)

    def postings(self, term: int) -> tuple[np.ndarray, np.ndarray] | None:
        if term + 1 >= self.offsets.size:
            return None
        lo, hi = self.offsets[term], self.offsets[term + 1]
        if lo == hi:
            return None
        return self.rows[lo:hi], self.weights[lo:hi]

    def coo(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        terms = np.repeat(np.arange(self.offsets.size - 1, dtype=np.int32), np.diff(self.offsets))
        return terms, self.rows, self.weights


def _units(weights: np.ndarray) -> np.ndarray:
    """Term weights as uint8 half-units: exact for counts plus half-weighted prefix counts up to 127.5, where
    BM25 has long saturated (k1 = 1.2)."""
    return np.minimum(np.rint(np.asarray(weights, np.float32) * 2), 255).astype(np.uint8)


def _build(terms: np.ndarray, rows: np.ndarray, units: np.ndarray, n_terms: int) -> _Segment:
    order = np.argsort(terms, kind="stable")
    counts = np.bincount(terms, minlength=n_terms)
    offsets = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return _Segment(offsets, rows[order].astype(np.int32), units[order].astype(np.uint8))


class KeywordIndex:
    """Term postings keyed by integer term ids; rows are owned by the caller."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self._term_of: list[str | None] = []  # id -> term
        self._free_ids: list[int] = []
        self.df = np.zeros(1024, dtype=np.int32)  # live postings per term id
        self._segments: list[_Segment] = []
        self._buf: dict[int, tuple[list[int], list[float]]] = {}
        self._buf_size = 0

    # -- vocabulary -------------------------------------------------------------------------------------------
    def _term_id(self, term: str) -> int:
        tid = self.vocab.get(term)
        if tid is None:
            if self._free_ids:
                tid = self._free_ids.pop()
                self._term_of[tid] = term
            else:
                tid = len(self._term_of)
                self._term_of.append(term)
            self.vocab[term] = tid
            if tid >= self.df.size:
                self.df = np.concatenate([self.df, np.zeros(self.df.size, dtype=np.int32)])
        return tid

    @property
    def n_term_ids(self) -> int:
        return len(self._term_of)

    def lookup(self, term: str) -> int | None:
        return self.vocab.get(term)

    # -- writing ----------------------------------------------------------------------------------------------
    def add(self, row: int, weighted_terms: dict[str, float]) -> None:
        for term, weight in weighted_terms.items():
            tid = self._term_id(term)
            entry = self._buf.get(tid)
            if entry is None:
                self._buf[tid] = ([row], [weight])
            else:
                entry[0].append(row)
                entry[1].append(weight)
            self.df[tid] += 1
        self._buf_size += len(weighted_terms)
        if self._buf_size >= BUFFER_POSTINGS:
            self.flush()

    def add_bulk(self, rows: list[int], docs: list[dict[str, float]]) -> None:
        """Many documents at once: straight into a segment (start-up load), skipping the Python buffer."""
        all_terms = [t for d in docs for t in d]
        if not all_terms:
            return
        vocab = self.vocab
        for term in set(all_terms).difference(vocab):
            self._term_id(term)
        terms_arr = np.fromiter((vocab[t] for t in all_terms), np.int32, len(all_terms))
        weights = np.fromiter((w for d in docs for w in d.values()), np.float32, len(all_terms))
        rows_arr = np.repeat(np.asarray(rows, np.int32), [len(d) for d in docs])
        self.df[: self.n_term_ids] += np.bincount(terms_arr, minlength=self.n_term_ids).astype(np.int32)
        self._push(_build(terms_arr, rows_arr, _units(weights), self.n_term_ids))

    def flush(self) -> None:
        if not self._buf:
            return
        t_ids, r_ids, ws = [], [], []
        for tid, (rows, weights) in self._buf.items():
            t_ids.extend([tid] * len(rows))
            r_ids.extend(rows)
            ws.extend(weights)
        self._buf.clear()
        self._buf_size = 0
        self._push(_build(np.asarray(t_ids, dtype=np.int32), np.asarray(r_ids, dtype=np.int32),
                          _units(np.asarray(ws, dtype=np.float32)), self.n_term_ids))

    def _push(self, seg: _Segment) -> None:
        self._segments.append(seg)
        while len(self._segments) >= 2 and len(self._segments[-1]) * 2 >= len(self._segments[-2]):
            b = self._segments.pop()
            a = self._segments.pop()
            self._segments.append(self._merge([a, b]))

    def _merge(self, segs: list[_Segment]) -> _Segment:
        parts = [s.coo() for s in segs]
        return _build(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                      np.concatenate([p[2] for p in parts]), self.n_term_ids)

    def remove_rows(self, dead: np.ndarray) -> None:
        """Drop every posting whose row is flagged in the boolean array ``dead`` (indexed by row)."""
        touched: list[np.ndarray] = []
        new_segments = []
        for seg in self._segments:
            keep = ~dead[seg.rows]
            if keep.all():
                new_segments.append(seg)
                continue
            terms, rows, weights = seg.coo()
            gone_terms = terms[~keep]
            self.df[: self.n_term_ids] -= np.bincount(gone_terms, minlength=self.n_term_ids).astype(np.int32)
            touched.append(np.unique(gone_terms))
            if keep.any():
                new_segments.append(_build(terms[keep], rows[keep], weights[keep], self.n_term_ids))
        self._segments = new_segments
        for tid in list(self._buf):
            rows, weights = self._buf[tid]
            kept = [(r, w) for r, w in zip(rows, weights, strict=True) if not dead[r]]
            gone = len(rows) - len(kept)
            if gone:
                self.df[tid] -= gone
                self._buf_size -= gone
                touched.append(np.array([tid]))
                if kept:
                    self._buf[tid] = ([r for r, _ in kept], [w for _, w in kept])
                else:
                    del self._buf[tid]
        # Terms nobody uses any more leave the vocabulary (their ids are reused).
        if touched:
            for tid in np.unique(np.concatenate(touched)).tolist():
                term = self._term_of[tid]
                if self.df[tid] <= 0 and term is not None:
                    del self.vocab[term]
                    self._term_of[tid] = None
                    self.df[tid] = 0
                    self._free_ids.append(tid)

    def renumber_rows(self, new_of_old: np.ndarray) -> None:
        """Map every posting's row through ``new_of_old`` (dead rows must already be removed)."""
        for seg in self._segments:
            seg.rows = new_of_old[seg.rows].astype(np.int32)
        for tid, (rows, weights) in self._buf.items():
            self._buf[tid] = (new_of_old[np.asarray(rows, np.int64)].tolist(), weights)

    # -- snapshots --------------------------------------------------------------------------------------------
    def state(self) -> dict[str, object]:
        """What a snapshot needs: the vocabulary and the immutable segments (the buffer is flushed first).
        Segments are never written in place, so the arrays can be saved after the caller releases its lock."""
        self.flush()
        return {"terms": list(self._term_of), "df": self.df[: self.n_term_ids].copy(),
                "segments": [(s.offsets, s.rows, s.weights) for s in self._segments]}

    @classmethod
    def restore(cls, terms: list[str | None], df: np.ndarray,
                segments: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> KeywordIndex:
        """An index over saved segments (read-only arrays, e.g. memory-mapped: merges and removals copy)."""
        index = cls()
        index._term_of = list(terms)
        index.vocab = {t: i for i, t in enumerate(terms) if t is not None}
        index._free_ids = [i for i, t in enumerate(terms) if t is None]
        index.df = np.zeros(max(1024, len(terms) * 2), np.int32)
        index.df[: len(terms)] = df
        index._segments = [_Segment(o, r, w) for o, r, w in segments]
        return index

    # -- reading ----------------------------------------------------------------------------------------------
    def postings(self, tid: int) -> tuple[np.ndarray, np.ndarray]:
        rows_parts, w_parts = [], []
        for seg in self._segments:
            p = seg.postings(tid)
            if p is not None:
                rows_parts.append(p[0])
                w_parts.append(p[1] * np.float32(0.5))
        entry = self._buf.get(tid)
        if entry is not None:
            rows_parts.append(np.asarray(entry[0], dtype=np.int32))
            w_parts.append(np.asarray(entry[1], dtype=np.float32))
        if not rows_parts:
            return np.zeros(0, np.int32), np.zeros(0, np.float32)
        if len(rows_parts) == 1:
            return rows_parts[0], w_parts[0]
        return np.concatenate(rows_parts), np.concatenate(w_parts)

    def n_postings(self) -> int:
        return sum(len(s) for s in self._segments) + self._buf_size

    def nbytes(self) -> int:
        return sum(s.offsets.nbytes + s.rows.nbytes + s.weights.nbytes for s in self._segments) + self.df.nbytes
