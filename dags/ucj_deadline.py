"""
### Deadline: are last month's rosters all in?

Every morning (Asia/Jakarta), checks the month whose reporting deadline falls
in the current month: rosters for a month are due by day
`deadline.day_of_next_month` of the next month (`src/ucj/config/pipeline.yaml`,
default 10). Before that day it only logs the due date. From that day on it
**fails while any unit is missing**, which sends the structured alert (log, and
the `ucj_alerts` webhook when configured) naming the regencies and how many
villages, OPDs and employers have not reported, and whether a source kind has
no files at all.

#### Triage for on-call
- **check_deadline failed**: not a pipeline fault. Forward the message to the
  regency / branch office coordinators; the full list of silent units is in
  `mart.units_not_reported` and in the coverage report. When the rosters
  arrive, the hourly `ucj_arrivals` sweep starts their ingest runs by itself
  (late files too, for `arrival.late_days_after_deadline` days), and the next
  morning's check passes once they are published. A month held for a
  steward's approval still counts as missing until it is approved.
- To check a particular month, trigger with `period=YYYY-MM`.
- Never retried: rerunning cannot make rosters arrive.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from ucj.dag_support import DEFAULT_ARGS, TAGS, period_param


@dag(
    dag_id="ucj_deadline",
    schedule="0 8 * * *",
    start_date=pendulum.datetime(2025, 1, 1, tz="Asia/Jakarta"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=[*TAGS, "deadline", "completeness"],
    doc_md=__doc__,
    params={"period": period_param("Month YYYY-MM to check; empty = the month whose deadline falls this month.")},
)
def ucj_deadline():
    @task(
        retries=0,
        doc_md=(
            "Fails (and alerts) when the deadline has passed and units are still missing; "
            "the message lists them per regency. Not retried: a rerun cannot make rosters arrive."
        ),
    )
    def check_deadline(logical_date=None, params=None) -> dict:
        from ucj import pipeline_tasks

        return pipeline_tasks.check_deadline(logical_date, params.get("period"))

    check_deadline()


ucj_deadline()
