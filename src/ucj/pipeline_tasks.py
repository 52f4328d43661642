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

from ucj import arrivals, facts, fingerprint, ingest, landing, publication, reference_load, snapshots, ucj_table
from ucj.dag_support import APPROVE_OPTION, PeriodError, resolve_period
from ucj.period import parse_period
from ucj.settings import settings
from ucj.warehouse import CHURN_LOCK, connect, serialise

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


def plan_batches(kind: str, period: str, stable_seconds: float | None = None) -> list[list[str]]:
    """The month's complete files in batches; a file still being copied is left for the next run."""
    root = landing.as_path(landing_root_uri())
    if stable_seconds is None:
        stable_seconds = float(settings().arrival.stable_seconds)
    listing = landing.scan_rosters(root, kind, period)
    for skipped in listing.skipped:
        log.warning("%s %s: %s skipped: %s", kind, period, skipped.name, skipped.reason)
    files, settling = arrivals.stable(listing.files, dt.datetime.now(dt.UTC), stable_seconds)
    if settling:
        log.warning(
            "%s %s: %d file(s) changed in the last %.0f s and are left for the next run (still being copied?): %s",
            kind, period, len(settling), stable_seconds, ", ".join(settling),
        )  # fmt: skip
    cfg = settings().ingest
    # Always at least one (possibly empty) batch, so downstream tasks run and
    # report "no files" instead of being skipped silently.
    batches = landing.batch_files(files, cfg.files_per_batch, cfg.bytes_per_batch) or [[]]
    log.info("%s %s: %d files in %d batches", kind, period, len(files), len(batches))
    return batches


def ingest_files(kind: str, period: str, files: list[str], reinterpret: bool = False) -> dict[str, Any]:
    root = landing.as_path(landing_root_uri())
    with connect() as conn:
        summary = ingest.ingest_batch(conn, root, kind, period, files, reinterpret=reinterpret)
    log.info(
        "%s %s: %d files (%d loaded, %d reinterpreted, %d unchanged, %d failed); rows %s",
        kind, period, summary.files, summary.loaded_files, summary.reinterpreted_files, summary.unchanged_files,
        len(summary.failed_files), summary.rows,
    )  # fmt: skip
    for item in summary.not_reinterpreted:
        log.warning("%s %s: %s was not reinterpreted (its rows stay as they were): %s",
                    kind, period, item["file"], item["error"])  # fmt: skip
    return summary.as_dict()


def reinterpreted_files(summaries: list[dict[str, Any]]) -> int:
    return sum(int(s.get("reinterpreted_files", 0)) for s in summaries)


def settle(kind: str, period: str, force: bool = False) -> int:
    scope = f"{kind}/{period}"
    with connect() as conn:
        mark = fingerprint.settle_fingerprint(conn, kind, parse_period(period))
        if not force and fingerprint.reusable(conn, "settle", scope, mark) is not None:
            return 0
        # The other kinds' settle tasks wait for these statistics, not for this settle.
        snapshots.analyze_settle_inputs(conn)
        conn.commit()
        changed = snapshots.settle_snapshots(conn, kind, period, check_statistics=False)
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
        # The month was just loaded: the candidate rows' query needs its statistics.
        snapshots.analyze_settle_inputs(conn)
        conn.commit()
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


def check_outcome(kind: str, summaries: list[dict[str, Any]], validation: dict[str, Any], gate: dict[str, Any]) -> None:
    problems = [f"{f['file']}: {f['error']}" for f in _failed_files(materialise(summaries))]
    if not validation["success"]:
        problems.append(f"validation suite {validation['suite']} failed: {', '.join(validation['failed'])}")
    if gate["held"]:
        problems.append(
            f"{gate['held_files']} file(s) of {kind} {gate['period']} are HELD: the marts keep the last published "
            "state until a data steward approves publication (Airflow UI, Required Actions of "
            "ucj_publication_approval) or a fixed file passes validation"
        )
    if problems:
        _fail(
            f"{kind}: {len(problems)} problem(s); every readable file was loaded and every row has its state "
            "(see the clerk reports).\n  " + "\n  ".join(problems)
        )
    log.info("%s: all files read, validation passed", kind)


# ---------------------------------------------------------------- publication
def _latest_results(conn: Any, kind: str, period_month: dt.date) -> list[dict[str, Any]]:
    row = conn.execute(
        """select results from audit.validation_run where source_kind = %s and period_month = %s
           order by validation_id desc limit 1""",
        (kind, period_month),
    ).fetchone()
    return row[0] if row else []


def publication_gate(kind: str, period: str, validation: dict[str, Any], dag_id: str, run_id: str | None) -> dict:
    """Publish the kind-month's held files when validation passed; hold them otherwise."""
    period_month = parse_period(period)
    with connect() as conn:
        results = [] if validation["success"] else _latest_results(conn, kind, period_month)
        return publication.gate(conn, kind, period_month, validation["success"], results, (dag_id, run_id)).as_dict()


def approval_requests(gate: dict[str, Any]) -> list[dict[str, Any]]:
    """The ucj_publication_approval run to start for a held batch (none when nothing is held)."""
    if not gate["held"]:
        return []
    result = publication.Gate(**gate)
    conf = {
        "kind": result.kind,
        "period": result.period,
        "candidate": result.candidate,
        "held_files": result.held_files,
        "body": publication.approval_body(result),
    }
    # One request per batch while it waits (a rerun finds it there); a new one once it was answered.
    run_id = f"held__{result.kind}__{result.period}__{result.candidate[:12]}__{result.answers}"
    return [{"conf": conf, "trigger_run_id": run_id}]


def announce(
    kind: str, period: str, changes: dict[str, int], counts: dict[str, Any] | None, force: bool, outlet: Any
) -> dict[str, Any] | None:
    """Emit the kind's Asset event (ucj_consolidate's trigger) only when the published month changed.

    ``outlet`` is the task's AssetAlias event accessor; nothing added to it
    means no event, so an unchanged cycle starts no consolidation.
    """
    from airflow.sdk import Asset

    from ucj.dag_support import ASSET_URI

    if not force and not any(changes.values()):
        log.info("%s %s: nothing new was published; no Asset event, no consolidation", kind, period)
        return None
    extra = {**(counts or {}), "kind": kind, "period": period, **changes}
    outlet.add(Asset(ASSET_URI.format(kind=kind), group="ucj"), extra=extra)
    log.info("%s %s: published changes %s; Asset event emitted", kind, period, changes)
    return extra


def _responder(response: dict[str, Any]) -> str:
    """The Airflow user who answered a Required Action; a request that timed out took its default answer."""
    user = response.get("responded_by_user") or {}
    return str(user.get("name") or user.get("id") or "timeout (no answer)")


def publication_decision(
    kind: str, period: str, candidate: str, response: dict[str, Any], dag_id: str, run_id: str | None
) -> dict[str, Any]:
    """Apply a steward's Required Action answer (approve or reject) to the batch it was about."""
    approved = APPROVE_OPTION in (response.get("chosen_options") or [])
    by = _responder(response)
    with connect() as conn:
        decision = publication.decide(conn, kind, parse_period(period), candidate, approved, by, (dag_id, run_id))
    log.info(decision.message)
    return decision.as_dict()


# ---------------------------------------------------------------- consolidation
def prepare_consolidation() -> dict[str, Any]:
    from ucj.warehouse import migrate

    applied = migrate()
    root = landing.as_path(landing_root_uri())
    override_path = root / "reference" / "labor_force.csv"
    override = override_path.read_text(encoding="utf-8-sig") if override_path.exists() else None
    with connect() as conn:
        regions_loaded = reference_load.load_regions(conn)
        try:
            figures = reference_load.load_labor_force(conn, override)
        except reference_load.ReferenceFileError as exc:
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
    if not periods and not triggering_events:
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
            return {**{k: v for k, v in stored.items() if k != "file_versions"}, "reused": True}
        versions = fingerprint.files_in(conn, period_month)
        inputs = fingerprint.load_inputs(conn, period_month, versions)
        previous = None if force else fingerprint.last_result(conn, "load", period)
        changed = facts.incremental_scope(conn, period_month, previous, inputs, versions)
        if changed is not None:
            # Only the workers and units changed since rewritten, not the month (one transaction, as a reload).
            result = facts.apply_changes(conn, period_month, changed)
        else:
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
        result["inputs"] = inputs
        last_loaded = conn.execute(
            "select done_at from meta.stage_fingerprint where stage = 'load' and scope = %s", (period,)
        ).fetchone()
        cause = facts.revision_cause(conn, period_month, last_loaded[0] if last_loaded else None)
        result["revisions"] = facts.record_revisions(conn, period_month, cause)
        if result["revisions"]:
            log.info("%s: %d published regency figures revised (%s)", period, result["revisions"], cause)
        facts.finish_load(conn, period_month)
        # The versions loaded, for the next load to tell which files changed (kept out of the task's XCom).
        fingerprint.record(conn, "load", period, mark, {**result, "file_versions": versions})
    log.info("%s: %s", period, result)
    return result


def refresh_churn(force: bool = False) -> dict[str, Any]:
    """Churn brought up to the months loaded since it was last refreshed: only their changed workers are
    counted again; forced, or with a changed refresh_churn.sql, every loaded month is counted afresh."""
    with connect() as conn:
        serialise(conn, CHURN_LOCK)  # two consolidations at once refresh it one after the other
        mark = fingerprint.churn_fingerprint(conn)
        if not force and (stored := fingerprint.reusable(conn, "churn", "all", mark)) is not None:
            return {**stored, "reused": True}
        whole = force or fingerprint.churn_sql_changed(conn)
        result = {**facts.refresh_churn(conn, whole=whole), "sql": fingerprint.churn_sql_checksum()}
        # What it has counted now: the loads as recorded, nothing left pending.
        fingerprint.record(conn, "churn", "all", fingerprint.churn_fingerprint(conn), result)
    log.info("churn: %s", result)
    return result


def followup_reports(periods: list[str]) -> list[str]:
    from ucj.followup import write_followup_reports

    with connect() as conn:
        return write_followup_reports(conn, periods)


def report(periods: list[str]) -> list[dict[str, Any]]:
    with connect() as conn:
        rows = ucj_table.ucj_table(conn, periods)
    log.info("UCJ per regency and month\n%s", ucj_table.format_ucj_table(rows))
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


# ---------------------------------------------------------------- arrivals
def sweep_arrivals(now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """One ingest run to start per kind-month with new or changed complete files (TriggerDagRunOperator kwargs)."""
    from ucj.settings import SOURCE_KINDS
    from ucj.warehouse import migrate

    now = now or dt.datetime.now(dt.UTC)
    migrate()  # a new warehouse has no landing_seen yet; nothing to do when it is current
    root = landing.as_path(landing_root_uri())
    with connect() as conn:
        found = arrivals.sweep(conn, root, SOURCE_KINDS, now.astimezone(JAKARTA).date(), now)
    log.info("open months %s: %d files listed", ", ".join(found.periods), found.files_seen)
    if found.settling:
        log.info("still being written, left for the next sweep: %s", ", ".join(found.settling))
    for a in found.arrivals:
        log.info("%s %s: %d new and %d changed file(s): starting ucj_ingest_%s", a.kind, a.period, a.new_files,
                 a.changed_files, a.kind)  # fmt: skip
    if not found.arrivals:
        log.info("nothing new in the landing zone: no ingest run, no Asset event")
    return [
        {
            "trigger_dag_id": f"ucj_ingest_{a.kind}",
            "trigger_run_id": f"arrival__{a.period}__{now:%Y%m%dT%H%M%S}",
            "conf": {"period": a.period},
        }
        for a in found.arrivals
    ]


# ---------------------------------------------------------------- identity review in the Airflow UI
def review_page(request: str) -> dict[str, Any]:
    """The next page of the review queue for a Required Action; the pairs are marked as shown in ``request``."""
    from ucj.identity import review_requests as rr

    size = int(settings().identity.review.pairs_per_request)
    with connect() as conn:
        pairs = rr.next_pairs(conn, size)
        if not pairs:
            return {"form": {}, "message": "the review queue is empty"}
        waiting = rr.waiting(conn)
        rr.mark_presented(conn, pairs, request)
    log.info("review page: %d of %d waiting pairs", len(pairs), waiting)
    return {"body": rr.request_body(pairs, waiting), "form": rr.form(pairs), "pairs": [p.key for p in pairs]}


def apply_review(response: dict[str, Any], outlet: Any, request: str | None = None) -> dict[str, Any]:
    """Record a reviewer's answers; ask for a consolidation (and the next page) when something was decided."""
    from airflow.sdk import Asset

    from ucj.dag_support import DECISIONS_URI, REVIEW_QUEUE_URI
    from ucj.identity import review_requests as rr

    by = _responder(response)
    answers = {k: v for k, v in (response.get("params_input") or {}).items() if k.startswith("pair_")}
    with connect() as conn:
        result = rr.apply_answers(conn, answers, by, note="Airflow Required Action")
        if request:
            rr.close_page(conn, request)
        more = rr.never_shown(conn)
    log.info("review by %s: %s; %d pairs not shown yet", by, result.as_dict(), more)
    if result.decided:
        outlet.add(Asset(DECISIONS_URI, group="ucj"), extra={"decided_by": by, **result.as_dict()})
        if more:
            outlet.add(Asset(REVIEW_QUEUE_URI, group="ucj"), extra={"waiting": more})
    return {**result.as_dict(), "by": by, "not_shown_yet": more}


def offer_review(outlet: Any) -> int:
    """After a consolidation: start a review page when the queue holds pairs nobody has been shown."""
    from airflow.sdk import Asset

    from ucj.dag_support import REVIEW_QUEUE_URI
    from ucj.identity import review_requests as rr

    again_after = float(settings().identity.review.request_timeout_days)
    with connect() as conn:
        if rr.page_open(conn, again_after):
            log.info("a review page is open in Required Actions; the next one follows its answer")
            return 0
        new = rr.never_shown(conn, again_after)
    if new:
        outlet.add(Asset(REVIEW_QUEUE_URI, group="ucj"), extra={"waiting": new})
        log.info("%d pairs wait for a reviewer: ucj_identity_review asks in Required Actions", new)
    return new
