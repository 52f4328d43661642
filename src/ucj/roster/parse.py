"""Parsers for the values clerks type into roster cells (CONTRACT.md §2).

Each parser takes one raw cell value - a ``str`` from CSV, or whatever
python-calamine returns for an Excel cell (``str``, ``float``, ``int``,
``bool``, ``date``, ``datetime``) - and returns a normalised value or ``None``.
They never raise on bad input: a value that cannot be understood is ``None``
and the caller decides whether that quarantines the row. Keeping them pure
and total is what lets hypothesis test them.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from ucj.settings import vocabulary

EXCEL_EPOCH = dt.date(1899, 12, 30)
# Serials outside this window are not birth or enrollment dates (1900..2100).
_SERIAL_MIN, _SERIAL_MAX = 1, 73051

MONTH_NAMES_ID = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September",
                  "Oktober", "November", "Desember")  # fmt: skip
INDONESIAN_MONTHS = {
    "januari": 1, "jan": 1,
    "februari": 2, "pebruari": 2, "feb": 2, "peb": 2,
    "maret": 3, "mar": 3,
    "april": 4, "apr": 4,
    "mei": 5,
    "juni": 6, "jun": 6,
    "juli": 7, "jul": 7,
    "agustus": 8, "agu": 8, "agt": 8, "ags": 8, "agust": 8,
    "september": 9, "sep": 9, "sept": 9,
    "oktober": 10, "okt": 10,
    "november": 11, "nov": 11, "nop": 11, "nopember": 11,
    "desember": 12, "des": 12,
    # English abbreviations that Excel's locale sometimes writes.
    "may": 5, "aug": 8, "oct": 10, "dec": 12,
}  # fmt: skip

_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_DAY_FIRST = re.compile(r"^(\d{1,2})[/\-.](\d{1,2})[/\-.](\d{4})$")
_NAMED_MONTH = re.compile(r"^(\d{1,2})[\s\-.]+([a-z]+)\.?[\s\-.]+(\d{4})$")
_COMPACT = re.compile(r"^(\d{2})(\d{2})(\d{4})$")
_SERIAL = re.compile(r"^\d{1,5}(?:\.0+)?$")


BLANK_TEXTS = frozenset(("", "-", "--", "_"))


def is_blank(value: object) -> bool:
    """Excel and CSV both spell "nothing" several ways; treat them alike."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() in BLANK_TEXTS


def cell_text(value: object) -> str:
    """Render a cell the way a clerk sees it, for reports and exact-duplicate checks."""
    if type(value) is str:  # nearly every cell of a CSV, and most of a workbook's
        text = value.strip()
        return "" if text in BLANK_TEXTS else text
    if is_blank(value):
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e17:
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def _safe_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def parse_date(value: object) -> dt.date | None:
    """Day-first dates in every form of CONTRACT.md §2, Excel cells and serials."""
    if is_blank(value) or isinstance(value, bool):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float):
        if isinstance(value, float) and (math.isnan(value) or not value.is_integer()):
            return None
        serial = int(value)
        if _SERIAL_MIN <= serial <= _SERIAL_MAX:
            return EXCEL_EPOCH + dt.timedelta(days=serial)
        return None
    return _parse_date_text(str(value))


@lru_cache(maxsize=65536)
def _parse_date_text(text: str) -> dt.date | None:
    s = " ".join(text.strip().lower().split())
    if m := _ISO.match(s):
        return _safe_date(int(m[1]), int(m[2]), int(m[3]))
    if m := _DAY_FIRST.match(s):
        return _safe_date(int(m[3]), int(m[2]), int(m[1]))
    if m := _NAMED_MONTH.match(s):
        month = INDONESIAN_MONTHS.get(m[2])
        return _safe_date(int(m[3]), month, int(m[1])) if month else None
    if m := _COMPACT.match(s):
        return _safe_date(int(m[3]), int(m[2]), int(m[1]))
    if _SERIAL.match(s):
        return parse_date(float(s))
    return None


_NIK_STRIP = re.compile(r"[\s.\-']")
_EXCEL_TEXT = re.compile(r"(\d{16})[.,]0+")
_SCIENTIFIC = re.compile(r"^\d(?:[.,]\d+)?e\+?\d+$", re.IGNORECASE)


def parse_nik(value: object) -> tuple[str | None, str]:
    """Return ``(nik, quality)``.

    quality is one of ``ok`` (16 digits as typed), ``excel_number`` (came
    through a number cell: Excel keeps 15 significant digits, so the last
    digit may be a 0 that was never typed - weak evidence), ``lost_digits``
    (scientific notation: not a NIK any more), ``invalid`` and ``missing``.
    """
    if isinstance(value, str) and len(value) == 16 and value.isascii() and value.isdigit():
        return value, "ok"  # the common case, first
    if is_blank(value) or isinstance(value, bool):
        return None, "missing"
    if isinstance(value, int | float):
        if isinstance(value, float) and (math.isnan(value) or not value.is_integer()):
            return None, "invalid"
        digits = str(int(value))
        return (digits, "excel_number") if len(digits) == 16 and value > 0 else (None, "invalid")
    text = str(value).strip()
    if _SCIENTIFIC.match(text.replace(" ", "")):
        return None, "lost_digits"
    if m := _EXCEL_TEXT.fullmatch(text.lstrip("'")):
        return m[1], "excel_number"  # "1310014503850001.0": a number cell exported as text
    text = _NIK_STRIP.sub("", text)
    if re.fullmatch(r"\d{16}", text):
        return text, "ok"
    return None, "invalid"


def _fold_word(text: str) -> str:
    """``Laki - Laki`` and ``laki-laki`` are one spelling."""
    return re.sub(r"[^a-z]", "", text.lower())


@lru_cache(maxsize=1)
def _genders() -> dict[str, str]:
    return {_fold_word(s): code for code, spellings in vocabulary()["gender"].items() for s in spellings}


def parse_gender(value: object) -> str | None:
    if is_blank(value):
        return None
    return _genders().get(_fold_word(str(value)))


_PROGRAM_SPLIT = re.compile(r"[,+/;&\-\s]+|\bdan\b", re.IGNORECASE)


def parse_programs(value: object) -> tuple[list[str], list[str]]:
    """Split a program list; return ``(known programs in canonical order, unknown tokens)``."""
    if is_blank(value):
        return [], []
    voc = vocabulary()
    known: set[str] = set()
    unknown: list[str] = []
    text = str(value).upper()
    for name in voc["not_programs"]:
        text = text.replace(name, " ")
    for token in _PROGRAM_SPLIT.split(text):
        token = token.strip(" .()-")
        if not token:
            continue
        if token in voc["programs"]:
            known.add(token)
        else:
            unknown.append(token)
    return [p for p in voc["programs"] if p in known], unknown


def parse_flag(value: object) -> bool:
    if is_blank(value):
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value == 1
    return str(value).strip().lower() in vocabulary()["flag_true"]


def parse_status(value: object) -> bool | None:
    """True for active (empty counts as active), False for inactive, None if unknown."""
    key = "" if is_blank(value) else " ".join(str(value).strip().lower().split())
    voc = vocabulary()
    if key in voc["status_active"]:
        return True
    if key in voc["status_inactive"]:
        return False
    return None


_MONEY_JUNK = re.compile(r"(?i)rp\.?|idr|\s|,-$|/\s*bulan|/\s*bln|%")


def parse_money(value: object) -> Decimal | None:
    """Rupiah amounts: ``Rp 16.800``, ``16800``, ``16,800.00``, ``16.800,00``."""
    if is_blank(value) or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
            return None
        return _bounded(Decimal(str(value))) if value >= 0 else None
    text = _MONEY_JUNK.sub("", str(value))
    if not text:
        return None
    if re.fullmatch(r"\d{1,3}(?:\.\d{3})+(?:,\d{1,2})?", text):  # 16.800 / 16.800,00
        text = text.replace(".", "").replace(",", ".")
    elif re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?", text):  # 16,800 / 16,800.00
        text = text.replace(",", "")
    elif re.fullmatch(r"\d+,\d{1,2}", text):  # 16800,50
        text = text.replace(",", ".")
    elif not re.fullmatch(r"\d+(?:\.\d{1,2})?", text):
        return None
    try:
        return _bounded(Decimal(text))
    except InvalidOperation:
        return None


# No rupiah amount on a roster reaches 100 trillion: anything larger (24 digits, 1e300) is a typing
# accident, kept in the row's original values, and would not fit the warehouse's numeric(16, 2).
MAX_MONEY = Decimal("99999999999999.99")


def _bounded(amount: Decimal) -> Decimal | None:
    if not amount.is_finite() or amount > MAX_MONEY:
        return None
    return amount.quantize(Decimal("0.01"))


def parse_region_code(value: object) -> str | None:
    """Kemendagri codes with or without dots: ``13.10`` -> ``1310``."""
    if is_blank(value) or isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not math.isfinite(value) or abs(value) >= 1e17:
            return None  # 1e309 is inf: no code
        if not value.is_integer():
            # 13.1 from a number cell was "13.10" before Excel dropped the zero.
            whole, frac = f"{value:.2f}".split(".")
            return whole.zfill(2) + frac
        value = int(value)
    text = re.sub(r"[\s.\-']", "", str(value))
    return text if text.isdigit() else None


def parse_funding(value: object) -> str | None:
    if is_blank(value):
        return None
    text = str(value).lower()
    for code, pattern in _funding_patterns():
        if pattern.search(text):
            return code
    return None


@lru_cache(maxsize=1)
def _funding_patterns() -> list[tuple[str, re.Pattern[str]]]:
    return [
        (code, re.compile("|".join(patterns), re.IGNORECASE))
        for code, patterns in vocabulary()["funding_source"].items()
    ]


def parse_text(value: object) -> str | None:
    text = cell_text(value)
    return " ".join(text.split()) or None


MAX_UNIT_NAME = 120
# A run of digits as long as a NIK's or a phone number's, a formula or markup: not a village, OPD or employer name.
_NOT_A_UNIT_NAME = re.compile(r"^[=+@]|\d{8}|[<>\x00-\x1f\x7f]")


def parse_unit_name(value: object) -> str | None:
    """A unit's name as its roster writes it, or None when the cell cannot be one.

    Unit names reach the ``mart`` views, dashboards and clerk reports, so a
    cell that holds something else - a NIK or phone number typed in the wrong
    column, a date, a formula (``=cmd|...``), markup, a paragraph - is not
    taken as a name; the unit keeps the name it has (or shows its code).
    """
    text = parse_text(value)
    if text is None or len(text) > MAX_UNIT_NAME or _NOT_A_UNIT_NAME.search(text):
        return None
    if not isinstance(value, str) or parse_date(text) is not None or not any(ch.isalpha() for ch in text):
        return None
    return text
