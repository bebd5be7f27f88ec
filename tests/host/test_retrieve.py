"""The in-memory Retriever: keyword + vector search, fusion, filters, floor, removal, neighbours."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from satchel.retrieve import Doc, Filters, RetrievalConfig, Retriever
from satchel.retrieve import keyword as keyword_module

DIM = 8
DAY = 86400.0
NOW = datetime(2024, 6, 15, tzinfo=UTC).timestamp()


def unit(*components: float) -> np.ndarray:
    v = np.zeros(DIM, np.float32)
    v[: len(components)] = components
    return v / np.linalg.norm(v)


def doc(chunk_id: int, text: str, *, conv: int | None = None, provider: str = "chatgpt", position: int | None = None,
        created_at: float = NOW - 10 * DAY, prefix: str = "", message_id: int | None = None) -> Doc:
    # Each chunk is its own conversation unless a test says otherwise, so neighbour expansion stays out of the way.
    return Doc(chunk_id=chunk_id, message_id=chunk_id if message_id is None else message_id,
               conversation_id=chunk_id if conv is None else conv,
               provider=provider, role="user", created_at=created_at, text=text,
               position=chunk_id if position is None else position, prefix=prefix)


FILLER = [
    "the quarterly budget review moved to thursday afternoon",
    "my sourdough starter finally doubled overnight",
    "we repainted the garden shed a pale green",
    "the train to Lyon was delayed by forty minutes",
    "I switched my editor theme to solarized dark",
    "grandma's lasagna recipe uses nutmeg in the bechamel",
]


@pytest.fixture
def retriever() -> Retriever:
    r = Retriever(dim=DIM)
    r.add_documents([doc(100 + i, text, position=i) for i, text in enumerate(FILLER)])
    return r


def ids(hits) -> list[int]:
    return [h.chunk_id for h in hits]


def test_a_chunk_is_keyword_searchable_the_moment_it_is_added(retriever: Retriever) -> None:
    retriever.add_documents([doc(1, "Kubernetes ingress needs a TLS secret")])
    hits = retriever.search("kubernetes ingress", None, 5, now=NOW)
    assert ids(hits)[0] == 1
    assert hits[0].keyword > 0 and hits[0].vector == 0.0


def test_len_counts_live_chunks(retriever: Retriever) -> None:
    assert len(retriever) == len(FILLER)
    retriever.remove_messages([100])
    assert len(retriever) == len(FILLER) - 1


def test_stemming_matches_other_forms_of_a_word(retriever: Retriever) -> None:
    retriever.add_documents([doc(1, "I was painting sunsets all weekend")])
    assert ids(retriever.search("paints a sunset", None, 5, now=NOW))[:1] == [1]


def test_a_nonsense_query_returns_nothing(retriever: Retriever) -> None:
    assert retriever.search("xyzzy plugh frobnicate", None, 5, now=NOW) == []


def test_a_stopword_only_query_returns_nothing(retriever: Retriever) -> None:
    assert retriever.search("what is it that you were about to do", None, 5, now=NOW) == []


def test_matching_only_a_common_word_does_not_clear_the_floor() -> None:
    r = Retriever(dim=DIM)
    r.add_documents([doc(i, f"coffee note number {i} about {FILLER[i % len(FILLER)]}", conv=1) for i in range(40)])
    # "coffee" is in every chunk; "espresso machine descaling" is nowhere.
    assert r.search("coffee espresso machine descaling", None, 5, now=NOW) == []


def test_a_tiny_vault_still_finds_a_keyword() -> None:
    r = Retriever(dim=DIM)
    r.add_documents([doc(1, "pelican sighting"), doc(2, "heron sighting")])
    assert ids(r.search("pelican", None, 5, now=NOW)) == [1]


def test_an_empty_retriever_returns_nothing() -> None:
    assert Retriever(dim=DIM).search("anything", unit(1), 5) == []


def test_provider_filter(retriever: Retriever) -> None:
    retriever.add_documents([doc(1, "pelican migration notes", provider="claude"),
                             doc(2, "pelican migration photos", provider="gemini")])
    assert ids(retriever.search("pelican migration", None, 5, Filters(providers={"claude"}), now=NOW)) == [1]
    assert retriever.search("pelican", None, 5, Filters(providers={"unknown"}), now=NOW) == []


def test_conversation_filters(retriever: Retriever) -> None:
    retriever.add_documents([doc(1, "pelican migration notes", conv=7), doc(2, "pelican migration photos", conv=8)])
    assert ids(retriever.search("pelican", None, 5, Filters(conversation_ids={8}), now=NOW)) == [2]
    assert ids(retriever.search("pelican", None, 5, Filters(exclude_conversation_ids={8}), now=NOW)) == [1]


def test_time_filters_are_half_open(retriever: Retriever) -> None:
    retriever.add_documents([doc(1, "pelican in spring", created_at=1000.0), doc(2, "pelican in autumn",
                                                                                created_at=2000.0)])
    assert ids(retriever.search("pelican", None, 5, Filters(since=1000.0, until=2000.0), now=NOW)) == [1]
    assert ids(retriever.search("pelican", None, 5, Filters(since=1500.0), now=NOW)) == [2]


def test_removed_messages_leave_no_trace(retriever: Retriever) -> None:
    retriever.add_documents([doc(1, "my passport number is in the blue folder", message_id=50),
                             doc(2, "second chunk of the same message mentions zanzibar", message_id=50)])
    retriever.add_vectors([1, 2], np.stack([unit(1), unit(0, 1)]))
    retriever.remove_messages([50])
    assert retriever.search("passport blue folder", None, 5, now=NOW) == []
    assert retriever.search("zanzibar", unit(0, 1), 5, now=NOW) == []
    assert "zanzibar" not in retriever.keyword.vocab and "passport" not in retriever.keyword.vocab
    dead_rows = [row for row in range(retriever._n) if not retriever._alive[row]]
    assert dead_rows and not any(retriever.vectors.vector(row).any() for row in dead_rows)
    assert len(retriever) == len(FILLER)


def test_removing_unknown_messages_is_harmless(retriever: Retriever) -> None:
    retriever.remove_messages([999, 1000])
    retriever.remove_messages([])
    assert len(retriever) == len(FILLER)


def test_re_adding_a_chunk_id_replaces_its_text(retriever: Retriever) -> None:
    retriever.add_documents([doc(1, "draft answer about otters")])
    retriever.add_documents([doc(1, "final answer about beavers")])
    assert retriever.search("otters", None, 5, now=NOW) == []
    assert ids(retriever.search("beavers", None, 5, now=NOW)) == [1]
    assert len(retriever) == len(FILLER) + 1


def test_vectors_for_unknown_chunks_are_ignored(retriever: Retriever) -> None:
    retriever.add_vectors([12345], unit(1)[None, :])
    assert retriever.search("zzz", unit(1), 5, now=NOW) == []


def test_a_close_vector_is_found_without_any_shared_word(retriever: Retriever) -> None:
    retriever.add_documents([doc(1, "canine companion adoption paperwork")])
    retriever.add_vectors([1], unit(1, 0.1)[None, :])
    hits = retriever.search("getting a puppy", unit(1), 5, now=NOW)
    assert ids(hits) == [1] and hits[0].vector > 0.9 and hits[0].keyword == 0


def test_a_distant_vector_alone_does_not_clear_the_floor(retriever: Retriever) -> None:
    retriever.add_documents([doc(1, "canine companion adoption paperwork")])
    retriever.add_vectors([1], unit(1, 4)[None, :])  # cosine ≈ 0.24 to the query
    assert retriever.search("getting a puppy", unit(1), 5, now=NOW) == []


def test_fusion_ranks_a_chunk_matching_both_signals_first(retriever: Retriever) -> None:
    retriever.add_documents([
        doc(1, "notes on heron nesting"),  # keyword only
        doc(2, "birds building homes by the lake"),  # vector only
        doc(3, "heron nesting season by the lake"),  # both
    ])
    retriever.add_vectors([1, 2, 3], np.stack([unit(0, 1), unit(1, 0.05), unit(1, 0.1)]))
    hits = retriever.search("heron nesting", unit(1), 5, now=NOW)
    assert ids(hits)[0] == 3
    assert set(ids(hits)) == {1, 2, 3}


def test_a_chunk_not_yet_embedded_still_ranks_on_keywords(retriever: Retriever) -> None:
    retriever.add_documents([doc(1, "heron nesting season"), doc(2, "heron nesting ground")])
    retriever.add_vectors([2], unit(0, 1)[None, :])  # embedded, but far from the query vector
    hits = retriever.search("heron nesting season", unit(1), 5, now=NOW)
    assert ids(hits)[0] == 1


def test_the_previous_turn_makes_an_answer_findable_by_the_question_words(retriever: Retriever) -> None:
    retriever.add_documents([
        doc(1, "Which bakery sells the rye loaf?", position=0, conv=5),
        doc(2, "The one on Elm Street, next to the library.", position=1, conv=5,
            prefix="Which bakery sells the rye loaf?"),
    ])
    assert set(ids(retriever.search("rye loaf bakery", None, 5, now=NOW))) == {1, 2}
    assert ids(retriever.search("rye loaf bakery", None, 5, now=NOW))[0] == 1  # own text outweighs the prefix


def test_neighbours_are_the_adjacent_messages_of_the_same_conversation(retriever: Retriever) -> None:
    retriever.add_documents([doc(10 + p, f"turn {p}", conv=9, position=p) for p in range(5)])
    retriever.add_documents([doc(30, "other conversation", conv=10, position=2)])
    assert retriever.neighbours(12) == [11, 13]
    assert retriever.neighbours(12, radius=2) == [10, 11, 13, 14]
    assert retriever.neighbours(10) == [11]
    retriever.remove_messages([13])
    assert retriever.neighbours(12) == [11]
    assert retriever.neighbours(99999) == []


def test_neighbour_expansion_pulls_in_the_answer_after_a_matching_question() -> None:
    r = Retriever(dim=DIM, config=RetrievalConfig(neighbour_weight=0.5))
    r.add_documents([doc(100 + i, text, position=i, conv=1) for i, text in enumerate(FILLER)])
    r.add_documents([doc(1, "what wood should I use for the workbench top?", conv=2, position=0),
                     doc(2, "Beech: hard, cheap and it glues well.", conv=2, position=1)])
    hits = r.search("workbench wood", None, 5, now=NOW)
    assert ids(hits)[:2] == [1, 2]
    assert hits[1].keyword == 0.0 and hits[1].score == pytest.approx(0.5 * hits[0].score)


def test_recency_breaks_a_tie_toward_the_newer_chunk(retriever: Retriever) -> None:
    retriever.add_documents([doc(1, "pelican sighting", created_at=NOW - 400 * DAY),
                             doc(2, "pelican sighting", created_at=NOW - 2 * DAY)])
    assert ids(retriever.search("pelican sighting", None, 5, now=NOW)) == [2, 1]


def test_a_time_expression_steers_toward_its_period(retriever: Retriever) -> None:
    may = datetime(2024, 5, 10, tzinfo=UTC).timestamp()
    retriever.add_documents([doc(1, "pelican sighting at the pier", created_at=may),
                             doc(2, "pelican sighting at the pier", created_at=NOW - 2 * DAY)])
    assert ids(retriever.search("pelican sighting in May", None, 5, now=NOW))[0] == 1
    assert ids(retriever.search("pelican sighting", None, 5, now=NOW))[0] == 2


def test_results_are_capped_at_k_and_sorted(retriever: Retriever) -> None:
    retriever.add_documents([doc(i, f"pelican note {'pelican ' * (i % 4)}{i}") for i in range(1, 10)])
    retriever.add_documents([doc(i, f"heron note {i}") for i in range(10, 30)])
    hits = retriever.search("pelican", None, 7, now=NOW)
    assert len(hits) == 7
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_incremental_and_bulk_indexing_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyword_module, "BUFFER_POSTINGS", 64)  # force many flushes and merges
    rng = np.random.default_rng(3)
    words = [f"word{i}" for i in range(60)]
    docs = [doc(i, " ".join(rng.choice(words, 8)), conv=i // 10, position=i % 10) for i in range(600)]
    one_by_one, bulk = Retriever(dim=DIM), Retriever(dim=DIM)
    for d in docs:
        one_by_one.add_documents([d])
    bulk.add_documents(docs)
    for r in (one_by_one, bulk):
        r.remove_messages(range(0, 600, 7))
    for q in ("word1 word2", "word59", "word7 word8 word9 word10"):
        a = one_by_one.search(q, None, 20, now=NOW)
        b = bulk.search(q, None, 20, now=NOW)
        assert [h.chunk_id for h in a] == [h.chunk_id for h in b]
        assert [h.keyword for h in a] == pytest.approx([h.keyword for h in b], rel=1e-5)
        assert all(h.chunk_id % 7 for h in a)


def test_a_match_among_turns_about_the_rest_of_the_query_ranks_first() -> None:
    r = Retriever(dim=DIM)
    r.add_documents([doc(100 + i, text, position=i, conv=1) for i, text in enumerate(FILLER)])
    r.add_documents([
        doc(1, "I finally booked the ferry", conv=2, position=0),  # isolated
        doc(2, "planning the Crete holiday in June", conv=3, position=0),
        doc(3, "and I finally booked the ferry", conv=3, position=1),  # next to "crete holiday"
    ])
    hits = r.search("ferry for the Crete holiday", None, 5, now=NOW)
    assert ids(hits).index(3) < ids(hits).index(1)


def test_forgetting_most_of_the_vault_compacts_it_and_search_still_works() -> None:
    r = Retriever(dim=DIM)
    r.add_documents([doc(i, f"note {i} about {'pelican' if i % 2 else 'heron'} number{i}", conv=i // 10,
                         position=i % 10) for i in range(3000)])
    r.add_vectors(list(range(3000)), np.tile(unit(1), (3000, 1)))
    r.remove_messages(range(0, 2500))
    assert r._n == 500 and len(r) == 500  # renumbered densely
    hits = r.search("pelican number2999", unit(1), 3, now=NOW)
    assert hits[0].chunk_id == 2999 and hits[0].vector == pytest.approx(1.0)
    assert r.neighbours(2995) == [2994, 2996]
    assert all(h.chunk_id >= 2500 for h in r.search("heron", unit(1), 50, now=NOW))
    r.add_documents([doc(5000, "a fresh heron note", conv=999)])
    assert r.search("fresh heron", None, 1, now=NOW)[0].chunk_id == 5000


def test_a_reused_term_id_does_not_bring_back_forgotten_postings(retriever: Retriever) -> None:
    retriever.add_documents([doc(1, "zanzibar ferry", message_id=1), doc(2, "quokka selfie", message_id=2)])
    retriever.keyword.flush()  # the postings now live in an immutable segment
    retriever.remove_messages([1])
    retriever.add_documents([doc(3, "wombat burrow")])  # takes the freed term ids
    assert ids(retriever.search("wombat burrow", None, 5, now=NOW)) == [3]
    assert retriever.search("zanzibar ferry", None, 5, now=NOW) == []
