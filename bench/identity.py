"""``make bench-identity``: how well are rows resolved into people?

Labelled records (``ucj_dev.synthetic``, levels clean/realistic/hostile) come from the shared
population model with their own name pool and seed, at three difficulty levels; each
record knows the person it stands for. The resolvers and scores live in
``ucj_dev.identity_eval``, which the identity tests share. The project's resolver (``ucj.identity``: name keys,
NIK structure, the clustering the pipeline runs) and two baselines resolve
the same records:

- exact NIK: one worker per distinct NIK, records without a NIK alone;
- splink 5 with a default configuration: exact NIK, Splink's name and
  date-of-birth comparisons, exact gender; blocking on NIK and on birth date;
  u by random sampling, m by expectation maximisation; clusters at 0.95.

Scores are pairwise (every pair of records put together): precision, recall,
F1, plus false merges (predicted workers holding more than one person) and
splits (people spread over more than one worker). A false merge hides an
uncovered worker, so precision matters most.

    python -m bench.identity [--people 20000] [--write docs/benchmarks-identity.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path
from typing import Any

from ucj.settings import settings
from ucj_dev import synthetic
from ucj_dev.identity_eval import (
    AFTER_REVIEW,
    BLOCKING,
    CALIBRATED,
    QUEUED,
    RESOLVERS,
    REVIEW_PRECISION,
    SCORED,
    WORKERS,
    merges_at,
    resolve_project_with_model,
    score,
)
from ucj_dev.synthetic.labelled import LEVELS

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "benchmarks-identity.md"
SEED = 4242


def run(n_people: int) -> dict[str, Any]:
    results: dict[str, Any] = {"people": n_people, "levels": {}}
    for name in LEVELS:
        recs = synthetic.records(name, n_people, seed=str(SEED))
        entry: dict[str, Any] = {"records": len(recs), "people": len({r.pid for r in recs}), "resolvers": {}}
        for resolver_name, resolver in RESOLVERS.items():
            started = time.perf_counter()
            label = resolver(recs)
            seconds = time.perf_counter() - started
            entry["resolvers"][resolver_name] = {**score(recs, label), "seconds": seconds}
            if resolver is resolve_project_with_model:
                entry["queued_for_review"] = QUEUED[-1]
                entry["queued_true_pairs"] = REVIEW_PRECISION[-1]
                entry["merges_at"] = merges_at(SCORED[-1])
                entry["blocking"] = BLOCKING[-1]
                entry["workers_after_rules"] = WORKERS[-1]
                entry["after_review"] = score(recs, AFTER_REVIEW[-1])
                calibrated = CALIBRATED[-1]
                review = settings().identity.probabilistic.review_probability
                queue = [truth for probability, _, truth in calibrated["scored"] if probability >= review]
                entry["recalibrated"] = {
                    "summary": calibrated["summary"],
                    "queued": len(queue),
                    "queued_true_pairs": sum(queue),
                    "merges_at": merges_at(calibrated["scored"]),
                }
            print(f"{name:<10} {resolver_name:<30} {entry['resolvers'][resolver_name]}", flush=True)
        results["levels"][name] = entry
    return results


def render(results: dict[str, Any], machine: str) -> str:
    lines = [
        "# Identity resolution benchmark",
        "",
        "Measured by `make bench-identity` (`python -m bench.identity`); rerun it to refresh this file.",
        "",
        f"- Machine: {machine}",
        f"- Date: {dt.date.today().isoformat()}",
        "- Data: labelled records (`ucj_dev.synthetic`, levels clean/realistic/hostile, their own name pool and "
        f"seed {SEED}, not the sample data's), every record knowing its person; levels differ in the share of "
        "missing and mistyped NIKs, "
        "titles, spelling variants, word order, letter typos, day/month swaps, a relative's NIK typed by mistake, "
        "twins (same family, birth date, district and village; NIKs one serial apart) and namesakes; 60 % of "
        "records carry the home village (employer rosters mostly do not).",
        "- Pairwise scores over all record pairs; false merges = predicted workers holding more than one person; "
        "splits = people spread over more than one worker.",
        '- "rules + model" runs with `identity.probabilistic.merge_letter_slips` on (off by default: which pairs '
        "the model proposes, and so what it merges, depends on the history): pairs it proposes with the same birth "
        "date and sex, no two different NIKs and names one letter left out inside a word of five letters or more "
        'are merged without review; "rules" alone is what the shipped configuration settles unattended.',
        "",
    ]
    for level, entry in results["levels"].items():
        lines += [
            f"## {level}: {entry['records']:,} records of {entry['people']:,} people",
            "",
            "| resolver | precision | recall | F1 | false merges | splits | seconds |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name, r in entry["resolvers"].items():
            lines.append(
                f"| {name} | {r['precision']:.4f} | {r['recall']:.4f} | {r['f1']:.4f} | {r['false_merges']:,} | "
                f"{r['splits']:,} | {r['seconds']:.1f} |"
            )
            if RESOLVERS[name] is resolve_project_with_model and "after_review" in entry:
                a = entry["after_review"]
                lines.append(
                    "| this project: rules + model, after review (every queued pair decided by the truth) | "
                    f"{a['precision']:.4f} | {a['recall']:.4f} | {a['f1']:.4f} | {a['false_merges']:,} | "
                    f"{a['splits']:,} | - |"
                )
        if "queued_for_review" in entry:
            queued, true = entry["queued_for_review"], entry["queued_true_pairs"]
            per_thousand = 1000 * queued / entry["workers_after_rules"] if entry["workers_after_rules"] else 0.0
            share = f"{true / queued:.0%}" if queued else "-"
            lines += [
                "",
                f"Review queue: {queued:,} worker pairs ({per_thousand:.1f} per 1,000 workers after the rules), "
                f"of which {true:,} ({share}) are truly one person.",
            ]
        if "recalibrated" in entry:
            lines += ["", *_recalibration_lines(entry["recalibrated"], entry["workers_after_rules"])]
        if "blocking" in entry:
            compared, split = entry["blocking"]
            share = f"{compared / split:.1%}" if split else "-"
            lines += [
                "",
                f"Blocking recall: of {split:,} pairs of workers the rules left apart that are one person, "
                f"{compared:,} ({share}) share a model block, so the model compares them; the others no threshold "
                "or reviewer ever sees.",
            ]
        if entry.get("merges_at"):
            lines += [
                "",
                "What the model would merge without review at each `auto_merge_probability` (pairs without two "
                "different NIKs against them):",
                "",
                "| threshold | pairs merged | of which two different people |",
                "|---:|---:|---:|",
                *(f"| {t} | {n:,} | {false:,} |" for t, n, false in entry["merges_at"]),
            ]
        lines.append("")
    return "\n".join(lines)


def _recalibration_lines(calibrated: dict[str, Any], workers: int) -> list[str]:
    """What the reviewer's decisions teach the next run's model (``probabilistic.calibrate``)."""
    summary = calibrated["summary"]
    decided = summary.get("accepted", 0) + summary.get("rejected", 0)
    if not summary.get("applied"):
        return [
            f"Recalibration: the reviewer's {decided:,} decisions are fewer than `calibration_min_decisions` "
            f"({summary.get('min_decisions')}); the next run's model is not shifted."
        ]
    queued, true = calibrated["queued"], calibrated["queued_true_pairs"]
    per_thousand = 1000 * queued / workers if workers else 0.0
    share = f"{true / queued:.0%}" if queued else "-"
    return [
        f"Recalibrated on the reviewer's {decided:,} decisions ({summary['accepted']:,} accepted): every weight "
        f"shifted by {summary['shift_bits']:+.2f} bits (the decided pairs' mean probability "
        f"{summary['mean_probability_before']:.3f} before, {summary['mean_probability_after']:.3f} after, "
        f"acceptance rate {summary['acceptance_rate']:.3f}). The same workers scored by that model: review queue "
        f"{queued:,} pairs ({per_thousand:.1f} per 1,000 workers), of which {true:,} ({share}) are one person; "
        "it would merge without review:",
        "",
        "| threshold | pairs merged | of which two different people |",
        "|---:|---:|---:|",
        *(f"| {t} | {n:,} | {false:,} |" for t, n, false in calibrated["merges_at"]),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--write", type=Path, default=RESULTS)
    args = parser.parse_args()
    from bench.run import machine

    results = run(args.people)
    text = render(results, machine())
    args.write.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
