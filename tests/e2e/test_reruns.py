"""Reruns are safe: clearing any task, rerunning a period, backfilling in any
order, or running two periods at once all leave the warehouse as one clean run
leaves it. Real DAGs, real Airflow, real PostgreSQL.

Worker keys and file ids are surrogate numbers handed out in arrival order, so
runs that arrive in a different order are compared through a canonical form:
each worker is named by the first roster row (file path, row) it was built
from, each file by its path.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from ucj_dev import runner

pytestmark = pytest.mark.e2e

PERIODS = ["2025-01", "2025-02", "2025-03"]
ROOT = Path(__file__).resolve().parents[2]

# Each worker named by the first roster row (file path, row) it was built from.
WORKER_LABEL = """
    with label as (
        select worker_key, min(source_file || '#' || source_row) as worker
        from mart.roster_row_status where worker_key is not null group by 1
    )"""

# When a figure was first published, and whether it was revised since, are
# history by definition: the same files loaded another way publish at other
# times. Everything else must be equal.
PUBLICATION_HISTORY = ("first_published_at", "revised")

CANONICAL = {
    "ucj_regency_month": f"""select to_jsonb(m) - array{list(PUBLICATION_HISTORY)} from mart.ucj_regency_month as m""",
    "coverage_churn_month": "select * from mart.coverage_churn_month",
    "coverage_churn_segment_month": "select * from mart.coverage_churn_segment_month",
    "coverage_program_month": "select * from mart.coverage_program_month",
    "units_not_reported": "select * from mart.units_not_reported",
    "ucj_regency_year_change": "select * from mart.ucj_regency_year_change",
    "roster_row_status": WORKER_LABEL
    + """
        select s.source_kind, s.source_file, s.source_row, s.period_month, s.status, s.reason, l.worker,
               s.file_modified_at
        from mart.roster_row_status as s left join label as l using (worker_key)""",
    "dim_worker": WORKER_LABEL
    + """
        select l.worker, d.full_name, d.gender, d.birth_date, d.home_village_code, d.valid_from, d.valid_to,
               d.is_current
        from dw.dim_worker as d join label as l using (worker_key)""",
    "fact_submission": """
        select s.period_month, u.source_kind, u.unit_key, f.rel_path, s.rows_received, s.rows_loaded,
               s.rows_quarantined, s.rows_duplicate, s.received_at
        from dw.fact_submission as s join dw.dim_reporting_unit as u using (unit_sk)
        join ingest.source_file as f using (file_id)""",
}

# The exact state, surrogate keys included: what a rerun must not change at all.
EXACT = {
    **{name: query for name, query in CANONICAL.items() if name.startswith(("ucj", "coverage", "units"))},
    "ucj_regency_month": "select * from mart.ucj_regency_month",
    "ucj_revision": "select * from mart.ucj_revision",
    "roster_row_status": "select * from mart.roster_row_status",
    "dim_worker": "select * from dw.dim_worker",
    "fact_coverage": "select * from dw.fact_coverage",
    "fact_submission": "select * from dw.fact_submission",
    "worker": "select worker_key, merged_into, nik, name_key, display_name, birth_date, gender from identity.worker",
    "row_link": "select file_id, source_row, worker_key, rule, score from identity.row_link",
}


def checksums(conn: psycopg.Connection, queries: dict[str, str]) -> dict[str, str]:
    return {
        name: conn.execute(
            f"select count(*) || ':' || md5(coalesce(string_agg(t::text, '|' order by t::text), '')) from ({q}) t"
        ).fetchone()[0]
        for name, q in queries.items()
    }


def truncate(warehouse: str) -> None:
    from outputs import OUTPUT_TABLES

    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute(f"truncate {', '.join(OUTPUT_TABLES)}, meta.stage_fingerprint restart identity cascade")


@pytest.fixture(scope="module")
def reference(warehouse: str, airflow_db: None, sample_landing: Path) -> dict[str, dict[str, str]]:
    """One clean run of the three months, in order."""
    truncate(warehouse)
    assert runner.run(str(sample_landing), PERIODS) == []
    with psycopg.connect(warehouse, autocommit=True) as conn:
        return {
            "canonical": checksums(conn, CANONICAL),
            "exact": checksums(conn, EXACT),
            "row_states": checksums(
                conn, {"s": "select source_file, source_row, status, reason from mart.roster_row_status"}
            )["s"],
        }


def _task_state(dag_id: str, task_id: str, map_index: int, run_id: str) -> str:
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return session.scalar(
            select(TaskInstance.state).where(
                TaskInstance.dag_id == dag_id,
                TaskInstance.task_id == task_id,
                TaskInstance.run_id == run_id,
                TaskInstance.map_index == map_index,
            )
        )


def test_clearing_any_task_of_a_finished_run_changes_nothing(reference, warehouse: str, sample_landing: Path) -> None:
    """Every task of the last month's four DAG runs, each mapped instance too,
    run again in place (``airflow tasks test``: the task's own XCom inputs,
    the real task code), as on-call does by clearing it in the UI."""
    from airflow.cli import cli_parser
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models import DagRun, TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    parser = cli_parser.get_parser()
    rerun = []
    for dag_id in ["ucj_ingest_opd", "ucj_ingest_village", "ucj_ingest_employer", "ucj_consolidate"]:
        dag = bag.dags[dag_id]
        with create_session() as session:
            # The last month's run: the runner's latest of this DAG.
            run_id = session.scalar(
                select(DagRun.run_id).where(DagRun.dag_id == dag_id).order_by(DagRun.run_after.desc()).limit(1)
            )
            instances = session.execute(
                select(TaskInstance.task_id, TaskInstance.map_index).where(
                    TaskInstance.dag_id == dag_id,
                    TaskInstance.run_id == run_id,
                    # Nothing was held: asking a steward had nothing to do.
                    TaskInstance.state != "skipped",
                )
            ).all()
        order = {task.task_id: i for i, task in enumerate(dag.topological_sort())}
        for task_id, map_index in sorted(instances, key=lambda ti: (order[ti[0]], ti[1])):
            args = parser.parse_args(["tasks", "test", dag_id, task_id, run_id, "--map-index", str(map_index)])
            args.func(args)
            state = _task_state(dag_id, task_id, map_index, run_id)
            assert state == "success", f"{dag_id}.{task_id}[{map_index}] rerun ended {state}"
            rerun.append(f"{dag_id}.{task_id}")
    assert len(rerun) >= 4 * 6
    with psycopg.connect(warehouse, autocommit=True) as conn:
        assert checksums(conn, EXACT) == reference["exact"]


def test_rerunning_every_period_forced_changes_nothing(reference, warehouse: str, sample_landing: Path) -> None:
    """force=true redoes settle, validation and the load rather than reusing them.

    Each stage records when it last did its work (``meta.stage_fingerprint.done_at``);
    a stage that reused its result leaves that time as it was.
    """
    when = "select stage, scope, done_at from meta.stage_fingerprint where stage in ('settle', 'validate', 'load')"
    with psycopg.connect(warehouse, autocommit=True) as conn:
        before = {(stage, scope): done for stage, scope, done in conn.execute(when)}
    assert {stage for stage, _ in before} == {"settle", "validate", "load"}
    assert runner.run(str(sample_landing), PERIODS, force=True) == []
    with psycopg.connect(warehouse, autocommit=True) as conn:
        assert checksums(conn, EXACT) == reference["exact"]
        after = {(stage, scope): done for stage, scope, done in conn.execute(when)}
    not_redone = sorted(key for key, done in before.items() if after[key] <= done)
    assert not_redone == [], f"force=true reused these stages instead of redoing them: {not_redone}"
    assert len([key for key in after if key[0] == "load"]) == len(PERIODS)


def test_a_backfill_after_going_live_gives_the_same_warehouse(reference, warehouse: str, sample_landing: Path) -> None:
    """Live for January first, then February..March backfilled as one range."""
    truncate(warehouse)
    assert runner.run(str(sample_landing), PERIODS[:1]) == []
    assert runner.run(str(sample_landing), PERIODS[1:]) == []
    with psycopg.connect(warehouse, autocommit=True) as conn:
        assert checksums(conn, CANONICAL) == reference["canonical"]


def test_months_loaded_newest_first_give_the_same_numbers(reference, warehouse: str, sample_landing: Path) -> None:
    """Every count and every row state agree whatever order the months arrive in.

    Which worker an ambiguous row (a mistyped NIK and a spelling variant at
    once) joins can depend on what was seen first, so worker grouping is
    compared only for chronological runs above.
    """
    truncate(warehouse)
    assert runner.run(str(sample_landing), list(reversed(PERIODS))) == []
    assert_same_numbers(warehouse, reference)


def assert_same_numbers(warehouse: str, reference: dict[str, dict[str, str]]) -> None:
    """Every mart count, every submission and every row's state equal the reference.

    Churn follows workers from month to month, so it depends on the grouping
    too: it is compared with the chronological runs only (issue: identity
    that does not depend on month order).
    """
    grouping = ("roster_row_status", "dim_worker", "coverage_churn_month", "coverage_churn_segment_month")
    counted = {name: q for name, q in CANONICAL.items() if name not in grouping}
    counted["row_states"] = "select source_file, source_row, status, reason from mart.roster_row_status"
    with psycopg.connect(warehouse, autocommit=True) as conn:
        got = checksums(conn, counted)
    expected = {name: value for name, value in reference["canonical"].items() if name in counted}
    assert {k: v for k, v in got.items() if k in expected} == expected
    assert got["row_states"] == reference["row_states"]


def test_two_periods_running_at_once_give_the_same_warehouse(
    reference, warehouse: str, sample_landing: Path, tmp_path: Path
) -> None:
    """Two runner processes, each with its own Airflow, one warehouse: ingest,
    identity and load of January and February interleave for real. Arrival
    order is then arbitrary, so the comparison is the one for any order."""
    truncate(warehouse)
    procs = []
    for period in PERIODS[:2]:
        env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / period)}
        command = [sys.executable, "-m", "ucj_dev.runner", "--landing-root", str(sample_landing), "--periods", period,
                   "--log-file", str(tmp_path / f"{period}.log")]  # fmt: skip
        procs.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert runner.run(str(sample_landing), PERIODS[2:]) == []
    assert_same_numbers(warehouse, reference)
