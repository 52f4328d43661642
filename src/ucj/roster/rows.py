"""Interpret raw roster rows and give each one its state (CONTRACT.md §2).

A row is ``loaded`` when it has a name, a plausible birth date, a known
program and a known reporting unit; otherwise ``quarantined`` with every
reason that applies (machine-readable codes, ``;``-separated) and its original
cell values. A missing or bad NIK never quarantines: the worker is still
covered, and identity resolution finds them by name and birth date. The
second and later copies of an identical row in one file are ``duplicate``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ucj.identity.names import name_key
from ucj.identity.nik import sixteen_digits
from ucj.period import period_end
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
    parse_unit_name,
)
from ucj.roster.read import RawRoster
from ucj.settings import settings, vocabulary

# The BPJS Ketenagakerjaan programs, from the vocabulary (their one home).
# A row's programs are a bit mask in this order: append, never reorder.
PROGRAMS: tuple[str, ...] = tuple(vocabulary()["programs"])

# Column order of the interpreted roster, shared with the warehouse COPY.
ROW_COLUMNS = [
    "source_row", "status", "reason", "nik", "nik_quality", "full_name", "name_key", "birth_date",
    "birth_place", "gender", "programs", "enrollment_start", "enrollment_end", "is_active",
    "funding_source", "contribution", "segment", "unit_key", "unit_code", "unit_name",
    "regency_code", "village_code", "employment_status", "position", "category", "occupation",
    "sector", "wage", "row_hash", "original",
]  # fmt: skip


def age_at(born: dt.date, on: dt.date) -> int:
    """Completed years on ``on`` - the one age rule, shared by row checks and validation."""
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


def _factorize(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """Each value's code and the distinct values (None for "nothing"), in order of first appearance."""
    text = _as_text(values)
    if text is not None:
        # A column of text and empty cells (every CSV column): Arrow hashes it
        # in C, a tenth of what pandas took over the same Python objects.
        encoded = text.dictionary_encode(null_encoding="encode")
        return encoded.indices.to_numpy().astype(np.intp), encoded.dictionary.to_numpy(zero_copy_only=False)
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=False)
    # factorize turns None into NaN; the parsers expect None for "nothing".
    return codes, np.array([None if u is None or (isinstance(u, float) and u != u) else u for u in uniques],
                           dtype=object)  # fmt: skip


def _as_text(values: Any) -> pa.Array | None:
    """``values`` as an Arrow string array if each is a str or None; else None (Excel's numbers, dates)."""
    try:
        return pa.array(values, type=pa.string())
    except (pa.ArrowException, TypeError, ValueError, UnicodeError):
        return None


def _parse_niks(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``parse_nik`` of each distinct value, as two object arrays (NIK, quality).

    A month holds half a million distinct NIKs, nearly all typed as 16
    digits: those are picked out in Arrow and kept as they are ("ok", as
    parse_nik's first case says); every other value goes through parse_nik.
    """
    niks = np.full(len(values), None, dtype=object)
    qualities = np.empty(len(values), dtype=object)
    text = _as_text(values)
    if text is None:
        plain = np.zeros(len(values), dtype=bool)
    else:
        plain = sixteen_digits(text)
        niks[plain] = values[plain]
        qualities[plain] = "ok"
    for i in np.flatnonzero(~plain).tolist():
        niks[i], qualities[i] = parse_nik(values[i])
    return niks, qualities


def _apply(factors: tuple[np.ndarray, np.ndarray], fn: Callable[[Any], Any]) -> np.ndarray:
    codes, uniques = factors
    results = np.empty(len(uniques), dtype=object)
    results[:] = [fn(u) for u in uniques]
    return results[codes]


def _umap(values: Any, fn: Callable[[Any], Any]) -> np.ndarray:
    """Apply ``fn`` once per distinct value: rosters repeat codes, dates and programs a lot."""
    return _apply(_factorize(values), fn)


class _Columns:
    """The batch's raw columns, each factorized once however many parsers read it.

    Factorizing a million-row object column is most of what applying a
    parser per distinct value costs, and most columns are read twice (as
    text for the duplicate check, then parsed).
    """

    def __init__(self, raws: list[RawRoster], fields: list[str]) -> None:
        # Column by column, straight from the files' rows (each file's row
        # tuples transposed in one go): a DataFrame built from a million row
        # dicts, and then cleared of the NaN it puts in for fields a file
        # lacks, cost more than reading the cells twice.
        files = [
            (dict(zip(raw.columns, zip(*raw.cells, strict=True), strict=True)) if raw.cells else {}, len(raw.cells))
            for raw in raws
        ]
        self.columns: dict[str, list[object]] = {}
        for name in fields:
            column: list[object] = []
            for by_field, rows in files:
                column.extend(by_field.get(name) or [None] * rows)
            self.columns[name] = column
        self.n = sum(rows for _, rows in files)
        self._factors: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.columns

    def __len__(self) -> int:
        return self.n

    def factors(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Each row's code and the column's distinct values (a column the file lacks is all None)."""
        if name not in self._factors:
            if name in self.columns:
                self._factors[name] = _factorize(self.columns[name])
            else:
                self._factors[name] = (np.zeros(self.n, dtype=np.intp), np.array([None], dtype=object))
        return self._factors[name]

    def map(self, name: str, fn: Callable[[Any], Any]) -> np.ndarray:
        """``fn`` of column ``name`` row by row."""
        return _apply(self.factors(name), fn)

    def texts(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Each row's code and the clerk's view (``cell_text``) of each distinct value."""
        codes, uniques = self.factors(name)
        return codes, np.array([cell_text(u) for u in uniques], dtype=object)


# FNV-1a's 64-bit prime: mixes each column's hash into the row's.
_MIX = np.uint64(0x100000001B3)


def _row_hashes(columns: list[tuple[np.ndarray, np.ndarray]], n: int) -> np.ndarray:
    """A 64-bit hash of each row's cell texts, column order included.

    Each distinct text is hashed once and gathered by the column's codes:
    hashing a million rows' cells one by one was a tenth of interpreting
    them.
    """
    hashes = np.zeros(n, dtype=np.uint64)
    for codes, texts in columns:
        hashes = (hashes ^ pd.util.hash_array(texts, categorize=False)[codes]) * _MIX
    return hashes


def _program_mask(value: object) -> int:
    listed = parse_programs(value)[0]
    return sum(1 << j for j, p in enumerate(PROGRAMS) if p in listed)


# Mask -> "JKK,JKM" in PROGRAMS order, or None for no program.
_PROGRAM_SETS = np.array(
    [",".join(p for j, p in enumerate(PROGRAMS) if m >> j & 1) or None for m in range(1 << len(PROGRAMS))],
    dtype=object,
)


def _isnull(values: np.ndarray) -> np.ndarray:
    return np.fromiter((v is None for v in values), dtype=bool, count=len(values))


def interpret(raw: RawRoster, kind: str, period: dt.date) -> pd.DataFrame:
    """One output row per raw row of one file, in sheet order, every one with a state."""
    return interpret_many([raw], kind, period).drop(columns="file_index")


def interpret_many(raws: list[RawRoster], kind: str, period: dt.date) -> pd.DataFrame:
    """Interpret the rows of several files of one kind and month at once.

    Column-wise: each parser runs once per distinct value of its column across
    all the files, so a batch of thousands of small village files costs what
    its distinct values cost, not thousands of small DataFrames.
    ``file_index`` says which of ``raws`` a row came from.
    """
    fields = sorted({f for raw in raws for f in raw.columns})
    columns = _Columns(raws, fields)
    n = len(columns)
    file_index = np.repeat(np.arange(len(raws)), [len(raw.row_numbers) for raw in raws])
    # Built as plain object arrays and turned into a frame once: assigning
    # column by column makes pandas infer (and convert to) string dtypes.
    out: dict[str, Any] = {
        "file_index": file_index,
        "source_row": np.array([row for raw in raws for row in raw.row_numbers], dtype=object),
    }
    # Exact duplicates: identical cells in every mapped column of one file.
    texts = {f: columns.texts(f) for f in fields}
    hashes = _row_hashes([texts[f] for f in fields], n)
    out["row_hash"] = np.frombuffer(hashes.astype(">u8").tobytes().hex().encode("ascii"), dtype="S16").astype(str)
    reasons = {
        **_person(columns, out, period_end(period)),
        **_coverage(columns, out),
        **_reporting_units(kind, columns, out),
    }
    out["segment"] = _segments(kind, out)
    bad, duplicate = _states(out, reasons, file_index, hashes)
    out["original"] = _originals(raws, texts, file_index, out, bad & ~duplicate)
    frame_out = pd.DataFrame({c: out[c] for c in ROW_COLUMNS}, dtype=object)
    frame_out["file_index"] = file_index
    return frame_out


def _person(columns: _Columns, out: dict[str, Any], end: dt.date) -> dict[str, np.ndarray]:
    """Who the row is: NIK, name, birth date and place, gender; the reasons those are unusable."""
    cfg = settings().validation
    reasons: dict[str, np.ndarray] = {}
    codes, uniques = columns.factors("nik")
    niks, qualities = _parse_niks(uniques)
    out["nik"] = niks[codes]
    out["nik_quality"] = qualities[codes]
    # Each distinct name parsed once, for the name shown and for its key.
    codes, uniques = columns.factors("full_name")
    parsed = np.empty(len(uniques), dtype=object)
    parsed[:] = [parse_text(u) for u in uniques]
    out["full_name"] = parsed[codes]
    out["name_key"] = _apply((codes, parsed), name_key)
    reasons["missing_name"] = _isnull(out["name_key"])
    born = columns.map("birth_date", parse_date)
    out["birth_date"] = born
    blank_birth = columns.map("birth_date", is_blank).astype(bool)
    no_birth = _isnull(born)
    reasons["missing_birth_date"] = no_birth & blank_birth
    reasons["invalid_birth_date"] = no_birth & ~blank_birth
    born_factors = _factorize(born)
    ages = _apply(born_factors, lambda b: None if b is None else age_at(b, end))
    in_future = _apply(born_factors, lambda b: b is not None and b > end).astype(bool)
    reasons["birth_date_in_future"] = in_future
    reasons["age_out_of_range"] = np.array(
        [
            a is not None and not f and not cfg.min_age_years <= a <= cfg.max_age_years
            for a, f in zip(ages, in_future, strict=True)
        ]
    )
    out["birth_place"] = columns.map("birth_place", parse_text)
    out["gender"] = columns.map("gender", parse_gender)
    return reasons


def _coverage(columns: _Columns, out: dict[str, Any]) -> dict[str, np.ndarray]:
    """What the row covers: programs, enrollment, status, funding, money, job; the reasons they are unusable."""
    reasons: dict[str, np.ndarray] = {}
    # Each row's programs as a bit mask (bit j: PROGRAMS[j]), listed or flagged,
    # then spelt from a table of every combination.
    mask = columns.map("programs", _program_mask).astype(np.int64)
    for j, p in enumerate(PROGRAMS):
        if f"flag_{p}" in columns:
            mask |= columns.map(f"flag_{p}", parse_flag).astype(bool).astype(np.int64) << j
    out["programs"] = _PROGRAM_SETS[mask]
    reasons["no_known_program"] = _isnull(out["programs"])
    for name in ("enrollment_start", "enrollment_end"):
        parsed = columns.map(name, parse_date)
        out[name] = parsed
        reasons[f"invalid_{name}"] = _isnull(parsed) & ~columns.map(name, is_blank).astype(bool)
    active = columns.map("status", parse_status)
    out["is_active"] = active
    reasons["unknown_status"] = _isnull(active)
    out["funding_source"] = columns.map("funding_source", parse_funding)
    out["contribution"] = columns.map("contribution", parse_money)
    out["wage"] = columns.map("wage", parse_money)
    for f in ("employment_status", "position", "category", "occupation", "sector"):
        out[f] = columns.map(f, parse_text)
    return reasons


def _states(
    out: dict[str, Any], reasons: dict[str, np.ndarray], file_index: np.ndarray, hashes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's status and reasons (in REASON_ORDER); returns which rows are bad and which duplicates."""
    n = len(file_index)
    order = [code for code in REASON_ORDER if code in reasons]
    matrix = np.column_stack([reasons[c] for c in order]) if n else np.zeros((0, len(order)), dtype=bool)
    bad = matrix.any(axis=1) if n else np.zeros(0, dtype=bool)
    duplicate = pd.DataFrame({"f": file_index, "h": hashes}).duplicated().to_numpy()
    out["status"] = np.where(duplicate, "duplicate", np.where(bad, "quarantined", "loaded"))
    reason_text = np.empty(n, dtype=object)
    for i in np.flatnonzero(bad & ~duplicate):
        reason_text[i] = ";".join(c for c, hit in zip(order, matrix[i], strict=True) if hit)
    out["reason"] = reason_text
    return bad, duplicate


def _originals(
    raws: list[RawRoster], texts: dict[str, Any], file_index: np.ndarray, out: dict[str, Any], quarantined: np.ndarray
) -> np.ndarray:
    """The original cells (by the file's own headers) of the rows a clerk must correct.

    Quarantined rows, and counted rows whose NIK is broken; other rows are
    fully described by their parsed values.
    """
    nik_problem = np.isin(np.asarray(out["nik_quality"], dtype=object), list(NIK_PROBLEMS))
    nik_problem &= out["status"] != "duplicate"
    original = np.empty(len(file_index), dtype=object)
    for i in np.flatnonzero(quarantined | nik_problem):
        headers = raws[file_index[i]].columns
        cells = {f: texts[f][1][texts[f][0][i]] for f in headers}
        original[i] = json.dumps({headers[f]: v for f, v in cells.items() if v}, ensure_ascii=False, sort_keys=True)
    return original


NIK_PROBLEMS = ("invalid", "lost_digits", "excel_number")

REASON_ORDER = [
    "missing_name", "missing_birth_date", "invalid_birth_date", "birth_date_in_future", "age_out_of_range",
    "no_known_program", "invalid_enrollment_start", "invalid_enrollment_end", "unknown_status",
    "missing_village_code", "unknown_village_code", "missing_regency_code", "unknown_regency_code",
    "missing_opd", "missing_npp",
]  # fmt: skip


def _segments(kind: str, out: dict[str, Any]) -> list[str]:
    keys = zip(out["category"], out["occupation"], out["sector"], strict=True)
    cache: dict[tuple[Any, ...], str] = {}
    result = []
    for key in keys:
        if key not in cache:
            cache[key] = segment_for(kind, dict(zip(("category", "occupation", "sector"), key, strict=True)))
        result.append(cache[key])
    return result


def _reporting_units(kind: str, columns: _Columns, out: dict[str, Any]) -> dict[str, np.ndarray]:
    """Fill unit columns; return the reasons a row's unit is not a known one."""
    known_regencies, known_villages = regency_codes(), village_codes()
    if kind == "village":
        row_codes, uniques = columns.factors("village_code")
        parsed = np.array([parse_region_code(u) for u in uniques], dtype=object)
        codes = parsed[row_codes]
        out["village_code"] = out["unit_code"] = out["unit_key"] = codes
        out["unit_name"] = columns.map("village_name", parse_unit_name)
        out["regency_code"] = np.array([c[:4] if c else None for c in parsed], dtype=object)[row_codes]
        # Missing means an empty cell; anything typed that is not a known code (``=cmd|...``, ``abc``) is unknown.
        missing = np.array([parse_text(u) is None for u in uniques], dtype=bool)[row_codes]
        unknown = ~missing & ~np.array([c in known_villages for c in parsed], dtype=bool)[row_codes]
        return {"missing_village_code": missing, "unknown_village_code": unknown}

    regency = columns.map("regency_code", parse_region_code)
    out["regency_code"] = regency
    out["village_code"] = [None] * len(columns)
    missing_regency = _isnull(columns.map("regency_code", parse_text))
    known = _umap(regency, lambda c: c is not None and c in known_regencies).astype(bool)
    reasons = {"missing_regency_code": missing_regency, "unknown_regency_code": ~missing_regency & ~known}
    if kind == "opd":
        codes = columns.map("opd_code", parse_text)
        out["unit_name"] = columns.map("opd_name", parse_unit_name)
        # OPD codes repeat across regencies, so the unit is regency + code;
        # without a code the OPD's name identifies it.
        ident = [c or (nm.upper() if nm else None) for c, nm in zip(codes, out["unit_name"], strict=True)]
        out["unit_code"] = ident
        out["unit_key"] = [f"{r}/{i}" if i and r else None for r, i in zip(regency, ident, strict=True)]
        reasons["missing_opd"] = np.array([i is None for i in ident], dtype=bool)
    else:
        npp = columns.map(
            "npp",
            lambda v: (re.sub(r"[\s.\-']", "", t).upper() or None) if (t := parse_text(v)) else None,
        )
        out["unit_code"] = out["unit_key"] = npp
        out["unit_name"] = columns.map("employer_name", parse_unit_name)
        reasons["missing_npp"] = _isnull(npp)
    return reasons
