"""Landing zone: periods, listing, batching, and the period a DAG run is for."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from rosterfiles import odd_landing_zone

from ucj.dag_support import PeriodError, resolve_period
from ucj.landing import batch_files, list_rosters
from ucj.period import period_range


def test_period_ranges() -> None:
    assert period_range("2025-11:2026-02") == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert period_range("2025-03") == ["2025-03"]
    with pytest.raises(ValueError, match="YYYY-MM"):
        period_range("2025-13")
    with pytest.raises(ValueError, match="ends before"):
        period_range("2025-03:2025-01")


def test_listing_is_oldest_first_and_skips_only_hidden_and_lock_files(tmp_path: Path) -> None:
    folder = tmp_path / "village" / "2025-01"
    folder.mkdir(parents=True)
    for i, name in enumerate(["b.xlsx", "a.csv", "~$b.xlsx", ".DS_Store", "surat.pdf"]):
        (folder / name).write_bytes(b"x")
        os.utime(folder / name, (1_700_000_000 + i, 1_700_000_000 + (10 - i)))
    listed = [f.rel_path for f in list_rosters(tmp_path, "village", "2025-01")]
    assert listed == ["village/2025-01/surat.pdf", "village/2025-01/a.csv", "village/2025-01/b.xlsx"]
    assert list_rosters(tmp_path, "opd", "2025-01") == []


def test_thousands_of_small_files_become_a_few_batches(tmp_path: Path) -> None:
    from ucj.landing import LandedFile

    now = dt.datetime.now(dt.UTC)
    files = [LandedFile(f"village/2025-01/{i}.csv", 2_000, now) for i in range(3_000)]
    batches = batch_files(files, max_files=400, max_bytes=200_000_000)
    assert len(batches) == 8
    assert sum(len(b) for b in batches) == 3_000
    big = [LandedFile("employer/2025-01/big.xlsx", 300_000_000, now), *files[:2]]
    assert [len(b) for b in batch_files(big, 400, 200_000_000)] == [1, 2]


def test_run_period_defaults_to_the_month_before_the_run() -> None:
    assert resolve_period(None, dt.datetime(2025, 3, 1, tzinfo=dt.UTC)) == "2025-02"
    assert resolve_period(None, dt.datetime(2025, 1, 15, tzinfo=dt.UTC)) == "2024-12"
    assert resolve_period("2025-07", dt.datetime(2025, 3, 1, tzinfo=dt.UTC)) == "2025-07"
    with pytest.raises(PeriodError):
        resolve_period("Juli 2025", None)


def test_only_regular_files_inside_the_landing_zone_are_rosters(tmp_path: Path) -> None:
    from ucj.landing import scan_rosters

    root, _ = odd_landing_zone(tmp_path)
    listing = scan_rosters(root, "village", "2025-01")
    assert sorted(f.rel_path.rsplit("/", 1)[1] for f in listing.files) == [
        "a.csv", "dalam.csv", "hilang.csv", "keluar.csv", "passwd.csv",
    ]  # fmt: skip
    skipped = {s.name: s.reason for s in listing.skipped}
    assert skipped["pipe.csv"].startswith("is not a regular file")
    assert {"Thumbs.db", "desktop.ini", "a.xlsx~", "~$a.xlsx", ".~lock.a.xlsx#"} <= set(skipped)
    assert any("UTF-8" in reason for reason in skipped.values())


def test_a_broken_entry_does_not_stop_planning_the_month(tmp_path: Path, monkeypatch) -> None:
    from ucj import pipeline_tasks

    root, _ = odd_landing_zone(tmp_path)
    monkeypatch.setenv("AIRFLOW_VAR_LANDING_ROOT", str(root))
    (batch,) = pipeline_tasks.plan_batches("village", "2025-01", stable_seconds=0)
    assert "village/2025-01/a.csv" in batch
    assert "village/2025-01/pipe.csv" not in batch
