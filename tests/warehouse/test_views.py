"""Views as definitions: one file per view in include/sql/views, re-applied by migrate() when a file changes."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ucj import warehouse as wh


def _columns(conn: psycopg.Connection, view: str) -> list[str]:
    return [
        name
        for (name,) in conn.execute(
            "select attname from pg_attribute where attrelid = %s::regclass and attnum > 0 order by attnum", (view,)
        )
    ]


@pytest.fixture
def views_dir(warehouse: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the view files that a test may edit; the shipped views are applied again afterwards."""
    copy = tmp_path / "views"
    shutil.copytree(wh.VIEWS_DIR, copy)
    monkeypatch.setattr(wh, "VIEWS_DIR", copy)
    yield copy
    monkeypatch.undo()
    wh.migrate()


def test_every_view_in_the_warehouse_has_its_one_file(warehouse: str) -> None:
    with psycopg.connect(warehouse) as conn:
        in_db = {
            name
            for (name,) in conn.execute(
                """select c.oid::regclass::text from pg_class c
                   where c.relkind = 'v'
                     and c.relnamespace::regnamespace::text
                         in ('mart', 'dw', 'audit', 'identity', 'access', 'followup')"""
            )
        }
        recorded = dict(conn.execute("select view_name, checksum from meta.view_definition").fetchall())
    files = {v.name: v.checksum for v in wh.view_definitions()}
    assert in_db == set(files)
    assert recorded == files


def test_no_migration_from_v021_on_writes_a_view() -> None:
    statement = re.compile(r"^\s*(create|drop|alter)\s+(or\s+replace\s+)?view\b", re.IGNORECASE | re.MULTILINE)
    for mig in wh.migrations():
        if mig.version >= 21:
            assert not statement.search(mig.path.read_text(encoding="utf-8")), mig.path.name


def test_unchanged_files_are_not_applied_again(warehouse: str) -> None:
    with psycopg.connect(warehouse, autocommit=True) as conn:
        before = conn.execute("select min(applied_at) from meta.view_definition").fetchone()
        assert wh.apply_views(conn) is False
        assert conn.execute("select min(applied_at) from meta.view_definition").fetchone() == before


def test_an_edited_view_file_is_applied_by_migrate_even_when_it_drops_a_column(views_dir: Path, warehouse: str) -> None:
    """``create or replace view`` cannot drop a column; re-creating from the file can, and keeps the grants."""
    (views_dir / "43_mart.coverage_program_month.sql").write_text(
        """create view mart.coverage_program_month as
select period_month, regency_code, 1 as probe from dw.agg_coverage_program_month;
comment on column mart.coverage_program_month.probe is 'a column the edited file added';
""",
        encoding="utf-8",
    )
    assert wh.migrate() == []  # no versioned migration pending: only the view changed
    with psycopg.connect(warehouse) as conn:
        assert _columns(conn, "mart.coverage_program_month") == ["period_month", "regency_code", "probe"]
        assert conn.execute("select col_description('mart.coverage_program_month'::regclass, 3)").fetchone() == (
            "a column the edited file added",
        )
        recorded = dict(conn.execute("select view_name, checksum from meta.view_definition").fetchall())
        assert recorded == {v.name: v.checksum for v in wh.view_definitions()}
        assert conn.execute(
            "select has_table_privilege('bi_reader', 'mart.coverage_program_month', 'select')"
        ).fetchone() == (True,)
        # The views that read other views were re-created too.
        assert "covered_workers_last_year" in _columns(conn, "mart.ucj_regency_year_change")


def test_a_view_the_project_does_not_define_stops_the_change_by_name(views_dir: Path, warehouse: str) -> None:
    """A BI user's own view on a mart view is never dropped along; the change stops, and nothing changed."""
    path = views_dir / "40_mart.ucj_regency_month.sql"
    path.write_text(path.read_text(encoding="utf-8") + "\n-- edited\n", encoding="utf-8")
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute("create view public.my_dashboard as select regency_code from mart.ucj_regency_month")
        try:
            with pytest.raises(wh.WarehouseConfigError, match=r"mart\.ucj_regency_month.*my_dashboard"):
                wh.migrate()
            assert conn.execute("select count(*) from meta.view_definition").fetchone() == (len(wh.view_definitions()),)
            assert _columns(conn, "mart.ucj_regency_year_change")  # the earlier drops were rolled back
        finally:
            conn.execute("drop view public.my_dashboard")


def test_a_view_file_with_a_wrong_name_is_refused(views_dir: Path, warehouse: str) -> None:
    (views_dir / "mart_extra.sql").write_text("create view mart.extra as select 1;\n", encoding="utf-8")
    with pytest.raises(wh.WarehouseConfigError, match=r"NN_schema\.view_name\.sql"):
        wh.view_definitions()
