"""BI query latency on a national-sized warehouse: 1M workers x 12 months.

The facts are synthesised in SQL straight into ``dw`` (generating and
ingesting 12M roster rows would take the better part of an hour and measure
ingest, not BI). The marts' aggregates and the worker dimension are then
refreshed month by month with the loader's own SQL
(``include/sql/load/refresh_aggregates.sql``, ``worker_month.sql``, ``worker_versions.sql``),
and the typical BI queries run as ``bi_reader`` against the ``mart`` views,
each many times with varying parameters; latencies are reported as p50 / p95 /
max.

    python -m bench.bi --workers 1000000 --months 12
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import time
from typing import Any

PROVINCES = ("12", "13", "16", "72")
FIRST_MONTH = dt.date(2024, 1, 1)

QUERIES = {
    "one regency's year (UCJ vs target)": (
        """select period_month, covered_workers, working_population, ucj_rate_pct, ucj_target_pct, gap_pct_points
           from mart.ucj_regency_month
           where regency_code = %(regency)s and period_month between %(first)s and %(last)s
           order by period_month""",
        "regency",
    ),
    "all regencies, one month": (
        """select regency_name, covered_workers, ucj_rate_pct, ucj_target_pct, gap_pct_points,
                  units_reported, units_expected
           from mart.ucj_regency_month
           where period_month = %(month)s
           order by gap_pct_points desc nulls last, regency_code""",
        "month",
    ),
    "program x funding, one month": (
        """select program_code, funding_source, sum(covered_workers) as covered
           from mart.coverage_program_month
           where period_month = %(month)s
           group by 1, 2 order by 1, 2""",
        "month",
    ),
    "program x funding, one regency's year": (
        """select period_month, program_code, funding_source, sum(covered_workers) as covered
           from mart.coverage_program_month
           where regency_code = %(regency)s and period_month between %(first)s and %(last)s
           group by 1, 2, 3 order by 1, 2, 3""",
        "regency",
    ),
    "units not reported, one regency and month": (
        """select source_kind, count(*) from mart.units_not_reported
           where regency_code = %(regency)s and period_month = %(month)s
           group by 1""",
        "regency",
    ),
    "year-on-year change, one month": (
        """select regency_code, covered_workers, covered_workers_last_year, ucj_rate_change_pct_points
           from mart.ucj_regency_year_change where period_month = %(month)s""",
        "month",
    ),
}


def months(n: int) -> list[dt.date]:
    out = []
    for i in range(n):
        year, month = divmod(FIRST_MONTH.month - 1 + i, 12)
        out.append(dt.date(FIRST_MONTH.year + year, month + 1, 1))
    return out


def synthesise(conn: Any, workers: int, month_list: list[dt.date]) -> dict[str, Any]:
    """Units, submissions and coverage facts for ``workers`` people over the months."""
    from ucj.partitions import ensure_partition

    conn.execute(
        """insert into dw.dim_reporting_unit (source_kind, unit_key, unit_code, unit_name, regency_code, first_period)
           select 'village', region_code, region_code, name, regency_code, %s
           from dw.dim_region where level = 'village' and province_code = any(%s)""",
        (month_list[0], list(PROVINCES)),
    )
    conn.execute(
        """insert into dw.dim_reporting_unit (source_kind, unit_key, unit_code, unit_name, regency_code, first_period)
           select kind, r.region_code || ':' || kind || n, kind || n, kind || ' ' || n, r.region_code, %s
           from dw.dim_region as r
           cross join (values ('opd', 20), ('employer', 30)) as k (kind, units)
           cross join lateral generate_series(1, k.units) as n
           where r.level = 'regency' and r.province_code = any(%s)""",
        (month_list[0], list(PROVINCES)),
    )
    conn.execute(
        """create temp table bench_unit as
           select unit_sk, source_kind, regency_code,
                  row_number() over (partition by regency_code order by unit_sk) - 1 as pos,
                  count(*) over (partition by regency_code) as units,
                  dense_rank() over (order by regency_code) - 1 as regency_pos
           from dw.dim_reporting_unit"""
    )
    (regencies,) = conn.execute("select count(distinct regency_code) from bench_unit").fetchone()
    (file_id,) = conn.execute(
        """insert into ingest.source_file (source_kind, period_month, rel_path, content_hash, size_bytes,
                                           modified_at, status)
           values ('village', %s, 'bench/synthetic', 'synthetic', 0, now(), 'loaded') returning file_id""",
        (month_list[0],),
    ).fetchone()
    conn.execute("create index on bench_unit (regency_pos, pos)")
    # Each worker belongs to one unit of one regency, fixed across months.
    conn.execute(
        """create temp table bench_worker as
           select w as worker_key, u.unit_sk, u.source_kind, u.regency_code
           from generate_series(1, %s) as w
           join lateral (select regency_pos, units from bench_unit where regency_pos = w %% %s limit 1) as r on true
           join bench_unit as u on u.regency_pos = r.regency_pos and u.pos = (hashint4(w) & 2147483647) %% r.units""",
        (workers, regencies),
    )
    conn.execute("analyze bench_worker")
    facts = 0
    for m in month_list:
        ensure_partition(conn, m)
        # ~5 % of workers are not covered in a given month; programs and
        # funding follow the unit kind as in the real rosters.
        cur = conn.execute(
            """insert into dw.fact_coverage
                 (period_month, worker_key, program_code, unit_sk, regency_code, segment_code, funding_code)
               select %(m)s, w.worker_key, p.program_code, w.unit_sk, w.regency_code,
                      case when w.source_kind = 'village' then 'BPU'
                           when w.source_kind = 'employer' and w.worker_key %% 7 = 0 then 'JAKON' else 'PU' end,
                      case when w.source_kind = 'opd' then 'APBD'
                           when w.source_kind = 'employer' then 'EMPLOYER'
                           else (array['APBDES', 'DBH_SAWIT', 'BAZNAS', 'SELF'])[w.worker_key %% 4 + 1] end
               from bench_worker as w
               cross join lateral unnest(case w.source_kind
                    when 'village' then array['JKK', 'JKM']
                    when 'opd' then case when w.worker_key %% 3 = 0 then array['JKK', 'JKM', 'JHT']
                                         else array['JKK', 'JKM'] end
                    else array['JKK', 'JKM', 'JHT', 'JP'] end) as p (program_code)
               where (hashint8(w.worker_key * 100 + extract(month from %(m)s::date)::int) & 2147483647) %% 20 <> 0""",
            {"m": m},
        )
        facts += cur.rowcount
        conn.execute(
            """insert into dw.fact_submission
                 (period_month, unit_sk, file_id, rows_received, rows_loaded, rows_quarantined, rows_duplicate,
                  received_at)
               select %(m)s, unit_sk, %(file)s, count(distinct worker_key), count(distinct worker_key), 0, 0, %(m)s
               from dw.fact_coverage where period_month = %(m)s group by unit_sk""",
            {"m": m, "file": file_id},
        )
    return {"regencies": regencies, "facts": facts}


def measure(conn: Any, query: str, params: dict[str, Any]) -> float:
    started = time.perf_counter()
    conn.execute(query, params).fetchall()
    return (time.perf_counter() - started) * 1000


def run_bi(workers: int = 1_000_000, n_months: int = 12, repeats: int = 40) -> dict[str, Any]:
    import psycopg

    from ucj.facts import refresh_worker_dimension
    from ucj.warehouse import connect, run_sql_file, warehouse_uri

    month_list = months(n_months)
    result: dict[str, Any] = {"workers": workers, "months": n_months}
    with connect() as conn:
        started = time.perf_counter()
        shape = synthesise(conn, workers, month_list)
        result["synthesis_s"] = time.perf_counter() - started
        result.update(shape)
    refresh = []
    for m in month_list:
        with connect() as conn:
            started = time.perf_counter()
            run_sql_file(conn, "load/refresh_aggregates.sql", {"period": m})
            refresh_worker_dimension(conn, m)
            refresh.append(time.perf_counter() - started)
    result["refresh_s_per_month"] = statistics.mean(refresh)
    with psycopg.connect(warehouse_uri(), autocommit=True) as conn:
        conn.execute("analyze")
        regencies = [r[0] for r in conn.execute("select distinct regency_code from dw.agg_regency_month")]
        (role,) = conn.execute("select count(*) from pg_roles where rolname = 'bi_reader'").fetchone()
        if role:
            conn.execute("set role bi_reader")  # exactly what a BI tool may do
        result["as_role"] = "bi_reader" if role else "owner"
        rng = random.Random(7)  # noqa: S311 - parameter sampling, not secrets
        latencies: dict[str, dict[str, float]] = {}
        for name, (query, _) in QUERIES.items():
            samples = []
            for i in range(repeats + 3):
                month = rng.choice(month_list)
                params = {
                    "regency": rng.choice(regencies),
                    "month": month,
                    "first": month_list[0],
                    "last": month_list[-1],
                }
                ms = measure(conn, query, params)
                if i >= 3:  # the first runs warm the cache, as a dashboard's first load does
                    samples.append(ms)
            samples.sort()
            latencies[name] = {
                "p50": statistics.median(samples),
                "p95": samples[int(0.95 * (len(samples) - 1))],
                "max": samples[-1],
            }
        result["latency_ms"] = latencies
    return result


def render_bi(result: dict[str, Any]) -> list[str]:
    lines = [
        f"## BI queries: {result['workers']:,} workers x {result['months']} months",
        "",
        f"- Data: {result['facts']:,} coverage facts (worker x program x month x unit) for "
        f"{result['workers']:,} workers in {result['regencies']} regencies of provinces {', '.join(PROVINCES)} "
        "(all their villages as units, 20 OPDs and 30 employers each), synthesised in SQL "
        f"in {result['synthesis_s']:.0f} s.",
        f"- Mart refresh (aggregates + worker dimension, one after the other) per month: "
        f"{result['refresh_s_per_month']:.1f} s.",
        f"- Each query ran {40} times as `{result['as_role']}` over the `mart` views with a random regency and "
        "month, after 3 warm-up runs; milliseconds, client round trip included.",
        "",
        "| query | p50 ms | p95 ms | max ms |",
        "|---|---:|---:|---:|",
    ]
    for name, lat in result["latency_ms"].items():
        lines.append(f"| {name} | {lat['p50']:.1f} | {lat['p95']:.1f} | {lat['max']:.1f} |")
    lines.append("")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=12)
    args = parser.parse_args()
    from bench.run import reset_warehouse

    reset_warehouse()
    print("\n".join(render_bi(run_bi(args.workers, args.months))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
