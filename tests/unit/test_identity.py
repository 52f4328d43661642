"""Identity: names, NIK evidence, and clustering rows into people."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ucj.identity.cluster import Row, cluster_rows, cluster_sequential, niks_compatible
from ucj.identity.names import display_name, name_key
from ucj.identity.nik import nik_agrees, nik_structure_ok

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
