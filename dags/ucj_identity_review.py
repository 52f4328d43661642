"""
### Identity review: reviewers decide doubtful worker pairs in the Airflow UI

Started when a consolidation leaves pairs in `identity.review_queue` that
nobody has been shown (Asset `ucj://identity/review_queue`), or by hand. Each
run shows a page of up to `identity.review.pairs_per_request` pairs in
**Browse → Required Actions**: both workers side by side (names, birth dates,
masked NIKs, gender, their roster files and rows), the model's per-field
comparison and the match probability, with one answer per pair:

- **terima** — the same person: the next consolidation merges them;
- **tolak** — two people: no rule or model joins them again;
- **lewati** — unsure: the pair comes back on a later page.

Answers are stored in `identity.match_candidate` (`decided_by` = the Airflow
user who submitted the page), exactly as the SQL path does (`update
identity.match_candidate set status = ...`), which keeps working. A page with
at least one decision starts `ucj_consolidate` (Asset
`ucj://identity/decisions`), which applies every decision from either path
and reloads the months it changes, and then the next page if more pairs wait.

#### Triage for on-call
- **The page shows personal data**: it is meant for reviewers only; give the
  Required Actions permission to them, not to every Airflow user.
- **apply_answers failed after retries**: the warehouse was unreachable; clear
  the task — the answers are kept by Airflow and applied once (a pair decided
  meanwhile keeps that decision).
- **A page nobody answers** times out after `identity.review.request_timeout_days`
  as "skip all"; its pairs come first on the next page.
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import Asset, AssetAlias, dag, task

from ucj.dag_support import DEFAULT_ARGS, REVIEW_ALIAS, REVIEW_QUEUE_URI, TAGS
from ucj.hitl import PreparedRequestOperator
from ucj.settings import settings

SUBMIT = "Kirim keputusan"
review_outlet = AssetAlias(REVIEW_ALIAS)


@dag(
    dag_id="ucj_identity_review",
    schedule=Asset(REVIEW_QUEUE_URI, group="ucj"),
    start_date=pendulum.datetime(2025, 1, 1, tz="Asia/Jakarta"),
    catchup=False,
    # One page open at a time: two pages would show the same pairs.
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=[*TAGS, "identity", "review"],
    doc_md=__doc__,
)
def ucj_identity_review():
    @task(doc_md="Take the next page of the review queue (pairs never shown first) and mark it as shown.")
    def page(dag_run=None) -> dict:
        from ucj import pipeline_tasks

        return pipeline_tasks.review_page(f"ucj_identity_review/{dag_run.run_id}")

    ask = PreparedRequestOperator(
        task_id="review_pairs",
        page_task_id="page",
        subject="Tinjau pasangan pekerja: orang yang sama atau bukan?",
        options=[SUBMIT],
        defaults=[SUBMIT],
        response_timeout=dt.timedelta(days=int(settings().identity.review.request_timeout_days)),
        doc_md="The page as a Required Action: one answer per pair (terima / tolak / lewati), then 'Kirim'.",
        retries=0,
    )

    @task(
        outlets=[review_outlet],
        doc_md="Store the answers as reviewers' decisions (decided_by = the Airflow user) and start a "
        "consolidation when any pair was decided.",
    )
    def apply_answers(response: dict, dag_run=None, outlet_events=None) -> dict:
        from ucj import pipeline_tasks

        return pipeline_tasks.apply_review(
            response, outlet_events[review_outlet], f"ucj_identity_review/{dag_run.run_id}"
        )

    page() >> ask
    apply_answers(ask.output)


ucj_identity_review()
