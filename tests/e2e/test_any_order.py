"""Other histories of the same files give the same warehouse: a backfill after
going live, months newest first, two periods running at once. Compared with a
clean chronological run through the canonical form (``rerun_checks``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from rerun_checks import CANONICAL, PERIODS, assert_same_numbers, checksums, clean_run, truncate

from ucj_dev import runner

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def reference(warehouse: str, airflow_db: None, sample_landing: Path) -> dict[str, str]:
    return clean_run(warehouse, sample_landing)


def test_a_backfill_after_going_live_gives_the_same_warehouse(reference, warehouse: str, sample_landing: Path) -> None:
    """Live for January first, then February..March backfilled as one range."""
    truncate(warehouse)
    assert runner.run(str(sample_landing), PERIODS[:1]) == []
    assert runner.run(str(sample_landing), PERIODS[1:]) == []
    with psycopg.connect(warehouse, autocommit=True) as conn:
        assert checksums(conn, CANONICAL) == reference["canonical"]


def test_months_loaded_newest_first_give_the_same_numbers(reference, warehouse: str, sample_landing: Path) -> None:
    """Every count and every row state agree whatever order the months arrive in.

    Which worker an ambiguous row (a mistyped NIK and a spelling variant at
    once) joins can depend on what was seen first, so worker grouping is
    compared only for chronological runs above.
    """
    truncate(warehouse)
    assert runner.run(str(sample_landing), list(reversed(PERIODS))) == []
    assert_same_numbers(warehouse, reference)


def test_two_periods_running_at_once_give_the_same_warehouse(
    reference, warehouse: str, sample_landing: Path, tmp_path: Path
) -> None:
    """Two runner processes, each with its own Airflow, one warehouse: ingest,
    identity and load of January and February interleave for real. Arrival
    order is then arbitrary, so the comparison is the one for any order."""
    truncate(warehouse)
    procs = []
    for period in PERIODS[:2]:
        env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / period)}
        command = [sys.executable, "-m", "ucj_dev.runner", "--landing-root", str(sample_landing), "--periods", period,
                   "--log-file", str(tmp_path / f"{period}.log")]  # fmt: skip
        procs.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert runner.run(str(sample_landing), PERIODS[2:]) == []
    assert_same_numbers(warehouse, reference)
