"""Text to index terms: lower-case word tokens, English stopwords dropped, Snowball-stemmed."""

from __future__ import annotations

import re
from collections import Counter

import Stemmer

# Letters/digits runs; apostrophes inside words are split off ("caroline's" -> "caroline", "s" (dropped)).
_WORD = re.compile(r"[^\W_]+", re.UNICODE)

# A compact English list (function words, auxiliaries, pronouns, chat filler). Content-bearing words such as
# "first", "last", "new", "never" are kept: prompts lean on them.
STOPWORDS = frozenset(
    ["a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are", "aren", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "cannot", "could", "couldn", "d", "did", "didn", "do", "does", "doesn", "doing", "don", "down", "during", "each", "few", "for", "from", "further", "had", "hadn", "has", "hasn", "have", "haven", "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is", "isn", "it", "its", "itself", "just", "ll", "m", "me", "more", "most", "mustn", "my", "myself", "no", "nor", "not", "now", "o", "of", "off", "on", "once", "only", "or", "other", "ought", "our", "ours", "ourselves", "out", "over", "own", "re", "s", "same", "shan", "she", "should", "shouldn", "so", "some", "such", "t", "than", "that", "the", "their", "theirs", "them", "themselves", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "ve", "very", "was", "wasn", "we", "were", "weren", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "won", "would", "wouldn", "y", "you", "your", "yours", "yourself", "yourselves", "also", "yes", "yeah", "oh", "ok", "okay", "hey", "hi", "hello", "really", "just", "like", "get", "got", "gonna", "wanna", "lot", "lots", "thing", "things", "much", "many", "well", "even", "still", "ever", "something", "anything", "everything", "someone", "anyone", "everyone", "let", "us", "said", "says", "say", "tell", "told", "know", "think", "thought"]
)

#: Bump when the terms a text yields change: saved keyword indexes (``snapshot.py``) are then rebuilt.
VERSION = 1

_stemmer = Stemmer.Stemmer("english")
_stem_of: dict[str, str] = {}  # word -> stem ("" for a stopword); vocabularies are small, so this stays small
_STEM_CACHE_MAX = 2_000_000


def _stem(word: str) -> str:
    stem = "" if word in STOPWORDS or len(word) >= 40 else _stemmer.stemWord(word)
    if len(_stem_of) < _STEM_CACHE_MAX:
        _stem_of[word] = stem
    return stem


def tokens(text: str) -> list[str]:
    """Index terms of ``text`` in order (stopwords removed, stemmed)."""
    words = _WORD.findall(text.lower())
    stems = list(map(_stem_of.get, words))  # C-speed lookups; the cache knows nearly every word
    if None in stems:
        stems = [s if s is not None else _stem(w) for w, s in zip(words, stems, strict=True)]
    return list(filter(None, stems))


def term_counts(text: str) -> Counter[str]:
    return Counter(tokens(text))


def raw_words(text: str) -> list[str]:
    """Lower-case words with stopwords kept (for cue detection such as 'when')."""
    return _WORD.findall(text.lower())
