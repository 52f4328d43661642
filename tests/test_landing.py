"""Landing zone: periods, listing, batching, and the period a DAG run is for."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from ucj.dag_support import PeriodError, resolve_period
from ucj.landing import batch_files, list_rosters, period_range


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


def _odd_landing_zone(tmp_path: Path) -> tuple[Path, Path]:
    """A landing zone with every odd entry the issue tracker has seen, beside one good roster."""
    from rosterfiles import land_village, village_row

    root = tmp_path / "landing"
    good = land_village(root, "2025-01", "a.csv", [village_row(1)], 1_700_000_000)
    folder = root / "village" / "2025-01"
    outside = tmp_path / "elsewhere.csv"
    outside.write_bytes((root / good).read_bytes())
    (folder / "keluar.csv").symlink_to(outside)  # leads out of the landing zone
    (folder / "hilang.csv").symlink_to(tmp_path / "nothing-here.csv")  # dangling
    (folder / "passwd.csv").symlink_to("/etc/passwd")
    (folder / "dalam.csv").symlink_to(root / good)  # inside: read as the file it points to
    os.mkfifo(folder / "pipe.csv")
    for junk in ("Thumbs.db", "desktop.ini", "a.xlsx~", "~$a.xlsx", ".~lock.a.xlsx#"):
        (folder / junk).write_bytes(b"x")
    (folder / os.fsdecode(b"rekap\xff.csv")).write_bytes(b"x")  # not UTF-8
    return root, outside


def test_only_regular_files_inside_the_landing_zone_are_rosters(tmp_path: Path) -> None:
    from ucj.landing import scan_rosters

    root, _ = _odd_landing_zone(tmp_path)
    listing = scan_rosters(root, "village", "2025-01")
    assert sorted(f.rel_path.rsplit("/", 1)[1] for f in listing.files) == [
        "a.csv", "dalam.csv", "hilang.csv", "keluar.csv", "passwd.csv",
    ]  # fmt: skip
    skipped = {s.name: s.reason for s in listing.skipped}
    assert skipped["pipe.csv"].startswith("is not a regular file")
    assert {"Thumbs.db", "desktop.ini", "a.xlsx~", "~$a.xlsx", ".~lock.a.xlsx#"} <= set(skipped)
    assert any("UTF-8" in reason for reason in skipped.values())


def test_odd_entries_are_refused_and_recorded_while_the_good_files_load(conn, tmp_path: Path) -> None:
    """A link out of the landing zone is never read; it fails as its own file, with a reason for the clerk."""
    from ucj import ingest
    from ucj.landing import list_rosters

    root, outside = _odd_landing_zone(tmp_path)
    files = [f.rel_path for f in list_rosters(root, "village", "2025-01")]
    summary = ingest.ingest_batch(conn, root, "village", "2025-01", files)
    assert summary.loaded_files == 2  # a.csv and the link inside the zone
    failed = {f["file"].rsplit("/", 1)[1]: f["error"] for f in summary.failed_files}
    assert set(failed) == {"keluar.csv", "hilang.csv", "passwd.csv"}
    assert "outside the landing zone" in failed["keluar.csv"]
    assert "dangling" in failed["hilang.csv"]
    rows = conn.execute(
        """select f.rel_path, count(r.*) from ingest.source_file as f left join ingest.roster_row as r using (file_id)
           group by 1 order by 1"""
    ).fetchall()
    assert dict(rows)["village/2025-01/passwd.csv"] == 0
    assert dict(rows)["village/2025-01/keluar.csv"] == 0
    # Read again: still refused, nothing doubled.
    again = ingest.ingest_batch(conn, root, "village", "2025-01", files)
    assert len(again.failed_files) == 3
    assert conn.execute("select count(*) from ingest.roster_row").fetchone()[0] == 2
    assert outside.exists()


def test_a_broken_entry_does_not_stop_planning_the_month(tmp_path: Path, monkeypatch) -> None:
    from ucj import pipeline_tasks

    root, _ = _odd_landing_zone(tmp_path)
    monkeypatch.setenv("AIRFLOW_VAR_LANDING_ROOT", str(root))
    (batch,) = pipeline_tasks.plan_batches("village", "2025-01", stable_seconds=0)
    assert "village/2025-01/a.csv" in batch
    assert "village/2025-01/pipe.csv" not in batch
