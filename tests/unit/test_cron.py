"""EventBridge cron expressions fire when EventBridge would fire them (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from infra.cron import Cron, CronError, next_fire


def utc(year: int, month: int, day: int, *clock: int) -> datetime:
    hour, minute, second, micro = (*clock, 0, 0, 0, 0)[:4]
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


# 2024-03-01 is a Friday; 2024 is a leap year.
@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # every day at a time
        ("cron(30 3 * * ? *)", utc(2024, 1, 1), utc(2024, 1, 1, 3, 30)),
        ("cron(30 3 * * ? *)", utc(2024, 1, 1, 3, 29, 59), utc(2024, 1, 1, 3, 30)),
        ("cron(30 3 * * ? *)", utc(2024, 1, 1, 3, 30), utc(2024, 1, 2, 3, 30)),
        ("cron(30 3 * * ? *)", utc(2024, 1, 1, 3, 30, 0, 1), utc(2024, 1, 2, 3, 30)),
        ("cron(0 12 * * ? *)", utc(2024, 12, 31, 12), utc(2025, 1, 1, 12)),
        # steps and lists
        ("cron(0/15 * * * ? *)", utc(2024, 1, 1, 10, 7), utc(2024, 1, 1, 10, 15)),
        ("cron(0/15 * * * ? *)", utc(2024, 1, 1, 10, 45), utc(2024, 1, 1, 11, 0)),
        ("cron(*/20 * * * ? *)", utc(2024, 1, 1, 10, 40), utc(2024, 1, 1, 11, 0)),
        ("cron(1/10 * * * ? *)", utc(2024, 1, 1, 10, 0), utc(2024, 1, 1, 10, 1)),
        ("cron(1/10 * * * ? *)", utc(2024, 1, 1, 10, 1), utc(2024, 1, 1, 10, 11)),
        ("cron(1/10 * * * ? *)", utc(2024, 1, 1, 10, 51), utc(2024, 1, 1, 11, 1)),
        ("cron(0 9-17/4 * * ? *)", utc(2024, 1, 1, 13), utc(2024, 1, 1, 17)),
        ("cron(0 9-17/4 * * ? *)", utc(2024, 1, 1, 17), utc(2024, 1, 2, 9)),
        ("cron(5,35 */6 * * ? *)", utc(2024, 1, 1, 0, 5), utc(2024, 1, 1, 0, 35)),
        ("cron(5,35 */6 * * ? *)", utc(2024, 1, 1, 0, 35), utc(2024, 1, 1, 6, 5)),
        ("cron(* * * * ? *)", utc(2024, 1, 1, 10, 0, 30), utc(2024, 1, 1, 10, 1)),
        # days of the week: 1 = SUN … 7 = SAT
        ("cron(0 18 ? * MON-FRI *)", utc(2024, 3, 1, 17), utc(2024, 3, 1, 18)),
        ("cron(0 18 ? * MON-FRI *)", utc(2024, 3, 1, 18), utc(2024, 3, 4, 18)),
        ("cron(0 18 ? * 2-6 *)", utc(2024, 3, 1, 18), utc(2024, 3, 4, 18)),
        ("cron(0 8 ? * 1 *)", utc(2024, 3, 1), utc(2024, 3, 3, 8)),
        ("cron(0 8 ? * 7 *)", utc(2024, 3, 1), utc(2024, 3, 2, 8)),
        ("cron(0 8 ? * SUN,SAT *)", utc(2024, 3, 2, 9), utc(2024, 3, 3, 8)),
        ("cron(0 12 ? * mon *)", utc(2024, 3, 1), utc(2024, 3, 4, 12)),
        ("cron(0 9 ? * L *)", utc(2024, 3, 1), utc(2024, 3, 2, 9)),
        # days of the month
        ("cron(0 0 L * ? *)", utc(2024, 2, 1), utc(2024, 2, 29)),
        ("cron(0 0 L * ? *)", utc(2023, 2, 1), utc(2023, 2, 28)),
        ("cron(0 0 L * ? *)", utc(2024, 4, 30), utc(2024, 5, 31)),
        ("cron(0 0 L 12 ? *)", utc(2024, 1, 1), utc(2024, 12, 31)),
        ("cron(0 0 31 * ? *)", utc(2024, 4, 1), utc(2024, 5, 31)),
        ("cron(0 0 29 2 ? *)", utc(2024, 3, 1), utc(2028, 2, 29)),
        ("cron(0 0 1/10 * ? *)", utc(2024, 1, 21), utc(2024, 1, 31)),
        ("cron(0 0 1/10 * ? *)", utc(2024, 2, 21), utc(2024, 3, 1)),
        ("cron(0 6 1-3 * ? *)", utc(2024, 1, 3, 6), utc(2024, 2, 1, 6)),
        # months and years
        ("cron(0 10 1 JAN,JUL ? *)", utc(2024, 2, 1), utc(2024, 7, 1, 10)),
        ("cron(0 10 1 jun-aug ? *)", utc(2024, 8, 1, 10), utc(2025, 6, 1, 10)),
        ("cron(0 10 1 */3 ? *)", utc(2024, 2, 1), utc(2024, 4, 1, 10)),
        ("cron(0 0 1 1 ? 2030)", utc(2024, 5, 5), utc(2030, 1, 1)),
        ("cron(0 0 1 1 ? 2030-2032/2)", utc(2030, 1, 1), utc(2032, 1, 1)),
        ("cron(0 0 ? 2 MON 2025,2027)", utc(2025, 2, 24, 1), utc(2027, 2, 1)),
        # the fields alone, as the expression's inside
        ("30 3 * * ? *", utc(2024, 1, 1), utc(2024, 1, 1, 3, 30)),
    ],
)
def test_a_cron_expression_fires_next_at_the_time_eventbridge_would(
    expression: str, after: datetime, expected: datetime
) -> None:
    assert next_fire(expression, after) == expected


def test_times_in_another_zone_are_read_as_the_same_instant_in_utc() -> None:
    two_hours_east = timezone(timedelta(hours=2))
    after = datetime(2024, 1, 1, 5, 0, tzinfo=two_hours_east)  # 03:00 UTC
    assert next_fire("cron(30 3 * * ? *)", after) == utc(2024, 1, 1, 3, 30)


def test_an_expression_whose_years_are_past_never_fires_again() -> None:
    assert next_fire("cron(0 0 1 1 ? 2020)", utc(2024, 1, 1)) is None
    assert next_fire("cron(0 0 1 1 ? 2030)", utc(2030, 1, 1)) is None
    assert next_fire("cron(0 0 31 2 ? *)", utc(2024, 1, 1)) is None  # February never has 31


def test_a_naive_datetime_is_refused_rather_than_guessed() -> None:
    with pytest.raises(ValueError, match="aware datetime"):
        next_fire("cron(0 0 * * ? *)", datetime(2024, 1, 1))


def test_successive_fire_times_step_through_a_weekday_schedule() -> None:
    cron = Cron.parse("cron(0 9,17 ? * MON-FRI *)")
    times: list[datetime] = []
    moment = utc(2024, 3, 1, 12)  # Friday noon
    for _ in range(4):
        nxt = cron.next_after(moment)
        assert nxt is not None
        times.append(nxt)
        moment = nxt
    assert times == [
        utc(2024, 3, 1, 17),
        utc(2024, 3, 4, 9),
        utc(2024, 3, 4, 17),
        utc(2024, 3, 5, 9),
    ]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("cron(0 0 1W * ? *)", r"W \(the nearest weekday\) is not supported"),
        ("cron(0 0 LW * ? *)", "W .* is not supported"),
        ("cron(0 0 ? * 3#2 *)", r"# \(the n-th weekday of a month\) is not supported"),
        ("cron(0 0 L-2 * ? *)", "L with an offset or a weekday is not supported"),
        ("cron(0 0 ? * 5L *)", "L with an offset or a weekday is not supported"),
        ("cron(0 0 * * * *)", "exactly one of day-of-month and day-of-week must be '\\?'"),
        ("cron(0 0 ? * ? *)", "exactly one of day-of-month and day-of-week"),
        ("cron(0 0 1 * MON *)", "exactly one of day-of-month and day-of-week"),
        ("cron(0 0 * * ?)", "has 6 fields, not 5"),
        ("cron(0 0 * * ? * *)", "has 6 fields, not 7"),
        ("cron(60 0 * * ? *)", "minutes 60 is outside 0-59"),
        ("cron(0 24 * * ? *)", "hours 24 is outside 0-23"),
        ("cron(0 0 0 * ? *)", "day-of-month 0 is outside 1-31"),
        ("cron(0 0 1 13 ? *)", "month 13 is outside 1-12"),
        ("cron(0 0 ? * 8 *)", "day-of-week 8 is outside 1-7"),
        ("cron(0 0 1 1 ? 1969)", "year 1969 is outside 1970-2199"),
        ("cron(0 22-2 * * ? *)", "range '22-2' wraps around"),
        ("cron(0 0 ? * FRI-MON *)", "range 'FRI-MON' wraps around"),
        ("cron(0/0 * * * ? *)", "step in '0/0' must be at least 1"),
        ("cron(L 0 * * ? *)", "L stands alone"),
        ("cron(0 0 1,L * ? *)", "L stands alone"),
        ("cron(0 0 1 FOO ? *)", "'FOO' is not a valid month value"),
        ("cron(0 0 1 1-2-3 ? *)", "'1-2-3' is not a valid month value"),
        ("cron(? 0 1 * ? *)", "'\\?' is not a valid minutes value"),
        ("cron(0 0 1 * ? MON)", "'MON' is not a valid year value"),
    ],
)
def test_an_expression_eventbridge_refuses_or_we_do_not_support_is_refused_clearly(
    expression: str, message: str
) -> None:
    with pytest.raises(CronError, match=message):
        Cron.parse(expression)


def test_every_schedule_the_app_declares_parses_and_fires() -> None:
    from infra.resources import RESOURCES
    from infra.schedules import Timer

    assert RESOURCES.schedules, "the app declares schedules"
    for schedule in RESOURCES.schedules:
        timer = Timer.start(schedule.function, schedule.expression, utc(2024, 1, 1))
        assert timer.due is not None and utc(2024, 1, 1) < timer.due <= utc(2024, 1, 2)
