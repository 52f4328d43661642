"""Load the star schema: reference dimensions, and one month of facts at a time."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import logging
import os
import time
from typing import Any

import psycopg

from ucj.period import next_month, parse_period, period_end
from ucj.publication import held_files
from ucj.reference import LABOR_FORCE_CSV, POPULATION_CSV, REGIONS_CSV, undot
from ucj.roster.parse import parse_money
from ucj.warehouse import PERIOD_LOAD_LOCK, WORKER_DIMENSION_LOCK, analyze_if_stale, run_sql_file, serialise

log = logging.getLogger(__name__)

LABOR_FORCE_COLUMNS = ("regency_code", "year", "working_population", "ucj_target_pct")


class ReferenceFileError(ValueError):
    """reference/labor_force.csv in the landing zone is not usable."""


def _checksum(*blobs: bytes) -> str:
    digest = hashlib.sha256()
    for blob in blobs:
        digest.update(blob)
    return digest.hexdigest()


def load_regions(conn: psycopg.Connection) -> bool:
    """(Re)load dim_region when the shipped reference files changed; True if loaded."""
    regions_bytes, population_bytes = REGIONS_CSV.read_bytes(), POPULATION_CSV.read_bytes()
    checksum = _checksum(regions_bytes, population_bytes)
    row = conn.execute("select checksum from meta.reference_load where name = 'dim_region'").fetchone()
    if row and row[0] == checksum:
        return False
    population = {
        undot(r["code"]): int(r["total"]) for r in csv.DictReader(io.StringIO(population_bytes.decode("utf-8")))
    }
    conn.execute("create temp table region_load (like dw.dim_region) on commit drop")
    with conn.cursor().copy(
        "copy region_load (region_code, name, level, province_code, regency_code, district_code, "
        "registered_population) from stdin"
    ) as copy:
        for r in csv.DictReader(io.StringIO(regions_bytes.decode("utf-8"))):
            code = undot(r["code"])
            copy.write_row(
                (
                    code, r["name"], r["level"], code[:2],
                    code[:4] if len(code) >= 4 else None,
                    code[:6] if len(code) >= 6 else None,
                    population.get(code),
                )
            )  # fmt: skip
    conn.execute(
        """insert into dw.dim_region select * from region_load
           on conflict (region_code) do update set name = excluded.name, level = excluded.level,
             registered_population = excluded.registered_population"""
    )
    conn.execute(
        """insert into meta.reference_load values ('dim_region', %s)
           on conflict (name) do update set checksum = excluded.checksum""",
        (checksum,),
    )
    return True


def _number(text: str | None, column: str) -> float | int | None:
    """Figures as people type them: ``134.390``, ``134,390``, ``28,3``, ``28.3 %``."""
    if not (text or "").strip():
        return None
    value = parse_money(text)
    if value is None:
        raise ValueError(f"{column} {text!r} is not a number")
    return int(value) if column == "working_population" else float(value)


def _labor_force_rows(text: str, origin: str, source_label: str) -> list[tuple[Any, ...]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in LABOR_FORCE_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ReferenceFileError(f"{source_label}: missing column(s) {', '.join(missing)}")
    rows = []
    for line, r in enumerate(reader, start=2):
        try:
            population = _number(r["working_population"], "working_population")
            target = _number(r["ucj_target_pct"], "ucj_target_pct")
            rows.append(
                (
                    undot(r["regency_code"].strip()), int(r["year"]), population, target,
                    (r.get("denominator") or "").strip() or None,
                    (r.get("source") or "").strip() or source_label, origin,
                )
            )  # fmt: skip
        except (TypeError, ValueError) as exc:
            raise ReferenceFileError(f"{source_label} line {line}: {exc}") from exc
    return rows


def load_labor_force(conn: psycopg.Connection, landing_override: str | None) -> int:
    """Shipped figures, then the landing zone's reference/labor_force.csv on top."""
    rows = _labor_force_rows(LABOR_FORCE_CSV.read_text(encoding="utf-8"), "shipped", "include/reference")
    if landing_override is not None:
        override = _labor_force_rows(landing_override, "landing", "reference/labor_force.csv")
        keys = {(r[0], r[1]) for r in override}
        rows = [r for r in rows if (r[0], r[1]) not in keys] + override
    conn.execute("delete from dw.labor_force")
    with conn.cursor() as cur:
        cur.executemany("insert into dw.labor_force values (%s, %s, %s, %s, %s, %s, %s)", rows)
    return len(rows)


def _month_partition(parent: str, period_month: dt.date) -> tuple[str, str, str]:
    """``parent``'s partition for the month: schema, table name, and its bounds as ATTACH and CREATE spell them."""
    schema, table = parent.split(".")
    bounds = f"from ('{period_month.isoformat()}') to ('{next_month(period_month).isoformat()}')"
    return schema, f"{table}_{period_month:%Y%m}", bounds


def ensure_partition(conn: psycopg.Connection, period_month: dt.date, parent: str = "dw.fact_coverage") -> str:
    """The month's partition of ``parent`` (schema.table, partitioned by month), created if missing; its name."""
    schema, name, bounds = _month_partition(parent, period_month)
    conn.execute(f"create table if not exists {schema}.{name} partition of {parent} for values {bounds}")
    return name


def swap_in_partition(conn: psycopg.Connection, parent: str, stage: str, period_month: dt.date) -> None:
    """Put ``stage`` (schema.table, built and indexed in full) in place of ``parent``'s partition for the month.

    A table filled without indexes and indexed once is several times faster
    to build than inserting into an indexed partition, and the old
    partition's bloat goes with it. ``stage`` must carry the check
    constraint ``<stage table>_month`` on the month's bounds: it lets ATTACH
    skip scanning the rows, and is dropped once the partition bound holds
    instead. The caller owns the transaction and has created the partition
    (:func:`ensure_partition`).
    """
    schema, name, _ = _month_partition(parent, period_month)
    partition = f"{schema}.{name}"
    conn.execute(f"alter table {parent} detach partition {partition}")
    conn.execute(f"drop table {partition}")
    conn.execute(f"alter table {stage} rename to {name}")
    attach_partition(conn, parent, period_month, constraint=f"{stage.split('.')[1]}_month")


def month_partition(parent: str, period_month: dt.date) -> str:
    """The name (schema.table) ``parent``'s partition for the month has, or would have."""
    schema, name, _ = _month_partition(parent, period_month)
    return f"{schema}.{name}"


def month_bounds_check(period_month: dt.date) -> str:
    """The CHECK that lets :func:`attach_partition` skip scanning a month's table (its ``constraint``)."""
    first, following = period_month.isoformat(), next_month(period_month).isoformat()
    return f"check (period_month >= '{first}' and period_month < '{following}')"


def attach_partition(conn: psycopg.Connection, parent: str, period_month: dt.date, constraint: str) -> None:
    """Attach the table named as the month's partition (:func:`month_partition`), filled and indexed in full.

    Its ``constraint`` (:func:`month_bounds_check`) proves the rows are in the
    month, so ATTACH need not read them; it is dropped once the partition
    bound holds instead. Indexes matching the parent's are adopted, not
    built again.
    """
    schema, name, bounds = _month_partition(parent, period_month)
    conn.execute(f"alter table {parent} attach partition {schema}.{name} for values {bounds}")
    conn.execute(f"alter table {schema}.{name} drop constraint {constraint}")


# What the load reads besides the dimensions it writes. Identity resolution
# analyses its tables when it writes them, but a load retried after a server
# restart, or of a month whose rows nothing else touched, must not plan a
# million-row join on statistics that say "empty" (measured: a nested loop that
# ran into the statement timeout instead of finishing in 10 s).
LOAD_INPUTS = ("ingest.roster_row", "ingest.source_file", "identity.row_link", "identity.worker")


def analyze_load_inputs(conn: psycopg.Connection) -> None:
    analyze_if_stale(conn, *LOAD_INPUTS)


def load_period(conn: psycopg.Connection, period: str) -> dict[str, Any]:
    """Replace one month of facts, aggregates and worker dimension in the caller's transaction.

    The pipeline's load task does the same on two connections at once
    (``ucj.pipeline_tasks.load_period``): the worker dimension reads only
    committed identity links, never the facts. Here the caller's
    transaction keeps its turn at analysing the inputs until it commits.
    """
    period_month = parse_period(period)
    analyze_load_inputs(conn)
    result = load_facts(conn, period)
    result.update(refresh_worker_dimension(conn, period_month))
    finish_load(conn, period_month)
    return result


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
    run_sql_file(
        conn,
        "load/load_period.sql",
        {"period": period_month, "period_end": period_end(period_month), "held": held_files(conn, period_month)},
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


def finish_load(conn: psycopg.Connection, period_month: dt.date) -> None:
    """The month now counts every reviewer's correction: it leaves the reload queue."""
    conn.execute("delete from identity.pending_reload where period_month = %s", (period_month,))


def revision_cause(conn: psycopg.Connection, period_month: dt.date, since: dt.datetime | None) -> str:
    """Why the month is loaded again: what changed among its inputs since its last load (``since``).

    One cause per reload, the first that applies: a file version replacing
    another (corrected_file), a new file (late_file), a reviewer's split or
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
    if conn.execute(
        "select 1 from identity.pending_reload where period_month = %s and since > %s", (period_month, since)
    ).fetchone():
        return "identity_split"
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


def record_revisions(conn: psycopg.Connection, period_month: dt.date, cause: str) -> int:
    """Record the published regency-month figures this load changed; return how many."""
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


def refresh_churn(conn: psycopg.Connection) -> dict[str, int]:
    """Rebuild the churn aggregates of every loaded month (``load/refresh_churn.sql``); caller owns the transaction.

    Whole, not month by month: whether a worker is new or returning in a
    month depends on every earlier month, so one corrected month can change
    the churn of all later ones.
    """
    run_sql_file(conn, "load/refresh_churn.sql", {})
    (months, lapsed) = conn.execute(
        "select count(distinct period_month), coalesce(sum(lapsed_workers), 0) from dw.agg_churn_month"
    ).fetchone()
    return {"months": int(months), "lapsed_workers": int(lapsed)}


def stale_periods(conn: psycopg.Connection) -> list[str]:
    """Months loaded before some of their workers were merged or a reviewer corrected them.

    Their facts still count both halves of a merged pair (identity.worker_month
    holds the keys a month was loaded with), or count rows under a worker a
    reviewer has since split (identity.pending_reload), so they must be
    reloaded.
    """
    rows = conn.execute(
        """select to_char(m.period_month, 'YYYY-MM')
           from identity.worker as w
           join identity.worker_month as m on m.worker_key = w.worker_key
           where w.merged_into is not null
           union
           select to_char(period_month, 'YYYY-MM') from identity.pending_reload
           order by 1"""
    ).fetchall()
    return [r[0] for r in rows]


def coverage_fact_count(conn: psycopg.Connection, period_month: dt.date) -> int:
    return conn.execute("select count(*) from dw.fact_coverage where period_month = %s", (period_month,)).fetchone()[0]


def analyze_settle_inputs(conn: psycopg.Connection) -> None:
    analyze_if_stale(conn, "ingest.source_file", "ingest.roster_row")


def settle_snapshots(conn: psycopg.Connection, kind: str, period: str, check_statistics: bool = True) -> int:
    """Mark superseded rows for one kind and month; return rows whose state changed.

    ``check_statistics=False``: the caller has already run (and committed)
    :func:`analyze_settle_inputs`. Checking again here would take the
    ANALYZE lock for this whole transaction, and the other kinds' settle
    tasks, waiting for it, would settle one after the other.
    """
    # Fresh statistics first: right after a bulk COPY the planner still
    # believes the table is tiny and picks nested loops (30 s instead of 0.1 s).
    if check_statistics:
        analyze_settle_inputs(conn)
    return run_sql_file(conn, "load/settle_snapshots.sql", {"kind": kind, "period": parse_period(period)})


def ucj_table(conn: psycopg.Connection, periods: list[str] | None = None) -> list[dict[str, Any]]:
    query = """select to_char(period_month, 'YYYY-MM') as period, regency_code, regency_name, covered_workers,
                      working_population, ucj_rate_pct, ucj_target_pct, gap_pct_points,
                      units_reported, units_expected
               from mart.ucj_regency_month"""
    params: tuple[Any, ...] = ()
    if periods:
        query += " where period_month = any(%s)"
        params = ([parse_period(p) for p in periods],)
    query += " order by period_month, regency_code"
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute(query, params).fetchall()


def format_ucj_table(rows: list[dict[str, Any]]) -> str:
    header = ("period", "regency", "covered", "working pop.", "UCJ %", "target %", "gap pts", "units")
    lines = [header]
    for r in rows:
        lines.append(
            (
                r["period"], f"{r['regency_code']} {r['regency_name']}"[:34], str(r["covered_workers"]),
                "-" if r["working_population"] is None else f"{r['working_population']:,}",
                "-" if r["ucj_rate_pct"] is None else f"{r['ucj_rate_pct']:.2f}",
                "-" if r["ucj_target_pct"] is None else f"{r['ucj_target_pct']:.2f}",
                "-" if r["gap_pct_points"] is None else f"{r['gap_pct_points']:.2f}",
                f"{r['units_reported']}/{r['units_expected']}",
            )
        )  # fmt: skip
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) for line in lines)
