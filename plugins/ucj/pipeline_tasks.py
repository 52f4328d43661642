"""The bodies of the DAGs' tasks: a few lines each, calling the domain modules.

This is the one module that talks to Airflow at run time (Variables,
AirflowFailException); everything it calls is plain Python, tested without
Airflow. Return values go to XCom, so they are paths, periods and counts,
never row values.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from ucj import facts, fingerprint, ingest, landing
from ucj.dag_support import PeriodError, resolve_period
from ucj.landing import parse_period
from ucj.settings import pipeline_config
from ucj.warehouse import connect

log = logging.getLogger(__name__)
JAKARTA = ZoneInfo("Asia/Jakarta")


def _fail(message: str) -> NoReturn:
    from airflow.sdk.exceptions import AirflowFailException

    raise AirflowFailException(message)


def landing_root_uri() -> str:
    from airflow.sdk import Variable

    root = Variable.get("landing_root", default=None)
    if not root:
        _fail("Airflow Variable 'landing_root' is not set (e.g. AIRFLOW_VAR_LANDING_ROOT=/data/landing)")
    return root


def month(period_param: str | None, logical_date: dt.datetime | None) -> str:
    try:
        return resolve_period(period_param, logical_date)
    except PeriodError as exc:
        _fail(str(exc))


def plan_batches(kind: str, period: str) -> list[list[str]]:
    root = landing.as_path(landing_root_uri())
    files = landing.list_rosters(root, kind, period)
    cfg = pipeline_config()["ingest"]
    # Always at least one (possibly empty) batch, so downstream tasks run and
    # report "no files" instead of being skipped silently.
    batches = landing.batch_files(files, cfg["files_per_batch"], cfg["bytes_per_batch"]) or [[]]
    log.info("%s %s: %d files in %d batches", kind, period, len(files), len(batches))
    return batches


def ingest_files(kind: str, period: str, files: list[str]) -> dict[str, Any]:
    root = landing.as_path(landing_root_uri())
    with connect() as conn:
        summary = ingest.ingest_batch(conn, root, kind, period, files)
    log.info(
        "%s %s: %d files (%d loaded, %d unchanged, %d failed); rows %s",
        kind, period, summary.files, summary.loaded_files, summary.unchanged_files,
        len(summary.failed_files), summary.rows,
    )  # fmt: skip
    return summary.as_dict()


def settle(kind: str, period: str, force: bool = False) -> int:
    scope = f"{kind}/{period}"
    with connect() as conn:
        mark = fingerprint.settle_fingerprint(conn, kind, parse_period(period))
        if not force and fingerprint.reusable(conn, "settle", scope, mark) is not None:
            return 0
        # The other kinds' settle tasks wait for these statistics, not for this settle.
        facts.analyze_settle_inputs(conn)
        conn.commit()
        changed = facts.settle_snapshots(conn, kind, period, check_statistics=False)
        fingerprint.record(conn, "settle", scope, mark, changed)
    log.info("%s %s: %d rows changed superseded state", kind, period, changed)
    return changed


def validate(kind: str, period: str, dag_id: str, run_id: str | None, force: bool = False) -> dict[str, Any]:
    from ucj.validation import validate_period

    scope = f"{kind}/{period}"
    with connect() as conn:
        mark = fingerprint.validation_fingerprint(conn, kind, parse_period(period))
        if not force and (stored := fingerprint.reusable(conn, "validate", scope, mark)) is not None:
            return {**stored, "reused": True}
        summary = validate_period(conn, kind, period, dag_id, run_id).summary()
        fingerprint.record(conn, "validate", scope, mark, summary)
    return summary


def materialise(results: Any) -> list[dict[str, Any]]:
    """A mapped task's results as a list, read by index.

    Iterating Airflow's lazy XCom sequence probes one offset past the end and
    logs an error for it; indexing up to len() does not.
    """
    return [results[i] for i in range(len(results))]


def clerk_reports(kind: str, period: str) -> dict[str, Any]:
    from ucj.feedback import write_reports

    with connect() as conn:
        return write_reports(conn, kind, period)


def _failed_files(summaries: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [f for s in summaries for f in s["failed_files"]]


def asset_extra(kind: str, period: str, summaries: list[dict[str, Any]], validation: dict[str, Any]) -> dict[str, Any]:
    summaries = materialise(summaries)
    rows: dict[str, int] = {}
    for s in summaries:
        for status, n in s["rows"].items():
            rows[status] = rows.get(status, 0) + n
    return {
        "kind": kind,
        "period": period,
        "files": sum(s["files"] for s in summaries),
        "files_failed": len(_failed_files(summaries)),
        "rows_read": sum(rows.values()),
        "rows_loaded": rows.get("loaded", 0),
        "rows_quarantined": rows.get("quarantined", 0),
        "rows_duplicate": rows.get("duplicate", 0),
        "validation_success": validation["success"],
    }


def check_outcome(kind: str, summaries: list[dict[str, Any]], validation: dict[str, Any]) -> None:
    problems = [f"{f['file']}: {f['error']}" for f in _failed_files(materialise(summaries))]
    if not validation["success"]:
        problems.append(f"validation suite {validation['suite']} failed: {', '.join(validation['failed'])}")
    if problems:
        _fail(
            f"{kind}: {len(problems)} problem(s); everything else was loaded and published "
            "(rows keep their states; see the clerk reports).\n  " + "\n  ".join(problems)
        )
    log.info("%s: all files read, validation passed", kind)


# ---------------------------------------------------------------- consolidation
def prepare_consolidation() -> dict[str, Any]:
    from ucj.warehouse import migrate

    applied = migrate()
    root = landing.as_path(landing_root_uri())
    override_path = root / "reference" / "labor_force.csv"
    override = override_path.read_text(encoding="utf-8-sig") if override_path.exists() else None
    with connect() as conn:
        regions_loaded = facts.load_regions(conn)
        try:
            figures = facts.load_labor_force(conn, override)
        except facts.ReferenceFileError as exc:
            _fail(str(exc))
    return {"migrations": applied, "regions_reloaded": regions_loaded, "labor_force_rows": figures}


def periods_to_load(period_param: str | None, triggering_events: Any) -> list[str]:
    """Periods named by the Asset events that started the run, or the ``period`` param."""
    periods: set[str] = set()
    if period_param:
        periods.add(month(period_param, None))
    for events in (triggering_events or {}).values():
        for event in events:
            if period := (event.extra or {}).get("period"):
                periods.add(period)
    if not periods:
        _fail("nothing to consolidate: give a 'period' (YYYY-MM) or trigger through an ingest Asset")
    with connect() as conn:
        stale = facts.stale_periods(conn)
    if extra := sorted(set(stale) - periods):
        log.info("also reloading %s: workers counted there have since been merged", ", ".join(extra))
    return sorted(periods | set(stale))


def resolve_identities() -> dict[str, int]:
    from ucj.identity.resolve import resolve_identities as resolve

    with connect() as conn:
        return resolve(conn)


def link_probabilistically(force: bool = False) -> dict[str, Any]:
    from ucj.identity.probabilistic import link_probabilistically as link

    with connect() as conn:
        mark = fingerprint.linkage_fingerprint(conn)
        if not force and (stored := fingerprint.reusable(conn, "linkage", "all", mark)) is not None:
            return {**stored, "reused": True}
        result = link(conn)
        # Its own merges bump the generation: fingerprint what the next run will see.
        fingerprint.record(conn, "linkage", "all", fingerprint.linkage_fingerprint(conn), result)
    return result


def load_period(period: str, force: bool = False) -> dict[str, Any]:
    """One month of facts and aggregates, and beside them, on a second connection, the worker dimension.

    The dimension reads the month's rows and identity links (committed by
    the identity tasks), never the facts, so the two run at once on two
    cores instead of one after the other. Each is a transaction of its own
    that replaces the month whole: if either fails the task fails, the load
    fingerprint is not recorded, and the retry redoes both.
    """
    from concurrent.futures import ThreadPoolExecutor, wait

    period_month = parse_period(period)
    with connect() as conn:
        mark = fingerprint.load_fingerprint(conn, period_month)
        stored = None if force else fingerprint.reusable(conn, "load", period, mark)
        # A partition emptied by hand is not "unchanged", whatever the fingerprint says.
        if stored is not None and facts.coverage_fact_count(conn, period_month) == stored["coverage_facts"]:
            return {**stored, "reused": True}
        facts.analyze_load_inputs(conn)
        conn.commit()  # the statistics are there for both connections below
        with connect() as dimension_conn, ThreadPoolExecutor(max_workers=1) as pool:
            dimension = pool.submit(facts.refresh_worker_dimension, dimension_conn, period_month)
            try:
                result = facts.load_facts(conn, period)
                result.update(dimension.result())
            except BaseException:
                # Killed or failed: the dimension's statement must not run on.
                dimension_conn.cancel_safe()
                wait([dimension])
                raise
        facts.finish_load(conn, period_month)
        fingerprint.record(conn, "load", period, mark, result)
    log.info("%s: %s", period, result)
    return result


def report(periods: list[str]) -> list[dict[str, Any]]:
    with connect() as conn:
        rows = facts.ucj_table(conn, periods)
    log.info("UCJ per regency and month\n%s", facts.format_ucj_table(rows))
    return [{k: (float(v) if hasattr(v, "as_tuple") else v) for k, v in r.items()} for r in rows]


def coverage_report(periods: list[str]) -> list[str]:
    from ucj import coverage_report

    with connect() as conn:
        paths = [str(coverage_report.write_report(conn, period)) for period in periods]
    for path in paths:
        log.info("Coverage report: %s (Airflow UI: menu 'UCJ coverage report')", path)
    return paths


# ---------------------------------------------------------------- deadline
def check_deadline(logical_date: dt.datetime | None, period_param: str | None) -> dict[str, Any]:
    from ucj import completeness

    today = (logical_date or dt.datetime.now(dt.UTC)).astimezone(JAKARTA).date()
    period = month(period_param, None) if period_param else None
    with connect() as conn:
        result = completeness.check(conn, landing.as_path(landing_root_uri()), today, period)
    summary = {
        "period": result.period,
        "due": result.due.isoformat(),
        "passed": result.passed,
        "kinds_without_files": result.kinds_without_files,
        "units_missing": sum(m["units_missing"] for m in result.missing),
    }
    if not result.passed:
        log.info("%s: rosters are due by %s; nothing to check yet", result.period, result.due)
    elif result.complete:
        log.info("%s: every expected unit reported by %s", result.period, result.due)
    else:
        _fail(result.message())
    return summary
