"""Reruns are safe: clearing any task of a finished run, or rerunning every
period forced, leaves the warehouse exactly as the clean run left it,
surrogate keys included; earlier months backfilled after going live with a
later one give the same numbers. Real DAGs, real Airflow, real PostgreSQL.
(Two runs at once are in ``test_any_order.py``; the two modules run side by
side under ``make test``.)
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from rerun_checks import EXACT, PERIODS, ROOT, assert_same_numbers, checksums, clean_run, truncate

from ucj_dev import runner

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def reference(warehouse: str, airflow_db: None, sample_landing: Path) -> dict[str, str]:
    return clean_run(warehouse, sample_landing)


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


def test_a_backfill_after_going_live_gives_the_same_numbers(reference, warehouse: str, sample_landing: Path) -> None:
    """Live for March first, then January..February backfilled as one range: every count, every
    worker grouping (churn included) and every row state as in the chronological run.

    The earlier months arrive after a later one: March's rows that share
    evidence with them are linked again after them (README, "Worker
    identity"). Before that, three NIKs of one name, each one typo from the
    next, grouped differently, and churn with them.
    """
    truncate(warehouse)
    assert runner.run(str(sample_landing), PERIODS[-1:]) == []
    assert runner.run(str(sample_landing), PERIODS[:-1]) == []
    assert_same_numbers(warehouse, reference)
