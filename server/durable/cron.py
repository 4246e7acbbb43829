"""Cron expressions for workflow schedules (`schedules: [{cron}]`), as plain
functions: five fields (minute hour day-of-month month day-of-week, UTC)
with `*`, lists, ranges, steps and names (JAN-DEC, SUN-SAT)."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12),
           ("day of week", 0, 7))
_NAMES = {3: {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m},
          4: {d.upper(): (i + 1) % 7 for i, d in enumerate(calendar.day_abbr)}}


class InvalidCron(ValueError):
    """A cron expression that cannot be parsed."""


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool  # day of month is *
    any_weekday: bool  # day of week is *

    def matches_day(self, day: dt.date) -> bool:
        if day.month not in self.months:
            return False
        weekday = (day.weekday() + 1) % 7
        in_days, in_weekdays = day.day in self.days, weekday in self.weekdays
        if self.any_day or self.any_weekday:  # classic cron: either restricts alone
            return in_days and in_weekdays
        return in_days or in_weekdays


def parse(expression: str) -> Cron:
    """Parses a five-field cron expression; raises InvalidCron saying which field."""
    if not isinstance(expression, str):
        raise InvalidCron("a cron expression must be a string")
    parts = expression.split()
    if len(parts) != 5:
        raise InvalidCron(f"cron {expression!r} must have 5 fields (minute hour day-of-month "
                          "month day-of-week)")
    sets = [_field(i, part) for i, part in enumerate(parts)]
    weekdays = frozenset(d % 7 for d in sets[4])
    return Cron(sets[0], sets[1], sets[2], sets[3], weekdays, parts[2] == "*", parts[4] == "*")


def _field(index: int, text: str) -> frozenset[int]:
    name, low, high = _FIELDS[index]
    values: set[int] = set()
    for item in text.split(","):
        base, _, step_text = item.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if base == "*":
                start, end = low, high
            elif "-" in base:
                a, b = base.split("-", 1)
                start, end = _value(index, a), _value(index, b)
            else:
                start = _value(index, base)
                end = high if step_text else start
        except ValueError:
            raise InvalidCron(f"cron {name} field {text!r} is not valid") from None
        if step < 1 or not low <= start <= end <= high:
            raise InvalidCron(f"cron {name} field {text!r} is out of range {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _value(index: int, text: str) -> int:
    named = _NAMES.get(index, {}).get(text.upper())
    return named if named is not None else int(text)


def next_after(cron: Cron, after: float) -> float:
    """The first time (epoch seconds, on a whole minute) strictly after `after`."""
    start = dt.datetime.fromtimestamp(after, dt.UTC).replace(second=0, microsecond=0)
    start += dt.timedelta(minutes=1)
    day = start.date()
    for _ in range(366 * 5):  # Feb 29 on a given weekday can be years away
        if cron.matches_day(day):
            first = start if day == start.date() else None
            for hour in sorted(cron.hours):
                if first is not None and hour < first.hour:
                    continue
                for minute in sorted(cron.minutes):
                    if first is not None and hour == first.hour and minute < first.minute:
                        continue
                    return dt.datetime(day.year, day.month, day.day, hour, minute,
                                       tzinfo=dt.UTC).timestamp()
        day += dt.timedelta(days=1)
    raise InvalidCron("the cron expression never fires")
