"""Probabilistic linkage for what the rules leave in doubt, with a review queue.

The deterministic rules (``resolve.py``) join rows that share a NIK with an
agreeing name, or an exact name key and birth date. What they cannot see: a
NIK typo together with a spelling variant, a birth date typed day-first in
one roster and month-first in another. A splink model (Fellegi-Sunter,
DuckDB backend) trained on the surviving workers themselves scores candidate
pairs from four blocks (NIK without its serial, name key with birth year,
birth date with the name's first letters, birth date with the village).
Pairs scoring ``review_probability`` or more wait in
``identity.match_candidate`` for a person to accept or reject. With
``auto_merge`` on (off by default: what a model trained on the workers a
run has merges depends on the order months arrive in), pairs at or
above ``auto_merge_probability`` are merged without waiting, unless two
different NIKs stand against them (twins share family name, birth date and
district, and their NIKs sit one serial apart: only a person should overrule
two NIKs). A decision is never overridden: a rejected pair (or one a
reviewer kept apart, ``review.py``) is not merged again whatever the model
says, an accepted one is merged on the next run, and together they
recalibrate the next run's prior (:func:`calibrate`). Every pair keeps its match
weight and the per-field comparison levels and weights, so "why are these
the same person?" has an answer.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pandas as pd
import psycopg
import pyarrow as pa
import splink
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from ucj.bulk import fetch_arrow
from ucj.fingerprint import bump_identity_generation
from ucj.identity.cluster import niks_compatible
from ucj.identity.review import KeptApart, apply_corrections, kept_apart
from ucj.identity.store import current_root, merge_workers, worker_niks
from ucj.settings import ProbabilisticSettings, settings
from ucj.warehouse import IDENTITY_LOCK, serialise

log = logging.getLogger(__name__)

FIELDS = ("nik", "name_key", "birth_date", "gender")


@dataclass(frozen=True)
class Pair:
    worker_a: int
    worker_b: int
    probability: float
    weight: float
    comparison: dict[str, Any]
    niks_conflict: bool = False
    letter_slip: bool = False


def one_letter_dropped(name_a: str | None, name_b: str | None) -> bool:
    """Two folded name keys that differ only by one letter left out inside one word of five letters or more.

    What a clerk's slip looks like ("Rahmawati" / "Rahmwati"), and not what
    sets two people's names apart: relatives' and twins' names differ in a
    whole word, or in the letters that carry the name (an ending: Hendra /
    Hendri, Putra / Putri; a vowel: Hasan / Husin; a first letter), which
    this never accepts. Doubled letters are folded in the key already.
    """
    if not name_a or not name_b or name_a == name_b:
        return False
    extra_a = Counter(name_a.split()) - Counter(name_b.split())
    extra_b = Counter(name_b.split()) - Counter(name_a.split())
    if sum(extra_a.values()) != 1 or sum(extra_b.values()) != 1:
        return False
    (a,), (b,) = extra_a, extra_b
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    if len(longer) < 5 or len(longer) != len(shorter) + 1:
        return False
    return any(longer[:i] + longer[i + 1 :] == shorter for i in range(1, len(longer) - 1))


_NO_DATE = frozenset({"None", "NaT", "nan", "<NA>", ""})


def settled_by_letter_slip(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Two workers the data itself shows to be one person: the same birth date and sex, names one dropped
    letter apart (:func:`one_letter_dropped`), and no two NIKs (at most one of them has one, or both the same).

    Twins share the birth date, sex and family name, and their NIKs sit one
    serial apart: two different NIKs leave the pair to a person, as do names
    that differ in more than one inner letter. Unlike the model's
    probability, nothing here depends on which other workers a run holds.
    """
    # The scored frame holds birth dates as text, a missing one as "None" or "NaT".
    born_a, born_b = (None if str(w.get("birth_date")) in _NO_DATE else str(w.get("birth_date")) for w in (a, b))
    sex_a, sex_b = _text(a.get("gender")), _text(b.get("gender"))
    nik_a, nik_b = _text(a.get("nik")), _text(b.get("nik"))
    if not born_a or born_a != born_b or not sex_a or sex_a != sex_b:
        return False
    if nik_a and nik_b and nik_a != nik_b:
        return False
    return one_letter_dropped(_text(a.get("name_key")), _text(b.get("name_key")))


def niks_conflict(nik_a: str | None, nik_b: str | None, name_a: str | None, name_b: str | None) -> bool:
    """Two NIKs that are neither equal nor one typo apart with agreeing names."""
    if not nik_a or not nik_b or nik_a == nik_b:
        return False
    typo = DamerauLevenshtein.distance(nik_a, nik_b) <= 1
    return not (typo and JaroWinkler.similarity(name_a or "", name_b or "") >= NAMES_AGREE)


NAMES_AGREE = 0.88


def blocks(training: bool = False) -> list[Any]:
    """Blocking rules for prediction; ``training``: the ones EM learns the m values on.

    The village block only finds candidates: a worker's village is missing
    whenever its first roster had none (most employer rosters), and EM on a
    block with few or no pairs degrades the weights the other blocks learnt.
    """
    rules = [block_on(*columns) for columns in BLOCKS]
    return rules[:3] if training else rules


# Two workers are compared when they agree on every expression of one block
# (DuckDB SQL over the scored frame; a missing value agrees with nothing).
BLOCKS = (
    ("substr(nik, 1, 12)",),
    ("name_key", "substr(birth_date, 1, 4)"),
    ("birth_date", "substr(name_key, 1, 3)"),
    # Same birth date in the same village: finds the pairs whose names
    # differ from the first letters on (a nickname, a dropped first name).
    ("birth_date", "village_code"),
)


def _settings(prior: float) -> Any:
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="evidence_id",
        probability_two_random_records_match=prior,
        comparisons=[
            # A NIK one digit off is a typo only when the names agree: twins
            # share family name, birth date and district, and their NIKs sit
            # one serial apart.
            cl.CustomComparison(
                output_column_name="nik",
                comparison_levels=[
                    cll.NullLevel("nik"),
                    cll.ExactMatchLevel("nik"),
                    cll.CustomLevel(
                        "damerau_levenshtein(nik_l, nik_r) <= 1 "
                        f"and jaro_winkler_similarity(name_key_l, name_key_r) >= {NAMES_AGREE}",
                        label_for_charts="one edit apart, names agree",
                    ),
                    cll.ElseLevel(),
                ],
                comparison_description="NIK: exact, a typo with agreeing names, or different",
            ),
            cl.JaroWinklerAtThresholds("name_key", [0.95, 0.88]),
            cl.DamerauLevenshteinAtThresholds("birth_date", [1, 2]),
            cl.ExactMatch("gender"),
        ],
        # Common names make big blocks: every rule pairs the name (or the NIK's
        # region and birth date) with a second narrowing field.
        blocking_rules_to_generate_predictions=blocks(),
        retain_intermediate_calculation_columns=True,
    )


@dataclass(frozen=True)
class Scoring:
    """One run of the model: the pairs it scored, and which model it was (stored as identity.scoring_run)."""

    pairs: list[Pair]
    model_version: str
    trained: bool
    training: dict[str, Any]
    model: dict[str, Any] | None


# One side of a decided pair: the worker's evidence, columns suffixed _l and _r (see decided_pairs).
SIDE_COLUMNS = (*FIELDS, "village_code")
DECISION_COLUMNS = ("accepted", *(f"{c}_{s}" for s in "lr" for c in SIDE_COLUMNS))


def score_workers(
    workers: pd.DataFrame | list[dict[str, Any]], review_probability: float, duplicate_share: float = 0.01
) -> list[Pair]:
    """The pairs :func:`train_and_score` finds (the benchmarks and tests need only those)."""
    return train_and_score(workers, review_probability, duplicate_share).pairs


def _untrained(workers: int, training: dict[str, Any], why: str) -> Scoring:
    log.warning("probabilistic linkage: no model this run (%s); the rules alone decide, nothing is queued", why)
    return Scoring([], "untrained", False, {**training, "workers": workers, "fallback": why}, None)


def train_and_score(
    workers: pd.DataFrame | list[dict[str, Any]],
    review_probability: float,
    duplicate_share: float = 0.01,
    decisions: pd.DataFrame | None = None,
    min_decisions: int = 20,
) -> Scoring:
    """Train on the workers themselves and score the blocked pairs above the review threshold.

    ``workers``: worker_key and the FIELDS (village_code optional), as a
    frame or as one dict per worker. The prior (how likely two random
    workers are one person) comes from the share of workers expected to
    still have a duplicate after the rules, not from a rule: the rules have
    already merged every pair they can see. ``decisions`` (reviewers'
    accepted and rejected pairs, :func:`decided_pairs`) then recalibrate it
    when there are ``min_decisions`` of them (:func:`calibrate`).
    """
    if len(workers) < 3:
        return _untrained(len(workers), {}, f"{len(workers)} workers, too few to train on")
    logging.getLogger("splink").setLevel(logging.WARNING)
    if isinstance(workers, pd.DataFrame):
        frame = workers.reindex(columns=["worker_key", *FIELDS, "village_code"])
    else:
        frame = pd.DataFrame([{**w, "village_code": w.get("village_code")} for w in workers],
                             columns=["worker_key", *FIELDS, "village_code"])  # fmt: skip
    # A string column whatever it holds: DuckDB would read all-missing as NaN doubles, and NaN = NaN there.
    frame["village_code"] = frame["village_code"].astype("string")
    frame["birth_date"] = frame["birth_date"].astype(str)
    frame = _with_evidence_ids(frame)
    prior = min(0.5, 2 * duplicate_share / max(1, len(workers) - 1))
    linker = Linker(DuckDBAPI().register(frame), _settings(prior), log_level=None)
    # 2e5 sampled pairs fit in one query. Splink's default of ten chunks
    # (after a probe at a tenth of one) exists to stop early on huge samples;
    # here it cost a DuckDB query per chunk per comparison, 3.1 s instead of
    # 1.9 s on 565k workers, for the same u values or better (all pairs counted).
    # Splink samples by a hash of the unique id: with evidence ids the sample,
    # and so every weight, is a function of the workers' evidence alone.
    linker.training.estimate_u_using_random_sampling(max_pairs=2e5, seed=7, num_chunks=1)
    em: dict[str, str] = {}
    for rule, columns in zip(blocks(training=True), BLOCKS, strict=False):
        name = " & ".join(columns)
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(rule)
            em[name] = "trained"
        except Exception as exc:  # too few pairs in a small batch to train on: keep the priors
            log.info("EM on %s skipped: %s", rule, exc)
            em[name] = f"skipped: {str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__}"
    training = {"workers": len(frame), "prior": prior, "u_sample_pairs": 200_000, "em_blocks": em}
    if "trained" not in em.values():
        # m values splink's defaults, not learnt: its scores would be guesses.
        return _untrained(len(frame), training, "EM could not learn from any block")
    # Without the linker's random id, the same workers give the same model and version.
    model = {k: v for k, v in linker.misc.save_model_to_json().items() if k != "linker_uid"}
    calibration = calibrate(model, decisions, min_decisions)
    training["reviewer_decisions"] = calibration
    shift = float(calibration.get("shift_bits", 0.0))
    if shift:
        model["probability_two_random_records_match"] = calibration["prior_after"]
    version = hashlib.sha256(json.dumps(model, sort_keys=True, default=str).encode()).hexdigest()[:16]
    # The prior only adds to every pair's weight: predict with the trained
    # linker at the threshold the shift moves, then shift the weights.
    threshold = _probability(_weight(review_probability) - shift) if shift else review_probability
    predicted = linker.inference.predict(threshold_match_probability=threshold).as_pandas_dataframe()
    if shift:
        predicted["match_weight"] = predicted["match_weight"] + shift
        predicted["match_probability"] = predicted["match_weight"].map(_probability)
        predicted = predicted[predicted["match_probability"] >= review_probability]
    key_of = dict(zip(frame["evidence_id"], frame["worker_key"].astype(int), strict=True))
    predicted["worker_key_l"] = predicted["evidence_id_l"].map(key_of)
    predicted["worker_key_r"] = predicted["evidence_id_r"].map(key_of)
    # The paired workers' NIKs and names, from the input (splink drops a comparison that never varies).
    paired = set(predicted["worker_key_l"].astype(int)) | set(predicted["worker_key_r"].astype(int))
    by_key = {
        int(w["worker_key"]): w
        for w in frame[frame["worker_key"].isin(paired)][["worker_key", *FIELDS]].to_dict("records")
    }
    pairs = []
    for row in predicted.to_dict("records"):
        a, b = sorted((int(row["worker_key_l"]), int(row["worker_key_r"])))
        comparison = {}
        for f in FIELDS:
            level, weight = row.get(f"gamma_{f}"), row.get(f"mw_{f}")
            comparison[f] = {
                "level": None if level is None else int(level),
                "weight": None if weight is None or math.isnan(weight) else round(float(weight), 3),
            }
        wa, wb = by_key[a], by_key[b]
        conflict = niks_conflict(_text(wa["nik"]), _text(wb["nik"]), _text(wa["name_key"]), _text(wb["name_key"]))
        slip = settled_by_letter_slip(wa, wb)
        pairs.append(
            Pair(a, b, float(row["match_probability"]), float(row["match_weight"]), comparison, conflict, slip)
        )
    return Scoring(pairs, version, True, training, model)


def _weight(probability: float) -> float:
    """A probability as splink's match weight: log2 of its odds."""
    return math.log2(probability / (1 - probability))


def _probability(weight: float) -> float:
    return 1 / (1 + 2 ** (-weight))


# How far reviewers' decisions may move the prior without strong evidence:
# the standard deviation, in bits of match weight, of the shift's prior.
CALIBRATION_SCALE_BITS = 5.0


def calibrate(model: dict[str, Any], decisions: pd.DataFrame | None, min_decisions: int) -> dict[str, Any]:
    """Move the model's prior so that the pairs reviewers decided score what they decided.

    A Fellegi-Sunter model trained without labels is usually well ordered
    but badly placed: if reviewers reject a third of the pairs the queue
    shows at 0.95, the probabilities mean something else than they say, and
    so does the threshold that fills the queue. The fix that keeps the order
    is one shift of every weight (the prior's log-odds): a logistic
    regression of the decisions on the model's weights with the slope held
    at one, fitted by maximum likelihood with a normal prior on the shift
    (``CALIBRATION_SCALE_BITS``), so that a few decisions move it a little
    and all-accepted gives a finite answer. Pairs the model was sure of and
    reviewers accepted say almost nothing; the ones at the margin decide.
    The decided pairs are scored by this run's model from the workers'
    evidence as created (a merged worker keeps its row), so the shift is a
    function of the decisions and the evidence, not of when they were made.
    The m and u values stay as EM and sampling found them: decided pairs
    are the ones the model chose to show, a biased sample for per-field
    estimates.
    """
    accepted = 0 if decisions is None else int(decisions["accepted"].sum())
    summary: dict[str, Any] = {"accepted": accepted, "rejected": 0 if decisions is None else len(decisions) - accepted,
                               "min_decisions": min_decisions}  # fmt: skip
    if decisions is None or len(decisions) < min_decisions:
        return {**summary, "applied": False}
    weights = decision_weights(model, decisions)
    shift = round(fit_shift(weights, [bool(v) for v in decisions["accepted"]]), 6)
    prior = float(model["probability_two_random_records_match"])
    odds = prior / (1 - prior) * 2**shift
    return {
        **summary,
        "applied": True,
        "shift_bits": shift,
        "prior_before": prior,
        "prior_after": odds / (1 + odds),
        "acceptance_rate": round(accepted / len(weights), 6),
        "mean_probability_before": round(sum(map(_probability, weights)) / len(weights), 6),
        "mean_probability_after": round(sum(_probability(w + shift) for w in weights) / len(weights), 6),
    }


def fit_shift(weights: list[float], accepted: list[bool]) -> float:
    """The shift (bits) maximising the decisions' likelihood times the shift's normal prior.

    The log posterior's slope, ln2 * sum(accepted - p) - shift / scale^2,
    falls as the shift grows, so bisection finds its one zero.
    """

    def slope(shift: float) -> float:
        residual = sum(float(y) - _probability(w + shift) for w, y in zip(weights, accepted, strict=True))
        return math.log(2) * residual - shift / CALIBRATION_SCALE_BITS**2

    low, high = -60.0, 60.0
    for _ in range(100):
        mid = (low + high) / 2
        if slope(mid) > 0:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def decision_weights(model: dict[str, Any], decisions: pd.DataFrame) -> list[float]:
    """Each decided pair's match weight under ``model``, in the order of ``decisions``.

    The model is loaded from its settings dict (splink's own way of reusing a
    saved model) over a frame holding just the decided pairs' two sides,
    blocked on the pair: exactly one comparison per pair.
    """
    sides = []
    for side in ("l", "r"):
        part = decisions[[f"{c}_{side}" for c in SIDE_COLUMNS]].copy()
        part.columns = list(SIDE_COLUMNS)
        part["pair_id"] = range(len(decisions))
        part["evidence_id"] = part["pair_id"].map(lambda i, s=side: f"{i:09d}-{s}")
        sides.append(part)
    frame = pd.concat(sides, ignore_index=True)
    frame["village_code"] = frame["village_code"].astype("string")
    frame["birth_date"] = frame["birth_date"].astype(str)
    blocked = {**model, "blocking_rules_to_generate_predictions": [
        {"blocking_rule": "l.pair_id = r.pair_id", "sql_dialect": "duckdb"}]}  # fmt: skip
    linker = Linker(DuckDBAPI().register(frame), blocked, log_level=None)
    scored = linker.inference.predict().as_pandas_dataframe()
    by_pair = dict(zip(scored["evidence_id_l"].str[:9].astype(int), scored["match_weight"].astype(float), strict=True))
    return [by_pair[i] for i in range(len(decisions))]


def decided_pairs(conn: psycopg.Connection) -> pd.DataFrame:
    """Reviewers' accepted and rejected pairs, each with both workers' evidence as the workers were created.

    In an order of the evidence, not of the keys: the same decisions on
    another history's numbering give the same frame.
    """
    columns = ", ".join(f"{side}.{c} as {c}_{'l' if side == 'a' else 'r'}" for side in "ab" for c in SIDE_COLUMNS)
    rows = conn.execute(
        f"""select c.status = 'accepted' as accepted, {columns}
            from identity.match_candidate as c
            join identity.worker as a on a.worker_key = c.worker_a
            join identity.worker as b on b.worker_key = c.worker_b
            where c.status in ('accepted', 'rejected')"""
    ).fetchall()
    names = list(DECISION_COLUMNS)
    frame = pd.DataFrame(rows, columns=names)
    for name in names[1:]:
        # As text, missing as None: what _survivors gives the model for the same worker.
        frame[name] = frame[name].map(lambda v: None if v is None else str(v)).astype(object)
    return frame.sort_values(names, kind="stable", na_position="first").reset_index(drop=True)


def decisions_of(workers: dict[int, dict[str, Any]], pairs: list[Pair], accepted: list[bool]) -> pd.DataFrame:
    """Decisions on scored pairs as :func:`decided_pairs` gives them, from the workers by key
    (the benchmark's simulated reviewer and the tests decide without a warehouse)."""
    rows = []
    for pair, verdict in zip(pairs, accepted, strict=True):
        row: dict[str, Any] = {"accepted": verdict}
        for side, key in (("l", pair.worker_a), ("r", pair.worker_b)):
            row.update({f"{c}_{side}": workers[key].get(c) for c in SIDE_COLUMNS})
        rows.append(row)
    return pd.DataFrame(rows, columns=list(DECISION_COLUMNS))


def _with_evidence_ids(frame: pd.DataFrame) -> pd.DataFrame:
    """The workers in a fixed order, each with an id made of its evidence, not of its key.

    Which pairs splink samples to estimate u, and so every match weight,
    follows the unique ids. Worker keys come from a sequence whose values
    depend on history (a killed run leaves a gap, months loaded in another
    order number workers differently), so scoring by key made the same
    files merge different pairs. The id is a hash of the compared fields;
    workers with identical evidence (kept apart by a reviewer) are told
    apart by their rank among themselves, which changes nothing a
    comparison sees.
    """
    # SipHash under pandas' fixed key: the same value in every process and on every machine.
    digest = pd.util.hash_pandas_object(frame[[*FIELDS, "village_code"]].astype("string"), index=False)
    digest = digest.map("{:016x}".format)
    out = frame.assign(_digest=digest).sort_values(["_digest", "worker_key"], kind="stable")
    rank = out.groupby("_digest").cumcount().astype(str)
    out["evidence_id"] = out["_digest"] + "-" + rank
    return out.drop(columns="_digest").reset_index(drop=True)


def _text(value: Any) -> str | None:
    """A frame's missing value (None, NaN, pandas' NA) as None."""
    return value if isinstance(value, str) else None


def auto_mergeable(pair: Pair, cfg: ProbabilisticSettings) -> bool:
    """Merge without review when the evidence settles the pair (``merge_letter_slips``), or when the model
    is sure (``auto_merge``) and no two different NIKs stand against it.

    Two valid NIKs that are not one typo apart are what the rules refused to
    join; the model may still find the pair likely (same name and birth date
    happen), but only a person should overrule the NIKs.
    """
    if cfg.merge_letter_slips and pair.letter_slip:
        return True
    if not cfg.auto_merge or pair.probability < float(cfg.auto_merge_probability):
        return False
    return not pair.niks_conflict


def _survivors(conn: psycopg.Connection) -> pd.DataFrame:
    """The workers nobody was merged into, as a frame of strings (by COPY: no Python object per value)."""
    types = {"worker_key": pa.int64(), **{f: pa.string() for f in (*FIELDS, "village_code")}}
    return fetch_arrow(
        conn,
        """select worker_key, nik, name_key, birth_date, gender, village_code
           from identity.worker where merged_into is null""",
        {},
        types,
    ).to_pandas()


def _merge(conn: psycopg.Connection, a: int, b: int, rule: str, apart: KeptApart) -> bool:
    """Merge the workers a and b now stand for; the older key survives.

    False when they are one already, or a reviewer kept them apart.
    """
    ra, rb = current_root(conn, a), current_root(conn, b)
    if ra == rb or apart.apart(ra, rb):
        return False
    merge_workers(conn, min(ra, rb), [max(ra, rb)], rule)
    apart.merged(min(ra, rb), [max(ra, rb)])
    return True


def _one_persons_niks(conn: psycopg.Connection, pair: Pair) -> bool:
    """Whether every NIK on both workers' rows can be one person's, as the rules require of any worker.

    ``niks_conflict`` compares the NIKs the two workers were created with; a
    worker holds every NIK of its rows. A pair failing this waits for a person.
    """
    a, b = current_root(conn, pair.worker_a), current_root(conn, pair.worker_b)
    if a is None or b is None or a == b:
        return True
    niks = worker_niks(conn, {a, b})
    return niks_compatible(niks.get(a, set()), niks.get(b, set()))


def _record_scoring_run(conn: psycopg.Connection, scoring: Scoring) -> int:
    """The run in identity.scoring_run, model and training included: which model scored which pair."""
    model = None if scoring.model is None else json.dumps(scoring.model, default=str)
    (run_id,) = conn.execute(
        """insert into identity.scoring_run
             (model_version, splink_version, workers, pairs_scored, trained, training, model)
           values (%s, %s, %s, %s, %s, %s, %s) returning scoring_run_id""",
        (scoring.model_version, splink.__version__, scoring.training.get("workers", 0), len(scoring.pairs),
         scoring.trained, json.dumps(scoring.training), model),
    ).fetchone()  # fmt: skip
    return int(run_id)


def link_probabilistically(conn: psycopg.Connection) -> dict[str, Any]:
    """Score, merge the certain, queue the doubtful, apply reviewers' decisions. Caller owns the transaction."""
    cfg = settings().identity.probabilistic
    if not cfg.enabled:
        return {"scored": 0, "merged": 0, "queued": 0, "accepted": 0}
    serialise(conn, IDENTITY_LOCK)
    apply_corrections(conn)  # decisions made since the rules ran
    apart = kept_apart(conn)
    decided = {
        (a, b): status
        for a, b, status in conn.execute(
            "select worker_a, worker_b, status from identity.match_candidate where status <> 'pending'"
        )
    }
    scoring = train_and_score(
        _survivors(conn), float(cfg.review_probability), float(cfg.expected_duplicate_share),
        decided_pairs(conn), int(cfg.calibration_min_decisions),
    )  # fmt: skip
    pairs = scoring.pairs
    run_id = _record_scoring_run(conn, scoring)
    merged = queued = accepted = 0
    for pair in pairs:
        status = decided.get((pair.worker_a, pair.worker_b))
        if status == "rejected" or apart.apart(pair.worker_a, pair.worker_b):
            continue
        auto = auto_mergeable(pair, cfg) and _one_persons_niks(conn, pair)
        new_status = "merged" if auto else ("accepted" if status == "accepted" else "pending")
        conn.execute(
            """insert into identity.match_candidate
                 (worker_a, worker_b, match_probability, match_weight, comparison, status, scoring_run_id)
               values (%s, %s, %s, %s, %s, %s, %s)
               on conflict (worker_a, worker_b) do update
               set match_probability = excluded.match_probability, match_weight = excluded.match_weight,
                   comparison = excluded.comparison, scored_at = now(), scoring_run_id = excluded.scoring_run_id,
                   status = case when identity.match_candidate.status in ('accepted', 'rejected')
                                 then identity.match_candidate.status else excluded.status end""",
            (pair.worker_a, pair.worker_b, round(pair.probability, 6), round(pair.weight, 3),
             json.dumps(pair.comparison), new_status, run_id),
        )  # fmt: skip
        if auto:
            rule = "letter_slip" if cfg.merge_letter_slips and pair.letter_slip else "model"
            merged += _merge(conn, pair.worker_a, pair.worker_b, rule, apart)
        elif status != "accepted":
            queued += 1
    # Reviewers' acceptances, whether or not the model still proposes the pair.
    for a, b in [k for k, v in decided.items() if v == "accepted"]:
        accepted += _merge(conn, a, b, "reviewer", apart)
    if merged or accepted:
        bump_identity_generation(conn)
    log.info("probabilistic linkage: %d pairs scored, %d merged, %d queued for review, %d accepted by reviewers",
             len(pairs), merged, queued, accepted)  # fmt: skip
    return {"scored": len(pairs), "merged": merged, "queued": queued, "accepted": accepted,
            "scoring_run_id": run_id, "model_version": scoring.model_version}  # fmt: skip
