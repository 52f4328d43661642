"""The arrival sweep: which kind-months get an ingest run, against the real landing zone and warehouse."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from rosterfiles import land_village, village_row

from ucj import arrivals, pipeline_tasks
from ucj.landing import LandedFile
from ucj.period import period_label

UTC = dt.UTC


def test_open_months_run_from_their_first_day_to_the_late_window_after_the_deadline() -> None:
    # Due on the 10th of the next month, picked up for 90 days after that.
    opened = [period_label(m) for m in arrivals.open_periods(dt.date(2025, 3, 5), 10, 90)]
    # 2024-11 was due 2024-12-10: open until 2025-03-10.
    assert opened == ["2025-03", "2025-02", "2025-01", "2024-12", "2024-11"]
    # 2024-12 is due 2025-01-10; 90 days later is 2025-04-10, its last open day.
    assert "2024-12" in [period_label(m) for m in arrivals.open_periods(dt.date(2025, 4, 10), 10, 90)]
    assert "2024-12" not in [period_label(m) for m in arrivals.open_periods(dt.date(2025, 4, 11), 10, 90)]
    # No late window: only the current month and the one still before its deadline.
    assert [period_label(m) for m in arrivals.open_periods(dt.date(2025, 3, 5), 10, 0)] == ["2025-03", "2025-02"]


def test_a_file_still_being_written_waits() -> None:
    now = dt.datetime(2025, 2, 3, 12, tzinfo=UTC)
    done = LandedFile("village/2025-01/a.csv", 10, now - dt.timedelta(seconds=121))
    copying = LandedFile("village/2025-01/b.csv", 10, now - dt.timedelta(seconds=5))
    assert arrivals.stable([done, copying], now, 120) == ([done], ["village/2025-01/b.csv"])
    assert arrivals.stable([done, copying], now, 0) == ([done, copying], [])


def test_plan_batches_leaves_a_file_being_copied_for_the_next_run(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_LANDING_ROOT", str(tmp_path))
    done = land_village(tmp_path, "2025-01", "a.csv", [village_row(1)], int(time.time()) - 3600)
    land_village(tmp_path, "2025-01", "b.csv", [village_row(2)], int(time.time()))
    assert pipeline_tasks.plan_batches("village", "2025-01") == [[done]]
    assert sorted(pipeline_tasks.plan_batches("village", "2025-01", stable_seconds=0)[0]) == [
        done,
        "village/2025-01/b.csv",
    ]


def test_a_deployment_overrides_settings_and_a_typo_is_refused(tmp_path: Path, monkeypatch) -> None:
    from ucj import settings

    override = tmp_path / "pipeline.yaml"
    override.write_text("arrival:\n  schedule: '*/5 * * * *'\n", encoding="utf-8")
    monkeypatch.setenv(settings.PIPELINE_OVERRIDE_ENV, str(override))
    try:
        config = settings.reload_settings()
        assert config.arrival.schedule == "*/5 * * * *"
        assert config.arrival.stable_seconds == 120  # the rest as shipped
        override.write_text("arrival:\n  schedul: hourly\n", encoding="utf-8")
        with pytest.raises(settings.SettingsError, match=r"arrival\.schedul"):
            settings.reload_settings()
    finally:
        monkeypatch.delenv(settings.PIPELINE_OVERRIDE_ENV)
        settings.reload_settings()
    assert settings.settings().arrival.schedule == "@hourly"
