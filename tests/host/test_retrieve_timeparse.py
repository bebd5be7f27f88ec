"""Time expressions in a prompt become the period they name, relative to a given 'now'."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from satchel.retrieve.timeparse import parse_time_expression

NOW = datetime(2023, 8, 20, 15, 30, tzinfo=UTC).timestamp()  # a Sunday


def span(prompt: str, now: float = NOW) -> tuple[str, str, str] | None:
    found = parse_time_expression(prompt, now)
    if found is None:
        return None
    since, until, cleaned = found
    day = lambda t: datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d")  # noqa: E731
    return day(since), day(until), cleaned


@pytest.mark.parametrize(("prompt", "since", "until"), [
    ("what did I say yesterday", "2023-08-19", "2023-08-20"),
    ("notes from today", "2023-08-20", "2023-08-21"),
    ("last week's plan", "2023-08-07", "2023-08-14"),
    ("this month", "2023-08-01", "2023-09-01"),
    ("last month", "2023-07-01", "2023-08-01"),
    ("last year", "2022-01-01", "2023-01-01"),
    ("the recipe from last spring", "2023-03-01", "2023-06-01"),
    ("what we planned in the summer of 2021", "2021-06-01", "2021-09-01"),
    ("what did we discuss in May", "2023-05-01", "2023-06-01"),
    ("in September", "2022-09-01", "2022-10-01"),  # the most recent September is last year's
    ("last August", "2022-08-01", "2022-09-01"),  # we are in August: "last August" is the one before
    ("March 2021 budget", "2021-03-01", "2021-04-01"),
    ("back in 2019", "2019-01-01", "2020-01-01"),
    ("last Friday", "2023-08-18", "2023-08-19"),
])
def test_periods(prompt: str, since: str, until: str) -> None:
    found = span(prompt)
    assert found is not None and found[:2] == (since, until)


def test_a_named_day_is_widened_by_half_a_day_for_time_zones() -> None:
    since, until, cleaned = parse_time_expression("what did I plan on 7 July, 2023?", NOW)
    assert datetime.fromtimestamp(since, UTC) == datetime(2023, 7, 6, 12, tzinfo=UTC)
    assert datetime.fromtimestamp(until, UTC) == datetime(2023, 7, 8, 12, tzinfo=UTC)
    assert cleaned == "what did I plan on ?"


@pytest.mark.parametrize("prompt", ["October 13, 2023 painting", "the 8th December, 2023 book",
                                    "2023-10-13 notes", "13 Oct 2023"])
def test_date_formats(prompt: str) -> None:
    assert span(prompt, datetime(2024, 1, 1, tzinfo=UTC).timestamp()) is not None


def test_n_units_ago_is_a_window_around_that_day() -> None:
    since, until, cleaned = span("three weeks ago I asked about tents")
    assert since <= "2023-07-30" <= until and until <= "2023-08-21"
    assert cleaned == "I asked about tents"


def test_the_expression_is_removed_from_the_prompt() -> None:
    assert span("the recipe from last spring")[2] == "the recipe from"


@pytest.mark.parametrize("prompt", [
    "you may want to restart", "how do I march a cursor", "when did I first ask about docker",
    "explain kubernetes", "", "the 2 of us",
])
def test_no_period_without_a_time_expression(prompt: str) -> None:
    assert parse_time_expression(prompt, NOW) is None


def test_a_future_date_without_a_year_means_last_year() -> None:
    assert span("on 25 December")[:2] == ("2022-12-24", "2022-12-26")
