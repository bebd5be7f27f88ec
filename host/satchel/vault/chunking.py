"""Split long messages into chunks the embedder can take whole (≈256 tokens).

A chunk is a span of its message's text, ``text[start:stop]``: the vault stores the two offsets, not a second
copy of the text (the copy was a third of a vault's bytes).
"""

from __future__ import annotations

import re

# ≈1.3 tokens per English word; 180 words stays under the model's 256-token window.
MAX_WORDS = 180
_PARAGRAPH = re.compile(r"\n\s*\n")
_WORD = re.compile(r"\S+")


def split_spans(text: str, max_words: int = MAX_WORDS) -> list[tuple[int, int]]:
    """Paragraph-aligned (start, stop) spans of at most ``max_words`` words; a short message is one span.
    A paragraph longer than ``max_words`` is cut between words."""
    words = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    if len(words) <= max_words:
        return [(0, len(text))]
    # paragraph number of each word: the count of paragraph breaks before it
    breaks = [m.start() for m in _PARAGRAPH.finditer(text)]
    spans: list[tuple[int, int]] = []
    first = 0  # first word of the chunk being built
    paragraph_start = 0  # first word of the current paragraph
    b = 0
    for i in range(1, len(words) + 1):
        new_paragraph = i == len(words)
        if not new_paragraph:
            while b < len(breaks) and breaks[b] < words[i][0]:
                if breaks[b] >= words[i - 1][1]:
                    new_paragraph = True
                b += 1
        if not new_paragraph:
            continue
        # words[paragraph_start:i] is a paragraph
        if paragraph_start > first and i - first > max_words:
            spans.append((words[first][0], words[paragraph_start - 1][1]))
            first = paragraph_start
        while i - first > max_words:  # a single huge paragraph: hard split on words
            spans.append((words[first][0], words[first + max_words - 1][1]))
            first += max_words
        paragraph_start = i
    if first < len(words):
        spans.append((words[first][0], words[-1][1]))
    return spans


def split_chunks(text: str, max_words: int = MAX_WORDS) -> list[str]:
    """The chunks' texts (see ``split_spans``)."""
    return [text[start:stop] for start, stop in split_spans(text, max_words)]
