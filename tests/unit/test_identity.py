"""Identity: names, NIK evidence, and clustering rows into people."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ucj.identity.cluster import Row, cluster_rows, cluster_sequential, niks_compatible
from ucj.identity.names import display_name, name_key
from ucj.identity.nik import nik_agrees, nik_contradicts_many, nik_evidence, nik_structure_ok

BORN = dt.date(1985, 3, 12)


@pytest.mark.parametrize(
    "written",
    [
        "Siti Aminah",
        "SITI AMINAH",
        "Hj. Siti Aminah, S.Pd.",
        "Aminah Siti",
        "Dra. Siti Aminah",
        "siti   aminah, S.Pd., M.Pd.",
        "St. Aminah",
        "Sitti Aminah",
    ],
)
def test_one_name_many_spellings(written: str) -> None:
    assert name_key(written) == name_key("Siti Aminah")


@pytest.mark.parametrize(
    "written", ["M. Rizki", "Muhamad Rizki", "Moh. Rizki", "MUHAMMAD RIZKI", "H. Muhammad Rizki, S.E."]
)
def test_muhammad_and_its_abbreviations(written: str) -> None:
    assert name_key(written) == name_key("Muhammad Rizki")


def test_old_spelling_folds_to_new() -> None:
    assert name_key("Soekarno Djoko") == name_key("Sukarno Joko")


@pytest.mark.parametrize(
    ("one", "other"),
    [("Yusup Koto", "Yusuf Koto"), ("Saiful Bahri", "Syaiful Bahri"), ("Hairul Anwar", "Khairul Anwar"),
     ("Ramadan Lubis", "Ramadhan Lubis"), ("Taufik Hidayat", "Taufiq Hidayat"), ("Zulkifli", "Dzulkifli"),
     ("Arip Fitri", "Arif Pitri")],
)  # fmt: skip
def test_letters_written_for_one_sound_fold_together(one: str, other: str) -> None:
    assert name_key(one) == name_key(other)


def test_different_people_keep_different_keys() -> None:
    assert name_key("Siti Aminah") != name_key("Siti Rahmawati")
    assert name_key("") is None


def test_display_name_strips_titles() -> None:
    assert display_name("Hj. SITI AMINAH, S.Pd.") == "Siti Aminah"


def test_nik_structure() -> None:
    assert nik_structure_ok("1310015203850001")  # woman born 12-03-85 (+40)
    assert not nik_structure_ok("9910011203850001")  # no province 99
    assert not nik_structure_ok("1310011213850001")  # month 13
    assert not nik_structure_ok("1310011203850000")  # serial 0000
    assert not nik_structure_ok("1310013102850001")  # 31 February


def test_nik_agrees_with_roster_date_and_sex_whatever_the_century() -> None:
    assert nik_agrees("1310015203850001", dt.date(1985, 3, 12), "P")
    assert not nik_agrees("1310015203850001", dt.date(1985, 3, 12), "L")
    assert nik_agrees("1310011203030001", dt.date(2003, 3, 12), "L")  # 2003, not 1903


def test_one_digit_typo_is_compatible_two_are_not() -> None:
    assert niks_compatible({"1310015203850001"}, {"1310015203850007"})
    assert niks_compatible({"1310015203850001"}, {"1310015203850010"})  # transposition
    assert not niks_compatible({"1310015203850001"}, {"1310015203859901"})


def _row(i: int, nik: str | None, name: str, born: dt.date = BORN) -> Row:
    return Row(1, i, nik, name_key(name), born, None)


def _groups(rows: list[Row]) -> set[frozenset[int]]:
    return {frozenset(rows[i].source_row for i in c.rows) for c in cluster_rows(rows, 85)}


def test_same_nik_and_similar_name_is_one_person() -> None:
    rows = [
        _row(1, "1310015203850001", "Siti Aminah"),
        _row(2, "1310015203850001", "Siti Aminnah", dt.date(1985, 3, 21)),
    ]
    assert _groups(rows) == {frozenset({1, 2})}


def test_relatives_nik_does_not_merge_two_people() -> None:
    rows = [
        _row(1, "1310015203850001", "Siti Aminah"),
        _row(2, "1310015203850001", "Budi Santoso", dt.date(1960, 1, 1)),
    ]
    assert _groups(rows) == {frozenset({1}), frozenset({2})}


def test_missing_or_mistyped_nik_links_by_name_and_birth_date() -> None:
    rows = [
        _row(1, "1310015203850001", "Hj. Siti Aminah"),
        _row(2, None, "SITI AMINAH, S.Pd."),
        _row(3, "1310015203850007", "Aminah Siti"),
    ]
    assert _groups(rows) == {frozenset({1, 2, 3})}


def test_namesakes_born_the_same_day_with_distinct_niks_stay_apart() -> None:
    rows = [_row(1, "1310015203850001", "Siti Aminah"), _row(2, "7208015203854321", "Siti Aminah")]
    assert _groups(rows) == {frozenset({1}), frozenset({2})}


# A small world where rules collide: NIKs one typo apart, a relative's NIK
# (same digits, other person), namesakes, two birth dates.
_NIKS = [None, "1310015203850001", "1310015203850007", "1310015203859901", "1310014101900002"]
_NAMES = ["siti aminah", "aminah siti", "budi santoso", "siti aminnah", "rahmat hidayat"]
_BORN = [BORN, dt.date(1990, 1, 1), dt.date(1985, 3, 21)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_NIKS), st.sampled_from(_NAMES), st.sampled_from(_BORN)), max_size=40))
def test_component_clustering_equals_the_sequence_of_unions(specs: list) -> None:
    """The fast clustering must give the sequential one's clusters, NIK sets, rules and order."""
    rows = [Row(1, i, nik, name, born, None) for i, (nik, name, born) in enumerate(specs)]
    fast = [(c.rows, c.niks, c.rule) for c in cluster_rows(rows, 85)]
    assert fast == [(c.rows, c.niks, c.rule) for c in cluster_sequential(rows, 85)]


NIK_LIKE = st.one_of(
    st.text(alphabet="0123456789", min_size=16, max_size=16),
    # Near the edges: real provinces, zero regency/district/serial, days 0-79, months 0-19.
    st.builds(
        lambda p, r, d, day, month, yy, serial: f"{p}{r:02d}{d:02d}{day:02d}{month:02d}{yy:02d}{serial:04d}",
        st.sampled_from(["13", "72", "16", "00", "99", "11"]),
        st.integers(0, 99),
        st.integers(0, 99),
        st.integers(0, 79),
        st.integers(0, 19),
        st.integers(0, 99),
        st.integers(0, 9999),
    ),
    st.text(alphabet="0123456789 .'\u0661x", max_size=18),
)


@given(st.lists(NIK_LIKE, max_size=40))
@settings(max_examples=300, deadline=None)
def test_vectorised_nik_check_agrees_with_the_scalar_one(niks: list[str]) -> None:
    from ucj.identity.nik import nik_structure_ok_many

    assert nik_structure_ok_many(niks).tolist() == [nik_structure_ok(n) for n in niks]


def test_vectorised_nik_check_knows_leap_days_and_women() -> None:
    from ucj.identity.nik import nik_structure_ok_many

    # 29 Feb (a woman: day + 40), 30 Feb, 29 Feb, 31 Feb, 31 Apr, 30 Apr
    niks = ["1310016902000001", "1310017002000001", "1310012902000001", "1310013102000001", "1310013104000001",
            "1310013004000001"]  # fmt: skip
    assert nik_structure_ok_many(niks).tolist() == [True, False, True, False, False, True]


@settings(max_examples=200, deadline=None)
@given(
    st.binary(min_size=1, max_size=150),  # keys shorter and longer than SHA-256's 64-byte block
    st.lists(st.one_of(st.none(), st.just(""), st.text("0123456789", min_size=1, max_size=20)), max_size=20),
)
def test_nik_tokens_are_the_keyed_hmac_of_each_nik(key: bytes, niks: list[str | None]) -> None:
    import hashlib
    import hmac

    from ucj.identity.privacy import nik_token, nik_tokens

    expected = [hmac.new(key, n.encode(), hashlib.sha256).hexdigest() if n else None for n in niks]
    assert nik_tokens(niks, key) == expected
    assert [nik_token(n, key) for n in niks] == expected


# ---------------------------------------------------------------- NIK evidence: a NIK must not contradict its row
@pytest.mark.parametrize(
    ("born", "gender", "evidence"),
    [
        (dt.date(1985, 3, 12), "P", True),  # the NIK's own date and sex
        (dt.date(1985, 3, 12), None, True),  # sex unknown: the date decides
        (dt.date(1985, 3, 13), "P", True),  # one digit off
        (dt.date(1985, 3, 21), "P", True),  # two neighbouring digits transposed
        (dt.date(1985, 12, 3), "P", True),  # day and month swapped
        (dt.date(1984, 3, 12), "P", True),  # a year off
        (dt.date(2085, 3, 12), "P", True),  # the NIK has two year digits only
        (dt.date(1985, 3, 12), "L", False),  # a woman's NIK on a man's row
        (dt.date(1990, 7, 5), "P", False),  # another person's birth date: a relative's NIK
        (dt.date(1985, 7, 5), "P", False),  # day and month both off
    ],
)
def test_a_nik_is_evidence_only_where_it_does_not_contradict_its_row(born: dt.date, gender: str | None,
                                                                       evidence: bool) -> None:  # fmt: skip
    nik = "1310015203850001"  # a woman born 12-03-1985
    assert (nik_evidence(nik, born, gender) == nik) is evidence
    assert nik_evidence("1310011303850000", born, gender) is None  # serial 0000: not a NIK at all
    assert nik_evidence(nik, None, gender) == nik  # no date to contradict


def _contradicts(nik: str | None, born: dt.date | None, gender: str | None) -> bool:
    """The rule restated one row at a time: sex digit, then the date digits up to one slip."""
    from rapidfuzz.distance import DamerauLevenshtein

    if nik is None or born is None or len(nik) != 16 or not nik.isdigit():
        return False
    day, month, year = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    female = day > 40
    day -= 40 if female else 0
    if gender in ("L", "P") and female != (gender == "P"):
        return True
    ours, theirs = f"{day:02d}{month:02d}{year:02d}", f"{born.day:02d}{born.month:02d}{born.year % 100:02d}"
    swapped = (day, month, year) == (born.month, born.day, born.year % 100)
    year_off = (day, month) == (born.day, born.month) and (year - born.year) % 100 in (1, 99)
    return not (DamerauLevenshtein.distance(ours, theirs) <= 1 or swapped or year_off)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), NIK_LIKE),
            st.one_of(st.none(), st.dates(dt.date(1940, 1, 1), dt.date(2010, 12, 31))),
            st.sampled_from([None, "L", "P", "X"]),
        ),
        max_size=30,
    )
)
def test_vectorised_contradiction_check_agrees_with_the_rule_row_by_row(rows: list) -> None:
    import pyarrow as pa

    niks, born, gender = (list(column) for column in zip(*rows, strict=True)) if rows else ([], [], [])
    got = nik_contradicts_many(pa.array(niks, pa.string()), pa.array(born, pa.date32()), pa.array(gender, pa.string()))
    assert got.tolist() == [_contradicts(*row) for row in rows]


def test_a_twins_nik_typed_for_the_other_twin_does_not_merge_them() -> None:
    """Twins share family name, birth date and village; one's NIK on the other's row is a NIK that
    agrees with the row (same date, same sex), so the names decide."""
    born = dt.date(1979, 8, 13)
    lestari, suryani = "1301135308795726", "1301135308795727"
    rows = [
        Row(1, 1, lestari, name_key("Lestari Koto"), born, "P"),
        Row(1, 2, suryani, name_key("Suryani Koto"), born, "P"),
        Row(1, 3, lestari, name_key("SURYANI KOTO"), born, "P"),  # her twin's NIK
        Row(1, 4, lestari, name_key("Hj. Lestari Koto"), born, "P"),
    ]
    assert _groups(rows) == {frozenset({1, 4}), frozenset({2, 3})}


def test_a_nik_shared_on_the_same_birth_date_joins_a_name_with_a_word_dropped() -> None:
    born = dt.date(1985, 3, 12)
    rows = [Row(1, 1, "1310015203850001", name_key("Siti Nur Aminah"), born, "P"),
            Row(1, 2, "1310015203850001", name_key("Aminah"), born, "P")]  # fmt: skip
    assert _groups(rows) == {frozenset({1, 2})}


def test_a_relatives_nik_neither_joins_the_relative_nor_keeps_the_row_from_its_own_person() -> None:
    """Ratna's line carries her mother's NIK (the mother's birth date in its digits): the row is
    Ratna's by name and birth date, and the mother stays apart."""
    ratna, mother = "7202194608016239", "1605134612618357"  # born 06-08-2001; 06-12-1961
    rows = [
        Row(1, 1, ratna, name_key("Ratna Piliang"), dt.date(2001, 8, 6), "P"),
        Row(1, 2, mother, name_key("RATNA PILIANG"), dt.date(2001, 8, 6), "P"),
        Row(1, 3, mother, name_key("Ratna Piliang"), dt.date(1961, 12, 6), "P"),  # the mother, a namesake
    ]
    assert _groups(rows) == {frozenset({1, 2}), frozenset({3})}
