"""A spelling added to the vocabulary reaches rows loaded before it: reinterpret, and the marts follow.

Driven through the DAG tasks' own code (``ucj.pipeline_tasks``), as
test_publication.py is. The vocabulary change is a deployment's own
vocabulary.yaml (``UCJ_CONFIG_DIR``), read by a fresh process as a newly
started Airflow task would read it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import yaml
from rosterfiles import VILLAGE_HEADER, village_row

from ucj import settings
from ucj_dev.synthetic.writers import csv_bytes

PERIOD = "2025-01"
NAMES = ["Siti Aminah", "Budi Santoso", "Rahmat Hidayat"]

MONTH = f"""
import json, sys
from ucj import pipeline_tasks

reinterpret = sys.argv[1] == "1"
files = json.loads(sys.argv[2])
summary = pipeline_tasks.ingest_files("village", "{PERIOD}", files, reinterpret=reinterpret)
validation = pipeline_tasks.validate("village", "{PERIOD}", "ucj_ingest_village", "test")
pipeline_tasks.publication_gate("village", "{PERIOD}", validation, "ucj_ingest_village", "test")
pipeline_tasks.settle("village", "{PERIOD}")
pipeline_tasks.resolve_identities()
pipeline_tasks.load_period("{PERIOD}")
print(json.dumps(summary))
"""


def _run_month(warehouse: str, landing: Path, files: list[str], reinterpret: bool, config_dir: Path | None) -> dict:
    """One ingest run and the consolidation after it, in a process of its own (a task's fresh start)."""
    env = {**os.environ, "AIRFLOW_CONN_WAREHOUSE": warehouse, "AIRFLOW_VAR_LANDING_ROOT": str(landing)}
    env.pop(settings.CONFIG_DIR_ENV, None)
    if config_dir is not None:
        env[settings.CONFIG_DIR_ENV] = str(config_dir)
    done = subprocess.run(
        [sys.executable, "-c", MONTH, "1" if reinterpret else "0", json.dumps(files)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _states(conn: psycopg.Connection) -> dict[int, tuple[str, str | None, bool]]:
    return {
        row: (status, reason, worker is not None)
        for row, status, reason, worker in conn.execute(
            "select source_row, status, reason, worker_key from mart.roster_row_status"
        )
    }


def _marts(conn: psycopg.Connection) -> tuple:
    covered = conn.execute(
        "select covered_workers from mart.ucj_regency_month where regency_code = '1310' and period_month = %s",
        (f"{PERIOD}-01",),
    ).fetchone()
    funding = dict(
        conn.execute(
            """select funding_source, sum(covered_workers)::int from mart.coverage_program_month
               where program_code = 'JKK' and period_month = %s group by 1""",
            (f"{PERIOD}-01",),
        ).fetchall()
    )
    return (covered[0] if covered else 0), funding


@pytest.fixture
def own_vocabulary(tmp_path: Path) -> Path:
    """The deployment's vocabulary: the shipped one plus two spellings its clerks use."""
    vocabulary = yaml.safe_load(settings.config_file("vocabulary.yaml").read_text(encoding="utf-8"))
    vocabulary["status_active"].append("aktip")
    vocabulary["funding_source"]["APBDES"].append("dana kampung")
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "vocabulary.yaml").write_text(yaml.safe_dump(vocabulary, allow_unicode=True), encoding="utf-8")
    return folder


def test_a_new_spelling_moves_loaded_rows_and_the_marts_follow(
    clean_warehouse: str, conn: psycopg.Connection, tmp_path: Path, own_vocabulary: Path
) -> None:
    landing = tmp_path / "landing"
    rel = f"village/{PERIOD}/nagari.csv"
    rows = [
        [*village_row(n, nik=f"13100152038500{n:02d}", name=NAMES[n - 1]), status]
        for n, status in ((1, "Aktif"), (2, "Aktip"), (3, "Aktif"))
    ]
    rows[2][8] = "Dana Kampung"  # Sumber Dana in a spelling the shipped vocabulary does not know
    (landing / rel).parent.mkdir(parents=True)
    (landing / rel).write_bytes(csv_bytes([[*VILLAGE_HEADER, "Status"], *rows]))

    _run_month(clean_warehouse, landing, [rel], reinterpret=False, config_dir=None)
    before = _states(conn)
    assert before[3] == ("quarantined", "unknown_status", False)  # row 3 of the sheet: "Aktip"
    assert _marts(conn) == (2, {"APBDES": 1, "UNKNOWN": 1})
    (file_id,) = conn.execute("select file_id from ingest.source_file").fetchone()

    # The deployment learns the spellings; without reinterpret nothing already loaded changes.
    _run_month(clean_warehouse, landing, [rel], reinterpret=False, config_dir=own_vocabulary)
    assert _states(conn) == before

    summary = _run_month(clean_warehouse, landing, [rel], reinterpret=True, config_dir=own_vocabulary)
    assert summary["reinterpreted_files"] == 1
    after = _states(conn)
    assert after[3] == ("loaded", None, True)
    assert {row: state for row, state in after.items() if row != 3} == {r: s for r, s in before.items() if r != 3}
    assert _marts(conn) == (3, {"APBDES": 3})
    assert conn.execute("select file_id, interpretation from ingest.source_file").fetchall() == [(file_id, 1)]

    # Reinterpreting again with the same vocabulary changes nothing a BI user sees.
    marts = _marts(conn)
    _run_month(clean_warehouse, landing, [rel], reinterpret=True, config_dir=own_vocabulary)
    assert _states(conn) == after
    assert _marts(conn) == marts
