"""Reports a clerk can act on: which cells of which rows to fix, in Indonesian.

One ``.xlsx`` per roster file with problems, written under
``<var>/reports/<kind>/<YYYY-MM>/``, so a regency can send it back to the
OPD, village or employer that sent the file. Rows that were not counted
(quarantined) come first; rows that were counted but carry a NIK problem
follow as warnings. An unreadable file gets a one-line report saying why.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from ucj.period import parse_period
from ucj.settings import settings, var_dir

log = logging.getLogger(__name__)

# reason code -> (canonical fields whose header names the cell, problem, how to fix)
REASONS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "missing_name": (("full_name",), "Nama kosong", "Isi nama lengkap sesuai KTP."),
    "missing_birth_date": (("birth_date",), "Tanggal lahir kosong", "Isi tanggal lahir, contoh 12/03/1985."),
    "invalid_birth_date": (
        ("birth_date",),
        "Tanggal lahir tidak dapat dibaca atau tidak ada di kalender",
        "Tulis hari/bulan/tahun, contoh 12/03/1985 atau 12 Maret 1985.",
    ),
    "birth_date_in_future": (("birth_date",), "Tanggal lahir setelah bulan laporan", "Periksa tahun lahir."),
    "age_out_of_range": (("birth_date",), "Umur di luar {min_age_years}-{max_age_years} tahun", "Periksa tahun lahir."),
    "no_known_program": (
        ("programs", "flag_JKK", "flag_JKM", "flag_JHT", "flag_JP", "flag_JKP"),
        "Tidak ada program BPJS Ketenagakerjaan",
        "Isi program JKK, JKM, JHT, JP atau JKP. JKN / BPJS Kesehatan bukan program BPJS Ketenagakerjaan.",
    ),
    "invalid_enrollment_start": (("enrollment_start",), "TMT kepesertaan tidak dapat dibaca", "Contoh 01/01/2025."),
    "invalid_enrollment_end": (("enrollment_end",), "Tanggal berakhir tidak dapat dibaca", "Contoh 31/12/2025."),
    "unknown_status": (("status",), "Status kepesertaan tidak dikenal", "Tulis Aktif atau Non Aktif."),
    "missing_village_code": (
        ("village_code",),
        "Kode desa/nagari kosong",
        "Isi kode wilayah Kemendagri 10 digit, contoh 13.10.01.2002.",
    ),
    "unknown_village_code": (
        ("village_code",),
        "Kode desa/nagari tidak terdaftar di Kemendagri",
        "Periksa kode wilayah desa/nagari (10 digit), contoh 13.10.01.2002.",
    ),
    "missing_regency_code": (("regency_code",), "Kode kabupaten/kota kosong", "Isi kode kabupaten, contoh 13.10."),
    "unknown_regency_code": (
        ("regency_code",),
        "Kode kabupaten/kota tidak terdaftar di Kemendagri",
        "Periksa kode kabupaten/kota, contoh 13.10.",
    ),
    "missing_opd": (("opd_code", "opd_name"), "Kode/nama OPD kosong", "Isi kode dan nama OPD."),
    "missing_npp": (("npp",), "NPP perusahaan kosong", "Isi Nomor Pendaftaran Perusahaan (NPP)."),
}
NIK_WARNINGS = {
    "invalid": ("NIK bukan 16 digit", "Ketik ulang NIK 16 digit sesuai KTP."),
    "lost_digits": (
        "NIK rusak oleh format angka Excel (contoh 1.31001E+15)",
        "Ubah format kolom NIK menjadi Teks, lalu ketik ulang NIK 16 digit.",
    ),
    "excel_number": (
        "NIK disimpan sebagai angka; Excel hanya menyimpan 15 digit sehingga digit terakhir bisa berubah menjadi 0",
        "Ubah format kolom NIK menjadi Teks, lalu ketik ulang NIK.",
    ),
}


def _limits() -> dict[str, int]:
    """The limits a message quotes, from the settings the rows were judged by."""
    cfg = settings().validation
    return {"min_age_years": cfg.min_age_years, "max_age_years": cfg.max_age_years}


HEADERS = ["Baris", "Kolom", "Isi sel", "Masalah", "Cara memperbaiki", "Akibat"]
NOT_COUNTED = "Baris TIDAK dihitung sebagai peserta"
COUNTED = "Baris tetap dihitung"


@dataclass
class Finding:
    row: int
    column: str
    value: str
    problem: str
    fix: str
    effect: str


def findings_for_row(source_row: int, reason: str | None, nik_quality: str, original: dict[str, str],
                     header_of: dict[str, str]) -> list[Finding]:  # fmt: skip
    """What is wrong with one row, cell by cell."""
    found: list[Finding] = []
    for code in (reason or "").split(";"):
        if not code:
            continue
        fields, problem, fix = REASONS.get(code, ((), code, ""))
        problem = problem.format(**_limits())
        column = next((header_of[f] for f in fields if f in header_of), "")
        if not column and fields:
            column = f"(kolom {fields[0]} tidak ada)"
        found.append(Finding(source_row, column, original.get(column, ""), problem, fix, NOT_COUNTED))
    if nik_quality in NIK_WARNINGS and "nik" in header_of:
        problem, fix = NIK_WARNINGS[nik_quality]
        value = original.get(header_of["nik"], "")
        if nik_quality != "excel_number" or value.endswith("0"):
            found.append(Finding(source_row, header_of["nik"], value, problem, fix, COUNTED))
    return found


# Characters an .xlsx cannot hold (XML 1.0 forbids most C0 controls): openpyxl raises on them.
_NOT_IN_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
# A cell Excel would evaluate: formulas and DDE (=, +, -, @) and the tab/CR tricks in front of them.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_CELL = 32_767  # Excel's limit for the text of one cell


def as_text(value: Any) -> Any:
    """What a roster cell becomes in a report: plain text Excel shows and never runs.

    Control characters are replaced by a visible mark, and the value is cut to
    what one cell holds. Numbers stay numbers; everything else is written as a
    string cell with Excel's quote prefix (:func:`_text_cell`), so ``=HYPERLINK(...)``
    or ``=cmd|...`` is shown as typed, not evaluated.
    """
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    return _NOT_IN_XLSX.sub("\N{REPLACEMENT CHARACTER}", str(value))[:MAX_CELL]


def append_text(ws: Any, values: list[Any]) -> None:
    ws.append([as_text(v) for v in values])
    for cell in ws[ws.max_row]:
        if isinstance(cell.value, str):
            # openpyxl stores a string starting with "=" as a formula; force a string cell, and mark
            # the leading sign as typed text the way Excel does for '=1+1.
            cell.data_type = "s"
            if cell.value.startswith(_FORMULA_START):
                cell.quotePrefix = True


def write_report(path: Path, title: str, findings: list[Finding], summary: list[tuple[str, Any]]) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "Perbaikan"
    append_text(ws, [title])
    ws["A1"].font = Font(bold=True, size=12)
    for label, value in summary:
        append_text(ws, [label, value])
    ws.append([])
    append_text(ws, HEADERS)
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)
    for f in sorted(findings, key=lambda f: (f.effect != NOT_COUNTED, f.row, f.column)):
        append_text(ws, [f.row, f.column, f.value, f.problem, f.fix, f.effect])
    for column, width in zip("ABCDEF", (8, 22, 24, 48, 60, 34), strict=True):
        ws.column_dimensions[column].width = width
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    wb.save(tmp)
    tmp.replace(path)  # readers never see half a report


MAX_REPORT_NAME = 120  # characters of the roster's own name kept in its report's name


def report_path(rel_path: str) -> Path:
    """One report per roster file: its whole name (``roster.csv`` and ``roster.xlsx`` differ), made safe.

    Control characters and path separators become ``_``; a long name is cut
    and given a digest of the whole, so two long names never share a report
    and no name exceeds what a file system takes.
    """
    kind, period, name = rel_path.split("/", 2)
    safe = re.sub(r"[\x00-\x1f\x7f/\\]", "_", name)
    if len(safe) > MAX_REPORT_NAME:
        digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:12]
        safe = f"{safe[:MAX_REPORT_NAME]}~{digest}"
    return var_dir() / "reports" / kind / period / f"{safe}.periksa.xlsx"


def write_reports(conn: psycopg.Connection, kind: str, period: str) -> dict[str, Any]:
    """One report per file version in force this month that has something to fix."""
    period_month = parse_period(period)
    files = conn.execute(
        """select file_id, rel_path, status, error, rows_read from ingest.source_file
           where source_kind = %s and period_month = %s and status <> 'replaced' order by rel_path""",
        (kind, period_month),
    ).fetchall()
    rows_by_file: dict[int, list[tuple]] = defaultdict(list)
    for file_id, *row in conn.execute(
        """select r.file_id, r.source_row, r.reason, r.nik_quality, r.original, r.status
           from ingest.roster_row as r join ingest.source_file as f using (file_id)
           where f.source_kind = %s and f.period_month = %s and f.status <> 'replaced' and r.original is not null
           order by r.file_id, r.source_row""",
        (kind, period_month),
    ):
        rows_by_file[file_id].append(tuple(row))
    headers_by_file = _headers(conn, [f[0] for f in files])
    written = []
    for file_id, rel_path, status, error, rows_read in files:
        path = report_path(rel_path)
        title = f"Hasil pemeriksaan berkas {rel_path.rsplit('/', 1)[-1]} (periode {period})"
        if status == "failed":
            finding = Finding(0, "", "", f"Berkas tidak dapat dibaca: {error}", _file_fix(error), NOT_COUNTED)
            write_report(path, title, [finding], [("Berkas", rel_path), ("Jumlah baris dibaca", 0)])
            written.append(str(path))
            continue
        findings: list[Finding] = []
        header_of = headers_by_file.get(file_id, {})
        for source_row, reason, nik_quality, original, row_status in rows_by_file.get(file_id, []):
            cells = original if isinstance(original, dict) else json.loads(original)
            findings += findings_for_row(
                source_row, reason if row_status == "quarantined" else None, nik_quality, cells, header_of
            )
        if not findings:
            path.unlink(missing_ok=True)  # an earlier version's report no longer applies
            continue
        not_counted = len({f.row for f in findings if f.effect == NOT_COUNTED})
        write_report(
            path,
            title,
            findings,
            [("Berkas", rel_path), ("Jumlah baris dibaca", rows_read), ("Baris tidak dihitung", not_counted),
             ("Dibuat", dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))],
        )  # fmt: skip
        written.append(str(path))
    folder = var_dir() / "reports" / kind / period
    log.info("%d clerk report(s) for %s %s in %s", len(written), kind, period, folder)
    return {"reports": len(written), "folder": str(folder)}


def _headers(conn: psycopg.Connection, file_ids: list[int]) -> dict[int, dict[str, str]]:
    query = "select file_id, columns from ingest.source_file where file_id = any(%s) and columns is not null"
    return dict(conn.execute(query, (file_ids,)).fetchall())


def _file_fix(error: str | None) -> str:
    text = (error or "").lower()
    if "password" in text:
        return "Simpan ulang berkas tanpa kata sandi, lalu kirim kembali."
    if "header" in text:
        return "Pastikan ada baris judul kolom (NIK, Nama, Tgl Lahir, Program, ...) di 15 baris pertama."
    if "link" in text:
        return "Salin berkas aslinya (bukan pintasan/tautan) ke folder laporan, lalu hapus tautannya."
    if "unsupported" in text:
        return "Kirim berkas dalam format .xlsx, .xls atau .csv."
    return "Buka berkas di Excel, simpan ulang sebagai .xlsx, lalu kirim kembali."
