"""Coverage churn: who is new, continuing, returning or lapsed per regency and month, and why a lapse happened.

Three months of two villages of Dharmasraya, loaded through the DAG tasks'
own code (``ucj.pipeline_tasks``), with one worker for each kind of lapse.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
from pathlib import Path

import psycopg
import pytest
from rerun_checks import checksums
from rosterfiles import VILLAGE_HEADER, run_village_month, village_row

from ucj import pipeline_tasks
from ucj.period import previous_month
from ucj_dev.synthetic.writers import csv_bytes

KOTO_BARU, SIALANG = "13.10.01.2002", "13.10.01.2003"
PEOPLE = {
    1: "Siti Aminah", 2: "Budi Santoso", 3: "Rahmat Hidayat", 4: "Dewi Lestari", 5: "Yusuf Maulana",
    6: "Rina Marlina",
}  # fmt: skip


def person(n: int, village: str, status: str = "Aktif", ended: str = "") -> list:
    return [*village_row(n, nik=f"13100152038500{n:02d}", name=PEOPLE[n], code=village), status, ended]


MONTHS = {
    "2025-01": {KOTO_BARU: [person(1, KOTO_BARU), person(2, KOTO_BARU), person(3, KOTO_BARU), person(6, KOTO_BARU)],
                SIALANG: [person(4, SIALANG)]},
    # 2 listed Non Aktif, 6's enrollment ended mid-month, 3 dropped from the roster, Sialang sent nothing (4).
    "2025-02": {KOTO_BARU: [person(1, KOTO_BARU), person(2, KOTO_BARU, status="Non Aktif"), person(5, KOTO_BARU),
                            person(6, KOTO_BARU, ended="15/02/2025")]},
    # 3 and 4 come back.
    "2025-03": {KOTO_BARU: [person(1, KOTO_BARU), person(3, KOTO_BARU), person(5, KOTO_BARU)],
                SIALANG: [person(4, SIALANG)]},
}  # fmt: skip


def _land(root: Path, period: str, village: str, rows: list[list]) -> str:
    rel = f"village/{period}/{village}.csv"
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_bytes(csv_bytes([[*VILLAGE_HEADER, "Status", "Tgl Berakhir"], *rows]))
    os.utime(root / rel, (1_700_000_000, 1_700_000_000))
    return rel


@pytest.fixture
def three_months(conn: psycopg.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AIRFLOW_VAR_LANDING_ROOT", str(tmp_path))
    for period, villages in MONTHS.items():
        files = [_land(tmp_path, period, village, rows) for village, rows in villages.items()]
        pipeline_tasks.ingest_files("village", period, files)
        validation = pipeline_tasks.validate("village", period, "ucj_ingest_village", "test")
        pipeline_tasks.publication_gate("village", period, validation, "ucj_ingest_village", "test")
        pipeline_tasks.settle("village", period)
        pipeline_tasks.resolve_identities()
        pipeline_tasks.load_period(period)
    pipeline_tasks.refresh_churn()
    return conn


COLUMNS = (
    "covered_workers, new_workers, continuing_workers, returning_workers, lapsed_workers, lapsed_status_non_aktif, "
    "lapsed_enrollment_ended, lapsed_unit_not_reported, lapsed_dropped_from_snapshot"
)


def test_churn_counts_and_lapse_reasons(three_months) -> None:
    conn = three_months
    got = {
        str(month)[:7]: row
        for month, *row in conn.execute(
            f"select period_month, {COLUMNS} from mart.coverage_churn_month where regency_code = '1310' order by 1"
        )
    }
    assert got == {
        #           covered new cont ret lapsed non_aktif ended unit dropped
        "2025-01": [5, 5, 0, 0, 0, 0, 0, 0, 0],
        "2025-02": [2, 1, 1, 0, 4, 1, 1, 1, 1],
        "2025-03": [4, 0, 2, 2, 0, 0, 0, 0, 0],
    }
    # The same covered workers as the UCJ table, and the month-to-month identity.
    covered = dict(conn.execute("select to_char(period_month, 'YYYY-MM'), covered_workers from mart.ucj_regency_month"))
    assert {m: row[0] for m, row in got.items()} == covered
    months = sorted(got)
    for before, month in itertools.pairwise(months):
        c, new, _, returning, lapsed = got[month][:5]
        assert c == got[before][0] - lapsed + new + returning


def test_the_segment_breakdown_adds_up_to_the_regency(three_months) -> None:
    conn = three_months
    regency = conn.execute(
        """select period_month, covered_workers, new_workers, continuing_workers, returning_workers, lapsed_workers
           from mart.coverage_churn_month order by 1"""
    ).fetchall()
    by_segment = conn.execute(
        """select period_month, sum(covered_workers)::bigint, sum(new_workers)::bigint,
                  sum(continuing_workers)::bigint, sum(returning_workers)::bigint, sum(lapsed_workers)::bigint
           from mart.coverage_churn_segment_month group by 1 order by 1"""
    ).fetchall()
    assert by_segment == regency  # one segment and funding source here: every worker is a village BPU on APBDES


def test_a_rerun_reuses_the_churn_and_a_reload_rebuilds_it(three_months) -> None:
    conn = three_months
    assert pipeline_tasks.refresh_churn().get("reused") is True
    before = conn.execute(f"select period_month, {COLUMNS} from mart.coverage_churn_month order by 1").fetchall()
    pipeline_tasks.load_period("2025-02", force=True)
    rebuilt = pipeline_tasks.refresh_churn()
    assert not rebuilt.get("reused")
    assert (
        conn.execute(f"select period_month, {COLUMNS} from mart.coverage_churn_month order by 1").fetchall() == before
    )


def test_the_follow_up_list_names_each_lapsed_worker_for_caseworkers_only(three_months, tmp_path: Path) -> None:
    conn = three_months
    conn.execute("set role caseworker")
    try:
        got = {
            (name, reason, last_unit, str(last)[:7])
            for name, reason, last_unit, last in conn.execute(
                """select full_name, reason, last_unit_code, last_covered_month from followup.lapsed_worker
                   where period_month = '2025-02-01'"""
            )
        }
    finally:
        conn.execute("reset role")
    assert got == {
        ("Budi Santoso", "status_non_aktif", KOTO_BARU.replace(".", ""), "2025-01"),
        ("Rina Marlina", "enrollment_ended", KOTO_BARU.replace(".", ""), "2025-01"),
        ("Rahmat Hidayat", "dropped_from_snapshot", KOTO_BARU.replace(".", ""), "2025-01"),
        ("Dewi Lestari", "unit_not_reported", SIALANG.replace(".", ""), "2025-01"),
    }
    conn.execute("set role bi_reader")
    try:
        with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
            conn.execute("select * from followup.lapsed_worker")
    finally:
        conn.execute("reset role")


def test_a_regency_caseworker_reads_only_its_regency(three_months) -> None:
    conn = three_months
    conn.execute("select access.grant_regency_caseworker('kasus_solok_selatan', array['1311'])")
    conn.execute("select access.grant_regency_caseworker('kasus_dharmasraya', array['1310'])")
    try:
        for role, expected in (("kasus_solok_selatan", 0), ("kasus_dharmasraya", 4)):
            conn.execute(f"set role {role}")
            try:
                assert conn.execute("select count(*) from followup.lapsed_worker").fetchone() == (expected,)
                with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                    conn.execute("select * from followup.lapse")  # the unfiltered table
                with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                    conn.execute("select * from mart.ucj_regency_month")  # a caseworker scope is not a mart scope
            finally:
                conn.execute("reset role")
    finally:
        conn.execute("delete from access.regency_scope")
        for role in ("kasus_solok_selatan", "kasus_dharmasraya"):
            conn.execute(f"drop owned by {role}")
            conn.execute(f"drop role {role}")


def test_roles_that_read_every_regency_or_must_never_read_the_list_are_refused(three_months) -> None:
    """The checks the two regency grants share (access.prepare_scoped_role), seen from the caseworker side."""
    conn = three_months
    for role in ("caseworker", "bi_reader"):
        with pytest.raises(psycopg.errors.RaiseException, match="already reads every regency"), conn.transaction():
            conn.execute(f"select access.grant_regency_caseworker('{role}', array['1310'])")
    conn.execute("create role kasus_semua nologin in role caseworker")
    try:
        with pytest.raises(psycopg.errors.RaiseException, match="member of caseworker"), conn.transaction():
            conn.execute("select access.grant_regency_caseworker('kasus_semua', array['1310'])")
        with pytest.raises(psycopg.errors.RaiseException, match="unknown regency codes"), conn.transaction():
            conn.execute("select access.grant_regency_caseworker('kasus_baru', array['13.10'])")
        assert conn.execute("select count(*) from pg_roles where rolname = 'kasus_baru'").fetchone() == (0,)
        assert conn.execute("select count(*) from access.regency_scope").fetchone() == (0,)
    finally:
        conn.execute("drop role kasus_semua")


def test_the_coverage_report_shows_churn_with_lapse_reasons_in_indonesian(three_months, tmp_path: Path) -> None:
    from pages import rows_by

    from ucj.coverage_report import write_report

    conn = three_months
    html = write_report(conn, "2025-02", tmp_path / "laporan").read_text(encoding="utf-8")
    mart = conn.execute(
        """select covered_workers, new_workers, continuing_workers, returning_workers, lapsed_workers
           from mart.coverage_churn_month where period_month = '2025-02-01' and regency_code = '1310'"""
    ).fetchone()
    cells = rows_by(html, "data-churn-regency")["1310"]
    assert [int(c.replace(".", "")) for c in cells[1:6]] == list(mart)
    assert mart[4] == 4
    assert cells[6] == (
        "status non aktif: 1; masa kepesertaan berakhir: 1; unit tidak melapor: 1; tidak ada lagi di daftar unit: 1"
    )
    for english in ("status_non_aktif", "dropped_from_snapshot", "no cited working population", "data error"):
        assert english not in html


def test_the_follow_up_workbook_is_in_indonesian(three_months) -> None:
    from openpyxl import load_workbook

    from ucj.followup import HEADERS, report_path

    paths = pipeline_tasks.followup_reports(list(MONTHS))
    assert paths == [str(report_path("1310", "2025-02"))]  # only February has lapses
    sheet = load_workbook(paths[0]).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0][0].startswith("Pekerja yang tidak lagi tercakup, ")
    header = rows.index(HEADERS)
    listed = rows[header + 1 :]
    assert len(listed) == 4
    assert {r[8] for r in listed} == {
        "Status Non Aktif di roster bulan ini", "Kepesertaan sudah berakhir", "Tidak ada lagi di roster unit",
        "Unit tidak mengirim roster bulan ini",
    }  # fmt: skip
    assert all("*" in r[5] for r in listed)  # the NIK masked, never whole


CHURN_STATE = {
    "agg_churn_month": "select * from dw.agg_churn_month",
    "agg_churn_segment_month": "select * from dw.agg_churn_segment_month",
    "lapse": "select * from followup.lapse",
    "churn_covered": "select * from dw.churn_covered",
    "churn_first": "select * from dw.churn_first",
    "churn_segment_first": "select * from dw.churn_segment_first",
}
SOLOK_SELATAN = "13.11.01.2001"


def _churn_truth(conn: psycopg.Connection) -> dict[tuple[str, str], tuple[int, int, int, int, int]]:
    """Churn from who is covered each month (the facts), counted from its definition in Python."""
    covered: dict[tuple[dt.date, str], set[int]] = {}
    facts = conn.execute("select distinct period_month, regency_code, worker_key from dw.fact_coverage")
    for month, regency, worker in facts:
        covered.setdefault((month, regency), set()).add(worker)
    months = sorted({m for (m,) in conn.execute("select distinct period_month from dw.agg_regency_month")})
    regencies = {r for _, r in covered}
    truth = {}
    for month, regency in itertools.product(months, regencies):
        now, last = covered.get((month, regency), set()), covered.get((previous_month(month), regency), set())
        before = set().union(*(w for (m, r), w in covered.items() if r == regency and m < month))
        counts = (len(now), len(now - before), len(now & last), len((now & before) - last), len(last - now))
        if any(counts):
            truth[(str(month)[:7], regency)] = counts
    return truth


def _counted_as_a_whole_count_would(conn: psycopg.Connection, warehouse: str) -> None:
    """The churn as the incremental refresh left it equals the truth and a refresh that counts every month."""
    incremental = pipeline_tasks.refresh_churn()
    assert not incremental.get("reused")
    got = {
        (str(month)[:7], regency): tuple(row)
        for month, regency, *row in conn.execute(
            """select period_month, regency_code, covered_workers, new_workers, continuing_workers,
                      returning_workers, lapsed_workers from dw.agg_churn_month"""
        )
    }
    assert got == _churn_truth(conn)
    with psycopg.connect(warehouse, autocommit=True) as other:
        state = checksums(other, CHURN_STATE)
    whole = pipeline_tasks.refresh_churn(force=True)
    assert got
    assert whole["whole_months_counted"] == len({m for m, _ in got})
    with psycopg.connect(warehouse, autocommit=True) as other:
        assert checksums(other, CHURN_STATE) == state


def test_churn_follows_corrections_in_proportion_and_equals_a_whole_count(conn, tmp_path: Path, monkeypatch,
                                                                          warehouse: str) -> None:  # fmt: skip
    """Months out of order, a merge reaching two loaded months, a corrected file and a late one: after each,
    the churn refreshed by what changed equals the truth and a count of every month afresh."""
    monkeypatch.setenv("AIRFLOW_VAR_LANDING_ROOT", str(tmp_path))
    siti_again = [*village_row(7, nik="", name="Siti Aminah", born="21/03/1985", code=SIALANG), "Aktif", ""]
    january = {KOTO_BARU: [person(1, KOTO_BARU), person(2, KOTO_BARU), person(3, KOTO_BARU), person(6, KOTO_BARU)],
               SIALANG: [person(4, SIALANG), siti_again]}  # fmt: skip
    for village, rows in january.items():
        run_village_month("2025-01", [_land(tmp_path, "2025-01", village, rows)])
    _counted_as_a_whole_count_would(conn, warehouse)

    # March before February. Siti's NIK beside her second birth date: her two workers merge, in January too.
    siti_known = [*village_row(8, nik="1310015203850001", name="Siti Aminah", born="21/03/1985", code=SIALANG),
                  "Aktif", ""]  # fmt: skip
    march = {KOTO_BARU: [person(1, KOTO_BARU), person(3, KOTO_BARU), person(5, KOTO_BARU)],
             SIALANG: [person(4, SIALANG), siti_known]}  # fmt: skip
    loads = {}
    for village, rows in march.items():
        loads |= run_village_month("2025-03", [_land(tmp_path, "2025-03", village, rows)])
    assert loads["2025-01"].get("merges_applied"), loads  # January took the merge without a reload
    _counted_as_a_whole_count_would(conn, warehouse)
    merged = pipeline_tasks.refresh_churn()
    assert merged.get("reused") is True  # nothing changed since

    february = [person(1, KOTO_BARU), person(2, KOTO_BARU, status="Non Aktif"), person(5, KOTO_BARU),
                person(6, KOTO_BARU, ended="15/02/2025")]  # fmt: skip
    run_village_month("2025-02", [_land(tmp_path, "2025-02", KOTO_BARU, february)])
    _counted_as_a_whole_count_would(conn, warehouse)

    # February's roster corrected (Rahmat was on it after all), and a late January file from Solok Selatan.
    corrected = _land(tmp_path, "2025-02", KOTO_BARU, [*february, person(3, KOTO_BARU)])
    os.utime(tmp_path / corrected, (1_700_100_000, 1_700_100_000))
    run_village_month("2025-02", [corrected])
    late = [
        [*village_row(9, nik="1311015203850009", name="Yusuf Maulana", code=SOLOK_SELATAN), "Aktif", ""],
        [*village_row(10, nik="1311015203850010", name="Rina Marlina", code=SOLOK_SELATAN), "Aktif", ""],
    ]
    run_village_month("2025-01", [_land(tmp_path, "2025-01", SOLOK_SELATAN, late)])
    _counted_as_a_whole_count_would(conn, warehouse)
    regencies = {r for (r,) in conn.execute("select distinct regency_code from dw.agg_churn_month")}
    assert regencies == {"1310", "1311"}

    # A crash empties the churn's unlogged copy; the next refresh counts every month afresh, without doubling.
    conn.execute("truncate dw.churn_covered, dw.churn_first, dw.churn_segment_first, dw.churn_month")
    conn.commit()
    pipeline_tasks.load_period("2025-02", force=True)
    _counted_as_a_whole_count_would(conn, warehouse)
