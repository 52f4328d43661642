"""The pipeline runs as a non-superuser role owning its schemas; a NIK key rotation re-tokens only what it must."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_pipeline_runs_as_a_role_that_owns_its_schemas_but_is_no_superuser(warehouse: str) -> None:
    """As warehouse-init.sh sets it up: the database's owner, CREATEROLE, admin of bi_reader, nothing more."""
    with psycopg.connect(warehouse, autocommit=True) as admin:
        admin.execute("drop database if exists ucj_least_privilege")
        admin.execute("drop role if exists ucj_pipeline_test")
        admin.execute("create role ucj_pipeline_test login nosuperuser nocreatedb createrole password 'Pw8xLq2v'")
        admin.execute("grant bi_reader to ucj_pipeline_test with admin option")
        admin.execute("create database ucj_least_privilege owner ucj_pipeline_test")
    params = psycopg.conninfo.conninfo_to_dict(warehouse)
    where = f"host={params['host']}&port={params.get('port', 5432)}"
    url = f"postgresql://ucj_pipeline_test:Pw8xLq2v@/ucj_least_privilege?{where}"
    env = {**os.environ, "AIRFLOW_CONN_WAREHOUSE": url}
    script = (
        "from ucj import reference_load; from ucj.warehouse import connect, migrate; applied = migrate()\n"
        "with connect() as conn:\n"
        "    reference_load.load_regions(conn); reference_load.load_labor_force(conn, None)\n"
        "print(len(applied))"
    )
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert int(out.stdout.strip().splitlines()[-1]) >= 20
    with psycopg.connect(url) as conn:
        assert conn.execute("select rolsuper from pg_roles where rolname = current_user").fetchone() == (False,)
        owners = dict(
            conn.execute(
                "select nspname, pg_get_userbyid(nspowner) from pg_namespace where nspname in "
                "('ingest', 'identity', 'dw', 'audit', 'mart', 'meta')"
            ).fetchall()
        )
        assert set(owners.values()) == {"ucj_pipeline_test"}
        assert len(owners) == 6
        # bi_reader's sessions are bounded (V020), set by the pipeline's own role.
        settings = conn.execute(
            """select unnest(setconfig) from pg_db_role_setting
               where setrole = (select oid from pg_roles where rolname = 'bi_reader')"""
        ).fetchall()
        assert ("statement_timeout=120s",) in settings
        conn.execute("set role bi_reader")
        conn.execute("select count(*) from mart.ucj_regency_month").fetchone()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select count(*) from ingest.roster_row")


def test_retokening_after_a_key_rotation_changes_every_token_and_only_them(conn) -> None:
    from ucj.identity import privacy

    for key, nik in [(1, "1310014503850001"), (2, "1310014503850002"), (3, None)]:
        conn.execute(
            """insert into identity.worker (worker_key, nik, name_key, display_name, nik_token)
               overriding system value values (%s, %s, 'x', 'X', %s)""",
            (key, nik, privacy.nik_token(nik, b"old-key-old-key-old-key-old-key!")),
        )
    new_key = b"new-key-new-key-new-key-new-key!"
    assert privacy.retoken(conn, new_key) == 2
    tokens = dict(conn.execute("select worker_key, nik_token from identity.worker").fetchall())
    assert tokens == {
        1: privacy.nik_token("1310014503850001", new_key),
        2: privacy.nik_token("1310014503850002", new_key),
        3: None,
    }
