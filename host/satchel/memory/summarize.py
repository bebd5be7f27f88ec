"""Extractive summaries of a session or a conversation: no language model needed.

Each sentence becomes a TF-IDF vector (sublinear tf, smoothed idf, stems without stop words). Its
*centrality* is its mean cosine to the other sentences (LexRank's degree form): a sentence that shares
vocabulary with much of the text is about what the text is about. Sentences are then picked by MMR
(maximal marginal relevance: centrality minus redundancy with what is already picked) until the character
budget is used, and printed in their original order. Deterministic: ties go to the earlier sentence.

With an `LLMClient` the summary is asked of the local model instead; any failure falls back to this.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from satchel.memory.text import content_stems, split_sentences

if TYPE_CHECKING:
    from satchel.memory.llm_client import LLMClient

log = logging.getLogger("satchel.memory")

SESSION_MAX_CHARS = 300
CONVERSATION_MAX_CHARS = 600
MMR_LAMBDA = 0.7
# Questions set the topic of a chat; answers repeat them at length. A mild boost keeps the topic in view.
USER_WEIGHT = 1.2
MIN_SENTENCE_CHARS = 20
MAX_SENTENCE_CHARS = 280
# A sentence this similar to one already picked adds nothing, whatever its centrality.
MAX_REDUNDANCY = 0.7
MAX_SENTENCES = 800  # beyond this, later sentences of a very long conversation are sampled evenly

# Conversational filler that is central by accident (it shares words with everything) and says nothing.
_FILLER = re.compile(
    r"^(?:sure|certainly|of course|great question|good question|absolutely|thanks|thank you|you're welcome|"
    r"hope this helps|let me know|i hope|feel free|happy to help|here(?:'s| is| are)\b[^.]{0,40}:$|okay|ok)\b",
    re.I,
)


# Reactions ("Wow, that's great!") share words with everything around them but report nothing.
_REACTION = re.compile(
    r"^(?:wow|yeah|yes|yep|haha+|lol|aww+|omg|oh|ooh|cool|nice|awesome|great|amazing|congrats|congratulations|"
    r"thanks|thank you|hey|hi|hello)\b",
    re.I,
)
REACTION_WEIGHT = 0.6


@dataclass(frozen=True, slots=True)
class Utterance:
    role: str
    text: str


@dataclass(frozen=True, slots=True)
class _Sentence:
    index: int
    text: str
    weight: float


def _sentences(utterances: Sequence[Utterance | tuple[str, str]]) -> list[_Sentence]:
    out: list[_Sentence] = []
    seen: set[str] = set()
    for u in utterances:
        role, text = (u.role, u.text) if isinstance(u, Utterance) else u
        weight = USER_WEIGHT if role == "user" else 1.0
        for s in split_sentences(text or ""):
            if len(s) < MIN_SENTENCE_CHARS or _FILLER.match(s):
                continue
            if len(s) > MAX_SENTENCE_CHARS:
                cut = s[:MAX_SENTENCE_CHARS].rsplit(" ", 1)[0]
                s = cut.rstrip(",;:") + "…"
            key = " ".join(s.lower().split())
            if key in seen:  # a repeated sentence would vouch for itself
                continue
            seen.add(key)
            out.append(_Sentence(len(out), s, weight * (REACTION_WEIGHT if _REACTION.match(s) else 1.0)))
    if len(out) > MAX_SENTENCES:
        step = len(out) / MAX_SENTENCES
        out = [out[int(i * step)] for i in range(MAX_SENTENCES)]
    return out


def _tfidf(sentences: Sequence[_Sentence]) -> tuple[np.ndarray, np.ndarray]:
    """Row-normalised TF-IDF vectors, and each sentence's information: the summed idf of its distinct terms."""
    bags = [Counter(content_stems(s.text)) for s in sentences]
    df: Counter[str] = Counter()
    for bag in bags:
        df.update(bag.keys())
    vocab = {term: i for i, term in enumerate(sorted(df))}
    n = len(sentences)
    idf = {term: math.log((1 + n) / (1 + count)) + 1.0 for term, count in df.items()}
    matrix = np.zeros((n, max(len(vocab), 1)), dtype=np.float32)
    information = np.zeros(n, dtype=np.float32)
    for row, bag in enumerate(bags):
        for term, tf in bag.items():
            matrix[row, vocab[term]] = (1.0 + math.log(tf)) * idf[term]
            information[row] += idf[term]
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return matrix / norms, information


def rank_sentences(sentences: Sequence[str]) -> list[float]:
    """Centrality of each sentence (mean cosine to the others), for tests and diagnostics."""
    items = [_Sentence(i, s, 1.0) for i, s in enumerate(sentences)]
    if len(items) < 2:
        return [1.0] * len(items)
    vectors, _ = _tfidf(items)
    sim = vectors @ vectors.T
    np.fill_diagonal(sim, 0.0)
    return [float(x) for x in sim.sum(axis=1) / (len(items) - 1)]


def extractive_summary(
    utterances: Sequence[Utterance | tuple[str, str]], max_chars: int, *, mmr_lambda: float = MMR_LAMBDA
) -> str:
    """The most central, least redundant sentences, in text order, within `max_chars`."""
    sentences = _sentences(utterances)
    if not sentences or max_chars <= 0:
        return ""
    if len(sentences) == 1:
        return _fit(sentences[0].text, max_chars)
    vectors, information = _tfidf(sentences)
    sim = vectors @ vectors.T
    np.fill_diagonal(sim, 0.0)
    centrality = sim.sum(axis=1) / (len(sentences) - 1)
    # Centrality alone favours generic sentences ("that's awesome, thanks!") that share a common word with
    # everything; weighting by information (summed idf, i.e. how many specific terms) favours the ones that
    # say something.
    centrality = np.sqrt(centrality * information) * np.array([s.weight for s in sentences], dtype=np.float32)
    top = float(centrality.max())
    if top > 0:
        centrality /= top
    chosen: list[int] = []
    used = 0
    available = set(range(len(sentences)))
    while available:
        best, best_score = -1, -math.inf
        for i in sorted(available):
            redundancy = float(sim[i, chosen].max()) if chosen else 0.0
            score = mmr_lambda * float(centrality[i]) - (1 - mmr_lambda) * redundancy
            if score > best_score + 1e-9:
                best, best_score = i, score
        available.discard(best)
        if chosen and float(sim[best, chosen].max()) >= MAX_REDUNDANCY:
            continue
        cost = len(sentences[best].text) + (1 if chosen else 0)
        if used + cost <= max_chars:
            chosen.append(best)
            used += cost
        elif not chosen:
            return _fit(sentences[best].text, max_chars)
        if max_chars - used < MIN_SENTENCE_CHARS:
            break
    return " ".join(sentences[i].text for i in sorted(chosen))


def _fit(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    return text[: max(max_chars - 1, 0)].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def summarize(
    utterances: Sequence[Utterance | tuple[str, str]],
    max_chars: int,
    *,
    llm: LLMClient | None = None,
) -> str:
    """A summary within `max_chars`: from the local model when one is configured and answers, else extractive."""
    if llm is not None:
        from satchel.memory.llm_client import LLMError

        try:
            text = llm.summarize([(u.role, u.text) if isinstance(u, Utterance) else u for u in utterances], max_chars)
            if text.strip():
                return _fit(" ".join(text.split()), max_chars)
        except LLMError as exc:
            log.info("local model summary failed, using the extractive one: %s", exc)
    return extractive_summary(utterances, max_chars)


def summarize_session(
    utterances: Sequence[Utterance | tuple[str, str]],
    max_chars: int = SESSION_MAX_CHARS,
    *,
    llm: LLMClient | None = None,
) -> str:
    return summarize(utterances, max_chars, llm=llm)


def summarize_conversation(
    utterances: Sequence[Utterance | tuple[str, str]],
    max_chars: int = CONVERSATION_MAX_CHARS,
    *,
    llm: LLMClient | None = None,
) -> str:
    return summarize(utterances, max_chars, llm=llm)


__all__ = [
    "CONVERSATION_MAX_CHARS",
    "SESSION_MAX_CHARS",
    "Utterance",
    "extractive_summary",
    "rank_sentences",
    "summarize",
    "summarize_conversation",
    "summarize_session",
]
