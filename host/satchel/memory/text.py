"""Small text tools shared by the memory modules: sentences, content words, stems."""

from __future__ import annotations

import re
from functools import lru_cache

_FENCE = re.compile(r"```.*?(?:```|\Z)", re.S)
_INLINE_CODE = re.compile(r"`[^`\n]{1,200}`")
# A sentence ends at . ! ? … (not inside "e.g." or "3.5") followed by space, or at a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?…])(?<!\b[A-Za-z]\.)(?<!\be\.g\.)(?<!\bi\.e\.)\s+(?=[\"'(\[A-Z0-9À-Ý¿¡])|\n+")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d{1,3}[.)])\s+")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.U)

STOPWORDS = frozenset(
    """
a about above after again against all also am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have having
he her here hers herself him himself his how i if in into is it its itself just me more most my myself no
nor not now of off on once only or other our ours ourselves out over own really same she should so some
such than that the their theirs them themselves then there these they this those through to too under
until up very was we were what when where which while who whom why will with would you your yours
yourself yourselves i'm i've i'd i'll it's don't doesn't didn't isn't aren't wasn't weren't can't won't
let's that's there's what's lot lots quite pretty much many thing things stuff actually basically
""".split()
)


def strip_code(text: str) -> str:
    """Prose of a message: fenced code blocks dropped, inline code kept as its words."""
    text = _FENCE.sub(" ", text)
    return _INLINE_CODE.sub(lambda m: m.group()[1:-1], text)


def split_sentences(text: str) -> list[str]:
    out: list[str] = []
    for piece in _SENTENCE_END.split(strip_code(text)):
        piece = _BULLET.sub("", piece).strip()
        if piece:
            out.append(" ".join(piece.split()))
    return out


def words(text: str) -> list[str]:
    return [w.lower().replace("’", "'") for w in _WORD.findall(text)]


@lru_cache(maxsize=1)
def _stemmer() -> object | None:
    try:
        import Stemmer  # PyStemmer, a declared dependency; optional here so tests run without it

        return Stemmer.Stemmer("english")
    except Exception:  # pragma: no cover - depends on the environment
        return None


@lru_cache(maxsize=50_000)
def stem(word: str) -> str:
    s = _stemmer()
    if s is not None:
        return s.stemWord(word)  # type: ignore[attr-defined]
    for suffix in ("ing", "ed", "es", "s"):  # pragma: no cover - fallback
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word  # pragma: no cover


def content_stems(text: str) -> list[str]:
    """Stems of the words that carry meaning (no stop words), in order."""
    return [stem(w) for w in words(text) if w not in STOPWORDS]


__all__ = ["STOPWORDS", "content_stems", "split_sentences", "stem", "strip_code", "words"]
