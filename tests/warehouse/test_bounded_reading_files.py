"""Hostile workbooks fail alone inside a real ingest batch, and memory follows the data, not what files claim.

Each hostile workbook is generated here (a stray cell at XFD1048576, a
``<dimension>`` that lies or is missing), dropped beside good files, and the
batch is read the way the ingest task reads it: through the child process of
``ucj.roster.isolated``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from rosterfiles import VILLAGE_HEADER, land_bytes, land_village, loaded_rows, village_row, village_workbook

from ucj import ingest
from ucj.roster.isolated import IsolatedReader
from ucj.roster.read import RosterReadError
from ucj_dev.synthetic.writers import csv_bytes

PERIOD = "2025-01"
ROOT = Path(__file__).resolve().parents[2]


_MEASURE = """
import json, sys
from pathlib import Path
import psycopg
from ucj import ingest
from ucj.roster import isolated
from ucj.roster.read import ReadLimits

def peak_mb(pid="self"):
    # VmHWM: the peak of this process image (getrusage's maxrss also counts the forked parent before exec)
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) / 1024

root, dsn, paths = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
with psycopg.connect(dsn, autocommit=True) as conn:
    summary = ingest.ingest_batch(conn, root, "village", "2025-01", paths)
reader = isolated.shared_reader(ReadLimits.from_config())
print(json.dumps({
    "failed": sorted(f["file"] for f in summary.failed_files),
    "self_mb": peak_mb(),
    "reader_mb": peak_mb(reader._child.pid),
    "readers": reader.processes_started,
}))
"""


@pytest.mark.parametrize(
    "dimension",
    [b'<dimension ref="A1:C3"/>', b""],
    ids=["dimension-that-lies", "no-dimension"],
)
def test_a_workbook_that_crashes_the_native_reader_fails_alone(conn, tmp_path: Path, dimension: bytes) -> None:
    """calamine aborts the process on a dense grid of XFD1048576; only the child dies, the next file loads."""
    first = land_village(tmp_path, PERIOD, "a.csv", [village_row(1)])
    bomb = land_bytes(tmp_path, PERIOD, "b_bom.xlsx", village_workbook("XFD1048576", dimension))
    after = land_bytes(tmp_path, PERIOD, "c_baik.xlsx", village_workbook(rows=3))
    summary = ingest.ingest_batch(conn, tmp_path, "village", PERIOD, [first, bomb, after])

    (failed,) = summary.failed_files
    assert failed["file"] == bomb
    assert "XFD1048576" in failed["error"]
    assert "Ctrl+End" in failed["error"]
    assert loaded_rows(conn) == {first: 1, after: 3}
    # It is the child that died, and a fresh one read the file after it.
    with IsolatedReader() as reader:
        with pytest.raises(RosterReadError, match="XFD1048576"):
            reader.read((tmp_path / bomb).read_bytes(), bomb, "village")
        assert len(reader.read((tmp_path / after).read_bytes(), after, "village").cells) == 3
        assert reader.processes_started == 2  # the one that died, and the one that read it cell by cell, then the next


def test_a_stray_cell_far_below_the_roster_is_read_cell_by_cell(conn, tmp_path: Path) -> None:
    """Z1048576 claims 27 million cells: read sparse, the roster loads (the stray cell is in no mapped column)."""
    rel = land_bytes(tmp_path, PERIOD, "bawah.xlsx", village_workbook("Z1048576", rows=4))
    summary = ingest.ingest_batch(conn, tmp_path, "village", PERIOD, [rel])
    assert summary.failed_files == []
    assert loaded_rows(conn) == {rel: 4}


def test_peak_memory_follows_the_data_not_what_the_files_claim(clean_warehouse: str, tmp_path: Path) -> None:
    """Workbooks claiming 17 billion, 27 million and (lying) 9 cells cost the batch ~what its files hold.

    Measured in a fresh process: its own peak and its reader child's (the one
    that read the last files cell by cell, after the lying workbook crashed the
    first), as the kernel counts them. Dense grids of these claims would need
    hundreds of GB.
    """
    paths = [
        land_village(tmp_path, PERIOD, "a.csv", [village_row(n) for n in range(1, 50)]),
        land_bytes(tmp_path, PERIOD, "b.xlsx", village_workbook("XFD1048576")),
        land_bytes(tmp_path, PERIOD, "c.xlsx", village_workbook("XFD1048576", b'<dimension ref="A1:C3"/>')),
        land_bytes(tmp_path, PERIOD, "e.xlsx", village_workbook("Z1048576")),
    ]
    data_mb = sum((tmp_path / p).stat().st_size for p in paths) / 1e6
    assert data_mb < 1
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(tmp_path), clean_warehouse, *paths],
        capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    measured = json.loads(out.stdout.strip().splitlines()[-1])
    assert measured["failed"] == sorted(paths[1:3])
    print(f"peak RSS: ingest process {measured['self_mb']:.0f} MB, reader {measured['reader_mb']:.0f} MB")
    assert measured["readers"] >= 2  # the lying workbook killed one
    # A bare interpreter with pandas, pyarrow and psycopg imported is ~150 MB; the reader child ~45 MB.
    # The claims above, read as dense grids, would be 550 GB (the abort the crash test provokes).
    assert measured["self_mb"] < 300, measured
    assert measured["reader_mb"] < 200, measured


def _long_csv() -> bytes:
    """~1.5 million data rows, 40 MB: seconds of reading on any machine."""
    return csv_bytes([VILLAGE_HEADER]) + b"1,1310010001,x,01-01-1990\r\n" * 1_500_000


def test_a_file_that_reads_for_too_long_fails_alone(conn, tmp_path: Path, monkeypatch, set_settings) -> None:
    set_settings({"ingest.max_read_seconds": 0.5})
    # ~1.5 million data rows: seconds of reading on any machine, far past the half second allowed here.
    slow = land_bytes(tmp_path, PERIOD, "a_lama.csv", _long_csv())
    good = land_village(tmp_path, PERIOD, "b.csv", [village_row(1)])
    summary = ingest.ingest_batch(conn, tmp_path, "village", PERIOD, [slow, good])
    (failed,) = summary.failed_files
    assert failed["file"] == slow
    assert "took more than 0.5 seconds" in failed["error"]
    assert loaded_rows(conn) == {good: 1}


def test_a_file_that_needs_too_much_memory_fails_alone(conn, tmp_path: Path, monkeypatch, set_settings) -> None:
    set_settings({"ingest.reader_memory_bytes": 60_000_000})
    # 40 MB of CSV is 40 MB of bytes, as much text and its rows: more than the 60 MB the reader may add.
    big = land_bytes(tmp_path, PERIOD, "a_besar.csv", _long_csv())
    good = land_bytes(tmp_path, PERIOD, "b.xlsx", village_workbook(rows=2))
    summary = ingest.ingest_batch(conn, tmp_path, "village", PERIOD, [big, good])
    (failed,) = summary.failed_files
    assert failed["file"] == big
    assert "more than 60 MB of memory" in failed["error"]
    assert loaded_rows(conn) == {good: 2}


def test_a_file_larger_than_the_limit_is_not_read(conn, tmp_path: Path, monkeypatch, set_settings) -> None:
    set_settings({"ingest.max_file_bytes": 2_000_000})
    big = land_village(tmp_path, PERIOD, "a.csv", [village_row(n) for n in range(1, 40_000)])
    good = land_village(tmp_path, PERIOD, "b.csv", [village_row(1)])
    summary = ingest.ingest_batch(conn, tmp_path, "village", PERIOD, [big, good])
    (failed,) = summary.failed_files
    assert failed["file"] == big
    assert "more than the 2 MB a roster file may be" in failed["error"]
    assert loaded_rows(conn) == {good: 1}
    # Tried again on the next run like any failed file, and refused again without being read.
    again = ingest.ingest_batch(conn, tmp_path, "village", PERIOD, [big, good])
    assert again.unchanged_files == 1
    assert [f["file"] for f in again.failed_files] == [big]
