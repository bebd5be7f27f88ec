"""Hybrid retrieval over every chunk of the vault, held in memory by the vault owner.

Each chunk is a *row*. Per-row metadata lives in growable numpy arrays, so filters are boolean masks; keyword
postings (``keyword.py``) and vectors (``vectors.py``) are addressed by the same row ids. A search:

1. BM25 (b = 0.3, stemmed, stopwords dropped) over the chunk text plus its prefix at half weight (the store
   passes the previous message: a question gets indexed with its answer);
2. cosine over every row of the int8 vector matrix (``vectors.py``), when a query vector is given;
3. normalised score fusion on the union of both top-200 lists: BM25 divided by max(best BM25, half the score of
   an ideal match), cosine rescaled between 0.15 ("unrelated" for MiniLM) and the best cosine, averaged 50/50;
   a chunk not embedded yet is judged on keywords alone;
4. structure: + a share of the query's idf mass matched within 3 messages of the chunk (the answer two turns
   after the question still counts), + the mean of the conversation's 3 best similarities; a gentle recency
   prior; x1.3 inside the period a time expression names ("last May", "on 7 July, 2023");
5. a relevance floor: the query needs one convincing hit (rare query terms matched *and* a cosine of at least
   0.35 where a vector exists, or a cosine of at least 0.45), else []; then every hit needs an informative
   term or a cosine of 0.3, and a tenth of the best score;
6. neighbour expansion: the messages right before and after each of the 10 best hits get 0.6 of its score.

The weights were set on the LoCoMo dev split (bench/retrieval_locomo.py) and the floor on MiniLM cosines of
off-topic prompts; they are in ``RetrievalConfig``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from satchel.retrieve import text as textmod
from satchel.retrieve.keyword import KeywordIndex
from satchel.retrieve.timeparse import parse_time_expression
from satchel.retrieve.vectors import VectorMatrix

_POS_BITS = 24  # neighbour keys: conversation_id << 24 | position


def _member(values: np.ndarray, wanted: set[int]) -> np.ndarray:
    """``np.isin`` for a handful of ids without its sort: one comparison pass per id."""
    if len(wanted) > 16:
        return np.isin(values, np.fromiter(wanted, np.int64))
    out = np.zeros(values.size, bool)
    for value in wanted:
        out |= values == value
    return out


class _ChunkRows:
    """Chunk id → row, as an int32 array indexed by chunk id (ids are allocated densely by the vault): 4 bytes
    per id where a dict took ~100 bytes per entry (150 MB at a million chunks). -1: not indexed."""

    def __init__(self) -> None:
        self._row = np.full(1024, -1, np.int32)

    def rows(self, chunk_ids: np.ndarray) -> np.ndarray:
        out = np.full(chunk_ids.size, -1, np.int64)
        inside = (chunk_ids >= 0) & (chunk_ids < self._row.size)
        out[inside] = self._row[chunk_ids[inside]]
        return out

    def set(self, chunk_ids: np.ndarray, rows: np.ndarray) -> None:
        if chunk_ids.size == 0:
            return
        if int(chunk_ids.min()) < 0:
            raise ValueError("chunk ids are non-negative")
        top = int(chunk_ids.max())
        if top >= self._row.size:
            grown = np.full(max(top + 1, self._row.size * 2), -1, np.int32)
            grown[: self._row.size] = self._row
            self._row = grown
        self._row[chunk_ids] = rows

    def drop(self, chunk_ids: np.ndarray) -> None:
        chunk_ids = chunk_ids[(chunk_ids >= 0) & (chunk_ids < self._row.size)]
        self._row[chunk_ids] = -1


@dataclass(slots=True)
class Doc:
    chunk_id: int
    message_id: int
    conversation_id: int
    provider: str
    role: str
    created_at: float  # epoch seconds
    text: str  # chunk text
    position: int  # message ordinal within its conversation
    prefix: str = ""  # indexed with the chunk, never shown (the previous turn, a speaker name)


@dataclass(slots=True)
class Filters:
    providers: set[str] | None = None
    conversation_ids: set[int] | None = None
    exclude_conversation_ids: set[int] | None = None
    since: float | None = None
    until: float | None = None


@dataclass(slots=True)
class ScoredChunk:
    chunk_id: int
    message_id: int
    conversation_id: int
    score: float  # fused score (ranking order)
    keyword: float  # raw BM25
    vector: float  # raw cosine (0.0 when the chunk has no vector yet)


@dataclass(slots=True)
class RetrievalConfig:
    k1: float = 1.2
    b: float = 0.3
    prefix_weight: float = 0.5  # a prefix term counts this much of a chunk term
    keyword_weight: float = 0.5  # fused = kw * keyword_weight + vec * (1 - keyword_weight)
    cosine_unrelated: float = 0.15  # cosine rescaled from here (0) to the best candidate (1)
    context_vector_weight: float = 0.3  # boost by the conversation's best few similarities
    context_vector_top: int = 3
    keyword_ceiling_share: float = 0.5  # BM25 normalised by max(best, share * ideal score)
    candidates: int = 200  # per list, before fusion
    context_weight: float = 0.5  # boost by the share of query idf matched near the chunk ...
    context_window: int = 3  # ... within this many messages (0: anywhere in its conversation)
    recency_weight: float = 0.03  # multiplicative, 1 + w * 2^(-age / half life)
    recency_half_life_days: float = 90.0
    period_boost: float = 0.3  # multiplicative, inside the period a time expression names
    neighbour_weight: float = 0.6  # a neighbour of a top hit gets this share of the hit's score
    neighbour_hits: int = 10  # how many top hits lend their score to neighbours
    # relevance floor: the query needs one hit that clears these (else [])
    floor_idf_share: float = 0.3  # matched share of the query's idf mass (terms unknown to the vault count too)
    floor_df_share: float = 0.35  # only terms in at most this share of chunks count as matched ...
    floor_small_df: int = 3  # ... or in at most this many ...
    floor_min_chunks: int = 20  # ... and in a vault smaller than this every term counts
    floor_cosine_with_keyword: float = 0.35  # ... and, where the chunk has a vector, at least this cosine
    floor_cosine: float = 0.45  # or a cosine at least this high (MiniLM: off-topic prompts peak at 0.15-0.36)
    # every hit: an informative matched term ...
    hit_cosine: float = 0.3  # ... or a cosine at least this high
    hit_relative: float = 0.1  # ... and a fused score at least this share of the best
    mode: str = "hybrid"  # "hybrid" | "keyword" | "vector" (benchmarks)


class Retriever:
    """All chunks of the vault in memory. Not thread-safe: the vault owner serialises calls (its lock).

    ``add_documents`` makes chunks keyword-searchable at once (re-adding a chunk id replaces it);
    ``add_vectors`` attaches vectors later (unknown chunk ids are skipped); ``remove_messages`` drops postings,
    vectors and metadata, and terms no chunk uses leave the vocabulary. ``search`` returns at most ``k``
    ``ScoredChunk`` best first, possibly including neighbours of strong hits, and [] when nothing clears the
    floor. ``neighbours(chunk_id, radius)`` gives the chunk ids of adjacent messages. ``clock`` supplies "now"
    when ``search`` gets none.
    """

    def __init__(self, dim: int = 384, config: RetrievalConfig | None = None) -> None:
        self.dim = dim
        self.config = config or RetrievalConfig()
        self.keyword = KeywordIndex()
        self.vectors = VectorMatrix(dim)
        self.changes = 0  # bumped by every add or removal (the vault saves a snapshot when it moved)
        self._n = 0  # rows used (dead rows included)
        self._live = 0
        cap = 1024
        self._chunk = np.zeros(cap, np.int64)
        self._message = np.zeros(cap, np.int64)
        self._conv = np.zeros(cap, np.int64)
        self._provider = np.zeros(cap, np.int16)
        self._created = np.zeros(cap, np.float64)
        self._position = np.zeros(cap, np.int64)
        self._length = np.zeros(cap, np.float32)  # BM25 document length (prefix weighted)
        self._alive = np.zeros(cap, bool)
        self._length_sum = 0.0
        self._providers: dict[str, int] = {}
        self._row_of_chunk = _ChunkRows()
        # neighbour lookup: keys of rows < _nb_upto sorted once; later rows scanned
        self._nb_keys = np.zeros(0, np.int64)
        self._nb_rows = np.zeros(0, np.int64)
        self._nb_upto = 0
        self.clock = time.time  # "now" when search() gets none (benchmarks replay a past moment)

    # ------------------------------------------------------------------ sizes
    def __len__(self) -> int:
        return self._live

    def nbytes(self) -> int:
        per_row = sum(a.nbytes for a in (self._chunk, self._message, self._conv, self._provider, self._created,
                                          self._position, self._length, self._alive))
        return per_row + self.keyword.nbytes() + self.vectors.nbytes() + self._nb_keys.nbytes * 2

    def _ensure(self, n_rows: int) -> None:
        cap = self._chunk.size
        if n_rows > cap:
            new_cap = max(n_rows, cap * 2)
            for name in self._ROW_ARRAYS:
                old = getattr(self, name)
                new = np.zeros(new_cap, old.dtype)
                new[:cap] = old
                setattr(self, name, new)
        self.vectors.ensure(n_rows)

    # ------------------------------------------------------------------ writing
    def _weighted_terms(self, doc: Doc, analysed: dict[str, Counter[str]]) -> tuple[dict[str, float], float]:
        """Term weights of a chunk (its own terms 1, prefix terms ``prefix_weight``) and its BM25 length."""
        body = analysed.get(doc.text)
        if body is None:
            body = analysed[doc.text] = Counter(textmod.tokens(doc.text))
        terms: dict[str, float] = dict(body)
        length = float(body.total())
        pw = self.config.prefix_weight
        if doc.prefix and pw > 0:
            pre = analysed.get(doc.prefix)
            if pre is None:  # usually the previous message of the batch: analysed already
                pre = analysed[doc.prefix] = Counter(textmod.tokens(doc.prefix))
            for t, c in pre.items():
                terms[t] = terms.get(t, 0.0) + pw * c
            length += pw * pre.total()
        return terms, length

    def add_documents(self, docs: list[Doc]) -> None:
        """Index chunks; they are keyword-searchable when this returns. A known chunk id is replaced."""
        if not docs:
            return
        known = self._row_of_chunk.rows(np.fromiter((d.chunk_id for d in docs), np.int64, len(docs)))
        if (known >= 0).any():
            self._drop_rows(known[known >= 0])
        start = self._n
        self._ensure(start + len(docs))
        rows: list[int] = []
        weighted: list[dict[str, float]] = []
        analysed: dict[str, Counter[str]] = {}
        for i, doc in enumerate(docs):
            row = start + i
            if len(analysed) > 4096:
                analysed.clear()
            terms, length = self._weighted_terms(doc, analysed)
            pid = self._providers.setdefault(doc.provider, len(self._providers))
            self._chunk[row] = doc.chunk_id
            self._message[row] = doc.message_id
            self._conv[row] = doc.conversation_id
            self._provider[row] = pid
            self._created[row] = doc.created_at
            self._position[row] = doc.position
            self._length[row] = length
            self._alive[row] = True
            self._length_sum += length
            rows.append(row)
            weighted.append(terms)
        if len(docs) >= 256:
            self.keyword.add_bulk(rows, weighted)
        else:
            for row, terms in zip(rows, weighted, strict=True):
                self.keyword.add(row, terms)
        self._row_of_chunk.set(self._chunk[start : start + len(docs)], np.arange(start, start + len(docs)))
        self._n = start + len(docs)
        self._live += len(docs)
        self.changes += len(docs)

    def add_vectors(self, chunk_ids: list[int], vectors: np.ndarray) -> None:
        """Attach vectors (float32, L2-normalised) to known chunks; unknown (forgotten) chunk ids are skipped."""
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(chunk_ids), self.dim)
        rows = self._row_of_chunk.rows(np.asarray(chunk_ids, np.int64))
        known = rows >= 0
        if known.any():
            self.vectors.set(rows[known], vectors[known])

    def remove_messages(self, message_ids: Iterable[int]) -> None:
        """Forget every chunk of these messages: postings, vectors and metadata leave memory now."""
        ids = np.fromiter((int(m) for m in message_ids), np.int64)
        if ids.size == 0 or self._n == 0:
            return
        rows = np.flatnonzero(np.isin(self._message[: self._n], ids) & self._alive[: self._n])
        self._drop_rows(rows)

    def _drop_rows(self, rows: np.ndarray) -> None:
        if rows.size == 0:
            return
        dead = np.zeros(self._chunk.size, bool)
        dead[rows] = True
        self.keyword.remove_rows(dead)
        self.vectors.clear(rows)
        self._row_of_chunk.drop(self._chunk[rows])
        self._length_sum -= float(self._length[rows].sum())
        self._alive[rows] = False
        self._length[rows] = 0
        self._chunk[rows] = -1
        self._message[rows] = -1
        self._created[rows] = 0
        self._live -= int(rows.size)
        self.changes += int(rows.size)
        if self._live == 0:
            self._length_sum = 0.0
        if self._n - self._live > max(1024, self._n // 4):
            self._compact()

    def _compact(self) -> None:
        """Renumber the live rows densely (dead rows are left by forgetting and by edited messages)."""
        n = self._n
        keep = np.flatnonzero(self._alive[:n])
        new_of_old = np.full(max(self._chunk.size, 1), -1, np.int64)
        new_of_old[keep] = np.arange(keep.size)
        self.keyword.renumber_rows(new_of_old)
        vectors = VectorMatrix(self.dim, self.vectors.block_rows)
        vectors.ensure(keep.size)
        present = keep[self.vectors.present[keep]]
        for start in range(0, present.size, 65536):
            part = present[start:start + 65536]
            vectors.set_codes(new_of_old[part], *self.vectors.rows(part))
        self.vectors = vectors
        for name in self._ROW_ARRAYS:
            old = getattr(self, name)
            new = np.zeros(max(keep.size * 2, 1024), old.dtype)
            new[: keep.size] = old[keep]
            setattr(self, name, new)
        self._n = keep.size
        self._row_of_chunk = _ChunkRows()
        self._row_of_chunk.set(self._chunk[: keep.size], np.arange(keep.size))
        self._nb_keys = np.zeros(0, np.int64)
        self._nb_rows = np.zeros(0, np.int64)
        self._nb_upto = 0

    # ------------------------------------------------------------------ snapshots
    _ROW_ARRAYS = ("_chunk", "_message", "_conv", "_provider", "_created", "_position", "_length", "_alive")

    def state(self) -> dict[str, object]:
        """Everything but the vectors (DuckDB holds them), as arrays a snapshot writes; see ``snapshot.py``."""
        n = self._n
        rows = {name.lstrip("_"): getattr(self, name)[:n].copy() for name in self._ROW_ARRAYS}
        return {"rows": rows, "keyword": self.keyword.state(), "providers": dict(self._providers),
                "length_sum": self._length_sum, "live": self._live, "n": n}

    @classmethod
    def restore(cls, state: dict[str, object], dim: int = 384, config: RetrievalConfig | None = None) -> Retriever:
        r = cls(dim, config)
        n = int(state["n"])  # type: ignore[arg-type]
        r._ensure(n)
        rows: dict[str, np.ndarray] = state["rows"]  # type: ignore[assignment]
        for name in cls._ROW_ARRAYS:
            getattr(r, name)[:n] = rows[name.lstrip("_")]
        r._n = n
        r._live = int(state["live"])  # type: ignore[arg-type]
        r._length_sum = float(state["length_sum"])  # type: ignore[arg-type]
        r._providers = dict(state["providers"])  # type: ignore[arg-type]
        alive = r._alive[:n]
        r._row_of_chunk.set(r._chunk[:n][alive], np.flatnonzero(alive))
        kw: dict[str, object] = state["keyword"]  # type: ignore[assignment]
        r.keyword = KeywordIndex.restore(kw["terms"], kw["df"], kw["segments"])  # type: ignore[arg-type]
        return r

    def chunk_ids(self) -> np.ndarray:
        """Ids of the chunks indexed (live rows), sorted."""
        n = self._n
        return np.sort(self._chunk[:n][self._alive[:n]])

    def remove_chunks(self, chunk_ids: Iterable[int]) -> None:
        rows = self._row_of_chunk.rows(np.fromiter((int(c) for c in chunk_ids), np.int64))
        self._drop_rows(rows[rows >= 0])

    # ------------------------------------------------------------------ reading
    def _mask(self, filters: Filters | None) -> np.ndarray:
        n = self._n
        mask = self._alive[:n]
        if filters is None:
            return mask
        mask = mask.copy()
        if filters.providers is not None:
            allowed = np.zeros(len(self._providers) + 1, bool)
            allowed[[self._providers[p] for p in filters.providers if p in self._providers]] = True
            mask &= allowed[self._provider[:n]]
        if filters.conversation_ids is not None:
            mask &= _member(self._conv[:n], filters.conversation_ids)
        if filters.exclude_conversation_ids:
            mask &= ~_member(self._conv[:n], filters.exclude_conversation_ids)
        if filters.since is not None:
            mask &= self._created[:n] >= filters.since
        if filters.until is not None:
            mask &= self._created[:n] < filters.until
        return mask

    def _idf(self, df: np.ndarray | float) -> np.ndarray | float:
        n = max(self._live, 1)
        return np.log1p((n - df + 0.5) / (df + 0.5))

    def _bm25(self, terms: list[str]) -> tuple[np.ndarray, np.ndarray, float, list[tuple[np.ndarray, float]]]:
        """Dense BM25 per row, idf of the informative query terms each row matches, the query's idf mass, and
        each known term's (rows, idf)."""
        cfg = self.config
        n = self._n
        scores = np.zeros(n, np.float32)
        matched = np.zeros(n, np.float32)
        avgdl = self._length_sum / max(self._live, 1) or 1.0
        unknown_idf = float(self._idf(0.0))
        idf_mass = 0.0
        per_term: list[tuple[np.ndarray, float]] = []
        counts: dict[str, int] = {}
        for t in terms:
            counts[t] = counts.get(t, 0) + 1
        for term, qtf in counts.items():
            tid = self.keyword.lookup(term)
            if tid is None:
                idf_mass += unknown_idf
                continue
            rows, tf = self.keyword.postings(tid)
            if rows.size == 0:
                idf_mass += unknown_idf
                continue
            idf = float(self._idf(float(rows.size)))
            idf_mass += idf
            informative = (self._live < cfg.floor_min_chunks
                           or rows.size <= max(cfg.floor_small_df, cfg.floor_df_share * self._live))
            norm = cfg.k1 * (1.0 - cfg.b + cfg.b * self._length[rows] / avgdl)
            contrib = idf * tf * (cfg.k1 + 1.0) / (tf + norm)
            scores[rows] += contrib * (1.0 + 0.5 * (qtf - 1))
            if informative:
                matched[rows] += idf
            per_term.append((rows, idf))
        return scores, matched, idf_mass, per_term

    def search(self, query: str, query_vector: np.ndarray | None, k: int, filters: Filters | None = None,
               now: float | None = None, strict: bool = True) -> list[ScoredChunk]:
        """The best ``k`` chunks for ``query``, best first; only those above the relevance floor.

        ``strict=False`` is for a search the person typed: a literal match of the query's rare words is enough,
        where injected context (strict) also wants the meaning to agree."""
        cfg = self.config
        n = self._n
        if n == 0 or k <= 0 or self._live == 0:
            return []
        now = self.clock() if now is None else now
        mask = self._mask(filters)
        if not mask.any():
            return []

        period = parse_time_expression(query, now)
        # The time words stay in the keyword query: "May" or "summer" in the text is evidence too.
        terms = textmod.tokens(query) if cfg.mode != "vector" else []

        # ---- keyword
        bm25 = matched = None
        idf_mass = 0.0
        per_term: list[tuple[np.ndarray, float]] = []
        kw_rows = np.zeros(0, np.int64)
        if terms:
            bm25, matched, idf_mass, per_term = self._bm25(terms)
            kw_rows = np.flatnonzero(bm25 > 0)
            kw_rows = kw_rows[mask[kw_rows]]  # rows filtered out are never read again
            if kw_rows.size > cfg.candidates:
                part = np.argpartition(-bm25[kw_rows], cfg.candidates)[: cfg.candidates]
                kw_rows = kw_rows[part]

        # ---- vector
        cos = None
        vec_rows = np.zeros(0, np.int64)
        use_vec = query_vector is not None and cfg.mode != "keyword"
        if use_vec:
            q = np.asarray(query_vector, np.float32).reshape(self.dim)
            cos = self.vectors.cosines(q, n)
            usable = mask & self.vectors.present[:n]
            n_usable = int(np.count_nonzero(usable))
            c = min(cfg.candidates, n_usable)
            if c >= n_usable:
                vec_rows = np.flatnonzero(usable)
            elif n_usable == n:
                vec_rows = np.argpartition(cos, n - c)[n - c:]
            elif c > 0:
                # Only the usable rows: padding the others with a sentinel makes introselect crawl over ties.
                idx = np.flatnonzero(usable)
                vec_rows = idx[np.argpartition(cos[idx], idx.size - c)[idx.size - c:]]

        cand = np.union1d(kw_rows, vec_rows).astype(np.int64)
        if cand.size == 0:
            return []

        # ---- fusion
        kw_raw = bm25[cand] if bm25 is not None else np.zeros(cand.size)
        kw_best = float(kw_raw.max()) if kw_raw.size else 0.0
        kw_scale = kw_best
        if cfg.keyword_ceiling_share > 0 and terms:
            # Against the score a chunk matching every query term would get, so a weak best match stays weak.
            kw_scale = max(kw_best, cfg.keyword_ceiling_share * self._bm25_ceiling(terms))
        kw_norm = kw_raw / kw_scale if kw_best > 0 else np.zeros(cand.size)
        if cos is not None:
            cos_c = cos[cand].astype(np.float64)
            has_vec = self.vectors.present[cand]
            lo = cfg.cosine_unrelated
            hi = float(cos_c[has_vec].max()) if has_vec.any() else lo
            vec_norm = np.clip((cos_c - lo) / max(hi - lo, 1e-6), 0.0, 1.0)
        else:
            cos_c = np.zeros(cand.size)
            has_vec = np.zeros(cand.size, bool)
            vec_norm = np.zeros(cand.size)

        if cfg.mode == "keyword" or cos is None:
            fused = kw_norm.copy()
        elif cfg.mode == "vector" or kw_best == 0:
            fused = vec_norm.copy()
        else:
            w = cfg.keyword_weight
            # A chunk not embedded yet is judged on keywords alone rather than punished for the missing vector.
            fused = np.where(has_vec, w * kw_norm + (1 - w) * vec_norm, kw_norm)

        if cfg.context_weight > 0 and terms and idf_mass > 0:
            fused += cfg.context_weight * self._nearby_coverage(per_term, cand, mask, idf_mass)

        if cfg.context_vector_weight > 0 and cos is not None and cfg.mode == "hybrid":
            fused += cfg.context_vector_weight * self._conversation_similarity(cand, vec_norm, has_vec)

        # ---- priors
        if cfg.recency_weight > 0:
            age_days = np.maximum(now - self._created[cand], 0.0) / 86400.0
            fused *= 1.0 + cfg.recency_weight * np.exp2(-age_days / cfg.recency_half_life_days)
        if period is not None and cfg.period_boost > 0:
            since, until, _ = period
            inside = (self._created[cand] >= since) & (self._created[cand] < until)
            fused *= np.where(inside, 1.0 + cfg.period_boost, 1.0)

        # ---- relevance floor: the query must have one convincing hit, then each hit needs some evidence
        strong = np.zeros(cand.size, bool)
        weak = np.zeros(cand.size, bool)
        judged_by_vector = has_vec if (cos is not None and cfg.mode != "keyword") else np.zeros(cand.size, bool)
        if matched is not None and idf_mass > 0:
            m = matched[cand]
            keyword_strong = (m >= cfg.floor_idf_share * idf_mass) & (m > 0)
            # Words alone are weak evidence when the meaning is far off ("transformer" the film vs the model):
            # where a vector exists it must agree a little.
            agrees = ~judged_by_vector | (cos_c >= cfg.floor_cosine_with_keyword) if strict else True
            strong |= keyword_strong & agrees
            weak |= m > 0
        strong |= judged_by_vector & (cos_c >= cfg.floor_cosine)
        weak |= judged_by_vector & (cos_c >= cfg.hit_cosine)
        if cfg.mode != "hybrid":
            strong[:] = weak[:] = True  # benchmarks of the single signals rank everything they find
        if not strong.any():
            return []
        passes = weak | strong
        passes &= fused >= cfg.hit_relative * float(fused[passes].max())

        # ---- neighbour expansion
        if strict and cfg.neighbour_weight > 0 and passes.any():  # a typed search lists matches only
            cand, fused, passes, kw_raw, cos_c = self._expand(cand, fused, passes, kw_raw, cos_c, mask, bm25, cos)

        keep = np.flatnonzero(passes)
        if keep.size == 0:
            return []
        order = keep[np.argsort(-fused[keep], kind="stable")]
        order = order[:k]
        rows = cand[order]
        return [
            ScoredChunk(chunk_id=c, message_id=m, conversation_id=v, score=f, keyword=kw, vector=vc)
            for c, m, v, f, kw, vc in zip(self._chunk[rows].tolist(), self._message[rows].tolist(),
                                          self._conv[rows].tolist(), fused[order].tolist(),
                                          kw_raw[order].tolist(), cos_c[order].tolist(), strict=True)
        ]

    # ------------------------------------------------------------------ helpers
    def _bm25_ceiling(self, terms: list[str]) -> float:
        """BM25 of an average-length chunk holding each query term once."""
        k1 = self.config.k1
        total = 0.0
        for term in set(terms):
            tid = self.keyword.lookup(term)
            df = float(self.keyword.df[tid]) if tid is not None else 0.0
            total += float(self._idf(df))
        return total * (k1 + 1.0) / (1.0 + k1)

    def _conversation_similarity(self, cand: np.ndarray, vec_norm: np.ndarray, has_vec: np.ndarray) -> np.ndarray:
        """Mean of the best few normalised similarities in each candidate's conversation."""
        _, inverse = np.unique(self._conv[cand], return_inverse=True)
        scores = np.where(has_vec, vec_norm, 0.0)
        order = np.lexsort((-scores, inverse))
        grouped = inverse[order]
        starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
        rank = np.arange(order.size) - np.repeat(starts, np.diff(np.r_[starts, order.size]))
        top = self.config.context_vector_top
        sums = np.bincount(grouped[rank < top], weights=scores[order][rank < top], minlength=starts.size)
        return (sums / top)[inverse]

    def _nearby_coverage(self, per_term: list[tuple[np.ndarray, float]], cand: np.ndarray, mask: np.ndarray,
                         idf_mass: float) -> np.ndarray:
        """Share of the query's idf mass matched near each candidate: within ``context_window`` messages of it
        (0: anywhere in its conversation). Terms are marked in a scratch array, so the cost is linear in the
        postings touched, with no sorting."""
        window = self.config.context_window
        cover = np.zeros(cand.size, np.float64)
        if window > 0:
            group, rows = self._window_rows(cand, window)
        else:
            group, rows = np.arange(cand.size), cand
        scratch = np.zeros(self._n, bool)
        for term_rows, idf in per_term:
            live = term_rows[mask[term_rows]]
            if live.size == 0:
                continue
            if window > 0:
                scratch[live] = True
                hit = np.zeros(cand.size, bool)
                hit[group[scratch[rows]]] = True
                scratch[live] = False
            else:
                hit = np.isin(self._conv[cand], np.unique(self._conv[live]))
            cover[hit] += idf
        return cover / idf_mass

    def _window_rows(self, cand: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
        """All rows within ``window`` positions of each candidate (itself included): (candidate index, row)."""
        keys = (self._conv[cand] << _POS_BITS) | self._position[cand]
        return self._rows_in_key_ranges(keys - window, keys + window)

    def _refresh_neighbour_index(self) -> None:
        n = self._n
        if n - self._nb_upto > max(256, self._nb_upto // 8):
            all_keys = (self._conv[:n] << _POS_BITS) | self._position[:n]
            order = np.argsort(all_keys, kind="stable")
            self._nb_keys, self._nb_rows, self._nb_upto = all_keys[order], order, n

    def _rows_in_key_ranges(self, lo_keys: np.ndarray, hi_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows whose (conversation, position) key lies in [lo_keys[i], hi_keys[i]]: (i, row) pairs."""
        self._refresh_neighbour_index()
        lo = np.searchsorted(self._nb_keys, lo_keys, "left")
        hi = np.searchsorted(self._nb_keys, hi_keys, "right")
        lengths = hi - lo
        total = int(lengths.sum())
        idx = np.repeat(np.arange(lo_keys.size), lengths)
        starts = np.repeat(lo - (np.cumsum(lengths) - lengths), lengths)
        rows = self._nb_rows[starts + np.arange(total)] if total else np.zeros(0, np.int64)
        n = self._n
        if self._nb_upto < n:  # rows added since the last sort: few, scanned directly
            tail = (self._conv[self._nb_upto:n] << _POS_BITS) | self._position[self._nb_upto:n]
            inside = (tail[None, :] >= lo_keys[:, None]) & (tail[None, :] <= hi_keys[:, None])
            ti, tj = np.nonzero(inside)
            idx = np.concatenate([idx, ti])
            rows = np.concatenate([rows, tj + self._nb_upto])
        return idx.astype(np.int64), rows.astype(np.int64)

    def _neighbour_rows(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows whose (conversation, position) key is in ``keys``: (index into keys, row)."""
        return self._rows_in_key_ranges(keys, keys)

    def neighbours(self, chunk_id: int, radius: int = 1) -> list[int]:
        """Chunk ids of the messages within ``radius`` positions of this chunk's message (same conversation)."""
        row = int(self._row_of_chunk.rows(np.array([chunk_id], np.int64))[0])
        if row < 0:
            return []
        base = int(self._conv[row] << _POS_BITS | self._position[row])
        keys = np.array([base + d for d in range(-radius, radius + 1) if d != 0], np.int64)
        _, rows = self._neighbour_rows(keys)
        rows = rows[self._alive[rows]] if rows.size else rows
        return sorted(int(self._chunk[r]) for r in rows)

    def _expand(self, cand, fused, passes, kw_raw, cos_c, mask, bm25, cos):
        cfg = self.config
        top = np.flatnonzero(passes)
        top = top[np.argsort(-fused[top])][: cfg.neighbour_hits]
        base_keys = (self._conv[cand[top]] << _POS_BITS) | self._position[cand[top]]
        offsets = [1, -1]
        keys = np.concatenate([base_keys + d for d in offsets])
        src = np.concatenate([top for _ in offsets])
        ki, rows = self._neighbour_rows(keys)
        if rows.size == 0:
            return cand, fused, passes, kw_raw, cos_c
        ok = mask[rows]
        ki, rows = ki[ok], rows[ok]
        lent = cfg.neighbour_weight * fused[src[ki]]
        fused = fused.copy()
        passes = passes.copy()
        # cand is sorted (np.union1d): neighbours already among the candidates take the lent score if higher
        at = np.minimum(np.searchsorted(cand, rows), cand.size - 1)
        known = cand[at] == rows
        np.maximum.at(fused, at[known], lent[known])
        passes[at[known]] = True
        if (~known).any():
            new_rows, new_lent = rows[~known], lent[~known]
            order = np.lexsort((-new_lent, new_rows))
            new_rows, new_lent = new_rows[order], new_lent[order]
            first = np.r_[True, new_rows[1:] != new_rows[:-1]]  # best lent score per row
            er, es = new_rows[first], new_lent[first]
            cand = np.concatenate([cand, er])
            fused = np.concatenate([fused, es])
            passes = np.concatenate([passes, np.ones(er.size, bool)])
            kw_raw = np.concatenate([kw_raw, bm25[er] if bm25 is not None else np.zeros(er.size)])
            cos_c = np.concatenate([cos_c, cos[er] if cos is not None else np.zeros(er.size)])
        return cand, fused, passes, kw_raw, cos_c
