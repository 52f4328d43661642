"""Revisions on record: a published regency-month figure that changes leaves a row saying when, how much and why.

Driven through the DAG tasks' own code (``ucj.pipeline_tasks``): a month
published, then a late file, a corrected file, and a later month revealing
that two workers were one person.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from rosterfiles import land_village, run_village_month, village_row

KOTO_BARU, SIALANG = "13.10.01.2002", "13.10.01.2003"
NAMES = {1: "Budi Santoso", 2: "Rahmat Hidayat", 3: "Dewi Lestari", 4: "Yusuf Maulana"}


def revisions(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(
        """select to_char(period_month, 'YYYY-MM'), covered_workers_before, covered_workers_after, cause
           from mart.ucj_revision where regency_code = '1310' order by revised_at"""
    ).fetchall()


def published(conn: psycopg.Connection, period: str = "2025-01") -> tuple:
    return conn.execute(
        """select covered_workers, first_published_at is not null, revised from mart.ucj_regency_month
           where regency_code = '1310' and period_month = %s""",
        (f"{period}-01",),
    ).fetchone()


def person(n: int, village: str = KOTO_BARU, nik: str | None = None, name: str | None = None, born: str = "12/03/1985"):
    return village_row(n, nik=nik if nik is not None else f"13100{n}5203850{n:03d}",
                       name=name or NAMES[n], born=born, code=village)  # fmt: skip


@pytest.fixture
def landing(conn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AIRFLOW_VAR_LANDING_ROOT", str(tmp_path))
    return tmp_path


def test_late_and_corrected_files_revise_the_published_figure(conn, landing: Path) -> None:
    first = land_village(landing, "2025-01", "a.csv", [person(n) for n in (1, 2, 3)], 1_700_000_000)
    run_village_month("2025-01", [first])
    assert published(conn) == (3, True, False)
    assert revisions(conn) == []
    (first_published_at,) = conn.execute("select first_published_at from mart.ucj_regency_month").fetchone()

    late = land_village(landing, "2025-01", "b.csv", [person(4, SIALANG)], 1_700_000_100)
    run_village_month("2025-01", [first, late])
    assert revisions(conn) == [("2025-01", 3, 4, "late_file")]
    assert published(conn) == (4, True, True)

    corrected = land_village(landing, "2025-01", "a.csv", [person(n) for n in (1, 2)], 1_700_000_200)
    run_village_month("2025-01", [corrected, late])
    assert revisions(conn)[1:] == [("2025-01", 4, 3, "corrected_file")]

    run_village_month("2025-01", [corrected, late])  # nothing changed: nothing revised
    assert len(revisions(conn)) == 2
    assert conn.execute("select first_published_at from mart.ucj_regency_month").fetchone() == (first_published_at,)
    (run_id,) = conn.execute("select distinct dag_id is null from mart.ucj_revision").fetchone()
    assert run_id is True  # outside Airflow no run made it; inside a task it is the DAG run's id

    # The coverage page lists both revisions, in Indonesian, and marks the month revised.
    from pages import rows_by

    from ucj.coverage_report import write_report

    html = write_report(conn, "2025-01", landing / "laporan").read_text(encoding="utf-8")
    listed = rows_by(html, "data-revision-regency")["1310"]
    assert [listed[i : i + 7][2:6] for i in range(0, len(listed), 7)] == [
        ["4", "3", "-1", "berkas perbaikan"],
        ["3", "4", "+1", "berkas terlambat"],
    ]
    assert rows_by(html, "data-regency")["1310"][-1].endswith("direvisi")


def test_a_later_month_that_joins_two_workers_revises_the_earlier_month(conn, landing: Path) -> None:
    nik = "1310015203850011"  # a woman born 12-03-1985
    january = [person(11, nik=nik, name="Siti Aminah", born="12/03/1985"),
               person(12, village=SIALANG, nik="", name="Siti Aminah", born="21/03/1985")]  # fmt: skip
    run_village_month("2025-01", [land_village(landing, "2025-01", "a.csv", january)])
    assert published(conn)[0] == 2  # nothing yet says these are one person
    # February: her NIK beside the second birth date - the two are one person.
    february = [person(11, nik=nik, name="Siti Aminah", born="21/03/1985")]
    run_village_month("2025-02", [land_village(landing, "2025-02", "a.csv", february)])
    assert ("2025-01", 2, 1, "identity_merge") in revisions(conn)
    assert published(conn) == (1, True, True)


def test_a_revision_without_a_cause_or_below_zero_fails_naming_the_month(conn, landing: Path) -> None:
    import datetime as dt

    from ucj import facts

    run_village_month("2025-01", [land_village(landing, "2025-01", "a.csv", [person(n) for n in (1, 2)])])
    january = dt.date(2025, 1, 1)
    with pytest.raises(facts.RevisionError, match=r"2025-01: revision cause 'because' is not one of"):
        facts.record_revisions(conn, january, "because")
    with conn.transaction(force_rollback=True):
        conn.execute("update dw.agg_regency_month set covered_workers = -1 where period_month = '2025-01-01'")
        with pytest.raises(facts.RevisionError, match=r"2025-01: covered workers would be negative"):
            facts.record_revisions(conn, january, "late_file")
    assert published(conn) == (2, True, False), "the published figure is untouched"
    assert revisions(conn) == []
