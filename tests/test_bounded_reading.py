"""A file is read within limits: what it claims never costs more memory or time than the limits allow.

Each hostile workbook is generated here (a stray cell at XFD1048576, a
``<dimension>`` that lies or is missing), dropped beside good files, and the
batch is read the way the ingest task reads it: through the child process of
``ucj.roster.isolated``.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from rosterfiles import VILLAGE_HEADER, csv_bytes, land_bytes, land_village, loaded_rows, village_row, xls, xlsx

from ucj import ingest, settings
from ucj.roster.isolated import IsolatedReader
from ucj.roster.read import ReadLimits, RosterReadError, read_roster

PERIOD = "2025-01"
ROOT = Path(__file__).resolve().parents[1]


def _workbook(stray: str | None = None, dimension: bytes | None = None, rows: int = 2) -> bytes:
    """A village roster workbook; ``stray`` types an "x" in that cell, ``dimension`` rewrites the sheet's claim."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(VILLAGE_HEADER)
    for n in range(1, rows + 1):
        sheet.append(village_row(n))
    if stray:
        sheet[stray] = "x"
    out = io.BytesIO()
    book.save(out)
    data = out.getvalue()
    if dimension is None:
        return data
    source, rewritten = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(rewritten, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            content = source.read(entry)
            if entry.filename.startswith("xl/worksheets/sheet"):
                content, found = re.subn(rb'<dimension ref="[^"]*" ?/>', dimension, content)
                assert found == 1
            target.writestr(entry, content)
    return rewritten.getvalue()


def _land(root: Path, name: str, data: bytes) -> str:
    return land_bytes(root, PERIOD, name, data)


def test_the_child_reads_what_the_process_itself_reads() -> None:
    csv_file = csv_bytes([VILLAGE_HEADER, village_row(1), village_row(2)])
    book = xlsx(("Data", [VILLAGE_HEADER, village_row(1), village_row(2)]))
    legacy = xls([VILLAGE_HEADER, village_row(1)])
    with IsolatedReader() as reader:
        for data, name in ((csv_file, "a.csv"), (book, "a.xlsx"), (legacy, "a.xls")):
            assert reader.read(data, name, "village") == read_roster(data, name, "village")
        with pytest.raises(RosterReadError, match="no header row"):
            reader.read(csv_bytes([["a", "b"], ["1", "2"]]), "b.csv", "village")
        child = reader._child
        assert child is not None
        assert child.poll() is None  # alive after a bad file
        assert reader.processes_started == 1  # one child for the batch
    assert child.returncode == 0  # and it ends when the batch does


def test_small_files_travel_together_and_a_crash_among_them_costs_only_its_file() -> None:
    good = csv_bytes([VILLAGE_HEADER, village_row(1), village_row(2)])
    files = [
        (good, "a.csv", "village"),
        (_workbook("XFD1048576", b'<dimension ref="A1:C3"/>'), "b.xlsx", "village"),
        (xlsx(("Data", [VILLAGE_HEADER, village_row(1)])), "c.xlsx", "village"),
        (csv_bytes([["a", "b"], ["1", "2"]]), "d.csv", "village"),
        (good, "e.csv", "village"),
    ]
    with IsolatedReader() as reader:
        outcomes = reader.read_many(files)
        assert [len(o.cells) if not isinstance(o, RosterReadError) else str(o)[:14] for o in outcomes] == [
            2, "sheet 'Sheet':", 1, "no header row ", 2
        ]  # fmt: skip
        assert "XFD1048576" in str(outcomes[1])
        assert reader.processes_started >= 2  # the group's child died; the files were read again one by one
        started = reader.processes_started
        assert [len(o.cells) for o in reader.read_many([files[0], files[2], files[4]])] == [2, 1, 2]
        assert reader.processes_started == started  # healthy files: one exchange, no new child


@pytest.mark.parametrize(
    "dimension",
    [b'<dimension ref="A1:C3"/>', b""],
    ids=["dimension-that-lies", "no-dimension"],
)
def test_a_workbook_that_crashes_the_native_reader_fails_alone(conn, tmp_path: Path, dimension: bytes) -> None:
    """calamine aborts the process on a dense grid of XFD1048576; only the child dies, the next file loads."""
    first = land_village(tmp_path, PERIOD, "a.csv", [village_row(1)])
    bomb = _land(tmp_path, "b_bom.xlsx", _workbook("XFD1048576", dimension))
    after = _land(tmp_path, "c_baik.xlsx", _workbook(rows=3))
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
    rel = _land(tmp_path, "bawah.xlsx", _workbook("Z1048576", rows=4))
    summary = ingest.ingest_batch(conn, tmp_path, "village", PERIOD, [rel])
    assert summary.failed_files == []
    assert loaded_rows(conn) == {rel: 4}


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


def test_peak_memory_follows_the_data_not_what_the_files_claim(clean_warehouse: str, tmp_path: Path) -> None:
    """Workbooks claiming 17 billion, 27 million and (lying) 9 cells cost the batch ~what its files hold.

    Measured in a fresh process: its own peak and its reader child's (the one
    that read the last files cell by cell, after the lying workbook crashed the
    first), as the kernel counts them. Dense grids of these claims would need
    hundreds of GB.
    """
    paths = [
        land_village(tmp_path, PERIOD, "a.csv", [village_row(n) for n in range(1, 50)]),
        _land(tmp_path, "b.xlsx", _workbook("XFD1048576")),
        _land(tmp_path, "c.xlsx", _workbook("XFD1048576", b'<dimension ref="A1:C3"/>')),
        _land(tmp_path, "e.xlsx", _workbook("Z1048576")),
    ]
    data_mb = sum((tmp_path / p).stat().st_size for p in paths) / 1e6
    assert data_mb < 1
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(tmp_path), clean_warehouse, *paths],
        capture_output=True, text=True, env=env, check=True, timeout=300,
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


def test_a_file_that_reads_for_too_long_fails_alone(conn, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(settings.pipeline_config()["ingest"], "max_read_seconds", 0.5)
    # ~1.5 million data rows: seconds of reading on any machine, far past the half second allowed here.
    slow = _land(tmp_path, "a_lama.csv", _long_csv())
    good = land_village(tmp_path, PERIOD, "b.csv", [village_row(1)])
    summary = ingest.ingest_batch(conn, tmp_path, "village", PERIOD, [slow, good])
    (failed,) = summary.failed_files
    assert failed["file"] == slow
    assert "took more than 0.5 seconds" in failed["error"]
    assert loaded_rows(conn) == {good: 1}


def test_a_file_that_needs_too_much_memory_fails_alone(conn, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(settings.pipeline_config()["ingest"], "reader_memory_bytes", 60_000_000)
    # 40 MB of CSV is 40 MB of bytes, as much text and its rows: more than the 60 MB the reader may add.
    big = _land(tmp_path, "a_besar.csv", _long_csv())
    good = _land(tmp_path, "b.xlsx", _workbook(rows=2))
    summary = ingest.ingest_batch(conn, tmp_path, "village", PERIOD, [big, good])
    (failed,) = summary.failed_files
    assert failed["file"] == big
    assert "more than 60 MB of memory" in failed["error"]
    assert loaded_rows(conn) == {good: 2}


def test_a_file_larger_than_the_limit_is_not_read(conn, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(settings.pipeline_config()["ingest"], "max_file_bytes", 2_000_000)
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


def test_rows_and_columns_have_limits() -> None:
    limits = ReadLimits.from_config(max_rows_per_file=3, max_columns=10)
    four = csv_bytes([VILLAGE_HEADER, *(village_row(n) for n in range(1, 5))])
    assert len(read_roster(four, "a.csv", "village", ReadLimits.from_config(max_rows_per_file=4)).cells) == 4
    with pytest.raises(RosterReadError, match="more than 3 rows of data"):
        read_roster(four, "a.csv", "village", limits)

    wide = [VILLAGE_HEADER, village_row(1), [*village_row(2), *[""] * 20, "x"]]
    width = len(village_row(2)) + 21
    with pytest.raises(RosterReadError, match=f"cell {_letters(width)}3 holds a value beyond the 10th column"):
        read_roster(csv_bytes(wide), "a.csv", "village", limits)
    with pytest.raises(RosterReadError, match=f"cell {_letters(width)}3 "):
        read_roster(xlsx(("Data", wide)), "a.xlsx", "village", limits)
    # Empty cells beyond the limit cost nothing: Excel writes them when a column was once formatted.
    blank_tail = [VILLAGE_HEADER, village_row(1), [*village_row(2), *[""] * 20]]
    assert len(read_roster(csv_bytes(blank_tail), "a.csv", "village", limits).cells) == 2


def _letters(number: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(number)


def test_overlapping_merged_blocks_are_no_cpu_bomb() -> None:
    """Thousands of blocks over the same cells would be minutes of filling; the file fails at once instead."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(VILLAGE_HEADER)
    for n in range(1, 201):
        sheet.append(village_row(n))
    sheet.merge_cells("G2:G201")  # the village's name, written once down its column
    out = io.BytesIO()
    book.save(out)
    data = out.getvalue()
    # openpyxl refuses to write overlapping blocks, so the sheet XML gets 2,000 copies of the one it wrote.
    source, rewritten = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(rewritten, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            content = source.read(entry)
            if entry.filename.startswith("xl/worksheets/sheet"):
                block = re.search(rb"<mergeCell [^>]*/>", content)[0]
                content = content.replace(block, block * 2000)
            target.writestr(entry, content)
    with pytest.raises(RosterReadError, match="merged cell blocks that overlap"):
        read_roster(rewritten.getvalue(), "gabung.xlsx", "village")
    # One block is filled as before: every row has its village's name.
    raw = read_roster(data, "satu.xlsx", "village")
    assert len(raw.cells) == 200
    assert {row[list(raw.columns).index("village_name")] for row in raw.cells} == {"Koto Baru"}


def test_the_streaming_reader_reads_a_contract_roster_as_the_grid_reader_does() -> None:
    """Title rows, blank rows, a preferred sheet after another one: same header, rows and row numbers."""
    grid = [["Daftar Peserta"], [], VILLAGE_HEADER, village_row(1), [], village_row(2)]
    book = xlsx(("Catatan", [["x"]]), ("Data Peserta", grid))
    sparse = read_roster(book, "a.xlsx", "village", sparse=True)
    assert sparse == read_roster(book, "a.xlsx", "village")
    assert sparse.sheet == "Data Peserta"
    assert sparse.row_numbers == [4, 6]
