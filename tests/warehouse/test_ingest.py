"""Loading files into the warehouse: versions, replacement and idempotency (CONTRACT.md §1)."""

from __future__ import annotations

from pathlib import Path

from rosterfiles import land_village, publish_and_settle, village_row

from ucj import ingest

PERIOD = "2025-01"


def land(root: Path, name: str, rows: list[list], mtime: int) -> str:
    return land_village(root, PERIOD, name, rows, mtime)


def states(conn) -> dict[str, str]:
    return dict(
        conn.execute(
            """select f.content_hash || ':' || r.source_row, case when r.superseded then 'superseded' else r.status end
               from ingest.roster_row r join ingest.source_file f using (file_id)"""
        ).fetchall()
    )


def test_same_file_twice_changes_nothing(conn, tmp_path: Path) -> None:
    rel = land(tmp_path, "a.csv", [village_row(1), village_row(2, name="Budi")], 1_700_000_000)
    first = ingest.ingest_batch(conn, tmp_path, "village", PERIOD, [rel])
    again = ingest.ingest_batch(conn, tmp_path, "village", PERIOD, [rel])
    assert (first.loaded_files, again.loaded_files, again.unchanged_files) == (1, 0, 1)
    assert conn.execute("select count(*) from ingest.roster_row").fetchone()[0] == 2


def test_a_sent_back_earlier_version_becomes_current_again(conn, tmp_path: Path) -> None:
    v1 = [village_row(1), village_row(2, name="Budi")]
    rel = land(tmp_path, "a.csv", v1, 1_700_000_000)
    ingest.ingest_batch(conn, tmp_path, "village", PERIOD, [rel])
    land(tmp_path, "a.csv", [village_row(1)], 1_700_000_100)
    ingest.ingest_batch(conn, tmp_path, "village", PERIOD, [rel])
    land(tmp_path, "a.csv", v1, 1_700_000_200)
    summary = ingest.ingest_batch(conn, tmp_path, "village", PERIOD, [rel])
    publish_and_settle(conn, "village", PERIOD)
    assert summary.loaded_files == 1
    in_force = conn.execute(
        """select count(*) from ingest.roster_row r join ingest.source_file f using (file_id)
           where not r.superseded and f.status = 'loaded'"""
    ).fetchone()[0]
    assert in_force == 2
    assert conn.execute("select count(*) from ingest.source_file where status = 'loaded'").fetchone()[0] == 1


def test_later_file_supersedes_the_unit_in_an_earlier_one(conn, tmp_path: Path) -> None:
    early = land(tmp_path, "a.csv", [village_row(1), village_row(2, name="Budi")], 1_700_000_000)
    late = land(tmp_path, "b.csv", [village_row(1, name="Ani", nik="1310015503850002")], 1_700_000_500)
    ingest.ingest_batch(conn, tmp_path, "village", PERIOD, [early, late])
    publish_and_settle(conn, "village", PERIOD)
    assert sorted(states(conn).values()) == ["loaded", "superseded", "superseded"]


def test_settling_writes_only_the_rows_whose_state_changes(conn, tmp_path: Path) -> None:
    """A unit in two files: the later file wins; replacing that file by one without the unit reinstates it."""
    koto_baru, sialang = "13.10.01.2002", "13.10.01.2003"
    early = land(tmp_path, "a.csv", [village_row(1, code=koto_baru), village_row(2, name="Budi", code=sialang)],
                 1_700_000_000)  # fmt: skip
    late = land(tmp_path, "b.csv", [village_row(1, name="Ani", nik="1310015503850002", code=koto_baru)], 1_700_000_500)
    ingest.ingest_batch(conn, tmp_path, "village", PERIOD, [early, late])
    assert publish_and_settle(conn, "village", PERIOD) == 1  # Siti's Koto Baru row in a.csv
    assert publish_and_settle(conn, "village", PERIOD) == 0  # settled: nothing left to write

    def superseded() -> list[tuple[str, str]]:
        return conn.execute(
            """select f.rel_path, r.full_name from ingest.roster_row r join ingest.source_file f using (file_id)
               where r.superseded order by 1, 2"""
        ).fetchall()

    assert superseded() == [("village/2025-01/a.csv", "Siti Aminah")]
    # b.csv comes again for Sialang only: Koto Baru is back to a.csv, and b.csv's first version is replaced.
    land(tmp_path, "b.csv", [village_row(1, name="Budi", code=sialang)], 1_700_000_900)
    ingest.ingest_batch(conn, tmp_path, "village", PERIOD, [late])
    assert publish_and_settle(conn, "village", PERIOD) == 3
    assert superseded() == [("village/2025-01/a.csv", "Budi"), ("village/2025-01/b.csv", "Ani")]


def test_one_kinds_settle_task_does_not_hold_up_another_kinds(conn, clean_warehouse: str, tmp_path: Path) -> None:
    """The three kinds' settle tasks run side by side: none waits for another's transaction to end.

    A second look at the statistics inside the settle transaction used to
    take the ANALYZE lock until that transaction's commit, so the other
    kinds' tasks settled one after the other.
    """
    import time
    from concurrent.futures import ThreadPoolExecutor

    import psycopg

    from ucj import pipeline_tasks

    koto_baru = "13.10.01.2002"
    early = land(tmp_path, "a.csv", [village_row(1, code=koto_baru)], 1_700_000_000)
    late = land(tmp_path, "b.csv", [village_row(1, name="Ani", nik="1310015503850002", code=koto_baru)], 1_700_000_500)
    ingest.ingest_batch(conn, tmp_path, "village", PERIOD, [early, late])
    pipeline_tasks.publication_gate("village", PERIOD, {"success": True}, "test", None)
    with psycopg.connect(clean_warehouse) as holder, ThreadPoolExecutor(max_workers=2) as pool:
        # Someone holds the row the village task must mark superseded: that task stays inside its transaction.
        holder.execute(
            """select from ingest.roster_row as r join ingest.source_file as f using (file_id)
               where f.rel_path = %s for update of r""",
            (early,),
        )
        village = pool.submit(pipeline_tasks.settle, "village", PERIOD)
        waiting = "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and pid <> pg_backend_pid()"
        deadline = time.monotonic() + 60
        while conn.execute(waiting).fetchone()[0] == 0:
            assert not village.done(), "the village task settled without waiting for the held row"
            assert time.monotonic() < deadline, "the village task never reached the held row"
            time.sleep(0.05)
        opd = pool.submit(pipeline_tasks.settle, "opd", PERIOD)
        assert opd.result(timeout=60) == 0
        assert not village.done()
        holder.rollback()
        assert village.result(timeout=60) == 1


def test_validation_uses_the_row_age_rule_at_birthdays(conn, tmp_path: Path) -> None:
    """Born exactly 10 years before the month ends: loaded, and the batch validates."""
    from ucj.validation import validate_period

    # 2016-03-31 .. 2026-03-31 holds only two leap days: 3,652 days, which an
    # approximate age (days / 365.25) rounds down to 9.
    period = "2026-03"
    rel = land_village(tmp_path, period, "a.csv", [village_row(1, born="31/03/2016")])
    ingest.ingest_batch(conn, tmp_path, "village", period, [rel])
    publish_and_settle(conn, "village", period)
    assert conn.execute("select status from ingest.roster_row").fetchone()[0] == "loaded"
    outcome = validate_period(conn, "village", period, "test", "test")
    assert outcome.success, outcome.failed
