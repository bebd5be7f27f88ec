"""Split a long text into pieces the embedder takes whole, counting real model tokens.

Word counts are a poor proxy for WordPiece tokens: 180 words of English prose are ~190 tokens, but 180
"words" of code are ~600, of log lines ~1,800, and a CJK paragraph (no spaces: one "word") thousands --
everything past the window would silently go unembedded. This splitter cuts at the coarsest boundary
that fits (blank line, line, sentence, clause, word, then characters) and packs neighbouring pieces
greedily up to ``max_tokens``. Every piece it returns has ``count_tokens(piece) <= max_tokens``.

Pieces are substrings of the text with surrounding whitespace stripped; joined with the separators they
were cut at, they give the text back (modulo that whitespace).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from . import MAX_TEXT_TOKENS

# Each separator ends in whitespace (or is a newline), so BERT pre-tokenization splits there anyway and
# token counts of neighbouring pieces add up exactly.
_SEPARATORS: tuple[str, ...] = ("\n\n", "\n", ". ", "? ", "! ", "。", "; ", ", ", " ", "\t")


def split_for_embedding(
    text: str,
    count_tokens: Callable[[str], int] | None = None,
    max_tokens: int = MAX_TEXT_TOKENS,
    count_tokens_batch: Callable[[Sequence[str]], list[int]] | None = None,
) -> list[str]:
    """Pieces of ``text`` with at most ``max_tokens`` tokens each (default: the model's window minus
    [CLS]/[SEP]). A text that fits is returned as ``[text]`` unchanged. Uses the process embedder's
    tokenizer unless ``count_tokens`` is given."""
    if max_tokens < 1:
        raise ValueError("max_tokens must be >= 1")
    if count_tokens is None:
        from . import get_embedder

        emb = get_embedder()
        count_tokens = emb.count_tokens
        count_tokens_batch = getattr(emb, "count_tokens_batch", None)
    if count_tokens_batch is None:
        ct = count_tokens

        def count_tokens_batch(texts: Sequence[str]) -> list[int]:
            return [ct(t) for t in texts]

    if count_tokens(text) <= max_tokens:
        return [text]
    pieces = _split(text, 0, count_tokens, count_tokens_batch, max_tokens)
    out = [p.strip() for p in pieces]
    return [p for p in out if p]


def _split(
    text: str,
    level: int,
    count: Callable[[str], int],
    count_batch: Callable[[Sequence[str]], list[int]],
    limit: int,
) -> list[str]:
    # Find the coarsest separator present in the text.
    while level < len(_SEPARATORS) and _SEPARATORS[level] not in text:
        level += 1
    if level == len(_SEPARATORS):
        return _hard_split(text, count, limit)
    sep = _SEPARATORS[level]
    parts = text.split(sep)
    parts = [p + sep for p in parts[:-1]] + [parts[-1]]  # keep the separator with the left piece
    parts = [p for p in parts if p]
    sizes = count_batch(parts)
    # Pieces still too big are split at the next finer separator.
    units: list[tuple[str, int]] = []
    for p, n in zip(parts, sizes, strict=True):
        if n <= limit:
            units.append((p, n))
        else:
            sub = _split(p, level + 1, count, count_batch, limit)
            units.extend(zip(sub, count_batch(sub), strict=True))
    # Greedy packing; the counts of whitespace-separated pieces add up, and each packed piece is
    # re-checked anyway (the separator "。" is not whitespace).
    out: list[str] = []
    cur, cur_n = "", 0
    for p, n in units:
        if cur and cur_n + n > limit:
            out.append(cur)
            cur, cur_n = p, n
        else:
            cur, cur_n = cur + p, cur_n + n
    if cur:
        out.append(cur)
    checked: list[str] = []
    for piece in out:
        if count(piece) <= limit:
            checked.append(piece)
        else:  # pragma: no cover - only if counts were not additive
            checked.extend(_hard_split(piece, count, limit))
    return checked


def _hard_split(text: str, count: Callable[[str], int], limit: int) -> list[str]:
    """No separator left (CJK run, one enormous token stream): longest prefixes that fit, by bisection."""
    out: list[str] = []
    rest = text
    while rest:
        # Every token covers at least one character, so `limit` characters always fit; grow the window
        # until it no longer fits (whitespace/control characters make no tokens), then bisect.
        lo = min(limit, len(rest))
        hi = min(len(rest), 8 * limit)
        while hi < len(rest) and count(rest[:hi]) <= limit:
            lo, hi = hi, min(len(rest), 2 * hi)
        if count(rest[:hi]) <= limit:
            out.append(rest[:hi])
            rest = rest[hi:]
            continue
        hi -= 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if count(rest[:mid]) <= limit:
                lo = mid
            else:
                hi = mid - 1
        out.append(rest[:lo])
        rest = rest[lo:]
    return out
