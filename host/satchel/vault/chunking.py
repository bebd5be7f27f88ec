"""Split long messages into chunks the embedder can take whole (≈256 tokens)."""

from __future__ import annotations

import re

# ≈1.3 tokens per English word; 180 words stays under the model's 256-token window.
MAX_WORDS = 180
_PARAGRAPH = re.compile(r"\n\s*\n")


def split_chunks(text: str, max_words: int = MAX_WORDS) -> list[str]:
    """Paragraph-aligned chunks of at most `max_words` words; a short message is one chunk."""
    if len(text.split()) <= max_words:
        return [text]
    chunks: list[str] = []
    current: list[str] = []
    count = 0
    for paragraph in _PARAGRAPH.split(text):
        words = paragraph.split()
        if not words:
            continue
        if count and count + len(words) > max_words:
            chunks.append("\n\n".join(current))
            current, count = [], 0
        while len(words) > max_words:  # a single huge paragraph: hard split on words
            if current:
                chunks.append("\n\n".join(current))
                current, count = [], 0
            chunks.append(" ".join(words[:max_words]))
            words = words[max_words:]
        current.append(" ".join(words) if len(words) != len(paragraph.split()) else paragraph.strip())
        count += len(words)
    if current:
        chunks.append("\n\n".join(current))
    return chunks
