"""Turn a roster file (bytes) into raw rows keyed by canonical field.

One reader per format: python-calamine for ``.xlsx``/``.xls`` (fast, handles
legacy BIFF and cached formula values), the ``csv`` module for CSV (title rows
above the header and ragged rows rule out a columnar CSV reader). Everything
after the grid is format-independent: find the header, map columns, drop
empty and footer rows, keep the sheet's own row numbers.

calamine builds a dense grid of a sheet's extent, so a workbook whose extent
is far larger than its content (one stray cell at ``XFD1048576``, or a
``<dimension>`` that lies) is read cell by cell instead, with openpyxl's
streaming reader (``sparse=True``). Every reader stops at the limits of
``ReadLimits`` (pipeline.yaml ``ingest``); ``ucj.roster.isolated`` adds the
memory and time limits, which only a separate process can enforce.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from operator import itemgetter

import python_calamine as calamine

from ucj.roster.parse import BLANK_TEXTS, cell_text, is_blank, parse_date, parse_nik
from ucj.settings import header_synonyms, settings, vocabulary

# The header is the first row with at least this many known column names.
MIN_KNOWN_HEADERS = 3
# Title rows allowed above the header (CONTRACT.md says up to 10); a little
# slack for a blank line or two that clerks add.
MAX_HEADER_ROW = 15
PREFERRED_SHEET = re.compile(r"peserta|data", re.IGNORECASE)
EXCEL_EXTENSIONS = (".xlsx", ".xlsm", ".xls")


class RosterReadError(Exception):
    """A file that cannot be read at all. The message is meant for the clerk."""


class SheetTooLarge(RosterReadError):
    """A sheet's extent is too large for a dense grid; the caller may read it again with ``sparse=True``."""


@dataclass(frozen=True)
class ReadLimits:
    """What one file may hold before its reader stops (pipeline.yaml ``ingest``, documented there).

    Passed to the reader explicitly rather than read from the configuration
    inside it: the reading runs in a child process, which must apply the
    limits of the run that started it.
    """

    max_workbook_unpacked_bytes: int
    max_sheet_cells: int
    max_rows_per_file: int
    max_columns: int
    max_read_seconds: float
    reader_memory_bytes: int

    @classmethod
    def from_config(cls, **overrides: float) -> ReadLimits:
        """The limits of pipeline.yaml (with the deployment's override file), some replaced by ``overrides``."""
        ingest = {**settings().ingest.model_dump(), **overrides}
        return cls(
            **{name: (float if name == "max_read_seconds" else int)(ingest[name]) for name in cls.__dataclass_fields__}
        )


@dataclass
class RawRoster:
    """Rows of one file, before any value is interpreted."""

    sheet: str | None
    header_row: int
    # canonical field -> header text as written in the file, in the file's column order
    columns: dict[str, str]
    # Each data row's sheet row number, and its cells: one per field of
    # ``columns``, in that order (a tuple per row, not a dict: a month is a
    # million rows, and ucj.roster.rows reads them column by column).
    row_numbers: list[int] = field(default_factory=list)
    cells: list[tuple[object, ...]] = field(default_factory=list)
    footer_rows_skipped: int = 0
    empty_rows_skipped: int = 0

    @property
    def rows(self) -> list[tuple[int, dict[str, object]]]:
        """(sheet row number, {canonical field: raw cell value}) per data row, for reading one by one."""
        fields = list(self.columns)
        pairs = zip(self.row_numbers, self.cells, strict=True)
        return [(n, dict(zip(fields, values, strict=True))) for n, values in pairs]


_HEADER_NOTE = re.compile(r"\(.*?\)|\[.*?\]|[*:]+$")


def fold_header(text: object) -> str:
    """Case, spaces, dots and underscores do not distinguish header names.

    Notes clerks add to a header - ``Tgl Lahir (dd/mm/yyyy)``, ``NIK*`` - are
    dropped too.
    """
    return re.sub(r"[\s._]+", "", _HEADER_NOTE.sub("", cell_text(text)).lower())


@lru_cache(maxsize=8)
def header_map(kind: str) -> dict[str, str]:
    """Folded header name -> canonical field for one source kind."""
    synonyms = header_synonyms()
    mapping: dict[str, str] = {}
    for section in ("common", kind):
        for canonical, names in synonyms.get(section, {}).items():
            for name in names:
                mapping[fold_header(name)] = canonical
    return mapping


def read_roster(
    data: bytes, filename: str, kind: str, limits: ReadLimits | None = None, *, sparse: bool = False
) -> RawRoster:
    """Read one roster file; raise RosterReadError with a clerk-readable reason.

    In this process, with no memory or time limit: ``ingest`` reads through
    ``ucj.roster.isolated``, which calls this in a child process.
    """
    limits = limits or ReadLimits.from_config()
    if not data:
        raise RosterReadError("file is empty (0 bytes)")
    lower = filename.lower()
    if lower.endswith(EXCEL_EXTENSIONS):
        try:
            return _read_excel(data, kind, limits, sparse=sparse)
        except SheetTooLarge:  # raised only before a dense read of an .xlsx
            return _read_excel(data, kind, limits, sparse=True)
    if lower.endswith(".csv"):
        return _from_grid(_csv_grid(data), kind, sheet=None, limits=limits)
    raise RosterReadError(f"unsupported file type {filename.rsplit('.', 1)[-1]!r}: send .xlsx, .xls or .csv")


# What a workbook may claim before calamine builds its grid (a dense one, cell by cell: one stray
# cell at XFD1048576 asks for 17 billion cells): beyond it the sheet is read sparse.
_DIMENSION = re.compile(rb'<dimension ref="([A-Z]{1,3})(\d+)(?::([A-Z]{1,3})(\d+))?"')


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + letter - 64
    return number


_SPARSE_FROM_CELLS = 1_000_000


def column_letters(number: int) -> str:
    """1 -> A, 16384 -> XFD: how a clerk finds a cell."""
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def check_workbook_size(data: bytes, limits: ReadLimits) -> None:
    """Refuse an .xlsx that unpacks to too much; raise SheetTooLarge if a sheet claims too many cells.

    Read from the zip's directory and the first bytes of each sheet, before
    python-calamine allocates anything; a clerk-readable reason says what to fix.
    """
    import zipfile

    try:
        book = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return  # calamine says "damaged" in its own words
    max_unpacked, max_cells = limits.max_workbook_unpacked_bytes, limits.max_sheet_cells
    entries = book.infolist()
    unpacked = sum(e.file_size for e in entries)
    if unpacked > max_unpacked:
        raise RosterReadError(
            f"workbook unpacks to {unpacked / 1e6:,.0f} MB (more than {max_unpacked / 1e6:,.0f} MB): "
            "it holds far more than a roster; open it, delete the empty rows and columns, save and send again"
        )
    for entry in entries:
        if not (entry.filename.startswith("xl/worksheets/") and entry.filename.endswith(".xml")):
            continue
        try:
            with book.open(entry) as sheet:
                head = sheet.read(4096)
        except Exception:  # a damaged entry (bad CRC, truncated stream): calamine names it
            return
        if m := _DIMENSION.search(head):
            first_col, first_row, last_col, last_row = m.groups()
            rows = int(last_row or first_row) - int(first_row) + 1
            cols = _column_number(last_col or first_col) - _column_number(first_col) + 1
            # A sheet holding only a few of the cells it claims (under one byte of XML per cell, where a
            # cell present takes twenty) is sparse: the dense grid would be mostly empty memory.
            sparse = rows * cols > _SPARSE_FROM_CELLS and rows * cols > entry.file_size
            if rows * cols > max_cells or sparse:
                end = (last_col or first_col).decode() + (last_row or first_row).decode()
                raise SheetTooLarge(
                    f"a sheet reaches cell {end} ({rows:,} rows x {cols:,} columns): something was typed far "
                    "below or right of the roster; press Ctrl+End in Excel to find it, delete those rows and "
                    "columns, save and send again"
                )


def _sheet_order(visible: list[str]) -> list[str]:
    """The sheets to try, a roster-named one ("Peserta", "Data") first, in both readers."""
    return [s for s in visible if PREFERRED_SHEET.search(s)] + [s for s in visible if not PREFERRED_SHEET.search(s)]


def _read_excel(data: bytes, kind: str, limits: ReadLimits, *, sparse: bool) -> RawRoster:
    if data[:4] not in (b"PK\x03\x04", b"\xd0\xcf\x11\xe0"):
        raise RosterReadError("file is not an Excel workbook (its content is not .xlsx or .xls)")
    if sparse:
        if data[:4] != b"PK\x03\x04":
            raise RosterReadError("workbook is too large to read: save it as .xlsx without the empty rows")
        return _read_xlsx_sparse(data, kind, limits)
    if data[:4] == b"PK\x03\x04":
        check_workbook_size(data, limits)
    try:
        workbook = calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    except calamine.PasswordError as exc:
        raise RosterReadError("workbook is password-protected: save it without a password") from exc
    except Exception as exc:  # calamine raises several unrelated types for damaged files
        if data[:4] == b"\xd0\xcf\x11\xe0" and b"E\x00n\x00c\x00r\x00y\x00p\x00t" in data:
            raise RosterReadError("workbook is password-protected: save it without a password") from exc
        raise RosterReadError(f"workbook is damaged or incomplete and cannot be opened ({type(exc).__name__})") from exc
    visible = [
        meta.name for meta in workbook.sheets_metadata if meta.visible == calamine.SheetVisibleEnum.Visible
    ] or list(workbook.sheet_names)
    ordered = _sheet_order(visible)
    problems: list[str] = []
    for name in ordered:
        try:
            sheet = workbook.get_sheet_by_name(name)
            grid = sheet.to_python(skip_empty_area=False)
            merged = sheet.merged_cell_ranges or []
        except Exception as exc:
            problems.append(f"sheet {name!r} cannot be read ({type(exc).__name__})")
            continue
        _fill_merged(grid, merged)
        try:
            return _from_grid(((i + 1, row) for i, row in enumerate(grid)), kind, sheet=name, limits=limits)
        except RosterReadError as exc:
            problems.append(f"sheet {name!r}: {exc}")
    raise RosterReadError("; ".join(problems) or "workbook has no sheets")


def _read_xlsx_sparse(data: bytes, kind: str, limits: ReadLimits) -> RawRoster:
    """Read an .xlsx cell by cell: memory follows the cells present, not the extent a sheet claims.

    openpyxl's streaming reader ignores ``<dimension>`` (``reset_dimensions``)
    and yields the rows the sheet holds. Merged blocks are not filled here (the
    streaming reader does not see them); a roster rarely merges data cells.
    """
    import zipfile

    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise RosterReadError(f"workbook is damaged or incomplete and cannot be opened ({type(exc).__name__})") from exc
    try:
        visible = [ws.title for ws in book.worksheets if ws.sheet_state == "visible"] or list(book.sheetnames)
        ordered = _sheet_order(visible)
        problems: list[str] = []
        for name in ordered:
            sheet = book[name]
            sheet.reset_dimensions()
            rows = ((n, list(row)) for n, row in enumerate(sheet.iter_rows(values_only=True), start=1))
            try:
                return _from_grid(rows, kind, sheet=name, limits=limits)
            except RosterReadError as exc:
                problems.append(f"sheet {name!r}: {exc}")
            except Exception as exc:  # damaged XML inside the sheet
                problems.append(f"sheet {name!r} cannot be read ({type(exc).__name__})")
        raise RosterReadError("; ".join(problems) or "workbook has no sheets")
    finally:
        book.close()


def _fill_merged(grid: list[list[object]], merged: list) -> None:
    """A merged block shows its value in every cell to a person; do the same.

    Blocks may overlap, so filling them could visit each cell many times (a
    few thousand overlapping blocks are minutes of CPU); a sheet whose blocks
    cover more cells than the sheet has is no roster layout.
    """
    budget = 2 * sum(len(row) for row in grid)
    for (r0, c0), (r1, c1) in merged:
        if r0 >= len(grid) or c0 >= len(grid[r0]):
            continue
        budget -= (min(r1, len(grid) - 1) - r0 + 1) * (min(c1, len(grid[r0]) - 1) - c0 + 1)
        if budget < 0:
            raise RosterReadError(
                f"the sheet has {len(merged):,} merged cell blocks that overlap many times over: select the "
                "whole sheet, click Merge & Center to unmerge, save and send again"
            )
        value = grid[r0][c0]
        for r in range(r0, min(r1, len(grid) - 1) + 1):
            row = grid[r]
            for c in range(c0, min(c1, len(row) - 1) + 1):
                if is_blank(row[c]):
                    row[c] = value


def _decode(data: bytes) -> str:
    if b"\x00" in data[:4096]:
        raise RosterReadError("file is not a text CSV (it contains binary data); export the sheet as CSV again")
    if data.startswith(b"\xef\xbb\xbf"):
        text = data[3:].decode("utf-8", errors="replace")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("cp1252", errors="replace")
    # A stray NUL further in is no reason to lose the file; the warehouse cannot store it in a value.
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


# A quoted CSV field may hold a line break, but a roster row spanning more lines
# than this is a quote that never closes, swallowing the rows after it.
MAX_LINES_PER_ROW = 3


def _csv_grid(data: bytes) -> Iterator[tuple[int, list[object]]]:
    text = _decode(data)
    sample = text[:20000]
    delimiter = max((";", ",", "\t"), key=sample.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    del text  # the reader holds its own copy; this one would double the file's memory for the whole read
    line = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # field larger than field limit, NUL, a quote in the wrong place: the file fails, with where
            raise RosterReadError(
                f"CSV cannot be read from line {line}: a cell is malformed or too long ({_csv_problem(exc)}); "
                'check for an unclosed quote (") there, or export the sheet as CSV again'
            ) from None
        if reader.line_num - line + 1 > MAX_LINES_PER_ROW:
            raise RosterReadError(
                f'CSV line {line}: a quote (") opens a cell that does not close, so the '
                f"{reader.line_num - line} lines after it would be read as one cell; remove the stray quote"
            )
        yield line, row
        line = reader.line_num + 1


def _csv_problem(exc: csv.Error) -> str:
    """What the csv module said, without the cell's content."""
    text = str(exc)
    return "cell too long" if "field larger" in text else text.split(":", 1)[0][:80]


@lru_cache(maxsize=1)
def _footer_pattern() -> re.Pattern[str]:
    return re.compile("|".join(vocabulary()["footer_markers"]), re.IGNORECASE)


def _too_wide(row: list[object], row_number: int, limits: ReadLimits) -> None:
    """A cell typed beyond the last column a roster may have fails the file, naming the cell."""
    beyond = next((i for i in range(len(row) - 1, limits.max_columns - 1, -1) if not is_blank(row[i])), None)
    if beyond is not None:
        raise RosterReadError(
            f"cell {column_letters(beyond + 1)}{row_number} holds a value beyond the {limits.max_columns}th "
            "column a roster may use: something was typed far right of the roster; press Ctrl+End in Excel "
            "to find it, delete those columns, save and send again"
        )


def _from_grid(
    grid: Iterator[tuple[int, list[object]]] | list, kind: str, sheet: str | None, limits: ReadLimits | None = None
) -> RawRoster:
    limits = limits or ReadLimits.from_config()
    mapping = header_map(kind)
    max_columns, max_rows = limits.max_columns, limits.max_rows_per_file
    iterator = iter(grid)
    header: dict[int, str] | None = None
    header_row = 0
    seen_any = False
    for row_number, row in iterator:
        if len(row) > max_columns:
            _too_wide(row, row_number, limits)
            row = row[:max_columns]
        if any(not is_blank(v) for v in row):
            seen_any = True
        found: dict[int, str] = {}
        for col, value in enumerate(row):
            canonical = mapping.get(fold_header(value))
            if canonical and canonical not in found.values():
                found[col] = canonical
        if len(found) >= MIN_KNOWN_HEADERS:
            header, header_row = found, row_number
            header_texts = {canonical: cell_text(row[col]) for col, canonical in found.items()}
            break
        if row_number >= MAX_HEADER_ROW:
            break
    if header is None:
        if not seen_any:
            raise RosterReadError("sheet is empty")
        raise RosterReadError(
            f"no header row found in the first {MAX_HEADER_ROW} rows: a header needs at least "
            f"{MIN_KNOWN_HEADERS} known column names such as NIK, Nama, Tgl Lahir, Program"
        )
    roster = RawRoster(sheet=sheet, header_row=header_row, columns=header_texts)
    # Once per row of a month's million, so each test takes its short way for
    # the usual row (a text cell first) before the general one.
    width = max(header) + 1
    pick = itemgetter(*header)  # the mapped cells, in column order (a tuple: there are >= 3)
    fields = list(header.values())
    born_at = fields.index("birth_date") if "birth_date" in fields else None
    nik_at = fields.index("nik") if "nik" in fields else None
    footer = _footer_pattern()
    marker_if_empty = footer.search("") is not None
    in_footer = False
    for row_number, row in iterator:
        if len(row) < width:  # a ragged row: the missing cells are empty
            row = [*row, *([None] * (width - len(row)))]
        elif len(row) > max_columns:
            _too_wide(row, row_number, limits)
        values = pick(row)
        lead = values[0]
        if not (type(lead) is str and lead.strip() not in BLANK_TEXTS) and all(is_blank(v) for v in values):
            roster.empty_rows_skipped += 1
            continue
        first = row[0]  # the row's first cell that is not blank, mapped or not
        if not (type(first) is str and first.strip() not in BLANK_TEXTS):
            first = next((v for v in row if not is_blank(v)), "")
        is_marker = False
        if isinstance(first, str):
            text = first.lstrip("0123456789. ")
            is_marker = footer.search(text) is not None if text else marker_if_empty
        if (in_footer or is_marker) and not _looks_like_data(
            values[born_at] if born_at is not None else None, values[nik_at] if nik_at is not None else None
        ):
            # A marker row (JUMLAH, Mengetahui, Kepala ...) and everything
            # after it that carries neither a birth date nor a NIK.
            in_footer = True
            roster.footer_rows_skipped += 1
            continue
        if len(roster.row_numbers) == max_rows:
            raise RosterReadError(
                f"file holds more than {max_rows:,} rows of data: split it into smaller files and send them again"
            )
        roster.row_numbers.append(row_number)
        roster.cells.append(values)
    return roster


def _looks_like_data(birth_date: object, nik: object) -> bool:
    """A row with a NIK or a believable birth date is a worker, whatever its first cell says.

    "Believable" rules out the row count of a JUMLAH line (``13``), which as an
    Excel serial would be 13 January 1900.
    """
    born = parse_date(birth_date)
    return (born is not None and born.year >= 1910) or parse_nik(nik)[0] is not None
