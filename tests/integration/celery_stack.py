"""``make test-celery``: the pipeline as production runs it, on this machine, with nobody triggering anything.

Starts a real PostgreSQL server (Debian's, installed with apt when missing)
holding three databases (Airflow metadata, the warehouse, and a reference
warehouse), a real Redis broker, and Airflow 3's api-server, scheduler,
dag-processor and two Celery workers, with every DAG unpaused. Then, through
the scheduler path only:

1. **Arrivals**: the sample months' rosters are copied into an empty landing
   zone month by month (the first in two parts, a sweep apart); the
   ``ucj_arrivals`` sweep starts the ingest runs, their Asset events start
   the consolidations, and the marts must equal a single-process run
   (``ucj_dev.runner``, ``dag.test``) of the same files, with both Celery workers
   having done work. A sweep with nothing new must start nothing and emit
   no Asset event.
2. **Reports need a login**: ``/ucj-reports/`` answers 401 without a token
   and serves the page to a logged-in user.
3. **Write-audit-publish**: a truncated OPD month (each roster replaced by a
   one-row "revision") fails validation and is held: the marts do not move,
   a ``ucj_publication_approval`` run waits in Required Actions, a steward
   approves it through the HITL REST API, and the marts follow, with the
   steward's name in ``mart.roster_row_status.published_by``.
4. **Identity review**: the review queue's first page waits in Required
   Actions; a reviewer accepts a pair through the HITL REST API and the next
   consolidation counts the two workers as one.

    python tests/integration/celery_stack.py [--keep]

Everything lives in a temporary directory and is stopped at the end.
"""

from __future__ import annotations

import argparse
import base64
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
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PERIODS = ["2025-01", "2025-02", "2025-03"]
# The deployment's own settings (UCJ_PIPELINE_YAML): sweep every few seconds
# instead of hourly, and keep the sample's months (2025) open.
OVERRIDE = """
arrival:
  schedule: 10
  stable_seconds: 3
  late_days_after_deadline: 3650
"""
USERS = {"admin": "admin", "steward": "admin", "reviewer": "admin"}
ALWAYS_ON = ["ucj_arrivals", "ucj_publication_approval", "ucj_identity_review"]
KINDS = ["opd", "village", "employer"]
MARTS = {
    # When a figure was first published and whether it was revised are history: the two runs publish at other times.
    "ucj_regency_month": "select to_jsonb(m) - array['first_published_at', 'revised'] from mart.ucj_regency_month as m",
    "coverage_churn_month": "select * from mart.coverage_churn_month",
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
        self.warehouse_password = secrets.token_hex(12)
        self.override = work / "pipeline.yaml"
        self.override.write_text(OVERRIDE, encoding="utf-8")
        # PostgreSQL refuses to run as root: use the postgres account then.
        self.as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def pg_url(self, db: str, driver: str = "postgresql") -> str:
        return f"{driver}://postgres@127.0.0.1:{self.pg_port}/{db}"

    def warehouse_url(self, db: str) -> str:
        """As the pipeline is given it: with a password (the server trusts local connections and ignores it)."""
        return f"postgresql://postgres:{self.warehouse_password}@127.0.0.1:{self.pg_port}/{db}"

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
            # A production deployment refuses guessable secrets (ucj.deployment): give it real ones.
            # (The server trusts local connections; the password is what the pipeline checks.)
            "AIRFLOW_CONN_WAREHOUSE": self.pg_url("warehouse").replace(
                "postgres@", f"postgres:{secrets.token_hex(12)}@"
            ),
            "AIRFLOW__CORE__FERNET_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "UCJ_NIK_HMAC_KEY": secrets.token_urlsafe(32),
            "AIRFLOW_VAR_LANDING_ROOT": str(landing),
            "UCJ_REQUIRE_WAREHOUSE": "1",
            "UCJ_VAR_DIR": str(self.work / "var"),
            "UCJ_PIPELINE_YAML": str(self.override),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, r in USERS.items()),
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


class Airflow:
    """The metadata database and the REST API of the running stack, as on-call and stewards see them."""

    def __init__(self, stack: Stack, env: dict[str, str]) -> None:
        # Airflow reads its configuration at import: only now, with the env set.
        os.environ.update(env)
        self.stack = stack
        self.api = f"http://127.0.0.1:{stack.api_port}"
        self.pipeline = [f"ucj_ingest_{k}" for k in KINDS] + ["ucj_consolidate"]

    def session(self):
        from airflow.utils.session import create_session

        return create_session()

    def wait_parsed(self) -> None:
        from airflow.models import DagModel
        from sqlalchemy import func, select

        dag_ids = self.pipeline + ALWAYS_ON

        def parsed() -> bool:
            with self.session() as s:
                return s.scalar(select(func.count()).where(DagModel.dag_id.in_(dag_ids))) == len(dag_ids)

        wait_for("the DAGs to be parsed", parsed, self.stack)
        with self.session() as s:
            s.execute(DagModel.__table__.update().where(DagModel.dag_id.in_(dag_ids)).values(is_paused=False))
        log("every DAG unpaused; from here on nobody triggers anything")

    def counts(self) -> dict[str, int]:
        from airflow.models import DagRun
        from airflow.models.asset import AssetEvent
        from sqlalchemy import func, select

        with self.session() as s:
            runs = dict(s.execute(select(DagRun.dag_id, func.count()).group_by(DagRun.dag_id)).all())
            events = s.scalar(select(func.count()).select_from(AssetEvent))
        return {**runs, "asset_events": events}

    def manual_runs(self) -> int:
        from airflow.models import DagRun
        from sqlalchemy import func, select

        with self.session() as s:
            return s.scalar(select(func.count()).select_from(DagRun).where(DagRun.run_type == "manual"))

    def sweeps_done_since(self, since: dt.datetime) -> int:
        from airflow.models import DagRun
        from sqlalchemy import func, select

        with self.session() as s:
            return s.scalar(
                select(func.count())
                .select_from(DagRun)
                .where(DagRun.dag_id == "ucj_arrivals", DagRun.start_date > since, DagRun.state == "success")
            )

    def busy(self) -> bool:
        """Work in progress: ingest or consolidation queued or running, a task of the steward or review DAGs
        queued or running (one waiting for a person is not), or Asset events waiting to start a run."""
        from airflow.models import DagRun, TaskInstance
        from airflow.models.asset import AssetDagRunQueue
        from sqlalchemy import func, select

        people = ["ucj_publication_approval", "ucj_identity_review"]
        with self.session() as s:
            running = s.scalar(
                select(func.count())
                .select_from(DagRun)
                .where(DagRun.dag_id.in_(self.pipeline), DagRun.state.in_(["queued", "running"]))
            )
            starting = s.scalar(
                select(func.count())
                .select_from(DagRun)
                .where(DagRun.dag_id == "ucj_publication_approval", DagRun.state == "queued")
            )
            tasks = s.scalar(
                select(func.count())
                .select_from(TaskInstance)
                .where(
                    TaskInstance.dag_id.in_(people),
                    TaskInstance.state.in_(["scheduled", "queued", "running", "up_for_retry", "restarting"]),
                )
            )
            queued = s.scalar(select(func.count()).select_from(AssetDagRunQueue))
        return running + starting + tasks + queued > 0

    def wait_quiet(self, what: str, since: dt.datetime, timeout: float = 900) -> None:
        """Until two sweeps have run since ``since`` and nothing they started is still going."""

        def quiet() -> bool:
            return self.sweeps_done_since(since) >= 2 and not self.busy()

        wait_for(what, quiet, self.stack, timeout=timeout, every=3)
        time.sleep(3)  # a run started by the last event shows up as queued
        wait_for(what, lambda: not self.busy(), self.stack, timeout=timeout, every=3)

    def failed_runs(self) -> list[tuple[str, str]]:
        from airflow.models import DagRun
        from sqlalchemy import select

        with self.session() as s:
            return s.execute(select(DagRun.dag_id, DagRun.run_id).where(DagRun.state == "failed")).all()

    # ------------------------------------------------------------ REST API, as a logged-in user
    def token(self, user: str) -> str:
        passwords = json.loads(
            (self.stack.work / "airflow" / "simple_auth_manager_passwords.json.generated").read_text()
        )
        body = json.dumps({"username": user, "password": passwords[user]}).encode()
        return self.request("POST", "/auth/token", body=body)["access_token"]

    def request(self, method: str, path: str, body: bytes | None = None, token: str | None = None) -> Any:
        import urllib.request

        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(self.api + path, data=body, headers=headers, method=method)  # noqa: S310
        with urllib.request.urlopen(req, timeout=30) as response:  # noqa: S310 - the stack's own api-server
            text = response.read().decode()
        return json.loads(text) if text.strip().startswith(("{", "[")) else text

    def status(self, path: str, token: str | None = None) -> int:
        import urllib.error

        try:
            self.request("GET", path, token=token)
        except urllib.error.HTTPError as exc:
            return exc.code
        return 200

    def hitl_waiting(self, dag_id: str, token: str | None = None) -> list[dict[str, Any]]:
        token = token or self.token("admin")
        found = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/~/hitlDetails?response_received=false", token=token)
        return [d for d in found["hitl_details"] if d["task_instance"]["state"] == "awaiting_input"]

    def respond(self, detail: dict[str, Any], user: str, chosen: list[str], params: dict[str, Any]) -> None:
        ti = detail["task_instance"]
        path = (f"/api/v2/dags/{ti['dag_id']}/dagRuns/{ti['dag_run_id']}/taskInstances/{ti['task_id']}"
                f"/{ti['map_index']}/hitlDetails")  # fmt: skip
        body = json.dumps({"chosen_options": chosen, "params_input": params}).encode()
        self.request("PATCH", path, body=body, token=self.token(user))
        log(f"{user} answered {ti['dag_id']}/{ti['task_id']} through the HITL REST API: {chosen}")


def copy_rosters(sample: Path, landing: Path, period: str, kinds: list[str]) -> int:
    """What a clerk's upload does: the files appear in the landing zone (with the sample's modification times)."""
    copied = 0
    for kind in kinds:
        target = landing / kind / period
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted((sample / kind / period).iterdir()):
            shutil.copy2(path, target / path.name)
            copied += 1
    return copied


def arrivals_fill_the_marts(airflow: Airflow, sample: Path, landing: Path) -> None:
    """Rosters copied in month by month (the first in two parts) reach the marts through the sweep alone."""
    if (sample / "reference").exists():
        shutil.copytree(sample / "reference", landing / "reference")
    for n, period in enumerate(PERIODS):
        parts = [["opd", "village"], ["employer"]] if n == 0 else [KINDS]
        for kinds in parts:
            since = dt.datetime.now(dt.UTC)
            started = time.monotonic()
            copied = copy_rosters(sample, landing, period, kinds)
            airflow.wait_quiet(f"{period} {'+'.join(kinds)} to reach the marts", since)
            log(f"{period} {'+'.join(kinds)}: {copied} files swept, ingested, published and consolidated "
                f"in {time.monotonic() - started:.0f} s")  # fmt: skip
    assert airflow.manual_runs() == 0, "something was triggered by hand"
    counts = airflow.counts()
    log(f"runs and events: {counts}")
    failed = airflow.failed_runs()
    if failed:
        raise SystemExit(f"runs failed: {failed}")


def an_unchanged_cycle_does_nothing(airflow: Airflow) -> None:
    before = airflow.counts()
    since = dt.datetime.now(dt.UTC)
    wait_for("two more sweeps", lambda: airflow.sweeps_done_since(since) >= 2, airflow.stack, every=3)
    after = airflow.counts()
    changed = {k: (before.get(k), v) for k, v in after.items() if k != "ucj_arrivals" and before.get(k) != v}
    if changed:
        raise SystemExit(f"a sweep with nothing new started runs or emitted Asset events: {changed}")
    log(f"unchanged cycles: {after['ucj_arrivals'] - before['ucj_arrivals']} sweeps, no run started, no Asset event")


def reports_need_a_login(airflow: Airflow) -> None:
    anonymous = airflow.status("/ucj-reports/")
    logged_in = airflow.status("/ucj-reports/", token=airflow.token("reviewer"))
    if (anonymous, logged_in) != (401, 200):
        raise SystemExit(f"/ucj-reports/: anonymous {anonymous}, logged in {logged_in} (want 401, 200)")
    log("/ucj-reports/: 401 without a login, 200 for a logged-in user")


def march(url: str, kind: str | None = None) -> list[tuple]:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute(
            "select regency_code, covered_workers from mart.ucj_regency_month where period_month = '2025-03-01'"
            " order by 1"
        ).fetchall()


def truncated_revisions(landing: Path, period: str) -> list[str]:
    """Each OPD roster of the month sent again as a one-row '_revisi.csv': an OPD that sent a fraction of its staff."""
    import csv
    import io

    from python_calamine import CalamineWorkbook

    written = []
    now = time.time() - 10  # complete: already past stable_seconds
    for path in sorted((landing / "opd" / period).iterdir()):
        if path.stem.endswith("_revisi"):
            continue
        if path.suffix == ".csv":
            text = path.read_bytes().decode("utf-8-sig", errors="replace")
            grid = list(csv.reader(io.StringIO(text), delimiter=";" if text.count(";") > text.count(",") else ","))
        else:
            grid = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
        header = next(i for i, row in enumerate(grid) if row and str(row[0]).strip().lower() == "no")
        out = io.StringIO()
        csv.writer(out).writerows(grid[: header + 2])
        target = path.with_name(f"{path.stem}_revisi.csv")
        target.write_text(out.getvalue(), encoding="utf-8")
        os.utime(target, (now, now))
        written.append(f"opd/{period}/{target.name}")
    return written


def a_failing_batch_waits_for_a_steward(airflow: Airflow, landing: Path) -> None:
    import psycopg

    url = airflow.stack.pg_url("warehouse")
    before = march(url)
    since = dt.datetime.now(dt.UTC)
    revisions = truncated_revisions(landing, "2025-03")
    wait_for("the held batch's Required Action", lambda: airflow.hitl_waiting("ucj_publication_approval"),
             airflow.stack, timeout=600, every=5)  # fmt: skip
    airflow.wait_quiet("the held month to settle", since)
    if march(url) != before:
        raise SystemExit("the marts moved although the OPD month failed validation and is held")
    with psycopg.connect(url) as conn:
        held = conn.execute(
            "select count(*) from mart.roster_row_status where source_file = any(%s) and publication = 'held'",
            (revisions,),
        ).fetchone()[0]
    if not held:
        raise SystemExit("the held rows are not shown as held in mart.roster_row_status")
    (request,) = airflow.hitl_waiting("ucj_publication_approval")
    log(f"held: {held} rows; the steward's request: {request['subject']}")
    if "1310014503850001" in request["body"] or "expect_" not in request["body"]:
        raise SystemExit("the request must name the failed expectations and show no row values")

    since = dt.datetime.now(dt.UTC)
    airflow.respond(request, "steward", ["Terbitkan"], {})
    airflow.wait_quiet("the approved month to reach the marts", since)
    after = march(url)
    if after == before:
        raise SystemExit("the approved batch did not reach the marts")
    with psycopg.connect(url) as conn:
        by = conn.execute(
            "select distinct publication, published_by from mart.roster_row_status where source_file = any(%s)",
            (revisions,),
        ).fetchall()
        decision = conn.execute(
            "select decision, decided_by from audit.publication order by publication_id desc limit 1"
        ).fetchone()
    if by != [("published", "steward")] or decision != ("approved", "steward"):
        raise SystemExit(f"approval not recorded: rows {by}, audit {decision}")
    log(f"approved by the steward: March covered workers {before} -> {after}")


def a_review_decision_reaches_the_marts(airflow: Airflow) -> None:
    import psycopg

    url = airflow.stack.pg_url("warehouse")
    wait_for("a review page in Required Actions", lambda: airflow.hitl_waiting("ucj_identity_review"),
             airflow.stack, timeout=300, every=5)  # fmt: skip
    (page,) = airflow.hitl_waiting("ucj_identity_review")
    pairs = list(page["params"])
    if not pairs:
        raise SystemExit("the review page has no pairs")
    root = "select coalesce(merged_into, worker_key) from identity.worker where worker_key = %s"
    with psycopg.connect(url) as conn:
        workers_before = conn.execute("select count(*) from mart.worker").fetchone()[0]
        # Later months may have joined some of the page's pairs since it was made: take one still apart.
        roots = {key: [conn.execute(root, (w,)).fetchone()[0] for w in key.split("_")[1:]] for key in pairs}
    apart = [key for key in pairs if roots[key][0] != roots[key][1]]
    if not apart:
        raise SystemExit(f"every pair of the page is one worker already: {pairs}")
    first = apart[0]
    _, a, b = first.split("_")
    answers = {key: ("terima" if key == first else "lewati") for key in pairs}
    since = dt.datetime.now(dt.UTC)
    airflow.respond(page, "reviewer", ["Kirim keputusan"], answers)
    airflow.wait_quiet("the decision to reach the marts", since)
    with psycopg.connect(url) as conn:
        decided = conn.execute(
            "select status, decided_by from identity.match_candidate where worker_a = %s and worker_b = %s", (a, b)
        ).fetchone()
        same = conn.execute(root, (a,)).fetchone() == conn.execute(root, (b,)).fetchone()
        workers_after = conn.execute("select count(*) from mart.worker").fetchone()[0]
    if decided != ("accepted", "reviewer") or not same or workers_after != workers_before - 1:
        raise SystemExit(f"review decision not applied: {decided}, one worker {same}, "
                         f"mart.worker {workers_before} -> {workers_after}")  # fmt: skip
    log(f"reviewer accepted {first} in Required Actions: one worker now (mart.worker {workers_before} -> "
        f"{workers_after})")  # fmt: skip


def run_reference(stack: Stack, landing: Path) -> None:
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(stack.work / "reference-airflow"),
        "AIRFLOW_CONN_WAREHOUSE": stack.warehouse_url("reference"),
        "UCJ_VAR_DIR": str(stack.work / "reference-var"),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{stack.work / 'reference-airflow.db'}",
    }
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "ucj_dev.runner", "--landing-root", str(landing), "--periods",
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
        sample, landing = work / "sample", work / "landing"
        subprocess.run(
            [sys.executable, "-m", "ucj_dev.synthetic", "sample", str(sample)], check=True, stdout=subprocess.DEVNULL
        )
        landing.mkdir()
        stack.start_postgres()
        stack.start_redis()
        env = stack.airflow_env(landing)
        stack.start_airflow(env)
        airflow = Airflow(stack, env)
        airflow.wait_parsed()
        arrivals_fill_the_marts(airflow, sample, landing)
        an_unchanged_cycle_does_nothing(airflow)

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
        log("OK: rosters picked up on arrival give the same marts as the single-process run of the same files")

        reports_need_a_login(airflow)
        a_failing_batch_waits_for_a_steward(airflow, landing)
        a_review_decision_reaches_the_marts(airflow)
        log("OK: arrivals, write-audit-publish and identity review work through the scheduler alone")
        return 0
    finally:
        stack.stop()
        if args.keep:
            log(f"logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
