"""Great Expectations: the suite mirrors the row rules and holds the batch thresholds."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ucj.validation import data_docs_index, load_suite, validate_frame

NIK = "1310015203850001"


def frame(statuses: list[str], nik: str | None = NIK) -> pd.DataFrame:
    n = len(statuses)
    return pd.DataFrame(
        {
            "file_id": range(n),
            "status": statuses,
            "row_hash": [f"{i:016x}" for i in range(n)],
            "nik": [nik] * n,
            "nik_quality": ["ok"] * n,
            "name_key": ["aminah siti"] * n,
            "birth_date": [dt.date(1985, 3, 12)] * n,
            "gender": ["P"] * n,
            "programs": ["JKK,JKM"] * n,
            "funding_source": ["APBDES"] * n,
            "segment": ["PU"] * n,
            "unit_key": ["1310012002"] * n,
            "regency_code": ["1310"] * n,
            "age": [39] * n,
        }
    )


def params(min_rows: int | None = None) -> dict:
    return {"min_loaded_share": 0.5, "min_row_count": min_rows}


def test_a_clean_batch_passes_and_lands_in_data_docs() -> None:
    outcome = validate_frame(frame(["loaded"] * 10), load_suite("village", params()), run_name="test_clean")
    assert outcome.success, outcome.failed
    assert outcome.evaluated == outcome.successful > 10
    assert data_docs_index().exists()


def test_too_many_quarantined_rows_fail_the_batch() -> None:
    outcome = validate_frame(frame(["loaded"] * 4 + ["quarantined"] * 6), load_suite("village", params()))
    assert not outcome.success
    assert outcome.failed == ["expect_column_values_to_be_in_set(status)"]


def test_row_count_far_below_last_month_fails() -> None:
    outcome = validate_frame(frame(["loaded"] * 10), load_suite("village", params(min_rows=50)))
    assert outcome.failed == ["expect_table_row_count_to_be_between"]


def test_results_and_data_docs_hold_no_row_values() -> None:
    bad_nik = "9999888877776666"
    outcome = validate_frame(frame(["loaded"] * 3, nik="12"), load_suite("village", params()), run_name="test_pii")
    assert "expect_column_values_to_match_regex(nik)" in outcome.failed
    assert "12" not in str([r["result"].get("partial_unexpected_list") for r in outcome.results])
    validate_frame(frame(["loaded"] * 3, nik=bad_nik[:10]), load_suite("village", params()), run_name="test_pii2")
    pages = list(data_docs_index().parent.glob("validations/**/*.html"))
    assert pages
    assert not any(bad_nik[:10] in page.read_text(encoding="utf-8") for page in pages)


def test_rosters_without_any_nik_pass_validation() -> None:
    """A missing NIK never quarantines a row (CONTRACT.md §2), so it cannot fail a batch either."""
    outcome = validate_frame(frame(["loaded"] * 5, nik=None), load_suite("employer", params()))
    assert outcome.success, outcome.failed


def test_conditional_expectations_judge_only_their_rows() -> None:
    """Expectations with a row_condition are validated on the rows it selects, and still fail on them."""
    rows = frame(["loaded"] * 6 + ["quarantined"] * 2)
    rows.loc[6:, "name_key"] = None  # quarantined rows may lack a name
    outcome = validate_frame(rows, load_suite("village", params()), run_name="test_condition")
    assert outcome.success, outcome.failed
    rows.loc[0, "name_key"] = None  # a loaded row may not
    outcome = validate_frame(rows, load_suite("village", params()), run_name="test_condition_fail")
    assert outcome.failed == ["expect_column_values_to_not_be_null(name_key)"]
    assert outcome.evaluated == len(load_suite("village", params())["expectations"])
    site = data_docs_index().parent
    pages = list(site.glob("validations/roster_village/where_status_is_loaded/**/*.html"))
    assert pages, "the loaded-rows group has its own Data Docs page"


def test_the_data_docs_index_lists_only_the_latest_results() -> None:
    """GX rebuilds the index from every result it lists: unbounded, each month's validation would be slower."""
    import re

    from ucj.settings import settings
    from ucj.validation import _bound_data_docs_index, _gx

    _, context = _gx()
    try:
        _bound_data_docs_index(context, 2)
        for i in range(3):
            validate_frame(frame(["loaded"] * 5), load_suite("opd", params()), run_name=f"test_index_{i}")
        index = data_docs_index().read_text(encoding="utf-8")
        listed = set(re.findall(r"validations/[^'\"]+?\.html", index))
        assert len(listed) == 2
        pages = list(data_docs_index().parent.glob("validations/**/test_index_*/**/*.html"))
        assert len(pages) > 2, "every result keeps its page"
    finally:
        _bound_data_docs_index(context, int(settings().validation.data_docs_index_limit))
