"""Load roster files into ``ingest.*``, a batch of files per transaction.

A file version is identified by its content hash: the same bytes twice change
nothing; a changed file under the same name is a new version that replaces
the old one once its kind-month is published (``ucj.publication``). A file
that cannot be read is recorded as ``failed`` with a reason for the clerk,
and the batch carries on with the next file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc

from ucj.arrivals import record_seen
from ucj.bulk import arrow_column, copy_columns, without_cyclic_gc
from ucj.landing import file_stat, local_path, refusal
from ucj.period import parse_period
from ucj.roster.isolated import shared_reader
from ucj.roster.read import RawRoster, ReadLimits, RosterReadError
from ucj.roster.rows import ROW_COLUMNS, interpret_many
from ucj.settings import settings

log = logging.getLogger(__name__)

_COPY_COLUMNS = ["file_id", "source_kind", "period_month", *ROW_COLUMNS]


@dataclass
class BatchSummary:
    """What a batch did; small and free of personal data, so it can go to XCom."""

    files: int = 0
    loaded_files: int = 0
    unchanged_files: int = 0
    reinterpreted_files: int = 0
    failed_files: list[dict[str, str]] = field(default_factory=list)
    # Loaded versions that could not be read again: their rows stay as they were.
    not_reinterpreted: list[dict[str, str]] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=lambda: {"loaded": 0, "quarantined": 0, "duplicate": 0})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Landed:
    rel_path: str
    data: bytes
    content_hash: str
    size: int
    modified_at: dt.datetime
    # Why the entry is not read (a link out of the landing zone, a pipe): recorded as a failed file.
    refused: str | None = None


def ingest_batch(
    conn: psycopg.Connection, root: Any, kind: str, period: str, rel_paths: list[str], reinterpret: bool = False
) -> BatchSummary:
    """Load a batch of files in one transaction: all of it lands, or none of it.

    One transaction per batch (not per file) keeps thousands of small village
    files from costing thousands of commits; an unreadable file is not an
    error here but a ``failed`` record, so one bad file never rolls back the
    others. Rerunning a batch skips every file already loaded.

    ``reinterpret``: files already loaded are read and interpreted again
    from their unchanged bytes, so that a spelling added to the vocabulary
    or a header synonym reaches rows loaded before it; their rows are
    replaced in place (same file_id and row numbers) and linked again.
    """
    with without_cyclic_gc():
        return _ingest_batch(conn, root, kind, period, rel_paths, reinterpret)


def _ingest_batch(
    conn: psycopg.Connection, root: Any, kind: str, period: str, rel_paths: list[str], reinterpret: bool
) -> BatchSummary:
    summary = BatchSummary()
    period_month = parse_period(period)
    max_bytes = int(settings().ingest.max_file_bytes)
    landed = []
    for rel_path in rel_paths:
        path = root / rel_path
        if reason := refusal(root, path):
            # Never opened: the entry itself (its link target, its times) is what is recorded.
            st = os.lstat(local_path(path) or str(path))
            landed.append(
                _refused(rel_path, reason, int(st.st_size), st.st_mtime, st.st_mtime_ns, f"The file {reason}.")
            )
            continue
        size, mtime = file_stat(path)
        if size > max_bytes:
            # Never read into memory: a roster this large is a mistake or an attack, and either costs only itself.
            reason = (f"The file is {size / 1e6:,.0f} MB, more than the {max_bytes / 1e6:,.0f} MB a roster file "
                      "may be: split it into smaller files and send them again.")  # fmt: skip
            landed.append(_refused(rel_path, "too large", size, mtime, round(mtime * 1e9), reason))
            continue
        data = path.read_bytes()
        size, mtime = file_stat(path)
        modified_at = dt.datetime.fromtimestamp(mtime, tz=dt.UTC)
        landed.append(_Landed(rel_path, data, hashlib.sha256(data).hexdigest(), size, modified_at))
    summary.files = len(landed)
    existing = {
        (rel_path, content_hash): (file_id, status)
        for file_id, rel_path, content_hash, status in conn.execute(
            """select file_id, rel_path, content_hash, status from ingest.source_file
               where source_kind = %s and period_month = %s and rel_path = any(%s)""",
            (kind, period_month, [f.rel_path for f in landed]),
        )
    }
    to_load = [f for f in landed if existing.get((f.rel_path, f.content_hash), (0, "failed"))[1] == "failed"]
    # A clerk who sends back an earlier version of a file makes it current
    # again: same bytes, same rows, so the old version is reinstated as is.
    reinstated = [
        (existing[(f.rel_path, f.content_hash)][0], f)
        for f in landed
        if existing.get((f.rel_path, f.content_hash), (0, ""))[1] == "replaced"
    ]
    # Loaded versions whose bytes are here unchanged, to be interpreted again.
    reread = [
        (existing[(f.rel_path, f.content_hash)][0], f)
        for f in landed
        if reinterpret and existing.get((f.rel_path, f.content_hash), (0, ""))[1] == "loaded"
    ]
    summary.unchanged_files = len(landed) - len(to_load) - len(reinstated) - len(reread)
    # A failed file is tried again on every run: the reader may have learnt a
    # new header synonym, or the failure was transient.
    retried = [existing[(f.rel_path, f.content_hash)][0] for f in to_load if (f.rel_path, f.content_hash) in existing]

    readable: list[tuple[_Landed, RawRoster]] = []
    errors: list[tuple[_Landed, str]] = []
    to_read = [f for f in to_load if not f.refused] + [f for _, f in reread]
    outcomes = shared_reader(ReadLimits.from_config()).read_many([(f.data, f.rel_path, kind) for f in to_read])
    outcome_of = {f.rel_path: outcome for f, outcome in zip(to_read, outcomes, strict=True)}
    for f in to_load:
        f.data = b""  # read: its rows are what the batch keeps
        if f.refused:
            errors.append((f, f.refused))
            log.warning("roster file %s refused: %s", f.rel_path, f.refused)
        elif isinstance(outcome := outcome_of[f.rel_path], RosterReadError):
            errors.append((f, str(outcome)))
            log.warning("roster file %s failed: %s", f.rel_path, outcome)
        else:
            readable.append((f, outcome))
    rows = interpret_many([raw for _, raw in readable], kind, period_month)
    again = _reread(reread, outcome_of, summary)
    again_rows = interpret_many([raw for _, _, raw in again], kind, period_month) if again else None

    write = _Write(conn, kind, period_month, landed, to_load, reinstated, retried, again, again_rows)
    try:
        with conn.transaction():
            write(readable, errors, rows)
    except psycopg.errors.DataError as exc:
        # One value the warehouse cannot store (a number out of range, a character it refuses) must
        # cost its file only: find which files, record them as failed, and write the rest.
        log.warning("%s %s: a value cannot be stored (%s); looking for the file that holds it",
                    kind, period, type(exc).__name__)  # fmt: skip
        unstorable = write.unstorable(readable, rows)
        errors += [(f, unstorable[f.rel_path]) for f, _ in readable if f.rel_path in unstorable]
        keep = [i for i, (f, _) in enumerate(readable) if f.rel_path not in unstorable]
        readable = [readable[i] for i in keep]
        rows = _rows_of(rows, keep)
        with conn.transaction():
            write(readable, errors, rows)
        for path, reason in unstorable.items():
            log.warning("roster file %s failed: %s", path, reason)

    summary.loaded_files = len(readable) + len(reinstated)
    summary.reinterpreted_files = len(again)
    summary.failed_files = [{"file": f.rel_path, "error": error} for f, error in errors]
    for frame in (rows, again_rows):
        for status, count in frame["status"].value_counts().items() if frame is not None and len(frame) else []:
            summary.rows[str(status)] = summary.rows.get(str(status), 0) + int(count)
    return summary


def _reread(
    reread: list[tuple[int, _Landed]], outcome_of: dict[str, RawRoster | RosterReadError], summary: BatchSummary
) -> list[tuple[int, _Landed, RawRoster]]:
    """The loaded versions read again; one that no longer reads (a header synonym removed) keeps its rows."""
    again = []
    for file_id, f in reread:
        f.data = b""
        outcome = outcome_of[f.rel_path]
        if isinstance(outcome, RosterReadError):
            summary.not_reinterpreted.append({"file": f.rel_path, "error": str(outcome)})
            log.warning("roster file %s cannot be read again (%s): its rows stay as they were", f.rel_path, outcome)
        else:
            again.append((file_id, f, outcome))
    return again


def _refused(rel_path: str, why: str, size: int, mtime: float, mtime_ns: int, message: str) -> _Landed:
    """A file recorded as failed without reading it, versioned by its size and time instead of its content."""
    mark = hashlib.sha256(f"refused\0{why}\0{size}\0{mtime_ns}".encode()).hexdigest()
    return _Landed(rel_path, b"", mark, size, dt.datetime.fromtimestamp(mtime, tz=dt.UTC), message)


class _Write:
    """The batch's one transaction: replaced versions, reinstated ones, the files and their rows."""

    def __init__(
        self, conn: psycopg.Connection, kind: str, period_month: dt.date, landed: list[_Landed],
        to_load: list[_Landed], reinstated: list[tuple[int, _Landed]], retried: list[int],
        again: list[tuple[int, _Landed, RawRoster]] | None = None, again_rows: pd.DataFrame | None = None,
    ) -> None:  # fmt: skip
        self.conn, self.kind, self.period_month = conn, kind, period_month
        self.landed, self.to_load, self.reinstated, self.retried = landed, to_load, reinstated, retried
        self.again, self.again_rows = again or [], again_rows

    def __call__(self, readable: list[tuple[_Landed, RawRoster]], errors: list[tuple[_Landed, str]],
                 rows: pd.DataFrame) -> None:  # fmt: skip
        conn, kind, period_month = self.conn, self.kind, self.period_month
        if self.retried:
            # A failed file has no rows; were there any, they would go with it (V017).
            conn.execute("delete from ingest.roster_row where file_id = any(%s)", (self.retried,))
            conn.execute("delete from ingest.source_file where file_id = any(%s)", (self.retried,))
        # Older versions of a path are replaced whole by the new one.
        changed = [*self.to_load, *(f for _, f in self.reinstated)]
        conn.execute(
            """update ingest.source_file as s set status = 'replaced'
               from unnest(%s::text[], %s::text[]) as n (rel_path, content_hash)
               where s.source_kind = %s and s.period_month = %s and s.rel_path = n.rel_path
                 and s.content_hash <> n.content_hash and s.status <> 'replaced'""",
            ([f.rel_path for f in changed], [f.content_hash for f in changed], kind, period_month),
        )
        for file_id, f in self.reinstated:
            # Current again, but not yet published: its kind-month is judged again first.
            conn.execute(
                """update ingest.source_file
                   set status = 'loaded', modified_at = %s, published_at = null, published_by = null
                   where file_id = %s""",
                (f.modified_at, file_id),
            )
        self._files_and_rows(readable, errors, rows)
        self._reinterpreted()
        # Read, in whatever state: the arrival sweep leaves these paths alone until they change.
        record_seen(
            conn, kind, period_month, [(f.rel_path, f.size, f.modified_at, f.content_hash) for f in self.landed]
        )

    def _files_and_rows(self, readable: list[tuple[_Landed, RawRoster]], errors: list[tuple[_Landed, str]],
                        rows: pd.DataFrame) -> None:  # fmt: skip
        ids = _insert_files(
            self.conn, self.kind, self.period_month,
            [(f, "loaded", None, raw.sheet, raw.header_row, len(raw.row_numbers), raw.footer_rows_skipped,
              raw.empty_rows_skipped, raw.columns) for f, raw in readable]
            + [(f, "failed", error, None, None, 0, 0, 0, None) for f, error in errors],
        )  # fmt: skip
        if len(rows):
            rows = rows.copy()
            file_ids = np.asarray([ids[f.rel_path] for f, _ in readable], dtype=object)
            rows.insert(0, "file_id", file_ids[rows.pop("file_index").to_numpy(dtype=int)])
            copy_rows(self.conn, self.kind, self.period_month, rows)

    def _reinterpreted(self) -> None:
        """Replace the rows of versions read again, keeping their file_id; their links are made anew."""
        if not self.again:
            return
        conn, ids = self.conn, [file_id for file_id, _, _ in self.again]
        conn.execute("delete from ingest.roster_row where file_id = any(%s)", (ids,))
        # The rows are linked again by the next consolidation (identity.row_link
        # holds only loaded rows' links, and these rows may have changed state).
        conn.execute(
            "delete from identity.row_link where period_month = %s and file_id = any(%s)", (self.period_month, ids)
        )
        conn.execute(
            """update ingest.source_file as s
               set sheet = n.sheet, header_row = n.header_row, rows_read = n.rows_read,
                   footer_rows = n.footer_rows, empty_rows = n.empty_rows, columns = n.columns::jsonb,
                   interpretation = s.interpretation + 1, reinterpreted_at = now(),
                   identity_linked_interpretation = null
               from unnest(%s::bigint[], %s::text[], %s::integer[], %s::integer[], %s::integer[], %s::integer[],
                           %s::text[]) as n (file_id, sheet, header_row, rows_read, footer_rows, empty_rows, columns)
               where s.file_id = n.file_id""",
            (
                ids,
                [raw.sheet for _, _, raw in self.again],
                [raw.header_row for _, _, raw in self.again],
                [len(raw.row_numbers) for _, _, raw in self.again],
                [raw.footer_rows_skipped for _, _, raw in self.again],
                [raw.empty_rows_skipped for _, _, raw in self.again],
                [json.dumps(raw.columns, ensure_ascii=False) for _, _, raw in self.again],
            ),
        )
        rows = self.again_rows
        if rows is not None and len(rows):
            rows = rows.copy()
            file_ids = np.asarray(ids, dtype=object)
            rows.insert(0, "file_id", file_ids[rows.pop("file_index").to_numpy(dtype=int)])
            copy_rows(conn, self.kind, self.period_month, rows)

    def unstorable(self, readable: list[tuple[_Landed, RawRoster]], rows: pd.DataFrame) -> dict[str, str]:
        """The files whose rows the warehouse refuses, each tried alone and rolled back; path -> reason."""
        found: dict[str, str] = {}
        with self.conn.transaction(force_rollback=True):
            for i, (f, raw) in enumerate(readable):
                try:
                    with self.conn.transaction():
                        self._files_and_rows([(f, raw)], [], _rows_of(rows, [i]))
                except psycopg.errors.DataError as exc:
                    found[f.rel_path] = _storage_problem(exc)
        return found


def _rows_of(rows: pd.DataFrame, keep: list[int]) -> pd.DataFrame:
    """The rows of the files at positions ``keep`` of the batch, renumbered to their new positions."""
    if not len(rows):
        return rows
    position = {old: new for new, old in enumerate(keep)}
    subset = rows[rows["file_index"].isin(keep)].copy()
    subset["file_index"] = subset["file_index"].map(position)
    return subset


def _storage_problem(exc: psycopg.Error) -> str:
    """Why the warehouse refused a file's rows, for the clerk and the log: the column, never the value."""
    context = exc.diag.context or ""
    column = exc.diag.column_name or next(iter(re.findall(r"column (\w+)", context)), None)
    where = f" in column {column}" if column else ""
    kind = {
        "22003": "a number too large",
        "22P02": "a value of the wrong type",
        "22021": "a character the database cannot store",
        "22P05": "a character the database cannot store",
        "22001": "a text too long",
    }.get(exc.sqlstate or "", "a value that cannot be stored")
    return f"the file holds {kind}{where}; correct that cell and send the file again"


def _insert_files(
    conn: psycopg.Connection, kind: str, period_month: dt.date,
    files: list[tuple[_Landed, str, str | None, str | None, int | None, int, int, int, dict[str, str] | None]],
) -> dict[str, int]:  # fmt: skip
    """Record the batch's files in one statement (a round trip per file cost seconds per month); path -> file_id.

    Each tuple: file, status, error, sheet, header_row, rows_read, footer_rows, empty_rows, columns.
    """
    if not files:
        return {}
    records = [(f.rel_path, f.content_hash, f.size, f.modified_at, *rest) for f, *rest in files]
    columns = list(zip(*records, strict=True))
    columns[-1] = tuple(None if c is None else json.dumps(c, ensure_ascii=False) for c in columns[-1])
    return {
        rel_path: file_id
        for file_id, rel_path in conn.execute(
            """insert into ingest.source_file
                 (source_kind, period_month, rel_path, content_hash, size_bytes, modified_at, status, error, sheet,
                  header_row, rows_read, footer_rows, empty_rows, columns)
               select %s, %s, rel_path, content_hash, size_bytes, modified_at, status, error, sheet,
                      header_row, rows_read, footer_rows, empty_rows, columns::jsonb
               from unnest(%s::text[], %s::text[], %s::bigint[], %s::timestamptz[], %s::text[], %s::text[],
                           %s::text[], %s::integer[], %s::integer[], %s::integer[], %s::integer[], %s::text[])
                    with ordinality as f (rel_path, content_hash, size_bytes, modified_at, status, error, sheet,
                                          header_row, rows_read, footer_rows, empty_rows, columns, position)
               order by position
               returning file_id, rel_path""",
            (kind, period_month, *(list(c) for c in columns)),
        )
    }


# Arrow types of the interpreted columns, for COPY; anything not named here is text.
_ARROW_TYPES = {
    "file_id": pa.int64(), "source_row": pa.int64(), "period_month": pa.date32(), "birth_date": pa.date32(),
    "enrollment_start": pa.date32(), "enrollment_end": pa.date32(), "is_active": pa.bool_(),
}  # fmt: skip


def _money_text(values: Any) -> list[str | None]:
    return [None if v is None else str(v) for v in values]


def copy_rows(conn: psycopg.Connection, kind: str, period_month: dt.date, rows: pd.DataFrame) -> None:
    """Bulk-load interpreted rows (with their ``file_id``) by COPY, the CSV written by Arrow."""
    n = len(rows)
    constant = {"source_kind": kind, "period_month": period_month}
    columns = {}
    for name in _COPY_COLUMNS:
        if name in constant:
            values: Any = [constant[name]] * n
        elif name == "programs":
            values = ["{" + v + "}" if v else None for v in rows["programs"].to_numpy()]
        elif name in ("contribution", "wage"):
            values = _money_text(rows[name].to_numpy())
        else:
            values = rows[name].to_numpy()
        columns[name] = arrow_column(values, _ARROW_TYPES.get(name, pa.string()))
    if columns["original"].null_count < n:
        # The original cells as JSON: a NUL is escaped there, and jsonb refuses that escape.
        columns["original"] = pc.replace_substring(columns["original"], "\\u0000", "\\ufffd")
    copy_columns(conn, "ingest.roster_row", columns)
