"""The benchmark at toy sizes, so the scripts cannot rot. Figures are not checked: this is not a timed test."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import datagen  # noqa: E402
import peers  # noqa: E402


def test_datagen_is_deterministic_and_exact() -> None:
    a = list(datagen.generate(300, seed=4))
    b = list(datagen.generate(300, seed=4))
    assert a == b
    assert sum(len(m) for _, m in a) == 300
    assert a != list(datagen.generate(300, seed=5))
    roles = {m["role"] for _, msgs in a for m in msgs}
    assert roles == {"user", "assistant"}
    assert {c["provider"] for c, _ in a} <= set(datagen.PROVIDERS)
    users = [len(m["text"]) for _, msgs in a for m in msgs if m["role"] == "user"]
    answers = [len(m["text"]) for _, msgs in a for m in msgs if m["role"] == "assistant"]
    assert np.median(answers) > 4 * np.median(users)  # short prompts, long answers
    queries = datagen.make_queries(5, 1, a)
    assert len(queries) == 5 and all(q["query"] for q in queries)


def test_peers_find_a_stored_vector_first() -> None:
    texts = [m["text"] for _, msgs in datagen.generate(120, seed=2) for m in msgs]
    ids = np.arange(1, len(texts) + 1, dtype=np.int64)
    vectors = datagen.topic_vectors(np.arange(len(texts)) % 7, seed=3)
    todo: list = [peers.NumpyFloor(), peers.SqlitePeer()]
    try:
        import chromadb  # noqa: F401

        todo.append(peers.ChromaPeer())
    except ImportError:
        pass
    for peer in todo:
        try:
            peer.build(ids, texts, vectors)
        except ImportError as exc:  # apsw / sqlite-vec not installed: the bench extra is optional
            pytest.skip(f"bench extra missing: {exc}")
        assert peer.vector(vectors[10], 5)[0] == ids[10], peer.name
        if isinstance(peer, peers.SqlitePeer):
            word = next(w for w in texts[0].split() if w.isalpha() and len(w) > 6)
            assert peer.keyword(word, 5), "FTS5 finds a word of a stored text"
        peer.close()


def test_run_prints_the_table(tmp_path: Path) -> None:
    """The whole script at a toy size: a real `satchel host` and vault owner, peers, the table."""
    pytest.importorskip("apsw")
    pytest.importorskip("sqlite_vec")
    env = {k: v for k, v in os.environ.items() if k != "SATCHEL_HOME"}
    env["SATCHEL_EMBEDDER"] = "fake"  # the fake model keeps the toy run fast; the real bench uses ONNX
    env["SATCHEL_EMBED_IDLE"] = "0.2"
    out = tmp_path / "table.md"
    proc = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--sizes", "200", "--queries", "3", "--captures", "1",
         "--embed-texts", "0", "--no-chroma", "--quiet", "--workdir", str(tmp_path), "--out", str(out)],
        env=env, capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = proc.stdout
    assert table.startswith("| figure | size | Satchel |")
    for fig in ("`search` p50", "`context` p50", "capture → searchable by keyword", "host start → `hello`",
                "vector top-10 in-process, every row scanned", "disk", "vault owner RSS"):
        assert fig in table, fig
    assert "nan" not in table.split("Machine:")[0]
    # The int8 codes find (almost) the float32 top 10: the run measures it against numpy's exact answer.
    recall = float(re.search(r"recall@10 vs exact (\d\.\d+)", table).group(1))
    assert recall >= 0.9
    assert out.read_text().startswith(table.strip()[:40])
