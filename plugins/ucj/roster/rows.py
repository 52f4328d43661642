"""Interpret raw roster rows and give each one its state (CONTRACT.md §2).

A row is ``loaded`` when it has a name, a plausible birth date, a known
program and a known reporting unit; otherwise ``quarantined`` with every
reason that applies (machine-readable codes, ``;``-separated) and its original
cell values. A missing or bad NIK never quarantines: the worker is still
covered, and identity resolution finds them by name and birth date. The
second and later copies of an identical row in one file are ``duplicate``.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import json
import re
from functools import lru_cache
from typing import Any

import pandas as pd

from ucj.identity.names import name_key
from ucj.reference import regency_codes, village_codes
from ucj.roster.parse import (
    cell_text,
    is_blank,
    parse_date,
    parse_flag,
    parse_funding,
    parse_gender,
    parse_money,
    parse_nik,
    parse_programs,
    parse_region_code,
    parse_status,
    parse_text,
)
from ucj.roster.read import RawRoster
from ucj.settings import pipeline_config, vocabulary

PROGRAMS = ("JKK", "JKM", "JHT", "JP", "JKP")

# Column order of the interpreted roster, shared with the warehouse COPY.
ROW_COLUMNS = [
    "source_row", "status", "reason", "nik", "nik_quality", "full_name", "name_key", "birth_date",
    "birth_place", "gender", "programs", "enrollment_start", "enrollment_end", "is_active",
    "funding_source", "contribution", "segment", "unit_key", "unit_code", "unit_name",
    "regency_code", "village_code", "employment_status", "position", "category", "occupation",
    "sector", "wage", "row_hash", "original",
]  # fmt: skip


def period_end(period: dt.date) -> dt.date:
    return period.replace(day=calendar.monthrange(period.year, period.month)[1])


def _age(born: dt.date, on: dt.date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


@lru_cache(maxsize=4)
def _segment_rules(kind: str) -> list[tuple[str, list[str], re.Pattern[str] | None]]:
    rules = []
    for rule in vocabulary()["segments"][kind]:
        pattern = re.compile(rule["pattern"], re.IGNORECASE) if "pattern" in rule else None
        rules.append((rule["segment"], rule.get("fields", []), pattern))
    return rules


def segment_for(kind: str, fields: dict[str, str | None]) -> str:
    for segment, names, pattern in _segment_rules(kind):
        if pattern is None or any(pattern.search(fields.get(n) or "") for n in names):
            return segment
    raise ValueError(f"no default segment configured for {kind}")  # configuration error


def interpret(raw: RawRoster, kind: str, period: dt.date) -> pd.DataFrame:
    """One output row per raw row, in sheet order, every one with a state."""
    cfg = pipeline_config()["validation"]
    end = period_end(period)
    known_regencies, known_villages = regency_codes(), village_codes()
    seen_hashes: set[str] = set()
    records: list[dict[str, Any]] = []
    for source_row, values in raw.rows:
        reasons: list[str] = []
        rec: dict[str, Any] = {"source_row": source_row}

        texts = {f: cell_text(v) for f, v in values.items()}
        rec["original"] = json.dumps(
            {raw.columns[f]: t for f, t in texts.items() if t}, ensure_ascii=False, sort_keys=True
        )
        rec["row_hash"] = hashlib.blake2b(
            "\x1f".join(f"{f}={texts[f]}" for f in sorted(texts)).encode(), digest_size=16
        ).hexdigest()

        rec["nik"], rec["nik_quality"] = parse_nik(values.get("nik"))
        name = parse_text(values.get("full_name"))
        rec["full_name"] = name
        rec["name_key"] = name_key(name)
        if not rec["name_key"]:
            reasons.append("missing_name")

        born = parse_date(values.get("birth_date"))
        rec["birth_date"] = born
        if born is None:
            reasons.append("missing_birth_date" if is_blank(values.get("birth_date")) else "invalid_birth_date")
        elif born > end:
            reasons.append("birth_date_in_future")
        elif not cfg["min_age_years"] <= _age(born, end) <= cfg["max_age_years"]:
            reasons.append("age_out_of_range")

        rec["birth_place"] = parse_text(values.get("birth_place"))
        rec["gender"] = parse_gender(values.get("gender"))

        programs, _unknown = parse_programs(values.get("programs"))
        flagged = [p for p in PROGRAMS if parse_flag(values.get(f"flag_{p}"))]
        programs = [p for p in PROGRAMS if p in programs or p in flagged]
        rec["programs"] = ",".join(programs) or None
        if not programs:
            reasons.append("no_known_program")

        rec["enrollment_start"] = parse_date(values.get("enrollment_start"))
        if rec["enrollment_start"] is None and not is_blank(values.get("enrollment_start")):
            reasons.append("invalid_enrollment_start")
        rec["enrollment_end"] = parse_date(values.get("enrollment_end"))
        if rec["enrollment_end"] is None and not is_blank(values.get("enrollment_end")):
            reasons.append("invalid_enrollment_end")
        rec["is_active"] = parse_status(values.get("status"))
        if rec["is_active"] is None:
            reasons.append("unknown_status")

        rec["funding_source"] = parse_funding(values.get("funding_source"))
        rec["contribution"] = parse_money(values.get("contribution"))
        rec["wage"] = parse_money(values.get("wage"))
        for f in ("employment_status", "position", "category", "occupation", "sector"):
            rec[f] = parse_text(values.get(f))

        reasons += _reporting_unit(kind, values, rec, known_regencies, known_villages)
        rec["segment"] = segment_for(kind, rec)

        if rec["row_hash"] in seen_hashes:
            rec["status"], rec["reason"] = "duplicate", None
        else:
            seen_hashes.add(rec["row_hash"])
            rec["status"] = "quarantined" if reasons else "loaded"
            rec["reason"] = ";".join(reasons) if reasons else None
        records.append(rec)
    return pd.DataFrame.from_records(records, columns=ROW_COLUMNS)


def _reporting_unit(
    kind: str,
    values: dict[str, object],
    rec: dict[str, Any],
    known_regencies: frozenset[str],
    known_villages: frozenset[str],
) -> list[str]:
    """Fill unit fields; return the reasons the unit is not a known one."""
    reasons: list[str] = []
    rec["village_code"] = None
    if kind == "village":
        code = parse_region_code(values.get("village_code"))
        rec["unit_code"] = rec["unit_key"] = rec["village_code"] = code
        rec["unit_name"] = parse_text(values.get("village_name"))
        rec["regency_code"] = code[:4] if code else None
        if code is None:
            reasons.append("missing_village_code")
        elif code not in known_villages:
            reasons.append("unknown_village_code")
        return reasons

    regency = parse_region_code(values.get("regency_code"))
    rec["regency_code"] = regency
    if regency is None:
        reasons.append("missing_regency_code")
    elif regency not in known_regencies:
        reasons.append("unknown_regency_code")
    if kind == "opd":
        code = parse_text(values.get("opd_code"))
        rec["unit_name"] = parse_text(values.get("opd_name"))
        # OPD codes repeat across regencies, so the unit is regency + code.
        ident = code or (rec["unit_name"].upper() if rec["unit_name"] else None)
        rec["unit_code"] = ident
        rec["unit_key"] = f"{regency}/{ident}" if ident and regency else None
        if ident is None:
            reasons.append("missing_opd")
    else:
        npp = parse_text(values.get("npp"))
        npp = re.sub(r"[\s.\-']", "", npp).upper() if npp else None
        rec["unit_code"] = rec["unit_key"] = npp or None
        rec["unit_name"] = parse_text(values.get("employer_name"))
        if not npp:
            reasons.append("missing_npp")
    return reasons
