"""Deterministic sample rosters with the mess clerks really send, and their ground truth.

The generator decides what each row *means* (which person, which unit,
covered or not, quarantined for what) and then writes it the way a clerk
might: title rows, header synonyms, day-first and Indonesian dates, Excel
date cells and serials, NIKs with spaces, dots, a leading apostrophe, as
Excel numbers that lost their last digit, mistyped or missing, names with
titles, degrees, other word orders and spellings, footers and signature
blocks, exact duplicate rows, and corrected files that supersede earlier
ones. The ground truth is computed from the meaning, never from the pipeline.

    python -m ucj_dev.synthetic sample /path/to/landing      # writes rosters + ground_truth.json
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import os
import random
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from ucj.reference import regions
from ucj.roster.parse import MONTH_NAMES_ID
from ucj_dev.synthetic.people import SAMPLE_NAMES, Person, Shape, draw
from ucj_dev.synthetic.writers import write_roster

SAMPLE_REGENCIES = ("1310", "1311", "1303", "7208", "1610")
SAMPLE_PERIODS = ("2025-01", "2025-02", "2025-03")
DEFAULT_SEED = 2025
# Born 1962-1999: of working age in the sample months.
SHAPE = Shape(SAMPLE_NAMES, dt.date(1962, 1, 1), born_years=38, serials=9999)

OCCUPATIONS = ["Petani", "Pedagang", "Guru Mengaji", "Garin Masjid", "Pengemudi Ojek", "Nelayan", "Buruh Tani"]
PROGRAM_BY_SEGMENT = {"PU": ["JKK", "JKM", "JHT"], "BPU": ["JKK", "JKM"], "JAKON": ["JKK", "JKM"]}
FUNDING_WORDS = {
    "APBDES": ["Dana Desa", "ADD", "APBDes", "APBNag"],
    "DBH_SAWIT": ["DBH Sawit"],
    "BAZNAS": ["Baznas"],
    "SELF": ["Mandiri", "Pribadi"],
    "APBD": ["APBD", "APBD Kabupaten"],
    "EMPLOYER": ["Perusahaan", "Pemberi Kerja"],
}
# Each regency's units draw distinct people: 4 villages of 4 officials and 10 vulnerable workers,
# 2 OPDs of 9 honorer staff, 2 employers of 10 workers (build_units).
PEOPLE_NEEDED = 4 * (4 + 10) + 2 * 9 + 2 * 10
BAD_KINDS = ("missing_birth_date", "invalid_birth_date", "no_known_program", "missing_name", "age_out_of_range")


@dataclass
class Unit:
    kind: str
    regency: str
    code: str  # village code / OPD code / NPP
    name: str
    sector: str = ""
    members: list[tuple[int, str]] = field(default_factory=list)  # (pid, segment)

    @property
    def key(self) -> str:
        """Unique across regencies: OPD codes repeat from one regency to the next."""
        return f"{self.regency}/{self.code}" if self.kind == "opd" else self.code


@dataclass
class Meaning:
    """What one written row stands for."""

    pid: int
    unit: Unit
    segment: str
    programs: list[str]
    funding: str
    active: bool = True
    start: dt.date | None = None
    end: dt.date | None = None
    bad: str | None = None  # expected quarantine reason
    duplicate: bool = False


class Generator:
    def __init__(self, seed: int = DEFAULT_SEED, people_per_regency: int = 110) -> None:
        if people_per_regency < PEOPLE_NEEDED:
            raise ValueError(f"the sample needs at least {PEOPLE_NEEDED} people per regency to fill its units")
        self.rng = random.Random(seed)  # noqa: S311 - reproducible sample data, not security
        self.people_per_regency = people_per_regency
        self.people: dict[int, Person] = {}
        self._niks: set[str] = set()
        self._name_dob: set[tuple[str, dt.date]] = set()

    # ------------------------------------------------------------------ people and units
    def _person(self, districts: list[str]) -> Person:
        while True:
            person = draw(self.rng, len(self.people) + 1, SHAPE, districts)
            key = (" ".join(sorted([person.first.lower(), person.family.lower()])), person.born)
            if key in self._name_dob or person.nik in self._niks:
                continue
            self._name_dob.add(key)
            self._niks.add(person.nik)
            self.people[person.pid] = person
            return person

    def build_units(self) -> list[Unit]:
        rng = self.rng
        units: list[Unit] = []
        for regency in SAMPLE_REGENCIES:
            districts = sorted(c for c, r in regions().items() if r.level == "district" and c.startswith(regency))
            desa = sorted(c for c, r in regions().items() if r.level == "village" and c.startswith(regency))
            pool = [self._person(districts).pid for _ in range(self.people_per_regency)]
            rng.shuffle(pool)
            villages = [Unit("village", regency, c, regions()[c].name) for c in rng.sample(desa, 4)]
            opds = [
                Unit("opd", regency, "1.01.01", "Dinas Pendidikan"),
                Unit("opd", regency, "2.07.01", "Dinas Sosial"),
            ]
            employers = [
                Unit("employer", regency, f"{regency}{rng.randrange(1000, 9999)}", "PT Sawit Lestari",
                     sector="Perkebunan Kelapa Sawit"),
                Unit("employer", regency, f"{regency}{rng.randrange(1000, 9999)}", "CV Karya Bangun",
                     sector="Jasa Konstruksi"),
            ]  # fmt: skip
            supply = iter(pool)

            officials: list[int] = []
            vulnerable: list[int] = []
            for village in villages:
                ofs, vul = list(islice(supply, 4)), list(islice(supply, 10))
                officials += ofs
                vulnerable += vul
                village.members = [(p, "PU") for p in ofs] + [(p, "BPU") for p in vul]
            for opd in opds:
                # Some village officials are also honorer staff of an OPD.
                opd.members = [(p, "PU") for p in [*islice(supply, 9), *rng.sample(officials, 2)]]
            for employer in employers:
                segment = "JAKON" if "Konstruksi" in employer.sector else "PU"
                # Vulnerable workers also registered by an employer.
                employer.members = [(p, segment) for p in [*islice(supply, 10), *rng.sample(vulnerable, 2)]]
            units += villages + opds + employers
        return units

    # ------------------------------------------------------------------ one period's meanings
    def meanings(self, unit: Unit, period_index: int, period_end: dt.date) -> list[Meaning]:
        rng = self.rng
        out: list[Meaning] = []
        for pid, segment in unit.members:
            funding = {
                "opd": "APBD",
                "employer": "EMPLOYER",
                "village": "APBDES" if segment == "PU" else rng.choice(["APBDES", "DBH_SAWIT", "BAZNAS", "SELF"]),
            }[unit.kind]
            programs = list(PROGRAM_BY_SEGMENT[segment])
            if segment == "PU" and rng.random() < 0.3:
                programs.append("JP")
            m = Meaning(pid, unit, segment, programs, funding)
            roll = rng.random()
            if roll < 0.04:
                m.active = False
            elif roll < 0.07:
                m.start = period_end + dt.timedelta(days=rng.randrange(1, 40))  # enrolled after the month
            elif roll < 0.09:
                m.end = period_end - dt.timedelta(days=rng.randrange(1, 20))  # ended before month end
            elif roll < 0.4:
                m.start = period_end - dt.timedelta(days=rng.randrange(0, 900))
            bad = rng.random()
            if bad < 0.05:
                m.bad = rng.choice(BAD_KINDS)
            out.append(m)
        # A new worker joins in later months; one leaves.
        if period_index > 0 and out:
            out.pop(rng.randrange(len(out)))
        return out

    # ------------------------------------------------------------------ rendering
    def render_name(self, person: Person, typo: bool) -> str:
        rng = self.rng
        first, family = person.first, person.family
        if first in SAMPLE_NAMES.spelling and rng.random() < 0.4:
            first = rng.choice(SAMPLE_NAMES.spelling[first])
        if typo and len(family) > 4:
            i = rng.randrange(1, len(family) - 1)
            family = family[:i] + family[i + 1] + family[i] + family[i + 2 :]  # swapped letters
        tokens = [first, family]
        if rng.random() < 0.15:
            tokens.reverse()
        name = " ".join(tokens)
        roll = rng.random()
        if roll < 0.15:
            name = ("H. " if person.gender == "L" else "Hj. ") + name
        elif roll < 0.3:
            name = name + rng.choice([", S.Pd.", ", S.E.", ", A.Md.", " S.Pd.I"])
        elif roll < 0.35:
            name = "Drs. " + name
        return name.upper() if rng.random() < 0.4 else name

    def render_nik(self, person: Person, excel: bool) -> tuple[object, bool]:
        """Return (cell value, NIK still exact)."""
        rng = self.rng
        nik = person.nik
        roll = rng.random()
        if roll < 0.06:
            return "", False
        if roll < 0.10:  # one digit mistyped
            i = rng.randrange(6, 16)
            wrong = nik[:i] + str((int(nik[i]) + rng.randrange(1, 9)) % 10) + nik[i + 1 :]
            if wrong in self._niks:
                return nik, True
            return wrong, False
        if roll < 0.14 and excel:  # typed into a number cell: 15 significant digits
            return int(nik[:15] + "0"), nik.endswith("0")
        if roll < 0.20 and excel:
            return int(nik), True
        if roll < 0.23 and not excel:
            return f"{int(nik) / 1e15:.5f}E+15".replace("0E", "E"), False  # scientific: digits lost
        if roll < 0.30:
            return " ".join(nik[i : i + 4] for i in range(0, 16, 4)), True
        if roll < 0.35:
            return f"{nik[:2]}.{nik[2:4]}.{nik[4:6]}.{nik[6:12]}.{nik[12:]}", True
        if roll < 0.42:
            return "'" + nik, True
        if roll < 0.45 and not excel:
            return nik + ".0", True
        return nik, True

    def render_date(self, value: dt.date, excel: bool) -> object:
        rng = self.rng
        forms = ["iso", "slash", "dash", "dot", "month", "mon"] + (["cell", "cell", "serial"] if excel else ["serial"])
        form = rng.choice(forms)
        if form == "iso":
            return value.isoformat()
        if form == "slash":
            return f"{value.day:02d}/{value.month:02d}/{value.year}"
        if form == "dash":
            return f"{value.day:02d}-{value.month:02d}-{value.year}"
        if form == "dot":
            return f"{value.day}.{value.month:02d}.{value.year}"
        if form == "month":
            return f"{value.day} {MONTH_NAMES_ID[value.month - 1]} {value.year}"
        if form == "mon":
            return f"{value.day:02d} {MONTH_NAMES_ID[value.month - 1][:3]} {value.year}"
        serial = (value - dt.date(1899, 12, 30)).days
        if form == "serial":
            return serial if excel else str(serial)
        return value  # a real date cell

    def render_row(self, m: Meaning, excel: bool, flags: bool) -> dict[str, object]:
        rng = self.rng
        person = self.people[m.pid]
        nik_value, nik_exact = self.render_nik(person, excel)
        name = self.render_name(person, typo=nik_exact and rng.random() < 0.1)
        born: object = self.render_date(person.born, excel)
        programs = list(m.programs)
        if m.bad == "missing_birth_date":
            born = ""
        elif m.bad == "invalid_birth_date":
            born = f"31/02/{person.born.year}"
        elif m.bad == "age_out_of_range":
            born = f"{person.born.day:02d}/{person.born.month:02d}/2019"
        elif m.bad == "no_known_program":
            programs = ["JKN"]
        elif m.bad == "missing_name":
            name = ""
        gender = rng.choice({"L": ["L", "LK", "Laki-laki"], "P": ["P", "PR", "Perempuan"]}[person.gender])
        row: dict[str, object] = {
            "nik": nik_value,
            "name": name,
            "birth_place": regions()[person.district[:4]].name.replace("Kabupaten ", "").title(),
            "birth_date": born,
            "gender": gender,
            "status": ("" if rng.random() < 0.3 else rng.choice(["Aktif", "AKTIF"]))
            if m.active
            else rng.choice(["Non Aktif", "Nonaktif"]),
            "start": "" if m.start is None else self.render_date(m.start, excel),
            "end": "" if m.end is None else self.render_date(m.end, excel),
            "funding": rng.choice(FUNDING_WORDS[m.funding]),
            "contribution": rng.choice(["Rp 16.800", "16800", "16,800.00"]) if m.segment == "BPU" else "",
        }
        if flags:
            for p in ("JKK", "JKM", "JHT", "JP"):
                row[p] = rng.choice(["Y", "√", "1", "v", "Ya"]) if p in programs else ""
            if m.bad == "no_known_program":
                row["JKK"] = row["JKM"] = ""
        else:
            row["programs"] = rng.choice([", ", "+", "/", " "]).join(programs)
        return row


# Header names per kind, drawn from CONTRACT.md §2 (not from the pipeline's config).
HEADERS = {
    "nik": ["NIK", "No KTP", "Nomor KTP", "No. NIK", "Nomor Induk Kependudukan"],
    "name": ["Nama", "Nama Lengkap", "Nama Peserta", "Nama Tenaga Kerja"],
    "birth_date": ["Tgl Lahir", "Tanggal Lahir", "Tgl. Lahir"],
    "birth_place": ["Tempat Lahir"],
    "gender": ["Jenis Kelamin", "JK", "L/P"],
    "programs": ["Program", "Program BPJS", "Jenis Program"],
    "start": ["TMT", "TMT Kepesertaan", "Tgl Kepesertaan", "Tanggal Mulai"],
    "end": ["Tgl Berakhir", "Tanggal Berakhir", "TMT Berakhir"],
    "status": ["Status", "Status Kepesertaan"],
    "funding": ["Sumber Dana", "Sumber Anggaran", "Pembiayaan"],
    "contribution": ["Iuran", "Iuran per Bulan", "Nominal Iuran"],
    "village_code": ["Kode Desa", "Kode Nagari", "Kode Wilayah"],
    "village_name": ["Nama Desa", "Nagari", "Desa/Kelurahan"],
    "category": ["Kategori", "Kelompok"],
    "occupation": ["Pekerjaan"],
    "regency_code": ["Kode Kab/Kota", "Kode Wilayah"],
    "opd_code": ["Kode OPD", "Kode Unit"],
    "opd_name": ["Nama OPD", "Unit Kerja", "OPD"],
    "employment_status": ["Status Pegawai", "Status Kepegawaian"],
    "position": ["Jabatan"],
    "npp": ["NPP", "No NPP"],
    "employer_name": ["Nama Perusahaan", "Perusahaan", "Pemberi Kerja"],
    "sector": ["Sektor", "KBLI"],
    "wage": ["Upah", "Gaji"],
}


def _dotted(code: str) -> str:
    parts = [code[:2], code[2:4], code[4:6], code[6:]]
    return ".".join(p for p in parts if p)


def _unit_columns(gen: Generator, unit: Unit, m: Meaning) -> dict[str, object]:
    rng = gen.rng
    if unit.kind == "village":
        code: object = unit.code
        if m.bad == "unknown_village_code":
            code = unit.code[:6] + "9" + unit.code[7:]  # no such village
        elif rng.random() < 0.5:
            code = _dotted(unit.code)
        return {
            "village_code": code,
            "village_name": unit.name,
            "category": "Perangkat Nagari" if m.segment == "PU" else "Pekerja Rentan",
            "occupation": "Perangkat" if m.segment == "PU" else rng.choice(OCCUPATIONS),
        }
    if unit.kind == "opd":
        return {
            "regency_code": _dotted(unit.regency) if rng.random() < 0.5 else unit.regency,
            "opd_code": unit.code,
            "opd_name": unit.name,
            "employment_status": "Honorer",
            "position": rng.choice(["Staf", "Operator", "Tenaga Kebersihan", "Guru Honorer"]),
        }
    return {
        "npp": unit.code,
        "employer_name": unit.name,
        "regency_code": unit.regency,
        "sector": unit.sector,
        "wage": rng.choice(["Rp 2.800.000", "3100000", "2,950,000"]),
    }


def _write(path: Path, headers: list[str], title: list[str], rows: list[list[object]], fmt: str) -> None:
    grid: list[list[object]] = [[t] for t in title] + [headers] + rows
    write_roster(path, [[None if v == "" else v for v in line] for line in grid], fmt)


def _emit_file(
    gen: Generator, root: Path, units: list[Unit], period: str, meanings: dict[str, list[Meaning]],
    name: str, mtime: dt.datetime, truth_rows: dict[str, dict[str, Any]],
) -> None:  # fmt: skip
    """Write one roster file holding the given units' rows; record each row's expected state."""
    rng = gen.rng
    kind = units[0].kind
    fmt = rng.choice(
        ["xlsx", "xlsx", "csv:;:utf-8-sig", "csv:,:utf-8", "csv:;:cp1252"] + (["xls"] if kind != "employer" else [])
    )
    excel = fmt in ("xlsx", "xls")
    flags = rng.random() < 0.3
    fields = ["nik", "name", "birth_place", "birth_date", "gender"]
    fields += {
        "village": ["village_code", "village_name", "category", "occupation"],
        "opd": ["regency_code", "opd_code", "opd_name", "employment_status", "position"],
        "employer": ["npp", "employer_name", "regency_code", "sector", "wage"],
    }[kind]
    fields += (["JKK", "JKM", "JHT", "JP"] if flags else ["programs"]) + ["start", "end", "status", "funding"]
    fields += ["contribution"] if kind == "village" else []
    lead = ["No"]
    person_fields = fields[:5]
    rng.shuffle(person_fields)  # column order is free
    fields[:5] = person_fields
    headers = (
        lead + [f if f in ("JKK", "JKM", "JHT", "JP") else rng.choice(HEADERS[f]) for f in fields] + ["Keterangan"]
    )
    title_count = rng.randrange(0, 5)
    titles = ["DAFTAR PESERTA BPJS KETENAGAKERJAAN", f"{units[0].name.upper()}", f"BULAN {period}", ""][:title_count]
    rel = f"{kind}/{period}/{name}.{fmt.split(':')[0]}"
    file_truth: dict[str, Any] = {}
    body: list[list[object]] = []
    row_number = len(titles) + 1
    number = 0
    for unit in units:
        for m in meanings[unit.key]:
            values = gen.render_row(m, excel, flags) | _unit_columns(gen, unit, m)
            number += 1
            line = [number] + [values.get(f, "") for f in fields] + [""]
            body.append(line)
            row_number += 1
            file_truth[str(row_number)] = {"pid": m.pid, "bad": m.bad, "unit": unit.key}
            if rng.random() < 0.03 and m.bad is None:  # exact duplicate row
                body.append(list(line))
                row_number += 1
                file_truth[str(row_number)] = {"pid": m.pid, "bad": None, "unit": unit.key, "duplicate": True}
            if rng.random() < 0.03:  # an empty row in the middle
                body.append([""] * len(headers))
                row_number += 1
    footer = [["", "JUMLAH", number], [""], ["", "Mengetahui,"], ["", f"Kepala {units[0].name}"], [""],
              ["", rng.choice(SAMPLE_NAMES.family).upper() + ", S.E."], ["", "NIP. 19720512 199803 1 004"]]  # fmt: skip
    if rng.random() < 0.6:
        body += footer
    path = root / rel
    _write(path, headers, titles, body, fmt)
    ts = mtime.timestamp()
    os.utime(path, (ts, ts))
    truth_rows[rel] = {"mtime": ts, "rows": file_truth, "units": [u.key for u in units]}


def generate(root: Path, seed: int = DEFAULT_SEED, people_per_regency: int = 110) -> dict[str, Any]:
    """Write the sample landing zone under ``root`` and return (and write) its ground truth."""
    gen = Generator(seed, people_per_regency)
    units = gen.build_units()
    files: dict[str, dict[str, Any]] = {}
    in_force: dict[tuple[str, str, str], tuple[float, str]] = {}  # (period, kind, unit) -> (mtime, file)
    meanings_by_file: dict[str, dict[str, list[Meaning]]] = {}
    for index, period in enumerate(SAMPLE_PERIODS):
        year, month = map(int, period.split("-"))
        end = dt.date(year, month, calendar.monthrange(year, month)[1])
        base = dt.datetime(year, month, 1, 8, tzinfo=dt.UTC) + dt.timedelta(days=32)
        for n, unit in enumerate(units):
            meanings = {unit.key: gen.meanings(unit, index, end)}
            if unit.kind == "village" and gen.rng.random() < 0.15:
                meanings[unit.key][0].bad = "unknown_village_code"
            name = f"{unit.kind}_{unit.regency}_{unit.code.replace('.', '')}_{period}"
            stamp = base + dt.timedelta(minutes=n)
            _emit_file(gen, root, [unit], period, meanings, name, stamp, files)
            rel = next(k for k in files if k.startswith(f"{unit.kind}/{period}/{name}."))
            meanings_by_file[rel] = meanings
        # Corrections: a later file replaces a unit's rows (CONTRACT.md §1).
        corrected = [u for u in units if u.kind == "village"][index * 3]
        revised = gen.meanings(corrected, index, end)
        stamp = base + dt.timedelta(days=3)
        name = f"{corrected.kind}_{corrected.regency}_{corrected.code}_{period}_revisi"
        _emit_file(gen, root, [corrected], period, {corrected.key: revised}, name, stamp, files)
        rel = next(k for k in files if k.startswith(f"village/{period}/{name}."))
        meanings_by_file[rel] = {corrected.key: revised}
        # One OPD file carrying two OPDs, later corrected for one of them only.
        pair = [u for u in units if u.kind == "opd"][2 * index : 2 * index + 2]
        both = {u.key: gen.meanings(u, index, end) for u in pair}
        name = f"opd_{pair[0].regency}_gabungan_{period}"
        _emit_file(gen, root, pair, period, both, name, base + dt.timedelta(days=4), files)
        rel = next(k for k in files if k.startswith(f"opd/{period}/{name}."))
        meanings_by_file[rel] = both
        fix = {pair[1].key: gen.meanings(pair[1], index, end)}
        name = f"opd_{pair[1].regency}_{pair[1].code.replace('.', '')}_{period}_perbaikan"
        _emit_file(gen, root, [pair[1]], period, fix, name, base + dt.timedelta(days=5), files)
        rel = next(k for k in files if k.startswith(f"opd/{period}/{name}."))
        meanings_by_file[rel] = fix

    # Which file is in force for each unit: the latest by mtime, then path.
    for rel, info in files.items():
        kind, period, _ = rel.split("/")
        for unit_code in info["units"]:
            key = (period, kind, unit_code)
            if key not in in_force or (info["mtime"], rel) > in_force[key]:
                in_force[key] = (info["mtime"], rel)

    unit_by_code = {(u.kind, u.key): u for u in units}
    row_states: dict[str, dict[str, str]] = {}
    reported: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    covered: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    programs: dict[str, set[int]] = defaultdict(set)
    for rel, info in sorted(files.items()):
        kind, period, _ = rel.split("/")
        year, month = map(int, period.split("-"))
        end = dt.date(year, month, calendar.monthrange(year, month)[1])
        states: dict[str, str] = {}
        m: Meaning | None = None
        meanings = meanings_by_file[rel]
        cursor = {code: iter(ms) for code, ms in meanings.items()}
        for row_number, row in info["rows"].items():
            if not row.get("duplicate"):  # a duplicate repeats the row before it
                m = next(cursor[row["unit"]])
            superseded = in_force[(period, kind, row["unit"])][1] != rel and m.bad != "unknown_village_code"
            if superseded:
                states[row_number] = "superseded"
            elif row.get("duplicate"):
                states[row_number] = "duplicate"
            elif m.bad:
                states[row_number] = "quarantined:" + m.bad
            else:
                states[row_number] = "loaded"
                reported[period][unit_by_code[(kind, row["unit"])].regency].add(row["unit"])
                is_covered = m.active and (m.start is None or m.start <= end) and (m.end is None or m.end >= end)
                if is_covered:
                    unit = unit_by_code[(kind, row["unit"])]
                    covered[period][unit.regency].add(m.pid)
                    for p in m.programs:
                        programs[f"{period}|{unit.regency}|{p}|{m.segment}|{m.funding}"].add(m.pid)
        row_states[rel] = states

    truth = {
        "seed": seed,
        "periods": list(SAMPLE_PERIODS),
        "regencies": list(SAMPLE_REGENCIES),
        "people": len(gen.people),
        "covered_workers": {p: {r: len(s) for r, s in sorted(regs.items())} for p, regs in sorted(covered.items())},
        "coverage_program": {k: len(v) for k, v in sorted(programs.items())},
        "row_states": row_states,
        "units_reported": {p: {r: len(u) for r, u in sorted(regs.items())} for p, regs in sorted(reported.items())},
    }
    (root / "ground_truth.json").write_text(json.dumps(truth, indent=1, sort_keys=True), encoding="utf-8")
    return truth
