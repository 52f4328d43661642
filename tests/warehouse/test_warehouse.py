"""Warehouse: migrations, privacy of the bi_reader role, loading that survives reruns."""

from __future__ import annotations

import os

import psycopg
import pytest

from ucj import warehouse as wh


def test_migrations_are_idempotent(warehouse: str) -> None:
    assert wh.migrate() == []
    with psycopg.connect(warehouse) as conn:
        versions = [v for (v,) in conn.execute("select version from meta.schema_migrations order by 1")]
    assert versions == [m.version for m in wh.migrations()]


def server_settings() -> dict[str, str]:
    """``name = value`` lines of include/postgres/warehouse.conf."""
    lines = wh.SERVER_SETTINGS.read_text(encoding="utf-8").splitlines()
    pairs = [line.split("#")[0].split("=") for line in lines if "=" in line.split("#")[0]]
    return {name.strip(): value.strip() for name, value in pairs}


@pytest.mark.skipif(bool(os.environ.get("AIRFLOW_CONN_WAREHOUSE")), reason="a server of the deployment's own")
def test_the_embedded_server_runs_with_the_warehouse_settings(warehouse: str) -> None:
    """Including shared_buffers, which only a start applies: the new server was restarted once."""
    wanted = server_settings()
    assert {"shared_buffers", "wal_buffers", "max_wal_size"} <= set(wanted)
    with psycopg.connect(warehouse) as conn:
        running = {name: conn.execute(f"show {name}").fetchone()[0] for name in wanted}
    assert running == wanted


def test_the_compose_warehouse_includes_the_same_settings() -> None:
    import yaml

    from ucj.settings import PROJECT_ROOT

    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yaml").read_text(encoding="utf-8"))
    mounts = {m.split(":")[0]: m.split(":")[1] for m in compose["services"]["warehouse"]["volumes"]}
    target = mounts["./include/postgres/warehouse.conf"]
    init = (PROJECT_ROOT / "deploy" / "warehouse-init.sh").read_text(encoding="utf-8")
    assert f"include_if_exists = '{target}'" in init


def test_an_edited_migration_is_refused(warehouse: str) -> None:
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute("update meta.schema_migrations set checksum = 'edited' where version = 1")
        try:
            with pytest.raises(wh.WarehouseConfigError, match="changed after it was applied"):
                wh.migrate()
        finally:
            conn.execute(
                "update meta.schema_migrations set checksum = %s where version = 1",
                (wh.migrations()[0].checksum,),
            )


def test_mart_views_and_columns_are_documented(warehouse: str) -> None:
    with psycopg.connect(warehouse) as conn:
        undocumented = conn.execute(
            """select c.table_name || '.' || c.column_name
               from information_schema.columns as c
               join pg_class as t on t.relname = c.table_name
               join pg_namespace as n on n.oid = t.relnamespace and n.nspname = c.table_schema
               where c.table_schema = 'mart' and col_description(t.oid, c.ordinal_position) is null"""
        ).fetchall()
        views = conn.execute(
            """select c.relname, obj_description(c.oid) from pg_class as c
               join pg_namespace as n on n.oid = c.relnamespace where n.nspname = 'mart'"""
        ).fetchall()
    assert undocumented == []
    assert {v for v, _ in views} >= {"ucj_regency_month", "coverage_program_month", "roster_row_status"}
    assert all(doc for _, doc in views)


@pytest.fixture
def bi_reader(warehouse: str):
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute("set role bi_reader")
        yield conn


@pytest.mark.parametrize(
    "view",
    [
        "ucj_regency_month",
        "coverage_program_month",
        "roster_row_status",
        "units_not_reported",
        "ucj_regency_year_change",
        "worker",
    ],
)
def test_bi_reader_reads_the_marts(bi_reader: psycopg.Connection, view: str) -> None:
    bi_reader.execute(f"select * from mart.{view} limit 1").fetchall()


@pytest.mark.parametrize(
    "table",
    [
        "ingest.roster_row",
        "ingest.source_file",
        "identity.worker",
        "identity.worker_month",
        "dw.fact_coverage",
        "dw.dim_worker",
        "audit.validation_run",
        "meta.stage_fingerprint",
    ],
)
def test_bi_reader_cannot_read_anything_else(bi_reader: psycopg.Connection, table: str) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        bi_reader.execute(f"select * from {table} limit 1")


def test_no_mart_column_carries_a_raw_identifier(warehouse: str) -> None:
    with psycopg.connect(warehouse) as conn:
        columns = conn.execute(
            "select table_name || '.' || column_name from information_schema.columns where table_schema = 'mart'"
        ).fetchall()
    raw = {"nik", "full_name", "display_name", "name_key", "birth_date", "birth_place", "original"}
    assert [c for (c,) in columns if c.split(".")[1] in raw] == []


ROW_ESTIMATE = "select reltuples from pg_class where oid = 'public.stale_probe'::regclass"


def test_a_table_is_analysed_only_when_its_statistics_are_stale(warehouse: str) -> None:
    from ucj.warehouse import analyze_if_stale, connect

    with connect() as conn:
        conn.execute("drop table if exists public.stale_probe")
        conn.execute("create table public.stale_probe as select g as n from generate_series(1, 5000) as g")
    try:
        with connect() as conn:
            assert analyze_if_stale(conn, "public.stale_probe") == ["public.stale_probe"]  # never analysed
            (tuples,) = conn.execute(ROW_ESTIMATE).fetchone()
            assert tuples == 5000
        with connect() as conn:
            conn.execute("insert into public.stale_probe select g from generate_series(1, 100) as g")
        with connect() as conn:
            assert analyze_if_stale(conn, "public.stale_probe") == []  # 100 changes on 5,000 rows: still good
            conn.execute("insert into public.stale_probe select g from generate_series(1, 20000) as g")
            _publish_counters(conn)
        with connect() as conn:
            assert analyze_if_stale(conn, "public.stale_probe") == ["public.stale_probe"]
            (tuples,) = conn.execute(ROW_ESTIMATE).fetchone()
            assert tuples == 25100
        # A big table: changes under a tenth of it, yet more rows than the planner may ignore.
        with connect() as conn:
            conn.execute("insert into public.stale_probe select g from generate_series(1, 600000) as g")
            _publish_counters(conn)
        with connect() as conn:
            assert analyze_if_stale(conn, "public.stale_probe") == ["public.stale_probe"]
            conn.execute("insert into public.stale_probe select g from generate_series(1, 60000) as g")
            _publish_counters(conn)
        with connect() as conn:
            assert analyze_if_stale(conn, "public.stale_probe") == ["public.stale_probe"]  # 60,000 of 685,100
            (tuples,) = conn.execute(ROW_ESTIMATE).fetchone()
            assert tuples == 685100
    finally:
        with connect() as conn:
            conn.execute("drop table public.stale_probe")


def _publish_counters(conn) -> None:
    """Commit, and make this session's table counters visible to the next connection now.

    A backend publishes them at most once a second, or as it exits - after the
    client has gone on, so under load the next connection could miss the insert.
    """
    conn.commit()
    conn.execute("select pg_stat_force_next_flush()")
    conn.execute("select 1")  # the session goes idle: the counters are flushed


def test_a_partitioned_table_is_judged_partition_by_partition(warehouse: str) -> None:
    """Its own counters never move: a month's changed partition is analysed, not the whole table."""
    from ucj.warehouse import analyze_if_stale, connect

    with connect() as conn:
        conn.execute("drop table if exists public.stale_months")
        conn.execute("create table public.stale_months (m date not null, n int) partition by range (m)")
        for month, following in (("2025-01-01", "2025-02-01"), ("2025-02-01", "2025-03-01")):
            name = f"public.stale_months_{month[:7].replace('-', '')}"
            conn.execute(
                f"create table {name} partition of public.stale_months for values from ('{month}') to ('{following}')"
            )
            conn.execute(f"insert into {name} select '{month}', g from generate_series(1, 5000) as g")
    try:
        with connect() as conn:
            assert analyze_if_stale(conn, "public.stale_months") == ["public.stale_months"]  # never analysed: whole
        with connect() as conn:
            assert analyze_if_stale(conn, "public.stale_months") == []
            conn.execute("insert into public.stale_months select '2025-02-01', g from generate_series(1, 20000) as g")
            _publish_counters(conn)
        with connect() as conn:
            assert analyze_if_stale(conn, "public.stale_months") == ["public.stale_months_202502"]
            (tuples,) = conn.execute(
                "select reltuples from pg_class where oid = 'public.stale_months_202502'::regclass"
            ).fetchone()
            assert tuples == 25000
    finally:
        with connect() as conn:
            conn.execute("drop table public.stale_months")


def test_two_tasks_finding_the_same_table_stale_analyse_it_once(warehouse: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from ucj.warehouse import analyze_if_stale, connect

    with connect() as conn:
        conn.execute("drop table if exists public.stale_probe")
        conn.execute("create table public.stale_probe as select g as n from generate_series(1, 5000) as g")
    try:
        with connect() as first, connect() as second, ThreadPoolExecutor(max_workers=1) as pool:
            assert analyze_if_stale(first, "public.stale_probe") == ["public.stale_probe"]
            waiting = pool.submit(analyze_if_stale, second, "public.stale_probe")
            with pytest.raises(TimeoutError):
                waiting.result(timeout=1)  # its turn comes when the first commits
            first.commit()
            assert waiting.result(timeout=30) == []
    finally:
        with connect() as conn:
            conn.execute("drop table public.stale_probe")


def _postmaster_pid(pgdata, pid: int, status: str) -> None:
    """The eight lines PostgreSQL keeps in postmaster.pid, as a recovering server writes them."""
    lines = [str(pid), str(pgdata), "1764000000", "5432", str(pgdata), "", "0 0", status]
    (pgdata / "postmaster.pid").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_a_start_waits_out_crash_recovery(tmp_path) -> None:
    """pgserver gives pg_ctl 10 s; recovering a 4GB WAL takes longer, and the server goes on meanwhile."""
    import subprocess
    import threading
    import time

    postmaster = subprocess.Popen(["sleep", "30"])  # a live process standing for the recovering postmaster
    try:
        _postmaster_pid(tmp_path, postmaster.pid, "starting")
        ready = threading.Timer(0.6, _postmaster_pid, (tmp_path, postmaster.pid, "ready"))
        ready.start()
        start = time.monotonic()
        wh.wait_until_ready(tmp_path, timeout=10, poll=0.05)
        assert time.monotonic() - start >= 0.5  # it waited for "ready", not for the process

        # Half written: PostgreSQL adds the listen and status lines as it gets to them.
        (tmp_path / "postmaster.pid").write_text(f"{postmaster.pid}\n{tmp_path}\n1764000000\n", encoding="utf-8")
        threading.Timer(0.3, _postmaster_pid, (tmp_path, postmaster.pid, "ready")).start()
        wh.wait_until_ready(tmp_path, timeout=10, poll=0.05)

        _postmaster_pid(tmp_path, postmaster.pid, "starting")
        with pytest.raises(wh.WarehouseConfigError, match="UCJ_EMBEDDED_START_TIMEOUT"):
            wh.wait_until_ready(tmp_path, timeout=0.2, poll=0.05)

        # Recovery failed: the server exits (and is reaped, as init reaps a real postmaster).
        threading.Timer(0.3, lambda: (postmaster.kill(), postmaster.wait())).start()
        with pytest.raises(wh.WarehouseConfigError, match="stopped while starting"):
            wh.wait_until_ready(tmp_path, timeout=10, poll=0.05)
    finally:
        postmaster.kill()
        postmaster.wait()


def test_no_server_or_a_stale_pid_file_is_left_to_pgserver(tmp_path) -> None:
    import subprocess

    wh.wait_until_ready(tmp_path, timeout=0)  # no postmaster.pid: nothing to wait for
    gone = subprocess.Popen(["true"])
    gone.wait()
    _postmaster_pid(tmp_path, gone.pid, "starting")  # left by a server that was killed
    wh.wait_until_ready(tmp_path, timeout=0)
