"""Extractive summaries: deterministic, within budget, made of the sentences the text is about."""

from __future__ import annotations

from satchel.memory.summarize import (
    Utterance,
    extractive_summary,
    rank_sentences,
    summarize_conversation,
    summarize_session,
)
from satchel.memory.text import split_sentences

TRIP = [
    ("user", "I want to plan a trip to Japan in April to see the cherry blossoms. What cities should I visit?"),
    (
        "assistant",
        "Sure! For cherry blossoms in April, Kyoto and Tokyo are the classic choices. Kyoto has temples with "
        "cherry blossoms along the Philosopher's Path. Tokyo has Ueno Park and Shinjuku Gyoen for cherry "
        "blossom viewing. By the way, my favourite sandwich filling is cucumber. The bullet train makes "
        "travel between cities fast. Hope this helps!",
    ),
    ("user", "How many days should I spend in Kyoto for the temples and the cherry blossoms?"),
    (
        "assistant",
        "Three days in Kyoto is enough for the main temples and cherry blossom spots. Add a day trip to Nara "
        "to see the deer. Book hotels early because April is the busiest season in Japan.",
    ),
]


def test_summary_is_deterministic() -> None:
    assert extractive_summary(TRIP, 300) == extractive_summary(TRIP, 300)


def test_summary_stays_within_the_budget() -> None:
    for budget in (40, 80, 150, 300, 600, 2000):
        assert len(extractive_summary(TRIP, budget)) <= budget


def test_summary_keeps_the_central_topic_and_drops_the_aside() -> None:
    summary = extractive_summary(TRIP, 300)
    assert "cherry blossom" in summary
    assert "Kyoto" in summary
    assert "sandwich" not in summary


def test_filler_is_never_chosen() -> None:
    summary = extractive_summary(TRIP, 2000)
    assert "Hope this helps" not in summary
    assert not summary.startswith("Sure")


def test_sentences_keep_their_original_order() -> None:
    summary = extractive_summary(TRIP, 2000)
    picked = [s for s in split_sentences(" ".join(t for _, t in TRIP)) if s in summary]
    assert [summary.index(s) for s in picked] == sorted(summary.index(s) for s in picked)


def test_redundant_sentences_are_not_both_chosen() -> None:
    text = [
        ("user", "The deployment failed because the database migration timed out after ten minutes."),
        ("assistant", "The deployment failed because the database migration timed out after ten minutes."),
        ("assistant", "Raising the migration timeout and adding an index on the orders table fixed the deployment."),
        ("user", "Next time we should test the database migration on a copy of production first."),
    ]
    summary = extractive_summary(text, 200)
    assert summary.count("timed out after ten minutes") <= 1


def test_centrality_ranks_on_topic_sentences_above_an_aside() -> None:
    scores = rank_sentences(
        [
            "Cherry blossoms in Kyoto peak in early April.",
            "The best cherry blossom spots in Kyoto are near temples.",
            "My cat likes sardines.",
            "Book Kyoto hotels early for cherry blossom season.",
        ]
    )
    assert scores[2] == min(scores)


def test_code_blocks_are_not_summarised() -> None:
    text = [
        (
            "user",
            "Why does my Python loop over the list of orders print nothing?\n```python\nfor o in orders:\n"
            "    pass\n```\nThe list of orders is definitely not empty.",
        )
    ]
    summary = extractive_summary(text, 300)
    assert "pass" not in summary and "orders" in summary


def test_one_long_sentence_is_cut_at_a_word_with_an_ellipsis() -> None:
    long = "This sentence about the quarterly revenue report " + "and its many appendices " * 30 + "ends here."
    summary = extractive_summary([("user", long)], 100)
    assert len(summary) <= 100 and summary.endswith("…")


def test_nothing_to_summarise_gives_an_empty_summary() -> None:
    assert extractive_summary([], 300) == ""
    assert extractive_summary([("assistant", "Sure! Thanks.")], 300) == ""
    assert extractive_summary(TRIP, 0) == ""


def test_session_and_conversation_defaults_and_utterance_objects() -> None:
    utterances = [Utterance(role, text) for role, text in TRIP]
    assert 0 < len(summarize_session(utterances)) <= 300
    assert 0 < len(summarize_conversation(utterances)) <= 600


def test_non_english_text_is_summarised_too() -> None:
    text = [
        (
            "user",
            "Je prépare un voyage au Japon en avril pour voir les cerisiers en fleurs. Quelles villes "
            "visiter pour les cerisiers ? Les cerisiers de Kyoto sont célèbres. J'aime aussi le thé.",
        )
    ]
    summary = extractive_summary(text, 120)
    assert "cerisiers" in summary and len(summary) <= 120
