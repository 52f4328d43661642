"""A bad value costs only its row, a bad file only itself: the other files of the batch load in the same run.

Each case was reproduced against the warehouse; kept as regression tests. No
case may put a roster value into an error message (they reach logs and alerts).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rosterfiles import VILLAGE_HEADER, land_bytes, land_village, loaded_rows, village_row

from ucj import ingest
from ucj_dev.synthetic.writers import csv_bytes

PERIOD = "2025-01"


def _land(root: Path, name: str, data: bytes, mtime: int = 1_700_000_000) -> str:
    return land_bytes(root, PERIOD, name, data, mtime)


def test_malformed_csv_files_fail_alone_with_a_reason_and_leak_no_value(conn, tmp_path: Path) -> None:
    good = land_village(tmp_path, PERIOD, "a_baik.csv", [village_row(1)])
    # A ';' CSV whose Nama opens a quote that never closes: the rows after it would become one cell.
    rows = [village_row(n, nik=f"13100152038500{n:02d}", name=f"Orang {n}") for n in range(1, 13)]
    rows[3][2] = '"Siti Aminah'  # typed as is: a clerk's stray quote, never closed
    text = "\r\n".join(";".join(str(v) for v in row) for row in [VILLAGE_HEADER, *rows])
    stray = _land(tmp_path, "b_kutip.csv", text.encode())
    huge = _land(tmp_path, "c_panjang.csv", csv_bytes([VILLAGE_HEADER, village_row(1, name='"' + "x" * 140_000)]))
    summary = ingest.ingest_batch(conn, tmp_path, "village", PERIOD, [good, stray, huge])

    failed = {f["file"]: f["error"] for f in summary.failed_files}
    assert set(failed) == {stray, huge}
    assert "quote" in failed[stray]
    assert "line" in failed[stray]
    assert "too long" in failed[huge] or "malformed" in failed[huge]
    for error in failed.values():
        assert "Siti" not in error
        assert "xxxx" not in error
    assert loaded_rows(conn) == {good: 1}


def test_stray_nul_bytes_and_impossible_numbers_cost_only_their_cell(conn, tmp_path: Path) -> None:
    """Far into a CSV a NUL is kept as U+FFFD; 24-digit or 1e300 amounts and 1e309 codes do not stop the file."""
    filler = [village_row(n, nik=f"13100152038500{n:02d}", name=f"Orang Ke {n}") for n in range(2, 80)]
    nul = village_row(1, name="Siti\x00Aminah")
    data = csv_bytes([VILLAGE_HEADER, *filler, nul])
    assert data.index(b"\x00") > 4096
    nul_file = _land(tmp_path, "nul.csv", data)
    inf_code = _land(tmp_path, "kode.csv", csv_bytes([VILLAGE_HEADER, village_row(1, code="1e309")]))
    summary = ingest.ingest_batch(conn, tmp_path, "village", PERIOD, [nul_file, inf_code])
    assert summary.failed_files == []
    name = conn.execute("select full_name from ingest.roster_row where source_row = 80").fetchone()[0]
    assert name == "Siti\N{REPLACEMENT CHARACTER}Aminah"
    assert conn.execute(
        "select r.status, r.reason from ingest.roster_row r join ingest.source_file f using (file_id) "
        "where f.rel_path = %s",
        (inf_code,),
    ).fetchone() == ("quarantined", "unknown_village_code")


@pytest.mark.parametrize("amount", ["123456789012345678901234", "1e300", 1e300, float("inf")])
def test_an_amount_no_roster_can_hold_is_dropped_not_fatal(amount) -> None:
    from ucj.roster.parse import parse_money

    assert parse_money(amount) is None
    assert parse_money("Rp 16.800") == parse_money(16800)


def test_a_value_the_warehouse_refuses_fails_its_file_only(conn, tmp_path: Path, monkeypatch) -> None:
    """The safety net under the parsers: a COPY error is traced to its file, which fails; the batch loads."""
    from decimal import Decimal

    from ucj.roster import rows as interpreting

    real = interpreting.parse_money

    def slipped(value):  # a parser that lets an out-of-range amount through
        return Decimal("1" + "0" * 20) if value == "999" else real(value)

    monkeypatch.setattr(interpreting, "parse_money", slipped)
    header = [*VILLAGE_HEADER, "Iuran"]
    good = _land(tmp_path, "a.csv", csv_bytes([header, [*village_row(1), "16800"]]))
    bad = _land(tmp_path, "b.csv", csv_bytes([header, [*village_row(2, nik="1310015203850002", name="Budi"), "999"]]))
    also_good = _land(tmp_path, "c.csv", csv_bytes([header, [*village_row(3, nik="1310015203850003", name="Ani"), ""]]))
    summary = ingest.ingest_batch(conn, tmp_path, "village", PERIOD, [good, bad, also_good])
    assert [f["file"] for f in summary.failed_files] == [bad]
    assert "too large" in summary.failed_files[0]["error"]
    assert "contribution" in summary.failed_files[0]["error"]
    assert "10000" not in summary.failed_files[0]["error"]
    assert loaded_rows(conn) == {good: 1, also_good: 1}
    assert summary.rows["loaded"] == 2


def _workbook_with_a_stray_cell() -> bytes:
    """6 KB: a roster and one cell typed at XFD1048576, as Excel saves it (its dimension says so)."""
    import io

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(VILLAGE_HEADER)
    sheet.append(village_row(1))
    sheet["XFD1048576"] = "x"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_workbook_claiming_billions_of_cells_fails_alone_before_it_is_read(conn, tmp_path: Path) -> None:
    good = land_village(tmp_path, PERIOD, "a.csv", [village_row(1)])
    stray = _land(tmp_path, "ujung.xlsx", _workbook_with_a_stray_cell())
    assert (tmp_path / stray).stat().st_size < 10_000
    summary = ingest.ingest_batch(conn, tmp_path, "village", PERIOD, [good, stray])
    (failed,) = summary.failed_files
    assert failed["file"] == stray
    assert "XFD1048576" in failed["error"]
    assert "Ctrl+End" in failed["error"]
    assert loaded_rows(conn) == {good: 1}


def test_a_workbook_that_unpacks_to_too_much_is_refused(monkeypatch, set_settings) -> None:
    """A decompression bomb: small on disk, huge unpacked (the limit is lowered here instead of writing 1 GB)."""
    import io
    import zipfile

    from ucj.roster.read import RosterReadError, read_roster

    set_settings({"ingest.max_workbook_unpacked_bytes": 5_000_000})
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr("xl/worksheets/sheet1.xml", "<worksheet>" + " " * 6_000_000 + "</worksheet>")
    assert len(out.getvalue()) < 100_000
    with pytest.raises(RosterReadError, match="unpacks to 6 MB"):
        read_roster(out.getvalue(), "bom.xlsx", "village")
