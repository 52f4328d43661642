"""Which rows of one batch are one person: the matching rules applied within the batch.

Two rules join rows (``resolve`` says why each is safe): a shared NIK that
is evidence (structurally valid and not contradicting its row's birth date
and sex, ``nik.nik_evidence``), guarded by the names (and by the birth date
with names that do not contradict), and the folded name with the birth
date, refused between NIKs that cannot be one person's. A
batch is a month of roster rows, a million and more, so the rules run as
array operations over the batch's columns (:class:`Batch`); Python objects
are made only for the few rows a rule cannot decide in bulk. The sequential
form of the same rules (:func:`cluster_sequential`) is kept as their
reference: the two are tested to agree.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz.distance import DamerauLevenshtein
from rapidfuzz.fuzz import token_set_ratio, token_sort_ratio
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components

from ucj.identity.nik import nik_evidence, nik_evidence_many

RULES = np.array(["new", "nik", "name_birth_date"], dtype=object)
NEW, NIK, NAME_BIRTH_DATE = 0, 1, 2
RULE_CODE = {rule: code for code, rule in enumerate(RULES)}
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


class Row:
    """One roster row as identity sees it; evidence keys derived once (the loops read them often)."""

    __slots__ = ("birth_date", "file_id", "gender", "keys", "name_key", "nik", "source_row", "strong_nik")

    def __init__(
        self, file_id: int, source_row: int, nik: str | None, name_key: str, birth_date: dt.date, gender: str | None,
        strong_nik: str | bool | None = True,
    ) -> None:  # fmt: skip
        """``strong_nik``: the NIK if already known to be evidence (``nik.nik_evidence``), else None; by default
        checked here."""
        self.file_id = file_id
        self.source_row = source_row
        self.nik = nik
        self.name_key = name_key
        self.birth_date = birth_date
        self.gender = gender
        strong = nik_evidence(nik, birth_date, gender) if strong_nik is True else strong_nik
        self.strong_nik = strong
        by_name = f"B:{name_key}|{birth_date.isoformat()}"
        self.keys: tuple[str, ...] = (by_name, f"N:{strong}") if strong else (by_name,)


class Cluster:
    """Row indexes of one person in this batch, their NIKs, and the strongest rule that joined them."""

    __slots__ = ("niks", "rows", "rule")

    def __init__(self, rows: list[int] | None = None, niks: set[str] | None = None, rule: str = "new") -> None:
        self.rows = rows if rows is not None else []
        self.niks = niks if niks is not None else set()
        self.rule = rule


def _array(values: Any, type_: pa.DataType) -> pa.Array:
    """One Arrow array of ``type_`` from a column of a table, an array or a list."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return values.cast(type_) if isinstance(values, pa.Array) else pa.array(values, type=type_, from_pandas=True)


def _strings(values: Any) -> pa.Array:
    """A string column with empty strings as nulls (an empty cell is no evidence)."""
    array = _array(values, pa.string())
    return pc.if_else(pc.equal(array, ""), pa.scalar(None, pa.string()), array)


class Batch:
    """A batch of roster rows as columns, in the order the rules see them.

    ``birth_date`` is a date32 column (every row has one); strings may be
    null. Built from Arrow columns by ``resolve``, or from ``Row``
    objects by :meth:`from_rows` (tests and the accuracy benchmark).
    """

    def __init__(self, columns: dict[str, Any]) -> None:
        self.file_id = _array(columns["file_id"], pa.int64()).to_numpy()
        self.source_row = _array(columns["source_row"], pa.int64()).to_numpy()
        self.n = len(self.file_id)
        nik = _strings(columns["nik"])
        self.name_key = _strings(columns["name_key"])
        self.dates = dates = _array(columns["birth_date"], pa.date32())
        self.born = dates.cast(pa.int32()).to_numpy().astype(np.int64)  # days since 1970-01-01
        self.gender = _strings(columns.get("gender", pa.nulls(self.n, pa.string())))
        self.full_name = _strings(columns.get("full_name", pa.nulls(self.n, pa.string())))
        self.village_code = _strings(columns.get("village_code", pa.nulls(self.n, pa.string())))
        # NIK evidence: structurally valid and not contradicting the row's own birth date and sex.
        self.strong_nik = nik_evidence_many(nik, dates, self.gender)
        self.by_name = pc.binary_join_element_wise("B:", self.name_key, "|", dates.cast(pa.string()), "")
        self.by_nik = pc.binary_join_element_wise("N:", self.strong_nik, "")
        self._niks: np.ndarray | None = None
        self._names: np.ndarray | None = None

    @classmethod
    def from_rows(cls, rows: Sequence[Row]) -> Batch:
        return cls({
            "file_id": [r.file_id for r in rows], "source_row": [r.source_row for r in rows],
            "nik": [r.nik for r in rows], "name_key": [r.name_key for r in rows],
            "birth_date": [r.birth_date for r in rows], "gender": [r.gender for r in rows],
        })  # fmt: skip

    @property
    def niks(self) -> np.ndarray:
        """Strong NIKs as an object array (None where a row has none), for the loops that read a few."""
        if self._niks is None:
            self._niks = self.strong_nik.to_numpy(zero_copy_only=False)
        return self._niks

    @property
    def names(self) -> np.ndarray:
        if self._names is None:
            self._names = self.name_key.to_numpy(zero_copy_only=False)
        return self._names

    def birth_date(self, i: int) -> dt.date:
        return dt.date.fromordinal(int(self.born[i]) + _EPOCH_ORDINAL)

    def row(self, i: int) -> Row:
        """Row ``i`` as an object, for the rules' rare cases that are decided one row at a time.

        Its NIK is the structurally valid one or None: the only NIK the rules read.
        """
        return Row(
            int(self.file_id[i]), int(self.source_row[i]), self.niks[i], self.names[i], self.birth_date(i),
            self.gender[i].as_py(), strong_nik=self.niks[i],
        )  # fmt: skip


class Clustering:
    """The batch's clusters as arrays, numbered in the order of their first row.

    ``cluster[i]``: row i's cluster; ``order``: rows sorted by cluster, rows
    ascending inside each, with ``starts`` the first position of each
    cluster in it; ``rule``: each cluster's rule code (``RULES``);
    ``nik_code``: the cluster's one NIK as a code into ``nik_values``, -1
    when it has none, -2 when it has several (listed in ``several_niks``).
    """

    def __init__(
        self, cluster: np.ndarray, rule: np.ndarray, nik_code: np.ndarray, nik_values: np.ndarray,
        several_niks: dict[int, set[str]],
    ) -> None:  # fmt: skip
        self.cluster = cluster
        self.count = len(rule)
        self.rule = rule
        self.nik_code = nik_code
        self.nik_values = nik_values
        self.several_niks = several_niks
        n = len(cluster)
        self.order = np.lexsort((np.arange(n), cluster))
        self.starts = np.searchsorted(cluster[self.order], np.arange(self.count))
        self.ends = np.r_[self.starts[1:], n]

    def niks(self, c: int) -> set[str]:
        code = int(self.nik_code[c])
        return {self.nik_values[code]} if code >= 0 else self.several_niks.get(c, set())

    def rows(self, c: int) -> list[int]:
        return self.order[self.starts[c] : self.ends[c]].tolist()

    def as_clusters(self) -> list[Cluster]:
        return [Cluster(self.rows(c), self.niks(c), RULES[self.rule[c]]) for c in range(self.count)]


def niks_compatible(a: set[str], b: set[str]) -> bool:
    """Two NIK sets can belong to one person if every pair is at most one edit apart."""
    if a == b and len(a) <= 1:  # the usual case, without the edit distance
        return True
    return all(x == y or DamerauLevenshtein.distance(x, y) <= 1 for x in a for y in b)


def same_person_by_nik(
    name_a: str, born_a: dt.date | int, name_b: str, born_b: dt.date | int, name_threshold: float
) -> bool:
    """Two records sharing a NIK are one person if their names agree, or if their birth dates (dates,
    or day numbers) agree and their names do not contradict each other.

    A relative's NIK, typed by mistake, agrees in neither; a twin's shares the
    birth date, so the names decide: "Lestari Koto" is not "Suryani Koto".
    With the same birth date a dropped or added name word is no
    contradiction ("Aminah" and "Siti Nur Aminah": token set similarity);
    a missing name contradicts nothing.
    """
    if born_a == born_b:
        return names_do_not_contradict(name_a, name_b, name_threshold)
    return token_sort_ratio(name_a, name_b) >= name_threshold


def names_do_not_contradict(name_a: str, name_b: str, name_threshold: float) -> bool:
    """Equal, one missing, or one's words found in the other's (token set similarity at the threshold)."""
    return not name_a or not name_b or name_a == name_b or token_set_ratio(name_a, name_b) >= name_threshold


def cluster_rows(rows: Sequence[Row], name_threshold: float) -> list[Cluster]:
    """:func:`cluster_batch` of ``Row`` objects, as ``Cluster`` objects (the form ``cluster_sequential`` gives)."""
    if not rows:
        return []
    return cluster_batch(Batch.from_rows(rows), name_threshold).as_clusters()


def cluster_batch(batch: Batch, name_threshold: float) -> Clustering:
    """Deterministic clustering (row order fixed by the caller), clusters in the order of their first row.

    The same clusters as ``cluster_sequential``, found with array
    operations. A union is refused only between two NIK sets that cannot
    be one person's, so in a connected component (of all the joins the
    rules propose) whose NIKs are pairwise compatible no union was refused
    and the component is the cluster. Only components holding conflicting
    NIKs - rare: a typo meeting a relative's NIK - are replayed one union at
    a time. The NIK joins are the sequential ones exactly: each row joins
    the first earlier row with its NIK that is the same person.
    """
    n = batch.n
    if n == 0:
        return Clustering(*(np.zeros(0, dtype=np.int64) for _ in range(4)), {})
    encoded = batch.strong_nik.dictionary_encode()
    nik_codes = encoded.indices.fill_null(-1).to_numpy().astype(np.int64)
    nik_values = encoded.dictionary.to_numpy(zero_copy_only=False)
    nik_sources, nik_targets = _nik_joins(batch, nik_codes, len(nik_values), name_threshold)
    name_sources, name_targets = _name_birth_date_joins(batch)
    graph = coo_array(
        (
            np.ones(len(nik_targets) + len(name_targets), dtype=np.int8),
            (np.concatenate([nik_sources, name_sources]), np.concatenate([nik_targets, name_targets])),
        ),
        shape=(n, n),
    )
    count, labels = connected_components(graph, directed=False)
    labels = labels.astype(np.int64)
    size = np.bincount(labels, minlength=count)
    with_nik_join = np.zeros(count, dtype=bool)
    with_nik_join[labels[nik_targets]] = True
    rule = np.where(size == 1, NEW, np.where(with_nik_join, NIK, NAME_BIRTH_DATE))
    nik_count, nik_code = _component_niks(labels, nik_codes, count, len(nik_values))
    several: dict[int, set[str]] = {}
    rule, nik_code, next_label = _replay_conflicts(
        batch, labels, nik_codes, nik_values, nik_count, rule, nik_code, several, name_threshold
    )
    return _numbered_by_first_row(labels, next_label, rule, nik_code, nik_values, several)


def _nik_joins(
    batch: Batch, nik_codes: np.ndarray, nik_count: int, name_threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """(earlier row, later row) for each row that joins an earlier row with its NIK.

    A row joins the first earlier row with its NIK that is the same person;
    when the NIK's first row has the same birth date that is it (no name to
    compare), else the rows before it are tried in order.
    """
    n, born = batch.n, batch.born
    idx = np.arange(n)
    has_nik = nik_codes >= 0
    first_with_nik = np.full(nik_count + 1, n, dtype=np.int64)
    np.minimum.at(first_with_nik, nik_codes[has_nik], idx[has_nik])
    first_nik = np.where(has_nik, first_with_nik[nik_codes], idx)
    later = np.flatnonzero(first_nik != idx)
    same_day = born[later] == born[first_nik[later]]
    # The same birth date: joined unless the names contradict (twins); only unequal names are compared.
    unequal = pc.fill_null(
        pc.not_equal(batch.name_key.take(pa.array(later)), batch.name_key.take(pa.array(first_nik[later]))), False
    ).to_numpy(zero_copy_only=False)
    if (same_day & unequal).any():
        names = batch.names
        for j in np.flatnonzero(same_day & unequal).tolist():
            if not names_do_not_contradict(names[first_nik[later[j]]], names[later[j]], name_threshold):
                same_day[j] = False
    sources, targets = [first_nik[later[same_day]]], [later[same_day]]
    doubtful = later[~same_day].tolist()
    if doubtful:
        names = batch.names
        group: dict[int, list[int]] = defaultdict(list)
        for i in np.flatnonzero(np.isin(nik_codes, np.unique(nik_codes[doubtful]))).tolist():
            group[int(nik_codes[i])].append(i)
        extra_sources, extra_targets = [], []
        for i in doubtful:
            for anchor in group[int(nik_codes[i])]:
                if anchor == i:
                    break
                if same_person_by_nik(names[anchor], born[anchor], names[i], born[i], name_threshold):
                    extra_sources.append(anchor)
                    extra_targets.append(i)
                    break
        sources.append(np.asarray(extra_sources, dtype=np.int64))
        targets.append(np.asarray(extra_targets, dtype=np.int64))
    return np.concatenate(sources), np.concatenate(targets)


def _name_birth_date_joins(batch: Batch) -> tuple[np.ndarray, np.ndarray]:
    """(first row of the key, row) for every later row sharing a name key and birth date."""
    idx = np.arange(batch.n)
    codes = batch.by_name.dictionary_encode().indices.to_numpy().astype(np.int64)
    first_of_code = np.full(codes.max() + 1, batch.n, dtype=np.int64)
    np.minimum.at(first_of_code, codes, idx)
    firsts = first_of_code[codes]
    others = np.flatnonzero(firsts != idx)
    return firsts[others], others


def _component_niks(
    labels: np.ndarray, nik_codes: np.ndarray, count: int, nik_values: int
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct NIKs per component, and its one NIK's code (-1 none, -2 several)."""
    has_nik = nik_codes >= 0
    width = np.int64(nik_values + 1)
    label_nik = np.unique(labels[has_nik] * width + nik_codes[has_nik])
    nik_count = np.bincount(label_nik // width, minlength=count)
    nik_code = np.full(count, -1, dtype=np.int64)
    single = nik_count[label_nik // width] == 1
    nik_code[label_nik[single] // width] = label_nik[single] % width
    nik_code[nik_count > 1] = -2
    return nik_count, nik_code


def _replay_conflicts(
    batch: Batch, labels: np.ndarray, nik_codes: np.ndarray, nik_values: np.ndarray, nik_count: np.ndarray,
    rule: np.ndarray, nik_code: np.ndarray, several: dict[int, set[str]], name_threshold: float,
) -> tuple[np.ndarray, np.ndarray, int]:  # fmt: skip
    """Components with several NIKs: one cluster if they are compatible, else replayed union by union.

    Replayed parts get new labels after the components' (``labels`` and
    ``several`` are updated in place); returns the rule and NIK code of
    every label, and the number of labels.
    """
    count = len(rule)
    rules, codes_of = [rule], [nik_code]
    next_label = count
    by_label = np.argsort(labels, kind="stable")  # rows ascending inside each component
    bounds = np.searchsorted(labels[by_label], np.arange(count + 1))
    for component in np.flatnonzero(nik_count > 1).tolist():
        members = by_label[bounds[component] : bounds[component + 1]].tolist()
        niks = {nik_values[c] for c in nik_codes[members] if c >= 0}
        if niks_compatible(niks, niks):
            several[component] = niks
            continue
        for part in cluster_sequential([batch.row(i) for i in members], name_threshold):
            labels[[members[i] for i in part.rows]] = next_label
            rules.append(np.array([RULE_CODE[part.rule]]))
            if len(part.niks) == 1:
                (code,) = {int(nik_codes[members[i]]) for i in part.rows} - {-1}
                codes_of.append(np.array([code]))
            else:
                codes_of.append(np.array([-1 if not part.niks else -2]))
                if part.niks:
                    several[next_label] = part.niks
            next_label += 1
    return np.concatenate(rules), np.concatenate(codes_of), next_label


def _numbered_by_first_row(
    labels: np.ndarray, label_count: int, rule: np.ndarray, nik_code: np.ndarray, nik_values: np.ndarray,
    several: dict[int, set[str]],
) -> Clustering:  # fmt: skip
    """The clusters numbered by their first row (labels a replay left empty dropped)."""
    n = len(labels)
    first_row = np.full(label_count, n, dtype=np.int64)
    np.minimum.at(first_row, labels, np.arange(n))
    present = np.flatnonzero(first_row < n)
    present = present[np.argsort(first_row[present], kind="stable")]
    number = np.full(label_count, -1, dtype=np.int64)
    number[present] = np.arange(len(present))
    return Clustering(
        number[labels], rule[present], nik_code[present], nik_values,
        {int(number[label]): niks for label, niks in several.items() if number[label] >= 0},
    )  # fmt: skip


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
