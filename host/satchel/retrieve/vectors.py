"""Exact vector search over a growable in-memory matrix (rows shared with the keyword index)."""

from __future__ import annotations

import numpy as np


class VectorMatrix:
    """One L2-normalised vector per row; rows without a vector are zero (cosine 0) and flagged in ``present``."""

    def __init__(self, dim: int, capacity: int = 1024) -> None:
        self.dim = dim
        self.data = np.zeros((capacity, dim), dtype=np.float32)
        self.present = np.zeros(capacity, dtype=bool)

    def ensure(self, n_rows: int) -> None:
        cap = self.data.shape[0]
        if n_rows <= cap:
            return
        new_cap = max(n_rows, cap * 2)
        data = np.zeros((new_cap, self.dim), dtype=np.float32)
        data[:cap] = self.data
        present = np.zeros(new_cap, dtype=bool)
        present[:cap] = self.present
        self.data, self.present = data, present

    def set(self, rows: np.ndarray, vectors: np.ndarray) -> None:
        self.data[rows] = vectors
        self.present[rows] = True

    def clear(self, rows: np.ndarray) -> None:
        self.data[rows] = 0.0
        self.present[rows] = False

    def cosines(self, query: np.ndarray, n_rows: int, rows: np.ndarray | None = None) -> np.ndarray:
        """Cosine of every row (or of ``rows`` only) to the normalised ``query``."""
        if rows is not None:
            return self.data[rows] @ query
        return self.data[:n_rows] @ query

    def nbytes(self) -> int:
        return self.data.nbytes + self.present.nbytes
