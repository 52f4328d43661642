"""``make test-celery``: the pipeline under CeleryExecutor, on this machine.

Starts a real PostgreSQL server (Debian's, installed with apt when missing)
holding three databases (Airflow metadata, the warehouse, and a reference
warehouse), a real Redis broker, and Airflow 3's api-server, scheduler,
dag-processor and two Celery workers. It triggers the ingest DAGs month by
month exactly as production does (consolidation follows on their Assets),
then runs the same months single-process (``ucj.runner``, ``dag.test``) into
the reference warehouse and checks that the marts are identical and that both
workers did work.

    python tests/integration/celery_stack.py [--keep]

Everything lives in a temporary directory and is stopped at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PERIODS = ["2025-01", "2025-02", "2025-03"]
KINDS = ["opd", "village", "employer"]
MARTS = {
    "ucj_regency_month": "select * from mart.ucj_regency_month",
    "coverage_program_month": "select * from mart.coverage_program_month",
    "units_not_reported": "select * from mart.units_not_reported",
    "ucj_regency_year_change": "select * from mart.ucj_regency_year_change",
    "row_states": "select source_kind, source_file, source_row, period_month, status, reason "
    "from mart.roster_row_status",
}


def log(message: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_system_packages() -> tuple[Path, str]:
    """PostgreSQL binaries and redis-server, installed with apt when missing (needs root)."""
    pg_bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    redis = shutil.which("redis-server")
    if not pg_bins or not redis:
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            raise SystemExit("needs PostgreSQL and redis-server: apt-get install postgresql redis-server")
        log("installing postgresql and redis-server with apt")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        packages = ["postgresql", "redis-server"]
        if subprocess.run(["apt-get", "install", "-y", "-q", *packages], env=env).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, check=True)
            subprocess.run(["apt-get", "install", "-y", "-q", *packages], env=env, check=True)
        pg_bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        redis = shutil.which("redis-server")
    return pg_bins[-1].parent, str(redis)


class Stack:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.procs: dict[str, subprocess.Popen] = {}
        self.pg_bin, self.redis_bin = ensure_system_packages()
        self.pg_port, self.redis_port, self.api_port = free_port(), free_port(), free_port()
        self.pg_data = work / "pgdata"
        # PostgreSQL refuses to run as root: use the postgres account then.
        self.as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def pg_url(self, db: str, driver: str = "postgresql") -> str:
        return f"{driver}://postgres@127.0.0.1:{self.pg_port}/{db}"

    def start_postgres(self) -> None:
        self.pg_data.mkdir()
        if self.as_pg:
            shutil.chown(self.pg_data, "postgres")
            os.chmod(self.work, 0o755)  # noqa: S103 - the postgres account must reach its data dir
        subprocess.run(
            [*self.as_pg, str(self.pg_bin / "initdb"), "-D", str(self.pg_data), "-U", "postgres",
             "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        subprocess.run(
            [*self.as_pg, str(self.pg_bin / "pg_ctl"), "-D", str(self.pg_data), "-w", "-l",
             str(self.pg_data / "server.log"), "-o",
             f"-p {self.pg_port} -k {self.pg_data} -c listen_addresses=127.0.0.1 -c max_connections=200", "start"],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        import psycopg

        with psycopg.connect(self.pg_url("postgres"), autocommit=True) as conn:
            for db in ("airflow", "warehouse", "reference"):
                conn.execute(f"create database {db}")
        log(f"PostgreSQL {self.pg_bin.parent.name} on port {self.pg_port}")

    def stop_postgres(self) -> None:
        if self.pg_data.exists():
            subprocess.run(
                [*self.as_pg, str(self.pg_bin / "pg_ctl"), "-D", str(self.pg_data), "-m", "fast", "stop"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip

    def airflow_env(self, landing: Path) -> dict[str, str]:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT / "plugins"),
            "AIRFLOW_HOME": str(self.work / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            # Only the DAGs under test are unpaused: the daily deadline check
            # would rightly fail on a sample where most villages never report.
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.api_port}/execution/",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.pg_url("airflow", "postgresql+psycopg"),
            # psycopg 3 is async too: no asyncpg needed.
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": self.pg_url("airflow", "postgresql+psycopg"),
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "AIRFLOW__CELERY__RESULT_BACKEND": self.pg_url("airflow", "db+postgresql+psycopg"),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW_CONN_WAREHOUSE": self.pg_url("warehouse"),
            "AIRFLOW_VAR_LANDING_ROOT": str(landing),
            "UCJ_REQUIRE_WAREHOUSE": "1",
            "UCJ_VAR_DIR": str(self.work / "var"),
        }
        env.pop("CI", None)
        return env

    def spawn(self, name: str, command: list[str], env: dict[str, str]) -> None:
        out = open(self.work / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the process
        self.procs[name] = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)  # fmt: skip

    def start_redis(self) -> None:
        self.spawn("redis", [self.redis_bin, "--port", str(self.redis_port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no"], dict(os.environ))  # fmt: skip
        log(f"Redis on port {self.redis_port}")

    def start_airflow(self, env: dict[str, str]) -> None:
        airflow = [sys.executable, "-m", "airflow"]
        subprocess.run([*airflow, "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
        self.spawn("api-server", [*airflow, "api-server", "--port", str(self.api_port), "--workers", "1"], env)
        self.spawn("scheduler", [*airflow, "scheduler"], env)
        self.spawn("dag-processor", [*airflow, "dag-processor"], env)
        for n in (1, 2):
            self.spawn(f"worker{n}", [*airflow, "celery", "worker", "--celery-hostname", f"worker{n}@%h",
                                      "--concurrency", "2"], env)  # fmt: skip
        log("Airflow api-server, scheduler, dag-processor and 2 Celery workers started")

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                tail = (self.work / f"{name}.log").read_text(errors="replace")[-3000:]
                raise SystemExit(f"{name} exited with {proc.returncode}:\n{tail}")

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        self.stop_postgres()


def wait_for(what: str, check, stack: Stack, timeout: float = 600, every: float = 2) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        stack.check_alive()
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(every)


def run_on_celery(stack: Stack, env: dict[str, str]) -> None:
    # Airflow reads its configuration at import: only now, with the env set.
    os.environ.update(env)
    from airflow.models import DagModel, DagRun
    from airflow.models.asset import AssetDagRunQueue
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    dag_ids = [f"ucj_ingest_{k}" for k in KINDS] + ["ucj_consolidate"]

    def parsed() -> bool:
        with create_session() as s:
            return s.scalar(select(func.count()).where(DagModel.dag_id.in_(dag_ids))) == len(dag_ids)

    wait_for("the DAGs to be parsed", parsed, stack)
    with create_session() as s:
        s.execute(DagModel.__table__.update().where(DagModel.dag_id.in_(dag_ids)).values(is_paused=False))

    def settled() -> bool:
        with create_session() as s:
            busy = s.scalar(
                select(func.count())
                .select_from(DagRun)
                .where(DagRun.dag_id.in_(dag_ids), DagRun.state.in_(["queued", "running"]))
            )
            queued = s.scalar(select(func.count()).select_from(AssetDagRunQueue))
        return busy == 0 and queued == 0

    for period in PERIODS:
        started = time.monotonic()
        first = dt.date.fromisoformat(period + "-01")
        logical = dt.datetime(first.year + first.month // 12, first.month % 12 + 1, 1, tzinfo=dt.UTC)
        for kind in KINDS:
            subprocess.run(
                [sys.executable, "-m", "airflow", "dags", "trigger", f"ucj_ingest_{kind}",
                 "--logical-date", logical.isoformat(), "--conf", json.dumps({"period": period})],
                env=env, check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip
        # Ingest runs, then the consolidation their Asset events start.
        time.sleep(5)
        wait_for(f"{period} to finish", settled, stack, every=3)
        time.sleep(5)  # the scheduler turns the last Asset events into a run
        wait_for(f"{period} consolidation", settled, stack, every=3)
        log(f"{period}: ingest and consolidation finished on Celery in {time.monotonic() - started:.0f} s")

    with create_session() as s:
        states = s.execute(
            select(DagRun.dag_id, DagRun.state, func.count())
            .where(DagRun.dag_id.in_(dag_ids))
            .group_by(DagRun.dag_id, DagRun.state)
        ).all()
    log(f"DAG runs: {states}")
    failed = [row for row in states if row[1] != "success"]
    if failed:
        raise SystemExit(f"DAG runs did not all succeed: {failed}")


def run_reference(stack: Stack, landing: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "plugins"),
        "AIRFLOW_HOME": str(stack.work / "reference-airflow"),
        "AIRFLOW_CONN_WAREHOUSE": stack.pg_url("reference"),
        "UCJ_VAR_DIR": str(stack.work / "reference-var"),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{stack.work / 'reference-airflow.db'}",
    }
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "ucj.runner", "--landing-root", str(landing), "--periods",
         f"{PERIODS[0]}:{PERIODS[-1]}", "--log-file", str(stack.work / "reference.log")],
        env=env, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    log(f"reference: the same months single-process (dag.test) in {time.monotonic() - started:.0f} s")


def checksums(url: str) -> dict[str, str]:
    import psycopg

    with psycopg.connect(url) as conn:
        return {
            name: conn.execute(
                f"select count(*) || ':' || md5(coalesce(string_agg(t::text, '|' order by t::text), '')) from ({q}) t"
            ).fetchone()[0]
            for name, q in MARTS.items()
        }


def tasks_per_worker(stack: Stack) -> dict[str, int]:
    counts = {}
    for n in (1, 2):
        text = (stack.work / f"worker{n}.log").read_text(errors="replace")
        counts[f"worker{n}"] = sum(1 for line in text.splitlines() if "execute_workload" in line and "received" in line)
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs) afterwards")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ucj-celery-"))
    stack = Stack(work)
    log(f"work directory {work}")
    try:
        landing = work / "landing"
        subprocess.run([sys.executable, "-m", "ucj.sample", str(landing)], check=True, stdout=subprocess.DEVNULL,
                       env={**os.environ, "PYTHONPATH": str(ROOT / "plugins")})  # fmt: skip
        stack.start_postgres()
        stack.start_redis()
        env = stack.airflow_env(landing)
        stack.start_airflow(env)
        run_on_celery(stack, env)
        run_reference(stack, landing)
        celery, reference = checksums(stack.pg_url("warehouse")), checksums(stack.pg_url("reference"))
        per_worker = tasks_per_worker(stack)
        log(f"task instances per Celery worker: {per_worker}")
        for name in MARTS:
            log(f"{name:<24} celery {celery[name]}  single-process {reference[name]}")
        if celery != reference:
            raise SystemExit("the marts differ between CeleryExecutor and the single-process run")
        if min(per_worker.values()) == 0:
            raise SystemExit(f"one Celery worker ran nothing: {per_worker}")
        log("OK: CeleryExecutor with 2 workers gives the same marts as the single-process run")
        return 0
    finally:
        stack.stop()
        if args.keep:
            log(f"logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
