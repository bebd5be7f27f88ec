"""Text embeddings for Satchel.

    from satchel.embed import get_embedder
    emb = get_embedder()              # cached singleton; SATCHEL_EMBEDDER=fake|onnx (default onnx)
    vecs = emb.embed(["some text"])    # float32 (n, 384), rows L2-normalised
    emb.model_id                       # "all-MiniLM-L6-v2-int8@8199be6f699a" -- store it with every vector

Importing this package is cheap: numpy, onnxruntime and tokenizers are imported only when an
embedder is built or first used (the native relay and the CLI's fast paths never pay for them).

Contract shared by every embedder:
* ``embed(texts)`` returns a C-contiguous float32 array of shape ``(len(texts), dim)``; each row has
  L2 norm 1, **except** texts with no tokens (``""``, whitespace, control characters only), whose row is
  all zeros: such a text is similar to nothing (cosine 0), which is what a retriever wants.
  ``embed([])`` returns shape ``(0, dim)``. The result for a text does not depend on the other texts
  in the call (tested to 1e-5; measured ≤ 3e-8 for the ONNX model).
* Texts longer than ``max_tokens`` model tokens (including the two special tokens [CLS]/[SEP]) are
  truncated: only their start is embedded. Split long messages before embedding: a text is embedded
  whole iff ``count_tokens(text) <= max_text_tokens`` (= ``max_tokens - 2``).
* ``count_tokens(text)`` counts WordPiece tokens without special tokens and without truncation
  (``count_tokens("") == 0``); it only tokenizes (about 20-50 µs for a short message), never runs the model.
* All methods are thread-safe; the model is loaded on first use (about 0.3 s), or ahead of time
  with ``warm_up()``.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # pragma: no cover - typing only
    import numpy as np

    from .fake import FakeEmbedder
    from .onnx import OnnxEmbedder

__all__ = [
    "DIM",
    "MAX_TEXT_TOKENS",
    "MAX_TOKENS",
    "Embedder",
    "EmbedderUnavailable",
    "FakeEmbedder",
    "OnnxEmbedder",
    "get_background_embedder",
    "get_embedder",
    "reset_embedder",
]

#: Vector dimension of all-MiniLM-L6-v2 (and of the fake embedder, so they are interchangeable in tests).
DIM = 384
#: Model window in tokens, including [CLS] and [SEP] (sentence-transformers' max_seq_length for this model).
MAX_TOKENS = 256
#: Tokens of text (as counted by ``count_tokens``) that fit in one window without truncation.
MAX_TEXT_TOKENS = MAX_TOKENS - 2

ENV_VAR = "SATCHEL_EMBEDDER"


@runtime_checkable
class Embedder(Protocol):
    model_id: str
    dim: int
    max_tokens: int
    max_text_tokens: int

    def embed(self, texts: list[str]) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...


from .errors import EmbedderUnavailable  # noqa: E402  (stdlib-only module)

_lock = threading.Lock()
_instance: Embedder | None = None
_instance_kind: str | None = None


def _kind_from_env() -> str:
    kind = (os.environ.get(ENV_VAR) or "onnx").strip().lower()
    if kind not in ("onnx", "fake"):
        raise EmbedderUnavailable(f"{ENV_VAR}={kind!r} is not one of 'onnx' (default) or 'fake'.")
    return kind


def get_embedder() -> Embedder:
    """The process-wide embedder (built once, thread-safe).

    ``SATCHEL_EMBEDDER=fake`` gives the deterministic ``FakeEmbedder`` (unit tests only); anything else
    the real ``OnnxEmbedder``. Building checks that the model files are installed (raising
    ``EmbedderUnavailable`` with the fix if not) but loads nothing heavy: the ONNX session and the
    tokenizer are created on first use. If the environment variable changes (tests), a new instance is built.
    """
    global _instance, _instance_kind
    kind = _kind_from_env()
    inst = _instance
    if inst is not None and _instance_kind == kind:
        return inst
    with _lock:
        if _instance is None or _instance_kind != kind:
            if kind == "fake":
                from .fake import FakeEmbedder

                _instance = FakeEmbedder()
            else:
                from .onnx import OnnxEmbedder

                _instance = OnnxEmbedder()
            _instance_kind = kind
        return _instance


_background: Embedder | None = None


def get_background_embedder() -> Embedder:
    """The embedder for background work (the vault's backlog): the same model as ``get_embedder()`` in its
    own one-thread ONNX session, so a long batch never holds the session a query waits for, and run by a
    thread of lowered priority, it leaves a core to the person waiting on a search. The session is lean (see
    ``OnnxEmbedder``): as fast on batches, 230 MB smaller."""
    global _background
    main = get_embedder()
    from .onnx import OnnxEmbedder

    if not isinstance(main, OnnxEmbedder):
        return main
    with _lock:
        if _background is None or _background.model_id != main.model_id:
            _background = OnnxEmbedder(threads=1, lean=True)
        return _background


def reset_embedder() -> None:
    """Forget the cached singletons (tests)."""
    global _instance, _instance_kind, _background
    with _lock:
        _instance = None
        _instance_kind = None
        _background = None


def __getattr__(name: str) -> Any:  # lazy re-exports, so `import satchel.embed` stays light
    if name == "OnnxEmbedder":
        from .onnx import OnnxEmbedder

        return OnnxEmbedder
    if name == "FakeEmbedder":
        from .fake import FakeEmbedder

        return FakeEmbedder
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
