"""Link roster rows to workers, incrementally, keeping worker keys stable.

Evidence, strongest first:

* **NIK** - two rows with the same NIK are one person if their names agree
  (rapidfuzz token sort similarity >= threshold), or their birth dates are
  equal and their names do not contradict (token set similarity: a dropped
  word is no contradiction, a twin's other first name is). Only a NIK that
  is the row's own counts: structurally valid, with the row's sex and its
  birth date up to one slip (``nik.nik_evidence``); a NIK carrying someone
  else's birth date is most often a relative's, typed by mistake, and
  leaning on it would merge the two or split the row from its own person.
* **Name + birth date** - the folded, order-free name key and the birth date.
  Two rows that agree here are one person unless both carry valid NIKs that
  are too far apart to be a typo (more than one edit).

Rows are clustered under those rules (``cluster.py``), in an order given by
what the files are (period, path, version), not by when they arrived: as the connected
components of the joins the rules propose, except where a component holds
NIKs that cannot be one person's, which is replayed union by union; each
cluster then looks up the evidence keys already attached to workers. No
match: a new worker. One: that worker. Several: they are merged into the
oldest key and the others point at it (``merged_into``, each merge kept in
identity.worker_merge), so no key ever changes meaning. Only rows without a
link are processed, so rerunning a period re-keys no one. A month is a
million rows and more, so all of it runs as array operations over the
month's columns; ``tests/warehouse/test_linking.py`` holds the same rules written
cluster by cluster, and the two must agree.
The writes themselves (keys, new workers, merges, links) go through
``store.py``, as the reviewers' and the model's do.

Reviewers' corrections (``review.py``) are applied first, and two workers a
reviewer kept apart are never merged: a cluster reaching both is divided
row by row instead.

A worker never holds NIKs that cannot be one person's: a cluster joins or
merges stored workers only if their NIKs (every NIK on their rows) and its
own are pairwise compatible. That is not transitive (NIKs A-B and B-C one
typo apart, A-C two), so which rows share a worker follows the order rows
are linked in; hence that order is fixed by the files. The rows are linked month by month in the months' order,
and the rows linked earlier in the batch's first month or a later one that
share evidence with the new ones are linked again with them
(``reopen.py``): a month split across runs, or months arriving out of
order, group as every month linked whole and in order would.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc

from ucj.bulk import copy_columns, copy_in_background, fetch_arrow, in_background, without_cyclic_gc
from ucj.fingerprint import bump_identity_generation
from ucj.identity.cluster import (
    NAME_BIRTH_DATE,
    NIK,
    RULE_CODE,
    RULES,
    Batch,
    Cluster,
    Clustering,
    Row,
    cluster_batch,
    niks_compatible,
    same_person_by_nik,
)
from ucj.identity.names import display_name
from ucj.identity.privacy import nik_key, nik_tokens
from ucj.identity.reopen import drop_emptied_workers, reopen_linked_rows
from ucj.identity.review import KeptApart, apply_corrections, kept_apart
from ucj.identity.store import CURRENT_ROOT, merge_workers_many, reserve_worker_keys, worker_niks, write_links
from ucj.publication import held_files
from ucj.settings import settings
from ucj.warehouse import IDENTITY_LOCK, serialise

log = logging.getLogger(__name__)

KEY, TEXT = pa.int64(), pa.string()
# The batch as fetched: the unlinked rows identity reads.
FETCHED = {
    "file_id": KEY, "source_row": KEY, "nik": TEXT, "name_key": TEXT, "birth_date": pa.date32(), "gender": TEXT,
    "full_name": TEXT, "village_code": TEXT, "period_month": pa.date32(),
}  # fmt: skip
# Stored evidence as the batch's keys find it.
KNOWN = {"evidence_key": TEXT, "worker_key": KEY, "nik": TEXT, "name_key": TEXT, "birth_date": pa.date32()}


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
    cluster: Cluster, rows: Mapping[int, Row], known: Known, threshold: float, candidates: set[int], by_nik: set[int]
) -> list[tuple[list[int], int, str]]:
    """A cluster whose evidence reaches workers a reviewer kept apart is not one person: each row
    joins the worker its own NIK leads to, else the one its name and birth date lead to, else the
    cluster's NIK worker (else the oldest). Nothing is merged. Returns (rows, worker, rule) per part."""
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
    return [(part.rows, target, part.rule) for target, part in parts.items()]


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
    threshold = settings().identity.nik_name_similarity
    # The file versions to link (V032): not linked yet, or read again since; a held file's rows are
    # linked once published (a held batch must not merge published workers).
    to_link = conn.execute(
        """select file_id, interpretation from ingest.source_file
           where identity_linked_interpretation is null and file_id <> all(%s::bigint[])""",
        (held_files(conn),),
    ).fetchall()
    files = [file_id for file_id, _ in to_link]
    fetched = fetch_arrow(
        conn,
        """select r.file_id, r.source_row, r.nik, r.name_key, r.birth_date, r.gender, r.full_name, r.village_code,
                  r.period_month
           from ingest.roster_row as r
           where r.file_id = any(%(files)s::bigint[])
             and r.status in ('loaded', 'duplicate')
             and r.name_key is not null and r.birth_date is not null  -- a duplicate of a bad row has neither
             and not exists (select from identity.row_link as l
                             where l.period_month = r.period_month and l.file_id = r.file_id
                               and l.source_row = r.source_row)""",
        {"files": files},
        FETCHED,
    )
    if to_link:
        # Marked with the interpretation read: one read again meanwhile stays to link.
        conn.execute(
            """update ingest.source_file as s set identity_linked_interpretation = m.interpretation
               from unnest(%s::bigint[], %s::int[]) as m (file_id, interpretation)
               where s.file_id = m.file_id and s.interpretation = m.interpretation""",
            (files, [interpretation for _, interpretation in to_link]),
        )
    if fetched.num_rows == 0:
        return {"rows": 0, "new_workers": 0, "merged_workers": 0, **corrections}
    # Rows of these months and later ones, linked in an earlier run, that share evidence with these: linked again.
    reopened = reopen_linked_rows(conn, fetched, FETCHED)
    if reopened.num_rows:
        fetched = pa.concat_tables([fetched, reopened.select(list(FETCHED))])
    # Ordered by what the files are, not by when they arrived (file_id): two
    # workers ingesting in parallel give the same clusters and worker keys as
    # one. Sorted here rather than in the query, whose plan then stays the
    # simple anti-join whatever the statistics say.
    ranked = [
        file_id
        for (file_id,) in conn.execute(
            """select file_id from ingest.source_file
               order by period_month, rel_path collate "C", modified_at, content_hash"""
        )
    ]
    file_rank = pd.Index(ranked).get_indexer(fetched["file_id"].to_numpy())
    fetched = fetched.take(np.lexsort((fetched["source_row"].to_numpy(), file_rank)))
    # Month by month, in the months' order (the file order above starts with
    # the month): each month clustered whole and linked to the workers the
    # months before it built, however the runs grouped them.
    months = fetched["period_month"].combine_chunks()
    linked: dict[str, int] = {"rows": 0, "new_workers": 0, "merged_workers": 0}
    for month in pc.unique(months).to_pylist():
        rows = fetched.filter(pc.equal(months, pa.scalar(month, pa.date32())))
        batch = Batch({name: rows[name] for name in FETCHED})
        clustering = cluster_batch(batch, threshold)
        counts = _Linking(conn, batch, clustering, threshold, apart, rows["period_month"].combine_chunks()).write()
        linked = {name: linked[name] + counts[name] for name in linked}
    emptied = drop_emptied_workers(conn, reopened)
    return {**linked, "reopened_rows": reopened.num_rows, "emptied_workers": emptied, **corrections}


class _Linking:
    """One batch's clusters linked to stored workers: new ones, merges, links and evidence, as arrays.

    Each cluster looks up the stored evidence its rows' keys lead to; a NIK
    hit counts only if the worker's name or birth date agrees (a relative's
    NIK), a name + birth date hit only if the worker's NIK could be the
    cluster's (twins, namesakes). No hit: a new worker; one worker: that
    worker; several: merged into the oldest key, in cluster order (the
    Python loop below, over those clusters only).
    """

    def __init__(
        self, conn: psycopg.Connection, batch: Batch, clustering: Clustering, threshold: float, apart: KeptApart,
        months: pa.Array,
    ) -> None:  # fmt: skip
        self.conn, self.batch, self.clustering, self.threshold, self.apart = conn, batch, clustering, threshold, apart
        self.months = months  # each row's period_month: the partition of identity.row_link its link goes to
        n = batch.n
        # Each row's evidence keys, name + birth date first, then its NIK (the order evidence is claimed in).
        with_nik = np.flatnonzero(batch.by_nik.is_valid().to_numpy(zero_copy_only=False))
        self.pair_row = np.concatenate([np.arange(n), with_nik])
        self.pair_is_nik = np.r_[np.zeros(n, dtype=bool), np.ones(len(with_nik), dtype=bool)]
        self.pair_key = pa.concat_arrays([batch.by_name, batch.by_nik.take(pa.array(with_nik))])
        stored = self._known()
        self.known = {name: stored[name].combine_chunks() for name in KNOWN}
        found = pc.index_in(self.pair_key, value_set=self.known["evidence_key"])
        self.pair_known = found.is_valid().to_numpy(zero_copy_only=False)
        self.pair_hit = found.fill_null(-1).to_numpy().astype(np.int64)

    def _known(self) -> pa.Table:
        """Stored evidence among this batch's keys, with the worker (current root) each leads to."""
        conn = self.conn
        if not conn.execute("select exists (select from identity.worker_evidence)").fetchone()[0]:
            return pa.table({name: pa.array([], type=type_) for name, type_ in KNOWN.items()})
        # No index on the temp table: one hash join against it beats building one.
        conn.execute("create temp table if not exists wanted_evidence (evidence_key text) on commit drop")
        copy_columns(conn, "wanted_evidence", {"evidence_key": pc.unique(self.pair_key)})
        return fetch_arrow(
            conn,
            f"""select e.evidence_key, {CURRENT_ROOT} as worker_key, w.nik, w.name_key, w.birth_date
               from identity.worker_evidence as e
               join wanted_evidence using (evidence_key)
               join identity.worker as w using (worker_key)""",
            {},
            KNOWN,
        )

    def _valid_hits(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(cluster, worker, through NIK, the stored worker's NIK) of every hit that passes its guard."""
        batch, clustering, known = self.batch, self.clustering, self.known
        hit = np.flatnonzero(self.pair_known)
        rows, through_nik, at = self.pair_row[hit], self.pair_is_nik[hit], self.pair_hit[hit]
        clusters = clustering.cluster[rows]
        worker = known["worker_key"].to_numpy()[at]
        w_nik = known["nik"].to_numpy(zero_copy_only=False)[at]
        w_born = known["birth_date"].cast(pa.int32()).fill_null(-(2**31)).to_numpy().astype(np.int64)[at]
        # A NIK hit: the worker has no birth date, or the same one under the same name ... else the
        # names, one by one below (``same_person_by_nik``: a twin shares the birth date, not the name).
        w_name = known["name_key"].take(pa.array(at))
        same_name = pc.fill_null(pc.equal(batch.name_key.take(pa.array(rows)), w_name), True)
        same_born = (w_born == batch.born[rows]) & same_name.to_numpy(zero_copy_only=False)
        valid = np.where(through_nik, (w_born == -(2**31)) | same_born, False)
        # A name + birth date hit: the worker has no NIK, the cluster none, or the same one ... else checked below.
        codes = clustering.nik_code[clusters]
        has_w_nik = pd.notna(w_nik)
        same_nik = np.zeros(len(hit), dtype=bool)
        single = (codes >= 0) & has_w_nik
        same_nik[single] = clustering.nik_values[codes[single]] == w_nik[single]
        valid |= ~through_nik & (~has_w_nik | (codes == -1) | same_nik)
        undecided = np.flatnonzero(~valid & (through_nik | has_w_nik))
        if len(undecided):
            names, w_names = batch.names, known["name_key"].to_numpy(zero_copy_only=False)
            for j in undecided.tolist():
                if through_nik[j]:
                    valid[j] = same_person_by_nik(
                        names[rows[j]], batch.born[rows[j]], w_names[at[j]] or "", w_born[j], self.threshold
                    )
                else:
                    valid[j] = niks_compatible(clustering.niks(int(clusters[j])), {w_nik[j]})
        return clusters[valid], worker[valid], through_nik[valid], w_nik[valid]

    def _known_dict(self) -> Known:
        return {
            key: (worker_key, nik, name, born)
            for key, worker_key, nik, name, born in zip(*(self.known[c].to_pylist() for c in KNOWN), strict=True)
        }

    def write(self) -> dict[str, int]:
        """Match, merge, create, link: the batch's identity written in this transaction."""
        conn, batch = self.conn, self.batch
        candidates, cand_count, rule, by_nik_of = self._candidates()
        worker_of = self._single_matches(candidates, cand_count)
        merged, parts = self._merge_matched(candidates, cand_count, rule, by_nik_of, worker_of)
        # New workers for the clusters that matched nobody: keys drawn in one go, in cluster order.
        unmatched = np.flatnonzero(cand_count == 0)
        new_keys = reserve_worker_keys(conn, len(unmatched))
        worker_of[unmatched] = np.arange(new_keys.start, new_keys.stop, dtype=np.int64)
        row_worker, emitted, links = self._links(worker_of, rule, parts)
        # PostgreSQL writes and indexes each table on its own core while the
        # next one is built here (no foreign key orders them: all three land
        # in this one transaction). The merges above touched only existing workers.
        with in_background(lambda: write_links(conn, links)) as linked:
            workers = self._new_workers(unmatched, worker_of[unmatched])
        with copy_in_background(conn, "identity.worker", workers):
            evidence = self._new_evidence(row_worker, emitted)
        copy_columns(conn, "identity.worker_evidence", evidence)
        # Statistics committed with the links: the load and the worker dimension
        # read these tables next, on connections of their own, and plan nested
        # loops over "empty" tables otherwise (the worker dimension took twice as long).
        conn.execute(f"analyze {', '.join(linked.result())}, identity.worker, identity.worker_evidence")
        bump_identity_generation(conn)  # every month's facts may have changed
        log.info("linked %d rows: %d new workers, %d merged", batch.n, len(unmatched), merged)
        return {"rows": batch.n, "new_workers": len(unmatched), "merged_workers": merged}

    def _candidates(self) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, dict[int, set[int]]]:
        """Candidate workers per cluster (sorted), their count, each cluster's rule, and NIK hits where several."""
        count = self.clustering.count
        h_cluster, h_worker, h_nik, h_worker_nik = self._valid_hits()
        keep = self._within_worker_niks(h_cluster, h_worker, h_worker_nik)
        h_cluster, h_worker, h_nik = h_cluster[keep], h_worker[keep], h_nik[keep]
        candidates = pd.DataFrame({"cluster": h_cluster, "worker": h_worker}).drop_duplicates()
        candidates = candidates.sort_values(["cluster", "worker"], kind="stable")
        cand_count = np.bincount(candidates["cluster"].to_numpy(), minlength=count)
        nik_hit = np.zeros(count, dtype=bool)
        nik_hit[h_cluster[h_nik]] = True
        rule = np.where(
            (self.clustering.rule == NIK) | nik_hit,
            NIK,
            np.where(cand_count > 0, NAME_BIRTH_DATE, self.clustering.rule),
        )
        by_nik_of: dict[int, set[int]] = {}
        for c, w in zip(h_cluster[h_nik].tolist(), h_worker[h_nik].tolist(), strict=True):
            if cand_count[c] > 1:
                by_nik_of.setdefault(c, set()).add(w)
        return candidates, cand_count, rule, by_nik_of

    def _within_worker_niks(self, h_cluster: np.ndarray, h_worker: np.ndarray, h_worker_nik: np.ndarray) -> np.ndarray:
        """Which hits survive the rule that a worker never holds NIKs that cannot be one person's.

        The guards above compare a cluster with the NIK a worker was created
        with; a worker holds every NIK its rows carry. Without this, two rows
        whose NIKs are two edits apart, each one edit from a worker's NIK,
        both joined it when they came after it, but stayed apart when they
        came first (a batch never clusters them): month order changed the
        grouping. So a cluster joins or merges only workers whose NIKs, with
        its own, can all be one person's; among several, greedily, oldest key
        first, and clusters in order, each seeing what earlier ones joined.
        A cluster without a NIK, or whose one NIK is the worker's own, cannot
        break the rule and is not looked at: the rest are few (typos, a
        first roster without NIK), so only their workers' NIKs are read.
        """
        keep = np.ones(len(h_cluster), dtype=bool)
        if len(h_cluster) == 0:
            return keep
        clustering = self.clustering
        codes = clustering.nik_code[h_cluster]
        own = np.zeros(len(h_cluster), dtype=bool)
        single = codes >= 0
        own[single] = clustering.nik_values[codes[single]] == h_worker_nik[single]
        doubtful = (codes == -2) | (single & ~own)
        pairs = pd.DataFrame({"cluster": h_cluster, "worker": h_worker}).drop_duplicates()
        several = pairs["cluster"].value_counts()
        affected = sorted(set(h_cluster[doubtful].tolist()) | set(several.index[several > 1].tolist()))
        if not affected:
            return keep
        hits_of = pairs[pairs["cluster"].isin(affected)].groupby("cluster")["worker"].agg(list).to_dict()
        niks = worker_niks(self.conn, {w for ws in hits_of.values() for w in ws})
        group: dict[int, int] = {}  # workers joined by an earlier cluster of this batch -> their group

        def find(worker: int) -> int:
            while worker in group:
                worker = group[worker]
            return worker

        refused: set[tuple[int, int]] = set()
        for c in affected:
            held = set(clustering.niks(c))
            kept: list[int] = []
            for worker in sorted({find(w) for w in hits_of[c]}):
                if niks_compatible(held, niks.get(worker, set())):
                    kept.append(worker)
                    held |= niks.get(worker, set())
            for worker in kept[1:]:
                group[worker] = kept[0]
            if kept:
                niks[kept[0]] = held
            refused |= {(c, w) for w in hits_of[c] if find(w) not in kept}
        if refused:  # one hash lookup per hit, not a Python loop over a month's hits
            keep = ~pd.MultiIndex.from_arrays([h_cluster, h_worker]).isin(list(refused))
        return keep

    def _single_matches(self, candidates: pd.DataFrame, cand_count: np.ndarray) -> np.ndarray:
        """Each cluster's worker where its evidence leads to exactly one; -1 elsewhere."""
        worker_of = np.full(self.clustering.count, -1, dtype=np.int64)
        one = candidates[cand_count[candidates["cluster"].to_numpy()] == 1]
        worker_of[one["cluster"].to_numpy()] = one["worker"].to_numpy()
        return worker_of

    def _merge_matched(
        self, candidates: pd.DataFrame, cand_count: np.ndarray, rule: np.ndarray, by_nik_of: dict[int, set[int]],
        worker_of: np.ndarray,
    ) -> tuple[int, list[tuple[list[int], int, int]]]:  # fmt: skip
        """Clusters whose evidence leads to several workers, in cluster order: merged, or divided.

        The oldest key survives, except between workers a reviewer kept
        apart: then the cluster joins the worker its NIK points to (else the
        oldest) and merges only what may be merged with it; a cluster
        reaching both sides of a keep-apart is divided row by row. Fills
        ``worker_of``; returns the merges made and the divided clusters'
        parts (rows, worker, rule code).
        """
        conn, batch, clustering, apart = self.conn, self.batch, self.clustering, self.apart
        merged = 0
        redirect: dict[int, int] = {}  # merged in this run -> survivor
        merged_at: dict[int, int] = {}  # ... by the cluster at this position

        def current(worker_key: int, before: int) -> int:
            while worker_key in redirect and merged_at[worker_key] < before:
                worker_key = redirect[worker_key]
            return worker_key

        parts: list[tuple[list[int], int, int]] = []
        merges: list[tuple[int, list[int], str]] = []  # written together once every cluster is decided
        several = candidates[cand_count[candidates["cluster"].to_numpy()] > 1]
        known_dict = None
        for c, group in several.groupby("cluster", sort=True)["worker"]:
            workers, by_nik = group.tolist(), by_nik_of.get(c, set())
            if apart and any(apart.apart(x, y) for x in workers for y in workers):
                known_dict = known_dict if known_dict is not None else self._known_dict()
                members = clustering.rows(c)
                rows = {i: batch.row(i) for i in members}
                cluster = Cluster(members, clustering.niks(c), RULES[clustering.rule[c]])
                divided = _split_between_kept_apart(cluster, rows, known_dict, self.threshold, set(workers), by_nik)
                for part_rows, target, part_rule in divided:
                    parts.append((part_rows, current(target, c), RULE_CODE[part_rule]))
                continue
            roots = sorted({current(w, c) for w in workers})
            group_keys = roots
            if apart and len(roots) > 1:
                preferred = min(current(w, c) for w in by_nik) if by_nik else roots[0]
                group_keys = apart.compatible_group(preferred, roots)
            survivor = min(group_keys)
            others = [g for g in group_keys if g != survivor]
            if others:
                merges.append((survivor, others, RULES[rule[c]]))
                merged += len(others)
                for other in others:
                    redirect[other] = survivor
                    merged_at[other] = c
                apart.merged(survivor, others)
            worker_of[c] = survivor
        merge_workers_many(conn, merges)
        if redirect:  # a cluster matching one worker that an earlier cluster merged joins the survivor
            for c in np.flatnonzero((cand_count == 1) & np.isin(worker_of, list(redirect))).tolist():
                worker_of[c] = current(int(worker_of[c]), c)
        return merged, parts

    def _links(
        self, worker_of: np.ndarray, rule: np.ndarray, parts: list[tuple[list[int], int, int]]
    ) -> tuple[np.ndarray, np.ndarray, dict[str, pa.Array]]:
        """Each row's worker, the order rows claim evidence in, and identity.row_link's columns in that order.

        Links and evidence are claimed in cluster order, a divided cluster part by part.
        """
        batch, clustering = self.batch, self.clustering
        row_worker = worker_of[clustering.cluster]
        row_rule = rule[clustering.cluster]
        emitted = np.empty(batch.n, dtype=np.int64)
        emitted[clustering.order] = np.arange(batch.n)
        for rows, worker_key, part_rule in parts:
            row_worker[rows] = worker_key
            row_rule[rows] = part_rule
        for c in {int(clustering.cluster[rows[0]]) for rows, _, _ in parts}:
            start = clustering.starts[c]
            in_parts = [r for rows, _, _ in parts for r in rows if clustering.cluster[r] == c]
            emitted[in_parts] = np.arange(start, start + len(in_parts))
        in_order = np.argsort(emitted)
        links = {
            "period_month": self.months.take(pa.array(in_order)),
            "file_id": pa.array(batch.file_id[in_order]),
            "source_row": pa.array(batch.source_row[in_order]),
            "worker_key": pa.array(row_worker[in_order]),
            "rule": pa.array(RULES[row_rule[in_order]], type=TEXT),
        }
        return row_worker, emitted, links

    def _new_workers(self, clusters: np.ndarray, keys: np.ndarray) -> dict[str, pa.Array]:
        """identity.worker's columns for new workers: each described by its cluster's first row.

        The NIK is the cluster's (the smallest, if it holds several
        compatible ones), the village the first one its rows name.
        """
        batch, clustering = self.batch, self.clustering
        first = pa.array(clustering.order[clustering.starts[clusters]])
        codes = clustering.nik_code[clusters]
        niks = np.full(len(clusters), None, dtype=object)
        niks[codes >= 0] = clustering.nik_values[codes[codes >= 0]]
        for j in np.flatnonzero(codes == -2).tolist():
            niks[j] = min(clustering.niks(int(clusters[j])))
        # The first village named in each cluster's rows (rows in cluster order).
        village = batch.village_code.take(pa.array(clustering.order))
        position = np.where(village.is_valid().to_numpy(zero_copy_only=False), np.arange(batch.n), batch.n)
        first_named = np.minimum.reduceat(position, clustering.starts) if batch.n else position
        first_named = first_named[clusters]
        named = first_named < clustering.ends[clusters]
        villages = pc.if_else(
            pa.array(named), village.take(pa.array(np.where(named, first_named, 0))), pa.scalar(None, TEXT)
        )
        token_key = nik_key()
        return {
            "worker_key": pa.array(keys, type=KEY),
            "nik": pa.array(niks, type=TEXT),
            "nik_token": pa.array(nik_tokens(niks.tolist(), token_key), type=TEXT),
            "name_key": batch.name_key.take(first),
            "display_name": pa.array([display_name(n) for n in batch.full_name.take(first).to_pylist()], type=TEXT),
            "birth_date": batch.dates.take(first),
            "gender": batch.gender.take(first),
            "village_code": villages,
        }

    def _new_evidence(self, row_worker: np.ndarray, emitted: np.ndarray) -> dict[str, pa.Array]:
        """Evidence keys not stored yet, each for the worker of the first row (in claim order) carrying it.

        None of these keys is stored yet (``known`` holds every stored one
        among them, and IDENTITY_LOCK keeps other writers out), so they are
        copied straight in, sorted: byte order is the column's "C"
        collation, and sorted keys fill the btree page after page instead
        of at random.
        """
        new = np.flatnonzero(~self.pair_known)
        rows = self.pair_row[new]
        claim = np.lexsort((self.pair_is_nik[new], emitted[rows]))
        new, rows = new[claim], rows[claim]
        keys = self.pair_key.take(pa.array(new))
        _, first = np.unique(keys.dictionary_encode().indices.to_numpy(), return_index=True)
        keys, workers = keys.take(pa.array(first)), row_worker[rows[first]]
        by_key = pc.sort_indices(keys).to_numpy()
        return {"evidence_key": keys.take(pa.array(by_key)), "worker_key": pa.array(workers[by_key], type=KEY)}
