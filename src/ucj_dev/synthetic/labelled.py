"""Labelled worker records at three difficulty levels, for measuring identity resolution.

Each record knows the person it stands for, so a resolver's grouping can be
scored pair by pair. Independent of the sample generator (``ucj_dev.synthetic.sample``)
and of the pipeline's own name rules, so the benchmark and the tests that use
it do not grade the resolver against itself.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from dataclasses import dataclass

MALE = ["Muhammad", "Ahmad", "Rudi", "Joko", "Agus", "Hendra", "Yusuf", "Irfan", "Fajar", "Dedi", "Rizki", "Arif",
        "Bambang", "Slamet", "Wahyu", "Eko", "Andi", "Syaiful", "Ilham", "Zulkifli"]  # fmt: skip
FEMALE = ["Siti", "Nur", "Dewi", "Sri", "Rina", "Fitri", "Yuni", "Ratna", "Wati", "Lestari", "Aisyah", "Nurhayati",
          "Suryani", "Rahmawati", "Fatimah", "Indah", "Desi", "Putri", "Ani", "Mega"]  # fmt: skip
FAMILY = ["Saputra", "Siregar", "Nasution", "Harahap", "Lubis", "Tanjung", "Piliang", "Chaniago", "Sikumbang",
          "Koto", "Lamasitudju", "Lasahido", "Pettalolo", "Wijaya", "Hidayat", "Kurniawan", "Setiawan", "Pratama",
          "Gunawan", "Susanto", "Rahman", "Hasibuan", "Daulay", "Simatupang"]  # fmt: skip
TITLES_BEFORE = ["H.", "Hj.", "Dr.", "Ir.", "Drs."]
TITLES_AFTER = ["S.Pd.", "S.E.", "S.Kom.", "A.Md.", "S.H.", "M.Pd."]
SPELLING = {"Muhammad": ["M.", "Muhamad", "Moh.", "Mohammad"], "Ahmad": ["Achmad", "Akhmad"],
            "Yusuf": ["Yusup"], "Syaiful": ["Saiful"]}  # fmt: skip

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
class Person:
    pid: int
    first: str
    family: str
    gender: str
    born: dt.date
    nik: str
    village: str
    relative: int | None = None


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


def _nik(district: str, gender: str, born: dt.date, serial: int) -> str:
    day = born.day + (40 if gender == "P" else 0)
    return f"{district}{day:02d}{born.month:02d}{born.year % 100:02d}{serial:04d}"


def people(n: int, level: dict[str, float], rng: random.Random) -> list[Person]:
    villages = _villages()
    districts = [d for d in _districts() if d in villages]
    out: list[Person] = []
    niks: set[str] = set()
    while len(out) < n:
        pid = len(out)
        gender = rng.choice("LP")
        first = rng.choice(MALE if gender == "L" else FEMALE)
        if rng.random() < 0.3:
            first += " " + rng.choice(MALE if gender == "L" else FEMALE)
        family = rng.choice(FAMILY)
        born = dt.date(1960, 1, 1) + dt.timedelta(days=rng.randrange(0, 45 * 365))
        district = rng.choice(districts)
        nik = _nik(district, gender, born, rng.randrange(1, 9000))
        if nik in niks:
            continue
        niks.add(nik)
        village = rng.choice(villages[district])
        person = Person(pid, first, family, gender, born, nik, village)
        out.append(person)
        roll = rng.random()
        if roll < level["twins"] and len(out) < n:
            # A twin: same family name, birth date, district and village; NIK serial next to the sibling's.
            g = rng.choice("LP")
            twin_first = rng.choice([f for f in (MALE if g == "L" else FEMALE) if f != first.split()[0]])
            twin_nik = _nik(district, g, born, int(nik[-4:]) + 1)
            if twin_nik not in niks:
                niks.add(twin_nik)
                out.append(Person(len(out), twin_first, family, g, born, twin_nik, village, relative=pid))
        elif roll < level["twins"] + level["namesakes"] and len(out) < n:
            # Same name, another person born elsewhere and another day.
            other_born = born + dt.timedelta(days=rng.randrange(30, 4000))
            other_district = rng.choice(districts)
            other_nik = _nik(other_district, gender, other_born, rng.randrange(1, 9000))
            if other_nik not in niks:
                niks.add(other_nik)
                out.append(Person(len(out), first, family, gender, other_born, other_nik,
                                  rng.choice(villages[other_district])))  # fmt: skip
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
        words = [rng.choice(SPELLING[w]) if w in SPELLING else w for w in words]
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
