"""The local runner (`make pipeline`): one runner per Airflow home at a time, and a summary whatever happens."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ucj_dev import runner

HOLDER = """
import sys
from ucj_dev.runner import exclusive_home
with exclusive_home():
    print("held", flush=True)
    sys.stdin.read()
"""


def _holder(home: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "AIRFLOW_HOME": str(home)}
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_runner_told_not_to_wait_refuses_at_once_naming_the_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    first = _holder(tmp_path)
    try:
        started = time.monotonic()
        with (
            pytest.raises(runner.HomeBusyError, match=rf"pid {first.pid}\).*{tmp_path}"),
            runner.exclusive_home(wait=False),
        ):
            pytest.fail("entered a home another runner holds")
        assert time.monotonic() - started < 5
    finally:
        first.communicate("")
    with runner.exclusive_home(wait=False):  # free again once the first has gone
        assert (tmp_path / runner.LOCK_NAME).read_text().strip() == str(os.getpid())


def test_a_second_runner_waits_saying_why_and_goes_on_when_the_first_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    first = _holder(tmp_path)
    said: list[str] = []
    entered = threading.Event()

    def second() -> None:
        with runner.exclusive_home(wait=True, say=said.append):
            entered.set()

    thread = threading.Thread(target=second)
    thread.start()
    try:
        time.sleep(1.0)
        assert not entered.is_set(), "the second runner went in while the first held the home"
        assert said
        assert f"pid {first.pid}" in said[0]
        assert "waiting" in said[0]
    finally:
        first.communicate("")
    thread.join(timeout=10)
    assert entered.is_set()
    assert said[-1].startswith("the other runner has finished")


def test_a_runner_killed_outright_does_not_keep_the_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    first = _holder(tmp_path)
    first.send_signal(signal.SIGKILL)
    first.wait()
    with runner.exclusive_home(wait=False):  # the kernel dropped the lock with the process
        pass


def test_the_summary_comes_out_when_the_warehouse_cannot_be_reached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The DAG runs failed because the warehouse went away: on-call gets the list, not a traceback."""
    monkeypatch.setattr(runner, "run", lambda *args, **kwargs: ["ucj_consolidate 2025-01: failed (load_facts)"])
    # tests/unit points AIRFLOW_CONN_WAREHOUSE at a socket that does not exist.
    code = runner.main(["--landing-root", str(tmp_path), "--periods", "2025-01", "--log-file", str(tmp_path / "l")])
    out = capsys.readouterr().out
    assert code == 1
    assert "The warehouse could not be read for the summary" in out
    assert "ucj_consolidate 2025-01: failed (load_facts)" in out


def test_the_metadata_database_is_migrated_once_per_home_and_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each run used to start `airflow db migrate` (three seconds for nothing after the first)."""
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "home"))
    started: list[list[str]] = []
    real_run = subprocess.run

    def recording_run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
        started.append(command)
        return real_run(command, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(runner.subprocess, "run", recording_run)
    runner.prepare_airflow(None)
    runner.prepare_airflow(None)
    assert [c[-2:] for c in started] == [["db", "migrate"]]
    assert (tmp_path / "home" / "airflow.db").exists()
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "other"))
    runner.prepare_airflow(None)
    assert len(started) == 2  # another home is migrated on its own
