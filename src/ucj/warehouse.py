"""The one place that knows how to reach the warehouse and shape its schema.

Resolution order for the connection, so that a production deployment can
never fall back to a toy database by accident:

1. ``AIRFLOW_CONN_WAREHOUSE`` (URI or JSON), readable with or without Airflow;
2. the Airflow connection ``warehouse`` from any secrets backend, when running
   inside a task;
3. otherwise an embedded PostgreSQL 16 (``pgserver``) in ``var/pgdata`` that
   survives restarts - unless ``UCJ_REQUIRE_WAREHOUSE=1`` (set in
   docker-compose), in which case a missing connection is an error.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg

from ucj.settings import INCLUDE_DIR, SQL_DIR, settings, var_dir

log = logging.getLogger(__name__)

CONN_ID = "warehouse"
MIGRATIONS_DIR = SQL_DIR / "migrations"
VIEWS_DIR = SQL_DIR / "views"
_MIGRATION_NAME = re.compile(r"^V(\d{3})__([a-z0-9_]+)\.sql$")
_VIEW_NAME = re.compile(r"^(\d{2})_([a-z_]+)\.([a-z0-9_]+)\.sql$")
# Arbitrary but fixed: serialises migrations across concurrent tasks.
MIGRATION_LOCK_ID = 7_281_001


class WarehouseConfigError(RuntimeError):
    """The warehouse connection is missing or malformed."""


def _uri_from_airflow_conn(value: str) -> str:
    value = value.strip()
    if value.startswith("{"):
        conn = json.loads(value)
        user = quote(conn.get("login") or "", safe="")
        password = quote(conn.get("password") or "", safe="")
        auth = f"{user}:{password}@" if user else ""
        port = f":{conn['port']}" if conn.get("port") else ""
        return f"postgresql://{auth}{conn.get('host', '')}{port}/{conn.get('schema') or conn.get('database', '')}"
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", value)


def _airflow_connection_uri() -> str | None:
    """The ``warehouse`` connection from Airflow's secrets backends, inside a task."""
    if not os.environ.get("AIRFLOW_CTX_DAG_ID"):
        return None
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = Connection.get(CONN_ID)
    except AirflowNotFoundException:
        return None
    return _uri_from_airflow_conn(conn.get_uri())


@lru_cache(maxsize=1)
def _embedded_server() -> Any:
    """The process's handle on the embedded server, started (or joined) once.

    The handle is kept for the life of the process: pgserver stops the
    server when the last process holding a handle exits.
    """
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    pgdata = var_dir() / "pgdata"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = _start_embedded(pgdata)
    _configure_embedded(server)
    log.info("using the embedded PostgreSQL in %s", pgdata)
    return server


def _embedded_uri() -> str:
    return _embedded_server().get_uri()


def _embedded_in_use(uri: str) -> bool:
    return _embedded_server.cache_info().currsize > 0 and uri == _embedded_server().get_uri()


def _restart_embedded() -> bool:
    """Start the embedded server again if it stopped under us; True when it now accepts connections.

    A stopped server (the machine's OOM killer, someone's ``pg_ctl stop``)
    would otherwise make every remaining task retry against a missing socket
    until its retries run out. The restart runs under pgserver's lock between
    processes, so that of several tasks noticing at once one starts it and the
    others find it running; a start that goes into crash recovery is waited out.
    """
    import subprocess

    from pgserver.utils import PostmasterInfo

    server = _embedded_server()
    pgdata = Path(server.pgdata)
    wait_until_ready(pgdata)
    with server._lock:
        info = PostmasterInfo.read_from_pgdata(pgdata)
        if info is not None and info.is_running() and info.status == "ready":
            if info.pid == server.get_pid():
                return False  # it runs, and it is the one we knew: the failure was something else
            server._postmaster_info = info  # another process restarted it
            return True
        log.warning("the embedded PostgreSQL in %s is not running; starting it again", pgdata)
        try:
            server.ensure_postgres_running()
        except subprocess.TimeoutExpired:
            log.warning("the embedded PostgreSQL in %s is still starting (crash recovery?); waiting", pgdata)
            wait_until_ready(pgdata)
            server.ensure_postgres_running()
    return True


def _prune_dead_handles(pgdata: Path) -> list[int]:
    """Drop processes that died without letting go of the server from its handle list.

    pgserver stops the server when the last process in ``.handle_pids.json``
    exits - cleanly. A process killed with -9 never removes itself, so the
    server would run for ever after; pruning on each start lets the next
    process's clean exit stop it again. Returns the pids removed.
    """
    import pgserver
    import psutil

    path = pgdata / ".handle_pids.json"
    with pgserver.PostgresServer._lock:
        try:
            pids = json.loads(path.read_text(encoding="utf-8") or "[]")
        except (FileNotFoundError, json.JSONDecodeError):
            return []
        dead = [pid for pid in pids if not psutil.pid_exists(pid)]
        if dead:
            path.write_text(json.dumps([pid for pid in pids if pid not in dead]), encoding="utf-8")
    if dead:
        log.info("dropped %d dead process(es) from %s: %s", len(dead), path, dead)
    return dead


# How long a start may spend in crash recovery (UCJ_EMBEDDED_START_TIMEOUT, seconds).
EMBEDDED_START_TIMEOUT = 900.0


def _start_embedded(pgdata: Path) -> Any:
    """``pgserver.get_server``, but waiting out crash recovery instead of failing after 10 s.

    pgserver gives ``pg_ctl start`` ten seconds. After an unclean stop (the
    machine rebooted mid-load) PostgreSQL first replays the WAL written since
    the last checkpoint: up to ``max_wal_size`` (4GB, warehouse.conf), which
    took 23 s on the 2-core machine. pg_ctl is then given up on while the
    server goes on recovering, and every process that starts meanwhile
    (a task, the demo) would fail on a server about to be ready.
    """
    import subprocess

    import pgserver

    pgdata = pgdata.expanduser().resolve()
    if pgdata.is_dir():
        _prune_dead_handles(pgdata)
    wait_until_ready(pgdata)  # another process started it and it is still recovering
    try:
        return pgserver.get_server(pgdata)
    except subprocess.TimeoutExpired:
        failed = pgserver.PostgresServer._instances.pop(pgdata, None)
        if failed is not None:
            import atexit

            atexit.unregister(failed._cleanup)  # it never registered this process as a user
        log.warning("the embedded PostgreSQL in %s is still starting (crash recovery?); waiting", pgdata)
        wait_until_ready(pgdata)
        return pgserver.get_server(pgdata)


def wait_until_ready(pgdata: Path, timeout: float | None = None, poll: float = 1.0) -> None:
    """Return once the server running on ``pgdata`` accepts connections, or at once if none runs.

    Reads ``postmaster.pid``, whose last line PostgreSQL sets to ``ready``
    when recovery is over (``starting`` before, ``stopping`` on the way
    down: then this waits for it to exit). Raises if it exits while
    starting (its log says why) or is still not ready after ``timeout`` s.
    """
    import time

    from pgserver.utils import PostmasterInfo

    if timeout is None:
        timeout = float(os.environ.get("UCJ_EMBEDDED_START_TIMEOUT", EMBEDDED_START_TIMEOUT))
    deadline = time.monotonic() + timeout
    seen = None  # the status last read while the server ran
    while True:
        try:
            info = PostmasterInfo.read_from_pgdata(pgdata)
            status = info.status if info is not None and info.is_running() else None
        except (AssertionError, ValueError, IndexError):  # the server is still writing the file
            status = "starting"
        if status is None:
            if seen == "starting":
                raise WarehouseConfigError(
                    f"the embedded PostgreSQL in {pgdata} stopped while starting; its log says why: {pgdata / 'log'}"
                )
            return  # nothing runs (or a stale pid file): pgserver starts it
        if status == "ready":
            return
        if time.monotonic() >= deadline:
            raise WarehouseConfigError(
                f"the embedded PostgreSQL in {pgdata} is still {status!r} after {timeout:.0f} s "
                f"(crash recovery replays the WAL since the last checkpoint); see {pgdata / 'log'}, "
                "or raise UCJ_EMBEDDED_START_TIMEOUT"
            )
        if status != seen:
            log.info("waiting for the embedded PostgreSQL in %s: %s", pgdata, status)
            seen = status
        time.sleep(poll)


SERVER_SETTINGS = INCLUDE_DIR / "postgres" / "warehouse.conf"
_SETTINGS_COPY = "ucj_warehouse.conf"  # in the data directory, included by its postgresql.conf


def _configure_embedded(server: Any) -> None:
    """Run the embedded server with ``include/postgres/warehouse.conf``, as the compose deployment does.

    PostgreSQL's defaults (128MB of shared buffers, a checkpoint every 1GB of
    WAL) are sized for a small shared machine, not a monthly bulk load. The
    file is copied into the data directory and included from its
    postgresql.conf. When the copy changes (a new data directory, or new
    settings), the server reloads; shared_buffers and wal_buffers take a
    restart, done at once when no other session is connected (a new data
    directory's first start) and otherwise left to the server's next start.
    """
    from pgserver._commands import pg_ctl  # runs pg_ctl as the server's own system user, as pgserver does

    pgdata = Path(server.pgdata)
    wanted = SERVER_SETTINGS.read_text(encoding="utf-8")
    copy = pgdata / _SETTINGS_COPY
    if copy.exists() and copy.read_text(encoding="utf-8") == wanted:
        return
    with server._lock:  # pgserver's lock between processes: no one starts or stops the server meanwhile
        copy.write_text(wanted, encoding="utf-8")
        main = pgdata / "postgresql.conf"
        include = f"include_if_exists = '{_SETTINGS_COPY}'"
        if include not in main.read_text(encoding="utf-8"):
            with main.open("a", encoding="utf-8") as fh:
                fh.write(f"\n# ucj: the warehouse's settings ({SERVER_SETTINGS.name} in the project)\n{include}\n")
        with psycopg.connect(server.get_uri(), autocommit=True) as conn:
            conn.execute("select pg_reload_conf()")
            (others,) = conn.execute(
                """select count(*) from pg_stat_activity
                   where backend_type = 'client backend' and pid <> pg_backend_pid()"""
            ).fetchone()
        if others:
            log.warning(
                "warehouse settings changed while %d other sessions use the embedded server: "
                "shared_buffers and wal_buffers apply at its next start",
                others,
            )
            return
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=server.system_user)
        server.ensure_postgres_running()
    log.info("embedded PostgreSQL restarted with %s", SERVER_SETTINGS)


def warehouse_uri() -> str:
    if value := os.environ.get("AIRFLOW_CONN_WAREHOUSE"):
        return _checked(_uri_from_airflow_conn(value))
    if uri := _airflow_connection_uri():
        return _checked(uri)
    if os.environ.get("UCJ_REQUIRE_WAREHOUSE") == "1":
        raise WarehouseConfigError(
            "no Airflow connection 'warehouse' is set and UCJ_REQUIRE_WAREHOUSE=1: "
            "set AIRFLOW_CONN_WAREHOUSE=postgresql://user:pass@host:5432/db"
        )
    return _embedded_uri()


def _checked(uri: str) -> str:
    """In production (UCJ_REQUIRE_WAREHOUSE=1), refuse guessable secrets before touching the warehouse."""
    from ucj import deployment

    if deployment.in_production():
        from ucj.identity.privacy import nik_key

        if problems := deployment.secret_problems(os.environ, uri, nik_key()):
            raise WarehouseConfigError(
                "refusing to run in production (UCJ_REQUIRE_WAREHOUSE=1) with guessable secrets: " + "; ".join(problems)
            )
    return uri


@contextmanager
def connect(autocommit: bool = False) -> Iterator[psycopg.Connection]:
    """A connection whose statements cannot outlive a killed task for long.

    statement_timeout bounds every statement; a task stopped by Airflow
    (an exception in this process) cancels its statement on the way out;
    one killed outright is noticed by the server itself
    (client_connection_check_interval), which then aborts the query.
    ``application_name`` carries the task identity so that an on-call
    engineer can find (and cancel) a query in pg_stat_activity.
    """
    cfg = settings().warehouse
    app = "ucj:" + ":".join(filter(None, (os.environ.get("AIRFLOW_CTX_DAG_ID"), os.environ.get("AIRFLOW_CTX_TASK_ID"))))
    options = (
        f"-c statement_timeout={cfg.statement_timeout_ms} -c lock_timeout={cfg.lock_timeout_ms} "
        f"-c client_connection_check_interval={cfg.client_connection_check_interval_ms}"
    )
    uri = warehouse_uri()
    try:
        conn = psycopg.connect(uri, autocommit=autocommit, options=options, application_name=app[:63])
    except psycopg.OperationalError:
        if not (_embedded_in_use(uri) and _restart_embedded()):
            raise
        conn = psycopg.connect(_embedded_uri(), autocommit=autocommit, options=options, application_name=app[:63])
    try:
        yield conn
        if not autocommit:
            conn.commit()
    except BaseException:
        # BaseException: a task killed by Airflow (SIGTERM -> exception) must
        # roll back and close, not leave a transaction holding locks.
        if not conn.closed:
            if conn.info.transaction_status == psycopg.pq.TransactionStatus.ACTIVE:
                # psycopg cancels by itself only on KeyboardInterrupt/SystemExit;
                # Airflow's SIGTERM arrives as another exception type.
                conn.cancel_safe()
            conn.rollback()
        raise
    finally:
        conn.close()


# Advisory lock ids (first key); the second key narrows to a month where it can.
IDENTITY_LOCK = 7281001
PERIOD_LOAD_LOCK = 7281002
WORKER_DIMENSION_LOCK = 7281003
ANALYZE_LOCK = 7281004
CHURN_LOCK = 7281005


def serialise(conn: psycopg.Connection, lock: int, key: int = 0) -> None:
    """Wait for a transaction-scoped advisory lock: concurrent runs queue here.

    The wait is bounded by statement_timeout, not lock_timeout: another run's
    identity resolution may rightly hold the lock for longer than a row lock
    should ever be waited for.
    """
    conn.execute("set local lock_timeout = 0")
    conn.execute("select pg_advisory_xact_lock(%s, %s)", (lock, key))
    conn.execute(f"set local lock_timeout = {int(settings().warehouse.lock_timeout_ms)}")


def sql_file(relative: str) -> str:
    return (SQL_DIR / relative).read_text(encoding="utf-8")


def run_sql_file(
    conn: psycopg.Connection, relative: str, params: dict[str, object], identifiers: dict[str, str] | None = None
) -> int:
    """Run a multi-statement SQL file from include/sql; return the last statement's rowcount.

    Client-side binding, because server-side prepared statements take one
    command only; the values are still escaped by psycopg, never formatted in.
    ``identifiers`` fill ``{name}`` placeholders with quoted table names
    (``"dw.x"`` becomes ``"dw"."x"``).
    """
    from psycopg import sql

    text = sql_file(relative)
    query: str | sql.Composed = text
    if identifiers:
        query = sql.SQL(text).format(**{k: sql.Identifier(*v.split(".")) for k, v in identifiers.items()})
    with psycopg.ClientCursor(conn) as cur:
        cur.execute(query, params)
        while cur.nextset():
            pass
        return cur.rowcount


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def migrations() -> list[Migration]:
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        m = _MIGRATION_NAME.match(path.name)
        if not m:
            raise WarehouseConfigError(f"migration file name {path.name!r} is not V###__name.sql")
        found.append(Migration(int(m[1]), m[2], path))
    return found


@dataclass(frozen=True)
class ViewDefinition:
    """One file of ``include/sql/views``: ``NN_schema.view.sql``, applied in ``NN`` order.

    The number orders views that read other views (a view is created after
    those it reads and dropped before them).
    """

    order: int
    name: str  # schema-qualified
    path: Path

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def view_definitions() -> list[ViewDefinition]:
    found = []
    for path in sorted(VIEWS_DIR.glob("*.sql")):
        match = _VIEW_NAME.match(path.name)
        if not match:
            raise WarehouseConfigError(f"view file {path.name} is not named NN_schema.view_name.sql")
        found.append(ViewDefinition(int(match.group(1)), f"{match.group(2)}.{match.group(3)}", path))
    names = [v.name for v in found]
    if len(set(names)) != len(names):
        raise WarehouseConfigError(f"a view is defined in two files under {VIEWS_DIR}: {sorted(names)}")
    return sorted(found, key=lambda v: (v.order, v.name))


def apply_views(conn: psycopg.Connection) -> bool:
    """Re-create every view when any view file changed since it was last applied; True if it did.

    All views are dropped (readers of other views first) and created again
    from their files in one transaction, so a BI query sees either the old
    set or the new one, and a view's current definition is always the one
    file that holds it. ``create or replace`` is not enough: it cannot drop
    or rename a column. A view the project does not define but that reads
    one of these (a BI user's own) stops the change with its name rather
    than being dropped along.
    """
    wanted = view_definitions()
    recorded = dict(conn.execute("select view_name, checksum from meta.view_definition").fetchall())
    if recorded == {v.name: v.checksum for v in wanted}:
        return False
    gone = sorted(set(recorded) - {v.name for v in wanted})
    with conn.transaction():
        for name in [*gone, *(v.name for v in reversed(wanted))]:
            try:
                with conn.transaction():
                    conn.execute(f"drop view if exists {name}")
            except psycopg.errors.DependentObjectsStillExist as error:
                raise WarehouseConfigError(
                    f"cannot re-create view {name}: {error.diag.message_detail or error}. "
                    f"Drop the dependent object, or define it under {VIEWS_DIR}"
                ) from error
        for view in wanted:
            conn.execute(view.path.read_text(encoding="utf-8"))
        _grant_mart_readers(conn)
        conn.execute("delete from meta.view_definition")
        with conn.cursor() as cur:
            cur.executemany(
                "insert into meta.view_definition (view_name, file_name, checksum) values (%s, %s, %s)",
                [(v.name, v.path.name, v.checksum) for v in wanted],
            )
    log.info("re-created %d views from %s", len(wanted), VIEWS_DIR)
    return True


def _grant_mart_readers(conn: psycopg.Connection) -> None:
    """Every role that read the views before they were re-created reads them again.

    bi_reader and the regency readers (V023) read the mart views; caseworker
    and the regency caseworkers (V026) the follow-up lists. Granted
    explicitly, also where default privileges belong to another role.
    """
    scoped = conn.execute("select to_regclass('access.regency_scope')").fetchone()[0] is not None

    def roles(everyone: str, scope: str) -> list[str]:
        found = [r for (r,) in conn.execute("select rolname from pg_roles where rolname = %s", (everyone,))]
        if scoped:
            found += [
                r
                for (r,) in conn.execute(
                    """select distinct s.role_name from access.regency_scope as s
                       join pg_roles as g on g.rolname = s.role_name where s.scope = %s order by 1""",
                    (scope,),
                )
            ]
        return found

    identifier = psycopg.sql.Identifier
    for role in roles("bi_reader", "reader"):
        conn.execute(psycopg.sql.SQL("grant select on all tables in schema mart to {}").format(identifier(role)))
    if conn.execute("select to_regnamespace('followup')").fetchone()[0] is not None:
        for role in roles("caseworker", "caseworker"):
            conn.execute(psycopg.sql.SQL("grant usage on schema followup to {}").format(identifier(role)))
            # The list only: followup.lapse itself is not filtered by regency.
            conn.execute(psycopg.sql.SQL("grant select on followup.lapsed_worker to {}").format(identifier(role)))


def migrate() -> list[int]:
    """Apply pending migrations, each in its own transaction, then the view files; return the versions applied.

    An advisory lock makes concurrent callers (three ingest DAGs starting at
    once) wait for each other instead of racing. A migration that was edited
    after being applied is an error: migrations are append-only. Views are
    the opposite: their files are edited in place and re-applied
    (``apply_views``).
    """
    applied_now: list[int] = []
    with connect(autocommit=True) as conn:
        conn.execute("select pg_advisory_lock(%s)", (MIGRATION_LOCK_ID,))
        try:
            conn.execute("create schema if not exists meta")
            conn.execute(
                """create table if not exists meta.schema_migrations (
                       version integer primary key, name text not null, checksum text not null,
                       applied_at timestamptz not null default now())"""
            )
            done = dict(conn.execute("select version, checksum from meta.schema_migrations").fetchall())
            for mig in migrations():
                if mig.version in done:
                    if done[mig.version] != mig.checksum:
                        raise WarehouseConfigError(
                            f"migration V{mig.version:03d} ({mig.name}) changed after it was applied; "
                            "add a new migration instead of editing an old one"
                        )
                    continue
                with conn.transaction():
                    conn.execute(mig.path.read_text(encoding="utf-8"))
                    conn.execute(
                        "insert into meta.schema_migrations (version, name, checksum) values (%s, %s, %s)",
                        (mig.version, mig.name, mig.checksum),
                    )
                applied_now.append(mig.version)
                log.info("applied migration V%03d %s", mig.version, mig.name)
            apply_views(conn)
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (MIGRATION_LOCK_ID,))
    return applied_now


# Changed rows that make a table's statistics stale whatever its size: a month of rows a statement
# filters on is that many rows the planner does not know of, in a year-long table as in a new one.
STALE_ROWS = 50_000


def analyze_if_stale(conn: psycopg.Connection, *tables: str, share: float = 0.1) -> list[str]:
    """ANALYZE those of ``tables`` whose statistics miss more than ``share`` of their rows' changes, or
    more than ``STALE_ROWS`` of them.

    Right after a bulk COPY the planner still believes a table is tiny and
    picks nested loops over a million rows, so the statistics must be fresh
    before the statement that needs them; yet analysing the whole roster
    table in each of a month's three settle tasks, just after another kind's
    task did, repeats the same sample of every month's rows. The test is
    autovacuum's own (changes since the last ANALYZE against live rows); a
    table never analysed (or whose counters a server crash reset) is always
    analysed. Concurrent callers take turns, so that two tasks finding the
    same table stale analyse it once: the caller commits right after, which
    shows the next one the new statistics and lets it in. The share alone
    was not enough: a year of a million rows a month, and the eleventh
    month's rows were under a tenth of the table, so settling them ran on
    statistics that had never seen them (bench-history: 490 s, against 1-2 s
    in the other months). A partitioned
    table's own counters never move (its partitions' do): each of its
    partitions is judged on its own, and the table as a whole only when it
    was never analysed.
    """
    serialise(conn, ANALYZE_LOCK)
    found = conn.execute(
        """with named as (select t.name, t.name::regclass as relid from unnest(%s::text[]) as t (name))
           select t.name, t.parent
           from (select name, relid, null as parent from named
                 union all
                 select format('%%I.%%I', ns.nspname, c.relname), p.relid, n.name
                 from named as n, pg_partition_tree(n.relid) as p
                 join pg_class as c on c.oid = p.relid
                 join pg_namespace as ns on ns.oid = c.relnamespace
                 where p.isleaf and p.relid <> n.relid) as t
           left join pg_stat_user_tables as s on s.relid = t.relid
           where s.relid is null
              or coalesce(s.last_analyze, s.last_autoanalyze) is null
              or s.n_mod_since_analyze > least(%s * greatest(s.n_live_tup, 1000), %s)""",
        (list(tables), share, STALE_ROWS),
    ).fetchall()
    # ANALYZE of a partitioned table covers its partitions too.
    whole = {name for name, parent in found if parent is None}
    stale = [name for name, parent in found if parent not in whole]
    if stale:
        conn.execute("analyze " + ", ".join(stale))
    return stale
