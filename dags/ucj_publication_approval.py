"""
### Publication approval: a data steward decides on a held batch

Started by `ucj_ingest_<kind>` when a source kind's month failed validation
(write-audit-publish). The run waits in **Browse → Required Actions** (or the
task's *Required Actions* tab) with the failed expectations and their counts —
never row values. Meanwhile the marts keep the last published state of that
kind and month, and `mart.roster_row_status.publication` shows `held`.

- **Terbitkan** (approve): the held files are published now, the rows they
  replace are superseded, and `ucj_consolidate` rebuilds the month.
- **Tolak** (reject): the files stay held until the sender's fixed file passes
  validation (the next arrival sweep publishes it by itself).

Who answered, and when, is stored in `audit.publication` (`decided_by` = the
Airflow user) and shown per row in `mart.roster_row_status.published_by`. An
answer to a batch that a later file has replaced meanwhile applies to
nothing: the task says so and records it as `void`. Unanswered requests are
rejected after `publication.approval_timeout_days`.

#### Triage for on-call
- **apply_decision failed after retries**: the warehouse was unreachable;
  clear it. The answer is kept by Airflow and applied once.
- To ask again for a rejected batch: trigger `ucj_ingest_<kind>` with its
  `period`; the run validates it again and, if it still fails, asks again.
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import AssetAlias, dag, task

from ucj.dag_support import APPROVE_OPTION, DEFAULT_ARGS, PUBLISHED_ALIAS, REJECT_OPTION, TAGS
from ucj.settings import settings

published = AssetAlias(PUBLISHED_ALIAS)


@dag(
    dag_id="ucj_publication_approval",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="Asia/Jakarta"),
    catchup=False,
    # Every held batch waits on its own; none blocks another or an ingest run.
    max_active_runs=64,
    default_args=DEFAULT_ARGS,
    tags=[*TAGS, "publication", "steward"],
    doc_md=__doc__,
)
def ucj_publication_approval():
    approval = HITLOperator(
        task_id="steward_decision",
        subject="Terbitkan {{ dag_run.conf['kind'] }} {{ dag_run.conf['period'] }}? Validasi gagal",
        body="{{ dag_run.conf['body'] }}",
        options=[APPROVE_OPTION, REJECT_OPTION],
        defaults=[REJECT_OPTION],
        response_timeout=dt.timedelta(days=int(settings().publication.approval_timeout_days)),
        doc_md="The steward's answer: Terbitkan (approve) or Tolak (reject). Times out as Tolak.",
        retries=0,
    )

    @task(
        outlets=[published],
        doc_md="Publish the held batch if approved and still the same batch (else say it applies to nothing); "
        "settle its snapshots and start ucj_consolidate.",
    )
    def apply_decision(response: dict, dag_run=None, run_id=None, outlet_events=None) -> dict:
        from ucj import pipeline_tasks

        conf = dag_run.conf
        decision = pipeline_tasks.publication_decision(
            conf["kind"], conf["period"], conf["candidate"], response, "ucj_publication_approval", run_id
        )
        settled = pipeline_tasks.settle(conf["kind"], conf["period"]) if decision["published_files"] else 0
        pipeline_tasks.announce(
            conf["kind"], conf["period"],
            {"files_published": decision["published_files"], "rows_resettled": settled},
            {"approved_by": (response.get("responded_by_user") or {}).get("name")},
            False, outlet_events[published],
        )  # fmt: skip
        return {**decision, "rows_resettled": settled}

    apply_decision(approval.output)


ucj_publication_approval()
