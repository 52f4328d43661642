"""A killed task must not leave its query running in PostgreSQL (the next try would race it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psycopg
import pytest

SLEEPER = """
import signal, sys
from ucj.warehouse import connect

class Terminated(Exception):
    pass

def on_term(*_):  # what Airflow's task runner does with SIGTERM: an exception in the task
    raise Terminated()

signal.signal(signal.SIGTERM, on_term)
with connect() as conn:
    conn.execute("select pg_sleep(120)")
"""


def _backends(conn: psycopg.Connection, app: str) -> int:
    return conn.execute(
        "select count(*) from pg_stat_activity where application_name = %s and query like '%%pg_sleep%%'"
        " and state = 'active'",
        (app,),
    ).fetchone()[0]


def _wait(predicate, seconds: float) -> float | None:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.2)
    return None


@pytest.mark.parametrize(
    ("sig", "within"),
    [
        (signal.SIGTERM, 5),  # the task cancels its own statement
        (signal.SIGKILL, 15),  # nobody left to cancel: the server notices the client is gone (5 s checks)
    ],
    ids=["terminated", "killed"],
)
def test_a_killed_tasks_query_stops_in_the_server(warehouse: str, sig: signal.Signals, within: float) -> None:
    app_task = f"sleeper_{sig.name.lower()}"
    env = {**os.environ, "AIRFLOW_CONN_WAREHOUSE": warehouse, "AIRFLOW_CTX_DAG_ID": "test_cancel",
           "AIRFLOW_CTX_TASK_ID": app_task}  # fmt: skip
    process = subprocess.Popen([sys.executable, "-c", SLEEPER], env=env)
    app = f"ucj:test_cancel:{app_task}"
    try:
        with psycopg.connect(warehouse, autocommit=True) as conn:
            assert _wait(lambda: _backends(conn, app) == 1, 30) is not None, "the task's query never started"
            process.send_signal(sig)
            gone = _wait(lambda: _backends(conn, app) == 0, within)
            assert gone is not None, f"the query still runs {within} s after {sig.name}"
    finally:
        process.kill()
        process.wait()
