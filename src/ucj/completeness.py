"""The reporting deadline: are a month's rosters all in by day N of the next month?

Regencies and branch offices agree a day each month by which every OPD,
village and employer sends its roster. After that day on-call should hear,
once a day, which units are still silent, rather than finding out from a
low UCJ figure in the next meeting. The day is configuration
(``pipeline.yaml: deadline.day_of_next_month``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from ucj import landing
from ucj.period import next_month, parse_period, period_end, period_label, previous_month
from ucj.settings import SOURCE_KINDS, settings
from ucj.warehouse import sql_file

KIND_ID = {"village": "desa", "opd": "OPD", "employer": "pemberi kerja"}


@dataclass
class DeadlineCheck:
    period: str
    due: dt.date
    passed: bool
    kinds_without_files: list[str] = field(default_factory=list)
    missing: list[dict[str, Any]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.kinds_without_files and not self.missing

    def message(self, limit: int = 20) -> str:
        total = sum(m["units_missing"] for m in self.missing)
        lines = [f"{self.period}: rosters still missing after the deadline {self.due.isoformat()}"]
        if self.kinds_without_files:
            lines.append(f"no files at all for: {', '.join(self.kinds_without_files)}")
        if self.missing:
            by_regency: dict[str, list[str]] = {}
            for m in self.missing:
                by_regency.setdefault(m["regency_code"], []).append(
                    f"{m['units_missing']} {KIND_ID.get(m['source_kind'], m['source_kind'])}"
                )
            lines.append(f"{total} units have not reported, in {len(by_regency)} regencies:")
            for regency, parts in list(by_regency.items())[:limit]:
                lines.append(f"  {regency}: {', '.join(parts)}")
            if len(by_regency) > limit:
                lines.append(f"  ... and {len(by_regency) - limit} more regencies (see mart.units_not_reported)")
        return "\n".join(lines)


def due_date(period: str, day: int | None = None) -> dt.date:
    """Day N of the month after ``period`` (clamped to that month's length)."""
    day = day or int(settings().deadline.day_of_next_month)
    following = next_month(parse_period(period))
    return following.replace(day=min(day, period_end(following).day))


def period_due(today: dt.date) -> str:
    """The month whose deadline falls in the current month: the previous one."""
    return period_label(previous_month(today))


def check(conn: psycopg.Connection, landing_root: Path, today: dt.date, period: str | None = None) -> DeadlineCheck:
    period = period or period_due(today)
    due = due_date(period)
    result = DeadlineCheck(period=period, due=due, passed=today >= due)
    if not result.passed:
        return result
    result.kinds_without_files = [k for k in SOURCE_KINDS if not landing.list_rosters(landing_root, k, period)]
    month = parse_period(period)
    previous = previous_month(month)
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        result.missing = cur.execute(
            sql_file("checks/missing_units.sql"), {"period": month, "previous": previous}
        ).fetchall()
    return result
