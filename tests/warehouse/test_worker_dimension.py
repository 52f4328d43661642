"""dw.dim_worker: SCD type 2 versions that do not depend on the order months are loaded."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from rosterfiles import land_village, publish_and_settle, village_row

from ucj import facts, ingest, pipeline_tasks
from ucj.identity.resolve import resolve_identities

NIK = "1310015203850001"


def land(root: Path, period: str, rows: list[list], mtime: int) -> str:
    return land_village(root, period, "roster.csv", rows, mtime)


def versions(conn) -> list[tuple]:
    return conn.execute(
        """select worker_sk, full_name, home_village_code, valid_from::text, valid_to::text, is_current
           from dw.dim_worker order by valid_from"""
    ).fetchall()


def load_months(conn, root: Path, months: dict[str, list[list]]) -> None:
    for i, (period, rows) in enumerate(months.items()):
        rel = land(root, period, rows, 1_700_000_000 + i)
        ingest.ingest_batch(conn, root, "village", period, [rel])
        publish_and_settle(conn, "village", period)
    with conn.transaction():
        resolve_identities(conn)


def test_versions_follow_changes_whatever_the_load_order(conn, tmp_path: Path) -> None:
    load_months(
        conn,
        tmp_path,
        {
            "2025-01": [village_row(1, nik=NIK, name="Siti Aminah")],
            "2025-02": [village_row(1, nik=NIK, name="Siti Aminah")],
            "2025-03": [village_row(1, nik=NIK, name="Hj. Siti Aminah, S.Pd.")],
            "2025-04": [village_row(1, nik=NIK, name="Hj. Siti Aminah, S.Pd.", code="13.10.01.2003")],
        },
    )
    assert conn.execute("select count(distinct worker_key) from identity.row_link").fetchone()[0] == 1
    for period in ("2025-03", "2025-01", "2025-04", "2025-02"):  # a backfill out of order
        pipeline_tasks.load_period(period, force=True)
    got = versions(conn)
    assert [v[1:] for v in got] == [
        ("Siti Aminah", "1310012002", "2025-01-01", "2025-03-01", False),
        ("Hj. Siti Aminah, S.Pd.", "1310012002", "2025-03-01", "2025-04-01", False),
        ("Hj. Siti Aminah, S.Pd.", "1310012003", "2025-04-01", None, True),
    ]

    # Reloading any month keeps every version and its surrogate key.
    for period in ("2025-02", "2025-04", "2025-01"):
        pipeline_tasks.load_period(period, force=True)
        assert versions(conn) == got


def test_a_worker_gone_from_a_reloaded_month_loses_that_version(conn, tmp_path: Path) -> None:
    load_months(
        conn,
        tmp_path,
        {
            "2025-01": [village_row(1, nik=NIK, name="Siti Aminah")],
            "2025-02": [village_row(1, nik=NIK, name="Siti Aminah Lubis")],
        },
    )
    for period in ("2025-01", "2025-02"):
        pipeline_tasks.load_period(period, force=True)
    assert len(versions(conn)) == 2
    # February's roster is replaced by one without her.
    rel = land(tmp_path, "2025-02", [village_row(1, nik="1310015503850002", name="Ani")], 1_700_000_900)
    ingest.ingest_batch(conn, tmp_path, "village", "2025-02", [rel])
    publish_and_settle(conn, "village", "2025-02")
    with conn.transaction():
        resolve_identities(conn)
    pipeline_tasks.load_period("2025-02", force=True)
    names = [v[1] for v in versions(conn)]
    assert sorted(names) == ["Ani", "Siti Aminah"]
    assert conn.execute("select count(*) from dw.dim_worker where is_current").fetchone()[0] == 2


def test_a_load_whose_inputs_lost_their_statistics_analyses_them_first(conn, tmp_path: Path) -> None:
    """As after a server crash: no planner statistics and no activity counters for what the load joins."""
    load_months(conn, tmp_path, {"2025-01": [village_row(1, nik=NIK), village_row(2, name="Budi", nik=None)]})
    for table in facts.LOAD_INPUTS:
        conn.execute("delete from pg_statistic where starelid = %s::regclass", (table,))
        conn.execute("select pg_stat_reset_single_table_counters(%s::regclass)", (table,))
    pipeline_tasks.load_period("2025-01", force=True)
    analysed = conn.execute(
        """select count(distinct starelid) from pg_statistic
           where starelid = any(array[%s::regclass, %s::regclass, %s::regclass, %s::regclass])""",
        facts.LOAD_INPUTS,
    ).fetchone()[0]
    assert analysed == len(facts.LOAD_INPUTS)
    assert facts.coverage_fact_count(conn, dt.date(2025, 1, 1)) == 4  # two workers, JKK and JKM
