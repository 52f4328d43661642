"""Linking a batch to stored workers, as array operations, equals the rules applied cluster by cluster.

``ucj.identity.resolve`` links a month's rows to stored workers in bulk;
``Model`` below states the same rules one cluster at a time in plain Python
(the clusters from ``cluster_sequential``, the reference clustering). Small
worlds where the rules collide - NIKs one typo apart, a relative's NIK,
namesakes, workers that a later batch proves to be one - are landed batch
by batch through the real ingest into PostgreSQL, and after every batch the
warehouse's workers, evidence, links and merges must be the model's. The
batches come in any month order, and the rows that end up sharing a worker
must be those of one run per month in the months' order.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from outputs import OUTPUT_TABLES
from rosterfiles import land_village, publish_and_settle, village_row

from ucj import ingest
from ucj import settings as ucj_settings
from ucj.identity.cluster import Row, cluster_sequential, niks_compatible, same_person_by_nik
from ucj.identity.resolve import resolve_identities

THRESHOLD = ucj_settings.settings().identity.nik_name_similarity


class Model:
    """Workers, evidence, links and merges as the rules make them, cluster by cluster."""

    def __init__(self) -> None:
        self.workers: dict[int, dict] = {}  # key -> nik, name_key, birth_date, merged_into
        self.evidence: dict[str, int] = {}
        self.links: dict[tuple[int, int], tuple[int, str]] = {}
        self.merges: dict[int, tuple[int, str]] = {}
        self.niks: dict[int, set[str]] = {}  # root -> every NIK its rows carry
        self.rows: dict[tuple[int, int], tuple[str, Row]] = {}  # every linked row, with its month
        self.last_key = 0  # as a sequence: a deleted worker's key is never handed out again
        self.reopened_later = 0  # rows of months after the last batch's that it linked again

    def root(self, key: int) -> int:
        return self.workers[key]["merged_into"] or key

    def reopen(self, rows: list[Row], period: str) -> list[Row]:
        """The rows of this month and later ones the rules linked before that share evidence with ``rows``,
        however indirectly; unlinked."""
        keys = {k for row in rows for k in row.keys}
        reopened: dict[tuple[int, int], Row] = {}
        while True:
            reached = {
                position: row
                for position, (month, row) in self.rows.items()
                if month >= period and position not in reopened and position in self.links
                and self.links[position][1] in ("new", "nik", "name_birth_date") and keys & set(row.keys)
            }  # fmt: skip
            if not reached:
                break
            reopened.update(reached)
            keys |= {k for row in reached.values() for k in row.keys}
        for position in reopened:
            del self.links[position]
        return [reopened[position] for position in sorted(reopened)]

    def link_month(self, rows: list[Row], period: str) -> None:
        """A batch of one month: the rows it reaches in it and in later months reopened, the later months'
        evidence given back, then linked month by month in order; emptied workers deleted."""
        reopened = self.reopen(rows, period)
        month_of = {(r.file_id, r.source_row): (self.rows[(r.file_id, r.source_row)][0]) for r in reopened}
        later = [r for r in reopened if month_of[(r.file_id, r.source_row)] > period]
        self.reopened_later = len(later)
        carried = {k for position, (_, row) in self.rows.items() if position in self.links for k in row.keys}
        for key in {k for row in later for k in row.keys} - carried:
            self.evidence.pop(key, None)
        for month in sorted({period} | set(month_of.values())):
            batch = [r for r in reopened if month_of[(r.file_id, r.source_row)] == month]
            batch = sorted(batch + (rows if month == period else []), key=lambda r: (r.file_id, r.source_row))
            roots = {self.root(w) for w in self.workers}
            self.niks = {root: set() for root in roots}  # as the warehouse reads them: from the rows linked now
            for position, (_, row) in self.rows.items():
                if position in self.links and row.strong_nik:
                    self.niks[self.root(self.links[position][0])].add(row.strong_nik)
            self.link(batch)
            for row in batch:
                self.rows[(row.file_id, row.source_row)] = (month, row)
        self._drop_emptied(reopened)

    def _drop_emptied(self, reopened: list[Row]) -> None:
        linked = {worker for worker, _ in self.links.values()}
        named = {k for k, (into, _) in self.merges.items()} | {into for into, _ in self.merges.values()}
        emptied = [
            key for key, worker in self.workers.items()
            if key not in linked and worker["merged_into"] is None and key not in named
            and not any(w["merged_into"] == key for w in self.workers.values())
        ]  # fmt: skip
        for key in emptied:
            del self.workers[key]
        heirs: dict[str, int] = {}
        for row in sorted(reopened, key=lambda r: (r.file_id, r.source_row)):
            for k in row.keys:
                heirs.setdefault(k, self.links[(row.file_id, row.source_row)][0])
        for k, worker in list(self.evidence.items()):
            if worker in emptied:
                if k in heirs:
                    self.evidence[k] = heirs[k]
                else:
                    del self.evidence[k]

    def link(self, rows: list[Row]) -> None:
        known = {}
        for key in {k for row in rows for k in row.keys} & self.evidence.keys():
            worker = self.workers[self.evidence[key]]
            known[key] = (self.root(self.evidence[key]), worker["nik"], worker["name_key"], worker["birth_date"])
        matches = []
        group: dict[int, int] = {}  # workers joined by an earlier cluster of this batch -> their group

        def find(worker: int) -> int:
            while worker in group:
                worker = group[worker]
            return worker

        for cluster in cluster_sequential(rows, THRESHOLD):
            hits: set[tuple[int, bool]] = set()
            for i in cluster.rows:
                for key in rows[i].keys:
                    if key not in known:
                        continue
                    worker_key, w_nik, w_name, w_born = known[key]
                    row = rows[i]
                    if key.startswith("N:"):
                        if not same_person_by_nik(row.name_key, row.birth_date, w_name, w_born, THRESHOLD):
                            continue
                    elif w_nik and not niks_compatible(cluster.niks, {w_nik}):
                        continue
                    hits.add((worker_key, key.startswith("N:")))
            # A worker never holds NIKs that cannot be one person's: oldest key first, each seeing the last.
            held, kept = set(cluster.niks), []
            for worker in sorted({find(w) for w, _ in hits}):
                if niks_compatible(held, self.niks.get(worker, set())):
                    kept.append(worker)
                    held |= self.niks.get(worker, set())
            for worker in kept[1:]:
                group[worker] = kept[0]
            if kept:
                self.niks[kept[0]] = held
            candidates = {w for w, _ in hits if find(w) in kept}
            rule = cluster.rule
            if candidates:
                via_nik = any(through_nik for w, through_nik in hits if w in candidates)
                rule = "nik" if rule == "nik" or via_nik else "name_birth_date"
            matches.append((cluster, candidates, rule))
        next_key = self.last_key + 1
        assigned = {}
        for cluster, candidates, _ in matches:
            if not candidates:
                assigned[id(cluster)] = next_key
                first = rows[cluster.rows[0]]
                niks = sorted(cluster.niks)
                self.workers[next_key] = {
                    "nik": niks[0] if niks else None, "name_key": first.name_key, "birth_date": first.birth_date,
                    "merged_into": None,
                }  # fmt: skip
                self.niks[next_key] = set(cluster.niks)
                self.last_key = next_key
                next_key += 1
        for cluster, candidates, rule in matches:
            if candidates:
                roots = sorted({self.root(c) for c in candidates})
                survivor, others = roots[0], roots[1:]
                for other in others:
                    self.merges[other] = (survivor, rule)
                for key, worker in self.workers.items():
                    if key in others or worker["merged_into"] in others:
                        worker["merged_into"] = survivor
                assigned[id(cluster)] = survivor
        for cluster, _, rule in matches:
            for i in cluster.rows:
                row = rows[i]
                self.links[(row.file_id, row.source_row)] = (assigned[id(cluster)], rule)
                for key in row.keys:
                    if key not in known:
                        self.evidence.setdefault(key, assigned[id(cluster)])


def unlinked_rows(conn) -> list[Row]:
    """The rows identity will link, in the order it sees them (by what the files are, then row)."""
    return [
        Row(*r)
        for r in conn.execute(
            """select r.file_id, r.source_row, r.nik, r.name_key, r.birth_date, r.gender
               from ingest.roster_row as r
               join ingest.source_file as f using (file_id)
               where r.status in ('loaded', 'duplicate') and r.name_key is not null and r.birth_date is not null
                 and not exists (select from identity.row_link as l
                                 where l.file_id = r.file_id and l.source_row = r.source_row)
               order by f.period_month, f.rel_path collate "C", f.modified_at, f.content_hash, r.source_row"""
        )
    ]


def warehouse_state(conn) -> tuple:
    workers = {
        key: {"nik": nik, "name_key": name, "birth_date": born, "merged_into": into}
        for key, nik, name, born, into in conn.execute(
            "select worker_key, nik, name_key, birth_date, merged_into from identity.worker"
        )
    }
    evidence = dict(conn.execute("select evidence_key, worker_key from identity.worker_evidence").fetchall())
    links = {
        (f, s): (w, rule)
        for f, s, w, rule in conn.execute("select file_id, source_row, worker_key, rule from identity.row_link")
    }
    merges = {
        w: (into, rule)
        for w, into, rule in conn.execute("select worker_key, merged_into, rule from identity.worker_merge")
    }
    return workers, evidence, links, merges


# A small world: one person's NIK, the same with a typo, a relative's (other
# digits), a namesake's; names with spelling variants; three birth dates. The
# 05-03-1985 NIKs contradict every birth date below (``nik.nik_evidence``: they
# are no evidence), the 12-03-1985 ones agree with two of them, 01-01-1990 with one.
NIKS = [None, "1310014503850001", "1310014503850007", "1310014503859901", "7208014503850002", "1310014101900002",
        "1310015203850001", "1310015203850007"]  # fmt: skip
NAMES = ["Siti Aminah", "Hj. Siti Aminnah", "Aminah Siti", "Budi Santoso", "Rahmat Hidayat"]
BORN = ["12/03/1985", "1985-03-12", "01/01/1990", "21/03/1985"]
ROW = st.tuples(st.sampled_from(NIKS), st.sampled_from(NAMES), st.sampled_from(BORN))


# Found by this test: the second run empties a worker, and PostgreSQL 16.2 once
# kept it (a merge anti join over row_link's partitions, after another test's data).
EMPTIES_A_WORKER = [
    (1, [("1310014503850001", "Siti Aminah", "12/03/1985"), ("1310014503850001", "Siti Aminah", "01/01/1990"),
         ("1310014503859901", "Budi Santoso", "12/03/1985"), ("1310014503859901", "Siti Aminah", "01/01/1990")]),
    (1, [(None, "Siti Aminah", "12/03/1985")]),
]  # fmt: skip


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(batches=EMPTIES_A_WORKER)
@given(batches=st.lists(st.tuples(st.integers(1, 3), st.lists(ROW, min_size=1, max_size=8)), min_size=1, max_size=3))
def test_linking_in_bulk_equals_the_rules_cluster_by_cluster(clean_warehouse, batches: list) -> None:
    """Each batch a file of one of three months, in any order: a later file of a month already linked,
    or a month before one already linked, is linked in a run of its own. After every run the warehouse
    is the reference model's; at the end, which rows share a worker is what one run of each month,
    in the months' order, gives for the same files."""
    import psycopg

    root = Path(tempfile.mkdtemp(prefix="ucj-linking-"))
    try:
        with psycopg.connect(clean_warehouse, autocommit=True) as conn:
            conn.execute(f"truncate {', '.join(OUTPUT_TABLES)}, meta.stage_fingerprint restart identity cascade")
            model = Model()
            landed: dict[str, list[str]] = {}
            for b, (month, specs) in enumerate(batches):
                period = f"2025-{month:02d}"
                rows = [village_row(i + 1, nik=nik, name=name, born=born) for i, (nik, name, born) in enumerate(specs)]
                rel = land_village(root, period, f"roster_{b}.csv", rows, 1_700_000_000 + b)
                landed.setdefault(period, []).append(rel)
                ingest.ingest_batch(conn, root, "village", period, [rel])
                publish_and_settle(conn, "village", period)
                model.link_month(unlinked_rows(conn), period)
                if model.reopened_later:
                    event("rows of a later month linked again")
                with conn.transaction():
                    resolve_identities(conn)
                assert warehouse_state(conn) == (model.workers, model.evidence, model.links, model.merges)
            arrived = _grouping(conn)
            # The same files, each month whole and in the months' order: the same rows share a worker.
            conn.execute(f"truncate {', '.join(OUTPUT_TABLES)}, meta.stage_fingerprint restart identity cascade")
            for period in sorted(landed):
                ingest.ingest_batch(conn, root, "village", period, landed[period])
                publish_and_settle(conn, "village", period)
                with conn.transaction():
                    resolve_identities(conn)
            assert _grouping(conn) == arrived
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _grouping(conn) -> set[frozenset[tuple[str, int]]]:
    """Which rows (file path, row) share a worker: what must not depend on the order files came in."""
    workers: dict[int, set[tuple[str, int]]] = {}
    for rel_path, source_row, worker in conn.execute(
        """select f.rel_path, l.source_row, coalesce(w.merged_into, w.worker_key)
           from identity.row_link as l join ingest.source_file as f using (file_id)
           join identity.worker as w using (worker_key)"""
    ):
        workers.setdefault(worker, set()).add((rel_path, source_row))
    return {frozenset(rows) for rows in workers.values()}


def test_model_sees_a_later_row_join_two_workers() -> None:
    """The model itself: a row carrying one worker's NIK and another's name and birth date merges them.

    The second worker's birth date is the first's with two digits transposed (21 for 12), so the NIK
    is still the later row's own (``nik.nik_evidence``)."""
    model = Model()
    born, slipped = dt.date(1985, 3, 12), dt.date(1985, 3, 21)
    model.link(
        [
            Row(1, 1, "1310015203850001", "aminah siti", born, "P"),
            Row(1, 2, None, "aminah siti", slipped, "P"),
        ]
    )
    assert len(model.workers) == 2
    model.link([Row(2, 1, "1310015203850001", "aminah siti", slipped, "P")])
    assert model.merges == {2: (1, "nik")}
    assert model.links[(2, 1)] == (1, "nik")


# One name and birth date, three NIKs: A-B and A-C one edit apart, B-C two.
NIK_A, NIK_B, NIK_C = "1310014503850001", "1310014503850007", "1310014503850201"


def _groups_after(clean_warehouse: str, months: list[tuple[str, list[str]]]) -> set[frozenset[str]]:
    import psycopg

    root = Path(tempfile.mkdtemp(prefix="ucj-linking-"))
    try:
        with psycopg.connect(clean_warehouse, autocommit=True) as conn:
            conn.execute(f"truncate {', '.join(OUTPUT_TABLES)}, meta.stage_fingerprint restart identity cascade")
            for b, (period, niks) in enumerate(months):
                rows = [village_row(i + 1, nik=n, name="Siti Aminah", born="05/03/1985") for i, n in enumerate(niks)]
                rel = land_village(root, period, "roster.csv", rows, 1_700_000_000 + b)
                ingest.ingest_batch(conn, root, "village", period, [rel])
                publish_and_settle(conn, "village", period)
                with conn.transaction():
                    resolve_identities(conn)
            groups: dict[int, set[str]] = {}
            for nik, worker in conn.execute(
                """select r.nik, coalesce(w.merged_into, w.worker_key)
                   from identity.row_link as l join identity.worker as w using (worker_key)
                   join ingest.roster_row as r using (period_month, file_id, source_row)"""
            ):
                groups.setdefault(worker, set()).add(nik)
            return {frozenset(g) for g in groups.values()}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_a_worker_never_holds_niks_that_cannot_be_one_persons_whatever_month_comes_first(clean_warehouse) -> None:
    """B and C each agree with A, not with each other. Linked after A they used to both join A's worker
    (each was compared with the NIK the worker was created with), linked before A they stayed apart:
    month order changed the grouping. Now a worker's every NIK counts, and both orders agree."""
    january, february = ("2025-01", [NIK_A]), ("2025-02", [NIK_B, NIK_C])
    chronological = _groups_after(clean_warehouse, [january, february])
    reversed_order = _groups_after(clean_warehouse, [february, january])
    assert chronological == {frozenset({NIK_A, NIK_B}), frozenset({NIK_C})}
    assert reversed_order == chronological
