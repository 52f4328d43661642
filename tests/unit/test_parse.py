"""Value parsers: every form CONTRACT.md §2 promises, plus property tests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ucj.roster.parse import (
    parse_date,
    parse_flag,
    parse_funding,
    parse_gender,
    parse_money,
    parse_nik,
    parse_programs,
    parse_region_code,
    parse_status,
    parse_unit_name,
)

MARCH_12 = dt.date(1985, 3, 12)
MONTHS = ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September",
          "Oktober", "November", "Desember"]  # fmt: skip


@pytest.mark.parametrize(
    "value",
    [
        "1985-03-12",
        "12/03/1985",
        "12-03-1985",
        "12.03.1985",
        "12 Maret 1985",
        "12 Mar 1985",
        "12 MARET 1985",
        dt.datetime(1985, 3, 12),
        dt.date(1985, 3, 12),
        31118,  # Excel serial number
        31118.0,
        "31118",
        "1985-03-12 00:00:00",
    ],
)
def test_every_contract_date_form_is_day_first(value: object) -> None:
    assert parse_date(value) == MARCH_12


@pytest.mark.parametrize("value", ["31/02/1985", "12/13/1985", "kemarin", "", None, "  ", True, 1.5, "03/12"])
def test_impossible_or_unreadable_dates_are_none(value: object) -> None:
    assert parse_date(value) is None


@given(st.dates(min_value=dt.date(1901, 1, 1), max_value=dt.date(2099, 12, 31)))
def test_dates_round_trip_through_every_written_form(d: dt.date) -> None:
    serial = (d - dt.date(1899, 12, 30)).days
    forms = [
        d.isoformat(),
        f"{d.day:02d}/{d.month:02d}/{d.year}",
        f"{d.day}-{d.month}-{d.year}",
        f"{d.day:02d}.{d.month:02d}.{d.year}",
        f"{d.day} {MONTHS[d.month - 1]} {d.year}",
        f"{d.day} {MONTHS[d.month - 1][:3]} {d.year}",
        serial,
        float(serial),
    ]
    assert {parse_date(f) for f in forms} == {d}


@given(st.one_of(st.text(), st.integers(), st.floats(), st.none(), st.booleans()))
def test_date_parser_never_raises(value: object) -> None:
    parse_date(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1310014503850001", ("1310014503850001", "ok")),
        ("1310 0145 0385 0001", ("1310014503850001", "ok")),
        ("13.10.01.450385.0001", ("1310014503850001", "ok")),
        ("'1310014503850001", ("1310014503850001", "ok")),
        ("1310014503850001.0", ("1310014503850001", "excel_number")),
        (1310014503850001.0, ("1310014503850001", "excel_number")),
        (1310014503850001, ("1310014503850001", "excel_number")),
        ("1.31001E+15", (None, "lost_digits")),
        ("1,31001E+15", (None, "lost_digits")),
        ("131001450385", (None, "invalid")),
        ("", (None, "missing")),
        (None, (None, "missing")),
    ],
)
def test_nik_forms(value: object, expected: tuple[str | None, str]) -> None:
    assert parse_nik(value) == expected


@given(st.from_regex(r"\A[1-9]\d{15}\Z"))
def test_nik_survives_every_decoration(nik: str) -> None:
    spaced = " ".join(nik[i : i + 4] for i in range(0, 16, 4))
    for form in (nik, spaced, "'" + nik, nik[:4] + "." + nik[4:], f"{nik}.0"):
        assert parse_nik(form)[0] == nik


@given(st.one_of(st.text(), st.integers(), st.floats(), st.none()))
def test_nik_parser_returns_16_digits_or_none(value: object) -> None:
    nik, quality = parse_nik(value)
    assert nik is None or (len(nik) == 16 and nik.isdigit())
    assert quality in {"ok", "excel_number", "lost_digits", "invalid", "missing"}


@pytest.mark.parametrize(
    ("value", "known"),
    [
        ("JKK, JKM", ["JKK", "JKM"]),
        ("JKK+JKM+JHT", ["JKK", "JKM", "JHT"]),
        ("jkm/jkk", ["JKK", "JKM"]),
        ("JKK; JKM; JP", ["JKK", "JKM", "JP"]),
        ("JKK JKM JHT JP JKP", ["JKK", "JKM", "JHT", "JP", "JKP"]),
        ("JKK dan JKM", ["JKK", "JKM"]),
        ("JKN", []),
        ("BPJS Kesehatan", []),
        ("JKN, JKK", ["JKK"]),
        ("", []),
    ],
)
def test_program_lists(value: str, known: list[str]) -> None:
    assert parse_programs(value)[0] == known


@given(
    st.lists(st.sampled_from(["JKK", "JKM", "JHT", "JP", "JKP"]), min_size=1),
    st.sampled_from([",", "+", "/", ";", " ", ", "]),
)
def test_program_lists_any_separator(programs: list[str], sep: str) -> None:
    known, unknown = parse_programs(sep.join(programs))
    assert set(known) == set(programs)
    assert unknown == []


@pytest.mark.parametrize("value", ["Y", "Ya", "1", "√", "v", "x", "TRUE", True, 1, 1.0, "ya "])
def test_program_flags_that_mean_enrolled(value: object) -> None:
    assert parse_flag(value) is True


@pytest.mark.parametrize("value", ["", None, "0", "Tidak", "-", 0, False])
def test_program_flags_that_do_not(value: object) -> None:
    assert parse_flag(value) is False


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Rp 16.800", Decimal("16800.00")),
        ("16800", Decimal("16800.00")),
        ("16,800.00", Decimal("16800.00")),
        ("Rp16.800,00", Decimal("16800.00")),
        ("Rp. 2.800.000", Decimal("2800000.00")),
        (16800, Decimal("16800.00")),
        (16800.5, Decimal("16800.50")),
        ("enam belas ribu", None),
        ("", None),
    ],
)
def test_money(value: object, expected: Decimal | None) -> None:
    assert parse_money(value) == expected


@given(st.integers(min_value=0, max_value=10**11))
def test_money_thousand_separators_either_way(amount: int) -> None:
    dotted = f"{amount:,}".replace(",", ".")
    assert parse_money(f"Rp {dotted}") == parse_money(f"{amount:,}.00") == Decimal(amount).quantize(Decimal("0.01"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [("L", "L"), ("LK", "L"), ("Laki-laki", "L"), ("laki laki", "L"), ("P", "P"), ("PR", "P"), ("Perempuan", "P"),
     ("X", None), ("", None)],
)  # fmt: skip
def test_gender(value: str, expected: str | None) -> None:
    assert parse_gender(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"), [("Aktif", True), ("", True), (None, True), ("Non Aktif", False), ("Nonaktif", False),
                            ("NON AKTIF", False), ("meninggal?", None)]
)  # fmt: skip
def test_status(value: object, expected: bool | None) -> None:
    assert parse_status(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Dana Desa", "APBDES"),
        ("ADD", "APBDES"),
        ("APBDes", "APBDES"),
        ("APBNag", "APBDES"),
        ("DBH Sawit", "DBH_SAWIT"),
        ("Baznas", "BAZNAS"),
        ("CSR PT Semen", "CSR"),
        ("Perusahaan", "EMPLOYER"),
        ("Pemberi Kerja", "EMPLOYER"),
        ("Mandiri", "SELF"),
        ("Pribadi", "SELF"),
        ("APBD", "APBD"),
        ("APBD Kabupaten", "APBD"),
        ("", None),
        ("hibah", None),
    ],
)
def test_funding_source(value: str, expected: str | None) -> None:
    assert parse_funding(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("13.10", "1310"), ("1310", "1310"), (1310, "1310"), (13.1, "1310"), ("13.10.01.2002", "1310012002"),
     ("1310012002", "1310012002"), ("kab solok", None)],
)  # fmt: skip
def test_region_codes_with_or_without_dots(value: object, expected: str | None) -> None:
    assert parse_region_code(value) == expected


@pytest.mark.parametrize("value", ["Laki - Laki", "LAKI-LAKI", "laki laki", "L.", "Lk"])
def test_gender_spelling_noise(value: str) -> None:
    assert parse_gender(value) == "L"


def test_program_list_with_dashes() -> None:
    assert parse_programs("JKK-JKM")[0] == ["JKK", "JKM"]


@pytest.mark.parametrize(
    ("cell", "name"),
    [
        ("Nagari Koto Baru", "Nagari Koto Baru"),
        ("  Dinas   PU-PR  ", "Dinas PU-PR"),
        ("CV 17 Agustus", "CV 17 Agustus"),
        ("SMPN 1 Sangir", "SMPN 1 Sangir"),
        ("=cmd|' /C calc'!A0", None),  # a formula
        ("+HYPERLINK(x)", None),
        ("@SUM(1)", None),
        ("1310014503850001", None),  # a NIK in the wrong column
        ("Siti 081234567890", None),  # a phone number
        ("12/03/1985", None),  # a date
        ("<script>x</script>", None),
        ("Desa\x01Baru", None),
        ("A" * 121, None),  # a paragraph, not a name
        ("123", None),
        (1310012002.0, None),  # a number cell
        ("", None),
        (None, None),
    ],
)
def test_only_a_cell_that_can_be_a_unit_name_becomes_one(cell: object, name: str | None) -> None:
    assert parse_unit_name(cell) == name


@given(st.text(max_size=200))
def test_a_unit_name_is_short_plain_text_or_nothing(cell: str) -> None:
    name = parse_unit_name(cell)
    if name is not None:
        assert len(name) <= 120
        assert name[0] not in "=+@"
        assert not any(ord(ch) < 32 for ch in name)
