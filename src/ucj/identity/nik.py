"""NIK (Nomor Induk Kependudukan) structure, as evidence for matching.

A NIK is PP KK CC DDMMYY SSSS: province, regency, district, birth date (day +
40 for women) and a serial. A structurally valid NIK whose date disagrees with
the roster can still be genuine (a NIK is never reissued when a birth date is
corrected), so this module grades evidence; it never rejects a row.
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
