"""Load the reference dimensions: Kemendagri regions with population, and the working population.

Reloaded only when the shipped files (or the landing zone's
``reference/labor_force.csv``) change, by checksum in ``meta.reference_load``.
"""

from __future__ import annotations

import csv
import hashlib
import io
from typing import Any

import psycopg

from ucj.reference import LABOR_FORCE_CSV, POPULATION_CSV, REGIONS_CSV, undot
from ucj.roster.parse import parse_money

LABOR_FORCE_COLUMNS = ("regency_code", "year", "working_population", "ucj_target_pct")


class ReferenceFileError(ValueError):
    """reference/labor_force.csv in the landing zone is not usable."""


def _checksum(*blobs: bytes) -> str:
    digest = hashlib.sha256()
    for blob in blobs:
        digest.update(blob)
    return digest.hexdigest()


def load_regions(conn: psycopg.Connection) -> bool:
    """(Re)load dim_region when the shipped reference files changed; True if loaded."""
    regions_bytes, population_bytes = REGIONS_CSV.read_bytes(), POPULATION_CSV.read_bytes()
    checksum = _checksum(regions_bytes, population_bytes)
    row = conn.execute("select checksum from meta.reference_load where name = 'dim_region'").fetchone()
    if row and row[0] == checksum:
        return False
    population = {
        undot(r["code"]): int(r["total"]) for r in csv.DictReader(io.StringIO(population_bytes.decode("utf-8")))
    }
    conn.execute("create temp table region_load (like dw.dim_region) on commit drop")
    with conn.cursor().copy(
        "copy region_load (region_code, name, level, province_code, regency_code, district_code, "
        "registered_population) from stdin"
    ) as copy:
        for r in csv.DictReader(io.StringIO(regions_bytes.decode("utf-8"))):
            code = undot(r["code"])
            copy.write_row(
                (
                    code, r["name"], r["level"], code[:2],
                    code[:4] if len(code) >= 4 else None,
                    code[:6] if len(code) >= 6 else None,
                    population.get(code),
                )
            )  # fmt: skip
    conn.execute(
        """insert into dw.dim_region select * from region_load
           on conflict (region_code) do update set name = excluded.name, level = excluded.level,
             registered_population = excluded.registered_population"""
    )
    conn.execute(
        """insert into meta.reference_load values ('dim_region', %s)
           on conflict (name) do update set checksum = excluded.checksum""",
        (checksum,),
    )
    return True


def _number(text: str | None, column: str) -> float | int | None:
    """Figures as people type them: ``134.390``, ``134,390``, ``28,3``, ``28.3 %``."""
    if not (text or "").strip():
        return None
    value = parse_money(text)
    if value is None:
        raise ValueError(f"{column} {text!r} is not a number")
    return int(value) if column == "working_population" else float(value)


def _labor_force_rows(text: str, origin: str, source_label: str) -> list[tuple[Any, ...]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in LABOR_FORCE_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ReferenceFileError(f"{source_label}: missing column(s) {', '.join(missing)}")
    rows = []
    for line, r in enumerate(reader, start=2):
        try:
            population = _number(r["working_population"], "working_population")
            target = _number(r["ucj_target_pct"], "ucj_target_pct")
            rows.append(
                (
                    undot(r["regency_code"].strip()), int(r["year"]), population, target,
                    (r.get("denominator") or "").strip() or None,
                    (r.get("source") or "").strip() or source_label, origin,
                )
            )  # fmt: skip
        except (TypeError, ValueError) as exc:
            raise ReferenceFileError(f"{source_label} line {line}: {exc}") from exc
    return rows


def load_labor_force(conn: psycopg.Connection, landing_override: str | None) -> int:
    """Shipped figures, then the landing zone's reference/labor_force.csv on top."""
    rows = _labor_force_rows(LABOR_FORCE_CSV.read_text(encoding="utf-8"), "shipped", "include/reference")
    if landing_override is not None:
        override = _labor_force_rows(landing_override, "landing", "reference/labor_force.csv")
        keys = {(r[0], r[1]) for r in override}
        rows = [r for r in rows if (r[0], r[1]) not in keys] + override
    conn.execute("delete from dw.labor_force")
    with conn.cursor() as cur:
        cur.executemany("insert into dw.labor_force values (%s, %s, %s, %s, %s, %s, %s)", rows)
    return len(rows)
