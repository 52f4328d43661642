"""The unit tier: no database and no Airflow metadata database, so it runs anywhere in a couple of minutes.

A test here that asks for the warehouse fails with the reason instead of
quietly starting the embedded PostgreSQL, and any connection a test opens
by itself goes to an address that does not exist.
"""

from __future__ import annotations

import pytest

NO_DATABASE = "postgresql://unit-tests@/no-database-in-the-unit-tier?host=/nonexistent&connect_timeout=1"


def _refuse(what: str) -> None:
    pytest.fail(f"tests/unit has no {what}: move this test to tests/warehouse (or tests/dags)", pytrace=False)


@pytest.fixture(scope="session")
def warehouse() -> str:
    _refuse("warehouse")
    raise AssertionError  # unreachable: pytest.fail raises


@pytest.fixture(scope="session")
def airflow_db() -> None:
    _refuse("Airflow metadata database")


@pytest.fixture(autouse=True)
def _no_warehouse_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", NO_DATABASE)
