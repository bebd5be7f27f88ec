"""Consolidation: duplicates link, near-duplicates merge, a changed value supersedes with history kept."""

from __future__ import annotations

import os
from datetime import datetime

import numpy as np
import pytest
from satchel.embed import get_embedder
from satchel.memory.consolidate import (
    Memory,
    Plan,
    consolidate,
    is_near_duplicate,
    same_value,
)
from satchel.memory.extract import Candidate, extract_candidates

JAN, FEB, MAR = datetime(2026, 1, 10), datetime(2026, 2, 10), datetime(2026, 3, 10)


def embed(texts: list[str]) -> np.ndarray:
    return get_embedder().embed(texts)


def cand(
    text: str, key: str, *, kind: str = "fact", mids: tuple[int, ...] = (50,), at: datetime | None = FEB
) -> Candidate:
    return Candidate(kind, key, text, text, mids, at)


def mem(id: int, text: str, key: str | None, *, kind: str = "fact", at: datetime | None = JAN, **kw) -> Memory:
    return Memory(id, kind, key, text, valid_from=at, message_ids=kw.pop("message_ids", (10,)), **kw)


def actions(plan: Plan) -> list[str]:
    return [d.action for d in plan.decisions]


# --- exact and near duplicates -------------------------------------------------------------------


def test_exact_duplicate_only_adds_a_source_link() -> None:
    plan = consolidate([mem(1, "Lives in Paris", "lives_in")], [cand("lives in Paris.", "lives_in")], embed)
    assert actions(plan) == ["link"]
    assert plan.links == [(1, 50)] and plan.new == [] and plan.superseded == []


def test_a_source_already_linked_is_not_linked_twice() -> None:
    plan = consolidate(
        [mem(1, "Lives in Paris", "lives_in", message_ids=(50,))], [cand("Lives in Paris", "lives_in")], embed
    )
    assert plan.links == []


def test_near_duplicate_merges_and_keeps_the_more_informative_text() -> None:
    plan = consolidate([mem(1, "Lives in Paris", "lives_in")], [cand("Lives in Paris, France", "lives_in")], embed)
    assert actions(plan) == ["merge"]
    assert plan.links == [(1, 50)]
    assert plan.text_updates == [(1, "Lives in Paris, France")]
    assert plan.new == []


def test_a_shorter_restatement_merges_without_losing_detail() -> None:
    plan = consolidate(
        [mem(1, "Likes hiking in the Alps a lot", "likes:hike_alp")],
        [cand("Likes hiking in the Alps", "likes:hike_alp", kind="preference")],
        embed,
    )
    assert actions(plan) == ["merge"] and plan.text_updates == []


def test_text_written_by_the_person_is_never_rewritten_by_a_merge() -> None:
    plan = consolidate(
        [mem(1, "Lives in Paris", None, origin="user")], [cand("Lives in Paris, France", "lives_in")], embed
    )
    assert actions(plan) == ["merge"] and plan.text_updates == []


# --- supersession --------------------------------------------------------------------------------


def test_a_changed_value_supersedes_and_keeps_history() -> None:
    plan = consolidate([mem(1, "Lives in Paris", "lives_in")], [cand("Lives in Lyon", "lives_in", at=MAR)], embed)
    assert actions(plan) == ["supersede"]
    (new,) = plan.new
    assert (new.ref, new.text, new.status, new.valid_from) == (-1, "Lives in Lyon", "active", MAR)
    (sup,) = plan.superseded
    assert (sup.old_id, sup.new_id, sup.valid_to) == (1, -1, MAR)
    resolved = plan.resolve(100)
    assert resolved.new[0].ref == 100 and resolved.superseded[0].new_id == 100


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("Is 34 years old", "Is 35 years old", "age"),
        ("Likes Java", "Dislikes Java", "likes:java"),
        ("Always use emojis", "Never use emojis", "instruction:use_emoji"),
        ("Prefers tabs over spaces", "Prefers spaces over tabs", "prefer:space|tab"),
        ("Lives in New York", "Lives in York", "lives_in"),
        ("Works at Google", "Works at Meta", "works_at"),
    ],
)
def test_changed_values_are_not_swallowed_as_duplicates(old: str, new: str, key: str) -> None:
    plan = consolidate([mem(1, old, key)], [cand(new, key)], embed)
    assert actions(plan) == ["supersede"], plan.decisions


def test_a_chain_of_changes_keeps_every_step_and_one_active_memory() -> None:
    messages = [
        (1, "user", "I live in Paris.", JAN),
        (2, "user", "I just moved to Lyon.", FEB),
        (3, "user", "I live in Berlin now.", MAR),
    ]
    plan = consolidate([], extract_candidates(messages), embed).resolve(1)
    # New rows arrive in their final state; nothing existing was touched.
    assert [(m.ref, m.text, m.status, m.valid_from, m.valid_to, m.superseded_by) for m in plan.new] == [
        (1, "Lives in Paris", "superseded", JAN, FEB, 2),
        (2, "Lives in Lyon", "superseded", FEB, MAR, 3),
        (3, "Lives in Berlin", "active", MAR, None, None),
    ]
    assert plan.superseded == [] and plan.links == []


def test_an_older_statement_is_filed_as_history_behind_the_newer_one() -> None:
    # Importing old chats after newer ones: the old fact must not take over.
    plan = consolidate(
        [mem(1, "Lives in Lyon", "lives_in", at=MAR)], [cand("Lives in Paris", "lives_in", at=JAN)], embed
    )
    assert actions(plan) == ["history"]
    (new,) = plan.new
    assert (new.status, new.valid_from, new.valid_to, new.superseded_by) == ("superseded", JAN, MAR, 1)
    assert plan.superseded == []


def test_a_pinned_memory_is_never_superseded_automatically() -> None:
    plan = consolidate([mem(1, "Lives in Paris", "lives_in", pinned=True)], [cand("Lives in Lyon", "lives_in")], embed)
    assert actions(plan) == ["conflict_pinned"]
    assert plan.new == [] and plan.superseded == []


def test_moving_back_reactivates_the_old_value_as_a_new_memory() -> None:
    memories = [
        mem(1, "Lives in Paris", "lives_in", status="superseded", valid_to=FEB, superseded_by=2),
        mem(2, "Lives in Lyon", "lives_in", at=FEB),
    ]
    plan = consolidate(memories, [cand("Lives in Paris", "lives_in", at=MAR)], embed)
    assert actions(plan) == ["supersede"]
    assert plan.superseded[0].old_id == 2


def test_restating_an_old_value_from_before_it_changed_only_links() -> None:
    memories = [
        mem(1, "Lives in Paris", "lives_in", status="superseded", valid_to=FEB, superseded_by=2),
        mem(2, "Lives in Lyon", "lives_in", at=FEB),
    ]
    plan = consolidate(memories, [cand("Lives in Paris", "lives_in", at=JAN, mids=(7,))], embed)
    assert actions(plan) == ["link"] and plan.links == [(1, 7)]


def test_the_person_may_replace_a_pinned_memory_themselves() -> None:
    typed = Candidate("fact", "lives_in", "Lives in Lyon", "Lyon", (), FEB, "user")
    plan = consolidate([mem(1, "Lives in Paris", "lives_in", pinned=True)], [typed], embed)
    assert actions(plan) == ["supersede"] and plan.superseded[0].old_id == 1


def test_the_person_may_write_again_a_memory_they_deleted() -> None:
    typed = Candidate("preference", "likes:hike_alp", "Loves hiking in the Alps", "hiking", (), FEB, "user")
    plan = consolidate([mem(1, "Loves hiking in the Alps", "likes:hike_alp", status="deleted")], [typed], embed)
    assert actions(plan) == ["add"] and plan.new[0].origin == "user"


def test_different_keys_both_stay_active() -> None:
    plan = consolidate([mem(1, "Lives in Paris", "lives_in")], [cand("Works at Acme", "works_at")], embed)
    assert actions(plan) == ["add"] and plan.superseded == []


def test_a_deleted_memory_is_not_brought_back_by_re_extraction() -> None:
    memories = [mem(1, "Loves hiking in the Alps", "likes:hike_alp", status="deleted")]
    plan = consolidate(memories, [cand("Loves hiking in the Alps", "likes:hike_alp")], embed)
    assert actions(plan) == ["suppressed_deleted"] and plan.new == [] and plan.links == []


def test_a_new_memory_restated_in_the_same_batch_gathers_its_sources() -> None:
    plan = consolidate(
        [],
        [cand("Lives in Lyon", "lives_in", mids=(1,)), cand("Lives in Lyon, France", "lives_in", mids=(2,), at=MAR)],
        embed,
    )
    assert actions(plan) == ["add", "merge"]
    assert [(m.text, m.message_ids) for m in plan.new] == [("Lives in Lyon, France", (1, 2))]
    assert plan.links == [] and plan.text_updates == []


def test_candidates_are_applied_in_time_order_whatever_their_order() -> None:
    plan = consolidate(
        [], [cand("Lives in Lyon", "lives_in", at=MAR), cand("Lives in Paris", "lives_in", at=JAN)], embed
    )
    assert [(m.text, m.status) for m in plan.new] == [("Lives in Paris", "superseded"), ("Lives in Lyon", "active")]


def test_embeddings_are_computed_only_for_lexically_close_pairs() -> None:
    calls: list[list[str]] = []

    def counting(texts: list[str]) -> np.ndarray:
        calls.append(texts)
        return embed(texts)

    memories = [mem(i, f"Likes topic number {i} word{i}", f"likes:{i}") for i in range(200)]
    consolidate(memories, [cand("Works at Acme", "works_at")], counting)
    assert calls == []


# --- the dedup test itself, on labelled pairs -------------------------------------------------------

DUPLICATES = [
    ("Lives in Paris", "Lives in Paris, France"),
    ("Works at Google", "Works at Google as a senior engineer"),
    ("Prefers tabs over spaces", "Prefers tabs over spaces for indentation"),
    ("Likes hiking in the Alps", "Likes hiking in the Alps a lot"),
    ("Is a software engineer", "Is a senior software engineer"),
    ("Always answer in French", "Always answer in French please"),
    ("Working on a Rust CLI called Satchel", "Working on Satchel, a Rust CLI"),
    ("Name is Ada Lovelace", "Name is Ada"),
    ("Uses pnpm for JavaScript projects", "Uses pnpm for JavaScript"),
    ("Never use emojis", "Never use emojis in answers"),
    ("Is vegetarian", "Is a vegetarian"),
    ("Learning Japanese", "Learning Japanese for a trip to Kyoto"),
    ("Favourite editor is Helix", "Favorite editor is Helix"),
    ("Keep answers short", "Keep answers short and concise"),
    ("Has a dog named Rex", "Has a dog called Rex"),
    ("Dislikes meetings before 10am", "Really dislikes meetings before 10am"),
]
DIFFERENT = [
    ("Lives in Paris", "Lives in Lyon"),
    ("Works at Google", "Works at Meta"),
    ("Prefers tabs over spaces", "Prefers spaces over tabs"),
    ("Is 34 years old", "Is 35 years old"),
    ("Likes Java", "Dislikes Java"),
    ("Always use emojis", "Never use emojis"),
    ("Always answer in French", "Always answer in German"),
    ("Uses Vim for Python", "Uses Neovim for Python"),
    ("Name is Ada", "Name is Grace"),
    ("Working on a Rust CLI called Satchel", "Working on a Go CLI called Satchel"),
    ("Is a software engineer", "Is a data engineer"),
    ("Learning Japanese", "Learning Korean"),
    ("Uses pnpm for JavaScript projects", "Uses yarn for JavaScript projects"),
    ("Dog's name is Rex", "Dog's name is Max"),
    ("Lives in New York", "Lives in York"),
    ("Prefers dark mode", "Prefers light mode"),
    ("Call me Ada", "Call me Dr. Lovelace"),
    ("Use emojis", "Don't use emojis"),
]


def dedup_figures() -> tuple[float, float]:
    tp = fp = fn = 0
    for label, pairs in ((True, DUPLICATES), (False, DIFFERENT)):
        for a, b in pairs:
            merged = is_near_duplicate(a, b, embed)[0]
            tp += merged and label
            fp += merged and not label
            fn += label and not merged
    return tp / max(tp + fp, 1), tp / (tp + fn)


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_the_lexical_test_alone_rejects_every_changed_value(a: str, b: str) -> None:
    assert not same_value(a, b)[0]


def test_dedup_precision_on_labelled_pairs_with_the_test_embedder() -> None:
    precision, recall = dedup_figures()
    assert precision == 1.0
    assert recall >= 0.6


@pytest.mark.slow
def test_dedup_precision_on_labelled_pairs_with_the_real_model(monkeypatch: pytest.MonkeyPatch) -> None:
    from satchel.embed import EmbedderUnavailable, reset_embedder

    monkeypatch.setenv("SATCHEL_EMBEDDER", "onnx")
    reset_embedder()
    try:
        get_embedder().embed(["warm up"])
    except EmbedderUnavailable as exc:  # pragma: no cover - depends on the installed model
        pytest.skip(str(exc))
    try:
        precision, recall = dedup_figures()
    finally:
        reset_embedder()
    if os.environ.get("SATCHEL_PRINT_FIGURES"):
        print(f"dedup precision {precision:.3f} recall {recall:.3f}")
    assert precision == 1.0
    assert recall >= 0.7
