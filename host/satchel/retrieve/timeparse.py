"""Time expressions in a prompt -> the period they name.

``parse_time_expression(prompt, now)`` returns ``(since, until, cleaned_prompt)`` in epoch seconds (UTC,
half-open ``[since, until)``) for the first expression found, or ``None``. Pure: the clock is a parameter.

Understood: yesterday, today, this morning, last night, last/this week|weekend|month|year, N days|weeks|months|
years ago (also "a few", "a couple of"), recently/lately, (last|this|on) <weekday>, (in|last|this|during) <month>
[year], <month> <year>, in|during <year>, (last|this) spring|summer|autumn|fall|winter, in the <season> of <year>,
dates (2023-05-08, 7 July 2023, October 13, 2023, 8th December, 2023).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

MONTHS = {
    name: i + 1
    for i, names in enumerate([
        ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
        ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"), ("october", "oct"),
        ("november", "nov"), ("december", "dec"),
    ])
    for name in names
}
WEEKDAYS = {d: i for i, d in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                                        "sunday"))}
SEASONS = {"spring": 3, "summer": 6, "autumn": 9, "fall": 9, "winter": 12}  # first month (northern hemisphere)
UNITS = {"day": 1, "week": 7, "month": 30, "year": 365}
NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
           "eight": 8, "nine": 9, "ten": 10, "a few": 3, "a couple of": 2, "a couple": 2, "few": 3, "several": 4}

_MONTH_RE = "|".join(sorted(MONTHS, key=len, reverse=True))
_FULL_MONTH_RE = "|".join(m for m in MONTHS if len(m) > 3 or m == "may")
_NUM_RE = "|".join(sorted((re.escape(k) for k in NUMBERS), key=len, reverse=True)) + r"|\d+"

Period = tuple[float, float, str]


def _dt(year: int, month: int = 1, day: int = 1) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


def _add_months(year: int, month: int, n: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + n
    return index // 12, index % 12 + 1


def _month_span(year: int, month: int, months: int = 1) -> tuple[datetime, datetime]:
    y2, m2 = _add_months(year, month, months)
    return _dt(year, month), _dt(y2, m2)


def _day_span(day: datetime) -> tuple[datetime, datetime]:
    """A calendar day, widened by half a day each side: stored times are UTC, the person's day is local."""
    return day - timedelta(hours=12), day + timedelta(hours=36)


def _day(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def _most_recent_month(now: datetime, month: int, *, skip_current: bool) -> int:
    """Year of the latest ``month`` that has started by ``now`` (the one before, if ``skip_current``)."""
    year = now.year if month <= now.month else now.year - 1
    if skip_current and year == now.year and month == now.month:
        year -= 1
    return year


def _season_span(now: datetime, season: str, which: str, year: int | None) -> tuple[datetime, datetime]:
    first = SEASONS[season]
    if year is not None:
        start_year = year  # "winter of 2022" = Dec 2022 - Feb 2023
    else:
        start_year = now.year if _dt(now.year, first) <= now else now.year - 1
        _, end = _month_span(start_year, first, 3)
        if which == "last" and end > now:  # still in (or before the end of) it: the previous one
            start_year -= 1
    return _month_span(start_year, first, 3)


def _rules(now: datetime):
    today = _day(now)
    nums = NUMBERS

    def num(text: str) -> int:
        text = text.lower()
        return int(text) if text.isdigit() else nums.get(text, 1)

    def ago(m: re.Match) -> tuple[datetime, datetime]:
        n = num(m.group("n"))
        days = UNITS[m.group("unit").lower()] * n
        centre = today - timedelta(days=days)
        slack = timedelta(days=max(1, days // 3))  # "three weeks ago" is not a precise date
        return centre - slack, min(centre + slack + timedelta(days=1), today + timedelta(days=1))

    def relative_unit(m: re.Match) -> tuple[datetime, datetime]:
        which, unit = m.group("which").lower(), m.group("unit").lower()
        shift = -1 if which in ("last", "past", "previous") else 0
        if unit == "week":
            start = today - timedelta(days=today.weekday()) + timedelta(weeks=shift)
            return start, start + timedelta(weeks=1)
        if unit == "weekend":
            saturday = today - timedelta(days=(today.weekday() - 5) % 7)
            if shift < 0 and saturday + timedelta(days=2) > now:
                saturday -= timedelta(weeks=1)
            return saturday, saturday + timedelta(days=2)
        if unit == "month":
            y, mo = _add_months(now.year, now.month, shift)
            return _month_span(y, mo)
        return _dt(now.year + shift), _dt(now.year + shift + 1)

    def weekday(m: re.Match) -> tuple[datetime, datetime]:
        target = WEEKDAYS[m.group("wd").lower()]
        back = (today.weekday() - target) % 7
        if back == 0 and (m.group("which") or "").lower() == "last":
            back = 7
        start = today - timedelta(days=back)
        return start, start + timedelta(days=1)

    def month(m: re.Match) -> tuple[datetime, datetime]:
        mo = MONTHS[m.group("month").lower()]
        year = m.group("year")
        which = (m.group("which") or "").lower()
        y = int(year) if year else _most_recent_month(now, mo, skip_current=which == "last")
        return _month_span(y, mo)

    def year_only(m: re.Match) -> tuple[datetime, datetime]:
        y = int(m.group("year"))
        return _dt(y), _dt(y + 1)

    def season(m: re.Match) -> tuple[datetime, datetime]:
        year = m.group("year")
        return _season_span(now, m.group("season").lower(), (m.group("which") or "").lower(),
                            int(year) if year else None)

    def iso(m: re.Match) -> tuple[datetime, datetime]:
        return _day_span(_dt(int(m.group("y")), int(m.group("m")), int(m.group("d"))))

    def day_month(m: re.Match) -> tuple[datetime, datetime]:
        mo = MONTHS[m.group("month").lower()]
        year = m.group("year")
        y = int(year) if year else _most_recent_month(now, mo, skip_current=False)
        start = _dt(y, mo, int(m.group("day")))
        if not year and start > now:
            start = start.replace(year=y - 1)
        return _day_span(start)

    return [
        (r"\b(?P<y>(?:19|20)\d\d)-(?P<m>[01]\d)-(?P<d>[0-3]\d)\b", iso),
        (rf"\b(?P<day>[0-3]?\d)(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<month>{_MONTH_RE})\.?"
         r"(?:,?\s*(?P<year>(?:19|20)\d\d))?\b", day_month),
        (rf"\b(?P<month>{_MONTH_RE})\.?\s+(?P<day>[0-3]?\d)(?:st|nd|rd|th)?\b(?!:)"
         r"(?:,?\s*(?P<year>(?:19|20)\d\d))?\b", day_month),
        (r"\b(?:earlier\s+)?today\b|\bthis\s+(?:morning|afternoon|evening)\b|\btonight\b",
         lambda m: (today, today + timedelta(days=1))),
        (r"\byesterday\b|\blast\s+night\b", lambda m: (today - timedelta(days=1), today)),
        (rf"\b(?P<n>{_NUM_RE})\s+(?P<unit>day|week|month|year)s?\s+ago\b", ago),
        (r"\b(?P<which>last|past|previous|this)\s+(?P<unit>week|weekend|month|year)\b", relative_unit),
        (r"\b(?:recently|lately|these\s+days)\b", lambda m: (today - timedelta(days=30), today + timedelta(days=1))),
        (r"\b(?:(?P<which>last|this|on)\s+)(?P<wd>monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b",
         weekday),
        (r"\b(?:in\s+the\s+)?(?P<season>spring|summer|autumn|fall|winter)\s+of\s+(?P<year>(?:19|20)\d\d)\b"
         r"|\b(?P<which>last|this|past)\s+(?P<season2>spring|summer|autumn|fall|winter)\b", None),
        (rf"\b(?:(?P<which>in|last|this|during|since|early|late|mid)\s+)?(?P<month>{_MONTH_RE})\.?"
         r"(?:\s+(?:of\s+)?(?P<year>(?:19|20)\d\d))?\b", month),
        (r"\b(?:in|during|throughout|back\s+in)\s+(?P<year>(?:19|20)\d\d)\b", year_only),
    ], season


def parse_time_expression(prompt: str, now: float) -> Period | None:
    """The period named by the first time expression in ``prompt``, and the prompt without it."""
    if not prompt:
        return None
    now_dt = datetime.fromtimestamp(now, UTC)
    rules, season = _rules(now_dt)
    best: tuple[int, int, datetime, datetime] | None = None
    for pattern, handler in rules:
        for m in re.finditer(pattern, prompt, flags=re.IGNORECASE):
            span = _resolve(m, handler, season, now_dt, prompt)
            if span is None:
                continue
            if best is None or m.start() < best[0]:
                best = (m.start(), m.end(), *span)
            break
    if best is None:
        return None
    start, end, since, until = best
    cleaned = re.sub(r"\s{2,}", " ", (prompt[:start] + prompt[end:])).strip()
    return since.timestamp(), until.timestamp(), cleaned


def _resolve(m: re.Match, handler, season, now_dt: datetime, prompt: str):
    groups = m.groupdict()
    if handler is None:  # the season rule (two alternatives)
        if groups.get("season2"):
            return _season_span(now_dt, groups["season2"].lower(), (groups.get("which") or "").lower(), None)
        return _season_span(now_dt, groups["season"].lower(), "", int(groups["year"]))
    if "month" in groups and groups.get("month"):
        word = groups["month"]
        has_cue = bool(groups.get("which") or groups.get("year") or groups.get("day"))
        if word.lower() not in _FULL_MONTH_RE.split("|") and not has_cue:
            return None  # "mar", "jan" alone are too ambiguous
        if word.lower() == "may" and not has_cue:
            return None  # "may" is far more often the verb
        if not has_cue and word[0].islower():
            return None  # "march" as a verb; a month name in a prompt is usually capitalised
    try:
        return handler(m)
    except (ValueError, OverflowError):
        return None
