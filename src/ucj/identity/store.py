"""The identity tables' writes: worker keys, new workers, merges, links, and which worker a key now is.

Rules (``resolve``), reviewers (``review``) and the model (``probabilistic``)
each decide that rows are a person or that two workers are one; this module
is the one place that turns such a decision into rows of
``identity.worker``, ``identity.worker_merge`` and ``identity.row_link``, so
a merge is recorded the same way whoever made it, and a reviewer can undo
exactly that one later. Callers hold IDENTITY_LOCK and own the transaction.

A merged worker keeps its key and points at the survivor
(``merged_into``); "the worker a key now is" is that pointer, or the key
itself (:data:`CURRENT_ROOT`).
"""

from __future__ import annotations

from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.compute as pc

from ucj.bulk import copy_columns
from ucj.identity.cluster import Row
from ucj.identity.names import display_name
from ucj.identity.nik import nik_evidence_many
from ucj.identity.privacy import nik_token
from ucj.partitions import attach_partition, month_bounds_check, month_partition

# The worker a row of identity.worker (aliased w) now stands for, in SQL.
CURRENT_ROOT = "coalesce(w.merged_into, w.worker_key)"

# identity.pending_reload's reason for a month whose rows were linked again because an earlier
# month arrived after it, as queued before V030 (now identity.pending_relink): a late file's revision.
RELINKED_AFTER_EARLIER_MONTH = "linked again after an earlier month arrived"


def queue_rewrite(conn: psycopg.Connection, rows_query: str, params: dict[str, Any], reason: str) -> None:
    """Rows linked again: their months' next loads rewrite the workers they leave and join
    (identity.pending_relink; ``facts.apply_changes``), not the months.

    ``rows_query`` selects (period_month, file_id, source_row, worker_key):
    the rows and the worker each was linked to. A row moved twice before its
    month's load keeps the first worker, the one that load counted it under.
    ``reason``: the revision cause the loads record (late_file, identity_split).
    """
    conn.execute(
        f"""insert into identity.pending_relink (period_month, file_id, source_row, worker_key, reason)
            select q.period_month, q.file_id, q.source_row, q.worker_key, %(reason)s
            from ({rows_query}) as q (period_month, file_id, source_row, worker_key)
            on conflict (period_month, file_id, source_row) do nothing""",
        {**params, "reason": reason},
    )


WORKER_COLUMNS = ("worker_key", "nik", "nik_token", "name_key", "display_name", "birth_date", "gender", "village_code")


def current_root(conn: psycopg.Connection, worker_key: int) -> int | None:
    """The worker ``worker_key`` now stands for (itself unless merged); None if there is no such key."""
    row = conn.execute(
        f"select {CURRENT_ROOT} from identity.worker as w where w.worker_key = %s", (worker_key,)
    ).fetchone()
    return row[0] if row else None


def reserve_worker_keys(conn: psycopg.Connection, count: int) -> range:
    """A block of ``count`` fresh worker keys from the table's sequence in two calls.

    Safe because only this module creates workers and callers hold
    IDENTITY_LOCK; drawing half a million keys one ``nextval`` at a time took 2 s.
    """
    if count == 0:
        return range(0)
    sequence = "pg_get_serial_sequence('identity.worker', 'worker_key')"
    (first,) = conn.execute(f"select nextval({sequence})").fetchone()
    if count > 1:
        conn.execute(f"select setval({sequence}, %s)", (first + count - 1,))
    return range(first, first + count)


def new_worker_rows(
    worker_key: int, rows: list[Row], full_names: list[str], villages: list[str | None], key: bytes | None = None
) -> tuple:
    """identity.worker's columns for a worker made of ``rows`` (its first row describes it); ``key``: the NIK key."""
    niks = [r.strong_nik for r in rows if r.strong_nik]
    nik = min(niks) if niks else None
    first = rows[0]
    village = next((v for v in villages if v), None)
    return (
        worker_key, nik, nik_token(nik, key), first.name_key, display_name(full_names[0]), first.birth_date,
        first.gender, village,
    )  # fmt: skip


def insert_worker(conn: psycopg.Connection, columns: tuple) -> None:
    """One new worker, its key drawn by :func:`reserve_worker_keys` (a batch's new workers are copied in)."""
    conn.execute(
        f"""insert into identity.worker ({", ".join(WORKER_COLUMNS)})
            overriding system value values ({", ".join(["%s"] * len(WORKER_COLUMNS))})""",
        columns,
    )


def merge_workers(conn: psycopg.Connection, survivor: int, others: list[int], rule: str) -> None:
    """Redirect ``others``, and every key already redirected to them, to ``survivor``.

    Each merge is also kept as an edge in identity.worker_merge, so a
    reviewer can undo exactly this one later (ucj.identity.review).
    """
    conn.execute(
        """insert into identity.worker_merge (worker_key, merged_into, rule)
           select unnest(%s::bigint[]), %s, %s
           on conflict (worker_key) do update set merged_into = excluded.merged_into, rule = excluded.rule,
                                                  merged_at = now()""",
        (others, survivor, rule),
    )
    conn.execute(
        "update identity.worker set merged_into = %s where worker_key = any(%s) or merged_into = any(%s)",
        (survivor, others, others),
    )


def merge_workers_many(conn: psycopg.Connection, merges: list[tuple[int, list[int], str]]) -> None:
    """:func:`merge_workers` for every (survivor, others, rule) of a run, in that order, in three statements.

    A month of a million rows makes a thousand merges and more; one call
    each updated the worker table (no index on ``merged_into``: a scan) per
    merge, so identity grew with the history. Applied together: the edges
    as the calls would have left them (a later one for the same key wins),
    then every merged key, and every key redirected to one of them, points
    at the end of this run's chain - what the calls one after another give.
    """
    edge: dict[int, tuple[int, str]] = {}
    for survivor, others, rule in merges:
        for other in others:
            edge[other] = (survivor, rule)
    if not edge:
        return
    keys = sorted(edge)
    conn.execute(
        """insert into identity.worker_merge (worker_key, merged_into, rule)
           select * from unnest(%s::bigint[], %s::bigint[], %s::text[])
           on conflict (worker_key) do update set merged_into = excluded.merged_into, rule = excluded.rule,
                                                  merged_at = now()""",
        (keys, [edge[k][0] for k in keys], [edge[k][1] for k in keys]),
    )

    def end(key: int) -> int:
        while key in edge:
            key = edge[key][0]
        return key

    roots = [end(k) for k in keys]
    conn.execute(
        """update identity.worker as w set merged_into = f.root
           from unnest(%s::bigint[], %s::bigint[]) as f (worker_key, root) where w.worker_key = f.worker_key""",
        (keys, roots),
    )
    conn.execute(
        """update identity.worker as w set merged_into = f.root
           from unnest(%s::bigint[], %s::bigint[]) as f (worker_key, root) where w.merged_into = f.worker_key""",
        (keys, roots),
    )


def write_links(conn: psycopg.Connection, links: dict[str, pa.Array]) -> list[str]:
    """Store ``links`` (identity.row_link's columns) in their months' partitions; the partitions written.

    A month whose partition does not exist yet (every month's first run) gets
    it built whole: filled without indexes, indexed in one sorted pass and
    attached, under half the time of inserting its links through the
    indexes. Later rows of that month (a late file) are inserted into it.
    """
    months = sorted(pc.unique(links["period_month"]).to_pylist())
    written = []
    for month in months:
        partition = month_partition("identity.row_link", month)
        rows = links
        if len(months) > 1:
            mask = pc.equal(links["period_month"], pa.scalar(month, pa.date32()))
            rows = {name: pc.filter(column, mask) for name, column in links.items()}
        (exists,) = conn.execute("select to_regclass(%s) is not null", (partition,)).fetchone()
        if exists:
            copy_columns(conn, partition, rows)
        else:
            name = partition.split(".")[1]
            conn.execute(f"create table {partition} (like identity.row_link including defaults)")
            copy_columns(conn, partition, rows)
            conn.execute(
                f"alter table {partition} add constraint {name}_month {month_bounds_check(month)}, "
                "add primary key (file_id, source_row, period_month)"
            )
            conn.execute(f"create index on {partition} (worker_key)")
            attach_partition(conn, "identity.row_link", month, f"{name}_month")
        written.append(partition)
    return written


def worker_niks(conn: psycopg.Connection, workers: set[int]) -> dict[int, set[str]]:
    """Every NIK that is evidence (``nik.nik_evidence``) on the rows of these (root) workers: what a merge
    must keep compatible."""
    found: dict[int, set[str]] = {}
    rows = conn.execute(
        f"""select {CURRENT_ROOT} as root, r.nik, r.birth_date, r.gender
            from identity.worker as w
            join identity.row_link as l on l.worker_key = w.worker_key
            join ingest.roster_row as r
                on r.period_month = l.period_month and r.file_id = l.file_id and r.source_row = l.source_row
            where {CURRENT_ROOT} = any(%s) and r.nik is not null
            group by 1, 2, 3, 4""",
        (sorted(workers),),
    ).fetchall()
    if not rows:
        return found
    roots, niks, born, genders = zip(*rows, strict=True)
    evidence = nik_evidence_many(
        pa.array(niks, pa.string()), pa.array(born, pa.date32()), pa.array(genders, pa.string())
    )
    for root, nik in zip(roots, evidence.to_pylist(), strict=True):
        if nik:
            found.setdefault(root, set()).add(nik)
    return found
