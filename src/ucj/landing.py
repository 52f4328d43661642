"""The landing zone: ``<root>/<kind>/<YYYY-MM>/<file>`` (CONTRACT.md §1).

Functions take any path object with the pathlib interface - ``pathlib.Path``
in unit tests, ``airflow.sdk.ObjectStoragePath`` (file://, s3://, ...) in the
DAGs - so the package does not need Airflow to be tested.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
from dataclasses import dataclass
from typing import Any


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


# Files that operating systems and office tools leave beside the rosters: never a roster, never an error.
_JUNK = re.compile(r"^(thumbs\.db|desktop\.ini|\.ds_store)$|^~\$|^\.~lock|~$", re.IGNORECASE)


@dataclass(frozen=True)
class Skipped:
    """A directory entry that is not read, and why (for the log; never a row value)."""

    name: str
    reason: str


@dataclass
class Listing:
    files: list[LandedFile]
    skipped: list[Skipped]


def local_path(path: Any) -> str | None:
    """The local file system path behind ``path``, or None for object storage (which has no links or FIFOs)."""
    protocol = getattr(path, "protocol", "file")
    if isinstance(protocol, tuple | list):
        protocol = protocol[0] if protocol else "file"
    if protocol not in ("file", "local", ""):
        return None
    return getattr(path, "path", None) or str(path)


def refusal(root: Any, path: Any) -> str | None:
    """Why a listed entry must not be read, or None: only regular files inside the landing root are rosters.

    A symbolic link is followed only to a regular file inside the landing
    root; one leading elsewhere (``/etc/passwd``, another regency's share) or
    nowhere is refused, and so is anything that is not a regular file (a
    FIFO would block the reader forever).
    """
    local = local_path(path)
    if local is None:
        return None
    try:
        st = os.lstat(local)
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if stat.S_ISLNK(st.st_mode):
        target = os.path.realpath(local)
        root_local = os.path.realpath(local_path(root) or str(root))
        if not os.path.exists(target):
            return "is a link to nothing (dangling symbolic link)"
        if os.path.commonpath([target, root_local]) != root_local:
            return "is a link to a file outside the landing zone; copy the file itself into the folder"
        st = os.stat(target)
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file (a pipe, socket or device)"
    return None


def scan_rosters(root: Any, kind: str, period: str) -> Listing:
    """Roster files for one kind and period, oldest first (the order snapshots apply in), and what was skipped.

    Hidden files, office lock files and system junk (``Thumbs.db``,
    ``desktop.ini``, ``x.xlsx~``) are skipped; so are pipes, sockets and
    devices, and names that are not valid UTF-8 (they cannot be recorded or
    reported; the sender must rename the file). A link leading outside the
    landing zone is listed, so that ingest records it as refused and the
    clerk report says why.
    """
    folder = root / kind / period
    listing = Listing([], [])
    if not folder.exists():
        return listing
    for path in folder.iterdir():
        name = path.name
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            listing.skipped.append(Skipped(repr(name), "file name is not valid UTF-8: rename the file"))
            continue
        if _JUNK.search(name):
            listing.skipped.append(Skipped(name, "system or office temporary file"))
            continue
        if name.startswith("."):
            continue  # hidden
        reason = refusal(root, path)
        if reason is None and path.is_dir():
            continue
        if reason and reason.startswith("is not a regular file"):
            listing.skipped.append(Skipped(name, reason))
            continue
        # Any other file is listed, whatever its extension: a PDF or a .docx
        # dropped here must come back to the clerk as "unsupported file type",
        # not vanish. A refused link is listed too: ingest records why.
        local = local_path(path)
        if reason and local is not None:
            st = os.lstat(local)
            size, mtime = int(st.st_size), float(st.st_mtime)
        else:
            size, mtime = file_stat(path)
        listing.files.append(LandedFile(f"{kind}/{period}/{name}", size, dt.datetime.fromtimestamp(mtime, tz=dt.UTC)))
    listing.files.sort(key=lambda f: (f.modified_at, f.rel_path))
    return listing


def list_rosters(root: Any, kind: str, period: str) -> list[LandedFile]:
    """The roster files of :func:`scan_rosters`."""
    return scan_rosters(root, kind, period).files


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
