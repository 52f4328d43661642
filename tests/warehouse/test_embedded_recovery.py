"""The embedded PostgreSQL under faults: stopped mid-run, and left behind by a process killed outright.

Each test runs its own embedded server (its own ``UCJ_VAR_DIR``) in child
processes, as the runner and Airflow's task processes use it, so the
session's warehouse is not disturbed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil

CHILD_ENV_DROP = ("AIRFLOW_CONN_WAREHOUSE", "UCJ_REQUIRE_WAREHOUSE", "AIRFLOW_CTX_DAG_ID")


def _python(var_dir: Path, code: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in CHILD_ENV_DROP}
    env["UCJ_VAR_DIR"] = str(var_dir)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _postmaster_pid(pgdata: Path) -> int | None:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text().splitlines()[0])
    return pid if psutil.pid_exists(pid) else None


def _wait_stopped(pgdata: Path, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _postmaster_pid(pgdata) is None:
            return True
        time.sleep(0.2)
    return False


def test_a_process_killed_outright_does_not_keep_the_server_running(tmp_path: Path) -> None:
    pgdata = tmp_path / "pgdata"
    # Uses the server, then dies without atexit handlers (as kill -9 would).
    _python(
        tmp_path,
        "import os\nfrom ucj.warehouse import connect\nwith connect() as c: c.execute('select 1')\nos._exit(0)",
    )
    assert _postmaster_pid(pgdata) is not None, "the server should outlive a process that never let go of it"
    assert json.loads((pgdata / ".handle_pids.json").read_text()), "the dead process is still listed as a user"
    try:
        # The next process starts cleanly, uses the server and exits normally: it is its last user.
        _python(tmp_path, "from ucj.warehouse import connect\nwith connect() as c: c.execute('select 1')")
        assert _wait_stopped(pgdata), "the server kept running after its last live user exited"
        assert json.loads((pgdata / ".handle_pids.json").read_text()) == []
    finally:
        if (pid := _postmaster_pid(pgdata)) is not None:
            psutil.Process(pid).kill()


STOPPED_MID_RUN = """
from pathlib import Path
from pgserver._commands import pg_ctl
from ucj import warehouse

with warehouse.connect() as c:
    before = c.execute("select pg_postmaster_start_time()::text").fetchone()[0]
server = warehouse._embedded_server()
# An unclean stop, as an OOM kill of the postmaster would leave it.
pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=Path(server.pgdata), user=server.system_user)
with warehouse.connect() as c:
    after = c.execute("select pg_postmaster_start_time()::text").fetchone()[0]
print(before != after)
"""


def test_the_next_connection_restarts_a_server_that_stopped_mid_run(tmp_path: Path) -> None:
    pgdata = tmp_path / "pgdata"
    try:
        done = _python(tmp_path, STOPPED_MID_RUN)
        assert done.stdout.strip() == "True", done.stdout + done.stderr
        assert _wait_stopped(pgdata), "the restarted server is still running after its only user exited"
    finally:
        if (pid := _postmaster_pid(pgdata)) is not None:
            psutil.Process(pid).kill()
