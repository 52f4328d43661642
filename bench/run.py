"""``make bench``: the pipeline's stages at 1M roster rows per month, with references.

Stages are called exactly as the DAG tasks call them (``ucj.ingest``,
``ucj.facts``, ``ucj.validation``, ``ucj.identity``); ingest batches run in
two processes, as two mapped task instances do on a 2-core worker, and so do
the per-kind settle and validate tasks (each kind has its own ingest DAG).
For CSV the month after is measured too: the same workers report again, so
identity links every row to a known worker (a monthly run's steady state). Two
references run on the same rows in the same run: a bare read + COPY into an
unindexed table (the floor) and a plain pandas script (read_csv, exact-NIK
dedup, to_sql). Results go to docs/benchmarks.md.

    python -m bench.run --rows 1000000 --formats csv,xlsx
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import multiprocessing
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "benchmarks.md"
PERIOD = "2025-01"
NEXT_PERIOD = "2025-02"


def _peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def _ingest_batch(args: tuple[str, str, str, list[str]]) -> dict[str, Any]:
    from ucj import ingest
    from ucj.warehouse import connect

    root, kind, period, files = args
    with connect() as conn:
        return ingest.ingest_batch(conn, Path(root), kind, period, files).as_dict()


def _settle(args: tuple[str, str]) -> int:
    from ucj import pipeline_tasks

    kind, period = args
    return pipeline_tasks.settle(kind, period)


def _validate(args: tuple[str, str]) -> dict[str, Any]:
    from ucj import pipeline_tasks

    kind, period = args
    return pipeline_tasks.validate(kind, period, "bench", "bench")


def run_pipeline(root: Path, timings_detail: dict[str, float], period: str = PERIOD) -> dict[str, float]:
    """Every stage for one month; returns seconds per stage."""
    from ucj import pipeline_tasks

    timings = ingest_month(root, period)
    timed(timings, "identity resolution", pipeline_tasks.resolve_identities)
    timed(timings, "probabilistic linkage (splink)", pipeline_tasks.link_probabilistically)
    loaded = timed(timings, "load facts + refresh marts", lambda: pipeline_tasks.load_period(period))
    if not loaded.get("reused"):
        timings_detail["load facts"] = loaded["load_seconds"]
        timings_detail["refresh marts"] = loaded["refresh_seconds"]
        timings_detail["worker dimension"] = loaded["dimension_seconds"]
        timings_detail["coverage facts"] = loaded["coverage_facts"]
    return timings


def timed(timings: dict[str, Any], stage: str, call: Callable[[], Any]) -> Any:
    """Run one stage, recording its seconds under ``stage``; return what it returned."""
    start = time.perf_counter()
    result = call()
    timings[stage] = time.perf_counter() - start
    return result


def ingest_month(root: Path, period: str, only: dict[str, list[str]] | None = None) -> dict[str, float]:
    """The ingest DAGs' stages for one month (ingest, validate, publish, settle); seconds per stage.

    ``only``: the files to ingest per kind (a correction), instead of every roster of the month.
    """
    from ucj import landing, pipeline_tasks
    from ucj.settings import SOURCE_KINDS, settings

    cfg = settings().ingest
    timings: dict[str, float] = {}
    start = time.perf_counter()
    jobs = []
    kinds_now = SOURCE_KINDS if only is None else tuple(only)
    for kind in kinds_now:
        files = landing.list_rosters(root, kind, period)
        if only is not None:
            files = [f for f in files if f.rel_path in only[kind]]
        for batch in landing.batch_files(files, cfg.files_per_batch, cfg.bytes_per_batch):
            jobs.append((str(root), kind, period, batch))
    # Largest batches first, so two workers finish together.
    jobs.sort(key=lambda job: -sum((root / f).stat().st_size for f in job[3]))
    # Workers forked from a clean server process, not from this one: after a consolidation this process
    # runs DuckDB's threads (splink), and a child forked from a threaded process can crash (seen: a segfault
    # in libc in a validate worker, in the correction after six months of bench-history).
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("forkserver")) as pool:
        summaries = list(pool.map(_ingest_batch, jobs))
        timings["ingest (read, interpret, COPY)"] = time.perf_counter() - start
        failed = [f for s in summaries for f in s["failed_files"]]
        if failed:
            raise SystemExit(f"benchmark files failed to load: {failed[:3]}")

        # From here on exactly the task bodies (ucj.pipeline_tasks), so a rerun
        # skips what the DAG tasks would skip. Each kind has its own ingest
        # DAG, so its settle and validate tasks run beside the other kinds':
        # two at a time on two cores, the largest kind first.
        size = dict.fromkeys(kinds_now, 0)
        for _, kind, _, batch in jobs:
            size[kind] += sum((root / f).stat().st_size for f in batch)
        kinds = sorted(kinds_now, key=lambda kind: -size[kind])
        start = time.perf_counter()
        validations = list(pool.map(_validate, [(kind, period) for kind in kinds]))
        timings["validate (Great Expectations)"] = time.perf_counter() - start

        # Write-audit-publish as the DAG does it: publish what passed, then settle the published month.
        start = time.perf_counter()
        gates = [
            pipeline_tasks.publication_gate(kind, period, validation, "bench", "bench")
            for kind, validation in zip(kinds, validations, strict=True)
        ]
        if held := [g["kind"] for g in gates if g["held"]]:
            raise SystemExit(f"benchmark month failed validation and is held: {held}")
        list(pool.map(_settle, [(kind, period) for kind in kinds]))
        timings["settle snapshots"] = time.perf_counter() - start
    return timings


def floor_copy(root: Path) -> float:
    """Read every CSV and COPY its rows as text into an unindexed table."""
    from ucj.warehouse import connect

    start = time.perf_counter()
    with connect() as conn:
        conn.execute("drop table if exists bench_floor")
        conn.execute("create unlogged table bench_floor (c text[])")
        with conn.cursor().copy("copy bench_floor (c) from stdin") as copy:
            for path in sorted(root.glob("*/*/*.csv")):
                reader = csv.reader(io.StringIO(path.read_text(encoding="utf-8")), delimiter=";")
                for i, row in enumerate(reader):
                    if i >= 3:
                        copy.write_row((row,))
        conn.execute("drop table bench_floor")
    return time.perf_counter() - start


def bare_copy(source: str, like: str) -> float:
    """Seconds to COPY the rows of ``source`` (already in memory) into a new unindexed table."""
    from ucj.warehouse import connect

    with connect() as conn:
        buffer = io.BytesIO()
        with conn.cursor().copy(f"copy ({source}) to stdout") as copy:
            for chunk in copy:
                buffer.write(chunk)
        conn.execute("drop table if exists bench_floor_copy")
        conn.execute(f"create table bench_floor_copy (like {like})")
        conn.commit()
        start = time.perf_counter()
        with conn.cursor().copy("copy bench_floor_copy from stdin") as copy:
            copy.write(buffer.getvalue())
        conn.commit()
        elapsed = time.perf_counter() - start
        conn.execute("drop table bench_floor_copy")
    return elapsed


def pandas_script(root: Path) -> float:
    """What a one-off script would do: read_csv, drop duplicate NIKs, to_sql."""
    import pandas as pd
    import sqlalchemy

    from ucj.warehouse import warehouse_uri

    start = time.perf_counter()
    frames = [pd.read_csv(p, sep=";", skiprows=2, dtype=str) for p in sorted(root.glob("*/*/*.csv"))]
    frame = pd.concat(frames, ignore_index=True)
    frame = frame.drop_duplicates(subset=["NIK"])
    engine = sqlalchemy.create_engine(warehouse_uri().replace("postgresql://", "postgresql+psycopg://", 1))
    frame.to_sql("bench_pandas", engine, if_exists="replace", index=False, chunksize=10_000)
    with engine.begin() as c:
        c.exec_driver_sql("drop table bench_pandas")
    engine.dispose()
    return time.perf_counter() - start


def reset_warehouse() -> None:
    from ucj.warehouse import connect, migrate

    migrate()
    with connect() as conn:
        conn.execute(
            "truncate audit.validation_run, audit.publication, ingest.landing_seen, dw.fact_coverage, "
            "dw.fact_submission, dw.dim_reporting_unit, "
            "dw.dim_worker, dw.agg_regency_month, dw.agg_coverage_program_month, dw.agg_churn_month, "
            "dw.agg_churn_segment_month, dw.churn_covered, dw.churn_first, dw.churn_segment_first, dw.churn_month, "
            "dw.churn_pending, followup.lapse, "
            "identity.worker_month, "
            "identity.row_link, identity.worker_evidence, identity.worker, ingest.roster_row, ingest.source_file, "
            "meta.stage_fingerprint restart identity cascade"
        )
        # A fresh warehouse has no month's partition of the links yet (identity builds each whole).
        for (partition,) in conn.execute(
            "select inhrelid::regclass::text from pg_inherits where inhparent = 'identity.row_link'::regclass"
        ).fetchall():
            conn.execute(f"drop table {partition}")
        from ucj import reference_load

        reference_load.load_regions(conn)
        reference_load.load_labor_force(conn, None)


def cpu_reference() -> float:
    """Seconds for a fixed pure-Python loop: how fast this machine ran at the moment, to compare runs by.

    A shared machine's speed drifts with its host's other load; the
    reference taken at the start and the end of a run says how much of a
    difference between runs is the machine's.
    """
    started = time.perf_counter()
    total = 0
    for i in range(20_000_000):
        total += i
    return time.perf_counter() - started


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or cpu
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, Python {platform.python_version()}, {platform.system()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--formats", default="csv,xlsx")
    parser.add_argument("--write", type=Path, default=RESULTS, help="markdown file to (re)write")
    parser.add_argument("--bi-workers", type=int, default=1_000_000, help="workers for the BI query benchmark")
    parser.add_argument("--bi-months", type=int, default=12)
    parser.add_argument("--parts", default="pipeline,bi", help="pipeline, bi or both")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    # Production always has a NIK token key (tokens are computed for every new worker); so does the benchmark.
    os.environ.setdefault("UCJ_NIK_HMAC_KEY", "benchmark-only-key")

    from ucj.settings import SOURCE_KINDS
    from ucj_dev.synthetic.bulk import generate

    report: dict[str, Any] = {"machine": machine(), "date": dt.date.today().isoformat(), "rows": args.rows, "runs": []}
    report["cpu_reference"] = [cpu_reference()]
    if "pipeline" not in parts and args.write.exists():
        args.write = args.write.with_name(args.write.stem + "-partial.md")  # never clobber the full results
    work = Path(tempfile.mkdtemp(prefix="ucj-bench-"))
    try:
        for fmt in args.formats.split(",") if "pipeline" in parts else []:
            root = work / fmt
            started = time.perf_counter()
            shape = generate(root, args.rows, fmt)
            generation = time.perf_counter() - started
            print(f"{fmt}: generated {shape} in {generation:.0f}s", flush=True)
            reset_warehouse()
            # The floor just before the month and again just after it: how much the machine's
            # speed drifted while the month ran shows in the two.
            floor_before = floor_copy(root) if fmt == "csv" else None
            detail: dict[str, float] = {}
            timings = run_pipeline(root, detail)
            total = sum(timings.values())
            floor_after = floor_copy(root) if fmt == "csv" else None
            print(f"{fmt}: {json.dumps({k: round(v, 1) for k, v in timings.items()})}", flush=True)
            started = time.perf_counter()
            rerun = run_pipeline(root, {})
            rerun_total = time.perf_counter() - started
            run: dict[str, Any] = {
                "format": fmt,
                "shape": shape,
                "timings": timings,
                "total": total,
                "rerun_total": rerun_total,
                "rerun": rerun,
                "detail": detail,
                # The load stage reads the month's roster rows and writes its facts: both as bare COPYs.
                "roster_floor_copy": bare_copy(
                    f"select * from ingest.roster_row where period_month = '{PERIOD}-01'", "ingest.roster_row"
                ),
                "fact_floor_copy": bare_copy("select * from dw.fact_coverage", "dw.fact_coverage"),
            }
            if floor_before is not None and floor_after is not None:
                run["floor_runs"] = [floor_before, floor_after]
                run["floor_copy"] = (floor_before + floor_after) / 2
                run["pandas_script"] = pandas_script(root)
                # The month after: every worker reports again (this month's files, a month on), so
                # identity links every row to a known worker - the steady state of a monthly run.
                later = work / f"{fmt}-next"
                for kind in SOURCE_KINDS:
                    shutil.copytree(root / kind / PERIOD, later / kind / NEXT_PERIOD)
                run["next_month"] = run_pipeline(later, {}, NEXT_PERIOD)
                print(f"{fmt} next month: {json.dumps({k: round(v, 1) for k, v in run['next_month'].items()})}")
                shutil.rmtree(later)
            report["runs"].append(run)
            shutil.rmtree(root)
        report["peak_rss_mb"] = _peak_rss_mb()
        if "bi" in parts:
            from bench.bi import run_bi

            reset_warehouse()
            report["bi"] = run_bi(args.bi_workers, args.bi_months)
            print(f"bi: {json.dumps(report['bi']['latency_ms'])}", flush=True)
            reset_warehouse()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report["cpu_reference"].append(cpu_reference())
    args.write.parent.mkdir(parents=True, exist_ok=True)
    args.write.write_text(render(report), encoding="utf-8")
    print(render(report))
    return 0


def _speed_line(reference: list[float]) -> str:
    if len(reference) < 2:
        return "- Machine speed during the run: not measured"
    start, end = reference
    return (
        f"- Machine speed during the run (`cpu_reference`, a fixed pure-Python loop of 20M additions): "
        f"{start:.2f} s at the start, {end:.2f} s at the end ({end / start:.1f}x). The host's other load "
        "changes this machine's speed, and stage timings move with it: compare runs at similar speeds."
    )


def render(report: dict[str, Any]) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Measured by `make bench` (`python -m bench.run`); rerun it to refresh this file.",
        "",
        f"- Machine: {report['machine']}",
        f"- Date: {report['date']}",
        f"- Data: one month of {report['rows']:,} roster rows generated by `bench/landing.py`: "
        "thousands of small village files (villages of provinces 12, 13, 16, 72), 60 OPD files, "
        "5 large and 300 small employer files; ~5 % missing NIKs, ~2 % quarantined rows.",
        "- Warehouse: the embedded PostgreSQL 16 (pgserver) on the same machine.",
        "- Stages run as the DAG tasks run them: ingest batches in 2 processes (two mapped task "
        "instances on 2 cores), settle and validate of the three kinds 2 at a time (each kind has its own "
        "ingest DAG), identity, linkage and load in one process; NIK tokens keyed as in production.",
        f"- Peak resident memory of any one process: {report.get('peak_rss_mb', 0):,.0f} MB",
        _speed_line(report.get("cpu_reference", [])),
        "",
    ]
    for run in report["runs"]:
        shape = run["shape"]
        rows = shape["rows"]
        lines += [
            f"## {run['format'].upper()}: {rows:,} rows in "
            f"{shape['village_files'] + shape['opd_files'] + shape['employer_files']:,} files",
            "",
            "| stage | seconds | rows/s |",
            "|---|---:|---:|",
        ]
        for stage, seconds in run["timings"].items():
            lines.append(f"| {stage} | {seconds:.1f} | {rows / seconds:,.0f} |")
        ingest_validate = (
            run["timings"]["ingest (read, interpret, COPY)"] + run["timings"]["validate (Great Expectations)"]
        )
        lines += [
            f"| **whole month** | **{run['total']:.1f}** | {rows / run['total']:,.0f} |",
            "",
            f"- Ingest + validate: {ingest_validate:.1f} s ({rows / ingest_validate:,.0f} rows/s).",
            f"- Rerun of the unchanged month: {run['rerun_total']:.1f} s (files skipped by content hash; settle, "
            "validation, probabilistic linkage and load reuse their results because their input fingerprints "
            "are unchanged; " + ", ".join(f"{k} {v:.1f} s" for k, v in run["rerun"].items()) + ").",
        ]
        detail = run.get("detail") or {}
        if detail:
            load = detail["load facts"]
            lines += [
                f"- Load stage: {detail['coverage facts']:,} coverage facts written in {load:.1f} s, then the "
                f"aggregates the marts read in {detail['refresh marts']:.1f} s; beside both, on a second "
                f"connection, the worker dimension in {detail['worker dimension']:.1f} s; the stage took "
                f"{run['timings']['load facts + refresh marts']:.1f} s (the facts share the two cores with "
                "the dimension, so they take longer than they would alone).",
                f"- Bare COPY of the month's {rows:,} roster rows (what the load stage reads) into an unindexed "
                f"table: {run['roster_floor_copy']:.1f} s; the load stage is {load / run['roster_floor_copy']:.1f}x "
                f"that. Bare COPY of the {detail['coverage facts']:,} fact rows it writes: "
                f"{run['fact_floor_copy']:.1f} s ({load / run['fact_floor_copy']:.1f}x).",
            ]
        if "floor_copy" in run:
            ingest = run["timings"]["ingest (read, interpret, COPY)"]
            lines += [
                f"- Floor, bare read + COPY of the same rows into an unindexed table: {run['floor_copy']:.1f} s "
                f"(mean of {run['floor_runs'][0]:.1f} s just before the month and {run['floor_runs'][1]:.1f} s "
                "just after it); "
                f"ingest is {ingest / run['floor_copy']:.1f}x the floor, the whole month "
                f"{run['total'] / run['floor_copy']:.1f}x. The stages after ingest do what the floor does not "
                "(settle, validate, link identities, score pairs, build facts and marts): "
                f"{run['total'] - ingest:.1f} s, {(run['total'] - ingest) / run['floor_copy']:.1f}x the floor "
                "on their own.",
                f"- Plain pandas script (read_csv, exact-NIK dedup, to_sql): {run['pandas_script']:.1f} s "
                "(no validation, no row states, no identity beyond exact NIK).",
            ]
        if "next_month" in run:
            later = run["next_month"]
            lines.append(
                f"- The month after ({NEXT_PERIOD}: the same files a month on, so every worker reports again and "
                f"every row links to a known worker): {sum(later.values()):.1f} s ("
                + ", ".join(f"{k} {v:.1f} s" for k, v in later.items())
                + ")."
            )
        lines.append("")
    if "bi" in report:
        from bench.bi import render_bi

        lines += render_bi(report["bi"])
    lines += render_targets(report)
    return "\n".join(lines)


def render_targets(report: dict[str, Any]) -> list[str]:
    """The targets the project set itself, checked against this run's numbers."""
    checks: list[tuple[str, bool, str]] = []
    for run in report["runs"]:
        fmt = run["format"].upper()
        t = run["timings"]
        checks.append((f"{fmt}: whole month <= 120 s", run["total"] <= 120, f"{run['total']:.1f} s"))
        checks.append((f"{fmt}: rerun of an unchanged month <= 15 s", run["rerun_total"] <= 15,
                       f"{run['rerun_total']:.1f} s"))  # fmt: skip
        ingest_validate = t["ingest (read, interpret, COPY)"] + t["validate (Great Expectations)"]
        checks.append((f"{fmt}: ingest + validate <= 60 s", ingest_validate <= 60, f"{ingest_validate:.1f} s"))
        identity = t["identity resolution"]
        checks.append((f"{fmt}: identity resolution <= 60 s", identity <= 60, f"{identity:.1f} s"))
        detail = run.get("detail") or {}
        if detail:
            both = t["load facts + refresh marts"]
            checks.append((f"{fmt}: load + mart refresh <= 60 s", both <= 60, f"{both:.1f} s"))
            ratio = detail["load facts"] / run["roster_floor_copy"]
            checks.append((f"{fmt}: load stage <= 2x a bare COPY of the month's rows", ratio <= 2, f"{ratio:.2f}x"))
        if "floor_copy" in run:
            ratio = run["total"] / run["floor_copy"]
            checks.append((f"{fmt}: whole month <= 3x the read + COPY floor", ratio <= 3, f"{ratio:.1f}x"))
    if report.get("peak_rss_mb"):
        checks.append(("peak memory <= 4 GiB", report["peak_rss_mb"] <= 4096, f"{report['peak_rss_mb']:,.0f} MB"))
    if "bi" in report:
        worst = max(v["p95"] for v in report["bi"]["latency_ms"].values())
        checks.append(("BI queries p95 < 200 ms at 1M workers x 12 months", worst < 200, f"worst p95 {worst:.1f} ms"))
    lines = ["## Targets", "", "| target | met | measured |", "|---|---|---:|"]
    lines += [f"| {name} | {'yes' if ok else '**no**'} | {value} |" for name, ok, value in checks]
    lines.append("")
    return lines


if __name__ == "__main__":
    sys.exit(main())
