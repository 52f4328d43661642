"""Labelled worker records at three difficulty levels, for measuring identity resolution.

Each record knows the person it stands for, so a resolver's grouping can be
scored pair by pair. People come from the shared population model
(:mod:`.people`) with a name pool of their own; the errors below are written
without the pipeline's name rules, so the benchmark and the tests that use
them do not grade the resolver against itself.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass

from ucj_dev.synthetic.people import RECORD_NAMES, TITLES_AFTER, TITLES_BEFORE, Person, Shape, draw, namesake, sibling

# Born 1960-2004; a NIK serial below 9000; three in ten with two first names ("Siti Nur").
SHAPE = Shape(RECORD_NAMES, dt.date(1960, 1, 1), born_years=45, serials=9000, second_first_name=0.3)

LEVELS = {
    # share of records with: no NIK, a one-digit NIK typo, a title, a spelling variant, word order swapped,
    # a one-letter name typo, a day/month swap in the birth date, a relative's NIK; and of people with a
    # twin (same family, birth date and village, NIK one serial apart) or a namesake born another day.
    "clean": {"missing": 0.0, "typo": 0.0, "title": 0.1, "spelling": 0.0, "order": 0.0, "letter": 0.0,
              "dob_swap": 0.0, "relative_nik": 0.0, "twins": 0.0, "namesakes": 0.01},
    "realistic": {"missing": 0.05, "typo": 0.02, "title": 0.15, "spelling": 0.5, "order": 0.05, "letter": 0.01,
                  "dob_swap": 0.01, "relative_nik": 0.005, "twins": 0.005, "namesakes": 0.02},
    "hostile": {"missing": 0.2, "typo": 0.05, "title": 0.3, "spelling": 0.7, "order": 0.15, "letter": 0.08,
                "dob_swap": 0.04, "relative_nik": 0.02, "twins": 0.02, "namesakes": 0.05},
}  # fmt: skip


@dataclass
class Record:
    rid: int
    pid: int
    nik: str | None
    full_name: str
    birth_date: dt.date
    gender: str
    village: str | None = None  # missing on most employer rosters


def _districts() -> list[str]:
    from ucj.reference import regions

    return sorted(c for c, r in regions().items() if r.level == "district" and c[:2] in ("12", "13", "16", "72"))


def _villages() -> dict[str, list[str]]:
    from ucj.reference import regions

    by_district: dict[str, list[str]] = defaultdict(list)
    for code, region in regions().items():
        if region.level == "village" and code[:2] in ("12", "13", "16", "72"):
            by_district[code[:6]].append(code)
    return {district: sorted(codes) for district, codes in by_district.items()}


def people(n: int, level: dict[str, float], rng: random.Random) -> list[Person]:
    villages = _villages()
    districts = [d for d in _districts() if d in villages]
    out: list[Person] = []
    niks: set[str] = set()
    while len(out) < n:
        person = draw(rng, len(out), SHAPE, districts, villages)
        if person.nik in niks:
            continue
        niks.add(person.nik)
        out.append(person)
        roll = rng.random()
        if roll < level["twins"] and len(out) < n:
            twin = sibling(rng, len(out), person, RECORD_NAMES)
            if twin.nik not in niks:
                niks.add(twin.nik)
                out.append(twin)
        elif roll < level["twins"] + level["namesakes"] and len(out) < n:
            other = namesake(rng, len(out), person, SHAPE, districts, villages)
            if other.nik not in niks:
                niks.add(other.nik)
                out.append(other)
    # Relatives for the "relative's NIK typed by mistake" error: someone of the same family name.
    by_family: dict[str, list[int]] = defaultdict(list)
    for p in out:
        by_family[p.family].append(p.pid)
    for p in out:
        if p.relative is None:
            p.relative = rng.choice(by_family[p.family])
    return out


def render_name(p: Person, level: dict[str, float], rng: random.Random) -> str:
    words = [*p.first.split(), p.family]
    if rng.random() < level["spelling"]:
        words = [rng.choice(RECORD_NAMES.spelling[w]) if w in RECORD_NAMES.spelling else w for w in words]
    if rng.random() < level["order"]:
        words = words[-1:] + words[:-1]
    if rng.random() < level["letter"]:
        i = rng.randrange(len(words))
        w = words[i]
        if len(w) > 3:
            j = rng.randrange(1, len(w) - 1)
            words[i] = w[:j] + w[j + 1 :] if rng.random() < 0.5 else w[:j] + w[j] + w[j:]
    name = " ".join(words)
    if rng.random() < level["title"]:
        name = f"{rng.choice(TITLES_BEFORE)} {name}" if rng.random() < 0.5 else f"{name}, {rng.choice(TITLES_AFTER)}"
    return rng.choice([name, name.upper(), name.title()])


def records(persons: list[Person], level: dict[str, float], rng: random.Random) -> list[Record]:
    out: list[Record] = []
    for p in persons:
        for _ in range(rng.choice([1, 2, 2, 3, 3, 4])):  # rosters and months the person appears in
            nik: str | None = p.nik
            roll = rng.random()
            if roll < level["missing"]:
                nik = None
            elif roll < level["missing"] + level["typo"]:
                i = rng.randrange(6, 16)
                nik = nik[:i] + str((int(nik[i]) + rng.randrange(1, 10)) % 10) + nik[i + 1 :]
            elif roll < level["missing"] + level["typo"] + level["relative_nik"]:
                nik = persons[p.relative].nik if p.relative is not None else nik
            born = p.born
            if rng.random() < level["dob_swap"] and born.day <= 12 and born.day != born.month:
                born = born.replace(day=born.month, month=born.day)
            village = p.village if rng.random() < 0.6 else None
            out.append(Record(len(out), p.pid, nik, render_name(p, level, rng), born, p.gender, village))
    rng.shuffle(out)
    return out


def realistic_records(n_people: int, seed: str) -> list[Record]:
    """Records of ``n_people`` at the realistic level, the same for the same seed."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    level = LEVELS["realistic"]
    return records(people(n_people, level, rng), level, rng)
