"""EventBridge cron expressions: parse one and compute its next fire time, in UTC.

An expression has six fields, `cron(minutes hours day-of-month month day-of-week year)`:

| field        | values               | accepted here       |
|--------------|----------------------|---------------------|
| minutes      | 0-59                 | `, - * /`           |
| hours        | 0-23                 | `, - * /`           |
| day-of-month | 1-31                 | `, - * ? /` and `L` |
| month        | 1-12 or JAN-DEC      | `, - * /`           |
| day-of-week  | 1-7 or SUN-SAT       | `, - * ?` and `L`   |
| year         | 1970-2199            | `, - * /`           |

Day-of-week counts as EventBridge does: 1 is Sunday, 7 is Saturday. Exactly one of
day-of-month and day-of-week is `?`. `L` stands alone in its field: the last day of the
month in day-of-month, Saturday (the last day of the week) in day-of-week. A step `a/n`
runs from `a` to the end of the field, `a-b/n` from `a` to `b`. Names are case-insensitive.
Every time is UTC: EventBridge rules have no time zone.

Not supported, and refused with a `CronError` that says so: `W` (the weekday nearest a day
of the month), `#` (the n-th weekday of the month), `L` with an offset or a weekday (`L-3`,
`5L`), and ranges that wrap around (`FRI-MON`, `22-2`).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = ["Cron", "CronError", "next_fire"]

MONTHS = {
    name: n
    for n, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1
    )
}
DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
LAST_YEAR = 2199
_TOKEN = re.compile(r"^(?P<range>\*|[A-Z0-9]+(?:-[A-Z0-9]+)?)(?:/(?P<step>\d+))?$")
_EXPRESSION = re.compile(r"^cron\((?P<fields>[^()]*)\)$")
_MISPLACED_L = re.compile(r"^(L|L-\d+|\d+L)$")


class CronError(ValueError):
    """An expression EventBridge would refuse, or one this evaluator does not support."""


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int] | None = None


MINUTES = _Field("minutes", 0, 59)
HOURS = _Field("hours", 0, 23)
DAY_OF_MONTH = _Field("day-of-month", 1, 31)
MONTH = _Field("month", 1, 12, MONTHS)
DAY_OF_WEEK = _Field("day-of-week", 1, 7, DAYS)
YEAR = _Field("year", 1970, LAST_YEAR)


@dataclass(frozen=True)
class Cron:
    """A parsed expression: the allowed values of each field.

    `days_of_month` is None when that field is `?` (then `days_of_week` decides), and the
    other way round; `last_day_of_month` is the day-of-month field's `L`."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int] | None
    last_day_of_month: bool
    months: frozenset[int]
    days_of_week: frozenset[int] | None
    years: frozenset[int]

    @classmethod
    def parse(cls, expression: str) -> Cron:
        """Parse `cron(...)` (or its six fields alone); raises CronError if it is not valid."""
        text = expression.strip()
        match = _EXPRESSION.match(text)
        fields = (match.group("fields") if match else text).split()
        if len(fields) != 6:
            raise CronError(f"{expression!r}: a cron expression has 6 fields, not {len(fields)}")
        minute, hour, dom, month, dow, year = (f.upper() for f in fields)
        if "W" in dom:
            raise CronError(f"{expression!r}: W (the nearest weekday) is not supported")
        if "#" in dow:
            raise CronError(f"{expression!r}: # (the n-th weekday of a month) is not supported")
        if re.fullmatch(r"L-\d+|\d+L", dom) or re.search(r"\dL", dow):
            raise CronError(f"{expression!r}: L with an offset or a weekday is not supported")
        if (dom == "?") == (dow == "?"):
            raise CronError(
                f"{expression!r}: exactly one of day-of-month and day-of-week must be '?'"
            )
        return cls(
            expression=expression,
            minutes=_values(minute, MINUTES, expression),
            hours=_values(hour, HOURS, expression),
            days_of_month=None if dom in ("?", "L") else _values(dom, DAY_OF_MONTH, expression),
            last_day_of_month=dom == "L",
            months=_values(month, MONTH, expression),
            days_of_week=_days_of_week(dow, expression),
            years=_values(year, YEAR, expression),
        )

    def next_after(self, moment: datetime) -> datetime | None:
        """The first fire time strictly after `moment` (an aware datetime), in UTC; None when
        the expression never fires again (its years are past)."""
        if moment.tzinfo is None:
            raise ValueError("next_after takes an aware datetime (EventBridge runs in UTC)")
        at = moment.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        while at.year <= LAST_YEAR:
            if at.year not in self.years:
                later = [y for y in self.years if y > at.year]
                if not later:
                    return None
                at = datetime(min(later), 1, 1, tzinfo=UTC)
            elif at.month not in self.months:
                at = _first_of_next_month(at)
            elif not self._day_matches(at):
                at = datetime(at.year, at.month, at.day, tzinfo=UTC) + timedelta(days=1)
            elif at.hour not in self.hours:
                at = at.replace(minute=0) + timedelta(hours=1)
            elif at.minute not in self.minutes:
                later_minutes = [m for m in self.minutes if m > at.minute]
                if later_minutes:
                    at = at.replace(minute=min(later_minutes))
                else:
                    at = at.replace(minute=0) + timedelta(hours=1)
            else:
                return at
        return None

    def _day_matches(self, at: datetime) -> bool:
        if self.days_of_week is not None:
            return eventbridge_weekday(at) in self.days_of_week
        if self.last_day_of_month:
            return at.day == calendar.monthrange(at.year, at.month)[1]
        return self.days_of_month is not None and at.day in self.days_of_month


def next_fire(expression: str, moment: datetime) -> datetime | None:
    """The next fire time of `cron(...)` strictly after `moment`."""
    return Cron.parse(expression).next_after(moment)


def eventbridge_weekday(at: datetime) -> int:
    """The day of the week as EventBridge numbers it: 1 = Sunday … 7 = Saturday."""
    return at.isoweekday() % 7 + 1


def _first_of_next_month(at: datetime) -> datetime:
    if at.month == 12:
        return datetime(at.year + 1, 1, 1, tzinfo=UTC)
    return datetime(at.year, at.month + 1, 1, tzinfo=UTC)


def _days_of_week(text: str, expression: str) -> frozenset[int] | None:
    if text == "?":
        return None
    if text == "L":
        return frozenset({DAYS["SAT"]})
    return _values(text, DAY_OF_WEEK, expression)


def _values(text: str, field: _Field, expression: str) -> frozenset[int]:
    """The values a field's list of `*`, `a`, `a-b`, `*/n`, `a/n`, `a-b/n` allows."""
    found: set[int] = set()
    for token in text.split(","):
        if _MISPLACED_L.match(token):
            raise CronError(f"{expression!r}: L stands alone, in day-of-month or day-of-week only")
        match = _TOKEN.match(token)
        if not match:
            raise CronError(f"{expression!r}: {token!r} is not a valid {field.name} value")
        span, step_text = match.group("range"), match.group("step")
        low, high = _range(span, field, expression)
        if step_text is not None and span != "*" and "-" not in span:
            high = field.high  # `a/n` runs from a to the end of the field
        step = int(step_text) if step_text is not None else 1
        if step < 1:
            raise CronError(f"{expression!r}: the step in {token!r} must be at least 1")
        found.update(range(low, high + 1, step))
    return frozenset(found)


def _range(text: str, field: _Field, expression: str) -> tuple[int, int]:
    """(low, high) of `*`, `a` or `a-b`."""
    if text == "*":
        return field.low, field.high
    parts = text.split("-")
    low, high = (_value(p, field, expression) for p in (parts[0], parts[-1]))
    if low > high:
        raise CronError(
            f"{expression!r}: the {field.name} range {text!r} wraps around; write it as a list"
        )
    return low, high


def _value(text: str, field: _Field, expression: str) -> int:
    if field.names and text in field.names:
        return field.names[text]
    if not text.isdigit():
        raise CronError(f"{expression!r}: {text!r} is not a valid {field.name} value")
    value = int(text)
    if not field.low <= value <= field.high:
        raise CronError(f"{expression!r}: {field.name} {value} is outside {field.low}-{field.high}")
    return value
