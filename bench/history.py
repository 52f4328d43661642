"""``make bench-history``: twelve months of history at 1M roster rows a month, and a correction.

What it answers: does a month's consolidation cost the same when eleven months
are already loaded as when one is (corrections in proportion to what
changed), and how long does a corrected file for a published month take to
reach the marts.

The months reuse one generated month's files (``ucj_dev.synthetic.bulk``)
with churn and new identity evidence, so every month has lapses, returns,
new people and merges:

- each row of the base month is absent in a month with probability 3 %
  (a lapse; it is back the month after with probability 97 %: a return);
- each month adds 1 % new people (a new name and NIK serial beside a base
  row), who stay on the file from then on;
- 0.2 % of rows each month come twice: the person's row and a row without a
  NIK whose birth date is one day off (a second worker), and the month after
  a row with that birth date and the person's NIK, which merges the two
  workers: the earlier month takes the merge.

Each month runs the ingest stages and the consolidation exactly as the DAG
tasks call them (``ucj.pipeline_tasks``): identity rules, the probabilistic
pass, a load of every month the consolidation picks (the new month whole,
earlier months only the workers and units changed since), the churn refresh. After the last month one
village file of month 6 is corrected (two rows gone, one added) and runs
from ingest through the churn. Results go to docs/benchmarks-history.md.

    python -m bench.history --rows 1000000 --months 12
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import random
import shutil
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

from bench.run import cpu_reference, ingest_month, machine, reset_warehouse, timed

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "benchmarks-history.md"
FIRST = dt.date(2025, 1, 1)
ABSENT, NEW, STRAY = 0.03, 0.01, 0.002
TITLE_ROWS = 3  # two title rows and the header, as bulk writes them
CORRECTED_MONTH = 6


def _period(index: int) -> str:
    month = FIRST.month - 1 + index
    return f"{FIRST.year + month // 12}-{month % 12 + 1:02d}"


def _seed(*parts: object) -> int:
    return zlib.crc32("|".join(map(str, parts)).encode())


def _uniform(*parts: object) -> float:
    """A number in [0, 1) fixed by ``parts``: the same row decides alike in every run and month it is asked."""
    return _seed(*parts) / 2**32


def _read(path: Path) -> tuple[list[list[str]], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8")), delimiter=";"))
    return rows[:TITLE_ROWS], rows[TITLE_ROWS:]


def _write(path: Path, head: list[list[str]], rows: list[list[str]], mtime: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";", lineterminator="\n").writerows([*head, *rows])
    path.write_text(buffer.getvalue(), encoding="utf-8")
    os.utime(path, (mtime, mtime))


def _next_day(born: str) -> str:
    day, month, year = born.split("/")
    return f"{int(day) % 28 + 1:02d}/{month}/{year}"


def month_rows(rel: str, base: list[list[str]], index: int) -> list[list[str]]:
    """The rows of one base file in month ``index`` (0 = the base month itself)."""
    if index == 0:
        return base
    rows = []
    for i, row in enumerate(base):
        if _uniform(rel, i, index) >= ABSENT:
            rows.append(row)
    # The new people of every month so far: each keeps reporting (and lapses like anyone).
    for joined in range(1, index + 1):
        rng = random.Random(_seed(rel, "new", joined))  # noqa: S311 - benchmark data
        for n in range(sum(rng.random() < NEW for _ in base)):
            template = base[rng.randrange(len(base))]
            if _uniform(rel, "new", joined, n, index) < ABSENT:
                continue
            nik = template[0]
            if nik:
                nik = f"{nik[:12]}{(int(nik[12:]) + 5000 + 37 * joined + n) % 9999 + 1:04d}"
            rows.append([nik, f"{template[1]} {('Putra', 'Putri')[n % 2]} {joined}", *template[2:]])
    # Strays of this month (a second worker) and the evidence for last month's (the merge).
    for i, row in enumerate(base):
        if not row[0] or row[2].count("/") != 2:
            continue
        if _uniform(rel, "stray", i, index) < STRAY:
            rows.append(["", row[1], _next_day(row[2]), *row[3:]])
        if _uniform(rel, "stray", i, index - 1) < STRAY:
            rows.append([row[0], row[1], _next_day(row[2]), *row[3:]])
    return rows


def write_month(base: Path, root: Path, index: int) -> int:
    """Month ``index``'s landing folders from the base month's files; returns its row count."""
    total = 0
    period = _period(index)
    for path in sorted(base.glob("*/*/*.csv")):
        kind = path.parent.parent.name
        rel = f"{kind}/{path.name}"
        head, rows = _read(path)
        rows = month_rows(rel, rows, index)
        _write(root / kind / period / path.name, head, rows, 1_700_000_000 + index * 2_600_000)
        total += len(rows)
    return total


def consolidate(period: str) -> dict[str, Any]:
    """The consolidation DAG's tasks for a run triggered by ``period``: seconds per stage and what loaded."""
    from ucj import pipeline_tasks

    timings: dict[str, Any] = {}
    timed(timings, "identity rules", pipeline_tasks.resolve_identities)
    timed(timings, "probabilistic pass", pipeline_tasks.link_probabilistically)
    loads = timed(
        timings,
        "loads",
        lambda: {month: pipeline_tasks.load_period(month) for month in pipeline_tasks.periods_to_load(period, None)},
    )
    churn = timed(timings, "churn", pipeline_tasks.refresh_churn)
    timings["total"] = sum(v for v in timings.values())
    timings["months_loaded_whole"] = sum(1 for r in loads.values() if "load_seconds" in r)
    timings["months_rewritten"] = sum(1 for r in loads.values() if "workers_rewritten" in r)
    timings["merges_applied"] = sum(r.get("merges_applied", 0) for r in loads.values())
    timings["churn_pairs"] = churn.get("merged_workers_counted", 0)
    return timings


def correct_one_file(root: Path) -> dict[str, Any]:
    """A village file of a published month sent again, two rows fewer and one more: ingest to marts."""
    period = _period(CORRECTED_MONTH - 1)
    files = sorted((root / "village" / period).glob("*.csv"))
    path = files[len(files) // 2]
    head, rows = _read(path)
    added = [*rows[0][:1], rows[0][1] + " Koreksi", *rows[0][2:]]
    added[0] = f"{added[0][:12]}{(int(added[0][12:] or 0) + 4321) % 9999 + 1:04d}" if added[0] else ""
    _write(path, head, [*rows[2:], added], 1_790_000_000)
    rel = f"village/{period}/{path.name}"
    started = time.perf_counter()
    stages = ingest_month(root, period, only={"village": [rel]})
    stages.update(consolidate(period))
    stages["pipeline"] = time.perf_counter() - started
    stages["file_rows"] = len(rows) - 1
    return stages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="roster rows of the base month")
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--write", type=Path, default=RESULTS, help="markdown file to (re)write")
    args = parser.parse_args()
    os.environ.setdefault("UCJ_NIK_HMAC_KEY", "benchmark-only-key")
    from ucj_dev.synthetic.bulk import generate

    report: dict[str, Any] = {"machine": machine(), "date": dt.date.today().isoformat(), "rows": args.rows,
                              "cpu_reference": [cpu_reference()], "months": []}  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="ucj-history-"))
    try:
        base, root = work / "base", work / "landing"
        report["shape"] = generate(base, args.rows, "csv", period=_period(0))
        reset_warehouse()
        for index in range(args.months):
            period = _period(index)
            rows = write_month(base, root, index)
            started = time.perf_counter()
            stages = ingest_month(root, period)
            stages.update(consolidate(period))
            stages["pipeline"] = time.perf_counter() - started
            stages["rows"] = rows
            stages["period"] = period
            report["months"].append(stages)
            print(json.dumps({k: round(v, 1) if isinstance(v, float) else v for k, v in stages.items()}), flush=True)
            # Written after every month, so a run cut short still leaves what it measured.
            _write_report(args.write, {**report, "cpu_reference": [*report["cpu_reference"], cpu_reference()]},
                          args.months)  # fmt: skip
        if args.months >= CORRECTED_MONTH:
            report["correction"] = correct_one_file(root)
            print(json.dumps({k: round(v, 1) for k, v in report["correction"].items()}), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report["cpu_reference"].append(cpu_reference())
    print(_write_report(args.write, report, args.months))
    return 0


def _write_report(path: Path, report: dict[str, Any], planned: int) -> str:
    text = render(report, planned)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return text


def render(report: dict[str, Any], planned: int) -> str:
    months = report["months"]
    start, end = report["cpu_reference"][0], report["cpu_reference"][-1]
    lines = [
        "# History benchmark: a month's consolidation as the months pile up",
        "",
        "Produced by `make bench-history` (`bench/history.py`); rerun it to refresh this page.",
        "",
        f"- Machine: {report['machine']}; run on {report['date']}.",
        f"- Machine speed (`cpu_reference`, a fixed pure-Python loop): {start:.2f} s at the start, "
        f"{end:.2f} s at the end.",
        f"- Data: {len(months)} months from one generated month of {report['rows']:,} roster rows "
        f"({report['shape']['village_files']:,} village, {report['shape']['opd_files']} OPD and "
        f"{report['shape']['employer_files']} employer files): each month {ABSENT:.0%} of the rows absent "
        f"(lapses, most back the month after), {NEW:.0%} new people who stay, and {STRAY:.1%} of rows with a "
        "second worker (no NIK, birth date a day off) that the next month's NIK merges into the person.",
        "- Consolidation = identity rules + probabilistic pass + loads (the new month whole, earlier months "
        "only the workers and units changed since: merges, rows linked again, a changed file's units) + churn "
        "refresh, as the DAG's tasks run them. "
        "Ingest = read, interpret, COPY, validate, publish, settle (not part of the consolidation).",
        "",
        *(
            [f"- **Partial**: {len(months)} of the {planned} months planned had run when this page was written.", ""]
            if len(months) < planned
            else []
        ),
        "| month | rows | ingest (s) | identity rules | probabilistic | loads | churn | **consolidation (s)** "
        "| months whole / rewritten in part | merges |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    ingest_keys = ("ingest (read, interpret, COPY)", "validate (Great Expectations)", "settle snapshots")
    for m in months:
        ingest = sum(m[k] for k in ingest_keys)
        lines.append(
            f"| {m['period']} | {m['rows']:,} | {ingest:.1f} | {m['identity rules']:.1f} | "
            f"{m['probabilistic pass']:.1f} | {m['loads']:.1f} | {m['churn']:.1f} | **{m['total']:.1f}** | "
            f"{m['months_loaded_whole']} / {m['months_rewritten']} | {m['merges_applied']:,} |"
        )
    lines.append("")
    targets = []
    if len(months) >= 2:
        ratio = months[-1]["total"] / months[1]["total"]
        targets.append(
            f"| month {len(months)}'s consolidation <= 1.25x month 2's | {'yes' if ratio <= 1.25 else '**no**'} "
            f"| {months[-1]['total']:.1f} s vs {months[1]['total']:.1f} s ({ratio:.2f}x) |"
        )
    if correction := report.get("correction"):
        ingest = sum(correction[k] for k in ingest_keys)
        lines += [
            f"## A corrected file for month {CORRECTED_MONTH}",
            "",
            f"One village file of {_period(CORRECTED_MONTH - 1)} ({correction['file_rows']:,} rows) sent again "
            f"after month {len(months)} was published, two rows fewer and one new: {correction['pipeline']:.1f} s "
            f"from ingest to the marts (ingest stages {ingest:.1f} s, identity rules "
            f"{correction['identity rules']:.1f} s, probabilistic pass {correction['probabilistic pass']:.1f} s, "
            f"loads {correction['loads']:.1f} s ({correction['months_loaded_whole']} months whole, "
            f"{correction['months_rewritten']} rewritten in part), churn {correction['churn']:.1f} s).",
            "",
        ]
        targets.append(
            f"| a one-file correction reaches the marts in <= 15 s | "
            f"{'yes' if correction['pipeline'] <= 15 else '**no**'} | {correction['pipeline']:.1f} s |"
        )
    lines += ["## Targets", "", "| target | met | measured |", "|---|---|---|", *targets, ""]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
