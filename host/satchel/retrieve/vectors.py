"""Exact vector search over an in-memory float32 matrix (rows shared with the keyword index).

The matrix is a list of fixed-size blocks, so growing never copies what is there (no 2x memory peak at a
million rows) and at most one block is partly empty. Search is one matrix-vector product per block (BLAS).
"""

from __future__ import annotations

import numpy as np

BLOCK_ROWS = 1 << 16


class VectorMatrix:
    """One L2-normalised vector per row; rows without a vector are zero (cosine 0) and flagged in ``present``."""

    def __init__(self, dim: int, block_rows: int = BLOCK_ROWS) -> None:
        self.dim = dim
        self.block_rows = block_rows
        self.blocks: list[np.ndarray] = []
        self.present = np.zeros(0, dtype=bool)

    def ensure(self, n_rows: int) -> None:
        while len(self.blocks) * self.block_rows < n_rows:
            self.blocks.append(np.zeros((self.block_rows, self.dim), dtype=np.float32))
        if self.present.size < n_rows:
            present = np.zeros(len(self.blocks) * self.block_rows, dtype=bool)
            present[: self.present.size] = self.present
            self.present = present

    def set(self, rows: np.ndarray, vectors: np.ndarray) -> None:
        self.ensure(int(rows.max()) + 1 if rows.size else 0)
        for b, (block_rows, block_vecs) in self._by_block(rows, vectors):
            self.blocks[b][block_rows] = block_vecs
        self.present[rows] = True

    def clear(self, rows: np.ndarray) -> None:
        for b, (block_rows, _) in self._by_block(rows, None):
            self.blocks[b][block_rows] = 0.0
        self.present[rows] = False

    def _by_block(self, rows: np.ndarray, vectors: np.ndarray | None):
        rows = np.asarray(rows, np.int64)
        block_of = rows // self.block_rows
        for b in np.unique(block_of).tolist():
            sel = block_of == b
            yield b, (rows[sel] - b * self.block_rows, vectors[sel] if vectors is not None else None)

    def cosines(self, query: np.ndarray, n_rows: int) -> np.ndarray:
        """Cosine of each of the first ``n_rows`` rows to the normalised ``query``."""
        out = np.empty(n_rows, dtype=np.float32)
        for b, block in enumerate(self.blocks):
            start = b * self.block_rows
            if start >= n_rows:
                break
            stop = min(start + self.block_rows, n_rows)
            np.dot(block[: stop - start], query, out=out[start:stop])
        return out

    def vector(self, row: int) -> np.ndarray:
        return self.blocks[row // self.block_rows][row % self.block_rows]

    def nbytes(self) -> int:
        return sum(b.nbytes for b in self.blocks) + self.present.nbytes
