"""End to end: the real DAGs (dag.test) on the sample landing zone, against PostgreSQL.

The numbers in the marts must equal the generator's ground truth, which is
computed from what each written row *means*, never from the pipeline; a
rerun must leave every mart row identical; a broken file must fail its own
DAG run without losing anything else. Reruns are safe: clearing any task of
a finished run, or rerunning every period forced, leaves the warehouse
exactly as the clean run left it, surrogate keys included; earlier months
backfilled after going live with a later one, by two runs at once, give the
same numbers. All of it on one clean run of the three months.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from rerun_checks import EXACT, PERIODS, ROOT, assert_same_numbers, checksums, snapshot, truncate

from ucj.period import previous_month
from ucj_dev import runner

pytestmark = pytest.mark.e2e

MARTS = ["ucj_regency_month", "coverage_program_month", "roster_row_status"]


def mart_checksums(conn: psycopg.Connection) -> dict[str, str]:
    return {
        view: conn.execute(
            f"select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) from mart.{view} t"
        ).fetchone()[0]
        for view in MARTS
    }


@pytest.fixture(scope="module")
def clean(warehouse: str, airflow_db: None, sample_landing: Path) -> tuple[list[str], dict[str, dict[str, str]]]:
    """The three months run once, in order, on an empty warehouse: the runner's failures and the
    warehouse's checksums as it left it (what every rerun below must give back)."""
    truncate(warehouse)
    failures = runner.run(str(sample_landing), PERIODS)
    return failures, snapshot(warehouse)


@pytest.fixture(scope="module")
def full_run(clean, warehouse: str, sample_landing: Path):
    truth = json.loads((sample_landing / "ground_truth.json").read_text())
    with psycopg.connect(warehouse, autocommit=True) as conn:
        yield clean[0], truth, conn


@pytest.fixture(scope="module")
def reference(clean) -> dict[str, dict[str, str]]:
    return clean[1]


def test_every_dag_run_succeeds(full_run) -> None:
    failures, _, _ = full_run
    assert failures == []


def test_runs_show_when_they_really_ran(full_run) -> None:
    """The UI's start, end and duration of a runner's DAG runs are the real ones, not the month's date."""
    import datetime as dt

    from airflow.models import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    now = dt.datetime.now(dt.UTC)
    with create_session() as session:
        runs = session.execute(
            select(DagRun.dag_id, DagRun.start_date, DagRun.end_date, DagRun.conf).where(
                DagRun.state.in_(["success", "failed"]),
                DagRun.dag_id.in_(["ucj_ingest_opd", "ucj_ingest_village", "ucj_ingest_employer", "ucj_consolidate"]),
            )
        ).all()
    assert len(runs) >= 4 * len(PERIODS)
    for dag_id, start, end, _ in runs:
        assert now - dt.timedelta(hours=2) < start <= end <= now, dag_id
        assert end - start < dt.timedelta(minutes=30), dag_id
    assert {conf.get("period") for *_, conf in runs} >= set(PERIODS)


def test_ucj_covered_workers_equal_ground_truth(full_run) -> None:
    _, truth, conn = full_run
    got: dict[str, dict[str, int]] = {}
    for period, regency, covered in conn.execute(
        "select to_char(period_month, 'YYYY-MM'), regency_code, covered_workers from mart.ucj_regency_month"
    ):
        got.setdefault(period, {})[regency] = covered
    assert got == truth["covered_workers"]


def test_units_reported_equal_ground_truth(full_run) -> None:
    _, truth, conn = full_run
    got: dict[str, dict[str, int]] = {}
    for period, regency, units in conn.execute(
        "select to_char(period_month, 'YYYY-MM'), regency_code, units_reported from mart.ucj_regency_month"
    ):
        got.setdefault(period, {})[regency] = units
    assert got == truth["units_reported"]


def test_coverage_by_program_segment_and_funding_equals_ground_truth(full_run) -> None:
    _, truth, conn = full_run
    got = {
        f"{p}|{r}|{prog}|{seg}|{fund}": n
        for p, r, prog, seg, fund, n in conn.execute(
            """select to_char(period_month, 'YYYY-MM'), regency_code, program_code, segment, funding_source,
                      covered_workers from mart.coverage_program_month"""
        )
    }
    assert got == truth["coverage_program"]


def test_every_row_has_the_expected_state(full_run) -> None:
    _, truth, conn = full_run
    got: dict[str, dict[str, tuple[str, str | None, int | None]]] = {}
    for path, row, status, reason, worker in conn.execute(
        "select source_file, source_row, status, reason, worker_key from mart.roster_row_status"
    ):
        got.setdefault(path, {})[str(row)] = (status, reason, worker)
    assert set(got) == set(truth["row_states"])
    for path, rows in truth["row_states"].items():
        assert set(got[path]) == set(rows), path  # no footer loaded, no row lost
        for row, expected in rows.items():
            status, reason, worker = got[path][row]
            expected_status, _, expected_reason = expected.partition(":")
            assert status == expected_status, (path, row, expected, status, reason)
            if expected_reason:
                assert expected_reason in reason.split(";"), (path, row)
            else:
                assert reason is None
            if status in ("loaded", "duplicate", "quarantined"):
                assert (worker is None) == (status == "quarantined"), (path, row)


def test_a_row_is_referenced_by_what_is_stable(full_run, sample_landing: Path) -> None:
    """(source_file, file_content_hash, source_row): the same in any warehouse that loads the same files."""
    _, _, conn = full_run
    rows = conn.execute("select source_file, file_content_hash, source_row from mart.roster_row_status").fetchall()
    assert len(rows) == len(set(rows))
    for path, content_hash in {(path, content_hash) for path, content_hash, _ in rows}:
        assert hashlib.sha256((sample_landing / path).read_bytes()).hexdigest() == content_hash, path


def test_churn_adds_up_to_the_covered_workers_of_every_month(full_run) -> None:
    _, _, conn = full_run
    churn = {
        (str(m), r): (c, n, k, b, lapsed)
        for m, r, c, n, k, b, lapsed in conn.execute(
            """select period_month, regency_code, covered_workers, new_workers, continuing_workers,
                      returning_workers, lapsed_workers from mart.coverage_churn_month"""
        )
    }
    ucj = {
        (str(m), r): c
        for m, r, c in conn.execute("select period_month, regency_code, covered_workers from mart.ucj_regency_month")
    }
    assert {key: row[0] for key, row in churn.items() if row[0]} == ucj
    for (month, regency), (covered, new, continuing, returning, lapsed) in churn.items():
        assert new + continuing + returning == covered
        before = churn.get((str(previous_month(dt.date.fromisoformat(month))), regency))
        if before is not None:
            assert covered == before[0] - lapsed + new + returning, (month, regency)


def test_working_population_and_target_come_from_cited_figures(full_run) -> None:
    _, _, conn = full_run
    rows = {
        r: (pop, year, target)
        for r, pop, year, target in conn.execute(
            """select regency_code, working_population, working_population_year, ucj_target_pct
               from mart.ucj_regency_month where period_month = '2025-01-01'"""
        )
    }
    assert rows["1310"][:2] == (123520, 2023)  # BPS 2023, latest before 2025
    assert rows["1311"] == (None, None, Decimal("28.30"))  # target cited, no denominator
    assert rows["1303"] == (None, None, None)


# Reruns. Clearing a task and a forced rerun leave the warehouse exactly as
# the clean run left it, surrogate keys included, so they come before any
# test that adds files; the backfill starts from an empty warehouse and comes
# last (with two runs at once).


def _task_state(dag_id: str, task_id: str, map_index: int, run_id: str) -> str:
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return session.scalar(
            select(TaskInstance.state).where(
                TaskInstance.dag_id == dag_id,
                TaskInstance.task_id == task_id,
                TaskInstance.run_id == run_id,
                TaskInstance.map_index == map_index,
            )
        )


def test_clearing_any_task_of_a_finished_run_changes_nothing(reference, warehouse: str, sample_landing: Path) -> None:
    """Every task of the last month's four DAG runs, each mapped instance too,
    run again in place (``airflow tasks test``: the task's own XCom inputs,
    the real task code), as on-call does by clearing it in the UI."""
    from airflow.cli import cli_parser
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models import DagRun, TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    parser = cli_parser.get_parser()
    rerun = []
    for dag_id in ["ucj_ingest_opd", "ucj_ingest_village", "ucj_ingest_employer", "ucj_consolidate"]:
        dag = bag.dags[dag_id]
        with create_session() as session:
            # The last month's run: the runner's latest of this DAG.
            run_id = session.scalar(
                select(DagRun.run_id).where(DagRun.dag_id == dag_id).order_by(DagRun.run_after.desc()).limit(1)
            )
            instances = session.execute(
                select(TaskInstance.task_id, TaskInstance.map_index).where(
                    TaskInstance.dag_id == dag_id,
                    TaskInstance.run_id == run_id,
                    # Nothing was held: asking a steward had nothing to do.
                    TaskInstance.state != "skipped",
                )
            ).all()
        order = {task.task_id: i for i, task in enumerate(dag.topological_sort())}
        for task_id, map_index in sorted(instances, key=lambda ti: (order[ti[0]], ti[1])):
            args = parser.parse_args(["tasks", "test", dag_id, task_id, run_id, "--map-index", str(map_index)])
            args.func(args)
            state = _task_state(dag_id, task_id, map_index, run_id)
            assert state == "success", f"{dag_id}.{task_id}[{map_index}] rerun ended {state}"
            rerun.append(f"{dag_id}.{task_id}")
    assert len(rerun) >= 4 * 6
    with psycopg.connect(warehouse, autocommit=True) as conn:
        assert checksums(conn, EXACT) == reference["exact"]


def test_rerunning_every_period_forced_changes_nothing(reference, warehouse: str, sample_landing: Path) -> None:
    """force=true redoes settle, validation and the load rather than reusing them.

    Each stage records when it last did its work (``meta.stage_fingerprint.done_at``);
    a stage that reused its result leaves that time as it was.
    """
    when = "select stage, scope, done_at from meta.stage_fingerprint where stage in ('settle', 'validate', 'load')"
    with psycopg.connect(warehouse, autocommit=True) as conn:
        before = {(stage, scope): done for stage, scope, done in conn.execute(when)}
    assert {stage for stage, _ in before} == {"settle", "validate", "load"}
    assert runner.run(str(sample_landing), PERIODS, force=True) == []
    with psycopg.connect(warehouse, autocommit=True) as conn:
        assert checksums(conn, EXACT) == reference["exact"]
        after = {(stage, scope): done for stage, scope, done in conn.execute(when)}
    not_redone = sorted(key for key, done in before.items() if after[key] <= done)
    assert not_redone == [], f"force=true reused these stages instead of redoing them: {not_redone}"
    assert len([key for key in after if key[0] == "load"]) == len(PERIODS)


def test_rerunning_every_period_changes_nothing(full_run, sample_landing: Path) -> None:
    _, _, conn = full_run
    before = mart_checksums(conn)
    workers_before = conn.execute("select count(*) from identity.worker").fetchone()
    assert runner.run(str(sample_landing), PERIODS) == []
    assert mart_checksums(conn) == before
    assert conn.execute("select count(*) from identity.worker").fetchone() == workers_before


def test_a_broken_file_fails_its_run_loses_nothing_and_loads_once_fixed(
    full_run, sample_landing: Path, tmp_path: Path
) -> None:
    _, truth, conn = full_run
    landing = tmp_path / "landing"
    shutil.copytree(sample_landing, landing)
    broken = landing / "village" / "2025-01" / "zz_rusak.xlsx"
    broken.write_bytes(b"PK\x03\x04 this upload was cut off")
    before = mart_checksums(conn)

    failures = runner.run(str(landing), ["2025-01"])

    assert [f.split(" ")[0] for f in failures] == ["ucj_ingest_village"]
    error = conn.execute(
        "select error from ingest.source_file where rel_path = 'village/2025-01/zz_rusak.xlsx' and status = 'failed'"
    ).fetchone()
    assert error
    assert "damaged" in error[0]
    assert mart_checksums(conn) == before  # every other file is still loaded, nothing doubled

    good = next((sample_landing / "village" / "2025-01").glob("*.csv"))
    fixed = landing / "village" / "2025-01" / "zz_rusak.csv"
    broken.unlink()
    fixed.write_bytes(good.read_bytes().replace(b"Koto", b"Koto"))
    assert runner.run(str(landing), ["2025-01"]) == []
    statuses = conn.execute(
        "select distinct status from mart.roster_row_status where source_file = 'village/2025-01/zz_rusak.csv'"
    ).fetchall()
    assert statuses  # the fixed file is loaded and every row has a state
    assert truth["covered_workers"]["2025-01"] == dict(
        conn.execute(
            "select regency_code, covered_workers from mart.ucj_regency_month where period_month = '2025-01-01'"
        )
    )


def test_clerk_reports_list_every_quarantined_row(full_run) -> None:
    from openpyxl import load_workbook

    from ucj.feedback import report_path

    _, truth, _ = full_run
    checked = 0
    for path, rows in truth["row_states"].items():
        quarantined = {int(r) for r, state in rows.items() if state.startswith("quarantined")}
        if not quarantined:
            continue
        sheet = load_workbook(report_path(path)).active
        listed = {
            r[0] for r in sheet.iter_rows(values_only=True) if isinstance(r[0], int) and r[5].startswith("Baris TIDAK")
        }
        assert listed == quarantined, path
        checked += 1
    assert checked > 5


def test_units_not_reported_complete_the_expected_units(full_run) -> None:
    _, _, conn = full_run
    mismatched = conn.execute(
        """select u.period_month, u.regency_code, u.units_expected - u.units_reported, count(n.unit_code)
           from mart.ucj_regency_month as u
           left join mart.units_not_reported as n using (period_month, regency_code)
           group by 1, 2, 3 having u.units_expected - u.units_reported <> count(n.unit_code)"""
    ).fetchall()
    assert mismatched == []
    assert conn.execute("select count(*) from mart.units_not_reported").fetchone()[0] > 0


def test_year_on_year_view_lines_up_months(full_run) -> None:
    _, truth, conn = full_run
    rows = conn.execute(
        "select regency_code, covered_workers, covered_workers_last_year from mart.ucj_regency_year_change "
        "where period_month = '2025-03-01'"
    ).fetchall()
    assert {r: n for r, n, _ in rows} == truth["covered_workers"]["2025-03"]
    assert all(last is None for _, _, last in rows)  # no 2024 data in the sample


def test_bulk_loaded_tables_have_no_orphans(full_run) -> None:
    """The writers own referential integrity of the bulk-loaded tables (V006, V017, V018)."""
    _, _, conn = full_run
    (merged,) = conn.execute("select count(*) from identity.worker where merged_into is not null").fetchone()
    assert merged > 0  # the sample's typed-twice workers were merged, so the last check below checks something
    orphans = conn.execute(
        """select
             (select count(*) from ingest.roster_row as r
              where not exists (select from ingest.source_file as f where f.file_id = r.file_id)),
             (select count(*) from identity.row_link as l
              where not exists (select from ingest.roster_row as r
                                where r.file_id = l.file_id and r.source_row = l.source_row)),
             (select count(*) from identity.row_link as l
              where not exists (select from identity.worker as w where w.worker_key = l.worker_key)),
             (select count(*) from identity.worker_evidence as e
              where not exists (select from identity.worker as w where w.worker_key = e.worker_key)),
             (select count(*) from identity.worker as m
              where m.merged_into is not null
                and not exists (select from identity.worker as w where w.worker_key = m.merged_into))"""
    ).fetchone()
    assert orphans == (0, 0, 0, 0, 0)


def test_file_outcome_accounts_for_every_row(full_run) -> None:
    _, truth, conn = full_run
    rows = conn.execute(
        """select rel_path, rows_read, rows_loaded + rows_quarantined + rows_duplicate + rows_superseded,
                  quarantine_reasons
           from audit.file_outcome where status = 'loaded'"""
    ).fetchall()
    by_path = {path: (read, total, reasons) for path, read, total, reasons in rows}
    for path, states in truth["row_states"].items():
        read, total, reasons = by_path[path]
        assert read == total == len(states), path
        expected = sum(1 for s in states.values() if s.startswith("quarantined"))
        assert sum(reasons.values()) >= expected, path


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def rendered_dom(page: Path) -> str:
    """What a browser shows: the DOM after Chromium has loaded and laid out the page."""
    import os
    import subprocess
    import tempfile

    binary = chromium()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium is not installed")
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
            capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
    return done.stdout


def test_coverage_report_shows_the_marts_in_a_browser(full_run) -> None:
    from html.parser import HTMLParser

    from ucj.settings import reports_dir

    _, truth, conn = full_run
    page = reports_dir() / "2025-03.html"
    assert page.exists(), "the consolidation run writes one page per month"
    dom = rendered_dom(page)

    class Cells(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.rows: dict[str, list[str]] = {}
            self.current: str | None = None
            self.svg_texts: list[str] = []
            self.svgs = 0
            self.in_text = False

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "tr" and dict(attrs).get("data-regency") and self.current is None:
                self.current = dict(attrs)["data-regency"]
                self.rows[self.current] = []
            self.in_text = tag == "text" or (tag == "tspan" and self.in_text)
            self.svgs += tag == "svg"

        def handle_endtag(self, tag: str) -> None:
            if tag == "tr":
                self.current = None
            if tag == "text":
                self.in_text = False

        def handle_data(self, data: str) -> None:
            if self.current is not None and data.strip():
                self.rows[self.current].append(data.strip())
            if self.in_text and data.strip():
                self.svg_texts.append(data.strip())

    cells = Cells()
    cells.feed(dom)
    march = truth["covered_workers"]["2025-03"]
    assert set(cells.rows) == set(march)
    for regency, covered in march.items():
        assert cells.rows[regency][1] == f"{covered:,}".replace(",", "."), regency
    assert cells.svgs >= 3, "rate, program and units charts"
    chart_text = " ".join(cells.svg_texts)
    for regency in march:
        if conn.execute(
            "select ucj_rate_pct is not null from mart.ucj_regency_month "
            "where regency_code = %s and period_month = '2025-03-01'",
            (regency,),
        ).fetchone()[0]:
            assert regency in chart_text, f"{regency} has a rate, so it is drawn"
    for program in ("JKK", "JKM"):
        assert program in chart_text
    missing = conn.execute("select count(*) from mart.units_not_reported where period_month = '2025-03-01'").fetchone()[
        0
    ]
    assert ("Semua unit yang diharapkan sudah melapor" in dom) == (missing == 0)
    index = rendered_dom(reports_dir() / "index.html")
    assert all(f'href="{p}.html"' in index for p in PERIODS)


def test_bi_reader_sees_no_raw_nik_name_or_birth_date(full_run, warehouse: str) -> None:
    """Everything bi_reader can select, as text, against every raw identifier received."""
    import hashlib
    import hmac
    import os

    _, _, conn = full_run
    niks = {n for (n,) in conn.execute("select nik from ingest.roster_row where nik is not null")}
    names = {n for (n,) in conn.execute("select full_name from ingest.roster_row where full_name is not null")}
    assert niks
    assert names
    with psycopg.connect(warehouse, autocommit=True) as bi:
        bi.execute("set role bi_reader")
        views = [v for (v,) in bi.execute("select table_name from information_schema.views where table_schema='mart'")]
        seen: set[str] = set()
        for view in views:
            for row in bi.execute(f"select * from mart.{view}"):
                seen.update(str(v) for v in row if v is not None)
        tokens = dict(bi.execute("select nik_masked, nik_token from mart.worker where nik_token is not null"))
    assert "worker" in views
    assert not (seen & niks), "a raw NIK is readable by bi_reader"
    assert not (seen & names), "a raw name is readable by bi_reader"
    assert tokens, "workers with a NIK carry a token"
    key = os.environ["UCJ_NIK_HMAC_KEY"].encode()
    for nik in niks:
        plain = hashlib.sha256(nik.encode()).hexdigest()
        assert plain not in seen, "a plain NIK hash would be reversible"
    keyed = {hmac.new(key, nik.encode(), hashlib.sha256).hexdigest() for nik in niks}
    assert set(tokens.values()) <= keyed, "tokens are HMACs of received NIKs under the configured key"
    assert all(len(m) == 16 and m[4:14] == "*" * 10 for m in tokens)


def test_a_backfill_after_going_live_gives_the_same_numbers(
    reference, warehouse: str, sample_landing: Path, tmp_path: Path
) -> None:
    """Live for March first, then January and February backfilled by two runners at once: every
    count, every worker grouping (churn included) and every row state as in the chronological run.

    The earlier months arrive after a later one: March's rows that share
    evidence with them are linked again after them (README, "Worker
    identity"). Before that, three NIKs of one name, each one typo from the
    next, grouped differently, and churn with them. The two runners each have
    their own Airflow and share the warehouse, so ingest, identity and load of
    January and February interleave for real; keys and file ids differ from
    the chronological run, groupings and counts may not.
    """
    truncate(warehouse)
    assert runner.run(str(sample_landing), PERIODS[-1:]) == []
    procs = []
    for period in PERIODS[:-1]:
        env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / period)}
        command = [sys.executable, "-m", "ucj_dev.runner", "--landing-root", str(sample_landing), "--periods", period,
                   "--log-file", str(tmp_path / f"{period}.log")]  # fmt: skip
        procs.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert_same_numbers(warehouse, reference)
