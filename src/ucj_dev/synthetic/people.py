"""Who exists: the one population model every synthetic level draws its people from.

A person is a name, a sex, a birth date, a home district (and village) and
the NIK those imply (district code, birth day + 40 for women, month, two-digit
year, serial), drawn from a :class:`Shape`. The levels differ in what they do
with people afterwards, not in how people are made:

* ``sample`` keeps name + birth date unique and writes people into the units
  of five regencies, with a clerk's mess per cell;
* ``bulk`` draws hundreds of thousands with serials that cannot collide and
  repeats them across files for volume;
* the labelled record levels (``clean`` / ``realistic`` / ``hostile``) add twins,
  namesakes and relatives, then corrupt each record at the level's rates.

Two name pools: the sample's and the labelled records' (other family names,
two-word first names). Identity is measured on the second, so a rule that
learnt the sample's names by heart does not score well for it.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Names:
    male: tuple[str, ...]
    female: tuple[str, ...]
    family: tuple[str, ...]
    spelling: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def first_names(self, gender: str) -> tuple[str, ...]:
        return self.male if gender == "L" else self.female


SAMPLE_NAMES = Names(
    male=("Muhammad", "Ahmad", "Budi", "Rizki", "Andi", "Fajar", "Hendra", "Yusuf", "Arif", "Dedi", "Irwan",
          "Rahmat", "Syafri", "Zulkifli", "Hasan", "Ilham", "Putra", "Agus", "Joko", "Rudi", "Taufik", "Wahyu",
          "Fauzan", "Hidayat", "Iqbal", "Reza", "Surya", "Yogi", "Aldi", "Bayu"),
    female=("Siti", "Nur", "Dewi", "Rina", "Fitri", "Yuliana", "Sri", "Ani", "Lestari", "Rahmawati", "Putri",
            "Indah", "Wulan", "Desi", "Eka", "Maya", "Novi", "Ratna", "Sari", "Yeni", "Zahra", "Aisyah", "Fatimah",
            "Hana", "Intan", "Melati", "Nadia", "Rosmawati", "Susanti", "Yusnidar"),
    family=("Saputra", "Hidayat", "Nasution", "Siregar", "Harahap", "Lubis", "Putri", "Wahyuni", "Rahman",
            "Syahputra", "Pratama", "Kurniawan", "Wijaya", "Susanto", "Hakim", "Aminah", "Fauzi", "Yusra",
            "Chaniago", "Piliang", "Tanjung", "Koto", "Sikumbang", "Caniago", "Lamasi", "Lasadi", "Pakaya",
            "Manoppo", "Daeng", "Ramli", "Effendi", "Gunawan", "Halim", "Irawan", "Junaidi", "Marlina",
            "Nofriadi", "Oktaviani", "Prasetyo"),
    spelling={"Muhammad": ("M.", "Muhamad", "Moh."), "Ahmad": ("Achmad", "Akhmad")},
)  # fmt: skip

RECORD_NAMES = Names(
    male=("Muhammad", "Ahmad", "Rudi", "Joko", "Agus", "Hendra", "Yusuf", "Irfan", "Fajar", "Dedi", "Rizki", "Arif",
          "Bambang", "Slamet", "Wahyu", "Eko", "Andi", "Syaiful", "Ilham", "Zulkifli"),
    female=("Siti", "Nur", "Dewi", "Sri", "Rina", "Fitri", "Yuni", "Ratna", "Wati", "Lestari", "Aisyah", "Nurhayati",
            "Suryani", "Rahmawati", "Fatimah", "Indah", "Desi", "Putri", "Ani", "Mega"),
    family=("Saputra", "Siregar", "Nasution", "Harahap", "Lubis", "Tanjung", "Piliang", "Chaniago", "Sikumbang",
            "Koto", "Lamasitudju", "Lasahido", "Pettalolo", "Wijaya", "Hidayat", "Kurniawan", "Setiawan", "Pratama",
            "Gunawan", "Susanto", "Rahman", "Hasibuan", "Daulay", "Simatupang"),
    spelling={"Muhammad": ("M.", "Muhamad", "Moh.", "Mohammad"), "Ahmad": ("Achmad", "Akhmad"),
              "Yusuf": ("Yusup",), "Syaiful": ("Saiful",)},
)  # fmt: skip

TITLES_BEFORE = ("H.", "Hj.", "Dr.", "Ir.", "Drs.")
TITLES_AFTER = ("S.Pd.", "S.E.", "S.Kom.", "A.Md.", "S.H.", "M.Pd.")


@dataclass(frozen=True)
class Shape:
    """How a level's people are spread: birth years, NIK serials, two-word first names."""

    names: Names
    born_from: dt.date
    born_years: int
    serials: int  # serials drawn from 1..serials-1
    second_first_name: float = 0.0  # share with a second first name ("Siti Nur")


@dataclass
class Person:
    pid: int
    first: str
    family: str
    gender: str  # L or P, as the NIK encodes it
    born: dt.date
    nik: str
    district: str
    village: str | None = None
    relative: int | None = None  # a relative's pid, for "someone else's NIK typed by mistake"

    @property
    def name(self) -> str:
        return f"{self.first} {self.family}"


def nik(district: str, gender: str, born: dt.date, serial: int) -> str:
    """The NIK a person with this district, sex and birth date would carry (the layout ``ucj.identity.nik`` checks)."""
    day = born.day + (40 if gender == "P" else 0)
    return f"{district}{day:02d}{born.month:02d}{born.year % 100:02d}{serial:04d}"


def draw(
    rng: random.Random,
    pid: int,
    shape: Shape,
    districts: Sequence[str],
    villages: Mapping[str, Sequence[str]] | None = None,
    serial: int | None = None,
) -> Person:
    """One person; the caller decides what makes a draw unacceptable (a NIK or name taken) and draws again.

    The order of the random draws is part of each level's reproducibility:
    sex, first name(s), family name, birth date, district, serial, village.
    """
    gender = rng.choice("LP")
    pool = shape.names.first_names(gender)
    first = rng.choice(pool)
    if shape.second_first_name and rng.random() < shape.second_first_name:
        first += " " + rng.choice(pool)
    family = rng.choice(shape.names.family)
    born = shape.born_from + dt.timedelta(days=rng.randrange(0, shape.born_years * 365))
    district = rng.choice(districts)
    number = rng.randrange(1, shape.serials) if serial is None else serial
    village = rng.choice(villages[district]) if villages is not None else None
    return Person(pid, first, family, gender, born, nik(district, gender, born, number), district, village)


def sibling(rng: random.Random, pid: int, of: Person, names: Names) -> Person:
    """A twin of ``of``: family name, birth date, district and village shared, the next NIK serial."""
    gender = rng.choice("LP")
    first = rng.choice([f for f in names.first_names(gender) if f != of.first.split()[0]])
    serial = int(of.nik[-4:]) + 1
    return Person(pid, first, of.family, gender, of.born, nik(of.district, gender, of.born, serial), of.district,
                  of.village, relative=of.pid)  # fmt: skip


def namesake(
    rng: random.Random, pid: int, of: Person, shape: Shape, districts: Sequence[str],
    villages: Mapping[str, Sequence[str]],
) -> Person:  # fmt: skip
    """Another person of the same name, born another day somewhere else."""
    born = of.born + dt.timedelta(days=rng.randrange(30, 4000))
    district = rng.choice(districts)
    number = nik(district, of.gender, born, rng.randrange(1, shape.serials))
    return Person(pid, of.first, of.family, of.gender, born, number, district, rng.choice(villages[district]))
