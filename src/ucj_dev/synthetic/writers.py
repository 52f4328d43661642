"""Roster files written the way clerks' tools write them: xlsx, legacy xls, CSV in their delimiters and encodings.

The one home of file writing for every synthetic roster: the sample landing
zone, the benchmark's volume month, and the tests' hand-built files. A grid
is a list of rows of cell values; ``None`` is an empty cell, a
``datetime.date`` a date cell (formatted DD/MM/YYYY, as Indonesian Excel
shows it) or, in CSV, an ISO date.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

Grid = list[list[Any]]


def xlsx(
    *sheets: tuple[str, Grid], hidden: tuple[str, ...] = (), merge: tuple[str, ...] = (), write_only: bool = False
) -> bytes:
    """A workbook of named sheets; ``hidden`` sheets hidden, ``merge`` cells (``"Sheet!A1:B1"``) merged.

    ``write_only``: openpyxl's streaming writer, several times faster for
    the benchmark's large files; it writes no cell formats, so dates stay
    serial numbers there.
    """
    from openpyxl import Workbook

    wb = Workbook(write_only=write_only)
    if not write_only:
        wb.remove(wb.active)
    for name, grid in sheets:
        ws = wb.create_sheet(name)
        for row in grid:
            ws.append(row)
        if not write_only:
            for cell_row in ws.iter_rows():
                for cell in cell_row:
                    if isinstance(cell.value, dt.date):
                        cell.number_format = "DD/MM/YYYY"
            if name in hidden:
                ws.sheet_state = "hidden"
    for spec in merge:
        sheet, ref = spec.split("!")
        wb[sheet].merge_cells(ref)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def xls(grid: Grid, sheet: str = "Data") -> bytes:
    """A legacy Excel 97 workbook (what old village laptops still save)."""
    import xlwt

    wb = xlwt.Workbook()
    ws = wb.add_sheet(sheet)
    date_style = xlwt.easyxf(num_format_str="DD/MM/YYYY")
    for r, row in enumerate(grid):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, dt.date):
                ws.write(r, c, dt.datetime.combine(value, dt.time()), date_style)
            else:
                ws.write(r, c, value)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def csv_bytes(grid: Grid, delimiter: str = ",", encoding: str = "utf-8", lineterminator: str = "\r\n") -> bytes:
    """CSV as a spreadsheet exports it. Windows-1252 has no check mark: clerks type ``v`` for one."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=lineterminator)
    for row in grid:
        writer.writerow(["" if v is None else (v.isoformat() if isinstance(v, dt.date) else v) for v in row])
    text = buffer.getvalue()
    if encoding == "cp1252":
        text = text.replace("√", "v")
    return text.encode(encoding)


def write_roster(path: Path, grid: Grid, fmt: str, sheet: str = "Peserta", write_only: bool = False) -> None:
    """Write ``grid`` to ``path`` as ``fmt``: ``xlsx``, ``xls`` or ``csv:<delimiter>:<encoding>``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "xlsx":
        data = xlsx((sheet, grid), write_only=write_only)
    elif fmt == "xls":
        data = xls(grid)
    else:
        _, delimiter, encoding = fmt.split(":")
        data = csv_bytes(grid, delimiter, encoding, lineterminator="\n")
    path.write_bytes(data)
