"""A landing zone at benchmark scale: one month, realistic file counts.

Thousands of small village files, dozens of OPD files, a few large employer
files and many small ones - the shape FACTS.md describes for a province. Rows
are contract-conformant with a little mess (missing NIKs, titles, bad rows);
accuracy is the sample generator's job, this one is about volume.
"""

from __future__ import annotations

import random
from pathlib import Path

from ucj.reference import regions
from ucj_dev.synthetic.people import SAMPLE_NAMES, draw
from ucj_dev.synthetic.sample import SHAPE
from ucj_dev.synthetic.writers import write_roster

PROVINCES = ("13", "16", "72", "12")


def _people(rng: random.Random, n: int, regencies: list[str]) -> list[tuple[str, str, str, str]]:
    """``n`` people, the i-th with NIK serial i mod 9999 + 1: two share a NIK only with the same serial,
    regency and birth date, so a million people need no uniqueness check (a rare repeat is one more typo)."""
    rows = []
    for i in range(n):
        p = draw(rng, i, SHAPE, [f"{regencies[i % len(regencies)]}01"], serial=(i % 9999) + 1)
        # A second family name (a father's or husband's name), as most adults in a village roster carry.
        name = f"{p.name} {rng.choice(SAMPLE_NAMES.family)}"
        rows.append((p.nik, name, f"{p.born.day:02d}/{p.born.month:02d}/{p.born.year}", p.gender))
    return rows


def _rows(rng: random.Random, people: list, count: int) -> list[list[str]]:
    rows = []
    for _ in range(count):
        nik, name, born, gender = people[rng.randrange(len(people))]
        roll = rng.random()
        if roll < 0.05:
            nik = ""
        elif roll < 0.08:
            name = "Hj. " + name + ", S.Pd."
        elif roll < 0.10:
            born = "31/02/1985"  # quarantined
        rows.append([nik, name, born, gender, "JKK, JKM", "Aktif"])
    return rows


def _write(path: Path, header: list[str], rows: list[list[str]], fmt: str) -> None:
    titles = [["DAFTAR PESERTA BPJS KETENAGAKERJAAN"], [path.stem.upper()]]
    write_roster(path, [*titles, header, *rows], "csv:;:utf-8" if fmt == "csv" else fmt, write_only=True)


def generate(root: Path, total_rows: int, fmt: str, period: str = "2025-01", seed: int = 7) -> dict[str, int]:
    """Write one month of rosters; return file and row counts per kind."""
    rng = random.Random(seed)  # noqa: S311 - benchmark data
    villages = sorted(c for c, r in regions().items() if r.level == "village" and c[:2] in PROVINCES)
    regencies = sorted(c for c, r in regions().items() if r.level == "regency" and c[:2] in PROVINCES)
    # Every village sends a file, and employers take what villages and OPDs leave: below this the shape breaks.
    if total_rows < 5 * len(villages):
        raise ValueError(f"bulk needs at least {5 * len(villages):,} rows: one roster per village of {PROVINCES}")
    people = _people(rng, int(total_rows * 0.8), regencies)
    person = ["NIK", "Nama", "Tgl Lahir", "JK", "Program", "Status"]
    counts = {"opd": 0, "village": 0, "employer": 0}
    files = {"opd": 0, "village": 0, "employer": 0}

    village_rows = int(total_rows * 0.4)
    per_village = max(1, village_rows // len(villages))
    folder = root / "village" / period
    folder.mkdir(parents=True, exist_ok=True)
    for code in villages:
        n = max(1, int(per_village * rng.uniform(0.2, 1.8)))
        rows = [
            [*r, code, "Perangkat" if rng.random() < 0.3 else "Pekerja Rentan", "Dana Desa"]
            for r in _rows(rng, people, n)
        ]
        _write(folder / f"desa_{code}.{fmt}", [*person, "Kode Desa", "Kategori", "Sumber Dana"], rows, fmt)
        counts["village"] += n
        files["village"] += 1

    folder = root / "opd" / period
    folder.mkdir(parents=True, exist_ok=True)
    opd_rows = int(total_rows * 0.15)
    for i in range(60):
        regency = regencies[i % len(regencies)]
        n = opd_rows // 60
        rows = [[*r, regency, f"OPD{i:03d}", "Dinas", "APBD"] for r in _rows(rng, people, n)]
        _write(
            folder / f"opd_{i:03d}.{fmt}", [*person, "Kode Kab/Kota", "Kode OPD", "Nama OPD", "Sumber Dana"], rows, fmt
        )
        counts["opd"] += n
        files["opd"] += 1

    folder = root / "employer" / period
    folder.mkdir(parents=True, exist_ok=True)
    employer_rows = total_rows - counts["village"] - counts["opd"]
    sizes = [employer_rows * 2 // 3 // 5] * 5
    small = (employer_rows - sum(sizes)) // 300
    sizes += [small] * 300
    for i, n in enumerate(sizes):
        regency = regencies[i % len(regencies)]
        rows = [[*r, f"{regency}{i:04d}", regency, "Perkebunan", "Perusahaan"] for r in _rows(rng, people, n)]
        header = [*person, "NPP", "Kode Wilayah", "Sektor", "Pembiayaan"]
        _write(folder / f"npp_{i:04d}.{fmt}", header, rows, fmt)
        counts["employer"] += n
        files["employer"] += 1
    return {"rows": sum(counts.values()), **{f"{k}_rows": v for k, v in counts.items()},
            **{f"{k}_files": v for k, v in files.items()}}  # fmt: skip
