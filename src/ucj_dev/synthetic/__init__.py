"""Synthetic rosters: the one place the project makes data, at the level a use needs.

========================  =========================================  ==========================
level                     what it is for                             made by
========================  =========================================  ==========================
``sample``                ``make pipeline`` and the end-to-end tests: :mod:`.sample`
                          six months, three regencies, every mess
                          the contract names, with ground truth
``bulk``                  ``make bench``: one month at province      :mod:`.bulk`
                          scale (thousands of files, a million
                          rows), volume before accuracy
``clean`` / ``realistic`` ``make bench-identity`` and the identity   :mod:`.labelled`
/ ``hostile``             tests: labelled person records, each
                          knowing who it is, at rising difficulty
========================  =========================================  ==========================

Every level draws its people from :mod:`.people`, the one population model
(names, sex, birth date, district and village, and the NIK they imply), and
every file is written by :mod:`.writers`, which the tests' hand-built files
use too. What differs between levels is what happens to people afterwards:
the units and the clerk's mess of the sample, the volume of bulk, the twins,
namesakes and typing errors of the labelled records. The labelled records
draw from a name pool of their own and are corrupted without the pipeline's
name rules, so identity is never graded against itself.

    python -m ucj_dev.synthetic sample var/landing
    python -m ucj_dev.synthetic bulk /tmp/landing --rows 1000000 --format xlsx
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROSTER_LEVELS = ("sample", "bulk")
RECORD_LEVELS = ("clean", "realistic", "hostile")


def generate(level: str, root: Path, **options: Any) -> dict[str, Any]:
    """Write a landing zone of ``level`` under ``root``; its ground truth (sample) or its counts (bulk).

    ``options`` are the level's own: ``seed`` and ``people_per_regency`` for
    the sample; ``total_rows``, ``fmt``, ``period`` and ``seed`` for bulk.
    Labelled records are not files: :func:`records` makes them.
    """
    if level == "sample":
        from ucj_dev.synthetic.sample import generate as sample

        return sample(root, **options)
    if level == "bulk":
        from ucj_dev.synthetic.bulk import generate as bulk

        return bulk(root, **options)
    raise ValueError(f"unknown roster level {level!r}: one of {', '.join(ROSTER_LEVELS)}")


def records(level: str, n_people: int, seed: str) -> list[Any]:
    """Labelled person records at ``level`` (clean, realistic, hostile), each knowing its person."""
    import random

    from ucj_dev.synthetic.labelled import LEVELS, people
    from ucj_dev.synthetic.labelled import records as render

    if level not in LEVELS:
        raise ValueError(f"unknown record level {level!r}: one of {', '.join(LEVELS)}")
    rng = random.Random(f"{seed}-{level}")  # noqa: S311 - synthetic data
    return render(people(n_people, LEVELS[level], rng), LEVELS[level], rng)
