"""Two periods running at once give the same numbers as a clean chronological
run of the same two months, through the canonical form (``rerun_checks``).
Two months are enough for the interleaving to matter, and keep this module,
which runs beside ``test_pipeline_e2e.py`` (where months arrive out of order in the
backfill), within the suite's time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from rerun_checks import PERIODS, assert_same_numbers, clean_run, truncate

pytestmark = pytest.mark.e2e

MONTHS = PERIODS[:2]


@pytest.fixture(scope="module")
def reference(warehouse: str, airflow_db: None, sample_landing: Path) -> dict[str, str]:
    return clean_run(warehouse, sample_landing, MONTHS)


def test_two_periods_running_at_once_give_the_same_warehouse(
    reference, warehouse: str, sample_landing: Path, tmp_path: Path
) -> None:
    """Two runner processes, each with its own Airflow, one warehouse: ingest,
    identity and load of January and February interleave for real. Arrival
    order is then arbitrary: keys and file ids differ, groupings and counts may not."""
    truncate(warehouse)
    procs = []
    for period in MONTHS:
        env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / period)}
        command = [sys.executable, "-m", "ucj_dev.runner", "--landing-root", str(sample_landing), "--periods", period,
                   "--log-file", str(tmp_path / f"{period}.log")]  # fmt: skip
        procs.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert_same_numbers(warehouse, reference)
