"""The coverage page's Indonesian labels cover every code the warehouse can write."""

from __future__ import annotations

from ucj import coverage_report, facts


def test_every_revision_cause_has_its_indonesian_label() -> None:
    # facts.REVISION_CAUSES is what a load may record (and V025's check allows); the page names each.
    assert set(coverage_report.REVISION_CAUSES) == set(facts.REVISION_CAUSES)
