"""A month whose workers were merged since it was loaded takes the merges, not a reload, and ends as a reload would.

Driven through the DAG tasks' own code (``ucj.pipeline_tasks``): January
loaded with two people each split over two workers (and a third person whose
split shows in March, when one of the others is merged again); February and
March reveal them. Each time January is brought up to date by moving the
merged-away keys (``facts.apply_identity_changes``), and a forced full reload of it
afterwards changes nothing: not a fact, an aggregate, a worker version, a
surrogate key or a revision.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from rerun_checks import EXACT, checksums
from rosterfiles import land_village, run_village_month, village_row

from ucj import pipeline_tasks

KOTO_BARU, SIALANG = "13.10.01.2002", "13.10.01.2003"
STATE = {
    **EXACT,
    "worker_month": "select * from identity.worker_month",
    "agg_regency_month": "select * from dw.agg_regency_month",
    "agg_coverage_program_month": "select * from dw.agg_coverage_program_month",
}


def row(n: int, nik: str, name: str, born: str, village: str = KOTO_BARU, programs: str = "JKK, JKM") -> list:
    # The NIKs below carry their holder's birth date and sex (``nik.nik_evidence``): Rahmat's is a man's.
    gender = "L" if name.startswith("Rahmat") else "P"
    return village_row(n, nik=nik, name=name, born=born, code=village, programs=programs, gender=gender)


@pytest.fixture
def landing(conn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AIRFLOW_VAR_LANDING_ROOT", str(tmp_path))
    return tmp_path


def test_merges_reach_a_loaded_month_without_reloading_it(conn, landing: Path, warehouse: str) -> None:
    siti, rahmat, dewi = "1310015203850011", "1310010102800012", "1310016708900013"
    january = [
        # Siti: two workers in two villages (her second row has no NIK and another birth date).
        row(1, siti, "Siti Aminah", "12/03/1985"),
        row(2, "", "Siti Aminah", "21/03/1985", village=SIALANG, programs="JKK"),
        # Rahmat: two workers in one village, both covered for JKK: one fact each, one once merged.
        row(3, rahmat, "Rahmat Hidayat", "01/02/1980", programs="JKK"),
        row(4, "", "Rahmat Hidayat", "02/01/1980", programs="JKK, JKM"),
        # Dewi: two workers, one person as March shows.
        row(5, dewi, "Dewi Lestari", "27/08/1990"),
        row(6, "", "Dewi Lestari", "28/08/1990", village=SIALANG),
        row(7, "1310015506700014", "Yusuf Maulana", "15/06/1970"),
    ]
    run_village_month("2025-01", [land_village(landing, "2025-01", "a.csv", january)])
    before = dict(conn.execute("select regency_code, covered_workers from mart.ucj_regency_month").fetchall())
    assert before == {"1310": 7}

    # February: each one's NIK beside the second birth date.
    # (Everyone reports again: a month of two rows would fail the row-count expectation and be held.)
    february = [*january, row(8, siti, "Siti Aminah", "21/03/1985"), row(9, rahmat, "Rahmat Hidayat", "02/01/1980")]
    loads = run_village_month("2025-02", [land_village(landing, "2025-02", "a.csv", february)])
    assert set(loads) == {"2025-01", "2025-02"}
    assert loads["2025-01"]["merges_applied"] == 2, loads["2025-01"]  # moved, not reloaded
    assert "load_seconds" not in loads["2025-01"]
    assert "merges_applied" not in loads["2025-02"]  # a month's own first load is a full one
    assert conn.execute(
        "select covered_workers from mart.ucj_regency_month where period_month = '2025-01-01'"
    ).fetchone() == (5,)
    revised = conn.execute(
        "select covered_workers_before, covered_workers_after, cause from mart.ucj_revision"
    ).fetchall()
    assert revised == [(7, 5, "identity_merge")]
    _a_full_reload_changes_nothing(warehouse, "2025-01")

    # March: Dewi's NIK beside her second birth date; January moves again.
    march = [*february, row(10, dewi, "Dewi Lestari", "28/08/1990", village=SIALANG)]
    loads = run_village_month("2025-03", [land_village(landing, "2025-03", "a.csv", march)])
    assert loads["2025-01"]["merges_applied"] == 1
    assert conn.execute(
        "select covered_workers from mart.ucj_regency_month where period_month = '2025-01-01'"
    ).fetchone() == (4,)
    _a_full_reload_changes_nothing(warehouse, "2025-01")


def test_a_corrected_earlier_month_rewrites_only_the_later_months_workers_it_touched(
    conn, landing: Path, warehouse: str
) -> None:
    """January corrected after February was loaded: the February rows of the people the new file names
    are linked again (``identity.pending_relink``), and February takes them without a reload."""
    siti, dewi, yusuf = "1310015203850011", "1310016708900013", "1310015506700014"
    january = [
        row(1, siti, "Siti Aminah", "12/03/1985"),
        row(2, dewi, "Dewi Lestari", "27/08/1990"),
        row(3, yusuf, "Yusuf Maulana", "15/06/1970"),
        row(4, "1310014404750015", "Rina Wati", "04/04/1975"),
    ]
    run_village_month("2025-01", [land_village(landing, "2025-01", "a.csv", january)])
    # February: Dewi's second row (no NIK, another birth date, another village) is a worker of its own.
    february = [*january, row(5, "", "Dewi Lestari", "28/08/1990", village=SIALANG)]
    run_village_month("2025-02", [land_village(landing, "2025-02", "a.csv", february)])
    assert conn.execute(
        "select covered_workers from mart.ucj_regency_month where period_month = '2025-02-01'"
    ).fetchone() == (5,)
    # January's clerk sends the file again: Rina gone, and Dewi's NIK beside the second birth date.
    corrected = [*january[:3], row(4, dewi, "Dewi Lestari", "28/08/1990", village=SIALANG)]
    rel = land_village(landing, "2025-01", "a.csv", corrected, mtime=1_700_100_000)
    loads = run_village_month("2025-01", [rel])
    assert set(loads) == {"2025-01", "2025-02"}
    assert "load_seconds" in loads["2025-01"]  # its file changed: reloaded whole
    february_load = loads["2025-02"]
    assert "load_seconds" not in february_load, february_load  # rewritten worker by worker
    assert february_load["rows_relinked"] > 0, february_load
    # Dewi is one person in February now; Rina still reports there.
    assert conn.execute(
        "select covered_workers from mart.ucj_regency_month where period_month = '2025-02-01'"
    ).fetchone() == (4,)
    assert conn.execute(
        """select cause, covered_workers_before, covered_workers_after from mart.ucj_revision
           where period_month = '2025-02-01'"""
    ).fetchall() == [("late_file", 5, 4)]
    assert conn.execute("select count(*) from identity.pending_relink").fetchone() == (0,)
    _a_full_reload_changes_nothing(warehouse, "2025-02")
    _a_full_reload_changes_nothing(warehouse, "2025-01")


def _a_full_reload_changes_nothing(warehouse: str, period: str) -> None:
    with psycopg.connect(warehouse, autocommit=True) as conn:
        incremental = checksums(conn, STATE)
    full = pipeline_tasks.load_period(period, force=True)
    assert "load_seconds" in full  # the forced load rebuilt the month
    with psycopg.connect(warehouse, autocommit=True) as conn:
        assert checksums(conn, STATE) == incremental


def test_a_month_with_a_new_file_or_a_split_is_reloaded_whole(conn, landing: Path) -> None:
    from ucj import facts, fingerprint
    from ucj.period import parse_period

    siti = "1310015203850011"
    january = [row(1, siti, "Siti Aminah", "12/03/1985"), row(2, "", "Siti Aminah", "21/03/1985", village=SIALANG)]
    run_village_month("2025-01", [land_village(landing, "2025-01", "a.csv", january)])
    month = parse_period("2025-01")
    previous = fingerprint.last_result(conn, "load", "2025-01")
    assert facts.identity_changes_only(
        conn, month, previous, fingerprint.load_inputs(conn, month)
    )  # nothing changed at all: merges (none) would do
    conn.execute("insert into identity.pending_reload (period_month, reason) values (%s, 'identity_split')", (month,))
    assert not facts.identity_changes_only(conn, month, previous, fingerprint.load_inputs(conn, month))
    conn.execute("delete from identity.pending_reload")
    # A late file for January: its rows are not in the facts, only a reload counts them.
    late = land_village(landing, "2025-01", "b.csv", [row(3, "1310015506700014", "Yusuf Maulana", "15/06/1970")])
    loads = run_village_month("2025-01", [late])
    assert "load_seconds" in loads["2025-01"]
    assert "merges_applied" not in loads["2025-01"]
    assert not facts.identity_changes_only(
        conn, month, previous, fingerprint.load_inputs(conn, month)
    )  # against the load before the file
