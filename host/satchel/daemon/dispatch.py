"""The message table: every action name maps to one handler(vault, params) -> data.

Parameters are checked here, at the edge, so the vault can trust its arguments.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from satchel import __version__
from satchel.errors import BadRequest, Forbidden, InvalidParams, SatchelError, UnknownAction
from satchel.native.framing import MAX_OUTGOING, without_lone_surrogates
from satchel.native.protocol import MIN_CLIENT_PROTOCOL, PROTOCOL_VERSION, error_reply, ok_reply, request_id_of
from satchel.vault.store import ROLES, Vault

log = logging.getLogger("satchel.dispatch")

MAX_TEXT = 2_000_000  # one message's text, characters
MAX_MESSAGES = 5_000  # per capture request
MAX_QUERY = 10_000
MAX_K = 100
MAX_HIT_TEXT = 4000
REPLY_TEXT_BUDGET = 700_000  # bytes of message text in one conversation.get page (replies stay under 1 MB)
Handler = Callable[[Vault, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Action:
    handler: Handler
    # Actions only the local user's own tools may call (never a browser, whose pages are untrusted input).
    cli_only: bool = False


# ----------------------------------------------------------------- parameter checks
def _str(params: dict[str, Any], key: str, *, required: bool = False, max_len: int = 2000,
         where: str = "") -> str | None:
    value = params.get(key)
    if value is None:
        if required:
            raise InvalidParams(f"{where}{key} is required")
        return None
    if not isinstance(value, str):
        raise InvalidParams(f"{where}{key} must be a string")
    if required and not value.strip():
        raise InvalidParams(f"{where}{key} must not be empty")
    if len(value) > max_len:
        raise InvalidParams(f"{where}{key} is longer than {max_len} characters")
    return value


def _int(params: dict[str, Any], key: str, default: int, lo: int, hi: int) -> int:
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParams(f"{key} must be an integer")
    if not lo <= value <= hi:
        raise InvalidParams(f"{key} must be between {lo} and {hi}")
    return value


def _conv_ref(params: dict[str, Any], key: str) -> dict[str, str] | None:
    value = params.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidParams(f"{key} must be an object with provider and id")
    return {"provider": _str(value, "provider", required=True, max_len=200, where=f"{key}."),
            "id": _str(value, "id", required=True, max_len=500, where=f"{key}.")}


def _check_capture(params: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    conversation = params.get("conversation")
    if not isinstance(conversation, dict):
        raise InvalidParams("conversation must be an object with provider and id")
    conv = {
        "provider": _str(conversation, "provider", required=True, max_len=200, where="conversation."),
        "id": _str(conversation, "id", required=True, max_len=500, where="conversation."),
        "title": _str(conversation, "title", max_len=2000, where="conversation."),
        "url": _str(conversation, "url", max_len=4000, where="conversation."),
        "model": _str(conversation, "model", max_len=200, where="conversation."),
        "created_at": conversation.get("created_at"),
    }
    messages = params.get("messages")
    if not isinstance(messages, list):
        raise InvalidParams("messages must be a list")
    if len(messages) > MAX_MESSAGES:
        raise InvalidParams(f"at most {MAX_MESSAGES} messages per capture")
    checked = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]."
        if not isinstance(message, dict):
            raise InvalidParams(f"messages[{index}] must be an object")
        role = _str(message, "role", required=True, max_len=20, where=where)
        if role not in ROLES:
            raise InvalidParams(f"{where}role must be one of {', '.join(ROLES)}")
        text = message.get("text")
        if not isinstance(text, str):
            raise InvalidParams(f"{where}text must be a string")
        if len(text) > MAX_TEXT:
            raise InvalidParams(f"{where}text is longer than {MAX_TEXT} characters")
        item = {"role": role, "text": text,
                "id": _str(message, "id", max_len=500, where=where),
                "created_at": message.get("created_at"),
                "model": _str(message, "model", max_len=200, where=where)}
        if not text.strip():
            continue  # an empty turn (an image-only message, a placeholder) carries nothing to remember
        checked.append(item)
    return conv, checked


# ----------------------------------------------------------------- handlers
def hello(vault: Vault, params: dict[str, Any]) -> dict[str, Any]:
    return {"host_version": __version__, "protocol_version": PROTOCOL_VERSION,
            "min_client_protocol": MIN_CLIENT_PROTOCOL, "vault": {"state": "ready"}}


def capture(vault: Vault, params: dict[str, Any]) -> dict[str, Any]:
    conversation, messages = _check_capture(params)
    return vault.capture(conversation, messages)


def search(vault: Vault, params: dict[str, Any]) -> dict[str, Any]:
    query = _str(params, "query", required=True, max_len=MAX_QUERY)
    hits = vault.search(
        query, _int(params, "k", 10, 1, MAX_K),
        provider=_str(params, "provider", max_len=200), conversation=_conv_ref(params, "conversation"),
        since=_str(params, "since", max_len=64), until=_str(params, "until", max_len=64),
        strict=False,  # the person typed this query: literal matches count even where the meaning is far off
    )
    return {"hits": [_snippet({k: v for k, v in h.items() if not k.startswith("_")}) for h in hits]}


def _snippet(hit: dict[str, Any]) -> dict[str, Any]:
    """A hit carries at most MAX_HIT_TEXT characters (ten hits must fit a 1 MB reply); the whole message is
    one `conversation.get` away."""
    if len(hit["text"]) > MAX_HIT_TEXT:
        hit["text"] = hit["text"][:MAX_HIT_TEXT] + "…"
        hit["truncated"] = True
    return hit


def context(vault: Vault, params: dict[str, Any]) -> dict[str, Any]:
    prompt = _str(params, "prompt", required=True, max_len=MAX_QUERY)
    return vault.context(prompt, budget_tokens=_int(params, "budget_tokens", 800, 50, 32_000),
                         exclude=_conv_ref(params, "exclude"))


def conversations_list(vault: Vault, params: dict[str, Any]) -> dict[str, Any]:
    return vault.list_conversations(limit=_int(params, "limit", 50, 1, 500),
                                    offset=_int(params, "offset", 0, 0, 10**9),
                                    provider=_str(params, "provider", max_len=200))


def conversation_get(vault: Vault, params: dict[str, Any]) -> dict[str, Any]:
    return vault.get_conversation(
        _str(params, "provider", required=True, max_len=200), _str(params, "id", required=True, max_len=500),
        offset=_int(params, "offset", 0, 0, 10**9), limit=_int(params, "limit", 200, 1, 1000),
        history=bool(params.get("history", False)), max_bytes=REPLY_TEXT_BUDGET,
    )


def forget(vault: Vault, params: dict[str, Any]) -> dict[str, Any]:
    scope = _str(params, "scope", required=True, max_len=20)
    if scope == "all" and params.get("confirm") is not True:
        raise InvalidParams("forgetting everything needs confirm: true")
    provider = _str(params, "provider", required=scope in ("provider", "conversation", "message"), max_len=200)
    conv_id = _str(params, "id", required=scope in ("conversation", "message"), max_len=500)
    message_id = _str(params, "message_id", required=scope == "message", max_len=500)
    return {"removed": vault.forget(scope, provider=provider, conversation_id=conv_id, message_id=message_id)}


def stats(vault: Vault, params: dict[str, Any]) -> dict[str, Any]:
    return vault.stats()


def _memory_id(params: dict[str, Any]) -> int:
    value = params.get("id")
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParams("id must be a memory id (integer)")
    return value


def memories_list(vault: Vault, params: dict[str, Any]) -> dict[str, Any]:
    from satchel.vault.memories import list_memories

    status = _str(params, "status", max_len=20) or "active"
    if status not in ("active", "superseded", "deleted", "all"):
        raise InvalidParams("status must be active, superseded, deleted or all")
    return list_memories(vault, status=status, kind=_str(params, "kind", max_len=20),
                         limit=_int(params, "limit", 100, 1, 500), offset=_int(params, "offset", 0, 0, 10**9))


def memory_get(vault: Vault, params: dict[str, Any]) -> dict[str, Any]:
    from satchel.vault.memories import get_memory

    return {"memory": get_memory(vault, _memory_id(params))}


def memory_add(vault: Vault, params: dict[str, Any]) -> dict[str, Any]:
    from satchel.vault.memories import KINDS, add_memory

    kind = _str(params, "kind", max_len=20)
    if kind is not None and kind not in KINDS:
        raise InvalidParams(f"kind must be one of {', '.join(KINDS)}")
    return {"memory": add_memory(vault, _str(params, "text", required=True, max_len=2000), kind)}


def memory_update(vault: Vault, params: dict[str, Any]) -> dict[str, Any]:
    from satchel.vault.memories import update_memory

    pinned = params.get("pinned")
    if pinned is not None and not isinstance(pinned, bool):
        raise InvalidParams("pinned must be true or false")
    return {"memory": update_memory(vault, _memory_id(params), text=_str(params, "text", max_len=2000),
                                    pinned=pinned, kind=_str(params, "kind", max_len=20))}


def memory_delete(vault: Vault, params: dict[str, Any]) -> dict[str, Any]:
    from satchel.vault.memories import delete_memory

    return delete_memory(vault, _memory_id(params))


SETTINGS = {"llm.base_url": str, "llm.model": str, "llm.timeout": (int, float), "llm.allow_remote": bool,
            "llm.api_key": str}


def settings_get(vault: Vault, params: dict[str, Any]) -> dict[str, Any]:
    values = vault.settings()
    if "llm.api_key" in values:
        values["llm.api_key"] = "(set)"
    return {"settings": values}


def settings_set(vault: Vault, params: dict[str, Any]) -> dict[str, Any]:
    key = _str(params, "key", required=True, max_len=100)
    if key not in SETTINGS:
        raise InvalidParams(f"unknown setting {key!r}; known: {', '.join(SETTINGS)}")
    value = params.get("value")
    if value is not None and ((isinstance(value, bool) and SETTINGS[key] is not bool)
                              or not isinstance(value, SETTINGS[key])):
        raise InvalidParams(f"{key} has the wrong type")
    vault.set_setting(key, value)
    return settings_get(vault, {})


ACTIONS: dict[str, Action] = {
    "hello": Action(hello),
    "capture": Action(capture),
    "search": Action(search),
    "context": Action(context),
    "conversations.list": Action(conversations_list),
    "conversation.get": Action(conversation_get),
    "forget": Action(forget),
    "stats": Action(stats),
    "memories.list": Action(memories_list),
    "memory.get": Action(memory_get),
    "memory.add": Action(memory_add),
    "memory.update": Action(memory_update),
    "memory.delete": Action(memory_delete),
    # Where a local model lives is the person's choice on this machine, not a page's or an add-on's.
    "settings.get": Action(settings_get, cli_only=True),
    "settings.set": Action(settings_set, cli_only=True),
}


def register(name: str, handler: Handler, *, cli_only: bool = False) -> None:
    """Feature modules (memory, portable) add their actions here at import time."""
    ACTIONS[name] = Action(handler, cli_only)


# ----------------------------------------------------------------- envelope
def handle(vault: Vault, request: object, *, client: str = "cli") -> dict[str, Any]:
    """One request object in, one reply envelope out. Never raises."""
    request_id = request_id_of(request)
    try:
        request = without_lone_surrogates(request)
        if not isinstance(request, dict):
            raise BadRequest("a request must be a JSON object")
        if not isinstance(request.get("id"), str) or not request["id"]:
            raise BadRequest("id must be a non-empty string")
        action_name = request.get("type")
        if not isinstance(action_name, str):
            raise BadRequest("type must be a string")
        action = ACTIONS.get(action_name)
        if action is None:
            raise UnknownAction(f"unknown action {action_name[:100]!r}")
        if action.cli_only and client == "browser":
            raise Forbidden(f"{action_name} is not available to the browser")
        params = request.get("params", {})
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise BadRequest("params must be an object")
        data = action.handler(vault, params)
        reply = ok_reply(request_id, data)
    except SatchelError as exc:
        reply = error_reply(request_id, exc.code, exc.message)
    except Exception as exc:
        log.exception("action failed")
        reply = error_reply(request_id, "internal", f"{type(exc).__name__}: {exc}"[:500])
    return reply


def fits(reply: dict[str, Any], encoded_size: int) -> dict[str, Any]:
    """Replace a reply the browser would refuse (over 1 MB) by an error that says how to page."""
    if encoded_size <= MAX_OUTGOING:
        return reply
    return error_reply(reply.get("id"), "too_large",
                       "the reply is larger than 1 MB; ask for fewer items (limit/k) and page with offset")
