"""Load roster files into ``ingest.*``: one file, one transaction.

A file version is identified by its content hash: the same bytes twice change
nothing; a changed file under the same name is a new version that replaces
the old one. A file that cannot be read is recorded as ``failed`` with a
reason for the clerk, and the batch carries on with the next file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd
import psycopg

from ucj.landing import _stat, parse_period
from ucj.roster.read import RosterReadError, read_roster
from ucj.roster.rows import ROW_COLUMNS, interpret

log = logging.getLogger(__name__)

_COPY_COLUMNS = ["file_id", "source_kind", "period_month", *ROW_COLUMNS]


@dataclass
class BatchSummary:
    """What a batch did; small and free of personal data, so it can go to XCom."""

    files: int = 0
    loaded_files: int = 0
    unchanged_files: int = 0
    failed_files: list[dict[str, str]] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=lambda: {"loaded": 0, "quarantined": 0, "duplicate": 0})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ingest_batch(conn: psycopg.Connection, root: Any, kind: str, period: str, rel_paths: list[str]) -> BatchSummary:
    summary = BatchSummary()
    period_month = parse_period(period)
    for rel_path in rel_paths:
        summary.files += 1
        path = root / rel_path
        data = path.read_bytes()
        size, mtime = _stat(path)
        modified_at = dt.datetime.fromtimestamp(mtime, tz=dt.UTC)
        content_hash = hashlib.sha256(data).hexdigest()
        with conn.transaction():
            outcome = _ingest_file(conn, kind, period_month, rel_path, data, content_hash, size, modified_at)
        if outcome["state"] == "unchanged":
            summary.unchanged_files += 1
        elif outcome["state"] == "failed":
            summary.failed_files.append({"file": rel_path, "error": outcome["error"]})
            log.warning("roster file %s failed: %s", rel_path, outcome["error"])
        else:
            summary.loaded_files += 1
            for status, n in outcome["rows"].items():
                summary.rows[status] = summary.rows.get(status, 0) + n
    return summary


def _ingest_file(
    conn: psycopg.Connection,
    kind: str,
    period_month: dt.date,
    rel_path: str,
    data: bytes,
    content_hash: str,
    size: int,
    modified_at: dt.datetime,
) -> dict[str, Any]:
    existing = conn.execute(
        """select file_id, status from ingest.source_file
           where source_kind = %s and period_month = %s and rel_path = %s and content_hash = %s
           for update""",
        (kind, period_month, rel_path, content_hash),
    ).fetchone()
    if existing and existing[1] != "failed":
        return {"state": "unchanged"}
    if existing:
        # A failed file is tried again on every run: the reader may have learnt
        # a new header synonym, or the failure was transient.
        conn.execute("delete from ingest.source_file where file_id = %s", (existing[0],))

    try:
        raw = read_roster(data, rel_path, kind)
        rows = interpret(raw, kind, period_month)
    except RosterReadError as exc:
        conn.execute(
            """insert into ingest.source_file
                 (source_kind, period_month, rel_path, content_hash, size_bytes, modified_at, status, error)
               values (%s, %s, %s, %s, %s, %s, 'failed', %s)""",
            (kind, period_month, rel_path, content_hash, size, modified_at, str(exc)),
        )
        return {"state": "failed", "error": str(exc)}

    # Older versions of this path are replaced whole by this one.
    conn.execute(
        """update ingest.source_file set status = 'replaced'
           where source_kind = %s and period_month = %s and rel_path = %s and content_hash <> %s
             and status <> 'replaced'""",
        (kind, period_month, rel_path, content_hash),
    )
    (file_id,) = conn.execute(
        """insert into ingest.source_file
             (source_kind, period_month, rel_path, content_hash, size_bytes, modified_at, status, sheet,
              header_row, rows_read, footer_rows, empty_rows)
           values (%s, %s, %s, %s, %s, %s, 'loaded', %s, %s, %s, %s, %s)
           returning file_id""",
        (
            kind, period_month, rel_path, content_hash, size, modified_at, raw.sheet, raw.header_row,
            len(rows), raw.footer_rows_skipped, raw.empty_rows_skipped,
        ),
    ).fetchone()  # fmt: skip
    copy_rows(conn, file_id, kind, period_month, rows)
    return {"state": "loaded", "rows": rows["status"].value_counts().to_dict()}


def copy_rows(conn: psycopg.Connection, file_id: int, kind: str, period_month: dt.date, rows: pd.DataFrame) -> None:
    """Bulk-load interpreted rows with COPY (text format via an in-memory CSV)."""
    if rows.empty:
        return
    frame = rows.copy()
    frame.insert(0, "period_month", period_month)
    frame.insert(0, "source_kind", kind)
    frame.insert(0, "file_id", file_id)
    frame["programs"] = frame["programs"].map(lambda v: "{" + v + "}", na_action="ignore")
    buffer = io.StringIO()
    frame[_COPY_COLUMNS].to_csv(buffer, index=False, header=False)
    columns = ", ".join(_COPY_COLUMNS)
    with conn.cursor().copy(f"copy ingest.roster_row ({columns}) from stdin with (format csv)") as copy:
        copy.write(buffer.getvalue())
