"""One home per rule: typed settings that fail at start naming the key, and suites and messages that read them."""

from __future__ import annotations

from pathlib import Path

import pytest

from ucj import settings
from ucj.feedback import findings_for_row
from ucj.roster.rows import PROGRAMS
from ucj.validation import load_suite


def _with_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> settings.PipelineSettings:
    override = tmp_path / "pipeline.yaml"
    override.write_text(text, encoding="utf-8")
    monkeypatch.setenv(settings.PIPELINE_OVERRIDE_ENV, str(override))
    try:
        return settings.load_settings()
    finally:
        monkeypatch.delenv(settings.PIPELINE_OVERRIDE_ENV)


def test_the_shipped_file_is_valid_and_typed() -> None:
    loaded = settings.load_settings()
    assert isinstance(loaded.ingest.files_per_batch, int)
    assert loaded.identity.probabilistic.review_probability <= loaded.identity.probabilistic.auto_merge_probability


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("validation:\n  max_age_years: seratus\n", r"validation\.max_age_years: .*valid integer.*'seratus'"),
        ("ingest:\n  files_per_batch: 0\n", r"ingest\.files_per_batch: .*greater than 0"),
        (
            "identity:\n  probabilistic:\n    auto_merge_probability: 1.5\n",
            r"identity\.probabilistic\.auto_merge_probability",
        ),
        ("deadline:\n  day_of_next_month: 31\n", r"deadline\.day_of_next_month"),
        (
            "validation:\n  min_age_years: 70\n  max_age_years: 60\n",
            r"validation: .*min_age_years is above max_age_years",
        ),
        ("identity:\n  review:\n    pairs_per_requests: 5\n", r"unknown setting identity\.review\.pairs_per_requests"),
    ],
)
def test_a_wrong_key_or_value_fails_naming_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, named: str
) -> None:
    with pytest.raises(settings.SettingsError, match=named):
        _with_override(tmp_path, monkeypatch, text)


def test_changed_values_are_validated_like_the_file() -> None:
    base = settings.settings()
    assert settings.with_values(base, {"validation.max_age_years": 90}).validation.max_age_years == 90
    with pytest.raises(settings.SettingsError, match=r"unknown setting validation\.max_age"):
        settings.with_values(base, {"validation.max_age": 90})
    with pytest.raises(settings.SettingsError, match=r"validation\.max_age_years"):
        settings.with_values(base, {"validation.max_age_years": "tua"})


def _kwargs(suite: dict, kind: str, column: str) -> dict:
    return next(e["kwargs"] for e in suite["expectations"] if e["type"] == kind and e["kwargs"].get("column") == column)


@pytest.mark.parametrize("kind", ["opd", "village", "employer"])
def test_the_suites_take_their_rules_from_the_settings_and_the_vocabulary(kind: str, set_settings) -> None:
    shipped = load_suite(kind, {"min_loaded_share": 0.5, "min_row_count": None})
    age = _kwargs(shipped, "expect_column_values_to_be_between", "age")
    cfg = settings.settings().validation
    assert (age["min_value"], age["max_value"]) == (cfg.min_age_years, cfg.max_age_years)
    pattern = _kwargs(shipped, "expect_column_values_to_match_regex", "programs")["regex"]
    assert all(program in pattern for program in PROGRAMS)

    set_settings({"validation.min_age_years": 15, "validation.max_age_years": 80})
    changed = _kwargs(
        load_suite(kind, {"min_loaded_share": 0.5, "min_row_count": None}), "expect_column_values_to_be_between", "age"
    )
    assert (changed["min_value"], changed["max_value"]) == (15, 80)


def test_the_clerk_report_quotes_the_age_limits_in_force(set_settings) -> None:
    set_settings({"validation.min_age_years": 15, "validation.max_age_years": 80})
    (finding,) = findings_for_row(
        7, "age_out_of_range", "valid", {"Tgl Lahir": "01/01/1930"}, {"birth_date": "Tgl Lahir"}
    )
    assert "15-80 tahun" in finding.problem
