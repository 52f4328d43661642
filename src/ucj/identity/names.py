"""Indonesian personal names, folded so that spellings of one name compare equal.

Clerks write the same person as ``Hj. SITI AMINAH, S.Pd.``, ``Siti Aminah`` or
``Aminah Siti``; ``Muhammad`` as ``Muhamad``, ``Moh.`` or ``M.``; old spelling
(``Soekarno``) beside new (``Sukarno``); ``Yusuf`` as ``Yusup``, ``Syaiful`` as
``Saiful``. The name key removes titles and
degrees, folds spelling, and sorts tokens so word order does not matter.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Honorifics and titles that stand before a name.
PREFIX_TITLES = {
    "h", "hj", "haji", "hajjah", "dr", "drs", "dra", "ir", "prof", "kh", "ust", "ustd", "ustadz",
    "ustaz", "ustadzah", "ustazah", "tgk", "apt", "ns", "bd", "drg", "dt", "datuk", "buya",
    "bpk", "bapak", "ibu", "sdr", "sdri", "tn", "ny", "nn",
}  # fmt: skip
# Academic degrees that follow a name (dots removed): S.Pd. -> spd, A.Md. -> amd.
DEGREES = {
    "spd", "spdi", "spdsd", "se", "sh", "shi", "st", "ssos", "sag", "sip", "skep", "skm", "skom",
    "ssi", "sp", "spt", "sthi", "sfarm", "skes", "sstp", "sst", "sak", "sei", "mh", "mm",
    "mpd", "msi", "mkes", "mag", "mt", "mkom", "ma", "amd", "amdkeb", "amdkep", "amk", "ama",
    "amapd", "ake", "bsc", "ba", "phd", "lc", "skg", "ked", "sked", "spog", "mba", "sikom", "sstr",
    "str", "amdkes", "spsi", "mpsi", "shum", "stp", "sgz", "sos", "ag",
}  # fmt: skip
# Whole-token spellings of one name.
TOKEN_VARIANTS = {
    "muhammad": ["m", "mhd", "moh", "moch", "mochammad", "mohammad", "mohamad", "muhamad", "muh",
                 "muhamat", "muhammat", "md", "mohd", "mochamad", "muchammad", "muchamad", "muhd"],
    "ahmad": ["achmad", "akhmad", "ahmat", "achmat", "amad"],
    "abdul": ["abd", "abdoel"],
    "nur": ["noer", "nurul"],
    "siti": ["sitti", "st"],
}  # fmt: skip
_VARIANT_OF = {v: k for k, vs in TOKEN_VARIANTS.items() for v in vs}
PATRONYMIC = {"bin", "binti", "bt", "bte"}
# Old (pre-1972) spelling -> current, applied inside tokens.
_OLD_SPELLING = [("oe", "u"), ("dj", "j"), ("tj", "c"), ("sj", "sy"), ("nj", "ny"), ("ch", "kh")]
# Letters written for one sound in names of Arabic origin, folded after the old spelling:
# Yusuf/Yusup, Arif/Arip, Syaiful/Saiful, Khairul/Hairul, Ramadhan/Ramadan, Taufiq/Taufik,
# Dzulkifli/Zulkifli, Fathur/Fatur. Two names that differ only here are one name written two ways.
_SOUND_FOLDS = [("kh", "h"), ("sy", "s"), ("dh", "d"), ("th", "t"), ("dz", "z"), ("q", "k"), ("p", "f")]


# After ASCII folding and lower-casing, everything but a-z is dropped from a
# token; whitespace stays, to split the tokens on.
_NOT_LETTERS = str.maketrans(
    "", "", "".join(chr(c) for c in range(128) if not ("a" <= chr(c) <= "z" or chr(c).isspace()))
)


def _ascii(text: str) -> str:
    if text.isascii():  # nearly every name: no need to decompose it
        return text
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def strip_titles(full_name: str) -> list[str]:
    """Tokens of the person's name, titles and degrees removed, in written order."""
    text = _ascii(full_name).lower()
    # Degrees usually follow the first comma: "Budi, S.Pd., M.Pd."
    head, _, _tail = text.partition(",")
    # "s.pd." -> "spd"; "m." stays a token "m" (Muhammad) at the front.
    words = head.translate(_NOT_LETTERS).split()
    while words and words[0] in PREFIX_TITLES and len(words) > 1:
        words.pop(0)
    while words and words[-1] in DEGREES and len(words) > 1:
        words.pop()
    return words


@lru_cache(maxsize=100_000)
def _fold_token(token: str) -> str:
    """One token's folded spelling; names share few distinct tokens, so each is folded once."""
    token = _VARIANT_OF.get(token, token)
    if token in TOKEN_VARIANTS:
        return token
    for old, new in (*_OLD_SPELLING, *_SOUND_FOLDS):
        token = token.replace(old, new)
    token = re.sub(r"(.)\1+", r"\1", token)  # doubled letters: Muhammad/Muhamad
    return token


@lru_cache(maxsize=200_000)
def name_key(full_name: str | None) -> str | None:
    """Order-free folded key: equal keys mean the same written name."""
    if not full_name:
        return None
    tokens = [_fold_token(t) for t in strip_titles(full_name) if t not in PATRONYMIC]
    tokens = [t for t in tokens if t]
    return " ".join(sorted(tokens)) or None


@lru_cache(maxsize=200_000)
def display_name(full_name: str | None) -> str | None:
    """The name without titles, in title case, for the worker dimension."""
    if not full_name:
        return None
    return " ".join(t.capitalize() for t in strip_titles(full_name)) or None
