"""
### Ingest rosters: `ucj_ingest_{kind}`

Reads every roster file of one source kind (OPD, village/nagari, employer) for
one month from the landing zone (`<landing_root>/<kind>/<YYYY-MM>/`), gives
every row a state (loaded / quarantined with reason / duplicate / superseded),
validates the month with Great Expectations, and publishes the Asset
`ucj://roster/<kind>` that starts **ucj_consolidate**.

**Period**: the `period` param (`YYYY-MM`); empty means the month before the
run's date (the monthly run on 1 March collects February).

#### Triage for on-call
- **check_outcome failed**: some files could not be read, or the month failed
  validation. The log names each file and why (password-protected, damaged,
  no header row, ...). Every other file *was* loaded and published. Ask the
  sender for a fixed file, drop it into the same folder, then **clear
  `plan_batches` downstream** (or trigger the DAG with the same `period`).
  Files already loaded are recognised by content and skipped.
- **Clerk reports**: every file with problems gets an `.xlsx` report in
  Indonesian (row, column, value, what is wrong, how to fix) under
  `<var>/reports/<kind>/<YYYY-MM>/`; send it back to the sender.
- **ingest_batch / prepare_warehouse failed after retries**: the warehouse is
  unreachable or out of space. Fix that, then clear the failed task; a batch
  is one transaction, so a failed one left nothing behind, and files already
  loaded by other batches are skipped.
- Rerunning any task, or the whole run, is always safe. When nothing
  changed since the last success, settle and validate reuse their earlier
  result and log "inputs unchanged"; trigger with `force=true` to redo them.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, dag, task

from ucj.dag_support import ASSET_URI, DEFAULT_ARGS, TAGS, force_param, period_param
from ucj.settings import SOURCE_KINDS

KIND_DOCS = {
    "opd": "OPD (regional government agency) rosters of non-ASN / honorer staff paid from the APBD.",
    "village": "Village (desa / nagari) rosters: village officials and vulnerable informal workers.",
    "employer": "Employer rosters: wage earners and construction (JAKON) project workers.",
}


def build_ingest_dag(kind: str):
    roster_asset = Asset(ASSET_URI.format(kind=kind), group="ucj")

    @dag(
        dag_id=f"ucj_ingest_{kind}",
        schedule="@monthly",
        start_date=pendulum.datetime(2025, 1, 1, tz="Asia/Jakarta"),
        catchup=False,
        max_active_runs=2,
        default_args=DEFAULT_ARGS,
        tags=[*TAGS, "ingest", kind],
        doc_md=f"{KIND_DOCS[kind]}\n\n{__doc__.replace('{kind}', kind)}",
        params={
            "period": period_param("Roster month YYYY-MM; empty = the month before the run date."),
            "force": force_param(),
        },
    )
    def ingest():
        @task(doc_md="Apply pending warehouse migrations (idempotent; serialised by an advisory lock).")
        def prepare_warehouse() -> list[int]:
            from ucj.warehouse import migrate

            return migrate()

        @task(doc_md="The roster month this run is for: the period param, else the month before the run date.")
        def month(params=None, logical_date=None) -> str:
            from ucj import pipeline_tasks

            return pipeline_tasks.month(params.get("period"), logical_date)

        @task(doc_md="List the month's files and group them into batches (paths only, oldest first).")
        def plan_batches(period: str) -> list[list[str]]:
            from ucj import pipeline_tasks

            return pipeline_tasks.plan_batches(kind, period)

        @task(doc_md="Load one batch of files in one transaction. Unreadable files are recorded, not raised.")
        def ingest_batch(files: list[str], period: str) -> dict:
            from ucj import pipeline_tasks

            return pipeline_tasks.ingest_files(kind, period, files)

        @task(doc_md="Mark rows replaced by a later file for the same unit as superseded.")
        def settle_snapshots(period: str, params=None) -> int:
            from ucj import pipeline_tasks

            return pipeline_tasks.settle(kind, period, force=bool(params.get("force")))

        @task(doc_md="Great Expectations over the month's rows in force; results go to audit.validation_run.")
        def validate(period: str, run_id=None, params=None) -> dict:
            from ucj import pipeline_tasks

            return pipeline_tasks.validate(kind, period, f"ucj_ingest_{kind}", run_id, force=bool(params.get("force")))

        @task(doc_md="Write an .xlsx report in Indonesian for each file with problems (row, column, value, fix).")
        def clerk_reports(period: str) -> dict:
            from ucj import pipeline_tasks

            return pipeline_tasks.clerk_reports(kind, period)

        @task(outlets=[roster_asset], doc_md="Publish the month to ucj_consolidate, with row counts as event extra.")
        def publish(period: str, summaries: list[dict], validation: dict, outlet_events=None) -> dict:
            from ucj import pipeline_tasks

            extra = pipeline_tasks.asset_extra(kind, period, summaries, validation)
            outlet_events[roster_asset].extra = extra
            return extra

        @task(
            retries=0,
            doc_md="Fail the run, naming each unreadable file and failed expectation. Never retried: "
            "the cause is in the data; fix the file and rerun.",
        )
        def check_outcome(summaries: list[dict], validation: dict) -> None:
            from ucj import pipeline_tasks

            pipeline_tasks.check_outcome(kind, summaries, validation)

        period = month()
        batches = plan_batches(period)
        prepare_warehouse() >> batches
        summaries = ingest_batch.partial(period=period).expand(files=batches)
        settled = settle_snapshots(period)
        summaries >> settled
        validation = validate(period)
        settled >> [validation, clerk_reports(period)]
        publish(period, summaries, validation) >> check_outcome(summaries, validation)

    return ingest()


for _kind in SOURCE_KINDS:
    globals()[f"ucj_ingest_{_kind}"] = build_ingest_dag(_kind)
