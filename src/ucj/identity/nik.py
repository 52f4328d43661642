"""NIK (Nomor Induk Kependudukan) structure, as evidence for matching.

A NIK is PP KK CC DDMMYY SSSS: province, regency, district, birth date (day +
40 for women) and a serial. A structurally valid NIK whose date disagrees with
the roster can still be genuine (a NIK is never reissued when a birth date is
corrected), so this module grades evidence; it never rejects a row.

What identity uses as a row's NIK evidence (:func:`nik_evidence`) is a
structurally valid NIK that does not contradict its own row: the sex digit
matches the roster's sex, and the date digits are the roster's birth date
up to one digit, two neighbouring digits transposed, a day/month swap or a
year one off (a clerk's slip on either side). A NIK that contradicts the
row is most often a relative's, typed into the wrong line of a family's
rosters; as evidence it would join the row to the relative (when the names
are alike) or keep it apart from its own person's rows (two NIKs that
cannot be one person's). The NIK stays on the row as typed; identity only
does not lean on it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ucj.reference import province_codes


@lru_cache(maxsize=2_000_000)
def nik_structure_ok(nik: str | None) -> bool:
    """Province exists, date part is a real day (women +40), serial is not 0000."""
    if not nik or len(nik) != 16 or not nik.isdigit():
        return False
    if nik[:2] not in province_codes():
        return False
    if nik[2:4] == "00" or nik[4:6] == "00" or nik[12:] == "0000":
        return False
    day, month = int(nik[6:8]), int(nik[8:10])
    if day > 40:
        day -= 40
    if not 1 <= month <= 12 or not 1 <= day <= 31:
        return False
    try:
        dt.date(2000, month, day)  # leap-year safe check of day within month
    except ValueError:
        return False
    return True


# Days in each month of a leap year (index 1-12): the check above, dt.date(2000, month, day).
_DAYS_IN_MONTH = np.array([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def sixteen_digits(array: pa.Array) -> np.ndarray:
    """Which strings of ``array`` are 16 ASCII digits (a NIK as typed), as booleans; null is not."""
    plain = pc.and_(pc.equal(pc.binary_length(array), 16), pc.ascii_is_decimal(array))
    return pc.fill_null(plain, False).to_numpy(zero_copy_only=False)


def nik_structure_ok_many(niks: Sequence[str | None] | pa.Array) -> np.ndarray:
    """:func:`nik_structure_ok` of every NIK, as booleans, in a few array operations.

    Identity checks every distinct NIK of a month (half a million and more);
    one Python call each cost seconds, and so did a Python test per NIK of
    which ones are plain digits. NIKs of 16 ASCII digits, nearly all of
    them, are picked out and checked digit by digit in Arrow and numpy;
    anything else goes to the scalar function, so the two always agree
    (tested). ``niks``: a sequence, or an Arrow string array as identity has it.
    """
    array = niks if isinstance(niks, pa.Array) else pa.array(list(niks), type=pa.string())
    plain = sixteen_digits(array)
    result = np.zeros(len(array), dtype=bool)
    for i in np.flatnonzero(~plain).tolist():
        if array[i].is_valid:
            result[i] = nik_structure_ok(array[i].as_py())
    if not plain.any():
        return result
    fixed = pc.filter(array, pa.array(plain)).cast(pa.binary(16))  # 16 bytes a NIK, back to back
    raw = np.frombuffer(fixed.buffers()[1], dtype=np.uint8)[fixed.offset * 16 : (fixed.offset + len(fixed)) * 16]
    digits = raw.reshape(-1, 16).astype(np.int64) - 48

    def number(start: int, end: int) -> np.ndarray:
        return digits[:, start:end] @ (10 ** np.arange(end - start - 1, -1, -1))

    provinces = np.array(sorted(int(p) for p in province_codes() if p.isdigit()), dtype=np.int64)
    day, month = number(6, 8), number(8, 10)
    day = np.where(day > 40, day - 40, day)
    month_ok = (month >= 1) & (month <= 12)
    ok = (
        np.isin(number(0, 2), provinces)
        & (number(2, 4) != 0) & (number(4, 6) != 0) & (number(12, 16) != 0)
        & month_ok & (day >= 1) & (day <= _DAYS_IN_MONTH[np.where(month_ok, month, 0)])
    )  # fmt: skip
    result[plain] = ok
    return result


def nik_evidence(nik: str | None, birth_date: dt.date | None, gender: str | None) -> str | None:
    """The row's NIK if identity may use it (valid, and not contradicting the row), else None."""
    if not nik or not nik_structure_ok(nik):
        return None
    if birth_date is None:
        return nik
    return nik_evidence_many(
        pa.array([nik]), pa.array([birth_date], type=pa.date32()), pa.array([gender], type=pa.string())
    )[0].as_py()


def nik_evidence_many(niks: pa.Array, birth_dates: pa.Array, genders: pa.Array) -> pa.Array:
    """:func:`nik_evidence` of every row, as a string array (null where a row's NIK is no evidence).

    Each distinct NIK's structure is checked once; a month holds half a million of them.
    """
    niks, birth_dates, genders = (a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a
                                  for a in (niks, birth_dates, genders))  # fmt: skip
    distinct = pc.unique(niks.drop_null())
    valid = pc.is_in(niks, value_set=pc.filter(distinct, pa.array(nik_structure_ok_many(distinct), type=pa.bool_())))
    valid = pc.and_(pc.fill_null(valid, False), pa.array(~nik_contradicts_many(niks, birth_dates, genders)))
    return pc.if_else(valid, niks, pa.scalar(None, pa.string()))


def nik_contradicts_many(niks: pa.Array, birth_dates: pa.Array, genders: pa.Array) -> np.ndarray:
    """Which structurally valid NIKs contradict their own row's birth date or sex (see the module).

    ``niks``: strings (the caller checks the structure; anything but 16
    digits contradicts nothing here); ``birth_dates``: date32; ``genders``:
    ``L`` / ``P`` / null. A null on either side contradicts nothing.
    """
    if isinstance(niks, pa.ChunkedArray):
        niks = niks.combine_chunks()
    result = np.zeros(len(niks), dtype=bool)
    # Only 16 ASCII digits can be a valid NIK (anything else is no evidence at all).
    present = sixteen_digits(niks) & pc.fill_null(pc.is_valid(birth_dates), False).to_numpy(zero_copy_only=False)
    if not present.any():
        return result
    take = pa.array(np.flatnonzero(present))
    fixed = pc.take(niks, take).cast(pa.binary(16))
    raw = np.frombuffer(fixed.buffers()[1], dtype=np.uint8)[fixed.offset * 16 : (fixed.offset + len(fixed)) * 16]
    # DDMMYY as six digits on each side (small integers: a month is a million rows).
    ours = raw.reshape(-1, 16)[:, 6:12].astype(np.int8) - 48
    female = (ours[:, 0] > 4) | ((ours[:, 0] == 4) & (ours[:, 1] > 0))  # day + 40
    ours[:, 0] -= 4 * female.astype(np.int8)
    born = pc.take(birth_dates, take)
    b_day = pc.day(born).to_numpy().astype(np.int8)
    b_month = pc.month(born).to_numpy().astype(np.int8)
    b_year = (pc.year(born).to_numpy() % 100).astype(np.int8)
    theirs = np.empty_like(ours)
    for k, part in enumerate((b_day, b_month, b_year)):
        theirs[:, 2 * k], theirs[:, 2 * k + 1] = part // 10, part % 10
    sex = pc.take(genders, take)
    known_sex = pc.fill_null(pc.is_in(sex, value_set=pa.array(["L", "P"])), False).to_numpy(zero_copy_only=False)
    is_p = pc.fill_null(pc.equal(sex, "P"), False).to_numpy(zero_copy_only=False)
    wrong_sex = known_sex & (female != is_p)
    # One digit off, or two neighbours transposed, is a slip.
    unequal = ours != theirs
    differing = unequal.sum(axis=1)
    transposed = np.zeros(len(ours), dtype=bool)
    for k in range(5):
        transposed |= (
            (differing == 2) & unequal[:, k] & unequal[:, k + 1]
            & (ours[:, k] == theirs[:, k + 1]) & (ours[:, k + 1] == theirs[:, k])
        )  # fmt: skip
    day, month, year = (ours[:, 2 * k].astype(np.int16) * 10 + ours[:, 2 * k + 1] for k in range(3))
    swapped = (day == b_month) & (month == b_day) & (year == b_year)
    year_off = (day == b_day) & (month == b_month) & np.isin((year - b_year) % 100, (1, 99))
    wrong_date = (differing > 1) & ~transposed & ~swapped & ~year_off
    result[present] = wrong_sex | wrong_date
    return result


def nik_agrees(nik: str, birth_date: dt.date | None, gender: str | None) -> bool | None:
    """Whether the NIK's date and sex digits match the roster's; None if unknown."""
    if birth_date is None or not nik_structure_ok(nik):
        return None
    day, month, yy = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    female = day > 40
    if female:
        day -= 40
    # The NIK has a 2-digit year: the century comes from the roster's date.
    same_date = (day, month, yy) == (birth_date.day, birth_date.month, birth_date.year % 100)
    if gender is None:
        return same_date
    return same_date and female == (gender == "P")
