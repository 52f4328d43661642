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
    assert loads["2025-01"]["files_changed"] == 2  # the version replaced and the new one: their unit rewritten
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


def test_a_split_or_a_lost_file_record_reloads_the_month_whole(conn, landing: Path, monkeypatch) -> None:
    from ucj import facts, fingerprint
    from ucj.period import parse_period

    siti = "1310015203850011"
    january = [row(1, siti, "Siti Aminah", "12/03/1985"), row(2, "", "Siti Aminah", "21/03/1985", village=SIALANG)]
    run_village_month("2025-01", [land_village(landing, "2025-01", "a.csv", january)])
    month = parse_period("2025-01")
    previous = fingerprint.last_result(conn, "load", "2025-01")
    inputs, versions = fingerprint.load_inputs(conn, month), fingerprint.files_in(conn, month)

    def scope(previous: dict | None = previous, versions: str = versions) -> list[int] | None:
        return facts.incremental_scope(conn, month, previous, inputs, versions)

    assert scope() == [], "nothing changed: no file to rewrite, and identity's changes (none) would do"
    conn.execute("insert into identity.pending_reload (period_month, reason) values (%s, 'identity_split')", (month,))
    assert scope() is None, "a reviewer's split reloads the month"
    conn.execute("delete from identity.pending_reload")
    assert scope({k: v for k, v in previous.items() if k != "file_versions"}) is None, "a load recorded without them"
    assert scope({**previous, "file_versions": previous["file_versions"] + ",999999:loaded"}) is None, (
        "a file version that load counted is no longer on record"
    )
    assert scope({**previous, "inputs": {**previous["inputs"], "sql": "other"}}) is None, "another load SQL"
    # A late file whose units hold more rows than a rewrite is worth: reloaded whole.
    monkeypatch.setattr(facts, "REWRITE_AT_MOST", 0)
    late = land_village(landing, "2025-01", "b.csv", [row(3, "1310015506700014", "Yusuf Maulana", "15/06/1970")])
    loads = run_village_month("2025-01", [late])
    assert "load_seconds" in loads["2025-01"]
    assert "merges_applied" not in loads["2025-01"]


def test_a_reviewers_split_rewrites_the_two_workers_not_the_month(conn, landing: Path, warehouse: str) -> None:
    """Rows split off a worker by a reviewer (identity.row_decision): the month they are in rewrites the two
    workers, records an identity_split revision, and equals a reload."""
    from ucj import facts

    siti, rahmat = "1310015203850011", "1310010102800012"
    january = [
        row(1, siti, "Siti Aminah", "12/03/1985"),
        row(2, siti, "Siti Aminah", "12/03/1985", village=SIALANG),  # a namesake with her NIK, a reviewer says
        row(3, rahmat, "Rahmat Hidayat", "01/02/1980"),
        row(4, "", "Rahmat Hidayat", "01/02/1980", village=SIALANG),
    ]
    run_village_month("2025-01", [land_village(landing, "2025-01", "a.csv", january)])
    run_village_month("2025-02", [land_village(landing, "2025-02", "a.csv", january)])
    assert conn.execute("select covered_workers from mart.ucj_regency_month order by period_month").fetchall() == [
        (2,),
        (2,),
    ]
    (file_id, siti_key) = conn.execute(
        """select l.file_id, l.worker_key from identity.row_link as l join ingest.source_file as f using (file_id)
           where f.rel_path = 'village/2025-01/a.csv' and l.source_row = 3"""
    ).fetchone()
    conn.execute(
        """insert into identity.row_decision (file_id, source_row, not_worker_key, split_group, decided_by)
           values (%s, 3, %s, 'namesake', 'reviewer')""",
        (file_id, siti_key),
    )
    pipeline_tasks.resolve_identities()
    assert facts.stale_periods(conn) == ["2025-01"], "only January holds the row split off"
    loads = {month: pipeline_tasks.load_period(month) for month in pipeline_tasks.periods_to_load("2025-02", None)}
    assert "load_seconds" not in loads["2025-01"], loads["2025-01"]
    assert loads["2025-01"]["rows_relinked"] == 1
    assert conn.execute(
        "select cause, covered_workers_before, covered_workers_after from mart.ucj_revision"
    ).fetchall() == [("identity_split", 2, 3)]
    _a_full_reload_changes_nothing(warehouse, "2025-01")
    _a_full_reload_changes_nothing(warehouse, "2025-02")


CHURN = {
    "churn_month": "select * from mart.coverage_churn_month",
    "churn_segment": "select * from mart.coverage_churn_segment_month",
    "lapse": "select * from followup.lapse",
}


def test_a_late_and_a_corrected_file_rewrite_only_their_units(conn, landing: Path, warehouse: str) -> None:
    """A late file for January (a unit that had not reported), then January's first file corrected, both after
    February was loaded: January takes each without a reload, and equals a reload; so do the churn counts."""
    siti, rahmat, dewi = "1310015203850011", "1310010102800012", "1310016708900013"
    yusuf, rina = "1310015506700014", "1310014404750015"
    january = [
        row(1, siti, "Siti Aminah", "12/03/1985"),
        row(2, rahmat, "Rahmat Hidayat", "01/02/1980"),
        row(3, dewi, "Dewi Lestari", "27/08/1990"),
    ]
    first = land_village(landing, "2025-01", "a.csv", january)
    run_village_month("2025-01", [first])
    february = [*january, row(4, yusuf, "Yusuf Maulana", "15/06/1970", village=SIALANG)]
    run_village_month("2025-02", [land_village(landing, "2025-02", "a.csv", february)])
    pipeline_tasks.refresh_churn()

    def covered(period: str) -> int:
        return conn.execute(
            "select covered_workers from mart.ucj_regency_month where period_month = %s", (f"{period}-01",)
        ).fetchone()[0]

    def units(period: str) -> int:
        return conn.execute(
            "select units_reported from mart.ucj_regency_month where period_month = %s", (f"{period}-01",)
        ).fetchone()[0]

    def january_takes(rel: str, files: int, units_rewritten: int) -> None:
        """The file through ingest and consolidation: January rewritten in part, not reloaded."""
        taken = run_village_month("2025-01", [rel])["2025-01"]
        pipeline_tasks.refresh_churn()
        assert "load_seconds" not in taken, taken
        assert (taken["files_changed"], taken["units_rewritten"]) == (files, units_rewritten), taken

    assert (covered("2025-01"), units("2025-01")) == (3, 1)
    # Sialang's January roster comes late: Yusuf, and Rina who reports nowhere else.
    late = land_village(landing, "2025-01", "b.csv", [
        row(1, yusuf, "Yusuf Maulana", "15/06/1970", village=SIALANG),
        row(2, rina, "Rina Wati", "04/04/1975", village=SIALANG),
    ])  # fmt: skip
    january_takes(late, files=1, units_rewritten=1)
    assert (covered("2025-01"), units("2025-01")) == (5, 2)
    _churn_and_months_equal_a_reload(warehouse, ["2025-01", "2025-02"])

    # The first file sent again: Rahmat no longer on it.
    corrected = land_village(landing, "2025-01", "a.csv", [january[0], january[2]], mtime=1_700_100_000)
    january_takes(corrected, files=2, units_rewritten=1)  # the version replaced and the new one
    assert (covered("2025-01"), units("2025-01")) == (4, 2)
    causes = conn.execute(
        """select cause, covered_workers_before, covered_workers_after from mart.ucj_revision
           where period_month = '2025-01-01' order by revised_at"""
    ).fetchall()
    assert causes == [("late_file", 3, 5), ("corrected_file", 5, 4)]
    _churn_and_months_equal_a_reload(warehouse, ["2025-01", "2025-02"])


def _churn_and_months_equal_a_reload(warehouse: str, periods: list[str]) -> None:
    """Every month reloaded whole and the churn counted afresh change nothing."""
    with psycopg.connect(warehouse, autocommit=True) as conn:
        incremental = checksums(conn, {**STATE, **CHURN})
    for period in periods:
        assert "load_seconds" in pipeline_tasks.load_period(period, force=True)
    pipeline_tasks.refresh_churn(force=True)
    with psycopg.connect(warehouse, autocommit=True) as conn:
        assert checksums(conn, {**STATE, **CHURN}) == incremental
