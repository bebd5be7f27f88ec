"""Sessions: runs of turns close in time; a long pause or a new day starts the next one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from satchel.memory.sessions import Turn, split_sessions

T0 = datetime(2026, 5, 3, 9, 0)


def turns(*minutes: float | None) -> list[Turn]:
    return [Turn(i + 100, i, None if m is None else T0 + timedelta(minutes=m)) for i, m in enumerate(minutes)]


def test_turns_close_in_time_are_one_session() -> None:
    (session,) = split_sessions(turns(0, 1, 5, 20, 49))
    assert session.message_ids == (100, 101, 102, 103, 104)
    assert (session.first_message_id, session.last_message_id) == (100, 104)
    assert session.started_at == T0 and session.ended_at == T0 + timedelta(minutes=49)


def test_a_gap_longer_than_30_minutes_starts_a_new_session() -> None:
    sessions = split_sessions(turns(0, 10, 40, 71, 72))
    assert [s.message_ids for s in sessions] == [(100, 101, 102), (103, 104)]
    assert [s.ordinal for s in sessions] == [0, 1]


def test_exactly_30_minutes_is_still_the_same_session() -> None:
    assert len(split_sessions(turns(0, 30))) == 1


def test_a_date_change_starts_a_new_session_even_after_a_short_gap() -> None:
    late = datetime(2026, 5, 3, 23, 50)
    rows = [Turn(1, 0, late), Turn(2, 1, late + timedelta(minutes=15))]
    assert [s.message_ids for s in split_sessions(rows)] == [(1,), (2,)]


def test_the_date_is_taken_in_the_given_time_zone() -> None:
    # 22:50 and 23:05 UTC are the same day in UTC but straddle midnight in UTC+1.
    a, b = datetime(2026, 5, 3, 22, 50), datetime(2026, 5, 3, 23, 5)
    rows = [Turn(1, 0, a), Turn(2, 1, b)]
    assert len(split_sessions(rows)) == 1
    assert len(split_sessions(rows, tz=timezone(timedelta(hours=1)))) == 2


def test_turns_are_ordered_by_ordinal_not_by_input_order() -> None:
    rows = list(reversed(turns(0, 1, 100)))
    assert [s.message_ids for s in split_sessions(rows)] == [(100, 101), (102,)]


def test_turns_without_time_stay_with_their_neighbours() -> None:
    sessions = split_sessions(turns(0, None, 5, 120, None))
    assert [s.message_ids for s in sessions] == [(100, 101, 102), (103, 104)]


def test_a_time_going_backwards_does_not_open_a_session() -> None:
    sessions = split_sessions(turns(0, 10, -300, 15))
    assert len(sessions) == 1


def test_no_times_at_all_is_one_session_without_dates() -> None:
    (session,) = split_sessions(turns(None, None))
    assert session.started_at is None and session.ended_at is None


def test_rows_as_tuples_and_aware_times_are_accepted() -> None:
    rows = [(1, 0, datetime(2026, 1, 1, 10, tzinfo=UTC)), (2, 1, datetime(2026, 1, 1, 12))]
    assert [s.message_ids for s in split_sessions(rows)] == [(1,), (2,)]


def test_custom_gap() -> None:
    assert len(split_sessions(turns(0, 10, 20), gap=timedelta(minutes=5))) == 3


def test_empty_conversation_has_no_sessions() -> None:
    assert split_sessions([]) == []
