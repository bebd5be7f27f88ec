"""Fold newly extracted candidates into the memories already kept: link, merge, supersede or add.

For each candidate, in the order it was observed:

1. **Exact duplicate** (same text once normalised) of a kept memory → only a source link is added.
2. **Near duplicate** → merged into the kept memory (source link; its text is replaced by the candidate's
   when the candidate says strictly more, e.g. "Works at Acme" → "Works at Acme as a nurse"). Near means
   *both* tests pass:
   * embedding cosine ≥ `COSINE_MIN` (the wording means the same), and
   * lexical: the content words of one are (nearly) contained in the other's, `CONTAINMENT_MIN`, and no
     number differs. This is the test that keeps "Lives in Paris" and "Lives in Lyon" apart: they embed
     close together (≈0.8) but each has a content word the other lacks, so the value changed.
3. **Same key, different value** → supersession: the newer memory becomes active, the older one gets
   `status = "superseded"`, `valid_to` = when the newer one was stated, `superseded_by` = the newer one.
   Nothing is deleted, so the history stays queryable ("where did I live in 2023?"). A candidate older than
   the kept memory (an import of old chats) is stored directly as history, superseded by the kept one.
   A pinned memory is never superseded automatically: the conflict is reported instead (a memory the person
   writes themselves, `origin == "user"`, does supersede it).
4. Otherwise the candidate is **added**.

Memories the person deleted suppress their duplicates, so re-extraction does not bring them back (unless the
person writes the memory again themselves).
Pure: the caller loads memories, passes an `embed` function (`satchel.embed.get_embedder().embed`) and
applies the returned `Plan` in one transaction, allocating ids for `Plan.new` (see `Plan.resolve`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache

import numpy as np

from satchel.memory.extract import Candidate
from satchel.memory.text import content_stems, words, wordset

# Measured on tests/host/test_memory_consolidate.py's labelled pairs with all-MiniLM-L6-v2 (see docs/MEMORY.md).
COSINE_MIN = 0.75
CONTAINMENT_MIN = 0.9

Embed = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True, slots=True)
class Memory:
    """A row of `memories` with its source message ids."""

    id: int
    kind: str
    key: str | None
    text: str
    status: str = "active"  # active | superseded | deleted
    pinned: bool = False
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    superseded_by: int | None = None
    origin: str = "extracted"  # extracted | user | llm
    message_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class NewMemory:
    ref: int  # negative until `Plan.resolve` gives it a real id
    kind: str
    key: str | None
    text: str
    origin: str
    valid_from: datetime | None
    message_ids: tuple[int, ...]
    status: str = "active"
    valid_to: datetime | None = None
    superseded_by: int | None = None  # a real id or another ref


@dataclass(frozen=True, slots=True)
class Supersession:
    old_id: int
    new_id: int  # a real id or a ref
    valid_to: datetime | None


@dataclass(frozen=True, slots=True)
class Decision:
    """Why each candidate went where it went (for logs, tests and the dedup figures in the docs)."""

    candidate: Candidate
    action: str  # link | merge | supersede | history | add | conflict_pinned | suppressed_deleted
    memory_id: int | None  # the kept memory involved (or the ref of the new one)
    cosine: float | None = None
    containment: float | None = None


@dataclass
class Plan:
    """What to write, in one transaction: INSERT `new` (rows in their final state, with their sources),
    then UPDATE the existing rows named in `superseded`, `text_updates` and `links`.

    Only `new` and `decisions` mention refs (negative ids); `superseded[].new_id` may be a ref too.
    """

    new: list[NewMemory] = field(default_factory=list)
    links: list[tuple[int, int]] = field(default_factory=list)  # (existing memory id, message id)
    superseded: list[Supersession] = field(default_factory=list)  # existing rows that stop being active
    text_updates: list[tuple[int, str]] = field(default_factory=list)  # (existing memory id, new text)
    decisions: list[Decision] = field(default_factory=list)

    def _new(self, ref: int) -> int:
        return next(i for i, m in enumerate(self.new) if m.ref == ref)

    def add_link(self, memory_id: int, message_id: int) -> None:
        if memory_id < 0:
            i = self._new(memory_id)
            self.new[i] = replace(self.new[i], message_ids=(*self.new[i].message_ids, message_id))
        else:
            self.links.append((memory_id, message_id))

    def update_text(self, memory_id: int, text: str) -> None:
        if memory_id < 0:
            i = self._new(memory_id)
            self.new[i] = replace(self.new[i], text=text)
        else:
            self.text_updates.append((memory_id, text))

    def supersede(self, old_id: int, new_id: int, valid_to: datetime | None) -> None:
        if old_id < 0:
            i = self._new(old_id)
            self.new[i] = replace(self.new[i], status="superseded", valid_to=valid_to, superseded_by=new_id)
        else:
            self.superseded.append(Supersession(old_id, new_id, valid_to))

    def resolve(self, first_id: int) -> Plan:
        """The same plan with refs -1, -2, … replaced by first_id, first_id + 1, … (allocate len(new) ids)."""
        mapping = {m.ref: first_id + i for i, m in enumerate(self.new)}

        def real(x: int | None) -> int | None:
            return mapping.get(x, x) if x is not None else None

        return Plan(
            new=[replace(m, ref=mapping[m.ref], superseded_by=real(m.superseded_by)) for m in self.new],
            links=[(real(a), b) for a, b in self.links],  # type: ignore[misc]
            superseded=[replace(s, new_id=real(s.new_id)) for s in self.superseded],  # type: ignore[arg-type]
            text_updates=[(real(a), t) for a, t in self.text_updates],  # type: ignore[misc]
            decisions=[replace(d, memory_id=real(d.memory_id)) for d in self.decisions],
        )


# ---------------------------------------------------------------------------------------------------
# The two similarity tests

_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def normalise_text(text: str) -> str:
    return " ".join(words(text))


_NEGATIONS = wordset(
    """
no not never none nobody nothing neither nor don't doesn't didn't isn't aren't wasn't weren't won't can't
cannot shouldn't wouldn't dont doesnt didnt isnt arent cant wont without stop avoid
"""
)
# Runs of capitalised words after the first word: the names, places and products a memory is about.
_ENTITY = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][\w'’\-]*(?:\s+[A-Z][\w'’\-]*)*")


@dataclass(frozen=True, slots=True)
class _Features:
    stems: tuple[str, ...]
    stem_set: frozenset[str]
    numbers: frozenset[str]
    negated: bool
    entities: frozenset[str]


@lru_cache(maxsize=20_000)
def _features(text: str) -> _Features:
    stems = tuple(content_stems(text))
    return _Features(
        stems,
        frozenset(stems),
        frozenset(_NUMBER.findall(text)),
        bool(set(words(text)) & _NEGATIONS),
        frozenset(m.group().lower() for m in _ENTITY.finditer(text.strip())),
    )


def lexical_containment(a: str, b: str) -> float:
    """|A ∩ B| / min(|A|, |B|) over content stems: 1.0 when one says everything the other says."""
    sa, sb = _features(a).stem_set, _features(b).stem_set
    if not sa or not sb:
        return 0.0
    return len(sa & sb) / min(len(sa), len(sb))


def same_value(a: str, b: str) -> tuple[bool, float]:
    """The lexical half of the near-duplicate test, and the containment it measured.

    Beyond containment, four cheap checks catch a changed value that shares most words: a number differs
    ("34" / "35"), one side is negated ("use emojis" / "don't use emojis"), a named entity of the shorter is
    not an entity of the longer ("York" / "New York"; "Paris" / "Paris, France" passes), or the same words
    come in another order ("tabs over spaces" / "spaces over tabs").
    """
    containment = lexical_containment(a, b)
    if containment < CONTAINMENT_MIN:
        return False, containment
    fa, fb = _features(a), _features(b)
    if fa.numbers != fb.numbers or fa.negated != fb.negated:
        return False, containment
    small, large = sorted((fa.entities, fb.entities), key=len)
    if not small <= large:
        return False, containment
    if fa.stem_set == fb.stem_set and fa.stems != fb.stems and len(fa.stems) == len(fa.stem_set):
        return False, containment
    return True, containment


def _says_more(new: str, old: str) -> bool:
    return _features(old).stem_set < _features(new).stem_set


class _Vectors:
    """Embeds each distinct text once per consolidation, and only when a lexical test already passed."""

    def __init__(self, embed: Embed, known: dict[str, np.ndarray] | None = None) -> None:
        self._embed = embed
        self._cache: dict[str, np.ndarray] = dict(known or {})

    def cosine(self, a: str, b: str) -> float:
        missing = [t for t in dict.fromkeys((a, b)) if t not in self._cache]
        if missing:
            vecs = np.asarray(self._embed(missing), dtype=np.float32)
            for t, v in zip(missing, vecs, strict=True):
                norm = float(np.linalg.norm(v))
                self._cache[t] = v / norm if norm > 0 else v
        return float(np.dot(self._cache[a], self._cache[b]))


def is_near_duplicate(a: str, b: str, embed: Embed) -> tuple[bool, float, float]:
    """(near-duplicate?, cosine, containment) for two memory texts."""
    ok, containment = same_value(a, b)
    cosine = _Vectors(embed).cosine(a, b)
    return ok and cosine >= COSINE_MIN, cosine, containment


# ---------------------------------------------------------------------------------------------------
# Consolidation


@dataclass
class _Kept:
    id: int  # real id or ref
    kind: str
    key: str | None
    text: str
    status: str
    pinned: bool
    origin: str
    valid_from: datetime | None
    valid_to: datetime | None
    message_ids: set[int]


class _KeptIndex:
    """Kept memories looked up by normalised text, by content stem and by key, so that each candidate is
    compared only with the few memories it could match (thousands of memories, tens of candidates)."""

    def __init__(self) -> None:
        self.all: list[_Kept] = []
        self._by_norm: dict[str, list[_Kept]] = {}
        self._by_stem: dict[str, list[_Kept]] = {}
        self._by_key: dict[str, list[_Kept]] = {}

    def add(self, k: _Kept) -> None:
        self.all.append(k)
        self._by_norm.setdefault(normalise_text(k.text), []).append(k)
        for st in _features(k.text).stem_set:
            self._by_stem.setdefault(st, []).append(k)
        if k.key:
            self._by_key.setdefault(k.key, []).append(k)

    def retext(self, k: _Kept, text: str) -> None:
        self._by_norm.get(normalise_text(k.text), []).remove(k)
        k.text = text
        self._by_norm.setdefault(normalise_text(text), []).append(k)
        for st in _features(text).stem_set:
            if k not in self._by_stem.setdefault(st, []):
                self._by_stem[st].append(k)

    def exact(self, text: str) -> list[_Kept]:
        return list(self._by_norm.get(normalise_text(text), ()))

    def sharing_words(self, text: str) -> list[_Kept]:
        seen: dict[int, _Kept] = {}
        for st in _features(text).stem_set:
            for k in self._by_stem.get(st, ()):
                seen.setdefault(id(k), k)
        return list(seen.values())

    def with_key(self, key: str | None) -> list[_Kept]:
        return list(self._by_key.get(key, ())) if key else []


def _link(
    plan: Plan, cand: Candidate, target: _Kept, action: str, cos: float | None = None, cont: float | None = None
) -> None:
    for mid in cand.message_ids:
        if mid not in target.message_ids:
            target.message_ids.add(mid)
            plan.add_link(target.id, mid)
    plan.decisions.append(Decision(cand, action, target.id, cos, cont))


def _before(a: datetime | None, b: datetime | None) -> bool:
    """a strictly before b; unknown times never count as before."""
    return a is not None and b is not None and a < b


def consolidate(
    memories: Iterable[Memory],
    candidates: Sequence[Candidate],
    embed: Embed,
    *,
    now: datetime | None = None,
    vectors: dict[str, np.ndarray] | None = None,
) -> Plan:
    """Plan how `candidates` change `memories` (all statuses: deleted ones suppress their duplicates).

    `now` stands in for the time of candidates that carry none. `vectors` may hold already-computed
    embeddings by text, to save the model a little work.
    """
    kept = _KeptIndex()
    for m in memories:
        kept.add(
            _Kept(
                m.id, m.kind, m.key, m.text, m.status, m.pinned, m.origin, m.valid_from, m.valid_to, set(m.message_ids)
            )
        )
    vec = _Vectors(embed, vectors)
    plan = Plan()
    ordered = sorted(
        enumerate(candidates), key=lambda ic: (ic[1].observed_at is not None, ic[1].observed_at or datetime.min, ic[0])
    )
    for _, cand in ordered:
        when = cand.observed_at or now
        # What the person writes themselves is the authority: it may revive a deleted memory and replace a
        # pinned one. Only automatic candidates are held back by those.
        by_person = cand.origin == "user"

        # 1. exact duplicates (active first; a deleted one suppresses; a superseded one absorbs an old restatement)
        exact = kept.exact(cand.text)
        active_exact = next((k for k in exact if k.status == "active"), None)
        if active_exact is not None:
            _link(plan, cand, active_exact, "link")
            continue
        deleted = next((k for k in exact if k.status == "deleted"), None)
        if deleted is not None and not by_person:
            plan.decisions.append(Decision(cand, "suppressed_deleted", deleted.id))
            continue
        old_exact = next((k for k in exact if k.status == "superseded" and not _before(k.valid_to, when)), None)
        if old_exact is not None:
            _link(plan, cand, old_exact, "link")
            continue

        # 2. near duplicates: lexical test first (cheap), embedding only for the survivors
        best: tuple[float, float, _Kept] | None = None
        for k in kept.sharing_words(cand.text):
            if k.status == "superseded" or (k.status == "deleted" and by_person):
                continue
            ok, containment = same_value(cand.text, k.text)
            if not ok:
                continue
            cosine = vec.cosine(cand.text, k.text)
            if cosine >= COSINE_MIN and (best is None or cosine > best[0]):
                best = (cosine, containment, k)
        if best is not None:
            cosine, containment, target = best
            if target.status == "deleted":
                plan.decisions.append(Decision(cand, "suppressed_deleted", target.id, cosine, containment))
                continue
            if not target.pinned and target.origin != "user" and _says_more(cand.text, target.text):
                kept.retext(target, cand.text)
                plan.update_text(target.id, cand.text)
            _link(plan, cand, target, "merge", cosine, containment)
            continue

        # 3. same subject, changed value: supersede (or file as history when the candidate is older)
        ref = -(len(plan.new) + 1)
        rivals = [k for k in kept.with_key(cand.key) if k.status == "active"]
        if rivals:
            rival = max(rivals, key=lambda k: (k.valid_from or datetime.min, k.id))
            if rival.pinned and not by_person:
                plan.decisions.append(Decision(cand, "conflict_pinned", rival.id))
                continue
            if _before(when, rival.valid_from):
                plan.new.append(
                    NewMemory(
                        ref,
                        cand.kind,
                        cand.key,
                        cand.text,
                        cand.origin,
                        when,
                        tuple(cand.message_ids),
                        "superseded",
                        rival.valid_from,
                        rival.id,
                    )
                )
                kept.add(
                    _Kept(
                        ref,
                        cand.kind,
                        cand.key,
                        cand.text,
                        "superseded",
                        False,
                        cand.origin,
                        when,
                        rival.valid_from,
                        set(cand.message_ids),
                    )
                )
                plan.decisions.append(Decision(cand, "history", rival.id))
                continue
            plan.new.append(NewMemory(ref, cand.kind, cand.key, cand.text, cand.origin, when, tuple(cand.message_ids)))
            for r in rivals:
                if by_person or not r.pinned:
                    r.status = "superseded"
                    r.valid_to = when
                    plan.supersede(r.id, ref, when)
            kept.add(
                _Kept(
                    ref, cand.kind, cand.key, cand.text, "active", False, cand.origin, when, None, set(cand.message_ids)
                )
            )
            plan.decisions.append(Decision(cand, "supersede", rival.id))
            continue

        # 4. new
        plan.new.append(NewMemory(ref, cand.kind, cand.key, cand.text, cand.origin, when, tuple(cand.message_ids)))
        kept.add(
            _Kept(ref, cand.kind, cand.key, cand.text, "active", False, cand.origin, when, None, set(cand.message_ids))
        )
        plan.decisions.append(Decision(cand, "add", ref))
    return plan


__all__ = [
    "CONTAINMENT_MIN",
    "COSINE_MIN",
    "Decision",
    "Memory",
    "NewMemory",
    "Plan",
    "Supersession",
    "consolidate",
    "is_near_duplicate",
    "lexical_containment",
    "normalise_text",
    "same_value",
]
