"""Reporting months: the one home of their parsing, labels and arithmetic.

A period is the first day of its month (``datetime.date``); ``YYYY-MM`` is
how people and the landing zone write it.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")


def parse_period(text: str) -> dt.date:
    """``2025-03`` -> 2025-03-01; a clear error for anything else."""
    m = _PERIOD.match(text.strip())
    if not m or not 1 <= int(m[2]) <= 12:
        raise ValueError(f"period must be YYYY-MM, got {text!r}")
    return dt.date(int(m[1]), int(m[2]), 1)


def period_label(period: dt.date) -> str:
    return f"{period.year:04d}-{period.month:02d}"


def month_of(day: dt.date) -> dt.date:
    """The period a day falls in."""
    return day.replace(day=1)


def next_month(month: dt.date) -> dt.date:
    """First day of the month after ``month``."""
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def previous_month(month: dt.date) -> dt.date:
    """First day of the month before the one ``month`` falls in."""
    return (month.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


def period_end(period: dt.date) -> dt.date:
    """Last day of the period: the day ages and enrolment are judged on."""
    return period.replace(day=calendar.monthrange(period.year, period.month)[1])


def period_range(spec: str) -> list[str]:
    """``2025-01:2025-03`` -> the three months; a single ``2025-01`` is one."""
    first, _, last = spec.partition(":")
    start, end = parse_period(first), parse_period(last or first)
    if end < start:
        raise ValueError(f"period range {spec!r} ends before it starts")
    months = []
    current = start
    while current <= end:
        months.append(period_label(current))
        current = next_month(current)
    return months
