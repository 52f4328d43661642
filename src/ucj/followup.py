"""Who to follow up: each regency's lapsed workers per month as an .xlsx in Indonesian, for branch staff.

The list is ``followup.lapsed_worker`` (personal data, caseworkers only);
the workbooks go beside the clerk reports, under
``<var>/reports/followup/<regency>/<YYYY-MM>.xlsx``, one sheet per month
and regency, sorted by the unit that last covered the worker so that a
village's or an OPD's people are together.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import psycopg

from ucj.feedback import append_text
from ucj.period import parse_period, period_label
from ucj.settings import var_dir

log = logging.getLogger(__name__)

REASONS = {
    "status_non_aktif": ("Status Non Aktif di roster bulan ini", "Tanyakan ke unit apakah kepesertaan dihentikan."),
    "enrollment_ended": ("Kepesertaan sudah berakhir", "Ajak perpanjang kepesertaan (TMT baru)."),
    "unit_not_reported": ("Unit tidak mengirim roster bulan ini", "Minta unit mengirim roster bulan ini."),
    "dropped_from_snapshot": (
        "Tidak ada lagi di roster unit",
        "Tanyakan ke unit apakah pekerja berhenti atau terlewat dicatat.",
    ),
}
HEADERS = [
    "Jenis unit", "Kode unit", "Nama unit", "Nama", "Tanggal lahir", "NIK (disamarkan)", "Kunci pekerja",
    "Bulan terakhir tercakup", "Alasan", "Tindak lanjut",
]  # fmt: skip
KIND_NAMES = {"village": "Desa/Nagari", "opd": "OPD", "employer": "Pemberi kerja"}


def report_path(regency_code: str, period: str) -> Path:
    return var_dir() / "reports" / "followup" / regency_code / f"{period}.xlsx"


def write_followup_reports(conn: psycopg.Connection, periods: list[str]) -> list[str]:
    """One workbook per regency and month with lapsed workers; return the paths written."""
    written = []
    for period in periods:
        rows = conn.execute(
            """select l.regency_code, r.name, l.last_unit_kind, l.last_unit_code, l.last_unit_name, l.full_name,
                      l.birth_date, l.nik_masked, l.worker_key, l.last_covered_month, l.reason
               from followup.lapsed_worker as l
               join dw.dim_region as r on r.region_code = l.regency_code
               where l.period_month = %s
               order by l.regency_code, l.last_unit_kind, l.last_unit_code, l.full_name, l.worker_key""",
            (parse_period(period),),
        ).fetchall()
        by_regency: dict[str, list[tuple[Any, ...]]] = {}
        for row in rows:
            by_regency.setdefault(row[0], []).append(row)
        for regency_code, lapses in by_regency.items():
            path = report_path(regency_code, period)
            _write(path, f"Pekerja yang tidak lagi tercakup, {lapses[0][1]}, {period}", lapses)
            written.append(str(path))
    log.info("follow-up lists written: %d", len(written))
    return written


def _write(path: Path, title: str, lapses: list[tuple[Any, ...]]) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "Tindak lanjut"
    append_text(ws, [title])
    ws["A1"].font = Font(bold=True, size=12)
    append_text(ws, ["Jumlah pekerja", len(lapses)])
    ws.append([])
    append_text(ws, HEADERS)
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)
    for _, _, kind, code, unit, name, born, nik, key, last, reason in lapses:
        problem, action = REASONS[reason]
        append_text(ws, [
            KIND_NAMES.get(kind, kind), code, unit, name, born.strftime("%d/%m/%Y") if born else None, nik, key,
            period_label(last), problem, action,
        ])  # fmt: skip
    for column, width in zip("ABCDEFGHIJ", (14, 16, 26, 28, 14, 20, 12, 14, 36, 52), strict=True):
        ws.column_dimensions[column].width = width
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    wb.save(tmp)
    tmp.replace(path)  # readers never see half a list
