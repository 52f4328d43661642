"""A landing zone full of hostile and careless files, through the real DAGs (``ucj_dev.runner``, ``dag.test``).

The good files load; every hostile file or row gets a state and a reason; the
clerk reports open as plain text; and no NIK or name from the hostile files
appears in the task logs, XCom, alerts or audit tables.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import psycopg
import pytest
from rosterfiles import VILLAGE_HEADER, village_row

from ucj_dev import runner
from ucj_dev.synthetic.writers import csv_bytes, xlsx

pytestmark = pytest.mark.e2e

PERIOD = "2025-01"
ROOT = Path(__file__).resolve().parents[2]
SECRET_NIKS = ["1310014503859901", "1310014503859902", "1310014503859903", "1310014503859904"]
SECRET_NAMES = ["Rahasia Wulandari", "Tersembunyi Prakoso", "Sangat Pribadi"]
# One village (reporting unit) per file: a file is a snapshot of its units, so files of one unit would supersede.
UNITS = ["13.10.01.2003", "13.10.01.2005", "13.10.01.2008", "13.10.02.2001", "13.10.02.2002"]


def _write(folder: Path, name: str, data: bytes, mtime: int = 1_736_000_000) -> Path:
    path = folder / name
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))
    return path


@pytest.fixture(scope="module")
def hostile_run(warehouse: str, airflow_db: None, tmp_path_factory: pytest.TempPathFactory):
    from outputs import OUTPUT_TABLES

    root = tmp_path_factory.mktemp("hostile")
    folder = root / "village" / PERIOD
    folder.mkdir(parents=True)
    # Enough good rows that the month passes validation (quarantined share) and is published.
    given = ["Ani", "Budi", "Citra", "Dedi", "Eka", "Fajar"]
    family = ["Saputra", "Lestari", "Hidayat", "Wahyuni", "Pratama"]
    good = [village_row(n, nik=f"13100145038500{n:02d}", name=f"{given[n % 6]} {family[n // 6]}") for n in range(30)]
    _write(folder, "desa_baik.csv", csv_bytes([VILLAGE_HEADER, *good]))
    # Formula and DDE payloads in the cells a report echoes, and a control character in a NIK.
    formulas = [
        village_row(1, nik='=HYPERLINK("http://example.invalid","x")', name=SECRET_NAMES[0], code=UNITS[0]),
        village_row(2, nik=SECRET_NIKS[0] + "\x01", name=SECRET_NAMES[1], born="=cmd|' /C calc'!A0", code=UNITS[0]),
        village_row(3, nik=SECRET_NIKS[1], name=SECRET_NAMES[2], programs="@SUM(1+1)", code="=cmd|' /C calc'!A0"),
    ]
    _write(folder, "rumus.csv", csv_bytes([VILLAGE_HEADER, *formulas]))
    # A stray quote that would swallow the rows after it, in a ';' file.
    rows = [village_row(n, nik=SECRET_NIKS[2], name="Orang") for n in range(1, 8)]
    rows[2][2] = '"' + SECRET_NAMES[0]
    _write(folder, "kutip.csv", "\r\n".join(";".join(map(str, r)) for r in [VILLAGE_HEADER, *rows]).encode())
    # Two files of one name; an escape character and a 250-character name.
    rekap = village_row(1, nik=SECRET_NIKS[3], born="99/99/1985", code=UNITS[1])
    _write(folder, "rekap.csv", csv_bytes([VILLAGE_HEADER, rekap]))
    _write(folder, "rekap.xlsx", xlsx(("Peserta", [VILLAGE_HEADER, village_row(1, born="31/02/1985", code=UNITS[2])])))
    _write(folder, "desa\x1b[31m.csv", csv_bytes([VILLAGE_HEADER, village_row(1, born="", code=UNITS[3])]))
    _write(folder, "d" * 246 + ".csv", csv_bytes([VILLAGE_HEADER, village_row(1, programs="JKN", code=UNITS[4])]))
    # Junk, a pipe, a link out of the landing zone.
    for junk in ("Thumbs.db", "desktop.ini", "desa_baik.csv~"):
        _write(folder, junk, b"junk")
    os.mkfifo(folder / "pipa.csv")
    outside = root.parent / "di_luar.csv"
    outside.write_bytes(csv_bytes([VILLAGE_HEADER, village_row(9, nik=SECRET_NIKS[3])]))
    (folder / "tautan.csv").symlink_to(outside)

    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute(f"truncate {', '.join(OUTPUT_TABLES)}, meta.stage_fingerprint restart identity cascade")
    # As `make pipeline` runs: its own process, every task log and alert in one file.
    log_file = root.parent / "hostile-pipeline.log"
    command = [sys.executable, "-m", "ucj_dev.runner", "--landing-root", str(root), "--periods", PERIOD,
               "--log-file", str(log_file)]  # fmt: skip
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # A second `make pipeline` on the same Airflow home while the first runs:
    # told not to wait, it refuses at once and says why - no SQLite traceback.
    lock = Path(os.environ["AIRFLOW_HOME"]) / runner.LOCK_NAME
    deadline = time.monotonic() + 60
    while not (lock.exists() and lock.read_text().strip() == str(first.pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    second = subprocess.run([*command, "--no-wait"], capture_output=True, text=True, timeout=120)
    assert second.returncode == 3, second.stdout + second.stderr
    assert f"another runner (pid {first.pid})" in second.stderr
    assert "Traceback" not in second.stderr
    stdout, stderr = first.communicate(timeout=900)
    done = subprocess.CompletedProcess(command, first.returncode, stdout, stderr)
    failures = [line.strip() for line in done.stdout.split("Failed DAG runs:")[-1].splitlines() if line.strip()]
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    with psycopg.connect(warehouse, autocommit=True) as conn:
        yield failures, conn, folder, log_file


def test_good_files_load_and_every_hostile_file_has_a_state(hostile_run) -> None:
    failures, conn, _, _ = hostile_run
    assert [f.split(" ")[0] for f in failures] == ["ucj_ingest_village"]  # it names the bad files; the rest ran
    files = dict(conn.execute("select rel_path, status from ingest.source_file").fetchall())
    base = f"village/{PERIOD}/"
    assert files[base + "desa_baik.csv"] == "loaded"
    assert files[base + "kutip.csv"] == "failed"
    assert files[base + "tautan.csv"] == "failed"
    for name in ("rumus.csv", "rekap.csv", "rekap.xlsx"):
        assert files[base + name] == "loaded"
    assert not any(p.endswith(("Thumbs.db", "desktop.ini", "~", "pipa.csv")) for p in files)
    loaded = conn.execute(
        "select count(*) from mart.roster_row_status where source_file = %s and status = 'loaded'",
        (base + "desa_baik.csv",),
    ).fetchone()[0]
    assert loaded == 30
    states = dict(
        conn.execute(
            "select source_row, reason from mart.roster_row_status where source_file = %s", (base + "rumus.csv",)
        ).fetchall()
    )
    assert "unknown_village_code" in states[4].split(";")  # '=cmd|...' typed as a code: not 'kosong'
    assert conn.execute(
        "select count(*) from ingest.source_file where published_at is null and status = 'loaded'"
    ).fetchone() == (0,)
    covered = conn.execute("select sum(covered_workers) from mart.ucj_regency_month").fetchone()[0]
    assert covered >= 30


def test_clerk_reports_are_one_per_file_and_plain_text(hostile_run) -> None:
    from openpyxl import load_workbook

    from ucj.feedback import report_path

    _, conn, _, _ = hostile_run
    paths = [r for (r,) in conn.execute("select rel_path from ingest.source_file where rel_path <> %s",
                                        (f"village/{PERIOD}/desa_baik.csv",))]  # fmt: skip
    reports = {p: report_path(p) for p in paths}
    assert len(set(reports.values())) == len(paths)  # rekap.csv and rekap.xlsx do not share one
    for path, report in reports.items():
        assert report.exists(), path
        with zipfile.ZipFile(report) as book:
            assert "<f>" not in book.read("xl/worksheets/sheet1.xml").decode(), path
        load_workbook(report)  # opens
    formula_report = load_workbook(reports[f"village/{PERIOD}/rumus.csv"]).active
    typed = [c for row in formula_report.iter_rows() for c in row if isinstance(c.value, str) and c.value[:1] == "="]
    assert typed
    assert all(c.data_type == "s" for c in typed)


def test_no_roster_value_reaches_logs_xcom_alerts_or_audit(hostile_run) -> None:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    _, conn, _, log_file = hostile_run
    secrets = SECRET_NIKS + SECRET_NAMES
    texts = {"runner log": log_file.read_text(errors="replace")}
    for path in Path(os.environ["AIRFLOW_HOME"], "logs").rglob("*"):
        if path.is_file() and "ucj_ingest_village" in str(path):
            texts[str(path)] = path.read_text(errors="replace")
    with create_session() as session:
        texts["xcom"] = " ".join(str(v) for v in session.scalars(select(XComModel.value)))
    for table in ("audit.validation_run", "audit.publication", "audit.file_outcome"):
        texts[table] = " ".join(str(r) for r in conn.execute(f"select * from {table}").fetchall())
    texts["file errors"] = " ".join(e or "" for (e,) in conn.execute("select error from ingest.source_file"))
    assert "ALERT" in texts["runner log"]  # the check_outcome alert was written, and is checked below
    leaks = {where: [s for s in secrets if s in text] for where, text in texts.items()}
    assert {where: found for where, found in leaks.items() if found} == {}
