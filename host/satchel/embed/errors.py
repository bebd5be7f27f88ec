"""The embedder's error type (stdlib only)."""

from __future__ import annotations

from ..errors import ERROR_CODES, SatchelError


class EmbedderUnavailable(SatchelError):
    """The embedding model cannot be used: a package is missing, a file is damaged, onnxruntime fails.

    The message says what is wrong and how to fix it. Uses the protocol code ``embedder_unavailable``
    once errors.py has it, ``internal`` until then.
    """

    code = "embedder_unavailable" if "embedder_unavailable" in ERROR_CODES else "internal"
