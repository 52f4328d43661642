"""The probabilistic pass: better recall without false merges, and reviewers have the last word."""

from __future__ import annotations

import random

import pytest

from ucj.identity import probabilistic
from ucj.settings import settings
from ucj_dev import identity_eval as bench_identity  # the resolvers and scores of make bench-identity
from ucj_dev import synthetic
from ucj_dev.synthetic.labelled import realistic_records


@pytest.mark.parametrize("level", ["realistic", "hostile"])
def test_the_shipped_model_mends_splits_without_false_merges(level: str) -> None:
    recs = synthetic.records(level, 1500, seed="probabilistic-test")
    rules = bench_identity.score(recs, bench_identity.resolve_project(recs))
    model = bench_identity.score(recs, bench_identity.resolve_project_with_model(recs))
    assert model["false_merges"] <= rules["false_merges"]
    assert model["precision"] >= rules["precision"] - 1e-4
    assert model["recall"] >= rules["recall"]
    if level == "hostile":  # realistic rosters may leave nothing in doubt once letter slips are merged
        assert bench_identity.QUEUED[-1] > 0, "doubtful pairs reach the review queue"
        assert bench_identity.REVIEW_PRECISION[-1] > 0, "some queued pairs are splits a reviewer can mend"
    # The simulated reviewer's decisions are what the next run's model is recalibrated on.
    summary = bench_identity.CALIBRATED[-1]["summary"]
    assert summary["accepted"] == bench_identity.REVIEW_PRECISION[-1]
    assert summary["accepted"] + summary["rejected"] == bench_identity.QUEUED[-1]


def test_two_different_niks_are_never_merged_without_a_person() -> None:
    assert probabilistic.niks_conflict("1205071206861787", "7201071206863309", "hasibuan wahyu", "hasibuan wahyu")
    assert not probabilistic.niks_conflict("1205071206861787", "1205071206861788", "hasibuan wahyu", "hasibuan wahyu")
    # Twins: one serial apart, other first name.
    assert probabilistic.niks_conflict("1205071206861787", "1205071206861788", "hasibuan wahyu", "agus hasibuan")
    assert not probabilistic.niks_conflict(None, "1205071206861788", "a", "b")
    pair = probabilistic.Pair(1, 2, 0.999999, 20.0, {}, niks_conflict=True)
    cfg = settings().identity.probabilistic.model_copy(update={"auto_merge": True, "auto_merge_probability": 0.99999})
    assert not probabilistic.auto_mergeable(pair, cfg)
    assert probabilistic.auto_mergeable(probabilistic.Pair(1, 2, 0.999999, 20.0, {}), cfg)


def test_every_scored_pair_explains_itself() -> None:
    recs = realistic_records(600, "explain")
    workers = [
        {"worker_key": r.rid, "nik": r.nik, "name_key": labelled_name_key(r.full_name), "birth_date": r.birth_date,
         "gender": r.gender}
        for r in recs
    ]  # fmt: skip
    pairs = probabilistic.score_workers(workers, 0.5)
    assert pairs
    for pair in pairs:
        assert pair.worker_a < pair.worker_b
        assert set(pair.comparison) == {"nik", "name_key", "birth_date", "gender"}
        assert all("level" in c and "weight" in c for c in pair.comparison.values())


def labelled_name_key(name: str) -> str:
    from ucj.identity.names import name_key

    return name_key(name) or ""


def test_scores_depend_on_the_evidence_not_on_key_values_or_order() -> None:
    """The same workers numbered otherwise (a sequence gap, another load order) get the same pairs and weights.

    Before scoring by evidence ids, moving every key on by one changed which
    pairs splink sampled for u, and with it which pairs reached auto-merge.
    """
    recs = realistic_records(1500, "key-values")
    workers = [
        {"worker_key": r.rid, "nik": r.nik, "name_key": labelled_name_key(r.full_name), "birth_date": r.birth_date,
         "gender": r.gender, "village_code": None}
        for r in recs
    ]  # fmt: skip

    def scored(renumber: dict[int, int], order: list[dict]) -> dict[tuple[int, int], tuple[float, float]]:
        back = {new: old for old, new in renumber.items()}
        moved = [{**w, "worker_key": renumber[w["worker_key"]]} for w in order]
        return {
            tuple(sorted((back[p.worker_a], back[p.worker_b]))): (round(p.probability, 9), round(p.weight, 6))
            for p in probabilistic.score_workers(moved, 0.5)
        }

    identity = {w["worker_key"]: w["worker_key"] for w in workers}
    baseline = scored(identity, workers)
    assert baseline
    shifted = {k: k + 1 for k in identity}
    rng = random.Random("renumber")  # noqa: S311 - reproducible test data
    permuted_keys = list(identity)
    rng.shuffle(permuted_keys)
    permuted = dict(zip(identity, (k * 7 + 1000 for k in permuted_keys), strict=True))
    shuffled = workers[:]
    rng.shuffle(shuffled)
    assert scored(shifted, workers) == baseline
    assert scored(permuted, shuffled) == baseline


def test_blocking_recall_counts_the_split_pairs_a_model_block_brings_together() -> None:
    """Three workers of person 1: two share the NIK's first twelve digits, the third shares no block
    with either (another NIK region, another name, another birth date, no village). Person 2 has one."""
    import datetime as dt

    def worker(key: int, nik: str | None, name: str, born: dt.date, village: str | None = None) -> dict:
        return {"worker_key": key, "nik": nik, "name_key": name, "birth_date": born, "gender": "P",
                "village_code": village}  # fmt: skip

    born = dt.date(1985, 3, 12)
    workers = [
        worker(0, "1310015203850001", "aminah siti", born),
        worker(1, "1310015203850009", "aminah sitti", dt.date(1985, 12, 3)),
        worker(2, None, "ami", dt.date(1986, 3, 12)),
        worker(3, "7208015203850002", "dewi rina", born),
    ]
    assert bench_identity.blocking_recall(workers, [1, 1, 1, 2]) == (1, 3)
    # Same birth date and village: the fourth block finds the dropped-name pair too.
    workers[2] = worker(2, None, "ami", born, "1310012001")
    workers[0]["village_code"] = "1310012001"
    assert bench_identity.blocking_recall(workers, [1, 1, 1, 2]) == (2, 3)
    # The NIK rule ignores a missing NIK: two workers without one are not a NIK block.
    workers[0]["nik"] = workers[1]["nik"] = None
    assert bench_identity.blocking_recall(workers, [1, 1, 1, 2]) == (1, 3)


def test_reviewers_decisions_move_the_prior_until_decided_pairs_score_what_was_decided() -> None:
    """Reviewers accepted 30 of 40 queued pairs the model put at ~0.99: its probabilities were too
    high. The next model shifts every weight by one amount, so the ranking stays and the decided
    pairs' mean probability moves towards their acceptance rate; fewer decisions than the minimum
    change nothing; all accepted raise the prior, by little when the model was sure already."""
    import math

    recs = realistic_records(800, "calibration")
    workers = [
        {"worker_key": r.rid, "nik": r.nik, "name_key": labelled_name_key(r.full_name),
         "birth_date": str(r.birth_date), "gender": r.gender, "village_code": None}
        for r in recs
    ]  # fmt: skip
    base = probabilistic.train_and_score(workers, 0.5)
    assert base.training["reviewer_decisions"] == {"accepted": 0, "rejected": 0, "min_decisions": 20, "applied": False}
    shown = sorted(base.pairs, key=lambda p: (p.weight, p.worker_a, p.worker_b))[:40]  # the least sure
    verdicts = [i % 4 != 0 for i in range(40)]
    decided = probabilistic.decisions_of({w["worker_key"]: w for w in workers}, shown, verdicts)
    # The decided pairs are scored by the run's model exactly as the run scored them.
    assert probabilistic.decision_weights(base.model, decided) == pytest.approx([p.weight for p in shown], abs=1e-9)

    few = probabilistic.train_and_score(workers, 0.5, decisions=decided.head(19), min_decisions=20)
    assert few.model_version == base.model_version
    assert few.training["reviewer_decisions"]["applied"] is False

    calibrated = probabilistic.train_and_score(workers, 0.5, decisions=decided, min_decisions=20)
    summary = calibrated.training["reviewer_decisions"]
    assert (summary["applied"], summary["accepted"], summary["rejected"]) == (True, 30, 10)
    assert summary["mean_probability_before"] > summary["acceptance_rate"] == 0.75
    assert summary["shift_bits"] < 0
    assert summary["prior_after"] < summary["prior_before"]
    assert summary["acceptance_rate"] <= summary["mean_probability_after"] < summary["mean_probability_before"]
    assert calibrated.model_version != base.model_version
    assert calibrated.model["probability_two_random_records_match"] == summary["prior_after"]
    # The shift is where the decisions' log posterior is flat.
    weights = probabilistic.decision_weights(calibrated.model, decided)
    residual = sum(float(y) - 1 / (1 + 2 ** (-w)) for w, y in zip(weights, verdicts, strict=True))
    scale = probabilistic.CALIBRATION_SCALE_BITS
    assert math.log(2) * residual == pytest.approx(summary["shift_bits"] / scale**2, abs=1e-4)
    before = {(p.worker_a, p.worker_b): p for p in base.pairs}
    assert calibrated.pairs
    assert len(calibrated.pairs) < len(base.pairs)
    for pair in calibrated.pairs:
        assert pair.probability >= 0.5
        assert pair.weight - before[(pair.worker_a, pair.worker_b)].weight == pytest.approx(summary["shift_bits"])
    # The same decisions listed in another order make the same model.
    shuffled = decided.sample(frac=1, random_state=3).reset_index(drop=True)
    again = probabilistic.train_and_score(workers, 0.5, decisions=shuffled, min_decisions=20)
    assert again.model_version == calibrated.model_version

    accepted = probabilistic.train_and_score(workers, 0.5, decisions=decided.assign(accepted=True), min_decisions=20)
    assert accepted.training["reviewer_decisions"]["shift_bits"] > 0
    assert len(accepted.pairs) >= len(base.pairs)


@pytest.mark.parametrize(
    ("a", "b", "slip"),
    [
        ("rahmawati siti", "rahmwati siti", True),  # a letter left out inside a long word
        ("rahmat", "rahmt", True),
        ("hendra", "hendri", False),  # twins' names: another ending
        ("putra", "putri", False),
        ("hasan", "husin", False),  # another vowel
        ("fitri", "fitria", False),  # a letter added at the end: another name
        ("rahmat", "ahmat", False),  # the first letter
        ("dewi", "dwi", False),  # a short word: Dewi / Dwi are both names
        ("aminah nur siti", "aminah siti", False),  # a dropped word is the rules' business
        ("rahmawati siti", "rahmawati siti", False),
        ("rahmawati siti", "rahmwati sit", False),  # two words changed
        (None, "rahmwati", False),
    ],
)
def test_one_letter_dropped(a: str | None, b: str | None, slip: bool) -> None:
    assert probabilistic.one_letter_dropped(a, b) is slip
    assert probabilistic.one_letter_dropped(b, a) is slip


def test_a_letter_slip_settles_a_pair_only_with_agreeing_birth_date_sex_and_niks() -> None:
    one = {"nik": "1310015203850001", "name_key": "rahmawati siti", "birth_date": "1985-03-12", "gender": "P"}
    other = {**one, "nik": None, "name_key": "rahmwati siti"}
    assert probabilistic.settled_by_letter_slip(one, other)
    assert probabilistic.settled_by_letter_slip(one, {**other, "nik": one["nik"]})
    # Twins: the same birth date and family, NIKs one serial apart - a person decides.
    assert not probabilistic.settled_by_letter_slip(one, {**other, "nik": "1310015203850002"})
    assert not probabilistic.settled_by_letter_slip(one, {**other, "birth_date": "1985-12-03"})
    assert not probabilistic.settled_by_letter_slip(one, {**other, "gender": "L"})
    assert not probabilistic.settled_by_letter_slip(one, {**other, "gender": None})
    missing = {"birth_date": "None"}  # how the scored frame writes a missing date
    assert not probabilistic.settled_by_letter_slip({**one, **missing}, {**other, **missing})

    slip = probabilistic.Pair(1, 2, 0.95, 4.0, {}, letter_slip=True)
    shipped = settings().identity.probabilistic
    assert not shipped.merge_letter_slips, "shipped: off, as what the model proposes depends on the history"
    assert not probabilistic.auto_mergeable(slip, shipped)
    cfg = shipped.model_copy(update={"merge_letter_slips": True})
    assert probabilistic.auto_mergeable(slip, cfg)
    assert not probabilistic.auto_mergeable(probabilistic.Pair(1, 2, 0.95, 4.0, {}), cfg)
