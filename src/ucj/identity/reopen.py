"""Rows linked in an earlier run, linked again with the new ones: as if every month came whole, in order.

A month's rows do not always arrive together: one source is ingested
after another has been consolidated, a late or corrected file comes
weeks after. A batch clusters its own rows before they meet stored
workers, so without this a row without a NIK that arrived first joined a
stored worker on its own, while arriving with a row of the same name and
birth date carrying a relative's NIK it would have been clustered with
that row and refused by the worker together: identity depended on how
the month was split across runs. Months do not always arrive in order
either (a backfill after going live, two runs at once), and a worker's
NIKs must all be one person's, which is not transitive: NIKs A-B and B-C
one typo apart, A-C two, group as {A, B}, {C} when A's month comes first
and as {A}, {B, C} when C's did.

So before linking, every row the rules linked in an earlier run, in the
batch's earliest month or a later one, that shares evidence with the
batch (the folded name with the birth date, or the NIK; followed until
nothing more is reached) is unlinked, and ``resolve`` links the batch
month by month in the months' order. Rows of the later months also give
back the evidence only they had brought, so the earlier month meets the
workers as they were before those months; the rows of every month reached
are queued for their months' next load (``identity.pending_relink``: it
rewrites the facts of the workers they leave and join, not the month). The
batch's own month keeps its evidence: most of its reopened rows are the same person seen again and
find the worker they had, keeping its key; the rules' guards take a row
away from it where the new clustering puts it with a row whose NIK the
worker refuses. Rows a reviewer or the model placed are not reopened: a
decision is never undone by a rerun. A worker left with no rows and no
decision naming it is deleted once the batch is linked, its evidence
handed to where its rows went. On a month's first run after the months
before it, the usual case, all this is one query that finds nothing.
"""

from __future__ import annotations

import datetime as dt
import logging

import psycopg
import pyarrow as pa
import pyarrow.compute as pc

from ucj.bulk import copy_columns, fetch_arrow
from ucj.identity.cluster import Batch
from ucj.identity.nik import nik_evidence, nik_evidence_many
from ucj.identity.store import CURRENT_ROOT, queue_rewrite

log = logging.getLogger(__name__)

# The links the rules made: a reviewer's ('reviewer') or the model's placement is never reopened.
RULE_LINKS = ("new", "nik", "name_birth_date")
# Followed this many times at most: each round reaches the rows sharing evidence with the last one's.
MAX_ROUNDS = 8


def reopen_linked_rows(conn: psycopg.Connection, fetched: pa.Table, columns: dict[str, pa.DataType]) -> pa.Table:
    """The rows to link again with ``fetched`` (``columns`` as ``fetched``), now unlinked.

    Those of ``fetched``'s earliest month and every later one: a month that
    arrives after a later one was linked (a backfill, two runs at once) is
    linked before it, as in the months' own order. Caller holds
    IDENTITY_LOCK and owns the transaction. Returns an empty table on a
    month's first run in order, the usual case, after one query.
    """
    months = pc.unique(fetched["period_month"]).to_pylist()
    if (
        not months
        or not conn.execute(
            "select exists (select from identity.row_link where period_month >= %s)", (min(months),)
        ).fetchone()[0]
    ):
        return fetched.schema.empty_table()
    conn.execute("create temp table if not exists reopen_key (name_key text, birth_date date, nik text) on commit drop")
    conn.execute("truncate reopen_key")
    found: list[pa.Table] = []
    seen: set[tuple[int, int]] = set()
    keys = _keys(fetched)  # of the rows reached so far that have not been looked up yet
    wanted_names: set[tuple[str, dt.date]] = set()
    wanted_niks: set[str] = set()
    for _ in range(MAX_ROUNDS):
        copy_columns(conn, "reopen_key", keys)
        conn.execute("analyze reopen_key")
        wanted_names.update(zip(keys["name_key"].to_pylist(), keys["birth_date"].to_pylist(), strict=True))
        wanted_niks.update(n for n in keys["nik"].to_pylist() if n)
        # Each key probed in the roster rows' indexes (V031), not a pass over the months' rows.
        rows = fetch_arrow(
            conn,
            f"""select {", ".join(f"r.{name}" for name in columns)}, {CURRENT_ROOT} as root_key
                from (select r.file_id, r.source_row
                      from reopen_key as k
                      join ingest.roster_row as r on r.name_key = k.name_key and r.birth_date = k.birth_date
                      where r.period_month >= %(first)s
                      union
                      select r.file_id, r.source_row
                      from reopen_key as k
                      join ingest.roster_row as r on r.nik = k.nik
                      where k.nik is not null and r.nik is not null and r.period_month >= %(first)s) as hit
                join ingest.roster_row as r using (file_id, source_row)
                join identity.row_link as l
                    on l.period_month = r.period_month and l.file_id = r.file_id and l.source_row = r.source_row
                join identity.worker as w on w.worker_key = l.worker_key
                where l.rule = any(%(rules)s) and r.status in ('loaded', 'duplicate')""",
            {"first": min(months), "rules": list(RULE_LINKS)},
            {**columns, "root_key": pa.int64()},
        )
        # The query matches a row's NIK as typed; only a NIK that is the row's evidence shares it.
        theirs = _keys(rows)
        shares = [
            (name, born) in wanted_names or (nik is not None and nik in wanted_niks)
            for name, born, nik in zip(*(theirs[c].to_pylist() for c in ("name_key", "birth_date", "nik")), strict=True)
        ]  # fmt: skip
        positions = zip(rows["file_id"].to_pylist(), rows["source_row"].to_pylist(), strict=True)
        fresh = [i for i, position in enumerate(positions) if position not in seen and shares[i]]
        if not fresh:
            break
        reach = rows.take(pa.array(fresh))
        keys = {name: column.take(pa.array(fresh)) for name, column in theirs.items()}
        seen.update(zip(reach["file_id"].to_pylist(), reach["source_row"].to_pylist(), strict=True))
        found.append(reach)
    if not found:
        return fetched.schema.empty_table()
    reopened = pa.concat_tables(found)
    _unlink(conn, reopened)
    later = reopened.filter(pc.not_equal(reopened["period_month"], pa.scalar(min(months), pa.date32())))
    if later.num_rows:
        _withdraw_evidence(conn, later)
    # Every month reached was loaded with the links these rows had, the batch's own month too.
    _queue_for_load(conn, reopened)
    log.info("%d rows of %s and later linked before clustered again with the new ones", reopened.num_rows,
             min(months).isoformat()[:7])  # fmt: skip
    return reopened


def _queue_for_load(conn: psycopg.Connection, reopened: pa.Table) -> None:
    """Their months were loaded with the links these rows had: the next load of each rewrites the workers
    they leave and join (``store.queue_rewrite``)."""
    conn.execute(
        """create temp table if not exists relinked_row
           (period_month date, file_id bigint, source_row integer, worker_key bigint) on commit drop"""
    )
    conn.execute("truncate relinked_row")
    copy_columns(conn, "relinked_row", {
        "period_month": reopened["period_month"], "file_id": reopened["file_id"],
        "source_row": reopened["source_row"], "worker_key": reopened["root_key"],
    })  # fmt: skip
    queue_rewrite(conn, "select period_month, file_id, source_row, worker_key from relinked_row", {}, "late_file")


def _keys(rows: pa.Table) -> dict[str, pa.Array]:
    """The evidence of ``rows`` as reopen_key's columns: name key and birth date, and the valid NIK."""
    names = ("file_id", "source_row", "nik", "name_key", "birth_date", "gender")
    batch = Batch({name: rows[name] for name in names if name in rows.column_names})
    return {"name_key": batch.name_key, "birth_date": batch.dates, "nik": batch.strong_nik}


def _unlink(conn: psycopg.Connection, reopened: pa.Table) -> None:
    """Delete the reopened rows' links; their evidence stays with their workers.

    So a reopened row the new clustering keeps with its worker finds it
    again and keeps its key; one it puts with a row its worker refuses
    (a conflicting NIK) leaves it by the rules' own guards.
    """
    conn.execute(
        """delete from identity.row_link as l
           using unnest(%s::date[], %s::bigint[], %s::int[]) as o (period_month, file_id, source_row)
           where l.period_month = o.period_month and l.file_id = o.file_id and l.source_row = o.source_row""",
        [reopened[name].to_pylist() for name in ("period_month", "file_id", "source_row")],
    )


def _withdraw_evidence(conn: psycopg.Connection, later: pa.Table) -> None:
    """Take from the workers the evidence only rows of months after the batch's first one gave them.

    Those rows are linked again after the earlier month, as if it had come
    first: what they taught the workers must not be there when it is linked.
    A key that a row still linked carries (an earlier month's) stays.
    """
    keys = _keys(later)
    pairs = zip(keys["name_key"].to_pylist(), keys["birth_date"].to_pylist(), strict=True)
    names = {(name, born) for name, born in pairs if name and born}
    niks = sorted({nik for nik in keys["nik"].to_pylist() if nik})
    linked = """from ingest.roster_row as r join identity.row_link as l
                  on l.period_month = r.period_month and l.file_id = r.file_id and l.source_row = r.source_row"""
    # Two anti-joins (by name and birth date, by NIK), each a hash join over the linked rows.
    conn.execute(
        f"""delete from identity.worker_evidence as e
            using (select k.name_key, k.birth_date from unnest(%s::text[], %s::date[]) as k (name_key, birth_date)
                   where not exists (select {linked} where r.name_key = k.name_key
                                                       and r.birth_date = k.birth_date)) as gone
            where e.evidence_key = 'B:' || gone.name_key || '|' || to_char(gone.birth_date, 'YYYY-MM-DD')""",
        ([n for n, _ in sorted(names)], [b for _, b in sorted(names)]),
    )
    # A NIK stays where a linked row carries it as evidence (``nik.nik_evidence``), not merely as typed.
    typed = fetch_arrow(
        conn,
        f"select distinct r.nik, r.birth_date, r.gender {linked} where r.nik = any(%(niks)s)",
        {"niks": niks},
        {"nik": pa.string(), "birth_date": pa.date32(), "gender": pa.string()},
    )
    carried = set(nik_evidence_many(typed["nik"], typed["birth_date"], typed["gender"]).drop_null().to_pylist())
    conn.execute(
        "delete from identity.worker_evidence where evidence_key = any(%s)",
        ([f"N:{nik}" for nik in niks if nik not in carried],),
    )


def _row_keys(nik: str | None, name_key: str | None, born: dt.date | None, gender: str | None) -> set[str]:
    keys = {f"B:{name_key}|{born.isoformat()}"} if name_key and born else set()
    if evidence := nik_evidence(nik, born, gender):
        keys.add(f"N:{evidence}")
    return keys


def drop_emptied_workers(conn: psycopg.Connection, reopened: pa.Table) -> int:
    """Delete the workers the reopened rows left with no row, where nothing else names them; how many.

    A worker whose every row went elsewhere is no one; keeping it would
    count one worker more than one run of the same files. A worker a merge,
    a review or a match candidate names is kept (its key must keep meaning
    what the decision said).
    """
    if reopened.num_rows == 0:
        return 0
    roots = sorted(set(reopened["root_key"].to_pylist()))
    # PostgreSQL 16.2 (pgserver's) answered this with a Merge Right Anti Join
    # over row_link's partitions that kept a worker with no link out of the
    # result (statistics of a just-emptied partition); a hash or nested loop
    # anti join answers it right, at no cost for a few thousand roots.
    conn.execute("set local enable_mergejoin = off")
    emptied = [
        key
        for (key,) in conn.execute(
            """select w.worker_key from identity.worker as w
               where w.worker_key = any(%(roots)s) and w.merged_into is null
                 and not exists (select from identity.row_link as l where l.worker_key = w.worker_key)
                 and not exists (select from identity.worker as o where o.merged_into = w.worker_key)
                 and not exists (select from identity.worker_merge as m
                                 where w.worker_key in (m.worker_key, m.merged_into))
                 and not exists (select from identity.keep_apart as k where w.worker_key in (k.worker_a, k.worker_b))
                 and not exists (select from identity.match_candidate as c
                                 where w.worker_key in (c.worker_a, c.worker_b))
                 and not exists (select from identity.row_decision as d
                                 where w.worker_key in (d.not_worker_key, d.applied_worker_key))""",
            {"roots": roots},
        )
    ]
    conn.execute("reset enable_mergejoin")
    if emptied:
        _hand_on_evidence(conn, reopened, emptied)
        conn.execute("delete from identity.worker_month where worker_key = any(%s)", (emptied,))
        conn.execute("delete from identity.worker where worker_key = any(%s)", (emptied,))
        log.info("%d workers left with no row deleted", len(emptied))
    return len(emptied)


def _hand_on_evidence(conn: psycopg.Connection, reopened: pa.Table, emptied: list[int]) -> None:
    """The emptied workers' evidence goes to the worker of the first reopened row carrying it (none: dropped)."""
    evidence = dict(
        conn.execute(
            "select evidence_key, worker_key from identity.worker_evidence where worker_key = any(%s)", (emptied,)
        ).fetchall()
    )
    now_of = {
        (file_id, source_row): worker
        for file_id, source_row, worker in conn.execute(
            """select l.file_id, l.source_row, l.worker_key
               from identity.row_link as l
               join unnest(%s::date[], %s::bigint[], %s::int[]) as o (period_month, file_id, source_row)
                 on l.period_month = o.period_month and l.file_id = o.file_id and l.source_row = o.source_row""",
            [reopened[name].to_pylist() for name in ("period_month", "file_id", "source_row")],
        )
    }
    heir: dict[str, int] = {}
    columns = ("file_id", "source_row", "nik", "name_key", "birth_date", "gender")
    carriers = sorted(zip(*(reopened[c].to_pylist() for c in columns), strict=True))
    for file_id, source_row, nik, name_key, born, gender in carriers:
        for key in _row_keys(nik, name_key, born, gender) & evidence.keys():
            heir.setdefault(key, now_of[(file_id, source_row)])
    conn.execute(
        """update identity.worker_evidence as e set worker_key = h.worker_key
           from unnest(%s::text[], %s::bigint[]) as h (evidence_key, worker_key)
           where e.evidence_key = h.evidence_key""",
        (list(heir), list(heir.values())),
    )
    conn.execute("delete from identity.worker_evidence where worker_key = any(%s)", (emptied,))
