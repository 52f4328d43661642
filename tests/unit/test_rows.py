"""Row states (CONTRACT.md §2 "What a row needs"): loaded, quarantined with reasons, duplicate."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rosterfiles import VILLAGE_HEADER, village_row

from ucj.roster.read import read_roster
from ucj.roster.rows import interpret, interpret_many
from ucj_dev.synthetic.writers import csv_bytes

JAN = dt.date(2025, 1, 1)


def states(grid, kind: str = "village", period: dt.date = JAN):
    raw = read_roster(csv_bytes(grid), "f.csv", kind)
    return interpret(raw, kind, period)


def test_a_complete_row_is_loaded() -> None:
    frame = states([VILLAGE_HEADER, village_row(1)])
    row = frame.iloc[0]
    assert row["status"] == "loaded"
    assert row["reason"] is None
    assert row["programs"] == "JKK,JKM"
    assert row["unit_key"] == "1310012002"
    assert row["regency_code"] == "1310"
    assert row["funding_source"] == "APBDES"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"name": ""}, "missing_name"),
        ({"born": ""}, "missing_birth_date"),
        ({"born": "31/02/1985"}, "invalid_birth_date"),
        ({"born": "01/01/2030"}, "birth_date_in_future"),
        ({"born": "01/01/2020"}, "age_out_of_range"),
        ({"born": "01/01/1900"}, "age_out_of_range"),
        ({"programs": "JKN"}, "no_known_program"),
        ({"programs": ""}, "no_known_program"),
        ({"code": "13.10.01.9999"}, "unknown_village_code"),
        ({"code": ""}, "missing_village_code"),
        # Typed but no code at all: the clerk is told the code is unknown, not that the cell is empty.
        ({"code": "=cmd|' /C calc'!A0"}, "unknown_village_code"),
        ({"code": "belum ada"}, "unknown_village_code"),
    ],
)
def test_rows_missing_what_they_need_are_quarantined_with_reason(change: dict, reason: str) -> None:
    row = states([VILLAGE_HEADER, village_row(1, **change)]).iloc[0]
    assert row["status"] == "quarantined"
    assert reason in row["reason"].split(";")


def test_quarantined_rows_keep_their_original_values() -> None:
    row = states([VILLAGE_HEADER, village_row(1, born="31/02/1985")]).iloc[0]
    original = json.loads(row["original"])
    assert original["Tgl Lahir"] == "31/02/1985"
    assert original["Nama"] == "Siti Aminah"


@pytest.mark.parametrize("nik", ["", "12345", "1.31001E+15", "ABCDEFGHIJKLMNOP"])
def test_missing_or_invalid_nik_does_not_quarantine(nik: str) -> None:
    row = states([VILLAGE_HEADER, village_row(1, nik=nik)]).iloc[0]
    assert row["status"] == "loaded"
    assert row["nik"] is None


def test_exact_duplicate_rows_in_one_file_count_once() -> None:
    frame = states([VILLAGE_HEADER, village_row(1), village_row(1), village_row(2, name="Budi")])
    assert list(frame["status"]) == ["loaded", "duplicate", "loaded"]
    assert list(frame["source_row"]) == [2, 3, 4]


# Cells drawn from a few values, so that files repeat rows and swap values between columns.
_CELLS = st.sampled_from(["Siti", "Budi", "", "12/03/1985", "1310014503850001"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.tuples(_CELLS, _CELLS, _CELLS), min_size=1, max_size=8), min_size=1, max_size=3))
def test_a_row_is_a_duplicate_exactly_when_its_file_had_the_same_cells_before(files) -> None:
    """Name, birth place and village name take each other's values: only the same cells in the same columns match."""
    header = ["NIK", "Nama", "Tgl Lahir", "Tempat Lahir", "Kode Desa", "Nama Desa", "Program"]
    raws = []
    for i, rows in enumerate(files):
        grid = [header, *[["1310014503850001", a, "12/03/1985", b, "1310012002", c, "JKK"] for a, b, c in rows]]
        raws.append(read_roster(csv_bytes(grid), f"f{i}.csv", "village"))
    expected = []
    for rows in files:
        expected += ["duplicate" if row in rows[:j] else "kept" for j, row in enumerate(rows)]
    frame = interpret_many(raws, "village", JAN)
    got = ["duplicate" if s == "duplicate" else "kept" for s in frame["status"]]
    assert got == expected


def test_flag_columns_instead_of_a_program_list() -> None:
    header = ["NIK", "Nama", "Tgl Lahir", "Kode Desa", "JKK", "JKM", "JHT", "JP", "JKP"]
    row = states([header, ["1310014503850001", "Ani", "12/03/1985", "1310012002", "Y", "√", "", "0", "x"]]).iloc[0]
    assert row["programs"] == "JKK,JKM,JKP"


def test_opd_unit_is_regency_plus_opd_code() -> None:
    header = ["Kode Kab/Kota", "Kode OPD", "Nama OPD", "NIK", "Nama Lengkap", "Tgl Lahir", "Program BPJS"]
    frame = states(
        [header, ["13.10", "1.01.01", "Dinas Pendidikan", "", "Budi", "01-02-1990", "JKK+JKM"],
         ["99.99", "1.01.01", "Dinas Pendidikan", "", "Budi", "01-02-1990", "JKK+JKM"]],
        kind="opd",
    )  # fmt: skip
    assert frame.iloc[0]["unit_key"] == "1310/1.01.01"
    assert frame.iloc[0]["status"] == "loaded"
    assert "unknown_regency_code" in frame.iloc[1]["reason"]


def test_employer_needs_npp_and_known_regency() -> None:
    header = ["NPP", "Nama Perusahaan", "Kode Wilayah", "Sektor", "Nama Tenaga Kerja", "Tanggal Lahir", "Jenis Program"]
    frame = states(
        [header, ["13101234", "CV Karya", "1310", "Jasa Konstruksi", "Budi", "1990-02-01", "JKK, JKM"],
         ["", "CV Karya", "1310", "Jasa Konstruksi", "Ani", "1990-02-01", "JKK, JKM"]],
        kind="employer",
    )  # fmt: skip
    assert frame.iloc[0]["status"] == "loaded"
    assert frame.iloc[0]["segment"] == "JAKON"
    assert "missing_npp" in frame.iloc[1]["reason"]


@pytest.mark.parametrize(
    ("category", "segment"),
    [("Perangkat Nagari", "PU"), ("Pekerja Rentan", "BPU"), ("Pekerja Migran", "PMI"), ("", "BPU")],
)
def test_village_segment_from_category(category: str, segment: str) -> None:
    header = [*VILLAGE_HEADER, "Kategori"]
    row = states([header, [*village_row(1), category]]).iloc[0]
    assert row["segment"] == segment


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.sampled_from(["", "Siti", "siti", " Siti", "13.10", "-"]), st.text(max_size=4))),
    st.lists(st.one_of(st.floats(allow_nan=True), st.dates()), max_size=3),
)
def test_factorized_columns_give_back_every_cell(texts: list, others: list) -> None:
    """Text columns (CSV) take Arrow's hashing, mixed ones (Excel's numbers and dates) pandas'; both give
    each cell back from its code, "nothing" as None, each distinct value once."""
    from ucj.roster.rows import _factorize

    for values in (texts, texts + others):
        codes, uniques = _factorize(values)
        back = [uniques[c] for c in codes]
        assert back == [None if isinstance(v, float) and v != v else v for v in values]
        assert len({(type(u), u) for u in uniques if u == u}) == len([u for u in uniques if u == u])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.text(alphabet="0123456789 .'e+E\u0661", max_size=18),
                       st.sampled_from(["1310014503850001", "13100145038500011", "1310014503850001.0"]))),
    st.lists(st.one_of(st.floats(allow_nan=True), st.integers()), max_size=3),
)  # fmt: skip
def test_distinct_niks_are_parsed_as_one_by_one(texts: list, numbers: list) -> None:
    import numpy as np

    from ucj.roster.parse import parse_nik
    from ucj.roster.rows import _parse_niks

    for values in (texts, texts + numbers):
        niks, qualities = _parse_niks(np.array(values, dtype=object))
        assert list(zip(niks, qualities, strict=True)) == [parse_nik(v) for v in values]


def test_a_typed_regency_code_that_is_no_code_is_unknown_not_missing() -> None:
    from ucj_dev.synthetic.writers import csv_bytes as to_csv

    header = ["No", "NIK", "Nama", "Tgl Lahir", "JK", "Kode Kab/Kota", "Kode OPD", "OPD", "Program", "Sumber Dana"]
    rows = [
        [1, "1310014503850001", "Siti", "12/03/1985", "P", "=cmd|' /C calc'!A0", "1.01", "Dinas", "JKK", "APBD"],
        [2, "1310014503850002", "Ani", "12/03/1985", "P", "", "1.01", "Dinas", "JKK", "APBD"],
    ]
    frame = interpret(read_roster(to_csv([header, *rows]), "o.csv", "opd"), "opd", JAN)
    assert [r.split(";") for r in frame["reason"]] == [["unknown_regency_code"], ["missing_regency_code"]]


def test_a_cell_that_is_no_unit_name_never_names_a_unit() -> None:
    """A NIK typed in the village-name column, or a formula as an OPD name: the row keeps its unit, not the text."""
    from ucj_dev.synthetic.writers import csv_bytes as to_csv

    village = [VILLAGE_HEADER, village_row(1), village_row(2)]
    village[1][6], village[2][6] = "1310014503850009", '=HYPERLINK("http://x")'
    frame = interpret(read_roster(to_csv(village), "v.csv", "village"), "village", JAN)
    assert list(frame["unit_name"]) == [None, None]
    assert list(frame["unit_key"]) == ["1310012002", "1310012002"]

    header = ["No", "NIK", "Nama", "Tgl Lahir", "JK", "Kode Kab/Kota", "Kode OPD", "OPD", "Program", "Sumber Dana"]
    rows = [
        [1, "1310014503850001", "Siti", "12/03/1985", "P", "1310", "", "=cmd|' /C calc'!A0", "JKK", "APBD"],
        [2, "1310014503850002", "Ani", "12/03/1985", "P", "1310", "", "Dinas Kesehatan", "JKK", "APBD"],
    ]
    frame = interpret(read_roster(to_csv([header, *rows]), "o.csv", "opd"), "opd", JAN)
    assert list(frame["unit_name"]) == [None, "Dinas Kesehatan"]
    assert frame["reason"][0] == "missing_opd"  # no code, and no name that can identify the OPD
    assert frame["status"][1] == "loaded"
