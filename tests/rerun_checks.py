"""What the rerun tests compare: a clean run's checksums, in exact and canonical form.

Worker keys and file ids are surrogate numbers handed out in arrival order, so
runs that arrive in a different order are compared through a canonical form:
each worker is named by the first roster row (file path, row) it was built
from, each file by its path. Used by ``tests/e2e/test_pipeline_e2e.py`` (reruns
of one history, and a backfill by two runs at once) and ``tests/chaos``.
"""

from __future__ import annotations

from pathlib import Path

import psycopg

from ucj_dev import runner

PERIODS = ["2025-01", "2025-02", "2025-03"]
ROOT = Path(__file__).resolve().parents[1]

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

ROW_STATES = "select source_file, source_row, status, reason from mart.roster_row_status"

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


def clean_run(warehouse: str, sample_landing: Path, periods: list[str] = PERIODS) -> dict[str, dict[str, str]]:
    """One clean run of the months, in order: its checksums."""
    truncate(warehouse)
    assert runner.run(str(sample_landing), periods) == []
    return snapshot(warehouse)


def snapshot(warehouse: str) -> dict[str, dict[str, str]]:
    """The warehouse's checksums: exact, canonical and the row states."""
    with psycopg.connect(warehouse, autocommit=True) as conn:
        return {
            "canonical": checksums(conn, CANONICAL),
            "exact": checksums(conn, EXACT),
            "row_states": checksums(conn, {"s": ROW_STATES})["s"],
        }


def assert_same_numbers(warehouse: str, reference: dict[str, dict[str, str]]) -> None:
    """Every mart figure, every worker grouping, every submission and every row's state equal the reference.

    For histories other than the reference's (months in another order, two
    runs at once): worker keys and file ids differ, so the comparison is the
    canonical one, in which a worker is named by its first roster row.
    """
    with psycopg.connect(warehouse, autocommit=True) as conn:
        got = checksums(conn, {**CANONICAL, "row_states": ROW_STATES})
    expected = {**reference["canonical"], "row_states": reference["row_states"]}
    differ = sorted(name for name in expected if got.get(name) != expected[name])
    assert differ == [], f"differ from the reference run: {differ}"
