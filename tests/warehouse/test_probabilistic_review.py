"""Reviewers have the last word over the probabilistic pass: decisions, the queue, and workers not scored twice."""

from __future__ import annotations

import pytest

from ucj.identity import probabilistic
from ucj_dev.synthetic.labelled import realistic_records


@pytest.fixture
def one_worker_per_record(conn):
    """Every record its own worker, as if no rule had fired: the model has all the work."""
    from ucj.identity.names import name_key

    recs = realistic_records(800, "review")
    with conn.cursor().copy(
        "copy identity.worker (worker_key, nik, name_key, display_name, birth_date, gender) from stdin"
    ) as copy:
        for r in recs:
            copy.write_row((r.rid + 1, r.nik, name_key(r.full_name), r.full_name, r.birth_date, r.gender))
    return conn


def survivors(conn) -> int:
    return conn.execute("select count(*) from identity.worker where merged_into is null").fetchone()[0]


def test_reviewers_decisions_are_respected(one_worker_per_record, set_settings) -> None:
    conn = one_worker_per_record
    thresholds = {"enabled": True, "auto_merge": True, "auto_merge_probability": 0.999, "review_probability": 0.5}
    set_settings({f"identity.probabilistic.{k}": v for k, v in thresholds.items()})
    with conn.transaction():
        first = probabilistic.link_probabilistically(conn)
    assert first["merged"] > 0
    statuses = dict(conn.execute("select status, count(*) from identity.match_candidate group by 1").fetchall())
    assert statuses.get("merged", 0) > 0

    # A reviewer splits one automatic merge (rejects it) and accepts one doubtful pair.
    a, b = conn.execute(
        "select worker_a, worker_b from identity.match_candidate where status = 'merged' order by 1, 2 limit 1"
    ).fetchone()
    conn.execute(
        """update identity.match_candidate set status = 'rejected', decided_by = 'test', decided_at = now()
           where worker_a = %s and worker_b = %s""",
        (a, b),
    )
    pending = conn.execute(
        "select worker_a, worker_b from identity.match_candidate where status = 'pending' order by 1, 2 limit 1"
    ).fetchone()
    if pending:
        conn.execute(
            """update identity.match_candidate set status = 'accepted', decided_by = 'test', decided_at = now()
               where worker_a = %s and worker_b = %s""",
            pending,
        )

    with conn.transaction():
        probabilistic.link_probabilistically(conn)
    root = "select coalesce(merged_into, worker_key) from identity.worker where worker_key = %s"
    assert conn.execute(root, (a,)).fetchone()[0] != conn.execute(root, (b,)).fetchone()[0], "rejected stays apart"
    assert (
        conn.execute(
            "select status from identity.match_candidate where worker_a = %s and worker_b = %s", (a, b)
        ).fetchone()[0]
        == "rejected"
    )
    if pending:
        assert conn.execute(root, (pending[0],)).fetchone()[0] == conn.execute(root, (pending[1],)).fetchone()[0]

    # Nothing new to decide: a third run changes nothing.
    before = survivors(conn)
    with conn.transaction():
        again = probabilistic.link_probabilistically(conn)
    assert (again["merged"], again["accepted"], survivors(conn)) == (0, 0, before)


def test_review_queue_shows_pending_pairs_not_yet_one_worker(one_worker_per_record) -> None:
    conn = one_worker_per_record
    conn.execute(
        """insert into identity.match_candidate (worker_a, worker_b, match_probability, match_weight, comparison,
                                                status)
           values (1, 2, 0.95, 4.2, '{}', 'pending'), (3, 4, 0.95, 4.2, '{}', 'pending')"""
    )
    conn.execute("update identity.worker set merged_into = 3 where worker_key = 4")
    assert conn.execute("select worker_a, worker_b from identity.review_queue").fetchall() == [(1, 2)]


def test_unchanged_workers_are_not_scored_again(one_worker_per_record) -> None:
    from ucj import pipeline_tasks

    conn = one_worker_per_record
    first = pipeline_tasks.link_probabilistically()
    assert not first.get("reused")
    again = pipeline_tasks.link_probabilistically()
    assert again.get("reused")
    assert again["scored"] == first["scored"]
    # A reviewer's decision is new input: the next run scores again.
    conn.execute("insert into identity.keep_apart (worker_a, worker_b, decided_by) values (1, 2, 'reviewer')")
    assert not pipeline_tasks.link_probabilistically().get("reused")
    assert pipeline_tasks.link_probabilistically().get("reused")
    assert not pipeline_tasks.link_probabilistically(force=True).get("reused")


def test_each_scoring_run_records_the_model_that_scored_its_pairs(one_worker_per_record, set_settings) -> None:
    """Which model made which pair: the run's model (its m and u values), its version and its training.

    Nothing merged between the runs (letter slips off), so the second scores the same workers."""
    set_settings({"identity.probabilistic.merge_letter_slips": False})
    conn = one_worker_per_record
    with conn.transaction():
        first = probabilistic.link_probabilistically(conn)
    runs = conn.execute(
        """select scoring_run_id, model_version, trained, workers, pairs_scored, training, model
           from identity.scoring_run"""
    ).fetchall()
    assert len(runs) == 1
    run_id, version, trained, workers, pairs, training, model = runs[0]
    assert (run_id, version) == (first["scoring_run_id"], first["model_version"])
    assert trained
    assert len(version) == 16
    assert int(version, 16) >= 0
    assert (workers, pairs, first["merged"]) == (survivors(conn), first["scored"], 0)
    assert "trained" in training["em_blocks"].values()
    assert any("m_probability" in level for c in model["comparisons"] for level in c["comparison_levels"])
    assert conn.execute("select count(*) from identity.match_candidate").fetchone()[0] == first["scored"] > 0
    assert conn.execute("select distinct scoring_run_id from identity.match_candidate").fetchall() == [(run_id,)]
    assert {v for (v,) in conn.execute("select model_version from identity.review_queue")} <= {version}

    # The same workers again: a run of its own, the same model (the training depends on the workers alone).
    with conn.transaction():
        again = probabilistic.link_probabilistically(conn)
    assert again["scoring_run_id"] != run_id
    assert again["model_version"] == version
    assert conn.execute("select distinct scoring_run_id from identity.match_candidate").fetchall() == [
        (again["scoring_run_id"],)
    ]


def test_a_model_that_cannot_train_queues_nothing_and_says_why(conn, caplog) -> None:
    """Four workers with nothing in common: no block gives EM a pair to learn from. The rules alone
    decide the run, nothing is queued, and the run says why."""
    conn.execute(
        """insert into identity.worker (worker_key, nik, name_key, display_name, birth_date, gender)
           overriding system value values
           (1, '1310014503850001', 'aminah siti', 'Siti Aminah', '1985-03-12', 'P'),
           (2, '7208010101900002', 'budi santoso', 'Budi Santoso', '1990-01-01', 'L'),
           (3, '1610016706750003', 'rahmat hidayat', 'Rahmat Hidayat', '1975-06-27', 'L'),
           (4, '1303015112600004', 'yeni daeng', 'Yeni Daeng', '1960-12-11', 'P')"""
    )
    with caplog.at_level("WARNING", logger="ucj.identity.probabilistic"), conn.transaction():
        result = probabilistic.link_probabilistically(conn)
    assert (result["scored"], result["queued"], result["merged"]) == (0, 0, 0)
    assert conn.execute("select count(*) from identity.match_candidate").fetchone()[0] == 0
    trained, training = conn.execute("select trained, training from identity.scoring_run").fetchone()
    assert not trained
    assert "EM could not learn" in training["fallback"]
    assert all(state.startswith("skipped") for state in training["em_blocks"].values())
    assert "the rules alone decide" in caplog.text


def test_reviewers_decisions_recalibrate_the_next_run(one_worker_per_record) -> None:
    """Reviewers reject the queue's twenty least likely pairs and accept five: the next run's model
    (a version of its own, its training saying so) places every pair lower, the rejected stay apart,
    the accepted are merged, and their decisions keep counting after the merge."""
    conn = one_worker_per_record
    with conn.transaction():
        first = probabilistic.link_probabilistically(conn)
    assert first["queued"] >= 25
    pending = conn.execute(
        """select worker_a, worker_b, match_probability from identity.match_candidate
           where status = 'pending' order by match_probability, worker_a, worker_b"""
    ).fetchall()
    decide = """update identity.match_candidate set status = %s, decided_by = 'test', decided_at = now()
                where worker_a = %s and worker_b = %s"""
    for a, b, _ in pending[:20]:
        conn.execute(decide, ("rejected", a, b))
    for a, b, _ in pending[-5:]:
        conn.execute(decide, ("accepted", a, b))

    with conn.transaction():
        second = probabilistic.link_probabilistically(conn)
    assert second["model_version"] != first["model_version"]
    assert second["accepted"] == 5
    (training,) = conn.execute(
        "select training from identity.scoring_run where scoring_run_id = %s", (second["scoring_run_id"],)
    ).fetchone()
    decisions = training["reviewer_decisions"]
    assert (decisions["applied"], decisions["accepted"], decisions["rejected"]) == (True, 5, 20)
    assert decisions["shift_bits"] < 0
    rescored = {
        (a, b): p
        for a, b, p in conn.execute(
            "select worker_a, worker_b, match_probability from identity.match_candidate where scoring_run_id = %s",
            (second["scoring_run_id"],),
        )
    }
    earlier = {(a, b): p for a, b, p in pending[20:-5]}
    assert set(rescored) & set(earlier)
    assert all(rescored[k] < earlier[k] for k in set(rescored) & set(earlier))
    root = "select coalesce(merged_into, worker_key) from identity.worker where worker_key = %s"
    for a, b, _ in pending[:20]:
        assert conn.execute(root, (a,)).fetchone() != conn.execute(root, (b,)).fetchone()
    for a, b, _ in pending[-5:]:
        assert conn.execute(root, (a,)).fetchone() == conn.execute(root, (b,)).fetchone()

    # The accepted pairs are merged now, and their decisions still count: a merged worker keeps its evidence.
    with conn.transaction():
        third = probabilistic.link_probabilistically(conn)
    (training,) = conn.execute(
        "select training from identity.scoring_run where scoring_run_id = %s", (third["scoring_run_id"],)
    ).fetchone()
    assert (training["reviewer_decisions"]["accepted"], training["reviewer_decisions"]["rejected"]) == (5, 20)
    assert training["reviewer_decisions"]["shift_bits"] < 0


def test_a_letter_slip_is_merged_without_review_and_twins_wait(conn, set_settings) -> None:
    """Through the pipeline's own pass: the slip merges (rule letter_slip), the twins stay in the queue."""
    set_settings({"identity.probabilistic.review_probability": 0.5, "identity.probabilistic.merge_letter_slips": True})
    people = [
        # (NIK, name, birth date, sex): a slip of one person, and twins one serial apart.
        ("1310015203850001", "Rahmawati Siti", "1985-03-12", "P"),
        (None, "Rahmwati Siti", "1985-03-12", "P"),
        ("1310010507900011", "Hendra Koto", "1990-07-05", "L"),
        ("1310010507900012", "Hendri Koto", "1990-07-05", "L"),
    ]
    recs = realistic_records(400, "slip")
    from ucj.identity.names import name_key

    with conn.cursor().copy(
        "copy identity.worker (worker_key, nik, name_key, display_name, birth_date, gender) from stdin"
    ) as copy:
        for key, (nik, name, born, sex) in enumerate(people, start=1):
            copy.write_row((key, nik, name_key(name), name, born, sex))
        for r in recs:  # a population to train on, far from the four
            copy.write_row((r.rid + 100, r.nik, name_key(r.full_name), r.full_name, r.birth_date, r.gender))
    with conn.transaction():
        probabilistic.link_probabilistically(conn)
    root = "select coalesce(merged_into, worker_key) from identity.worker where worker_key = %s"
    assert conn.execute(root, (2,)).fetchone()[0] == 1
    assert conn.execute(
        "select rule from identity.worker_merge where worker_key = 2 and merged_into = 1"
    ).fetchone() == ("letter_slip",)
    assert conn.execute(root, (4,)).fetchone()[0] == 4, "twins are not merged without a person"
    twins = conn.execute("select status from identity.match_candidate where worker_a = 3 and worker_b = 4").fetchone()
    assert twins in (None, ("pending",))
