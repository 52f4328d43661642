"""Reference data shipped with the project (see include/reference/README.md).

Region codes are Kemendagri's kode wilayah. Codes are kept without dots
(``13.10.01.2002`` -> ``1310012002``) everywhere inside the pipeline.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache

from ucj.settings import REFERENCE_DIR

REGIONS_CSV = REFERENCE_DIR / "regions.csv"
POPULATION_CSV = REFERENCE_DIR / "population.csv"
LABOR_FORCE_CSV = REFERENCE_DIR / "labor_force.csv"


def undot(code: str) -> str:
    return code.replace(".", "")


@dataclass(frozen=True)
class Region:
    code: str  # without dots
    name: str
    level: str  # province | regency | district | village


@lru_cache(maxsize=1)
def regions() -> dict[str, Region]:
    with open(REGIONS_CSV, encoding="utf-8", newline="") as fh:
        return {undot(r["code"]): Region(undot(r["code"]), r["name"], r["level"]) for r in csv.DictReader(fh)}


def _codes(level: str) -> frozenset[str]:
    return frozenset(code for code, region in regions().items() if region.level == level)


@lru_cache(maxsize=1)
def province_codes() -> frozenset[str]:
    return _codes("province")


@lru_cache(maxsize=1)
def regency_codes() -> frozenset[str]:
    return _codes("regency")


@lru_cache(maxsize=1)
def village_codes() -> frozenset[str]:
    return _codes("village")
