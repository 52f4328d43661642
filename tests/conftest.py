"""Test configuration: a real embedded PostgreSQL and a throwaway Airflow home.

Everything is configured through the environment before ``ucj`` or Airflow is
imported. ``UCJ_TEST_WAREHOUSE=postgresql://...`` runs the warehouse tests
against a real server instead (its tables are truncated: use a scratch DB).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SESSION_DIR = Path(tempfile.mkdtemp(prefix="ucj-test-"))

os.environ["UCJ_VAR_DIR"] = str(SESSION_DIR / "var")
os.environ["AIRFLOW_HOME"] = str(SESSION_DIR / "airflow")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ.setdefault("XDG_RUNTIME_DIR", str(SESSION_DIR / "run"))
Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, parents=True, exist_ok=True)
os.environ.pop("AIRFLOW_CONN_WAREHOUSE", None)
# NIK tokens need a key; in production it comes from a secrets backend.
os.environ["UCJ_NIK_HMAC_KEY"] = "test-only-key"
if os.environ.get("UCJ_TEST_WAREHOUSE"):
    os.environ["AIRFLOW_CONN_WAREHOUSE"] = os.environ["UCJ_TEST_WAREHOUSE"]

from outputs import OUTPUT_TABLES  # noqa: E402  (after the environment is set)


@pytest.fixture(autouse=True)
def _outside_any_task(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts outside any Airflow task.

    A task run in this process (``dag.test``, the runner) leaves Airflow's
    ``AIRFLOW_CTX_*`` variables in ``os.environ``; code that asks "am I in a
    task?" (the warehouse connection, the run a revision names) would then
    answer for whichever test ran before in the same worker.
    """
    for name in [n for n in os.environ if n.startswith("AIRFLOW_CTX_")]:
        monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def warehouse() -> str:
    from ucj import reference_load
    from ucj.warehouse import connect, migrate, warehouse_uri

    migrate()
    with connect() as conn:
        reference_load.load_regions(conn)
        reference_load.load_labor_force(conn, None)
    return warehouse_uri()


@pytest.fixture
def clean_warehouse(warehouse: str) -> str:
    import psycopg

    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute(f"truncate {', '.join(OUTPUT_TABLES)}, meta.stage_fingerprint restart identity cascade")
    return warehouse


@pytest.fixture
def conn(clean_warehouse: str):
    import psycopg

    with psycopg.connect(clean_warehouse, autocommit=True) as connection:
        yield connection


@pytest.fixture
def set_settings(monkeypatch: pytest.MonkeyPatch):
    """Run a test under other pipeline settings: ``set_settings({"ingest.max_read_seconds": 0.5})``."""
    from ucj import settings

    def apply(changes: dict[str, object]) -> None:
        monkeypatch.setattr(settings, "_active", settings.with_values(settings.settings(), changes))

    return apply


@pytest.fixture(scope="session")
def airflow_db() -> None:
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, stdout=subprocess.DEVNULL)


@pytest.fixture(scope="session")
def sample_landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ucj_dev.synthetic.sample import generate

    root = tmp_path_factory.mktemp("landing")
    generate(root)
    return root
