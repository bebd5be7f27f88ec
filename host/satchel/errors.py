"""Typed errors raised by the core; the native layer turns them into error replies.

Error codes are part of the protocol: append-only, never renamed or reused.
"""

from __future__ import annotations

# code -> meaning. Append only.
ERROR_CODES: dict[str, str] = {
    "bad_frame": "The frame could not be read (truncated, invalid UTF-8 or not JSON).",
    "too_large": "The message is larger than the host accepts.",
    "bad_request": "The request envelope is malformed (id/type/params).",
    "unknown_action": "No action of that name.",
    "invalid_params": "The action's parameters are missing or of the wrong type.",
    "not_found": "The conversation, message or memory does not exist.",
    "vault_unavailable": "The vault could not be opened or reached.",
    "internal": "An unexpected error; the host logged it and keeps serving.",
    "forbidden": "The action is not allowed from this client.",
    "import_failed": "The file could not be imported; nothing was written.",
    "disk_full": "The disk is full; nothing new was stored, nothing stored was lost.",
    "timeout": "The vault did not answer in time.",
    "vault_corrupt": "The vault file is damaged; see `satchel doctor` for recovery.",
    "embedder_unavailable": "The embedding model could not be loaded; keyword search still works.",
}


class SatchelError(Exception):
    """Base class: carries a protocol error code and a human message."""

    code = "internal"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        assert self.code in ERROR_CODES, self.code

    @property
    def message(self) -> str:
        return str(self)


class FrameError(SatchelError):
    code = "bad_frame"


class TooLarge(SatchelError):
    code = "too_large"


class BadRequest(SatchelError):
    code = "bad_request"


class UnknownAction(SatchelError):
    code = "unknown_action"


class InvalidParams(SatchelError):
    code = "invalid_params"


class NotFound(SatchelError):
    code = "not_found"


class VaultUnavailable(SatchelError):
    code = "vault_unavailable"


class Forbidden(SatchelError):
    code = "forbidden"


class ImportFailed(SatchelError):
    code = "import_failed"


class DiskFull(SatchelError):
    code = "disk_full"


class VaultCorrupt(SatchelError):
    code = "vault_corrupt"
