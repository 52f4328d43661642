"""identity.row_link: one partition per month, built whole on the month's first run (V016)."""

from __future__ import annotations

from pathlib import Path

import psycopg
from rosterfiles import land_village, publish_and_settle, village_row

from ucj import ingest, pipeline_tasks
from ucj.identity.resolve import resolve_identities
from ucj.warehouse import MIGRATIONS_DIR, migrations

# Months no other test uses, so their partitions do not exist before the test.
JULY, AUGUST, SEPTEMBER = "2031-07", "2031-08", "2031-09"
NIK_A, NIK_B = "1310014503850001", "1310016607900002"


def land(conn, root: Path, period: str, name: str, rows: list[list], mtime: int) -> None:
    rel = land_village(root, period, name, rows, mtime)
    ingest.ingest_batch(conn, root, "village", period, [rel])
    publish_and_settle(conn, "village", period)


def link(conn) -> None:
    with conn.transaction():
        resolve_identities(conn)


def land_and_link(conn, root: Path, period: str, name: str, rows: list[list], mtime: int) -> None:
    land(conn, root, period, name, rows, mtime)
    link(conn)


def partition_indexes(conn, partition: str) -> dict[str, str]:
    """Each of the partition's indexes -> the parent index it is attached to."""
    return dict(
        conn.execute(
            """select i.inhrelid::regclass::text, i.inhparent::regclass::text
               from pg_index as x join pg_inherits as i on i.inhrelid = x.indexrelid
               where x.indrelid = %s::regclass""",
            (partition,),
        ).fetchall()
    )


def test_a_months_links_get_their_own_partition_and_a_late_file_joins_it(conn, tmp_path: Path) -> None:
    land_and_link(
        conn, tmp_path, JULY, "roster.csv", [village_row(1, nik=NIK_A), village_row(2, nik=NIK_B, name="Budi")], 1
    )

    partition = "identity.row_link_203107"
    parents = conn.execute(
        "select inhparent::regclass::text from pg_inherits where inhrelid = %s::regclass", (partition,)
    ).fetchall()
    assert parents == [("identity.row_link",)]
    # Built as a table of its own, then attached: its indexes are the parent's, and
    # the check that let ATTACH skip reading the rows is gone.
    assert sorted(partition_indexes(conn, partition).values()) == ["identity.row_link_pkey", "identity.row_link_worker"]
    assert conn.execute(
        "select count(*) from pg_constraint where conrelid = %s::regclass and contype = 'c'", (partition,)
    ).fetchone() == (0,)
    assert conn.execute(f"select count(*) from {partition}").fetchone() == (2,)

    # A late file of the same month: its links go into the existing partition,
    # and the same person (same NIK) is the same worker.
    land_and_link(
        conn, tmp_path, JULY, "late.csv", [village_row(1, nik=NIK_A), village_row(2, name="Ani", nik=None)], 2
    )
    links = conn.execute(
        f"""select r.nik, l.worker_key from {partition} as l
            join ingest.roster_row as r using (file_id, source_row) where r.nik = %s""",
        (NIK_A,),
    ).fetchall()
    assert len(links) == 2
    assert links[0][1] == links[1][1]
    assert conn.execute(f"select count(*) from {partition}").fetchone() == (4,)
    assert conn.execute("select count(*) from identity.row_link").fetchone() == (4,)

    # Two months linked in one run: each gets a partition of its own, and a
    # month's rows read only theirs.
    for i, period in enumerate((AUGUST, SEPTEMBER)):
        land(conn, tmp_path, period, "roster.csv", [village_row(1, nik=NIK_A)], 3 + i)
    link(conn)
    assert conn.execute("select count(*) from identity.row_link_203108").fetchone() == (1,)
    assert conn.execute("select count(*) from identity.row_link_203109").fetchone() == (1,)
    plan = "\n".join(
        line
        for (line,) in conn.execute("explain select * from mart.roster_row_status where period_month = '2031-08-01'")
    )
    assert "row_link_203108" in plan
    assert "row_link_203107" not in plan

    # The load reads them: the late file replaced the village's roster (Budi's
    # row is superseded), and Siti is covered as the worker she already was.
    pipeline_tasks.load_period(JULY, force=True)
    covered = conn.execute(
        "select distinct worker_key from dw.fact_coverage where period_month = '2031-07-01'"
    ).fetchall()
    assert len(covered) == 2
    assert (links[0][1],) in covered


def test_v016_moves_every_existing_link_into_its_months_partition(warehouse: str) -> None:
    """The migration as a deployment runs it: on a warehouse that already holds links."""
    database = "ucj_v016_migration"
    with psycopg.connect(warehouse, autocommit=True) as admin:
        admin.execute(f"drop database if exists {database}")
        admin.execute(f"create database {database}")
    uri = psycopg.conninfo.make_conninfo(warehouse, dbname=database)
    try:
        with psycopg.connect(uri, autocommit=True) as conn:
            conn.execute("create schema meta")  # as ucj.warehouse.migrate does first
            for migration in migrations():
                if migration.version < 16:
                    conn.execute(migration.path.read_text(encoding="utf-8"))
            conn.execute(
                """insert into ingest.source_file (file_id, source_kind, period_month, rel_path, content_hash,
                                                   size_bytes, modified_at, status)
                   overriding system value
                   values (1, 'village', '2025-01-01', 'village/2025-01/a.csv', 'a', 1, now(), 'loaded'),
                          (2, 'village', '2025-02-01', 'village/2025-02/a.csv', 'b', 1, now(), 'loaded')"""
            )
            conn.execute(
                """insert into ingest.roster_row (file_id, source_row, source_kind, period_month, status, nik_quality,
                                                  segment, row_hash, original)
                   select f, r, 'village', case f when 1 then date '2025-01-01' else date '2025-02-01' end,
                          'loaded', 'valid', 'BPU', 'h', '{}'
                   from generate_series(1, 2) as f, generate_series(2, 4) as r"""
            )
            conn.execute(
                "insert into identity.worker (worker_key, nik) overriding system value values (1, '1'), (2, '2')"
            )
            conn.execute(
                """insert into identity.row_link (file_id, source_row, worker_key, rule, score)
                   select f, r, 1 + r % 2, 'nik', case r when 3 then 0.9 end
                   from generate_series(1, 2) as f, generate_series(2, 4) as r"""
            )
            before = conn.execute(
                "select file_id, source_row, worker_key, rule, score, linked_at from identity.row_link order by 1, 2"
            ).fetchall()

            conn.execute((MIGRATIONS_DIR / "V016__row_link_partitioned.sql").read_text(encoding="utf-8"))

            after = conn.execute(
                "select file_id, source_row, worker_key, rule, score, linked_at from identity.row_link order by 1, 2"
            ).fetchall()
            assert after == before
            by_partition = conn.execute(
                "select tableoid::regclass::text, count(*) from identity.row_link group by 1 order by 1"
            ).fetchall()
            assert by_partition == [("identity.row_link_202501", 3), ("identity.row_link_202502", 3)]
            # The views read the new table.
            assert conn.execute("select count(worker_key) from mart.roster_row_status").fetchone() == (6,)
            assert conn.execute("select count(*) from identity.worker_rows").fetchone() == (6,)
    finally:
        with psycopg.connect(warehouse, autocommit=True) as admin:
            admin.execute(f"drop database if exists {database} with (force)")
