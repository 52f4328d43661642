"""Reviewers correct any link (rules', model's) and later runs keep the correction."""

from __future__ import annotations

from pathlib import Path

from rosterfiles import land_village, publish_and_settle, village_row

from ucj import facts, ingest, pipeline_tasks
from ucj.identity.resolve import resolve_identities
from ucj.identity.review import KeptApart

# Two women named Siti Aminah born the same day in one district: their NIKs
# differ in the serial only, so the rules take them for one person whose NIK
# was mistyped once.
SITI_1 = "1310015203850001"
SITI_2 = "1310015203850002"
# Dewi Lestari born 1 January and Dewi Lestari born 2 January 1990.
DEWI_1 = "1310014101900001"
DEWI_2 = "1310014201900001"


def land_and_link(conn, root: Path, period: str, rows: list[list], mtime: int, name: str = "roster.csv") -> None:
    rel = land_village(root, period, name, rows, mtime)
    ingest.ingest_batch(conn, root, "village", period, [rel])
    publish_and_settle(conn, "village", period)
    with conn.transaction():
        resolve_identities(conn)


def worker_of(conn, nik: str, period: str) -> int:
    return conn.execute(
        """select coalesce(w.merged_into, w.worker_key)
           from ingest.roster_row as r
           join identity.row_link as l using (file_id, source_row)
           join identity.worker as w on w.worker_key = l.worker_key
           where r.nik = %s and r.period_month = %s::date""",
        (nik, f"{period}-01"),
    ).fetchone()[0]


def covered_workers(conn, period: str) -> int:
    return conn.execute(
        "select count(distinct worker_key) from dw.fact_coverage where period_month = %s::date", (f"{period}-01",)
    ).fetchone()[0]


def load(conn, period: str) -> None:
    pipeline_tasks.load_period(period, force=True)


def test_rows_split_off_a_worker_stay_apart_and_take_their_evidence(conn, tmp_path: Path) -> None:
    siti_1 = village_row(1, nik=SITI_1, code="13.10.01.2002")
    siti_2 = village_row(2, nik=SITI_2, code="13.10.01.2003")
    land_and_link(conn, tmp_path, "2025-01", [siti_1, siti_2], 1_700_000_000)
    joined = worker_of(conn, SITI_1, "2025-01")
    assert worker_of(conn, SITI_2, "2025-01") == joined, "the rules join them (one edit apart, same name and day)"
    load(conn, "2025-01")
    assert covered_workers(conn, "2025-01") == 1

    # The reviewer knows better: the second row is another woman.
    file_id, source_row = conn.execute("select file_id, source_row from ingest.roster_row where nik = %s",
                                       (SITI_2,)).fetchone()  # fmt: skip
    conn.execute(
        """insert into identity.row_decision (file_id, source_row, not_worker_key, split_group, decided_by, note)
           values (%s, %s, %s, 'siti-koto-baru', 'reviewer@bpjs', 'different mother, checked by phone')""",
        (file_id, source_row, joined),
    )
    with conn.transaction():
        result = resolve_identities(conn)
    assert result["rows_moved"] == 1
    split = worker_of(conn, SITI_2, "2025-01")
    assert split != joined
    assert worker_of(conn, SITI_1, "2025-01") == joined
    assert conn.execute(
        "select rule from identity.row_link where file_id = %s and source_row = %s", (file_id, source_row)
    ).fetchone() == ("reviewer",)
    assert conn.execute("select worker_key from identity.worker_evidence where evidence_key = %s",
                        (f"N:{SITI_2}",)).fetchone() == (split,)  # fmt: skip
    assert conn.execute("select worker_key from identity.worker_evidence where evidence_key = %s",
                        (f"N:{SITI_1}",)).fetchone() == (joined,)  # fmt: skip
    assert conn.execute("select applied_worker_key from identity.row_decision").fetchone() == (split,)
    assert conn.execute("select count(*) from identity.keep_apart where %s in (worker_a, worker_b) "
                        "and %s in (worker_a, worker_b)", (joined, split)).fetchone() == (1,)  # fmt: skip

    # The month counted under the old link is reloaded by the next consolidation, then no longer stale.
    assert "2025-01" in facts.stale_periods(conn)
    load(conn, "2025-01")
    assert covered_workers(conn, "2025-01") == 2
    assert "2025-01" not in facts.stale_periods(conn)

    # Next month both send rows again: each follows her own worker; the rules do not rejoin them.
    land_and_link(conn, tmp_path, "2025-02", [siti_1, siti_2], 1_700_100_000)
    assert worker_of(conn, SITI_1, "2025-02") == joined
    assert worker_of(conn, SITI_2, "2025-02") == split
    assert conn.execute("select count(*) from identity.worker_merge").fetchone() == (0,)

    # Applied once: a further run moves nothing.
    with conn.transaction():
        assert resolve_identities(conn)["rows_moved"] == 0


def test_a_merge_the_rules_made_can_be_undone_and_stays_undone(conn, tmp_path: Path) -> None:
    dewi_1 = village_row(1, nik=DEWI_1, name="Dewi Lestari", born="01/01/1990")
    dewi_2 = village_row(2, nik=DEWI_2, name="Dewi Lestari", born="02/01/1990")
    land_and_link(conn, tmp_path, "2025-01", [dewi_1, dewi_2], 1_700_000_000)
    first, second = worker_of(conn, DEWI_1, "2025-01"), worker_of(conn, DEWI_2, "2025-01")
    assert first != second
    load(conn, "2025-01")

    # A row with the first Dewi's NIK and the second Dewi's birth date bridges them: the rules merge.
    bridge = village_row(1, nik=DEWI_1, name="Dewi Lestari", born="02/01/1990")
    land_and_link(conn, tmp_path, "2025-02", [bridge], 1_700_100_000)
    assert worker_of(conn, DEWI_2, "2025-01") == first
    assert conn.execute("select worker_key, merged_into, rule from identity.worker_merge").fetchall() == [
        (second, first, "nik")
    ]
    load(conn, "2025-02")
    assert facts.stale_periods(conn) == ["2025-01"], "the month loaded before the merge"
    load(conn, "2025-01")
    assert covered_workers(conn, "2025-01") == 1

    # A reviewer: they are two people.
    conn.execute("insert into identity.keep_apart (worker_a, worker_b, decided_by) values (%s, %s, 'reviewer')",
                 (min(first, second), max(first, second)))  # fmt: skip
    with conn.transaction():
        assert resolve_identities(conn)["merges_undone"] == 1
    assert worker_of(conn, DEWI_1, "2025-01") == first
    assert worker_of(conn, DEWI_2, "2025-01") == second
    assert conn.execute("select count(*) from identity.worker_merge").fetchone() == (0,)
    # Only January counted the rows that moved (the second Dewi's); February's row stays with the first.
    assert facts.stale_periods(conn) == ["2025-01"]
    load(conn, "2025-01")
    assert covered_workers(conn, "2025-01") == 2
    assert covered_workers(conn, "2025-02") == 1
    assert facts.stale_periods(conn) == []

    # The same bridging row again: it joins the worker its NIK names, and merges nobody.
    land_and_link(conn, tmp_path, "2025-03", [bridge], 1_700_200_000)
    assert worker_of(conn, DEWI_1, "2025-03") == first
    assert worker_of(conn, DEWI_2, "2025-01") == second
    assert conn.execute("select count(*) from identity.worker_merge").fetchone() == (0,)


def test_undoing_one_merge_of_a_chain_keeps_the_others(conn) -> None:
    from ucj.identity.review import apply_corrections
    from ucj.identity.store import merge_workers

    conn.execute(
        """insert into identity.worker (worker_key, name_key, display_name, birth_date)
           overriding system value
           select k, 'x', 'X', date '1990-01-01' from generate_series(1, 4) as k"""
    )
    merge_workers(conn, 3, [4], "nik")  # first 4 -> 3
    merge_workers(conn, 1, [2], "nik")  # then 2 -> 1
    merge_workers(conn, 1, [3], "model")  # last: 3 (holding 4) -> 1
    roots = "select worker_key, coalesce(merged_into, worker_key) from identity.worker order by 1"
    assert conn.execute(roots).fetchall() == [(1, 1), (2, 1), (3, 1), (4, 1)]

    conn.execute("insert into identity.keep_apart (worker_a, worker_b, decided_by) values (2, 4, 'reviewer')")
    assert apply_corrections(conn)["merges_undone"] == 1
    # The latest merge on the path between 2 and 4 (3 -> 1) is undone; 4 -> 3 and 2 -> 1 hold.
    assert conn.execute(roots).fetchall() == [(1, 1), (2, 1), (3, 3), (4, 3)]
    assert apply_corrections(conn)["merges_undone"] == 0


def test_kept_apart_follows_merges() -> None:
    apart = KeptApart([(1, 2), (3, 4)])
    assert apart.apart(1, 2)
    assert apart.apart(2, 1)
    assert not apart.apart(1, 3)
    assert apart.compatible_group(1, [1, 2, 3]) == [1, 3]
    apart.merged(5, [2])  # 2 merged into 5: 5 now stays apart from 1
    assert apart.apart(1, 5)
    assert not apart.apart(1, 2)
    assert not KeptApart([])


def test_links_and_keys_do_not_depend_on_the_order_files_arrive(conn, tmp_path: Path) -> None:
    """Two Celery workers ingest in any order; identity must come out the same.

    Three Siti Aminah born the same day: two with NIKs too far apart to be one
    person, one without a NIK who could be either. She joins the same one, and
    every worker gets the same key, whichever file was ingested first.
    """
    from outputs import OUTPUT_TABLES

    files = {
        "a.csv": [village_row(1, nik="1310015203850001")],
        "b.csv": [village_row(1, nik="1310015203857777")],
        "c.csv": [village_row(1, nik="")],
    }
    rels = {name: land_village(tmp_path, "2025-01", name, rows) for name, rows in files.items()}
    outcomes = []
    for order in (["a.csv", "b.csv", "c.csv"], ["c.csv", "b.csv", "a.csv"]):
        conn.execute(f"truncate {', '.join(OUTPUT_TABLES)} restart identity cascade")
        for name in order:
            ingest.ingest_batch(conn, tmp_path, "village", "2025-01", [rels[name]])
        publish_and_settle(conn, "village", "2025-01")
        with conn.transaction():
            resolve_identities(conn)
        outcomes.append(
            conn.execute(
                """select f.rel_path, l.source_row, l.worker_key
                   from identity.row_link as l join ingest.source_file as f using (file_id) order by 1, 2"""
            ).fetchall()
        )
    assert outcomes[0] == outcomes[1]
    assert len({worker for _, _, worker in outcomes[0]}) == 2
