"""Link roster rows to workers, incrementally, keeping worker keys stable.

Evidence, strongest first:

* **NIK** - two rows with the same structurally valid NIK are one person if
  their names agree (rapidfuzz similarity >= threshold) or their birth dates
  are equal. The guard stops a relative's NIK, typed by mistake, from
  merging two people.
* **Name + birth date** - the folded, order-free name key and the birth date.
  Two rows that agree here are one person unless both carry valid NIKs that
  are too far apart to be a typo (more than one edit).

Rows are clustered under those rules, in an order given by what the files
are (period, path, version), not by when they arrived: as the connected
components of the joins the rules propose, except where a component holds
NIKs that cannot be one person's, which is replayed union by union; each
cluster then looks up the evidence keys already attached to workers. No
match: a new worker. One: that worker. Several: they are merged into the
oldest key and the others point at it (``merged_into``, each merge kept in
identity.worker_merge), so no key ever changes meaning. Only rows without a
link are processed, so rerunning a period re-keys no one.

Reviewers' corrections (``review.py``) are applied first, and two workers a
reviewer kept apart are never merged: a cluster reaching both is divided
row by row instead.

Across batches the order rows arrive in still matters where evidence is
ambiguous: a row whose NIK is one edit from worker A's and whose name and
birth date are worker B's joins whichever it meets first in this batch's
clustering, and a later batch finds that worker through the evidence
stored. Such links carry the rule that made them and can be corrected.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from itertools import chain, groupby
from operator import itemgetter

import psycopg
import pyarrow as pa
from rapidfuzz.distance import DamerauLevenshtein
from rapidfuzz.fuzz import token_sort_ratio

from ucj.bulk import arrow_column, copy_columns, copy_in_background, without_cyclic_gc
from ucj.fingerprint import bump_identity_generation
from ucj.identity.names import display_name
from ucj.identity.nik import nik_structure_ok, nik_structure_ok_many
from ucj.identity.privacy import nik_key, nik_token
from ucj.identity.review import apply_corrections, kept_apart
from ucj.settings import pipeline_config
from ucj.warehouse import IDENTITY_LOCK, serialise

log = logging.getLogger(__name__)

KEY, TEXT = pa.int64(), pa.string()
# identity.worker's columns as new_worker_rows gives them.
WORKER_COLUMNS = {
    "worker_key": KEY, "nik": TEXT, "nik_token": TEXT, "name_key": TEXT, "display_name": TEXT,
    "birth_date": pa.date32(), "gender": TEXT, "village_code": TEXT,
}  # fmt: skip


class Row:
    """One roster row as identity sees it; evidence keys derived once (the loops read them often)."""

    __slots__ = ("birth_date", "file_id", "gender", "keys", "name_key", "nik", "source_row", "strong_nik")

    def __init__(
        self, file_id: int, source_row: int, nik: str | None, name_key: str, birth_date: dt.date, gender: str | None,
        strong_nik: str | bool | None = True,
    ) -> None:  # fmt: skip
        """``strong_nik``: the NIK if already known to be structurally valid, else None; by default checked here."""
        self.file_id = file_id
        self.source_row = source_row
        self.nik = nik
        self.name_key = name_key
        self.birth_date = birth_date
        self.gender = gender
        strong = (nik if nik and nik_structure_ok(nik) else None) if strong_nik is True else strong_nik
        self.strong_nik = strong
        by_name = f"B:{name_key}|{birth_date.isoformat()}"
        self.keys: tuple[str, ...] = (by_name, f"N:{strong}") if strong else (by_name,)

    @classmethod
    def many(cls, records: list[tuple]) -> list[Row]:
        """Rows from (file_id, source_row, nik, name_key, birth_date, gender, ...) records, as ``Row(*r[:6])``.

        The month's distinct NIKs are checked at once in numpy rather than
        one call each: at a million rows this is seconds less.
        """
        distinct = [nik for nik in {r[2] for r in records} if nik]
        strong_niks = {nik: nik for nik, ok in zip(distinct, nik_structure_ok_many(distinct), strict=True) if ok}
        return [cls(*r[:6], strong_nik=strong_niks.get(r[2])) for r in records]


class Cluster:
    """Row indexes of one person in this batch, their NIKs, and the strongest rule that joined them."""

    __slots__ = ("niks", "rows", "rule")

    def __init__(self, rows: list[int] | None = None, niks: set[str] | None = None, rule: str = "new") -> None:
        self.rows = rows if rows is not None else []
        self.niks = niks if niks is not None else set()
        self.rule = rule


def niks_compatible(a: set[str], b: set[str]) -> bool:
    """Two NIK sets can belong to one person if every pair is at most one edit apart."""
    if a == b and len(a) <= 1:  # the usual case, without the edit distance
        return True
    return all(x == y or DamerauLevenshtein.distance(x, y) <= 1 for x in a for y in b)


class _UnionFind:
    """Union-find whose roots carry the cluster's NIKs; a union that would join incompatible NIKs is refused."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))
        self.niks: dict[int, set[str]] = {}  # only roots holding a NIK: most rows have no partner
        self.rule = ["new"] * n

    def find(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(self, i: int, j: int, rule: str) -> bool:
        a, b = self.find(i), self.find(j)
        if a == b:
            return True
        niks_a, niks_b = self.niks.get(a), self.niks.get(b)
        if niks_a and niks_b and not niks_compatible(niks_a, niks_b):
            return False
        if a > b:
            a, b, niks_a, niks_b = b, a, niks_b, niks_a
        self.parent[b] = a
        if niks_b:
            if niks_a:
                niks_a |= niks_b
            else:
                self.niks[a] = niks_b
            del self.niks[b]
        # Keep the strongest rule that joined anything into this cluster.
        self.rule[a] = "nik" if "nik" in (self.rule[a], self.rule[b], rule) else rule
        return True


def cluster_rows(rows: list[Row], name_threshold: float) -> list[Cluster]:
    """Deterministic clustering (input order fixed by the caller), in the order of each cluster's first row.

    The same clusters as ``cluster_sequential``, found faster. A union is
    refused only between two NIK sets that cannot be one person's, so in a
    connected component (of all the joins the rules propose) whose NIKs are
    pairwise compatible no union was refused and the component is the
    cluster. Only components holding conflicting NIKs - rare: a typo meeting
    a relative's NIK - are replayed one union at a time. The NIK joins are
    the sequential ones exactly: each row joins the first earlier row with
    its NIK that is the same person.
    """
    import numpy as np
    import pandas as pd
    from scipy.sparse import coo_array
    from scipy.sparse.csgraph import connected_components

    n = len(rows)
    if n == 0:
        return []
    idx = np.arange(n)
    # NIK joins. A row joins the first earlier row with its NIK that is the
    # same person; when the NIK's first row has the same birth date that is
    # it (no name to compare), else the rows before it are tried in order.
    nik_codes, nik_values = pd.factorize(pd.Series([row.strong_nik for row in rows], dtype=object))
    born = np.fromiter((row.birth_date.toordinal() for row in rows), dtype=np.int64, count=n)
    has_nik = nik_codes >= 0
    first_with_nik = np.full(len(nik_values) + 1, n, dtype=np.int64)
    np.minimum.at(first_with_nik, nik_codes[has_nik], idx[has_nik])
    first_nik = np.where(has_nik, first_with_nik[nik_codes], idx)
    later = np.flatnonzero(first_nik != idx)
    same_day = born[later] == born[first_nik[later]]
    sources = [first_nik[later[same_day]]]
    targets = [later[same_day]]
    doubtful = later[~same_day].tolist()
    if doubtful:
        codes_in_doubt = np.unique(nik_codes[doubtful])
        group: dict[int, list[int]] = defaultdict(list)
        for i in np.flatnonzero(np.isin(nik_codes, codes_in_doubt)).tolist():
            group[int(nik_codes[i])].append(i)
        extra_sources, extra_targets = [], []
        for i in doubtful:
            b = rows[i]
            for anchor in group[int(nik_codes[i])]:
                if anchor == i:
                    break
                a = rows[anchor]
                if same_person_by_nik(a.name_key, a.birth_date, b.name_key, b.birth_date, name_threshold):
                    extra_sources.append(anchor)
                    extra_targets.append(i)
                    break
        sources.append(np.asarray(extra_sources, dtype=np.int64))
        targets.append(np.asarray(extra_targets, dtype=np.int64))
    nik_joined = np.concatenate(targets)  # rows a NIK join reached: their cluster's rule is "nik"
    # Name + birth date: every row of a key joins the key's first row.
    codes, _ = pd.factorize(pd.Series([row.keys[0] for row in rows], dtype=object))
    first_of_code = np.full(codes.max() + 1, n, dtype=np.int64)
    np.minimum.at(first_of_code, codes, idx)
    firsts = first_of_code[codes]
    others = np.flatnonzero(firsts != idx)
    graph = coo_array(
        (
            np.ones(len(nik_joined) + len(others), dtype=np.int8),
            (np.concatenate([*sources, firsts[others]]), np.concatenate([nik_joined, others])),
        ),
        shape=(n, n),
    )
    count, labels = connected_components(graph, directed=False)
    # Components in the order of their first row, rows ascending inside each.
    first_row = np.full(count, n, dtype=np.int64)
    np.minimum.at(first_row, labels, idx)
    rank = np.empty(count, dtype=np.int64)
    rank[np.argsort(first_row, kind="stable")] = np.arange(count)
    ranks = rank[labels]
    order = np.lexsort((idx, ranks))
    starts = np.flatnonzero(np.r_[True, ranks[order][1:] != ranks[order][:-1]])
    component_of_start = labels[order[starts]]
    with_nik_join = np.zeros(count, dtype=bool)
    with_nik_join[labels[nik_joined]] = True
    # Distinct NIKs per component: none, one (its code), or several (checked below).
    width = np.int64(len(nik_values) + 1)
    label_nik = np.unique(labels[has_nik] * width + nik_codes[has_nik])
    nik_count = np.bincount(label_nik // width, minlength=count)
    only_nik = np.full(count, -1, dtype=np.int64)
    single = nik_count[label_nik // width] == 1
    only_nik[label_nik[single] // width] = label_nik[single] % width
    flat = order.tolist()
    nik_list = nik_values.tolist()
    starts_list = starts.tolist()
    clusters: list[Cluster] = []
    replayed = False
    for start, end, nik_join, distinct, code in zip(
        starts_list, [*starts_list[1:], n], with_nik_join[component_of_start].tolist(),
        nik_count[component_of_start].tolist(), only_nik[component_of_start].tolist(), strict=True,
    ):  # fmt: skip
        members = flat[start:end]
        if distinct <= 1:
            niks = {nik_list[code]} if distinct else set()
            rule = "new" if end - start == 1 else "nik" if nik_join else "name_birth_date"
            clusters.append(Cluster(members, niks, rule))
            continue
        niks = {nik for i in members if (nik := rows[i].strong_nik)}
        if niks_compatible(niks, niks):
            clusters.append(Cluster(members, niks, "nik" if nik_join else "name_birth_date"))
            continue
        for part in cluster_sequential([rows[i] for i in members], name_threshold):
            part.rows = [members[i] for i in part.rows]
            clusters.append(part)
        replayed = True
    if replayed:
        clusters.sort(key=lambda cluster: cluster.rows[0])  # a replayed component's parts interleave
    return clusters


def cluster_sequential(rows: list[Row], name_threshold: float) -> list[Cluster]:
    """The rules as a sequence of unions, each refused if it would join NIKs that cannot be one person's."""
    uf = _UnionFind(len(rows))
    by_nik: dict[str, list[int]] = defaultdict(list)
    by_name_dob: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        if nik := row.strong_nik:
            uf.niks[i] = {nik}
            by_nik[nik].append(i)
        by_name_dob[row.keys[0]].append(i)
    for members in by_nik.values():
        if len(members) == 1:
            continue
        for i in members[1:]:
            for anchor in members:
                if anchor == i:
                    break
                a, b = rows[anchor], rows[i]
                if same_person_by_nik(a.name_key, a.birth_date, b.name_key, b.birth_date, name_threshold):
                    uf.union(anchor, i, "nik")
                    break
    for members in by_name_dob.values():
        if len(members) > 1:
            for i in members[1:]:
                uf.union(members[0], i, "name_birth_date")
    clusters: dict[int, Cluster] = {}
    for i in range(len(rows)):
        root = uf.find(i)
        cluster = clusters.get(root)
        if cluster is None:
            cluster = clusters[root] = Cluster([], uf.niks.get(root, set()), uf.rule[root])
        cluster.rows.append(i)
    return list(clusters.values())


def same_person_by_nik(name_a: str, born_a: dt.date, name_b: str, born_b: dt.date, name_threshold: float) -> bool:
    """Two records sharing a NIK are one person if birth dates or names agree (a relative's NIK does not)."""
    return born_a == born_b or token_sort_ratio(name_a, name_b) >= name_threshold


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


def _columns(columns: dict[str, pa.DataType], rows: list[tuple]) -> dict[str, pa.Array]:
    """``rows`` (tuples in the order of ``columns``) as Arrow columns for COPY, written in C."""
    values = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    arrays = zip(columns.items(), values, strict=True)
    return {name: arrow_column(v, type_, empty_as_null=False) for (name, type_), v in arrays}


def reserve_worker_keys(conn: psycopg.Connection, count: int) -> range:
    """A block of ``count`` fresh worker keys from the table's sequence in two calls.

    Safe because only this module creates workers and it holds IDENTITY_LOCK;
    drawing half a million keys one ``nextval`` at a time took 2 s.
    """
    if count == 0:
        return range(0)
    sequence = "pg_get_serial_sequence('identity.worker', 'worker_key')"
    (first,) = conn.execute(f"select nextval({sequence})").fetchone()
    if count > 1:
        conn.execute(f"select setval({sequence}, %s)", (first + count - 1,))
    return range(first, first + count)


Known = dict[str, tuple[int, str | None, str | None, dt.date | None]]


def _hits(row: Row, niks: set[str], known: Known, threshold: float) -> list[tuple[int, bool]]:
    """Existing workers this row's evidence leads to, and whether through its NIK.

    A NIK hit counts only if the worker's name or birth date agrees (a
    relative's NIK); a name + birth date hit only if the worker's NIK could
    be the same as the cluster's (twins, namesakes).
    """
    found = []
    for key in row.keys:
        hit = known.get(key)
        if hit is None:
            continue
        worker_key, w_nik, w_name, w_dob = hit
        through_nik = key.startswith("N:")
        if through_nik and not same_person_by_nik(
            row.name_key, row.birth_date, w_name or "", w_dob or row.birth_date, threshold
        ):
            continue
        if not through_nik and w_nik and not niks_compatible(niks, {w_nik}):
            continue
        found.append((worker_key, through_nik))
    return found


def _split_between_kept_apart(
    cluster: Cluster, rows: list[Row], known: Known, threshold: float, candidates: set[int], by_nik: set[int]
) -> list[tuple[Cluster, set[int], set[int], str]]:
    """A cluster whose evidence reaches workers a reviewer kept apart is not one person: each row
    joins the worker its own NIK leads to, else the one its name and birth date lead to, else the
    cluster's NIK worker (else the oldest). Nothing is merged."""
    fallback = min(by_nik) if by_nik else min(candidates)
    parts: dict[int, Cluster] = {}
    for i in cluster.rows:
        hits = _hits(rows[i], {rows[i].strong_nik} - {None}, known, threshold)
        own_nik = [w for w, through_nik in hits if through_nik]
        own = [w for w, _ in hits]
        target = min(own_nik) if own_nik else (min(own) if own else fallback)
        part = parts.setdefault(target, Cluster(rule="nik" if own_nik else "name_birth_date"))
        part.rows.append(i)
        if own_nik:
            part.rule = "nik"
    return [(part, {target}, {target}, part.rule) for target, part in parts.items()]


def resolve_identities(conn: psycopg.Connection) -> dict[str, int]:
    """Link every unlinked loaded or duplicate row; return counts for the log.

    Set-based on the database side (one query out, COPY in, one join for the evidence lookup), so a
    million rows cost seconds, not a million round trips.
    """
    with without_cyclic_gc():
        return _resolve(conn)


def _resolve(conn: psycopg.Connection) -> dict[str, int]:
    # Two runs linking at once would both create a worker for the same row.
    serialise(conn, IDENTITY_LOCK)
    corrections = apply_corrections(conn)  # new rows must see the corrected workers and evidence
    apart = kept_apart(conn)
    threshold = pipeline_config()["identity"]["nik_name_similarity"]
    fetched = conn.execute(
        """select r.file_id, r.source_row, r.nik, r.name_key, r.birth_date, r.gender, r.full_name, r.village_code
           from ingest.roster_row as r
           where r.status in ('loaded', 'duplicate')
             and r.name_key is not null and r.birth_date is not null  -- a duplicate of a bad row has neither
             and not exists (select from identity.row_link as l
                             where l.file_id = r.file_id and l.source_row = r.source_row)
           order by r.file_id, r.source_row"""
    ).fetchall()
    if not fetched:
        return {"rows": 0, "new_workers": 0, "merged_workers": 0, **corrections}
    # Ordered by what the files are, not by when they arrived (file_id): two
    # workers ingesting in parallel give the same clusters and worker keys as
    # one. The files' rows are reordered here, whole, rather than sorted in
    # the query, whose plan then stays the simple anti-join whatever the
    # statistics say.
    rank = {
        file_id: position
        for position, (file_id,) in enumerate(
            conn.execute(
                """select file_id from ingest.source_file
                   order by period_month, rel_path collate "C", modified_at, content_hash"""
            )
        )
    }
    per_file = {file_id: list(rows) for file_id, rows in groupby(fetched, key=itemgetter(0))}
    fetched = list(chain.from_iterable(per_file[f] for f in sorted(per_file, key=rank.__getitem__)))
    rows = Row.many(fetched)
    full_names = [r[6] for r in fetched]
    villages = [r[7] for r in fetched]
    clusters = cluster_rows(rows, threshold)

    known: Known = {}
    if conn.execute("select exists (select from identity.worker_evidence)").fetchone()[0]:
        # No index on the temp table: one hash join against it beats building one.
        conn.execute("create temp table if not exists wanted_evidence (evidence_key text) on commit drop")
        wanted = list({k for r in rows for k in r.keys})
        copy_columns(conn, "wanted_evidence", {"evidence_key": arrow_column(wanted, TEXT, empty_as_null=False)})
        known = {
            key: (worker_key, nik, name_key, birth_date)
            for key, worker_key, nik, name_key, birth_date in conn.execute(
                """select e.evidence_key, coalesce(w.merged_into, w.worker_key), w.nik, w.name_key, w.birth_date
                   from identity.worker_evidence as e
                   join wanted_evidence using (evidence_key)
                   join identity.worker as w using (worker_key)"""
            ).fetchall()
        }

    # 1. Each cluster finds the existing workers its evidence points to.
    matches: list[tuple[Cluster, set[int], set[int], str]] = []
    for cluster in clusters:
        candidates: set[int] = set()
        by_nik: set[int] = set()
        rule = cluster.rule
        for i in cluster.rows:
            for worker_key, through_nik in _hits(rows[i], cluster.niks, known, threshold):
                candidates.add(worker_key)
                if through_nik:
                    by_nik.add(worker_key)
                rule = "nik" if through_nik else (rule if rule == "nik" else "name_birth_date")
        if apart and len(candidates) > 1 and any(apart.apart(x, y) for x in candidates for y in candidates):
            matches.extend(_split_between_kept_apart(cluster, rows, known, threshold, candidates, by_nik))
        else:
            matches.append((cluster, candidates, by_nik, rule))

    # 2. New workers for clusters that matched nobody: keys drawn in one go.
    unmatched = [cluster for cluster, candidates, _, _ in matches if not candidates]
    new_keys = reserve_worker_keys(conn, len(unmatched))
    assigned = {id(cluster): worker_key for cluster, worker_key in zip(unmatched, new_keys, strict=True)}

    # 3. Merges: when evidence joins several workers, the oldest key survives,
    #    except between workers a reviewer kept apart: then the cluster joins
    #    the worker its NIK points to (else the oldest) and merges only what
    #    may be merged with it.
    merged = 0
    redirect: dict[int, int] = {}  # merged in this run -> survivor

    def current(worker_key: int) -> int:
        while worker_key in redirect:
            worker_key = redirect[worker_key]
        return worker_key

    for cluster, candidates, by_nik, rule in matches:
        if not candidates:
            continue
        roots = sorted({current(c) for c in candidates})
        group = roots
        if apart and len(roots) > 1:
            preferred = min(current(c) for c in by_nik) if by_nik else roots[0]
            group = apart.compatible_group(preferred, roots)
        survivor = min(group)
        others = [g for g in group if g != survivor]
        if others:
            merge_workers(conn, survivor, others, rule)
            merged += len(others)
            for other in others:
                redirect[other] = survivor
            apart.merged(survivor, others)
        assigned[id(cluster)] = survivor

    # 4. The new workers go in by COPY (the merges above touched only existing
    #    ones) and PostgreSQL inserts and indexes them on its own core while
    #    the links and new evidence are built here.
    token_key = nik_key()
    workers = [
        new_worker_rows(assigned[id(cluster)], [rows[i] for i in cluster.rows], [full_names[cluster.rows[0]]],
                        [villages[i] for i in cluster.rows], token_key)
        for cluster in unmatched
    ]  # fmt: skip
    # COPY writes the identity column's values as given (like OVERRIDING SYSTEM
    # VALUE); the keys were reserved above, ascending, so the index fills in order.
    with copy_in_background(conn, "identity.worker", _columns(WORKER_COLUMNS, workers)):
        links: list[tuple[int, int, int, str]] = []
        evidence: dict[str, int] = {}
        for cluster, _, _, rule in matches:
            worker_key = assigned[id(cluster)]
            for i in cluster.rows:
                row = rows[i]
                links.append((row.file_id, row.source_row, worker_key, rule))
                for key in row.keys:
                    if key not in known:
                        evidence.setdefault(key, worker_key)
        # None of these keys is stored yet (``known`` holds every stored one among
        # them, and IDENTITY_LOCK keeps other writers out), so they are copied
        # straight in, sorted: Python's string order is the column's "C" collation,
        # and sorted keys fill the btree page after page instead of at random.
        evidence_columns = _columns({"evidence_key": TEXT, "worker_key": KEY}, sorted(evidence.items()))
        link_columns = _columns({"file_id": KEY, "source_row": KEY, "worker_key": KEY, "rule": TEXT}, links)
    copy_columns(conn, "identity.worker_evidence", evidence_columns)
    copy_columns(conn, "identity.row_link", link_columns)
    # Statistics committed with the links: the load and the worker dimension
    # read these tables next, on connections of their own, and plan nested
    # loops over "empty" tables otherwise (the worker dimension took twice as long).
    conn.execute("analyze identity.row_link, identity.worker, identity.worker_evidence")
    bump_identity_generation(conn)  # every month's facts may have changed
    log.info("linked %d rows: %d new workers, %d merged", len(rows), len(unmatched), merged)
    return {"rows": len(rows), "new_workers": len(unmatched), "merged_workers": merged, **corrections}
