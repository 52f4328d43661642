"""Run the real DAGs for a range of months, in dependency order, without a scheduler.

    python -m ucj_dev.runner --landing-root /abs/landing --periods 2025-01:2025-06

For each month: the three ingest DAGs, then ucj_consolidate, each through
``dag.test()`` (Airflow's in-process runner) against a local Airflow metadata
database. Exits 1 when any task failed - after everything that could be
loaded was loaded - 2 when the DAGs cannot even be imported, and 3 when
``--no-wait`` was given and another runner is using the same Airflow home.

One Airflow home holds one SQLite metadata database, which two runners
cannot migrate and write at once; a second runner on the same home waits
for the first (and says so) instead of failing half-way with a SQLite error.
"""

from __future__ import annotations

import argparse
import fcntl
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ucj.settings import PROJECT_ROOT, SOURCE_KINDS, var_dir

DAGS_DIR = PROJECT_ROOT / "dags"
PLUGINS_DIR = PROJECT_ROOT / "plugins"  # Airflow plugins only (the UI plugin); the domain package is installed


def airflow_environment(landing_root: str | None = None) -> dict[str, str]:
    """The environment every local entry point (runner, tests, `make airflow`) shares."""
    home = Path(os.environ.get("AIRFLOW_HOME", PROJECT_ROOT / ".airflow"))
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    if landing_root:
        env["AIRFLOW_VAR_LANDING_ROOT"] = landing_root
    return env


class HomeBusyError(RuntimeError):
    """Another runner holds the Airflow home and the caller asked not to wait."""


LOCK_NAME = "ucj-runner.lock"


@contextmanager
def exclusive_home(wait: bool = True, say: Callable[[str], None] = print) -> Iterator[None]:
    """Hold ``$AIRFLOW_HOME/ucj-runner.lock`` while this process uses the home's metadata database.

    An advisory ``flock``: the kernel drops it when the holder exits, however
    it exits (kill -9 included), so a stale lock file never blocks anyone.
    The file carries the holder's pid so that the waiting runner can say who.
    """
    home = Path(os.environ.get("AIRFLOW_HOME", PROJECT_ROOT / ".airflow"))
    home.mkdir(parents=True, exist_ok=True)
    path = home / LOCK_NAME
    with open(path, "a+", encoding="utf-8") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "?"
            message = f"another runner (pid {holder}) is using the Airflow home {home}"
            if not wait:
                raise HomeBusyError(f"{message}; not waiting (--no-wait). Rerun when it has finished.") from None
            say(f"{message}; waiting for it to finish (Ctrl-C to give up)")
            fcntl.flock(fh, fcntl.LOCK_EX)
            say("the other runner has finished; going on")
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        try:
            yield
        finally:
            fh.seek(0)
            fh.truncate()
            fcntl.flock(fh, fcntl.LOCK_UN)


_MIGRATED: set[str] = set()  # Airflow homes this process has brought to the current schema


def prepare_airflow(landing_root: str | None) -> None:
    """Environment for the DAGs, and the home's metadata database migrated once per process.

    ``airflow db migrate`` costs about three seconds even when there is
    nothing to do (a fresh interpreter importing Airflow); a process that
    runs the DAGs many times (the tests, a backfill loop) pays it once per
    home. Nothing in the process can move the schema back in between.
    """
    for key, value in airflow_environment(landing_root).items():
        if key == "AIRFLOW_VAR_LANDING_ROOT":
            os.environ[key] = value
        else:
            os.environ.setdefault(key, value)
    home = Path(os.environ["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    if str(home.resolve()) in _MIGRATED:
        return
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, stdout=subprocess.DEVNULL)
    _MIGRATED.add(str(home.resolve()))


@contextmanager
def _output_to(log_file: Path | None) -> Iterator[None]:
    """Send everything written to fd 1 and 2 (Airflow's task logs) to a file."""
    if log_file is None:
        yield
        return
    log_file.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log_file, "ab") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def run(
    landing_root: str,
    periods: list[str],
    kinds: tuple[str, ...] = SOURCE_KINDS,
    log_file: Path | None = None,
    progress: Callable[[str], None] = lambda _line: None,
    force: bool = False,
    wait: bool = True,
    reinterpret: bool = False,
) -> list[str]:
    """Run the DAGs; return a list of failure descriptions (empty when all succeeded)."""
    os.environ.setdefault("AIRFLOW_HOME", str(PROJECT_ROOT / ".airflow"))
    with exclusive_home(wait=wait, say=progress):
        return _run_locked(landing_root, periods, kinds, log_file, progress, force, reinterpret)


def _run_locked(
    landing_root: str,
    periods: list[str],
    kinds: tuple[str, ...],
    log_file: Path | None,
    progress: Callable[[str], None],
    force: bool,
    reinterpret: bool = False,
) -> list[str]:
    prepare_airflow(landing_root)
    with _output_to(log_file):
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=str(DAGS_DIR))
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {bag.import_errors}")
    failures: list[str] = []
    for period in periods:
        for dag_id in [f"ucj_ingest_{kind}" for kind in kinds] + ["ucj_consolidate"]:
            started = time.monotonic()
            # The landing zone was prepared beforehand: no file is still being copied.
            conf: dict[str, object] = {"period": period, "force": force}
            if dag_id != "ucj_consolidate":
                conf["stable_seconds"] = 0
                conf["reinterpret"] = reinterpret
            with _output_to(log_file):
                # Logical date now: the run shows when it really ran (the period is in its conf).
                run_ = bag.dags[dag_id].test(run_conf=conf)
            failed = sorted(
                ti.task_id + (f"[{ti.map_index}]" if ti.map_index >= 0 else "")
                for ti in run_.get_task_instances()
                if ti.state in ("failed", "upstream_failed")
            )
            progress(f"{period}  {dag_id:<22} {run_.state:<8} {time.monotonic() - started:5.1f}s  {' '.join(failed)}")
            if run_.state != "success":
                failures.append(f"{dag_id} {period}: {run_.state} ({', '.join(failed) or 'no task failed'})")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--landing-root", required=True, help="landing zone path or URI")
    parser.add_argument("--periods", required=True, help="YYYY-MM or YYYY-MM:YYYY-MM")
    parser.add_argument(
        "--log-file",
        type=Path,
        default=None,
        help="write Airflow's task logs here instead of the terminal (default: var/pipeline.log)",
    )
    parser.add_argument("--verbose", action="store_true", help="show Airflow's task logs in the terminal")
    parser.add_argument(
        "--force", action="store_true", help="redo settle/validate/load even for months whose inputs are unchanged"
    )
    parser.add_argument(
        "--reinterpret",
        action="store_true",
        help="interpret every file already loaded again with the current vocabulary and header synonyms",
    )
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="refuse at once (exit 3) instead of waiting when another runner uses the same Airflow home",
    )
    args = parser.parse_args(argv)
    from ucj.period import period_range

    periods = period_range(args.periods)
    root = args.landing_root
    if "://" not in root:
        root = str(Path(root).resolve())
        if not Path(root).is_dir():
            parser.error(f"landing root {root} is not a directory")
    log_file = None if args.verbose else (args.log_file or var_dir() / "pipeline.log")
    if log_file:
        print(f"running the DAGs for {', '.join(periods)}; Airflow's task logs go to {log_file}")
    try:
        failures = run(
            root,
            periods,
            log_file=log_file,
            progress=lambda line: print(line, flush=True),
            force=args.force,
            wait=not args.no_wait,
            reinterpret=args.reinterpret,
        )
    except HomeBusyError as busy:
        print(busy, file=sys.stderr)
        return 3

    import psycopg

    from ucj.ucj_table import format_ucj_table, ucj_table
    from ucj.warehouse import WarehouseConfigError, connect

    try:
        with connect() as conn:
            table = format_ucj_table(ucj_table(conn, periods))
            failed_files = conn.execute(
                """select rel_path, error from ingest.source_file
                   where status = 'failed' and to_char(period_month, 'YYYY-MM') = any(%s) order by rel_path""",
                (periods,),
            ).fetchall()
            held = conn.execute(
                """select source_kind, to_char(period_month, 'YYYY-MM'), count(*) from ingest.source_file
                   where status = 'loaded' and published_at is null and to_char(period_month, 'YYYY-MM') = any(%s)
                   group by 1, 2 order by 2, 1""",
                (periods,),
            ).fetchall()
    except (psycopg.Error, WarehouseConfigError) as error:
        # The summary is what on-call reads: it must come out even when the
        # warehouse is gone, saying so, instead of a traceback.
        print(f"\nThe warehouse could not be read for the summary: {str(error).strip()}")
        _print_failures(failures)
        return 1
    print("\nUCJ (Universal Coverage Jamsostek) per regency and month\n")
    print(table)
    if failed_files:
        print("\nFiles that could not be read (everything else was loaded):")
        for path, error in failed_files:
            print(f"  {path}: {error}")
    if held:
        print("\nHeld (failed validation; the marts show the last published state until a steward approves):")
        for kind, period, files in held:
            print(f"  {kind} {period}: {files} file(s); approve in the Airflow UI (ucj_publication_approval)")
    _print_failures(failures)
    return 1 if failures else 0


def _print_failures(failures: list[str]) -> None:
    if failures:
        print("\nFailed DAG runs:")
        for failure in failures:
            print(f"  {failure}")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    sys.exit(main())
