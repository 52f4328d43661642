"""Load one month of the star schema: facts, aggregates, worker dimension, revisions; churn; stale months.

Reference dimensions are loaded by ``ucj.reference_load``, snapshots settled
by ``ucj.snapshots``, partitions built by ``ucj.partitions``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from typing import Any

import psycopg

from ucj.identity.store import RELINKED_AFTER_EARLIER_MONTH
from ucj.partitions import ensure_partition, month_bounds_check, swap_in_partition
from ucj.period import next_month, parse_period, period_end
from ucj.publication import held_files
from ucj.warehouse import PERIOD_LOAD_LOCK, WORKER_DIMENSION_LOCK, analyze_if_stale, run_sql_file, serialise

log = logging.getLogger(__name__)


# What the load reads besides the dimensions it writes. Identity resolution
# analyses its tables when it writes them, but a load retried after a server
# restart, or of a month whose rows nothing else touched, must not plan a
# million-row join on statistics that say "empty" (measured: a nested loop that
# ran into the statement timeout instead of finishing in 10 s).
LOAD_INPUTS = ("ingest.roster_row", "ingest.source_file", "identity.row_link", "identity.worker")


def analyze_load_inputs(conn: psycopg.Connection) -> None:
    analyze_if_stale(conn, *LOAD_INPUTS)


def load_facts(conn: psycopg.Connection, period: str) -> dict[str, Any]:
    """Replace one month of facts and the aggregates the marts read. Caller owns the transaction.

    The month's coverage facts go into a fresh table without indexes, which is
    then indexed in one sorted build and swapped in for the month's
    partition (:func:`swap_in_partition`).
    """
    period_month = parse_period(period)
    # Serialise loads of the same month; other months proceed in parallel.
    serialise(conn, PERIOD_LOAD_LOCK, period_month.year * 100 + period_month.month)
    partition = ensure_partition(conn, period_month)
    stage = f"{partition}_load"
    # The other inputs are checked by the caller (analyze_load_inputs) before
    # the worker dimension starts reading them on a connection of its own.
    conn.execute("analyze dw.dim_reporting_unit")
    conn.execute(f"drop table if exists dw.{stage}")
    started = time.perf_counter()
    held = held_files(conn, period_month)
    run_sql_file(conn, "load/submissions.sql", {"period": period_month, "held": held, "scoped": False})
    run_sql_file(
        conn,
        "load/load_period.sql",
        {"period": period_month, "period_end": period_end(period_month), "held": held},
        identifiers={"target": f"dw.{stage}"},
    )
    # One ALTER, one pass over the rows: the partition's NOT NULLs, and a
    # check that lets ATTACH skip scanning the rows it already knows fit.
    conn.execute(
        f"alter table dw.{stage} add constraint {stage}_month {month_bounds_check(period_month)}, "
        "alter column regency_code set not null, alter column segment_code set not null, "
        "alter column funding_code set not null, "
        "add primary key (period_month, worker_key, program_code, unit_sk)"
    )
    swap_in_partition(conn, "dw.fact_coverage", f"dw.{stage}", period_month)
    loaded = time.perf_counter()
    conn.execute(f"analyze dw.{partition}")
    run_sql_file(conn, "load/refresh_aggregates.sql", {"period": period_month})
    mark_churn_pending(conn, period_month)
    refreshed = time.perf_counter()
    (facts,) = conn.execute(f"select count(*) from dw.{partition}").fetchone()
    (units,) = conn.execute(
        "select count(*) from dw.fact_submission where period_month = %s", (period_month,)
    ).fetchone()
    log.info("%s: facts loaded in %.1f s, aggregates refreshed in %.1f s", period, loaded - started,
             refreshed - loaded)  # fmt: skip
    return {
        "coverage_facts": facts,
        "units_reported": units,
        "load_seconds": round(loaded - started, 3),
        "refresh_seconds": round(refreshed - loaded, 3),
    }


def refresh_worker_dimension(conn: psycopg.Connection, period_month: dt.date) -> dict[str, Any]:
    """Rebuild the worker dimension's versions that one month can change. Caller owns the transaction.

    The dimension spans months: refreshes of different months take turns
    here, so each sees the months the other committed.
    """
    started = time.perf_counter()
    serialise(conn, WORKER_DIMENSION_LOCK)
    following = next_month(period_month)
    month = f"identity.{ensure_partition(conn, period_month, 'identity.worker_month')}"
    stage = f"{month}_load"
    conn.execute(f"drop table if exists {stage}")
    params = {"period": period_month, "next_period": following}
    # The month as its own table, and the workers it touches (compared with
    # the month as loaded before, still in place); then the swap, then their versions.
    run_sql_file(
        conn, "load/worker_month.sql", params,
        identifiers={"month": month, "stage": stage, "stage_month": f"{stage.split('.')[1]}_month"},
    )  # fmt: skip
    swap_in_partition(conn, "identity.worker_month", stage, period_month)
    run_sql_file(conn, "load/worker_versions.sql", params, identifiers={"month": month})
    seconds = time.perf_counter() - started
    log.info("%s: worker dimension refreshed in %.1f s", period_month.strftime("%Y-%m"), seconds)
    return {"dimension_seconds": round(seconds, 3)}


# Rows of a month (linked again, or in the units of its changed files) above which a reload is cheaper than a rewrite.
REWRITE_AT_MOST = 100_000


# The units a set of file versions holds rows of: what changing those versions can change in a month.
CHANGED_UNITS = """select distinct source_kind, unit_key from ingest.roster_row
                   where file_id = any(%(files)s::bigint[]) and unit_key is not null"""


def file_versions(versions: str) -> dict[str, str]:
    """``fingerprint.files_in``'s text as file id -> state (status, held, interpretations)."""
    return dict(v.split(":", 1) for v in versions.split(",") if v)


def incremental_scope(
    conn: psycopg.Connection, period_month: dt.date, previous: dict[str, Any] | None, inputs: dict[str, str],
    versions: str,
) -> list[int] | None:  # fmt: skip
    """The file versions changed since the month's last load, when rewriting the workers they and identity
    touched is right (:func:`apply_changes`); None when the month must be loaded whole.

    ``previous``: the month's last load result, with its ``file_versions``;
    ``versions``: the month's file versions now (``fingerprint.files_in``).
    The load SQL must be the same (``inputs``), every file version of that
    load still on record (a failed file tried again deletes its record and
    rows: nothing says what they counted), nothing waiting in
    identity.pending_reload for the month, the partition still holding the
    facts that load wrote, and at most ``REWRITE_AT_MOST`` rows linked
    again (identity.pending_relink) and as many in the changed files' units.
    Anything else, or any doubt, is a full reload.
    """
    if not previous or previous.get("inputs", {}).get("sql") != inputs["sql"] or "file_versions" not in previous:
        return None
    before, now = file_versions(previous["file_versions"]), file_versions(versions)
    if set(before) - set(now):
        return None
    changed = sorted(int(f) for f in now if before.get(f) != now[f])
    if conn.execute("select 1 from identity.pending_reload where period_month = %s", (period_month,)).fetchone():
        return None
    if coverage_fact_count(conn, period_month) != previous.get("coverage_facts"):
        return None
    (relinked,) = conn.execute(
        "select count(*) from identity.pending_relink where period_month = %s", (period_month,)
    ).fetchone()
    if relinked > REWRITE_AT_MOST:
        log.info("%s: %d rows linked again since its load: reloaded whole", period_month.strftime("%Y-%m"), relinked)
        return None
    if changed:
        (rows,) = conn.execute(
            f"""select (select count(*)
                       from ({CHANGED_UNITS}) as u
                       join ingest.roster_row as r
                           on r.period_month = %(period)s and r.source_kind = u.source_kind
                          and r.unit_key = u.unit_key)
                      + (select count(*) from ingest.roster_row where file_id = any(%(files)s) and unit_key is null)""",
            {"period": period_month, "files": changed},
        ).fetchone()
        if rows > REWRITE_AT_MOST:
            log.info("%s: %d rows in the units of %d changed files: reloaded whole", period_month.strftime("%Y-%m"),
                     rows, len(changed))  # fmt: skip
            return None
    return changed


def apply_changes(conn: psycopg.Connection, period_month: dt.date, changed_files: list[int]) -> dict[str, Any]:
    """Rewrite a loaded month's facts, worker values and versions for the workers changed since, and the
    units and submissions of the changed files' units.

    What a consolidation usually changes in an earlier month is a few
    hundred workers found to be one, the few hundred rows a late or
    corrected file of an earlier month linked again, or one unit's file
    sent again: rebuilding the month's million facts for them made every
    correction cost a month per month it touched. This reads and writes
    those workers' rows and facts only (the aggregates change by what they
    counted before and after), and gives what the full reload gives
    (``tests/warehouse/test_incremental_load.py``). Caller owns the
    transaction, and checked :func:`incremental_scope`.
    """
    started = time.perf_counter()
    serialise(conn, PERIOD_LOAD_LOCK, period_month.year * 100 + period_month.month)
    serialise(conn, WORKER_DIMENSION_LOCK)
    held = held_files(conn, period_month)
    conn.execute("drop table if exists unit_scope")
    conn.execute(f"create temp table unit_scope on commit drop as {CHANGED_UNITS}", {"files": changed_files})
    conn.execute("analyze unit_scope")
    if changed_files:
        run_sql_file(conn, "load/submissions.sql", {"period": period_month, "held": held, "scoped": True})
    run_sql_file(
        conn,
        "load/apply_identity_changes.sql",
        {"period": period_month, "period_end": period_end(period_month), "held": held, "changed_files": changed_files},
    )
    (merged, touched, relinked, units) = conn.execute(
        """select (select count(*) from merged_away), (select count(*) from worker_touched),
                  (select count(*) from identity.pending_relink where period_month = %s),
                  (select count(*) from unit_scope)""",
        (period_month,),
    ).fetchone()
    (regencies,) = conn.execute("select count(*) from regency_delta where workers <> 0").fetchone()
    month = f"identity.{ensure_partition(conn, period_month, 'identity.worker_month')}"
    params = {"period": period_month, "next_period": next_month(period_month)}
    run_sql_file(conn, "load/worker_versions.sql", params, identifiers={"month": month})
    seconds = time.perf_counter() - started
    facts = coverage_fact_count(conn, period_month)
    (submissions,) = conn.execute(
        "select count(*) from dw.fact_submission where period_month = %s", (period_month,)
    ).fetchone()
    log.info("%s: %d workers rewritten (%d merged away, %d rows linked again, %d units of %d changed files) in "
             "%.1f s (%d regency figures changed), not reloaded whole", period_month.strftime("%Y-%m"), touched,
             merged, relinked, units, len(changed_files), seconds, regencies)  # fmt: skip
    return {
        "coverage_facts": facts,
        "units_reported": submissions,
        "merges_applied": merged,
        "rows_relinked": relinked,
        "files_changed": len(changed_files),
        "units_rewritten": units,
        "workers_rewritten": touched,
        "regencies_changed": regencies,
        "merge_seconds": round(seconds, 3),
    }


def finish_load(conn: psycopg.Connection, period_month: dt.date) -> None:
    """The month now counts every reviewer's correction and every row linked again: it leaves both queues."""
    conn.execute("delete from identity.pending_reload where period_month = %s", (period_month,))
    conn.execute("delete from identity.pending_relink where period_month = %s", (period_month,))


def revision_cause(conn: psycopg.Connection, period_month: dt.date, since: dt.datetime | None) -> str:
    """Why the month is loaded again: what changed among its inputs since its last load (``since``).

    One cause per reload, the first that applies: a file version replacing
    another (corrected_file), a new file (late_file; also a later month
    linked again because an earlier month's files came after it), a reviewer's split or
    keep-apart (identity_split), a reviewer's accepted pair (review_decision),
    workers merged by the rules or the model (identity_merge); else the
    reference data or the interpretation of the rows changed (reference_change).
    """
    if since is None:
        return "late_file"
    files = conn.execute(
        """select bool_or(exists (select from ingest.source_file as old
                                  where old.source_kind = f.source_kind and old.period_month = f.period_month
                                    and old.rel_path = f.rel_path and old.status = 'replaced')),
                  count(*)
           from ingest.source_file as f
           where f.period_month = %s and f.status = 'loaded' and f.published_at > %s""",
        (period_month, since),
    ).fetchone()
    if files[1]:
        return "corrected_file" if files[0] else "late_file"
    pending = conn.execute(
        "select reason from identity.pending_reload where period_month = %s and since > %s", (period_month, since)
    ).fetchone()
    if pending:
        # Relinked because an earlier month's files came after this month's: that late file is the cause.
        return "late_file" if pending[0] == RELINKED_AFTER_EARLIER_MONTH else "identity_split"
    relinked = conn.execute(
        """select reason from identity.pending_relink where period_month = %s and since > %s
           order by since, reason limit 1""",
        (period_month, since),
    ).fetchone()
    if relinked:
        # Rows moved by a reviewer's split or keep-apart, or by an earlier month's late file.
        return relinked[0]
    rules = {
        rule
        for (rule,) in conn.execute(
            """select distinct m.rule from identity.worker_merge as m
               join identity.worker_month as w on w.worker_key in (m.worker_key, m.merged_into)
               where w.period_month = %s and m.merged_at > %s""",
            (period_month, since),
        )
    }
    if "reviewer" in rules:
        return "review_decision"
    if rules:
        return "identity_merge"
    return "reference_change"


REVISION_CAUSES = (
    "identity_merge", "identity_split", "review_decision", "late_file", "corrected_file", "reference_change",
)  # fmt: skip


class RevisionError(RuntimeError):
    """A load would publish what cannot be true: a revision without a known cause, or a negative count."""


def record_revisions(conn: psycopg.Connection, period_month: dt.date, cause: str) -> int:
    """Record the published regency-month figures this load changed; return how many.

    Either is a bug upstream, and publishing it would put a wrong number on
    record: the task fails (its transaction, the month's load, rolls back)
    naming the month, and the figures stay as last published.
    """
    label = period_month.strftime("%Y-%m")
    if cause not in REVISION_CAUSES:
        raise RevisionError(f"{label}: revision cause {cause!r} is not one of {', '.join(REVISION_CAUSES)}")
    negative = conn.execute(
        """select regency_code, covered_workers from dw.agg_regency_month
           where period_month = %s and covered_workers < 0""",
        (period_month,),
    ).fetchall()
    if negative:
        raise RevisionError(f"{label}: covered workers would be negative for regency {negative}; nothing published")
    before = conn.execute("select count(*) from dw.ucj_revision").fetchone()[0]
    run_sql_file(
        conn,
        "load/record_revisions.sql",
        {
            "period": period_month,
            "cause": cause,
            "dag_id": os.environ.get("AIRFLOW_CTX_DAG_ID"),
            "run_id": os.environ.get("AIRFLOW_CTX_DAG_RUN_ID"),
        },
    )
    return conn.execute("select count(*) from dw.ucj_revision").fetchone()[0] - before


class ChurnError(RuntimeError):
    """The churn would count what cannot be: a negative number of workers."""


def refresh_churn(conn: psycopg.Connection, whole: bool = False) -> dict[str, int]:
    """Bring the churn aggregates and the lapse list up to the facts (``load/refresh_churn.sql``).

    In proportion to what changed: loads record in ``dw.churn_pending`` the
    months they reloaded and the workers whose facts merges moved; a reloaded
    month and the month after it are counted afresh, elsewhere only the
    (regency, worker) pairs merges moved or whose first month moved.
    ``whole`` counts every loaded month afresh (a forced run, a new
    refresh_churn.sql): the same numbers, at the cost of the whole history.
    A negative count left behind is a bug: the task fails naming the months
    and its transaction, the churn's changes, rolls back. Caller owns the
    transaction.
    """
    if whole:
        conn.execute(
            "truncate dw.churn_covered, dw.churn_first, dw.churn_segment_first, dw.churn_month, dw.churn_pending, "
            "dw.agg_churn_month, dw.agg_churn_segment_month, followup.lapse"
        )
    run_sql_file(conn, "load/refresh_churn.sql", {})
    # What it counted, from its own scope (temporary until the caller commits): with dw.churn_month
    # emptied above, every loaded month is a month that came, so counted afresh.
    (whole_months, workers) = conn.execute(
        "select (select count(*) from whole_month), (select count(*) from month_worker)"
    ).fetchone()
    negative = conn.execute(
        """select distinct to_char(period_month, 'YYYY-MM') from dw.agg_churn_month
           where least(covered_workers, new_workers, continuing_workers, returning_workers, lapsed_workers) < 0
           union
           select distinct to_char(period_month, 'YYYY-MM') from dw.agg_churn_segment_month
           where least(covered_workers, new_workers, continuing_workers, returning_workers, lapsed_workers) < 0
           order by 1"""
    ).fetchall()
    if negative:
        raise ChurnError(f"churn would count a negative number of workers in {', '.join(r[0] for r in negative)}")
    (months, lapsed) = conn.execute(
        "select count(distinct period_month), coalesce(sum(lapsed_workers), 0) from dw.agg_churn_month"
    ).fetchone()
    return {"months": int(months), "lapsed_workers": int(lapsed), "whole_months_counted": int(whole_months),
            "merged_workers_counted": int(workers)}  # fmt: skip


def mark_churn_pending(conn: psycopg.Connection, period_month: dt.date) -> None:
    """The month's facts were rebuilt: the next churn refresh counts it again (in the load's transaction)."""
    conn.execute("insert into dw.churn_pending (period_month, worker_key) values (%s, null)", (period_month,))


def stale_periods(conn: psycopg.Connection) -> list[str]:
    """Months loaded before some of their workers were merged, a reviewer corrected them, or an earlier
    month's late file linked some of their rows again.

    Their facts still count both halves of a merged pair (identity.worker_month
    holds the keys a month was loaded with), or count rows under the worker
    they had before a reviewer's split or an earlier month's file moved them
    (identity.pending_relink), or wait for a whole reload (identity.pending_reload),
    so they must be loaded again.
    """
    rows = conn.execute(
        """select to_char(m.period_month, 'YYYY-MM')
           from identity.worker as w
           join identity.worker_month as m on m.worker_key = w.worker_key
           where w.merged_into is not null
           union
           select to_char(period_month, 'YYYY-MM') from identity.pending_reload
           union
           select distinct to_char(period_month, 'YYYY-MM') from identity.pending_relink
           order by 1"""
    ).fetchall()
    return [r[0] for r in rows]


def coverage_fact_count(conn: psycopg.Connection, period_month: dt.date) -> int:
    return conn.execute("select count(*) from dw.fact_coverage where period_month = %s", (period_month,)).fetchone()[0]
