"""Reference data: the shipped region codes, and the landing zone's labor_force.csv as people type it."""

from __future__ import annotations

import pytest

from ucj.reference_load import ReferenceFileError, _labor_force_rows


def test_labor_force_numbers_as_typed() -> None:
    text = 'regency_code,year,working_population,ucj_target_pct\n13.10,2025,"134.390","28,3"\n1311,2025,,28.3 %\n'
    rows = _labor_force_rows(text, "landing", "reference/labor_force.csv")
    assert rows[0][:4] == ("1310", 2025, 134390, 28.3)
    assert rows[1][:4] == ("1311", 2025, None, 28.3)


def test_labor_force_bad_line_names_the_line() -> None:
    text = "regency_code,year,working_population,ucj_target_pct\n1310,2025,banyak,\n"
    with pytest.raises(ReferenceFileError, match="line 2"):
        _labor_force_rows(text, "landing", "reference/labor_force.csv")


def test_labor_force_missing_column_is_named() -> None:
    with pytest.raises(ReferenceFileError, match="ucj_target_pct"):
        _labor_force_rows("regency_code,year,working_population\n", "landing", "reference/labor_force.csv")


def test_code_sets_hold_every_region_of_their_level() -> None:
    """The sets ingest and identity check codes against, read apart from the Region table they stand for."""
    from ucj import reference

    table = reference.regions()
    for level, codes in [("province", reference.province_codes()), ("regency", reference.regency_codes()),
                         ("village", reference.village_codes())]:  # fmt: skip
        assert codes == {code for code, region in table.items() if region.level == level}
    assert "13" in reference.province_codes()
    assert "1310012002" in reference.village_codes()  # codes without their dots
