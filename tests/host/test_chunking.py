"""Chunks are spans of their message: every word in order, none over the limit, cut at paragraphs first."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st
from satchel.vault.chunking import split_chunks, split_spans

WORD = st.sampled_from(["a", "bb", "ccc", "é", "😀", "x-y", "code();"])
PARAGRAPH = st.lists(WORD, min_size=0, max_size=60).map(" ".join)
SEPARATOR = st.sampled_from(["\n\n", "\n \n", "\n\n\n", "\n", " "])


@settings(max_examples=300, deadline=None)
@given(st.lists(PARAGRAPH, min_size=1, max_size=12), SEPARATOR, st.integers(min_value=3, max_value=40))
def test_spans_keep_every_word_in_order_and_respect_the_limit(paragraphs, separator, limit):
    text = separator.join(paragraphs)
    spans = split_spans(text, limit)
    pieces = [text[a:b] for a, b in spans]
    assert pieces == split_chunks(text, limit)
    assert [w for p in pieces for w in p.split()] == text.split()
    assert all(b1 <= a2 for (_, b1), (a2, _) in itertools.pairwise(spans))
    if len(spans) > 1:
        assert all(0 < len(p.split()) <= limit for p in pieces)
        assert all(p == p.strip() for p in pieces)


def test_a_short_message_is_one_span_whatever_its_whitespace():
    assert split_spans("  hello there \n") == [(0, 15)]


def test_paragraphs_are_kept_together_when_they_fit():
    first = " ".join(["alpha"] * 100)
    second = " ".join(["beta"] * 100)
    third = " ".join(["gamma"] * 50)
    pieces = split_chunks(f"{first}\n\n{second}\n\n{third}", 180)
    assert pieces == [first, f"{second}\n\n{third}"]


def test_a_huge_paragraph_is_cut_between_words():
    text = " ".join(f"w{i}" for i in range(400))
    pieces = split_chunks(text, 180)
    assert [len(p.split()) for p in pieces] == [180, 180, 40]
    assert pieces[1].startswith("w180 ") and pieces[2].endswith("w399")
