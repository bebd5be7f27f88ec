"""The int8 vector matrix: cosines close to float32, rows cleared and copied exactly."""

from __future__ import annotations

import numpy as np
from satchel.retrieve.vectors import VectorMatrix


def _unit(rng: np.random.Generator, n: int, dim: int = 384) -> np.ndarray:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_cosines_match_float32_within_quantization_error_across_blocks():
    rng = np.random.default_rng(3)
    vectors = _unit(rng, 5000)
    matrix = VectorMatrix(384, block_rows=1024)  # several blocks and a partial last one
    matrix.set(np.arange(5000), vectors)
    query = _unit(rng, 1)[0]
    got = matrix.cosines(query, 5000)
    exact = vectors @ query
    assert np.abs(got - exact).max() < 0.003
    assert len(set(np.argsort(-got)[:50]) & set(np.argsort(-exact)[:50])) >= 45
    assert matrix.nbytes() < vectors.nbytes / 3  # the point of the codes


def test_rows_without_vectors_score_zero_and_clear_forgets():
    rng = np.random.default_rng(4)
    vectors = _unit(rng, 10)
    matrix = VectorMatrix(384, block_rows=8)
    matrix.set(np.array([0, 3, 9]), vectors[[0, 3, 9]])
    query = vectors[3]
    cos = matrix.cosines(query, 10)
    assert cos[3] > 0.99 and cos[1] == 0.0 and cos[5] == 0.0
    assert matrix.present[[0, 3, 9]].all() and not matrix.present[1]
    matrix.clear(np.array([3]))
    assert matrix.cosines(query, 10)[3] == 0.0 and not matrix.present[3]
    assert not matrix.vector(3).any()


def test_codes_copy_between_matrices_without_drift():
    rng = np.random.default_rng(5)
    vectors = _unit(rng, 20)
    a = VectorMatrix(384, block_rows=8)
    a.set(np.arange(20), vectors)
    b = VectorMatrix(384, block_rows=16)
    b.set_codes(np.arange(20)[::-1], *a.rows(np.arange(20)))
    assert np.array_equal(b.vector(19), a.vector(0))
    assert np.allclose(a.vector(7), vectors[7], atol=0.003)


def test_zero_vector_stays_zero():
    matrix = VectorMatrix(4, block_rows=4)
    matrix.set(np.array([1]), np.zeros((1, 4), np.float32))
    assert not np.isnan(matrix.cosines(np.array([1, 0, 0, 0], np.float32), 2)).any()


def test_two_thread_scan_of_a_big_matrix_equals_the_one_thread_scan(monkeypatch):
    from satchel.retrieve import vectors as vectors_mod

    rng = np.random.default_rng(6)
    n = 40_000  # above the parallel threshold, across two blocks
    data = _unit(rng, n, 64)
    matrix = VectorMatrix(64, block_rows=1 << 15)
    matrix.set(np.arange(n), data)
    query = _unit(rng, 1, 64)[0]
    both = matrix.cosines(query, n)
    monkeypatch.setattr(vectors_mod, "_PARALLEL_ROWS", 10**9)
    single = matrix.cosines(query, n)
    assert np.array_equal(both, single)
    assert np.abs(single - data @ query).max() < 0.006  # 64 dimensions: coarser codes than 384
