"""The synthetic levels draw people from one population model and stay reproducible."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest

from ucj.identity.nik import nik_agrees
from ucj_dev import synthetic
from ucj_dev.synthetic import bulk, labelled, people, sample


def test_a_drawn_persons_nik_encodes_their_birth_date_sex_and_district() -> None:
    shape = people.Shape(people.RECORD_NAMES, dt.date(1960, 1, 1), born_years=45, serials=9000)
    rng = random.Random(1)  # noqa: S311 - test data
    for pid in range(500):
        p = people.draw(rng, pid, shape, ["130101", "720801"])
        assert p.nik.startswith(p.district)
        assert nik_agrees(p.nik, p.born, p.gender), p
        assert p.gender in "LP"
        assert 1 <= int(p.nik[-4:]) < 9000


def test_a_twin_shares_all_but_the_first_name_and_takes_the_next_serial() -> None:
    shape = people.Shape(people.RECORD_NAMES, dt.date(1960, 1, 1), born_years=45, serials=9000)
    rng = random.Random(2)  # noqa: S311 - test data
    for pid in range(0, 200, 2):
        p = people.draw(rng, pid, shape, ["130101"], {"130101": ["1301012001", "1301012002"]})
        twin = people.sibling(rng, pid + 1, p, people.RECORD_NAMES)
        assert (twin.family, twin.born, twin.district, twin.village) == (p.family, p.born, p.district, p.village)
        assert twin.first != p.first.split()[0]
        assert int(twin.nik[-4:]) == int(p.nik[-4:]) + 1
        assert twin.relative == p.pid
        assert nik_agrees(twin.nik, twin.born, twin.gender)


def test_every_level_makes_its_people_with_the_population_model() -> None:
    """Sample, bulk and labelled records: each person's NIK is the one people.nik gives them."""
    gen = sample.Generator()
    gen.build_units()
    for p in gen.people.values():
        assert isinstance(p, people.Person)
        assert p.nik == people.nik(p.district, p.gender, p.born, int(p.nik[-4:]))
    rng = random.Random(3)  # noqa: S311 - test data
    for p in labelled.people(300, labelled.LEVELS["hostile"], rng):
        assert isinstance(p, people.Person)
        assert nik_agrees(p.nik, p.born, p.gender)
    rows = bulk._people(random.Random(4), 2000, ["1301", "7208"])  # noqa: S311 - test data
    assert len({nik for nik, *_ in rows}) == 2000  # the serial is the person's number: no collisions
    for nik, _, born, gender in rows:
        day, month, year = map(int, born.split("/"))
        assert nik_agrees(nik, dt.date(year, month, day), gender)


def test_the_sample_and_the_records_are_the_same_for_the_same_seed(tmp_path: Path) -> None:
    first = synthetic.generate("sample", tmp_path / "a", people_per_regency=sample.PEOPLE_NEEDED)
    again = synthetic.generate("sample", tmp_path / "b", people_per_regency=sample.PEOPLE_NEEDED)
    assert first == again
    csvs = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.csv"))
    assert csvs
    assert all((tmp_path / "a" / p).read_bytes() == (tmp_path / "b" / p).read_bytes() for p in csvs)
    assert synthetic.records("realistic", 200, "s") == synthetic.records("realistic", 200, "s")
    assert synthetic.records("realistic", 200, "s") != synthetic.records("realistic", 200, "t")


def test_unknown_levels_are_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown roster level 'huge'"):
        synthetic.generate("huge", tmp_path)
    with pytest.raises(ValueError, match="at least 94 people per regency"):
        synthetic.generate("sample", tmp_path, people_per_regency=93)
    with pytest.raises(ValueError, match="unknown record level 'messy'"):
        synthetic.records("messy", 10, "s")
