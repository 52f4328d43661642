"""The reporting deadline: nothing before day N, then an alert naming who is missing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from rosterfiles import land_village, publish_and_settle, village_row

from ucj import completeness, ingest, pipeline_tasks
from ucj.identity.resolve import resolve_identities


def test_due_date_is_day_n_of_the_next_month_clamped() -> None:
    assert completeness.due_date("2025-03", 10) == dt.date(2025, 4, 10)
    assert completeness.due_date("2025-01", 31) == dt.date(2025, 2, 28)
    assert completeness.due_date("2025-12", 5) == dt.date(2026, 1, 5)
    assert completeness.period_due(dt.date(2025, 4, 11)) == "2025-03"
    assert completeness.period_due(dt.date(2025, 1, 3)) == "2024-12"


@pytest.fixture
def one_village_reported(conn, tmp_path: Path) -> Path:
    rel = land_village(tmp_path, "2025-03", "13.10.01.2002.csv", [village_row(1, code="13.10.01.2002")])
    ingest.ingest_batch(conn, tmp_path, "village", "2025-03", [rel])
    publish_and_settle(conn, "village", "2025-03")
    with conn.transaction():
        resolve_identities(conn)
    pipeline_tasks.load_period("2025-03", force=True)
    return tmp_path


def test_before_the_deadline_nothing_is_checked(conn, one_village_reported: Path) -> None:
    result = completeness.check(conn, one_village_reported, dt.date(2025, 4, 9))
    assert (result.period, result.passed, result.missing) == ("2025-03", False, [])


def test_after_the_deadline_missing_units_are_named(conn, one_village_reported: Path) -> None:
    result = completeness.check(conn, one_village_reported, dt.date(2025, 4, 10))
    assert result.passed
    assert not result.complete
    assert result.kinds_without_files == ["opd", "employer"]
    (villages,) = conn.execute(
        "select count(*) from dw.dim_region where level = 'village' and regency_code = '1310'"
    ).fetchone()
    assert result.missing == [{"regency_code": "1310", "source_kind": "village", "units_missing": villages - 1}]
    message = result.message()
    assert "2025-04-10" in message
    assert f"1310: {villages - 1} desa" in message
    assert "no files at all for: opd, employer" in message


def test_deadline_dag_fails_with_the_list_after_the_deadline(
    one_village_reported: Path, airflow_db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("AIRFLOW_VAR_LANDING_ROOT", str(one_village_reported))
    dag = DagBag(dag_folder=str(Path(__file__).resolve().parents[2] / "dags")).dags["ucj_deadline"]
    early = dag.test(logical_date=dt.datetime(2025, 4, 5, 1, tzinfo=dt.UTC))
    assert early.state == "success"
    late = dag.test(logical_date=dt.datetime(2025, 4, 12, 1, tzinfo=dt.UTC))
    assert late.state == "failed"
    (ti,) = late.get_task_instances()
    assert ti.state == "failed"
    assert ti.try_number == 1, "never retried"
