"""
### Ingest rosters: `ucj_ingest_{kind}`

Reads every roster file of one source kind (OPD, village/nagari, employer) for
one month from the landing zone (`<landing_root>/<kind>/<YYYY-MM>/`), gives
every row a state (loaded / quarantined with reason / duplicate / superseded),
validates the month with Great Expectations and **publishes** it: only then do
the new files count in the marts, and the kind's Asset `ucj://roster/<kind>`
starts **ucj_consolidate**.

**How runs start**: nobody needs to trigger this DAG. **ucj_arrivals** sweeps
the open months every `arrival.schedule` (pipeline.yaml; hourly) and starts a
run, with `period` set, for each kind-month that has a new or changed file.
By hand: trigger with `period=YYYY-MM` (any month, also a closed one).

**Write-audit-publish**: validation judges the month as it would be with the
new files published. Passed: they are published at once. Failed: they are
**held**: the marts keep the last published state of this kind and month,
`mart.roster_row_status.publication` shows `held`, this run fails naming each
failed expectation, and a data steward is asked in **Required Actions** (DAG
`ucj_publication_approval`).

#### Triage for on-call
- **check_outcome failed, "HELD"**: the month failed validation (e.g. a
  village's row count fell by 80 %). Nothing wrong was published. Either a
  steward approves it in *Browse → Required Actions* (the request lists the
  failed expectations with counts), or the sender fixes the file: drop the
  fixed file into the same folder and the next sweep loads, validates and, if
  it passes, publishes it. An approval given after a fixed file arrived
  applies to nothing and says so.
- **check_outcome failed, file errors**: some files could not be read. The log
  names each file and why (password-protected, damaged, no header row, ...).
  Every other file was loaded. Ask the sender for a fixed file and drop it in
  the same folder; the next sweep picks it up (files already loaded are
  recognised by content and skipped).
- **Clerk reports**: every file with problems gets an `.xlsx` report in
  Indonesian (row, column, value, what is wrong, how to fix) under
  `<var>/reports/<kind>/<YYYY-MM>/`; send it back to the sender.
- **plan_batches logs "left for the next run"**: a file was still being
  written (modified within `arrival.stable_seconds`); the next sweep loads it.
- **ingest_batch / prepare_warehouse failed after retries**: the warehouse is
  unreachable or out of space. Fix that, then clear the failed task; a batch
  is one transaction, so a failed one left nothing behind, and files already
  loaded by other batches are skipped.
- **A spelling or header was added to the vocabulary** (`vocabulary.yaml`,
  `headers.yaml`) and rows already loaded should follow: trigger with the
  month and `reinterpret=true` (or `make reinterpret PERIODS=...`). Every
  file already loaded is read again from the landing zone (its bytes
  unchanged), its rows are replaced in place, and the month is validated,
  settled and consolidated again. A file no longer in the landing zone, or
  changed there, keeps its rows (the log names it).
- Rerunning any task, or the whole run, is always safe. When nothing
  changed since the last success, settle and validate reuse their earlier
  result and log "inputs unchanged", and no Asset event is emitted; trigger
  with `force=true` to redo them and consolidate anyway.
"""

from __future__ import annotations

import pendulum
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import AssetAlias, dag, task

from ucj.dag_support import (
    DEFAULT_ARGS,
    PUBLISHED_ALIAS,
    TAGS,
    force_param,
    period_param,
    reinterpret_param,
    stable_seconds_param,
)
from ucj.settings import SOURCE_KINDS

KIND_DOCS = {
    "opd": "OPD (regional government agency) rosters of non-ASN / honorer staff paid from the APBD.",
    "village": "Village (desa / nagari) rosters: village officials and vulnerable informal workers.",
    "employer": "Employer rosters: wage earners and construction (JAKON) project workers.",
}


def build_ingest_dag(kind: str):
    published = AssetAlias(PUBLISHED_ALIAS)

    @dag(
        dag_id=f"ucj_ingest_{kind}",
        # Started by ucj_arrivals when files arrive, or by hand with a period.
        schedule=None,
        start_date=pendulum.datetime(2025, 1, 1, tz="Asia/Jakarta"),
        catchup=False,
        max_active_runs=2,
        default_args=DEFAULT_ARGS,
        tags=[*TAGS, "ingest", kind],
        doc_md=f"{KIND_DOCS[kind]}\n\n{__doc__.replace('{kind}', kind)}",
        params={
            "period": period_param("Roster month YYYY-MM; empty = the month before the run date."),
            "force": force_param(),
            "reinterpret": reinterpret_param(),
            "stable_seconds": stable_seconds_param(),
        },
    )
    def ingest():
        @task(doc_md="Apply pending warehouse migrations (idempotent; serialised by an advisory lock).")
        def prepare_warehouse() -> list[int]:
            from ucj.warehouse import migrate

            return migrate()

        @task(doc_md="The roster month this run is for: the period param, else the month before the run date.")
        def month(params=None, logical_date=None, dag_run=None) -> str:
            from ucj import pipeline_tasks

            return pipeline_tasks.month(params.get("period"), logical_date or dag_run.run_after)

        @task(doc_md="List the month's complete files (unchanged for `stable_seconds`) and group them into batches.")
        def plan_batches(period: str, params=None) -> list[list[str]]:
            from ucj import pipeline_tasks

            return pipeline_tasks.plan_batches(kind, period, params.get("stable_seconds"))

        @task(
            doc_md="Load one batch of files in one transaction. Unreadable files are recorded, not raised. "
            "With `reinterpret`, files already loaded are interpreted again from their unchanged bytes."
        )
        def ingest_batch(files: list[str], period: str, params=None) -> dict:
            from ucj import pipeline_tasks

            return pipeline_tasks.ingest_files(kind, period, files, reinterpret=bool(params.get("reinterpret")))

        @task(
            doc_md="Great Expectations over the month as it would be published (every held file in); "
            "results go to audit.validation_run."
        )
        def validate(period: str, run_id=None, params=None) -> dict:
            from ucj import pipeline_tasks

            return pipeline_tasks.validate(kind, period, f"ucj_ingest_{kind}", run_id, force=bool(params.get("force")))

        @task(
            doc_md="Write-audit-publish: publish the held files if validation passed, else keep them held "
            "(the marts keep the last published state) and ask a steward. Recorded in audit.publication."
        )
        def publish_or_hold(period: str, validation: dict, run_id=None) -> dict:
            from ucj import pipeline_tasks

            return pipeline_tasks.publication_gate(kind, period, validation, f"ucj_ingest_{kind}", run_id)

        @task(doc_md="Mark published rows replaced by a later published file for the same unit as superseded.")
        def settle_snapshots(period: str, params=None) -> int:
            from ucj import pipeline_tasks

            return pipeline_tasks.settle(kind, period, force=bool(params.get("force")))

        @task(doc_md="Write an .xlsx report in Indonesian for each file with problems (row, column, value, fix).")
        def clerk_reports(period: str) -> dict:
            from ucj import pipeline_tasks

            return pipeline_tasks.clerk_reports(kind, period)

        @task(
            outlets=[published],
            doc_md="Emit the Asset event that starts ucj_consolidate, with row counts, only when something was "
            "published or settled differently (an unchanged cycle emits nothing).",
        )
        def announce(
            period: str, gate: dict, settled: int, summaries: list[dict], validation: dict,
            params=None, outlet_events=None,
        ) -> dict | None:  # fmt: skip
            from ucj import pipeline_tasks

            return pipeline_tasks.announce(
                kind, period,
                {
                    "files_published": gate["published_files"],
                    "files_reinterpreted": pipeline_tasks.reinterpreted_files(summaries),
                    "rows_resettled": settled,
                },
                pipeline_tasks.asset_extra(kind, period, summaries, validation),
                bool(params.get("force")), outlet_events[published],
            )  # fmt: skip

        @task(doc_md="The steward's request for a held batch: none unless this run held one.")
        def approval_request(gate: dict) -> list[dict]:
            from ucj import pipeline_tasks

            return pipeline_tasks.approval_requests(gate)

        @task(
            retries=0,
            # ask_steward has nothing to do (skipped) unless a batch was held.
            trigger_rule="none_failed",
            doc_md="Fail the run, naming each unreadable file, failed expectation and held batch. Never retried: "
            "the cause is in the data; fix the file (or approve the batch) and the next sweep does the rest.",
        )
        def check_outcome(summaries: list[dict], validation: dict, gate: dict) -> None:
            from ucj import pipeline_tasks

            pipeline_tasks.check_outcome(kind, summaries, validation, gate)

        period = month()
        batches = plan_batches(period)
        prepare_warehouse() >> batches
        summaries = ingest_batch.partial(period=period).expand(files=batches)
        validation = validate(period)
        summaries >> validation
        gate = publish_or_hold(period, validation)
        settled = settle_snapshots(period)
        gate >> settled
        settled >> clerk_reports(period)
        requests = approval_request(gate)
        ask = TriggerDagRunOperator.partial(
            task_id="ask_steward",
            trigger_dag_id="ucj_publication_approval",
            doc_md="Start the ucj_publication_approval run whose Required Action asks a steward about the held batch.",
            # One request per held batch: asking again for the same batch finds the run already there.
            skip_when_already_exists=True,
            logical_date=None,
        ).expand_kwargs(requests)
        outcome = check_outcome(summaries, validation, gate)
        [announce(period, gate, settled, summaries, validation), ask] >> outcome

    return ingest()


for _kind in SOURCE_KINDS:
    globals()[f"ucj_ingest_{_kind}"] = build_ingest_dag(_kind)
