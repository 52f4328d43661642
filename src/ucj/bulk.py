"""Helpers for stages that build millions of Python objects at once, and write them by COPY."""

from __future__ import annotations

import gc
import io
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from psycopg.copy import QueuedLibpqWriter

T = TypeVar("T")


@contextmanager
def without_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a bulk stage builds its objects.

    Every few hundred allocations the collector walks the young objects, and
    every so often all of them; with millions of rows, keys and cells alive
    that is a quarter of identity resolution and a tenth of ingest (measured
    at 1M rows, docs/benchmarks.md). The objects these stages build hold no
    reference cycles, so reference counting frees them and nothing leaks.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def arrow_column(values: Any, type_: pa.DataType, empty_as_null: bool = True) -> pa.Array:
    """One column for :func:`copy_columns`: ``values`` (None for NULL) as an Arrow array of ``type_``.

    ``empty_as_null``: empty strings become NULL, as they did when roster
    rows went through pandas' CSV writer, so the warehouse holds no empty
    string where a roster had an empty cell. Otherwise an empty string stays
    one (Arrow quotes it, and a quoted empty field is not NULL to COPY).
    """
    array = pa.array(values, type=type_, from_pandas=True)
    if pa.types.is_string(type_) and array.null_count < len(array):
        # PostgreSQL's text cannot hold NUL (a roster's raw byte or Excel's _x0000_): shown as U+FFFD instead.
        array = pc.replace_substring(array, "\x00", "\ufffd")
        if empty_as_null:
            array = pc.if_else(pc.equal(array, ""), pa.scalar(None, type_), array)
    return array


def _copy_statement(table: str, columns: dict[str, pa.Array]) -> str:
    return f"copy {table} ({', '.join(columns)}) from stdin with (format csv)"


def _csv(columns: dict[str, pa.Array]) -> tuple[memoryview, int]:
    batch = pa.table(columns)
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(batch, sink, pa_csv.WriteOptions(include_header=False, quoting_style="needed"))
    return memoryview(sink.getvalue()), batch.num_rows


def copy_columns(conn: psycopg.Connection, table: str, columns: dict[str, pa.Array]) -> int:
    """COPY whole columns into ``table`` through Arrow's CSV writer; return the rows written.

    Formatting a million rows cell by cell in Python (psycopg's write_row,
    or pandas' CSV writer over object columns) was the largest single cost
    of ingest and of identity resolution; Arrow writes the same CSV in C.
    Unquoted empty fields are NULL to PostgreSQL's CSV COPY, which is how
    Arrow writes nulls.
    """
    payload, rows = _csv(columns)
    if rows:
        with conn.cursor().copy(_copy_statement(table, columns)) as copy:
            copy.write(payload)
    return rows


@contextmanager
def copy_in_background(conn: psycopg.Connection, table: str, columns: dict[str, pa.Array]) -> Iterator[None]:
    """COPY ``columns`` into ``table`` while the ``with`` block runs; the block must not use ``conn``.

    A thread feeds the rows to PostgreSQL, which inserts and indexes them on
    the other core while Python goes on with the next batch of work; leaving
    the block waits for the COPY to finish (and raises if it failed).
    """
    payload, rows = _csv(columns)
    if not rows:
        yield
        return
    cursor = conn.cursor()
    with cursor.copy(_copy_statement(table, columns), writer=QueuedLibpqWriter(cursor)) as copy:
        copy.write(payload)
        yield


@contextmanager
def in_background(work: Callable[[], T]) -> Iterator[Future[T]]:
    """Run ``work`` in a thread while the ``with`` block runs; leaving the block waits for it.

    For statements on a connection the block leaves alone: PostgreSQL runs
    them on the other core while Python goes on (libpq releases the GIL while
    it waits). ``work``'s exception is raised on leaving the block; if the
    block itself raised, that one is, once ``work`` has finished with the
    connection.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ucj-background") as pool:
        future = pool.submit(work)
        yield future
    future.result()


def fetch_arrow(
    conn: psycopg.Connection, query: str, params: dict[str, Any], types: dict[str, pa.DataType]
) -> pa.Table:
    """The rows of ``query`` as an Arrow table of ``types`` (its columns, in order), fetched by COPY.

    A third of the time of a cursor fetch at a million rows, and no Python
    object per value. NULL travels as ``\\N``, so an empty string stays an
    empty string.
    """
    buffer = io.BytesIO()
    with conn.cursor().copy(f"copy ({query}) to stdout (format csv, header, null '\\N')", params) as copy:
        for chunk in copy:
            buffer.write(chunk)
    buffer.seek(0)
    return pa_csv.read_csv(
        buffer,
        convert_options=pa_csv.ConvertOptions(
            null_values=["\\N"], strings_can_be_null=True, quoted_strings_can_be_null=False, column_types=types
        ),
    )
