"""Which source kinds and months have rosters the pipeline has not read yet.

Senders drop files whenever they are ready: most in the first ten days of the
next month, some late, some as corrections to a month already published. The
``ucj_arrivals`` DAG sweeps the *open* months of the landing zone on a
schedule and starts an ingest run for each kind-month with a new or changed
file. What the pipeline last read of each path (size, modification time,
content hash) is in ``ingest.landing_seen``, so a sweep that finds nothing
new costs one listing and one query, and a file that was only touched (same
bytes, new time) is read once more and then left alone.

A file still being copied keeps changing: it counts as arrived only once it
has not been modified for ``arrival.stable_seconds``.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass
from typing import Any

import psycopg

from ucj.completeness import due_date
from ucj.landing import LandedFile, list_rosters
from ucj.period import period_label, previous_month
from ucj.settings import PipelineSettings, settings

log = logging.getLogger(__name__)


def open_periods(today: dt.date, day_of_next_month: int, late_days: int) -> list[dt.date]:
    """Months whose rosters are still picked up by themselves, newest first.

    A month is open from its first day (an early file is welcome) until
    ``late_days`` after its due date.
    """
    months = []
    month = today.replace(day=1)
    while due_date(period_label(month), day_of_next_month) + dt.timedelta(days=late_days) >= today:
        months.append(month)
        month = previous_month(month)
    return months


def stable(files: list[LandedFile], now: dt.datetime, stable_seconds: float) -> tuple[list[LandedFile], list[str]]:
    """The files not modified for ``stable_seconds`` (complete), and the paths of those still changing."""
    cutoff = now - dt.timedelta(seconds=stable_seconds)
    done = [f for f in files if f.modified_at <= cutoff]
    settling = [f.rel_path for f in files if f.modified_at > cutoff]
    return done, settling


@dataclass(frozen=True)
class Arrival:
    """A kind-month with files the pipeline has not read in their current form."""

    kind: str
    period: str
    new_files: int
    changed_files: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Sweep:
    arrivals: list[Arrival]
    # Paths still being written: left for the next sweep.
    settling: list[str]
    periods: list[str]
    files_seen: int


def sweep(
    conn: psycopg.Connection,
    root: Any,
    kinds: tuple[str, ...],
    today: dt.date,
    now: dt.datetime,
    cfg: PipelineSettings | None = None,
) -> Sweep:
    """Compare the open months of the landing zone with what the pipeline last read of them."""
    cfg = cfg or settings()
    months = open_periods(today, cfg.deadline.day_of_next_month, cfg.arrival.late_days_after_deadline)
    seen = {
        (kind, rel_path): (size, modified_at)
        for kind, rel_path, size, modified_at in conn.execute(
            """select source_kind, rel_path, size_bytes, modified_at from ingest.landing_seen
               where period_month = any(%s)""",
            (months,),
        )
    }
    arrivals: list[Arrival] = []
    settling: list[str] = []
    files_seen = 0
    for month in sorted(months):
        period = period_label(month)
        for kind in kinds:
            listed = list_rosters(root, kind, period)
            files_seen += len(listed)
            done, still_changing = stable(listed, now, float(cfg.arrival.stable_seconds))
            settling += still_changing
            new = sum(1 for f in done if (kind, f.rel_path) not in seen)
            changed = sum(
                1 for f in done if (kind, f.rel_path) in seen and seen[(kind, f.rel_path)] != (f.size, f.modified_at)
            )
            if new or changed:
                arrivals.append(Arrival(kind, period, new, changed))
    return Sweep(arrivals, settling, [period_label(m) for m in sorted(months)], files_seen)


def record_seen(
    conn: psycopg.Connection, kind: str, period_month: dt.date, files: list[tuple[str, int, dt.datetime, str]]
) -> None:
    """Remember what was read of each path (rel_path, size, modified_at, content hash), in the caller's transaction."""
    if not files:
        return
    paths, sizes, times, hashes = (list(c) for c in zip(*files, strict=True))
    conn.execute(
        """insert into ingest.landing_seen (source_kind, rel_path, period_month, size_bytes, modified_at, content_hash)
           select %s, p, %s, s, m, h
           from unnest(%s::text[], %s::bigint[], %s::timestamptz[], %s::text[]) as f (p, s, m, h)
           on conflict (source_kind, rel_path) do update
           set size_bytes = excluded.size_bytes, modified_at = excluded.modified_at,
               content_hash = excluded.content_hash, period_month = excluded.period_month, seen_at = now()""",
        (kind, period_month, paths, sizes, times, hashes),
    )
