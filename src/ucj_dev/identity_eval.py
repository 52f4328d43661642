"""The resolvers and scores of ``make bench-identity``, shared with the identity tests.

The project's resolver (the pipeline's rules, then its splink model) and two
baselines (exact NIK; splink with a default configuration) over labelled
records (``ucj_dev.synthetic.labelled``), and pairwise scores against the truth. The
last model run's review queue is kept in ``QUEUED``, ``REVIEW_PRECISION``
and ``SCORED``, its blocking recall in ``BLOCKING``, its result after a
perfect reviewer in ``AFTER_REVIEW``, and the same workers scored by the
model that reviewer's decisions recalibrate in ``CALIBRATED``, for the report.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from ucj_dev.synthetic.labelled import Record


# ---------------------------------------------------------------- resolvers
def resolve_project(recs: list[Record]) -> list[int]:
    """The clustering the pipeline runs (ucj.identity.cluster.cluster_rows) on every record at once."""
    from ucj.identity.cluster import Row, cluster_rows
    from ucj.identity.names import name_key
    from ucj.settings import settings

    rows = [Row(0, r.rid, r.nik, name_key(r.full_name) or "", r.birth_date, r.gender) for r in recs]
    clusters = cluster_rows(rows, settings().identity.nik_name_similarity)
    label = [0] * len(recs)
    for c, cluster in enumerate(clusters):
        for i in cluster.rows:
            label[i] = c
    return label


def resolve_project_with_model(recs: list[Record]) -> list[int]:
    """The rules, then the probabilistic pass the pipeline runs over the workers they produce
    (ucj.identity.probabilistic), with the shipped configuration; queued pairs stay apart, as
    they do until a person accepts them."""
    from ucj.identity.cluster import Row, cluster_rows, niks_compatible
    from ucj.identity.names import name_key
    from ucj.identity.probabilistic import auto_mergeable, score_workers
    from ucj.settings import settings

    cfg = settings().identity
    rows = [Row(0, r.rid, r.nik, name_key(r.full_name) or "", r.birth_date, r.gender) for r in recs]
    clusters = cluster_rows(rows, cfg.nik_name_similarity)
    workers = []
    for c, cluster in enumerate(clusters):
        first = rows[cluster.rows[0]]
        nik = min(cluster.niks) if cluster.niks else None
        village = next((recs[i].village for i in cluster.rows if recs[i].village), None)
        workers.append({"worker_key": c, "nik": nik, "name_key": first.name_key, "birth_date": first.birth_date,
                        "gender": first.gender, "village_code": village})  # fmt: skip
    parent = list(range(len(clusters)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    BLOCKING.append(blocking_recall(workers, [recs[cluster.rows[0]].pid for cluster in clusters]))
    # Letter slips merged (off by default: history-dependent), so the tables show what the setting buys.
    model = cfg.probabilistic.model_copy(update={"merge_letter_slips": True})
    pairs = score_workers(workers, float(model.review_probability), float(model.expected_duplicate_share))
    SCORED.append([(p.probability, p.niks_conflict, same_person(recs, clusters, p.worker_a, p.worker_b))
                   for p in pairs])  # fmt: skip
    niks = {c: set(cluster.niks) for c, cluster in enumerate(clusters)}  # every NIK of each group's rows

    def labels() -> list[int]:
        label = [0] * len(recs)
        for c, cluster in enumerate(clusters):
            for i in cluster.rows:
                label[i] = find(c)
        return label

    def merge(pair: Any, by_model: bool) -> bool:
        """As the pipeline: the model merges only groups whose NIKs can all be one person's; a person may."""
        a, b = sorted((find(pair.worker_a), find(pair.worker_b)))
        if a == b:
            return True
        if by_model and not niks_compatible(niks[a], niks[b]):
            return False
        parent[b] = a
        niks[a] |= niks.pop(b)
        return True

    queued = [p for p in pairs if not (auto_mergeable(p, model) and merge(p, by_model=True))]
    REVIEW_PRECISION.append(sum(1 for p in queued if same_person(recs, clusters, p.worker_a, p.worker_b)))
    QUEUED.append(len(queued))
    unattended = labels()
    # A reviewer who decides every queued pair by the truth: accepted pairs merge, rejected stay apart.
    for pair in queued:
        if same_person(recs, clusters, pair.worker_a, pair.worker_b):
            merge(pair, by_model=False)
    AFTER_REVIEW.append(labels())
    WORKERS.append(len(clusters))
    CALIBRATED.append(_recalibrated(workers, queued, lambda p: same_person(recs, clusters, p.worker_a, p.worker_b)))
    return unattended


def _recalibrated(workers: list[dict[str, Any]], queued: list[Any], truth: Any) -> dict[str, Any]:
    """The same workers scored by the model the reviewer's decisions recalibrate (the next run's, as
    ``probabilistic.calibrate`` does it), with the shipped ``calibration_min_decisions``."""
    from ucj.identity.probabilistic import decisions_of, train_and_score
    from ucj.settings import settings

    model = settings().identity.probabilistic
    by_key = {w["worker_key"]: w for w in workers}
    decisions = decisions_of(by_key, queued, [truth(pair) for pair in queued])
    scoring = train_and_score(workers, float(model.review_probability), float(model.expected_duplicate_share),
                              decisions, int(model.calibration_min_decisions))  # fmt: skip
    return {
        "summary": scoring.training.get("reviewer_decisions", {}),
        "scored": [(p.probability, p.niks_conflict, truth(p)) for p in scoring.pairs],
    }


def blocking_recall(workers: list[dict[str, Any]], person_of: list[int]) -> tuple[int, int]:
    """Of the pairs of workers the rules left apart that are one person, how many any model block
    brings together: (compared, all). A pair no block finds is never scored, so no threshold or
    reviewer can join it.

    The blocks' own SQL expressions (``probabilistic.BLOCKS``) run in DuckDB over the frame the
    model scores, so this measures the blocking the pipeline really uses.
    """
    import itertools

    import duckdb
    import pandas as pd

    from ucj.identity.probabilistic import BLOCKS

    frame = pd.DataFrame(workers, columns=["worker_key", "nik", "name_key", "birth_date", "gender", "village_code"])
    frame["village_code"] = frame["village_code"].astype("string")
    frame["birth_date"] = frame["birth_date"].astype(str)
    spans = [[f"b{i}_{j}" for j, _ in enumerate(block)] for i, block in enumerate(BLOCKS)]
    names = [name for span in spans for name in span]
    expressions = [f"({e})::varchar as {name}" for e, name in zip((e for b in BLOCKS for e in b), names, strict=True)]
    keys = duckdb.sql(f"select worker_key, {', '.join(expressions)} from frame").fetchall()
    by_key = {row[0]: dict(zip(names, row[1:], strict=True)) for row in keys}

    def compared(a: int, b: int) -> bool:
        ka, kb = by_key[a], by_key[b]
        return any(all(ka[c] is not None and ka[c] == kb[c] for c in span) for span in spans)

    workers_of: dict[int, list[int]] = defaultdict(list)
    for worker, person in enumerate(person_of):
        workers_of[person].append(worker)
    pairs = [pair for ws in workers_of.values() for pair in itertools.combinations(ws, 2)]
    return sum(1 for a, b in pairs if compared(a, b)), len(pairs)


BLOCKING: list[tuple[int, int]] = []
AFTER_REVIEW: list[list[int]] = []  # per call: the labels once every queued pair is decided by the truth
WORKERS: list[int] = []  # per call: workers after the rules
QUEUED: list[int] = []
REVIEW_PRECISION: list[int] = []
SCORED: list[list[tuple[float, bool, bool]]] = []  # per call: probability, NIKs conflict, truly one person
CALIBRATED: list[dict[str, Any]] = []  # per call: the recalibrated model's summary and its SCORED
THRESHOLDS = (0.9, 0.99, 0.999, 0.9999, 0.99999)


def merges_at(scored: list[tuple[float, bool, bool]]) -> list[tuple[float, int, int]]:
    """What the model would merge on its own at each threshold: pairs, of which false (two people)."""
    out = []
    for threshold in THRESHOLDS:
        chosen = [truth for probability, conflict, truth in scored if probability >= threshold and not conflict]
        out.append((threshold, len(chosen), sum(1 for truth in chosen if not truth)))
    return out


def same_person(recs: list[Record], clusters: list[Any], a: int, b: int) -> bool:
    return recs[clusters[a].rows[0]].pid == recs[clusters[b].rows[0]].pid


def resolve_exact_nik(recs: list[Record]) -> list[int]:
    ids: dict[str, int] = {}
    label = []
    for r in recs:
        if r.nik is None:
            label.append(-1 - r.rid)
        else:
            label.append(ids.setdefault(r.nik, len(ids)))
    return label


def resolve_splink_default(recs: list[Record]) -> list[int]:
    import logging

    import pandas as pd
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    logging.getLogger("splink").setLevel(logging.WARNING)
    frame = pd.DataFrame(
        {
            "unique_id": [r.rid for r in recs],
            "nik": [r.nik for r in recs],
            "full_name": [r.full_name for r in recs],
            "birth_date": [r.birth_date for r in recs],
            "gender": [r.gender for r in recs],
        }
    )
    frame["birth_date"] = pd.to_datetime(frame["birth_date"])
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.ExactMatch("nik"),
            cl.NameComparison("full_name"),
            cl.DateOfBirthComparison("birth_date", input_is_string=False),
            cl.ExactMatch("gender"),
        ],
        blocking_rules_to_generate_predictions=[block_on("nik"), block_on("birth_date")],
    )
    db_api = DuckDBAPI()
    linker = Linker(db_api.register(frame), settings, log_level=None)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("nik"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("birth_date"))
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=0.95
    ).as_pandas_dataframe()
    by_id = dict(zip(clusters["unique_id"], clusters["cluster_id"], strict=True))
    return [by_id[r.rid] for r in recs]


RESOLVERS = {
    "this project: rules": resolve_project,
    "this project: rules + model (queued pairs not yet decided)": resolve_project_with_model,
    "exact NIK": resolve_exact_nik,
    "splink, default configuration": resolve_splink_default,
}


# ---------------------------------------------------------------- scoring
def _pairs(counts: Counter) -> int:
    return sum(n * (n - 1) // 2 for n in counts.values())


def score(recs: list[Record], label: list[int]) -> dict[str, float]:
    truth = [r.pid for r in recs]
    cells = Counter(zip(label, truth, strict=True))
    true_positive = _pairs(cells)
    predicted = _pairs(Counter(label))
    actual = _pairs(Counter(truth))
    precision = true_positive / predicted if predicted else 1.0
    recall = true_positive / actual if actual else 1.0
    people_per_cluster: dict[int, set[int]] = defaultdict(set)
    clusters_per_person: dict[int, set[int]] = defaultdict(set)
    for (cluster, person), _ in cells.items():
        people_per_cluster[cluster].add(person)
        clusters_per_person[person].add(cluster)
    return {
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "false_merges": sum(1 for s in people_per_cluster.values() if len(s) > 1),
        "splits": sum(1 for s in clusters_per_person.values() if len(s) > 1),
        "workers": len(people_per_cluster),
    }
