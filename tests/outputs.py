"""What the warehouse tests empty between cases: the pipeline's output tables (reference dimensions are kept).

A module of its own, not conftest: each test tier has a conftest, and
``from conftest import`` would pick whichever was imported first.
"""

OUTPUT_TABLES = [
    "audit.validation_run",
    "audit.publication",
    "ingest.landing_seen",
    "dw.fact_coverage",
    "dw.fact_submission",
    "dw.dim_reporting_unit",
    "dw.dim_worker",
    "dw.agg_regency_month",
    "dw.agg_coverage_program_month",
    "dw.agg_churn_month",
    "dw.agg_churn_segment_month",
    "dw.churn_covered",
    "dw.churn_first",
    "dw.churn_segment_first",
    "dw.churn_month",
    "dw.churn_pending",
    "followup.lapse",
    "dw.ucj_revision",
    "dw.published_figure",
    "identity.worker_month",
    "identity.match_candidate",
    "identity.scoring_run",
    "identity.keep_apart",
    "identity.row_decision",
    "identity.pending_reload",
    "identity.pending_relink",
    "identity.worker_merge",
    "identity.row_link",
    "identity.worker_evidence",
    "identity.worker",
    "ingest.roster_row",
    "ingest.source_file",
]
