"""Split a conversation's turns into sessions: runs of turns close in time.

A new session starts when the gap since the previous turn exceeds `gap` (30 minutes) or the calendar date
changes (in `tz`, UTC unless the caller passes the person's zone). Pure: no database, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

DEFAULT_GAP = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class Turn:
    """The little the splitter needs of a message row: `SELECT id, ordinal, created_at FROM messages`."""

    id: int
    ordinal: int
    created_at: datetime | None  # naive UTC (as the vault stores it) or aware


@dataclass(frozen=True, slots=True)
class Session:
    ordinal: int  # 0, 1, 2… within the conversation
    started_at: datetime | None
    ended_at: datetime | None
    first_message_id: int
    last_message_id: int
    message_ids: tuple[int, ...]


def _aware(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


def split_sessions(
    turns: Iterable[Turn | tuple[int, int, datetime | None]],
    *,
    gap: timedelta = DEFAULT_GAP,
    tz: tzinfo = UTC,
) -> list[Session]:
    """Group turns (in ordinal order) into sessions.

    A turn without a time stays in the current session (it was captured with its neighbours). Times that go
    backwards (an edited old message) never open a session on their own.
    """
    ordered = sorted((t if isinstance(t, Turn) else Turn(*t) for t in turns), key=lambda t: (t.ordinal, t.id))
    groups: list[list[Turn]] = []
    last_time: datetime | None = None
    for turn in ordered:
        when = _aware(turn.created_at) if turn.created_at is not None else None
        new = not groups
        if when is not None and last_time is not None and when > last_time:
            new = (when - last_time) > gap or when.astimezone(tz).date() != last_time.astimezone(tz).date()
        if new:
            groups.append([])
        groups[-1].append(turn)
        if when is not None and (last_time is None or when > last_time):
            last_time = when
    return [_session(i, g) for i, g in enumerate(groups)]


def _session(ordinal: int, turns: Sequence[Turn]) -> Session:
    times = [t.created_at for t in turns if t.created_at is not None]
    return Session(
        ordinal=ordinal,
        started_at=min(times, key=_aware) if times else None,
        ended_at=max(times, key=_aware) if times else None,
        first_message_id=turns[0].id,
        last_message_id=turns[-1].id,
        message_ids=tuple(t.id for t in turns),
    )


__all__ = ["DEFAULT_GAP", "Session", "Turn", "split_sessions"]
