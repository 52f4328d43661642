"""A runner killed outright (kill -9) at any point, then run again, leaves the warehouse of a clean run.

On-call meets this as an OOM kill, a node lost, an impatient Ctrl-\\: the
process dies inside a task, mid-transaction or between tasks, leaving an
aborted transaction, a worker-key sequence moved on, Airflow task instances
marked running. The rerun must neither lose nor double a row, and every
grouping and count must be the clean run's (``rerun_checks``). The kill
points are log lines of the second month: its first files about to be
read, its rows linked (written inside identity's transaction, a moment
before the commit, so the kill lands just before or just after it), its
load task started (the load takes a tenth of a second here). Each time
the month's load must not have finished (else the point proved nothing). ``make test-chaos``;
not part of ``make test`` (about a minute and a half per point).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from rerun_checks import PERIODS, assert_same_numbers, clean_run, truncate

pytestmark = pytest.mark.e2e

MONTHS = PERIODS[:2]

# Where to kill: a line of the log and how many times it must have appeared.
KILL_POINTS = {
    "reading the second month's files": (r"opd 2025-02: \d+ files", 1),
    "as the second month's rows are linked": (r"linked \d+ rows: ", 2),
    "as the second month's load starts": (r"starting task_id=load_period", 2),
}


@pytest.fixture(scope="module")
def reference(warehouse: str, airflow_db: None, sample_landing: Path) -> dict[str, dict[str, str]]:
    return clean_run(warehouse, sample_landing, MONTHS)


def _runner(sample_landing: Path, home: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "AIRFLOW_HOME": str(home)}
    command = [sys.executable, "-m", "ucj_dev.runner", "--landing-root", str(sample_landing),
               "--periods", ":".join(MONTHS), "--log-file", str(log)]  # fmt: skip
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)  # fmt: skip


def _kill_when(process: subprocess.Popen, log: Path, pattern: str, times: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and len(re.findall(pattern, log.read_text(errors="replace"))) >= times:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return
        if process.poll() is not None:
            pytest.fail(f"the runner ended (rc {process.returncode}) before {pattern!r} appeared {times}x")
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    pytest.fail(f"{pattern!r} did not appear {times}x within {timeout:.0f} s")


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_runner_killed_outright_then_rerun_gives_the_clean_warehouse(
    reference, warehouse: str, sample_landing: Path, tmp_path: Path, point: str
) -> None:
    truncate(warehouse)
    home, log = tmp_path / "airflow", tmp_path / "pipeline.log"
    pattern, times = KILL_POINTS[point]
    _kill_when(_runner(sample_landing, home, log), log, pattern, times)
    with psycopg.connect(warehouse, autocommit=True) as conn:
        (loaded,) = conn.execute(
            "select count(*) from meta.stage_fingerprint where stage = 'load' and scope = %s", (MONTHS[-1],)
        ).fetchone()
    assert loaded == 0, f"killed {point}, but {MONTHS[-1]} had already been loaded"
    rerun = _runner(sample_landing, home, tmp_path / "rerun.log")
    output = rerun.communicate(timeout=900)[0]
    assert rerun.returncode == 0, output
    assert_same_numbers(warehouse, reference)


def _stop_immediately(pgdata: Path, user: str) -> None:
    """Stop the postmaster as a crash would, and wait for that process, not for the data directory.

    ``pg_ctl -w`` waits until ``postmaster.pid`` is gone; a task that notices
    the stop and restarts the server within pg_ctl's poll interval writes a new
    ``postmaster.pid`` and pg_ctl then waits its minute out and fails, although
    the stop did happen. So signal without waiting and watch the old pid.
    """
    from pgserver._commands import pg_ctl

    old_pid = int((pgdata / "postmaster.pid").read_text().split()[0])
    pg_ctl(["-W", "-m", "immediate", "stop"], pgdata=pgdata, user=user)
    deadline = time.monotonic() + 60
    while _alive(old_pid):
        assert time.monotonic() < deadline, f"postmaster {old_pid} still runs a minute after the stop"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def test_the_warehouse_stopped_mid_run_is_restarted_and_the_rerun_gives_the_clean_warehouse(
    reference, warehouse: str, sample_landing: Path, tmp_path: Path
) -> None:
    """The embedded server stopped uncleanly (as an OOM kill of the postmaster leaves it) while the
    second month's files are read: the runner ends with its summary, not a traceback, having
    restarted the server; a rerun then leaves the clean run's warehouse."""
    if os.environ.get("AIRFLOW_CONN_WAREHOUSE"):
        pytest.skip("the warehouse is an external PostgreSQL: stopping it is not this test's to do")
    from ucj import warehouse as ucj_warehouse

    truncate(warehouse)
    home, log = tmp_path / "airflow", tmp_path / "pipeline.log"
    server = ucj_warehouse._embedded_server()
    process = _runner(sample_landing, home, log)
    pattern, times = KILL_POINTS["reading the second month's files"]
    deadline = time.monotonic() + 600
    while len(re.findall(pattern, log.read_text(errors="replace") if log.exists() else "")) < times:
        assert process.poll() is None, "the runner ended before the point was reached"
        assert time.monotonic() < deadline, "the point was not reached in time"
        time.sleep(0.05)
    _stop_immediately(Path(server.pgdata), server.system_user)
    output = process.communicate(timeout=900)[0]
    assert "Traceback" not in output, output
    assert "is not running; starting it again" in log.read_text(errors="replace"), "a task restarted the server"
    if process.returncode != 0:
        assert "failed" in output.lower(), output  # the runner's summary of what failed
    rerun = _runner(sample_landing, home, tmp_path / "rerun.log")
    output = rerun.communicate(timeout=900)[0]
    assert rerun.returncode == 0, output
    assert_same_numbers(warehouse, reference)
