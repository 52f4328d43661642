"""The review queue as pages of Required Actions: what a reviewer sees, and what their answers do."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from ucj import pipeline_tasks
from ucj.identity import review_requests as rr

WORKERS = [
    (1, "1310014503850001", "Siti Aminah", dt.date(1985, 3, 5), "P"),
    (2, "1310014503850007", "Siti Nur Aminah", dt.date(1985, 3, 5), "P"),
    (3, "1310011204900003", "Rizki Muhammad", dt.date(1990, 4, 12), "L"),
    (4, None, "Muhammad Rizki", dt.date(1990, 12, 4), "L"),
    (5, "1310012001800005", "Budi", dt.date(1980, 1, 20), "L"),
    (6, "1310012001800006", "Budi Santoso", dt.date(1980, 1, 20), "L"),
]
COMPARISON = {"nik": {"level": 1, "weight": 3.2}, "name_key": {"level": 2, "weight": 1.5}}


@pytest.fixture
def queue(conn):
    for key, nik, name, born, gender in WORKERS:
        conn.execute(
            """insert into identity.worker (worker_key, nik, name_key, display_name, birth_date, gender)
               overriding system value values (%s, %s, %s, %s, %s, %s)""",
            (key, nik, name.lower(), name, born, gender),
        )
    for a, b, p in [(1, 2, 0.97), (3, 4, 0.93), (5, 6, 0.95)]:
        conn.execute(
            """insert into identity.match_candidate
                 (worker_a, worker_b, match_probability, match_weight, comparison, status)
               values (%s, %s, %s, 4.2, %s, 'pending')""",
            (a, b, p, json.dumps(COMPARISON)),
        )
    return conn


def test_a_page_shows_both_workers_side_by_side_and_masks_niks(queue) -> None:
    pairs = rr.next_pairs(queue, 2)
    assert [(p.worker_a, p.worker_b) for p in pairs] == [(1, 2), (5, 6)]  # most likely first
    body = rr.request_body(pairs, rr.waiting(queue))
    assert "2 pasangan** dari 3" in body
    for text in ["Siti Aminah", "Siti Nur Aminah", "1985-03-05", "1310**********01", "nik level 1 (+3.2)", "0.9700"]:
        assert text in body
    assert "1310014503850001" not in body  # NIKs masked
    form = rr.form(pairs)
    assert list(form) == ["pair_1_2", "pair_5_6"]
    assert form["pair_1_2"]["enum"] == ["terima", "tolak", "lewati"]
    assert form["pair_1_2"]["default"] == "lewati"


def test_pages_show_unseen_pairs_first_so_a_skipped_pair_comes_back_later(queue) -> None:
    first = pipeline_tasks.review_page("ucj_identity_review/run-1")
    assert len(first["pairs"]) == 3
    assert rr.never_shown(queue) == 0
    queue.execute("update identity.match_candidate set presented_at = null where worker_a = 3")
    assert [p.key for p in rr.next_pairs(queue, 1)] == ["pair_3_4"]
    assert queue.execute("select presented_in from identity.match_candidate where worker_a = 1").fetchone() == (
        "ucj_identity_review/run-1",
    )


def test_answers_become_reviewers_decisions_as_the_sql_path_writes_them(queue) -> None:
    # Meanwhile someone decided 5-6 by SQL: the page's answer for it does not override that.
    queue.execute(
        """update identity.match_candidate set status = 'rejected', decided_by = 'sql', decided_at = now()
           where worker_a = 5 and worker_b = 6"""
    )
    answers = {"pair_1_2": "terima", "pair_3_4": "lewati", "pair_5_6": "terima"}
    result = rr.apply_answers(queue, answers, "rina.reviewer")
    assert result.as_dict() == {"accepted": 1, "rejected": 0, "skipped": 1, "already_decided": 1, "decided": 1}
    rows = queue.execute(
        "select worker_a, status, decided_by, decided_at is not null from identity.match_candidate order by 1"
    ).fetchall()
    assert rows == [(1, "accepted", "rina.reviewer", True), (3, "pending", None, False), (5, "rejected", "sql", True)]
    assert [(a, b) for a, b, *_ in queue.execute("select * from identity.review_queue").fetchall()] == [(3, 4)]
    with pytest.raises(ValueError, match="must be one of"):
        rr.apply_answers(queue, {"pair_3_4": "yes"}, "rina.reviewer")


class _Outlet:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []

    def add(self, asset, extra=None) -> None:
        self.events.append((asset.uri, extra or {}))


def test_a_page_with_decisions_starts_a_consolidation_and_the_next_page(queue) -> None:
    pipeline_tasks.review_page("ucj_identity_review/run-1")
    queue.execute("update identity.match_candidate set presented_at = null where worker_a = 5")
    outlet = _Outlet()
    response = {
        "chosen_options": ["Kirim keputusan"],
        "params_input": {"pair_1_2": "tolak", "pair_3_4": "lewati"},
        "responded_by_user": {"id": "3", "name": "rina.reviewer"},
    }
    result = pipeline_tasks.apply_review(response, outlet)
    assert result["rejected"] == 1
    assert result["by"] == "rina.reviewer"
    assert [uri for uri, _ in outlet.events] == ["ucj://identity/decisions", "ucj://identity/review_queue"]

    # Only skips: no consolidation, and no new page asked for (it would show the same pairs).
    idle = _Outlet()
    pipeline_tasks.apply_review({**response, "params_input": {"pair_3_4": "lewati"}}, idle)
    assert idle.events == []


def test_one_page_at_a_time_the_next_follows_the_answer(queue, monkeypatch, set_settings) -> None:
    """While a page waits for its reviewer no second one is asked for (it would only queue behind it)."""

    set_settings({"identity.review.pairs_per_request": 2})
    page = pipeline_tasks.review_page("ucj_identity_review/run-1")
    assert len(page["pairs"]) == 2
    assert rr.page_open(queue, 7)
    consolidation = _Outlet()
    assert pipeline_tasks.offer_review(consolidation) == 0
    assert consolidation.events == []

    answer = {
        "params_input": {page["pairs"][0]: "terima", page["pairs"][1]: "lewati"},
        "responded_by_user": {"id": "3", "name": "rina.reviewer"},
    }
    reviewer = _Outlet()
    pipeline_tasks.apply_review(answer, reviewer, "ucj_identity_review/run-1")
    assert not rr.page_open(queue, 7)
    # The answer itself asks for the next page: one pair was never shown.
    assert [uri for uri, _ in reviewer.events] == ["ucj://identity/decisions", "ucj://identity/review_queue"]
    assert pipeline_tasks.offer_review(_Outlet()) == 1
    # A page whose run never answered (failed, cleared) stops blocking once its request timed out.
    queue.execute("update identity.match_candidate set presented_in = 'gone', presented_at = now() - interval '8 days'")
    assert not rr.page_open(queue, 7)
