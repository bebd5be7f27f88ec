"""Timestamps: the vault stores naive UTC; the protocol speaks ISO-8601."""

from __future__ import annotations

from datetime import UTC, datetime

from satchel.errors import InvalidParams


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def parse_time(value: object, field: str = "created_at") -> datetime | None:
    """ISO-8601 string (with or without offset, 'Z' allowed) or epoch seconds -> naive UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidParams(f"{field} must be an ISO-8601 string")
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(float(value), UTC).replace(tzinfo=None)
        except (OverflowError, OSError, ValueError):
            raise InvalidParams(f"{field} is out of range") from None
    if not isinstance(value, str):
        raise InvalidParams(f"{field} must be an ISO-8601 string")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidParams(f"{field} is not an ISO-8601 time: {value[:40]!r}") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.replace(microsecond=value.microsecond).isoformat() + "Z"


def epoch(value: datetime | None) -> float:
    return 0.0 if value is None else value.replace(tzinfo=UTC).timestamp()
