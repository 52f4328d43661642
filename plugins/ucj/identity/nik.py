"""NIK (Nomor Induk Kependudukan) structure, as evidence for matching.

A NIK is PP KK CC DDMMYY SSSS: province, regency, district, birth date (day +
40 for women) and a serial. A structurally valid NIK whose date disagrees with
the roster can still be genuine (a NIK is never reissued when a birth date is
corrected), so this module grades evidence; it never rejects a row.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

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
