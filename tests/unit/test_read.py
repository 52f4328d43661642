"""Reading roster files: every form of CONTRACT.md §2 and the hostile ones."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rosterfiles import VILLAGE_HEADER, encrypted, village_row, with_cached_formula_values

from ucj.roster.parse import parse_date
from ucj.roster.read import RosterReadError, read_roster
from ucj_dev.synthetic.writers import csv_bytes, xls, xlsx

TITLES = [["DAFTAR PESERTA BPJS KETENAGAKERJAAN NAGARI KOTO BARU"], ["KECAMATAN KOTO BARU"], [], ["BULAN JANUARI 2025"]]


def rows_of(data: bytes, name: str, kind: str = "village"):
    return read_roster(data, name, kind)


def test_xlsx_with_title_rows_keeps_excel_row_numbers() -> None:
    grid = [*TITLES, VILLAGE_HEADER, village_row(1), village_row(2, name="Budi")]
    raw = rows_of(xlsx(("Sheet1", grid)), "a.xlsx")
    assert raw.header_row == 5
    assert [r for r, _ in raw.rows] == [6, 7]
    assert raw.rows[1][1]["full_name"] == "Budi"


@pytest.mark.parametrize(
    ("delimiter", "encoding"),
    [(",", "utf-8"), (";", "utf-8"), (";", "utf-8-sig"), (",", "utf-8-sig"), (";", "cp1252"), (",", "cp1252")],
)
def test_csv_delimiters_and_encodings(delimiter: str, encoding: str) -> None:
    grid = [*TITLES[:2], VILLAGE_HEADER, village_row(1, name="Désy Ariani"), village_row(2)]
    raw = rows_of(csv_bytes(grid, delimiter, encoding), "a.csv")
    assert raw.header_row == 3
    assert [r for r, _ in raw.rows] == [4, 5]
    assert raw.rows[0][1]["full_name"] == "Désy Ariani"
    assert raw.rows[0][1]["village_code"] == "13.10.01.2002"


def test_legacy_xls() -> None:
    grid = [*TITLES, VILLAGE_HEADER, village_row(1, born=dt.date(1985, 3, 12))]
    raw = rows_of(xls(grid), "a.xls")
    assert raw.rows[0][0] == 6
    assert parse_date(raw.rows[0][1]["birth_date"]) == dt.date(1985, 3, 12)


def test_header_synonyms_case_spaces_dots_ignored_and_column_order_free() -> None:
    header = ["nomor induk kependudukan", "NAMA_LENGKAP", "Tgl. Lahir", "kode  nagari", "Program BPJS", "No"]
    raw = rows_of(csv_bytes([header, ["1310014503850001", "Siti", "12/03/1985", "1310012002", "JKK", "1"]]), "a.csv")
    assert set(raw.columns) == {"nik", "full_name", "birth_date", "village_code", "programs"}
    assert raw.rows[0][1]["full_name"] == "Siti"


def test_unknown_columns_are_kept_nowhere() -> None:
    raw = rows_of(csv_bytes([VILLAGE_HEADER, village_row(1)]), "a.csv")
    assert "Keterangan" not in raw.columns.values()
    assert all("No" not in values for _, values in raw.rows)


def test_kode_wilayah_means_village_in_village_files_and_regency_elsewhere() -> None:
    village = rows_of(csv_bytes([["Nama", "Tgl Lahir", "Kode Wilayah", "Program"]]), "a.csv", "village")
    opd = rows_of(csv_bytes([["Nama", "Tgl Lahir", "Kode Wilayah", "Program"]]), "a.csv", "opd")
    assert "village_code" in village.columns
    assert "regency_code" in opd.columns


def test_empty_and_footer_rows_are_not_data() -> None:
    grid = [
        VILLAGE_HEADER,
        village_row(1),
        [None] * 10,
        village_row(2, name="Budi"),
        ["", "JUMLAH", "", 2],
        [],
        ["", "Mengetahui,"],
        ["", "Wali Nagari Koto Baru"],
        ["", "SYAFRIZAL, S.E."],
        ["", "NIP. 19720512 199803 1 004"],
    ]
    raw = rows_of(xlsx(("Data", grid)), "a.xlsx")
    assert [v["full_name"] for _, v in raw.rows] == ["Siti Aminah", "Budi"]
    assert [r for r, _ in raw.rows] == [2, 4]
    assert raw.footer_rows_skipped >= 4


def test_a_worker_row_after_a_total_line_is_still_data() -> None:
    grid = [VILLAGE_HEADER, village_row(1), ["", "JUMLAH", "", 1], village_row(2, name="Ani", nik="1310015503850002")]
    raw = rows_of(csv_bytes(grid), "a.csv")
    assert [v["full_name"] for _, v in raw.rows] == ["Siti Aminah", "Ani"]


def test_sheet_named_peserta_wins_over_first_sheet() -> None:
    data = xlsx(("Petunjuk", [["Isi data pada sheet Peserta"]]), ("Peserta", [VILLAGE_HEADER, village_row(1)]))
    raw = rows_of(data, "a.xlsx")
    assert raw.sheet == "Peserta"


def test_hidden_sheets_are_skipped() -> None:
    data = xlsx(
        ("Lama", [VILLAGE_HEADER, village_row(1, name="Hidden Person")]),
        ("Sheet2", [VILLAGE_HEADER, village_row(1)]),
        hidden=("Lama",),
    )
    raw = rows_of(data, "a.xlsx")
    assert raw.sheet == "Sheet2"
    assert raw.rows[0][1]["full_name"] == "Siti Aminah"


def test_first_visible_sheet_without_header_falls_through_to_next() -> None:
    data = xlsx(("Cover", [["Laporan"], ["Bulan Januari"]]), ("Lembar2", [VILLAGE_HEADER, village_row(1)]))
    assert rows_of(data, "a.xlsx").sheet == "Lembar2"


def test_merged_cells_fill_their_whole_block() -> None:
    grid = [VILLAGE_HEADER, village_row(1), village_row(2, name="Budi"), village_row(3, name="Ani")]
    grid[2][5] = grid[3][5] = None  # village code written once, merged down
    raw = rows_of(xlsx(("Data", grid), merge=("Data!F2:F4",)), "a.xlsx")
    assert [v["village_code"] for _, v in raw.rows] == ["13.10.01.2002"] * 3


def test_excel_cells_keep_their_types() -> None:
    grid = [VILLAGE_HEADER, village_row(1, nik=1310014503850001, born=dt.date(1985, 3, 12))]
    raw = rows_of(xlsx(("Data", grid)), "a.xlsx")
    values = raw.rows[0][1]
    assert values["nik"] == 1310014503850001
    assert values["birth_date"] in (dt.datetime(1985, 3, 12), dt.date(1985, 3, 12))


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "a.xlsx", "empty"),
        (b"", "a.csv", "empty"),
        (b"\x00\x01\x02garbage\x00" * 100, "a.csv", "binary"),
        (b"this is not a workbook", "a.xlsx", "not an Excel workbook"),
        (b"hello", "a.pdf", "unsupported file type"),
        (csv_bytes([["DAFTAR PESERTA"], ["NAGARI KOTO BARU"]]), "a.csv", "no header row"),
        (csv_bytes([]), "a.csv", "empty"),
    ],
)
def test_unreadable_files_say_why(data: bytes, name: str, message: str) -> None:
    with pytest.raises(RosterReadError, match=message):
        rows_of(data, name)


def test_truncated_xlsx_is_reported_as_damaged() -> None:
    data = xlsx(("Data", [VILLAGE_HEADER, village_row(1)]))
    with pytest.raises(RosterReadError, match=r"damaged|cannot be opened|cannot be read"):
        rows_of(data[: len(data) // 2], "a.xlsx")


def test_xlsx_with_only_title_rows_has_no_header() -> None:
    with pytest.raises(RosterReadError, match="no header row"):
        rows_of(xlsx(("Data", TITLES)), "a.xlsx")


def test_header_only_file_reads_with_no_rows() -> None:
    raw = rows_of(xlsx(("Data", [VILLAGE_HEADER])), "a.xlsx")
    assert raw.rows == []


def test_password_protected_workbook_says_so() -> None:
    data = encrypted(xlsx(("Data", [VILLAGE_HEADER, village_row(1)])))
    with pytest.raises(RosterReadError, match="password-protected"):
        rows_of(data, "a.xlsx")


def test_formula_cells_read_as_their_cached_values() -> None:
    row = village_row(1)
    row[2] = '=UPPER("siti aminah")'
    data = with_cached_formula_values(xlsx(("Data", [VILLAGE_HEADER, row])), {"C2": "SITI AMINAH"})
    assert rows_of(data, "a.xlsx").rows[0][1]["full_name"] == "SITI AMINAH"


def test_mixed_encodings_in_one_month_each_read_right() -> None:
    grid = [VILLAGE_HEADER, village_row(1, name="Désy Ariani")]
    for encoding in ("utf-8", "utf-8-sig", "cp1252"):
        assert rows_of(csv_bytes(grid, ";", encoding), "a.csv").rows[0][1]["full_name"] == "Désy Ariani"


def test_large_file_reads_every_row(tmp_path) -> None:
    """A 60 MB CSV (about 500,000 rows): every row read, row numbers intact."""
    line = (
        "1310014503850001;Siti Aminah binti Abdul Rahman Hasibuan;12/03/1985;P;1310012002;Koto Baru;JKK, JKM;Dana Desa;"
    )
    header = ";".join(VILLAGE_HEADER[1:]) + "\n"
    count = 60_000_000 // (len(line) + 1)
    data = (header + "\n".join([line] * count) + "\n").encode()
    assert len(data) >= 60_000_000
    raw = rows_of(data, "big.csv")
    assert len(raw.rows) == count
    assert raw.rows[-1][0] == count + 1


def test_zip_that_is_not_a_workbook_is_damaged() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(RosterReadError):
        rows_of(buffer.getvalue(), "a.xlsx")


def test_header_notes_in_brackets_are_ignored() -> None:
    header = ["NIK*", "Nama Lengkap (sesuai KTP)", "Tgl Lahir (dd/mm/yyyy)", "Kode Desa:", "Program"]
    raw = rows_of(csv_bytes([header, ["1310014503850001", "Siti", "12/03/1985", "1310012002", "JKK"]]), "a.csv")
    assert set(raw.columns) == {"nik", "full_name", "birth_date", "village_code", "programs"}


_CELLS = [None, "", " ", "-", "--", "_", "---", 0.0, float("nan"), 7.0, "1", "13", "Siti", "JUMLAH", "3. Mengetahui",
          "1310015503850002", "12/03/1985", dt.datetime(1985, 3, 12)]  # fmt: skip


def _reference_rows(grid: list[list[object]]) -> tuple[list[int], list[dict[str, object]], int, int]:
    """The reader's rule for rows below the header, written row by row as CONTRACT.md §2 states it."""
    from ucj.roster.parse import is_blank, parse_nik
    from ucj.roster.read import _footer_pattern, fold_header, header_map

    mapping, header = header_map("village"), {}
    for col, text in enumerate(grid[0]):
        canonical = mapping.get(fold_header(text))
        if canonical and canonical not in header.values():
            header[col] = canonical
    numbers, rows, footer, empty, in_footer = [], [], 0, 0, False
    for number, row in enumerate(grid[1:], start=2):
        values = {canonical: (row[col] if col < len(row) else None) for col, canonical in header.items()}
        if all(is_blank(v) for v in values.values()):
            empty += 1
            continue
        first = next((v for v in row if not is_blank(v)), "")
        marker = isinstance(first, str) and _footer_pattern().search(first.lstrip("0123456789. ")) is not None
        born = parse_date(values.get("birth_date"))
        data = (born is not None and born.year >= 1910) or parse_nik(values.get("nik"))[0] is not None
        if (in_footer or marker) and not data:
            in_footer = True
            footer += 1
            continue
        numbers.append(number)
        rows.append(values)
    return numbers, rows, footer, empty


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from(_CELLS), max_size=12), max_size=25))
def test_rows_below_the_header_are_judged_as_the_contract_says(body: list[list[object]]) -> None:
    """Blank, ragged, footer and data rows in any mix, with Excel's cell types and CSV's text.

    The reader takes short ways for the usual row (its first cell a text);
    whatever the row, it must keep, skip and number rows as the plain rule does.
    """
    from ucj.roster.read import _from_grid

    grid = [VILLAGE_HEADER, *body]
    raw = _from_grid([(number, row) for number, row in enumerate(grid, start=1)], "village", sheet=None)
    numbers, rows, footer, empty = _reference_rows(grid)
    assert raw.row_numbers == numbers
    assert [values for _, values in raw.rows] == rows
    assert (raw.footer_rows_skipped, raw.empty_rows_skipped) == (footer, empty)
