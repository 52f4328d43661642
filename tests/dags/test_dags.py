"""DAG integrity: imports, policy every task follows, nothing heavy at import time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXPECTED_DAGS = {
    "ucj_ingest_opd", "ucj_ingest_village", "ucj_ingest_employer", "ucj_consolidate", "ucj_deadline",
    "ucj_arrivals", "ucj_publication_approval", "ucj_identity_review",
}  # fmt: skip
# DAGs about one month, which on-call runs by hand with a period.
PERIOD_DAGS = {"ucj_ingest_opd", "ucj_ingest_village", "ucj_ingest_employer", "ucj_consolidate", "ucj_deadline"}
# Tasks whose failure is in the data, never transient: retrying cannot help;
# and the Required Actions, where a retry would ask the person again.
NO_RETRY_TASKS = {"check_outcome", "check_deadline", "steward_decision", "review_pairs"}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


def test_all_dags_import_without_errors(dagbag) -> None:
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == EXPECTED_DAGS


def test_dags_are_documented_owned_and_tagged(dagbag) -> None:
    for dag in dagbag.dags.values():
        assert "Triage" in (dag.doc_md or ""), dag.dag_id
        assert "ucj" in dag.tags, dag.dag_id
        assert ("period" in dag.params) == (dag.dag_id in PERIOD_DAGS), dag.dag_id


def test_every_task_has_a_doc_an_owner_alerting_and_deliberate_retries(dagbag) -> None:
    for dag in dagbag.dags.values():
        for task in dag.tasks:
            where = f"{dag.dag_id}.{task.task_id}"
            assert task.doc_md, where
            assert task.owner == "ucj-data", where
            assert task.on_failure_callback, where
            if task.task_id in NO_RETRY_TASKS:
                assert task.retries == 0, where
            else:
                assert task.retries >= 1, where
                assert task.retry_exponential_backoff, where


def test_published_changes_start_consolidation_and_nothing_else_does(dagbag) -> None:
    """Ingest and approval emit through one alias (to the kind's Asset, only when something was published);
    consolidation listens to the three roster Assets and to reviewers' decisions."""
    from airflow.sdk import AssetAlias

    for dag_id in ["ucj_ingest_opd", "ucj_ingest_village", "ucj_ingest_employer", "ucj_publication_approval"]:
        outlets = [o for t in dagbag.dags[dag_id].tasks for o in t.outlets]
        assert outlets == [AssetAlias("ucj_roster_published")], dag_id
    consolidate = dagbag.dags["ucj_consolidate"]
    assert {a.uri for a in consolidate.timetable.asset_condition.objects} == {
        "ucj://roster/opd", "ucj://roster/village", "ucj://roster/employer", "ucj://identity/decisions",
    }  # fmt: skip
    review = dagbag.dags["ucj_identity_review"]
    assert review.timetable.asset_condition.uri == "ucj://identity/review_queue"


def test_ingest_runs_start_on_arrival_not_on_a_calendar(dagbag) -> None:
    for kind in ("opd", "village", "employer"):
        assert type(dagbag.dags[f"ucj_ingest_{kind}"].timetable).__name__ == "NullTimetable"
    arrivals = dagbag.dags["ucj_arrivals"]
    assert arrivals.timetable.expression == "0 * * * *"  # pipeline.yaml arrival.schedule: @hourly
    start = arrivals.get_task("start_ingest")
    assert start.partial_kwargs.get("trigger_dag_id") is None  # one per kind-month found, mapped


def test_ingest_maps_over_batches_not_files(dagbag) -> None:
    dag = dagbag.dags["ucj_ingest_village"]
    mapped = [t.task_id for t in dag.tasks if getattr(t, "is_mapped", False) or type(t).__name__ == "MappedOperator"]
    assert sorted(mapped) == ["ask_steward", "ingest_batch"]


IMPORT_PROBE = """
import json, socket, sys, importlib.util, pathlib
def refuse(*a, **k):
    raise RuntimeError("network access at DAG import time")
socket.socket.connect = refuse
for path in sorted(pathlib.Path(sys.argv[1]).glob("*.py")):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
heavy = ("pandas", "psycopg", "great_expectations", "python_calamine", "pgserver", "openpyxl")
heavy = [m for m in heavy if m in sys.modules]
print(json.dumps(heavy))
"""


def test_dag_files_do_no_heavy_work_at_import(tmp_path: Path) -> None:
    var_dir = tmp_path / "must-not-exist"
    env = {**os.environ, "UCJ_VAR_DIR": str(var_dir), "AIRFLOW_CONN_WAREHOUSE": "postgresql://nobody@192.0.2.1/none"}
    out = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE, str(ROOT / "dags")],
        env=env, capture_output=True, text=True, check=True, cwd=tmp_path,
    )  # fmt: skip
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
    assert not var_dir.exists()


def test_period_param_accepts_a_month_or_nothing(dagbag) -> None:
    from airflow.sdk.exceptions import ParamValidationError

    param = dagbag.dags["ucj_ingest_village"].params.get_param("period")
    assert param.resolve("2025-03") == "2025-03"
    assert param.resolve(None) is None
    for bad in ("2025-13", "Maret 2025", "2025-3"):
        with pytest.raises(ParamValidationError):
            param.resolve(bad)


def test_reports_plugin_is_registered_and_serves_the_pages_to_logged_in_users_only(airflow_db: None) -> None:
    from airflow import plugins_manager
    from airflow.api_fastapi.app import init_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from fastapi.testclient import TestClient

    from ucj.settings import reports_dir

    views = [v for p in plugins_manager.get_plugin_info() for v in p.get("external_views", [])]
    assert any(v["name"] == "UCJ coverage report" and v["href"] == "ucj-reports/" for v in views)

    import ucj_reports_plugin

    auth = init_auth_manager()  # what the API server does at start
    reports_dir().mkdir(parents=True, exist_ok=True)
    (reports_dir() / "index.html").write_text("<h1>Laporan</h1>", encoding="utf-8")
    client = TestClient(ucj_reports_plugin.UcjReportsPlugin.fastapi_apps[0]["app"])
    anonymous = client.get("/")
    assert anonymous.status_code == 401
    assert "Laporan" not in anonymous.text
    browser = client.get("/", headers={"accept": "text/html"}, follow_redirects=False)
    assert browser.status_code == 307
    assert "login" in browser.headers["location"]
    assert client.get("/", headers={"authorization": "Bearer forged"}).status_code in (401, 403)

    token = auth.generate_jwt(SimpleAuthManagerUser(username="steward", role="viewer"))
    for headers, cookies in (({"authorization": f"Bearer {token}"}, {}), ({}, {"_token": token})):
        client.cookies.clear()
        client.cookies.update(cookies)
        response = client.get("/", headers=headers)
        assert response.status_code == 200
        assert "Laporan" in response.text
        assert client.get("/2099-01.html", headers=headers).status_code == 404
