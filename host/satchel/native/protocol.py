"""The reply envelope and protocol version: the one place they are built."""

from __future__ import annotations

from typing import Any

from satchel.errors import ERROR_CODES

# Bump when an action or a field is added; the extension checks it in `hello`.
PROTOCOL_VERSION = 1
# Oldest extension protocol this host still serves.
MIN_CLIENT_PROTOCOL = 1


def ok_reply(request_id: str | None, data: dict[str, Any]) -> dict[str, Any]:
    return {"id": request_id, "v": PROTOCOL_VERSION, "ok": True, "data": data}


def error_reply(request_id: str | None, code: str, message: str) -> dict[str, Any]:
    if code not in ERROR_CODES:
        code = "internal"
    return {"id": request_id, "v": PROTOCOL_VERSION, "ok": False, "error": {"code": code, "message": message}}


def request_id_of(obj: object) -> str | None:
    """Best-effort id for an error reply to a request that failed validation."""
    if isinstance(obj, dict):
        rid = obj.get("id")
        if isinstance(rid, str) and len(rid) <= 200:
            return rid
    return None
