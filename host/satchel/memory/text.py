"""Small text tools shared by the memory modules: sentences, content words, stems."""

from __future__ import annotations

import re
import threading
from functools import lru_cache

_FENCE = re.compile(r"```.*?(?:```|\Z)", re.S)
_INLINE_CODE = re.compile(r"`[^`\n]{1,200}`")
# A sentence ends at . ! ? … (not inside "e.g." or "3.5") followed by space, or at a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?…])(?<!\b[A-Za-z]\.)(?<!\be\.g\.)(?<!\bi\.e\.)\s+(?=[\"'(\[A-Z0-9À-Ý¿¡])|\n+")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d{1,3}[.)])\s+")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.U)


def wordset(text: str) -> frozenset[str]:
    """A set of words written as one whitespace-separated block (easier to read and edit than a list)."""
    return frozenset(text.split())


STOPWORDS = wordset(
    """
a about above after again against all also am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have having he
her here hers herself him himself his how i if in into is it its itself just me more most my myself now of
off on once only or other our ours ourselves out over own really same she should so some such than that the
their theirs them themselves then there these they this those through to too under until up very was we were
what when where which while who whom why will with would you your yours yourself yourselves i'm i've i'd
i'll it's let's that's there's what's lot lots quite pretty much many thing things stuff actually basically
please
"""
)
# Negations are content: "use emojis" and "don't use emojis" must not look alike.
assert not {"no", "nor", "not", "never"} & STOPWORDS


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


_local = threading.local()


def _stemmer() -> object | None:
    # PyStemmer objects must not be shared between threads; the vault owner serves one thread per client.
    s = getattr(_local, "stemmer", False)
    if s is False:
        try:
            import Stemmer  # PyStemmer, a declared dependency; optional here so the module works without it

            s = Stemmer.Stemmer("english")
        except Exception:  # pragma: no cover - depends on the environment
            s = None
        _local.stemmer = s
    return s


@lru_cache(maxsize=50_000)
def stem(word: str) -> str:
    s = _stemmer()
    if s is not None:
        return s.stemWord(word)  # type: ignore[attr-defined]
    for suffix in ("ing", "ed", "es", "s"):  # pragma: no cover - fallback
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word  # pragma: no cover


# British and American spellings of words memories often contain, folded so they compare equal.
_SPELLING = {
    "favourite": "favorite",
    "favourites": "favorites",
    "colour": "color",
    "colours": "colors",
    "organise": "organize",
    "organised": "organized",
    "realise": "realize",
    "analyse": "analyze",
    "centre": "center",
    "theatre": "theater",
    "grey": "gray",
    "travelling": "traveling",
    "programme": "program",
    "licence": "license",
    "humour": "humor",
    "flavour": "flavor",
    "neighbour": "neighbor",
    "metre": "meter",
}


def content_stems(text: str) -> list[str]:
    """Stems of the words that carry meaning (no stop words), in order."""
    return [stem(_SPELLING.get(w, w)) for w in words(text) if w not in STOPWORDS]


__all__ = ["STOPWORDS", "content_stems", "split_sentences", "stem", "strip_code", "words", "wordset"]
