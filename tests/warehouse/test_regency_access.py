"""Each regency sees its own: roles made by access.grant_regency_reader() read only their regencies' mart rows.

Enforced in PostgreSQL (the mart views filter by the session's roles), so it
holds for any BI tool and for SQL typed by hand; checked here through real
roles with ``set role``.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from rosterfiles import land_village, village_row

from ucj import pipeline_tasks
from ucj import warehouse as wh

PERIOD = "2025-01"
VILLAGES = {"1310": "13.10.01.2002", "1311": "13.11.01.2001"}  # Koto Baru (Dharmasraya), Lubuk Gadang (Solok Selatan)
# Every mart view and the column that says whose it is (roster_row_status: the file names the regency).
VIEWS = {
    "ucj_regency_month": "regency_code",
    "ucj_regency_year_change": "regency_code",
    "coverage_program_month": "regency_code",
    "units_not_reported": "regency_code",
    "roster_row_status": "left(split_part(source_file, '/', 3), 4)",
    "worker": "left(nik_masked, 4)",
}


@pytest.fixture
def two_regencies(conn: psycopg.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """January with covered workers in two regencies, loaded as the DAG tasks load it."""
    monkeypatch.setenv("AIRFLOW_VAR_LANDING_ROOT", str(tmp_path))
    files = []
    for regency, village in VILLAGES.items():
        rows = [village_row(n, nik=f"{regency}015203850{n:03d}", name=f"Warga {regency} {n}", code=village)
                for n in range(1, 4 if regency == "1310" else 3)]  # fmt: skip
        files.append(land_village(tmp_path, PERIOD, f"{regency}.csv", rows))
    pipeline_tasks.ingest_files("village", PERIOD, files)
    validation = pipeline_tasks.validate("village", PERIOD, "ucj_ingest_village", "test")
    pipeline_tasks.publication_gate("village", PERIOD, validation, "ucj_ingest_village", "test")
    pipeline_tasks.settle("village", PERIOD)
    pipeline_tasks.resolve_identities()
    pipeline_tasks.load_period(PERIOD)
    conn.execute("select access.grant_regency_reader('pemkab_dharmasraya', array['1310'])")
    conn.execute("select access.grant_regency_reader('pemkab_solok_selatan', array['1311'])")
    yield conn
    conn.execute("reset role")
    conn.execute("delete from access.regency_scope")
    for role in ("pemkab_dharmasraya", "pemkab_solok_selatan"):
        conn.execute(f"drop owned by {role}")
        conn.execute(f"drop role {role}")


def _owners(conn: psycopg.Connection, role: str, view: str) -> list[str]:
    conn.execute(f"set role {role}")
    try:
        return [whose for (whose,) in conn.execute(f"select {VIEWS[view]} from mart.{view}")]
    finally:
        conn.execute("reset role")


@pytest.mark.parametrize("view", sorted(VIEWS))
def test_each_regency_role_sees_only_its_rows_and_bi_reader_sees_all(two_regencies, view: str) -> None:
    conn = two_regencies
    everything = _owners(conn, "bi_reader", view)
    dharmasraya = _owners(conn, "pemkab_dharmasraya", view)
    solok_selatan = _owners(conn, "pemkab_solok_selatan", view)
    assert set(dharmasraya) <= {"1310"}
    assert set(solok_selatan) <= {"1311"}
    assert sorted(dharmasraya + solok_selatan) == sorted(everything)
    if view != "units_not_reported":  # every expected unit of the two villages reported
        assert dharmasraya
        assert solok_selatan
        assert set(everything) == {"1310", "1311"}


def test_a_regency_role_cannot_widen_its_scope_or_read_around_the_views(two_regencies) -> None:
    conn = two_regencies
    conn.execute("set role pemkab_dharmasraya")
    try:
        for statement in (
            "select access.grant_regency_reader('pemkab_dharmasraya', array['1310', '1311'])",
            "insert into access.regency_scope (role_name, scope, regency_code)"
            " values ('pemkab_dharmasraya', 'reader', '1311')",
            "select * from access.regency_scope",
            "select * from dw.agg_regency_month",
            "select * from ingest.roster_row",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                conn.execute(statement)
        other = conn.execute("select count(*) from mart.ucj_regency_month where regency_code = '1311'").fetchone()
        assert other == (0,)
        # Through a join of two views: still only its own.
        joined = conn.execute(
            """select distinct left(w.nik_masked, 4), left(split_part(r.source_file, '/', 3), 4)
               from mart.roster_row_status as r join mart.worker as w using (worker_key)"""
        ).fetchall()
        assert joined == [("1310", "1310")]
        # Nor through a function of its own that would see rows the filter drops (no schema to create it in).
        with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
            conn.execute("create function public.peek(text) returns boolean language sql cost 0.0001 as 'select true'")
    finally:
        conn.execute("reset role")


def test_a_scope_is_replaced_by_a_new_grant_and_survives_the_views_being_recreated(
    two_regencies, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = two_regencies
    conn.execute("select access.grant_regency_reader('pemkab_dharmasraya', array['1310', '1311'])")
    assert set(_owners(conn, "pemkab_dharmasraya", "ucj_regency_month")) == {"1310", "1311"}
    conn.execute("select access.grant_regency_reader('pemkab_dharmasraya', array['1311'])")
    assert set(_owners(conn, "pemkab_dharmasraya", "ucj_regency_month")) == {"1311"}
    # A view file changes: every view is dropped and created again; the regency roles still read them.
    import shutil

    copy = tmp_path / "views"
    shutil.copytree(wh.VIEWS_DIR, copy)
    (copy / "43_mart.coverage_program_month.sql").write_text(
        (copy / "43_mart.coverage_program_month.sql").read_text(encoding="utf-8") + "\n-- edited\n", encoding="utf-8"
    )
    monkeypatch.setattr(wh, "VIEWS_DIR", copy)
    wh.migrate()
    assert set(_owners(conn, "pemkab_solok_selatan", "coverage_program_month")) == {"1311"}
    monkeypatch.undo()
    wh.migrate()


def test_unknown_regencies_and_bi_reader_are_refused(two_regencies) -> None:
    conn = two_regencies
    with pytest.raises(psycopg.errors.RaiseException, match="unknown regency codes"), conn.transaction():
        conn.execute("select access.grant_regency_reader('pemkab_x', array['1310', '9999'])")
    with pytest.raises(psycopg.errors.RaiseException, match="already reads every regency"), conn.transaction():
        conn.execute("select access.grant_regency_reader('bi_reader', array['1310'])")
    assert conn.execute("select count(*) from pg_roles where rolname = 'pemkab_x'").fetchone() == (0,)
