"""Write-audit-publish: a kind-month that fails validation does not change what the marts show.

Driven through the DAG tasks' own code (``ucj.pipeline_tasks``) against the
real warehouse and real Great Expectations: a published month, then a
corrected file that fails a batch-level expectation (most of its rows
quarantined), held, then approved or replaced by a fixed file.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from rosterfiles import land_village, village_row

from ucj import pipeline_tasks

PERIOD = "2025-01"
KOTO_BARU = "13.10.01.2002"
PEOPLE = ["Siti Aminah", "Budi Santoso", "Rahmat Hidayat", "Dewi Lestari"]


def person(n: int, born: str = "12/03/1985") -> list:
    return village_row(n, nik=f"13100152038500{n:02d}", name=PEOPLE[n - 1], born=born, code=KOTO_BARU)


def run_month(files: list[str]) -> tuple[dict, dict]:
    """One ingest run and the consolidation after it, task by task as the DAGs call them."""
    pipeline_tasks.ingest_files("village", PERIOD, files)
    validation = pipeline_tasks.validate("village", PERIOD, "ucj_ingest_village", "test")
    gate = pipeline_tasks.publication_gate("village", PERIOD, validation, "ucj_ingest_village", "test")
    pipeline_tasks.settle("village", PERIOD)
    pipeline_tasks.resolve_identities()
    pipeline_tasks.load_period(PERIOD)
    return gate, validation


def covered(conn: psycopg.Connection) -> int:
    row = conn.execute(
        "select covered_workers from mart.ucj_regency_month where regency_code = '1310' and period_month = %s",
        (f"{PERIOD}-01",),
    ).fetchone()
    return row[0] if row else 0


def publication_states(conn: psycopg.Connection) -> dict[str, set[str]]:
    states: dict[str, set[str]] = {}
    for source_file, publication, by in conn.execute(
        "select source_file, publication, coalesce(published_by, '') from mart.roster_row_status"
    ):
        states.setdefault(source_file, set()).add(f"{publication}:{by}")
    return states


@pytest.fixture
def published_month(conn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """January with four covered workers in Koto Baru, published by validation."""
    monkeypatch.setenv("AIRFLOW_VAR_LANDING_ROOT", str(tmp_path))
    first = land_village(tmp_path, PERIOD, "a.csv", [person(n) for n in range(1, 5)], 1_700_000_000)
    gate, _ = run_month([first])
    assert gate["published_files"] == 1
    assert not gate["held"]
    assert covered(conn) == 4
    return conn, tmp_path


def held_correction(tmp_path: Path) -> str:
    """A corrected file for the same village: three of its four birth dates unreadable (quarantined)."""
    rows = [person(1)] + [person(n, born="tanggal?") for n in range(2, 5)]
    return land_village(tmp_path, PERIOD, "b.csv", rows, 1_700_000_500)


def test_a_failing_batch_is_held_and_the_marts_keep_the_last_published_state(published_month) -> None:
    conn, tmp_path = published_month
    marts_before = conn.execute("select * from mart.ucj_regency_month order by 1, 4").fetchall()
    gate, validation = run_month([held_correction(tmp_path)])

    assert gate["held"]
    assert not validation["success"]
    assert gate["failed"], "the request names what failed"
    assert all(set(f) == {"expectation", "element_count", "unexpected_count", "unexpected_percent",
                          "observed_value"} for f in gate["failed"])  # fmt: skip
    # The marts are as they were: b.csv would have left one covered worker.
    assert covered(conn) == 4
    assert conn.execute("select * from mart.ucj_regency_month order by 1, 4").fetchall() == marts_before
    # Nothing lost while held: every row of b.csv has its state, and says it is held.
    states = dict(
        conn.execute(
            """select status, count(*) from mart.roster_row_status
               where source_file = 'village/2025-01/b.csv' group by 1"""
        ).fetchall()
    )
    assert states == {"loaded": 1, "quarantined": 3}
    assert publication_states(conn) == {
        "village/2025-01/a.csv": {"published:validation"},
        "village/2025-01/b.csv": {"held:"},
    }
    decision, failed = conn.execute(
        "select decision, failed_expectations from audit.publication order by publication_id desc limit 1"
    ).fetchone()
    assert decision == "held"
    assert [f["expectation"] for f in failed] == [f["expectation"] for f in gate["failed"]]
    # The steward's request: the failed expectations with counts, no row values.
    (request,) = pipeline_tasks.approval_requests(gate)
    body = request["conf"]["body"]
    assert all(f["expectation"] in body for f in gate["failed"])
    for value in ["1310015203850002", "Budi Santoso", "tanggal?"]:
        assert value not in body
    assert request["conf"]["candidate"] == gate["candidate"]


def test_an_approved_batch_is_published_and_recorded_with_who_approved(published_month) -> None:
    conn, tmp_path = published_month
    gate, _validation = run_month([held_correction(tmp_path)])
    response = {"chosen_options": ["Terbitkan"], "responded_by_user": {"id": "7", "name": "rina.steward"}}
    decision = pipeline_tasks.publication_decision("village", PERIOD, gate["candidate"], response, "test", "approval")
    assert decision == {
        "applied": True,
        "published_files": 1,
        "message": "village 2025-01: rina.steward approved publication of 1 file(s)",
    }
    pipeline_tasks.settle("village", PERIOD)
    pipeline_tasks.resolve_identities()
    pipeline_tasks.load_period(PERIOD)
    assert covered(conn) == 1  # b.csv replaces a.csv for Koto Baru: one loaded row
    states = publication_states(conn)
    assert states["village/2025-01/b.csv"] == {"published:rina.steward"}
    assert conn.execute(
        "select decision, decided_by from audit.publication order by publication_id desc limit 1"
    ).fetchone() == ("approved", "rina.steward")


def test_a_rejected_batch_stays_held(published_month) -> None:
    conn, tmp_path = published_month
    gate, _validation = run_month([held_correction(tmp_path)])
    response = {"chosen_options": ["Tolak"], "responded_by_user": {"id": "7", "name": "rina.steward"}}
    decision = pipeline_tasks.publication_decision("village", PERIOD, gate["candidate"], response, "test", "approval")
    assert decision["applied"]
    assert decision["published_files"] == 0
    pipeline_tasks.load_period(PERIOD)
    assert covered(conn) == 4
    assert publication_states(conn)["village/2025-01/b.csv"] == {"held:"}


def test_a_fixed_file_publishes_itself_and_a_late_approval_applies_to_nothing(published_month) -> None:
    conn, tmp_path = published_month
    held, _ = run_month([held_correction(tmp_path)])
    # The sender's fix: b.csv again, with its birth dates readable.
    fixed = land_village(tmp_path, PERIOD, "b.csv", [person(1), person(2), person(3)], 1_700_001_000)
    gate, validation = run_month([fixed])
    assert not gate["held"]
    assert validation["success"]
    assert covered(conn) == 3
    # The steward answers the old request afterwards: it was about a batch that is gone.
    response = {"chosen_options": ["Terbitkan"], "responded_by_user": {"id": "7", "name": "rina.steward"}}
    late = pipeline_tasks.publication_decision("village", PERIOD, held["candidate"], response, "test", "approval")
    assert late["applied"] is False
    assert late["published_files"] == 0
    assert "applies to nothing" in late["message"]
    assert conn.execute("select decision from audit.publication order by publication_id desc limit 1").fetchone() == (
        "void",
    )
    pipeline_tasks.load_period(PERIOD)
    assert covered(conn) == 3


def test_a_rerun_of_a_held_month_holds_it_again_and_asks_once(published_month) -> None:
    """Clearing the run (or the next sweep) does not publish what failed, and asks about the same batch."""
    conn, tmp_path = published_month
    first, _ = run_month([held_correction(tmp_path)])
    again, _ = run_month(["village/2025-01/b.csv"])
    assert again["held"]
    assert again["candidate"] == first["candidate"]
    assert (
        pipeline_tasks.approval_requests(again)[0]["trigger_run_id"]
        == (pipeline_tasks.approval_requests(first)[0]["trigger_run_id"])
    )
    assert covered(conn) == 4


def test_a_rejected_batch_asked_about_again_gets_a_new_request(published_month) -> None:
    _conn, tmp_path = published_month
    first, _ = run_month([held_correction(tmp_path)])
    response = {"chosen_options": ["Tolak"], "responded_by_user": {"id": "7", "name": "rina.steward"}}
    pipeline_tasks.publication_decision("village", PERIOD, first["candidate"], response, "test", "approval")
    again, _ = run_month(["village/2025-01/b.csv"])
    assert again["held"]
    assert again["candidate"] == first["candidate"]
    new, old = (pipeline_tasks.approval_requests(g)[0]["trigger_run_id"] for g in (again, first))
    assert new != old
