"""A file is read within limits: the child reader, sparse sheets, row and column limits, merged-block bombs.

Each hostile workbook is generated here (a stray cell at XFD1048576, a
``<dimension>`` that lies or is missing), dropped beside good files, and the
batch is read the way the ingest task reads it: through the child process of
``ucj.roster.isolated``.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from rosterfiles import VILLAGE_HEADER, land_bytes, village_row, village_workbook

from ucj.roster.isolated import IsolatedReader
from ucj.roster.read import ReadLimits, RosterReadError, read_roster
from ucj_dev.synthetic.writers import csv_bytes, xls, xlsx

PERIOD = "2025-01"
ROOT = Path(__file__).resolve().parents[2]


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
        (village_workbook("XFD1048576", b'<dimension ref="A1:C3"/>'), "b.xlsx", "village"),
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
