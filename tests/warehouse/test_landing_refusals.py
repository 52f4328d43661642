"""Odd landing-zone entries (links out, pipes, junk) are refused and recorded in the warehouse, the good files load."""

from __future__ import annotations

from pathlib import Path

from rosterfiles import odd_landing_zone

from ucj.landing import list_rosters


def test_odd_entries_are_refused_and_recorded_while_the_good_files_load(conn, tmp_path: Path) -> None:
    """A link out of the landing zone is never read; it fails as its own file, with a reason for the clerk."""
    from ucj import ingest

    root, outside = odd_landing_zone(tmp_path)
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
