"""A deterministic stand-in for the ONNX embedder, for unit tests only (SATCHEL_EMBEDDER=fake).

Hashing trick over lower-cased words and word bigrams: texts that share words get similar vectors
(cosine grows with word overlap), unrelated texts are near-orthogonal. Same shape, dtype, normalisation,
truncation and empty-text behaviour as ``OnnxEmbedder``; no model, no numpy work beyond a few adds,
identical across processes and platforms (blake2b, not Python's salted ``hash``).
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from . import DIM, MAX_TEXT_TOKENS, MAX_TOKENS

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

_TOKEN = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_WORD = re.compile(r"\w")


@lru_cache(maxsize=65536)
def _slot(feature: str) -> tuple[int, float]:
    d = hashlib.blake2b(feature.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    n = int.from_bytes(d, "little")
    return n % DIM, (1.0 if (n >> 32) & 1 else -1.0)


class FakeEmbedder:
    model_id = "fake-hash-384@v1"
    dim: int = DIM
    max_tokens: int = MAX_TOKENS
    max_text_tokens: int = MAX_TEXT_TOKENS

    @staticmethod
    def _tokens(text: str) -> list[str]:
        return _TOKEN.findall(text.lower())

    def count_tokens(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"count_tokens expects str, not {type(text).__name__}")
        return len(self._tokens(text))

    def count_tokens_batch(self, texts: Sequence[str]) -> list[int]:
        return [self.count_tokens(t) for t in texts]

    def warm_up(self) -> None:
        pass

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        if isinstance(texts, str):
            raise TypeError("embed expects a list of strings, not a single string")
        texts = list(texts)
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"embed expects strings, got {type(text).__name__}")
            words = [t for t in self._tokens(text)[:MAX_TEXT_TOKENS] if _WORD.match(t)]
            row = out[i]
            for w in words:
                j, s = _slot(w)
                row[j] += s
            for a, b in itertools.pairwise(words):
                j, s = _slot(a + " " + b)
                row[j] += 0.5 * s
            norm = float(np.linalg.norm(row))
            if norm > 0:
                row /= norm
        return out
