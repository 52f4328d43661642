"""Monthly partitions: how the warehouse's month-partitioned tables are built, swapped and attached.

Facts, the worker dimension's months and identity links are partitioned by
``period_month``. A month is rebuilt as a table of its own, filled without
indexes, indexed once and swapped in: several times faster than writing
through the indexes of a live partition, and the old partition's bloat goes
with it. These helpers are the warehouse layer's; the fact load and identity
both use them.
"""

from __future__ import annotations

import datetime as dt

import psycopg

from ucj.period import next_month


def _month_partition(parent: str, period_month: dt.date) -> tuple[str, str, str]:
    """``parent``'s partition for the month: schema, table name, and its bounds as ATTACH and CREATE spell them."""
    schema, table = parent.split(".")
    bounds = f"from ('{period_month.isoformat()}') to ('{next_month(period_month).isoformat()}')"
    return schema, f"{table}_{period_month:%Y%m}", bounds


def ensure_partition(conn: psycopg.Connection, period_month: dt.date, parent: str = "dw.fact_coverage") -> str:
    """The month's partition of ``parent`` (schema.table, partitioned by month), created if missing; its name."""
    schema, name, bounds = _month_partition(parent, period_month)
    conn.execute(f"create table if not exists {schema}.{name} partition of {parent} for values {bounds}")
    return name


def swap_in_partition(conn: psycopg.Connection, parent: str, stage: str, period_month: dt.date) -> None:
    """Put ``stage`` (schema.table, built and indexed in full) in place of ``parent``'s partition for the month.

    A table filled without indexes and indexed once is several times faster
    to build than inserting into an indexed partition, and the old
    partition's bloat goes with it. ``stage`` must carry the check
    constraint ``<stage table>_month`` on the month's bounds: it lets ATTACH
    skip scanning the rows, and is dropped once the partition bound holds
    instead. The caller owns the transaction and has created the partition
    (:func:`ensure_partition`).
    """
    schema, name, _ = _month_partition(parent, period_month)
    partition = f"{schema}.{name}"
    conn.execute(f"alter table {parent} detach partition {partition}")
    conn.execute(f"drop table {partition}")
    conn.execute(f"alter table {stage} rename to {name}")
    attach_partition(conn, parent, period_month, constraint=f"{stage.split('.')[1]}_month")


def month_partition(parent: str, period_month: dt.date) -> str:
    """The name (schema.table) ``parent``'s partition for the month has, or would have."""
    schema, name, _ = _month_partition(parent, period_month)
    return f"{schema}.{name}"


def month_bounds_check(period_month: dt.date) -> str:
    """The CHECK that lets :func:`attach_partition` skip scanning a month's table (its ``constraint``)."""
    first, following = period_month.isoformat(), next_month(period_month).isoformat()
    return f"check (period_month >= '{first}' and period_month < '{following}')"


def attach_partition(conn: psycopg.Connection, parent: str, period_month: dt.date, constraint: str) -> None:
    """Attach the table named as the month's partition (:func:`month_partition`), filled and indexed in full.

    Its ``constraint`` (:func:`month_bounds_check`) proves the rows are in the
    month, so ATTACH need not read them; it is dropped once the partition
    bound holds instead. Indexes matching the parent's are adopted, not
    built again.
    """
    schema, name, bounds = _month_partition(parent, period_month)
    conn.execute(f"alter table {parent} attach partition {schema}.{name} for values {bounds}")
    conn.execute(f"alter table {schema}.{name} drop constraint {constraint}")
