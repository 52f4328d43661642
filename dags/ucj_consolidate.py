"""
### Consolidate: workers, coverage facts and the UCJ marts

Runs whenever an ingest DAG (or a steward's approval) publishes a change to
its Asset (`ucj://roster/opd`, `ucj://roster/village`, `ucj://roster/employer`),
for the months named in the events; when reviewers decide pairs in the
Airflow UI (`ucj://identity/decisions`); or by hand with the `period` param.
Only published files count: a held batch (failed validation) stays out of
the marts until it is approved or replaced. It refreshes the reference data
(regions, labour force, with `<landing_root>/reference/labor_force.csv` on
top), links new roster rows to workers (a worker keeps the same `worker_key`
forever), rebuilds each month's coverage facts as a whole partition, and logs
the UCJ table and renders the month's coverage report (menu "UCJ coverage
report"). BI tools read the `mart` views, which are current as soon as
`load_period` commits.

#### Triage for on-call
- **prepare_warehouse failed with a labor_force.csv message**: the landing
  zone's reference file has a bad line; fix it and clear the task.
- **resolve_identities / match_probabilistically / load_period failed after
  retries**: database trouble; clear the failed task. Identity only links rows that have no link
  yet, and each month's facts are replaced whole in one transaction, so
  reruns never double-count and never change a worker's key.
- **Doubtful matches** wait in `identity.review_queue` (warehouse, restricted
  schema). After each run with pairs nobody has seen, `ucj_identity_review`
  shows them as a page in **Browse → Required Actions** (terima / tolak /
  lewati per pair). The SQL path still works: `update identity.match_candidate
  set status = 'accepted' | 'rejected', decided_by = '<name>', decided_at =
  now() where worker_a = .. and worker_b = ..`. The next run applies either
  and never overrides it.
- **A wrong link** (whoever made it): see the worker's rows in
  `identity.worker_rows`; keep two workers apart with `identity.keep_apart`
  (undoes their merge), or move rows off a worker with
  `identity.row_decision` (README "Worker identity"). The next run applies
  it, never undoes it, and reloads the months it changes.
- Rerunning a month by hand: trigger with `period=YYYY-MM`. A month whose
  files and worker links are unchanged since its last load is not reloaded
  (the log says "inputs unchanged"); add `force=true` to reload it anyway.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, AssetAlias, dag, task

from ucj.dag_support import ASSET_URI, DECISIONS_URI, DEFAULT_ARGS, REVIEW_ALIAS, TAGS, force_param, period_param
from ucj.settings import SOURCE_KINDS

ROSTER_ASSETS = [Asset(ASSET_URI.format(kind=kind), group="ucj") for kind in SOURCE_KINDS]
DECISIONS = Asset(DECISIONS_URI, group="ucj")
review_outlet = AssetAlias(REVIEW_ALIAS)


@dag(
    dag_id="ucj_consolidate",
    schedule=ROSTER_ASSETS[0] | ROSTER_ASSETS[1] | ROSTER_ASSETS[2] | DECISIONS,
    start_date=pendulum.datetime(2025, 1, 1, tz="Asia/Jakarta"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=[*TAGS, "consolidate", "mart"],
    doc_md=__doc__,
    params={
        "period": period_param("Month YYYY-MM to rebuild; empty = the months of the triggering Asset events."),
        "force": force_param(),
    },
)
def ucj_consolidate():
    @task(doc_md="Migrations, Kemendagri regions and labour-force figures (shipped + landing override).")
    def prepare_warehouse() -> dict:
        from ucj import pipeline_tasks

        return pipeline_tasks.prepare_consolidation()

    @task(
        doc_md=(
            "Which months to rebuild: from the triggering Asset events, or the period param, plus any month "
            "loaded before some of its workers were merged, a reviewer corrected them "
            "(`identity.pending_reload`) or an earlier month's file linked some of its rows again "
            "(`identity.pending_relink`), so it counts each person once again."
        )
    )
    def periods(params=None, triggering_asset_events=None) -> list[str]:
        from ucj import pipeline_tasks

        return pipeline_tasks.periods_to_load(params.get("period"), triggering_asset_events)

    @task(
        doc_md=(
            "Apply reviewers' corrections (`identity.keep_apart`, `identity.row_decision`), then link every "
            "unlinked roster row to a worker; new workers get new stable keys. Safe to clear: linked rows and "
            "applied corrections are not touched again."
        )
    )
    def resolve_identities() -> dict:
        from ucj import pipeline_tasks

        return pipeline_tasks.resolve_identities()

    @task(
        doc_md=(
            "Score the worker pairs the rules left in doubt with a splink model trained on the workers; queue "
            "pairs from `identity.probabilistic.review_probability` up in `identity.review_queue` (with "
            "`auto_merge: true`, off by default, merge those above `auto_merge_probability`), and apply "
            "reviewers' decisions (a rejected pair is never merged). Each run, its model and training are "
            "recorded in `identity.scoring_run`; a model that cannot be trained queues nothing. "
            "Safe to clear: decisions and merges are kept; scoring the same workers again changes nothing. "
            'Skipped (the log says "inputs unchanged") when no worker and no reviewer decision changed since '
            "the last scoring; `force=true` scores anyway."
        )
    )
    def match_probabilistically(params=None) -> dict:
        from ucj import pipeline_tasks

        return pipeline_tasks.link_probabilistically(force=bool(params.get("force")))

    @task(
        doc_md=(
            "Rebuild one month of the star schema: facts and mart aggregates in one transaction (partition "
            "replaced whole), the worker dimension beside them in a second one. Safe to clear: each replaces "
            "the month whole, and the inputs fingerprint is recorded only when both committed."
        )
    )
    def load_period(period: str, params=None) -> dict:
        from ucj import pipeline_tasks

        return pipeline_tasks.load_period(period, force=bool(params.get("force")))

    @task(
        doc_md=(
            "Rebuild coverage churn (new, continuing, returning and lapsed workers, lapses by reason) for every "
            "loaded month: whether a worker is new in a month depends on all earlier months. Skipped "
            '("inputs unchanged") when no month was loaded differently since the last build. Safe to clear.'
        )
    )
    def refresh_churn(params=None) -> dict:
        from ucj import pipeline_tasks

        return pipeline_tasks.refresh_churn(force=bool(params.get("force")))

    @task(
        doc_md=(
            "Write each regency's follow-up list for the months loaded (workers covered last month and not this "
            "month, with the reason), as .xlsx in Indonesian under var/reports/followup/<regency>/<YYYY-MM>.xlsx. "
            "Personal data: for branch caseworkers. Safe to clear: it rewrites the lists from followup.lapsed_worker."
        )
    )
    def followup_reports(months: list[str]) -> list[str]:
        from ucj import pipeline_tasks

        return pipeline_tasks.followup_reports(months)

    @task(doc_md="Log the UCJ table (regency x month) for the months loaded.")
    def report(months: list[str]) -> list[dict]:
        from ucj import pipeline_tasks

        return pipeline_tasks.report(months)

    @task(
        doc_md=(
            "Render the static coverage report (HTML with charts) for each month loaded, from the marts only. "
            "Kept per month under var/reports/coverage/; the Airflow UI links it as 'UCJ coverage report'. "
            "Safe to clear: it rewrites the page from whatever the marts hold."
        )
    )
    def coverage_report(months: list[str]) -> list[str]:
        from ucj import pipeline_tasks

        return pipeline_tasks.coverage_report(months)

    @task(
        outlets=[review_outlet],
        doc_md="When the review queue holds pairs nobody has been shown, start ucj_identity_review "
        "(a page of them in Required Actions).",
    )
    def offer_review(outlet_events=None) -> int:
        from ucj import pipeline_tasks

        return pipeline_tasks.offer_review(outlet_events[review_outlet])

    months = periods()
    identities = resolve_identities()
    matched = match_probabilistically()
    prepare_warehouse() >> identities >> matched >> months
    matched >> offer_review()
    loaded = load_period.expand(period=months)
    churn = refresh_churn()
    loaded >> churn >> [report(months), coverage_report(months), followup_reports(months)]


ucj_consolidate()
