"""The UCJ figures per regency and month as the runner and the consolidation log print them."""

from __future__ import annotations

from typing import Any

import psycopg
import psycopg.rows

from ucj.period import parse_period


def ucj_table(conn: psycopg.Connection, periods: list[str] | None = None) -> list[dict[str, Any]]:
    query = """select to_char(period_month, 'YYYY-MM') as period, regency_code, regency_name, covered_workers,
                      working_population, ucj_rate_pct, ucj_target_pct, gap_pct_points,
                      units_reported, units_expected
               from mart.ucj_regency_month"""
    params: tuple[Any, ...] = ()
    if periods:
        query += " where period_month = any(%s)"
        params = ([parse_period(p) for p in periods],)
    query += " order by period_month, regency_code"
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute(query, params).fetchall()


def format_ucj_table(rows: list[dict[str, Any]]) -> str:
    header = ("period", "regency", "covered", "working pop.", "UCJ %", "target %", "gap pts", "units")
    lines = [header]
    for r in rows:
        lines.append(
            (
                r["period"], f"{r['regency_code']} {r['regency_name']}"[:34], str(r["covered_workers"]),
                "-" if r["working_population"] is None else f"{r['working_population']:,}",
                "-" if r["ucj_rate_pct"] is None else f"{r['ucj_rate_pct']:.2f}",
                "-" if r["ucj_target_pct"] is None else f"{r['ucj_target_pct']:.2f}",
                "-" if r["gap_pct_points"] is None else f"{r['gap_pct_points']:.2f}",
                f"{r['units_reported']}/{r['units_expected']}",
            )
        )  # fmt: skip
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) for line in lines)
