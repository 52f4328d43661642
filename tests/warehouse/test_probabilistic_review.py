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
