"""The landing zone: ``<root>/<kind>/<YYYY-MM>/<file>`` (CONTRACT.md §1).

Functions take any path object with the pathlib interface - ``pathlib.Path``
in unit tests, ``airflow.sdk.ObjectStoragePath`` (file://, s3://, ...) in the
DAGs - so the package does not need Airflow to be tested.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")


def parse_period(text: str) -> dt.date:
    """``2025-03`` -> 2025-03-01; a clear error for anything else."""
    m = _PERIOD.match(text.strip())
    if not m or not 1 <= int(m[2]) <= 12:
        raise ValueError(f"period must be YYYY-MM, got {text!r}")
    return dt.date(int(m[1]), int(m[2]), 1)


def period_label(period: dt.date) -> str:
    return f"{period.year:04d}-{period.month:02d}"


def next_month(month: dt.date) -> dt.date:
    """First day of the month after ``month``."""
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def period_range(spec: str) -> list[str]:
    """``2025-01:2025-03`` -> the three months; a single ``2025-01`` is one."""
    first, _, last = spec.partition(":")
    start, end = parse_period(first), parse_period(last or first)
    if end < start:
        raise ValueError(f"period range {spec!r} ends before it starts")
    months = []
    current = start
    while current <= end:
        months.append(period_label(current))
        current = next_month(current)
    return months


def as_path(root: str) -> Any:
    """An ObjectStoragePath for a landing root given as a URI or a local path."""
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(f"file://{root}" if root.startswith("/") else root)


@dataclass(frozen=True)
class LandedFile:
    rel_path: str
    size: int
    modified_at: dt.datetime


def file_stat(path: Any) -> tuple[int, float]:
    st = path.stat()
    return int(st.st_size), float(st.st_mtime)


def list_rosters(root: Any, kind: str, period: str) -> list[LandedFile]:
    """Roster files for one kind and period, oldest first (the order snapshots apply in)."""
    folder = root / kind / period
    if not folder.exists():
        return []
    files = []
    for path in folder.iterdir():
        name = path.name
        if name.startswith((".", "~$")) or path.is_dir():
            continue  # hidden files and Excel's lock files (~$name.xlsx) are not rosters
        # Any other file is listed, whatever its extension: a PDF or a .docx
        # dropped here must come back to the clerk as "unsupported file type",
        # not vanish.
        size, mtime = file_stat(path)
        files.append(LandedFile(f"{kind}/{period}/{name}", size, dt.datetime.fromtimestamp(mtime, tz=dt.UTC)))
    return sorted(files, key=lambda f: (f.modified_at, f.rel_path))


def batch_files(files: list[LandedFile], max_files: int, max_bytes: int) -> list[list[str]]:
    """Group files into batches so thousands of small files are a handful of tasks."""
    batches: list[list[str]] = []
    current: list[str] = []
    size = 0
    for f in files:
        if current and (len(current) >= max_files or size + f.size > max_bytes):
            batches.append(current)
            current, size = [], 0
        current.append(f.rel_path)
        size += f.size
    if current:
        batches.append(current)
    return batches
