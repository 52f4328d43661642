"""
### Arrivals: start ingestion when rosters land

Every `arrival.schedule` (pipeline.yaml; hourly by default) this DAG lists the
**open months** of the landing zone — from a month's first day until
`arrival.late_days_after_deadline` days after its deadline (day
`deadline.day_of_next_month` of the next month) — and compares every file
with what the pipeline last read of it (`ingest.landing_seen`: size,
modification time, content hash). For each source kind and month with a new
or changed file it starts `ucj_ingest_<kind>` with that `period`; ingestion
then validates, publishes and starts `ucj_consolidate`.

- A file modified within `arrival.stable_seconds` is still being copied: it
  is left for the next sweep, never loaded half written.
- A sweep that finds nothing new starts nothing and emits no Asset event:
  it costs one listing of the open months and one query.
- A file touched without changing (same bytes) is read once, recognised by
  its content hash, and left alone afterwards.

#### Triage for on-call
- **sweep failed**: the landing zone or the warehouse is unreachable (the
  log says which). Fix it; the next scheduled sweep catches up on everything
  that arrived meanwhile. Clearing the task is safe.
- **A file for a closed month** (older than the late window) is not picked
  up by itself: trigger `ucj_ingest_<kind>` with `period=YYYY-MM`.
- Why was a file not loaded? The sweep's log lists the open months, every
  kind-month it started and the files still being written.
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import dag, task

from ucj.dag_support import DEFAULT_ARGS, TAGS
from ucj.settings import settings


def _schedule(value: str | int) -> str | dt.timedelta:
    """A cron expression or preset, or a number of seconds (a test stack sweeps every few seconds)."""
    return dt.timedelta(seconds=value) if isinstance(value, int) else value


@dag(
    dag_id="ucj_arrivals",
    schedule=_schedule(settings().arrival.schedule),
    start_date=pendulum.datetime(2025, 1, 1, tz="Asia/Jakarta"),
    catchup=False,
    # One sweep at a time; a slow sweep is not overtaken by the next one.
    max_active_runs=1,
    default_args={**DEFAULT_ARGS, "retries": 1},
    tags=[*TAGS, "ingest", "arrivals"],
    doc_md=__doc__,
)
def ucj_arrivals():
    @task(doc_md="List the open months; return one ingest run per kind-month with new or changed complete files.")
    def sweep() -> list[dict]:
        from ucj import pipeline_tasks

        return pipeline_tasks.sweep_arrivals()

    TriggerDagRunOperator.partial(
        task_id="start_ingest",
        doc_md="Start ucj_ingest_<kind> for the kind-month (its run id says which month and when it arrived).",
        logical_date=None,
        skip_when_already_exists=True,
    ).expand_kwargs(sweep())


ucj_arrivals()
