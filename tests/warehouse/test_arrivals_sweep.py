"""The arrival sweep: which kind-months get an ingest run, against the real landing zone and warehouse."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

from rosterfiles import land_village, village_row

from ucj import arrivals, ingest, pipeline_tasks
from ucj.period import period_label

UTC = dt.UTC


def _sweep(conn, root: Path, now: dt.datetime) -> arrivals.Sweep:
    return arrivals.sweep(conn, root, ("opd", "village", "employer"), now.date(), now)


def test_the_sweep_finds_new_changed_and_touched_files_once(conn, tmp_path: Path) -> None:
    now = dt.datetime.now(UTC)
    month = period_label(now.date().replace(day=1))
    old = int(time.time()) - 3600
    first = land_village(tmp_path, month, "a.csv", [village_row(1)], old)

    found = _sweep(conn, tmp_path, now)
    assert [a.as_dict() for a in found.arrivals] == [
        {"kind": "village", "period": month, "new_files": 1, "changed_files": 0}
    ]
    ingest.ingest_batch(conn, tmp_path, "village", month, [first])
    assert _sweep(conn, tmp_path, now).arrivals == []  # read: nothing to do

    # Touched (same bytes, new time): one more look, then nothing.
    os.utime(tmp_path / first, (old + 60, old + 60))
    assert [a.changed_files for a in _sweep(conn, tmp_path, now).arrivals] == [1]
    summary = ingest.ingest_batch(conn, tmp_path, "village", month, [first])
    assert summary.unchanged_files == 1
    assert _sweep(conn, tmp_path, now).arrivals == []

    # A corrected version under the same name, and a file still being copied.
    land_village(tmp_path, month, "a.csv", [village_row(1), village_row(2, name="Budi")], old + 120)
    land_village(tmp_path, month, "c.csv", [village_row(3)], int(now.timestamp()))
    found = _sweep(conn, tmp_path, now)
    assert [(a.kind, a.new_files, a.changed_files) for a in found.arrivals] == [("village", 0, 1)]
    assert found.settling == [f"village/{month}/c.csv"]


def test_a_closed_month_is_not_swept(conn, tmp_path: Path) -> None:
    now = dt.datetime.now(UTC)
    land_village(tmp_path, "2019-01", "a.csv", [village_row(1)], int(time.time()) - 3600)
    found = _sweep(conn, tmp_path, now)
    assert "2019-01" not in found.periods
    assert found.arrivals == []


def test_sweep_task_starts_one_ingest_run_per_kind_month(conn, tmp_path: Path, monkeypatch) -> None:
    """What ucj_arrivals' mapped TriggerDagRunOperator is given: DAG, period and a readable run id."""
    monkeypatch.setenv("AIRFLOW_VAR_LANDING_ROOT", str(tmp_path))
    now = dt.datetime.now(UTC)
    month = period_label(now.date().replace(day=1))
    land_village(tmp_path, month, "a.csv", [village_row(1)], int(time.time()) - 3600)
    runs = pipeline_tasks.sweep_arrivals(now)
    assert runs == [
        {
            "trigger_dag_id": "ucj_ingest_village",
            "trigger_run_id": f"arrival__{month}__{now:%Y%m%dT%H%M%S}",
            "conf": {"period": month},
        }
    ]
