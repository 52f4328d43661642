"""Settle snapshots: which rows a newer roster of the same reporting unit and month supersedes.

A unit's roster for a month is a snapshot; a later version of it replaces
the earlier one's rows (``load/settle_snapshots.sql`` holds the rule).
"""

from __future__ import annotations

import psycopg

from ucj.period import parse_period
from ucj.warehouse import analyze_if_stale, run_sql_file


def analyze_settle_inputs(conn: psycopg.Connection) -> None:
    analyze_if_stale(conn, "ingest.source_file", "ingest.roster_row")


def settle_snapshots(conn: psycopg.Connection, kind: str, period: str, check_statistics: bool = True) -> int:
    """Mark superseded rows for one kind and month; return rows whose state changed.

    ``check_statistics=False``: the caller has already run (and committed)
    :func:`analyze_settle_inputs`. Checking again here would take the
    ANALYZE lock for this whole transaction, and the other kinds' settle
    tasks, waiting for it, would settle one after the other.
    """
    # Fresh statistics first: right after a bulk COPY the planner still
    # believes the table is tiny and picks nested loops (30 s instead of 0.1 s).
    if check_statistics:
        analyze_settle_inputs(conn)
    return run_sql_file(conn, "load/settle_snapshots.sql", {"kind": kind, "period": parse_period(period)})
