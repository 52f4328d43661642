"""Reviewers' corrections of any link, and the memory that keeps them corrected.

Rules, model and reviewers all link rows to workers and merge workers; each
can be wrong. A reviewer states two kinds of facts, in tables a SQL client
can write (V013):

* ``identity.keep_apart`` (or a rejected pair in ``identity.match_candidate``):
  two workers are different people. If they have been merged, the most
  recent merge on the path that joined them is undone; neither the rules nor
  the model join them again.
* ``identity.row_decision``: these rows are not worker W. They move to a new
  worker (one per ``split_group``), take with them the evidence keys only
  they carried (so the next roster row of that person follows them, not W),
  and the two workers are kept apart from then on.

Both are applied at the start of identity resolution, under the identity
lock, and the rows that moved are queued in ``identity.pending_relink``: the
consolidation rewrites, in each month they are in, the workers they left and
joined.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row

from ucj.fingerprint import bump_identity_generation
from ucj.identity.cluster import Row
from ucj.identity.privacy import nik_token
from ucj.identity.store import (
    CURRENT_ROOT,
    current_root,
    insert_worker,
    new_worker_rows,
    queue_rewrite,
    reserve_worker_keys,
)

log = logging.getLogger(__name__)


class KeptApart:
    """Pairs of current workers that must stay apart, kept current as workers merge."""

    def __init__(self, pairs: list[tuple[int, int]]) -> None:
        self._apart: dict[int, set[int]] = defaultdict(set)
        for a, b in pairs:
            if a != b:
                self._apart[a].add(b)
                self._apart[b].add(a)

    def __bool__(self) -> bool:
        return bool(self._apart)

    def apart(self, a: int, b: int) -> bool:
        return b in self._apart.get(a, ())

    def compatible_group(self, first: int, others: list[int]) -> list[int]:
        """``first`` and every one of ``others`` that is kept apart from no member already chosen."""
        group = [first]
        for other in others:
            if other != first and not any(self.apart(other, member) for member in group):
                group.append(other)
        return group

    def merged(self, survivor: int, others: list[int]) -> None:
        for other in others:
            for peer in self._apart.pop(other, set()):
                self._apart[peer].discard(other)
                self._apart[peer].add(survivor)
                self._apart[survivor].add(peer)


def _apart_pairs(conn: psycopg.Connection) -> list[tuple[int, int, int, int]]:
    """Every pair decided apart (keep-apart or a rejected model pair), with the workers each side now is."""
    return conn.execute(
        """select p.worker_a, p.worker_b, coalesce(a.merged_into, a.worker_key), coalesce(b.merged_into, b.worker_key)
           from (select worker_a, worker_b from identity.keep_apart
                 union
                 select worker_a, worker_b from identity.match_candidate where status = 'rejected') as p
           join identity.worker as a on a.worker_key = p.worker_a
           join identity.worker as b on b.worker_key = p.worker_b"""
    ).fetchall()


def kept_apart(conn: psycopg.Connection) -> KeptApart:
    """Reviewers' keep-apart pairs and rejected model pairs, as pairs of the workers they now stand for."""
    return KeptApart([(root_a, root_b) for _, _, root_a, root_b in _apart_pairs(conn)])


def apply_corrections(conn: psycopg.Connection) -> dict[str, int]:
    """Apply every decision not yet applied. Caller holds IDENTITY_LOCK and owns the transaction."""
    moved = _apply_row_decisions(conn)
    unmerged = _apply_keep_apart(conn)
    if moved or unmerged:
        bump_identity_generation(conn)
        log.info("reviewers' corrections applied: %d rows moved to their own worker, %d merges undone",
                 moved, unmerged)  # fmt: skip
    return {"rows_moved": moved, "merges_undone": unmerged}


def _apply_row_decisions(conn: psycopg.Connection) -> int:
    """Move the rows of each pending split group off the worker they were wrongly linked to; rows moved."""
    moved = 0
    for wrong_root, rows in _pending_splits(conn):
        moved += _split_off(conn, wrong_root, rows)
    return moved


def _pending_splits(conn: psycopg.Connection) -> list[tuple[int, list[Any]]]:
    """Undecided rows per split group, with the worker they still belong to; rows already elsewhere are closed.

    A decision names the worker the rows are not; if an earlier correction
    or merge already moved them off it, there is nothing to undo.
    """
    with conn.cursor(row_factory=namedtuple_row) as cur:
        decisions = cur.execute(
            f"""select d.file_id, d.source_row, d.not_worker_key, d.split_group, d.decided_by,
                       {CURRENT_ROOT} as current_root,
                       r.nik, r.name_key, r.birth_date, r.gender, r.full_name, r.village_code
                from identity.row_decision as d
                join identity.row_link as l using (file_id, source_row)
                join identity.worker as w on w.worker_key = l.worker_key
                join ingest.roster_row as r using (file_id, source_row)
                where d.applied_at is null
                order by d.split_group, d.file_id, d.source_row"""
        ).fetchall()
    groups: dict[tuple[str, int], list[Any]] = defaultdict(list)
    for decision in decisions:
        wrong_root = current_root(conn, decision.not_worker_key)
        if wrong_root is None or decision.current_root != wrong_root:
            _mark_applied(conn, decision.current_root, [(decision.file_id, decision.source_row)])
            continue
        groups[(decision.split_group, wrong_root)].append(decision)
    return [(root, rows) for (_, root), rows in groups.items()]


def _split_off(conn: psycopg.Connection, wrong_root: int, rows: list[Any]) -> int:
    """One split group: a new worker for its rows, their links and the evidence only they carried, kept apart."""
    (new_key,) = reserve_worker_keys(conn, 1)
    parsed = [Row(r.file_id, r.source_row, r.nik, r.name_key, r.birth_date, r.gender) for r in rows]
    insert_worker(conn, new_worker_rows(new_key, parsed, [r.full_name for r in rows], [r.village_code for r in rows]))
    positions = [(r.file_id, r.source_row) for r in rows]
    conn.execute(
        """update identity.row_link as l set worker_key = %s, rule = 'reviewer', score = null, linked_at = now()
           from unnest(%s::bigint[], %s::int[]) as m (file_id, source_row)
           where l.file_id = m.file_id and l.source_row = m.source_row""",
        (new_key, *_columns(positions)),
    )
    staying = _move_own_evidence(conn, wrong_root, new_key, parsed)
    _describe_from_rows(conn, wrong_root, staying)
    conn.execute(
        """insert into identity.keep_apart (worker_a, worker_b, decided_by, note, applied_at)
           values (%s, %s, %s, 'rows split off by a reviewer', now())
           on conflict (worker_a, worker_b) do nothing""",
        (min(wrong_root, new_key), max(wrong_root, new_key), rows[0].decided_by),
    )
    _mark_applied(conn, new_key, positions)
    # The months counted these rows under the worker they left.
    queue_rewrite(
        conn,
        """select l.period_month, l.file_id, l.source_row, %(old)s::bigint from identity.row_link as l
           join unnest(%(files)s::bigint[], %(rows)s::int[]) as m (file_id, source_row)
               on l.file_id = m.file_id and l.source_row = m.source_row""",
        {"old": wrong_root, "files": [f for f, _ in positions], "rows": [r for _, r in positions]},
        "identity_split",
    )
    return len(rows)


def _move_own_evidence(conn: psycopg.Connection, wrong_root: int, new_key: int, moved: list[Row]) -> list[Row]:
    """Evidence only the moved rows carried now leads to the new worker; returns the rows that stayed.

    So the next roster row of the person split off follows them, not the worker they left.
    """
    staying = [
        Row(*s)
        for s in conn.execute(
            f"""select r.file_id, r.source_row, r.nik, r.name_key, r.birth_date, r.gender
                from identity.row_link as l
                join identity.worker as w on w.worker_key = l.worker_key
                join ingest.roster_row as r using (file_id, source_row)
                where {CURRENT_ROOT} = %s""",
            (wrong_root,),
        ).fetchall()
    ]
    kept = {k for row in staying for k in row.keys}
    conn.execute(
        f"""update identity.worker_evidence as e set worker_key = %s
            from identity.worker as w
            where w.worker_key = e.worker_key and {CURRENT_ROOT} = %s and e.evidence_key = any(%s)""",
        (new_key, wrong_root, sorted({k for row in moved for k in row.keys} - kept)),
    )
    return staying


def _columns(positions: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """(file ids, source rows) as two lists: the arrays the ``unnest`` of these statements reads."""
    return [f for f, _ in positions], [r for _, r in positions]


def _mark_applied(conn: psycopg.Connection, worker_key: int, positions: list[tuple[int, int]]) -> None:
    conn.execute(
        """update identity.row_decision set applied_worker_key = %s, applied_at = now()
           from unnest(%s::bigint[], %s::int[]) as m (file_id, source_row)
           where row_decision.file_id = m.file_id and row_decision.source_row = m.source_row""",
        (worker_key, *_columns(positions)),
    )


def _describe_from_rows(conn: psycopg.Connection, worker_key: int, rows: list[Row]) -> None:
    """A worker whose identifying row was split off takes its NIK, name and birth date from a row it kept."""
    if not rows:
        return
    current = conn.execute(
        "select nik, name_key, birth_date from identity.worker where worker_key = %s", (worker_key,)
    ).fetchone()
    if any((r.strong_nik, r.name_key, r.birth_date) == tuple(current) for r in rows):
        return
    first = min(rows, key=lambda r: (r.file_id, r.source_row))
    conn.execute(
        """update identity.worker set nik = %s, nik_token = %s, name_key = %s, birth_date = %s, gender = %s
           where worker_key = %s""",
        (first.strong_nik, nik_token(first.strong_nik), first.name_key, first.birth_date, first.gender, worker_key),
    )


def _apply_keep_apart(conn: psycopg.Connection) -> int:
    """Undo, for each pair kept apart that is one worker now, the latest merge on the path joining them."""
    pairs = [(a, b, root_a) for a, b, root_a, root_b in _apart_pairs(conn) if root_a == root_b]
    undone = 0
    by_root: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for a, b, root in pairs:
        by_root[root].append((a, b))
    for root, tree_pairs in by_root.items():
        edges = {
            worker: (parent, merged_at)
            for worker, parent, merged_at in conn.execute(
                """select m.worker_key, m.merged_into, m.merged_at from identity.worker_merge as m
                   join identity.worker as w using (worker_key) where w.merged_into = %s""",
                (root,),
            )
        }
        members = [root, *edges]
        for a, b in tree_pairs:
            path_a, path_b = _path(edges, a), _path(edges, b)
            if path_a[-1] != path_b[-1]:
                continue  # an earlier cut in this tree already separated them
            common = set(path_a) & set(path_b)
            on_path = [w for w in path_a if w not in common] + [w for w in path_b if w not in common]
            cut = max(on_path, key=lambda w: (edges[w][1], w))
            del edges[cut]
            conn.execute("delete from identity.worker_merge where worker_key = %s", (cut,))
            undone += 1
        roots = {w: _path(edges, w)[-1] for w in members}
        conn.execute(
            """update identity.worker as w set merged_into = nullif(m.root, m.worker_key)
               from unnest(%s::bigint[], %s::bigint[]) as m (worker_key, root)
               where w.worker_key = m.worker_key""",
            (list(roots), list(roots.values())),
        )
        # The months counted the rows of the keys cut off under the root they left.
        queue_rewrite(
            conn,
            """select l.period_month, l.file_id, l.source_row, %(old)s::bigint from identity.row_link as l
               where l.worker_key = any(%(keys)s)""",
            {"old": root, "keys": [w for w, r in roots.items() if r != root]},
            "identity_split",
        )
    conn.execute(
        """update identity.match_candidate as c set status = 'rejected', decided_by = k.decided_by,
                  decided_at = k.decided_at, note = coalesce(c.note, k.note)
           from identity.keep_apart as k
           where c.worker_a = k.worker_a and c.worker_b = k.worker_b and c.status <> 'rejected'"""
    )
    conn.execute("update identity.keep_apart set applied_at = now() where applied_at is null")
    return undone


def _path(edges: dict[int, tuple[int, object]], worker: int) -> list[int]:
    """The worker, then each worker it was merged into, up to its root."""
    path = [worker]
    while worker in edges:
        worker = edges[worker][0]
        path.append(worker)
    return path
