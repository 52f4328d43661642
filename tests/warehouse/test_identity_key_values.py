"""Same files, same groupings, whatever numbers the worker keys get (deterministic identity, cases b to e).

The same landing zone goes through the real ingest, rules, model and load
twice: once clean, once with the worker-key sequence moved on at seeded
random points (as a run killed inside ``resolve_identities`` leaves it:
sequence values are never rolled back). Which rows share a worker, and every
count, must not change; only the key numbers may. A late correction of
January, applied after February was linked, groups as a clean run of the
final files (case e), and so do the months linked newest first (case c)
and each month linked in two runs (case d).
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import psycopg
import pytest
from outputs import OUTPUT_TABLES
from rosterfiles import VILLAGE_HEADER

from ucj import pipeline_tasks
from ucj_dev import synthetic
from ucj_dev.synthetic.writers import csv_bytes

MONTHS = ("2025-01", "2025-02")


def _dotted(code: str) -> str:
    return f"{code[:2]}.{code[2:4]}.{code[4:6]}.{code[6:]}"


CORRECTED = "village/2025-01/desa_1216.csv"


def _landing(root: Path, corrected: bool = False) -> dict[str, list[str]]:
    """Hostile labelled records as village rosters: two months, one file per regency and month.

    ``corrected``: the clerk's second version of one January file (CORRECTED):
    the NIKs left empty filled in from the person's other rows, the first two
    rows deleted, as a village sends it after a follow-up call.
    """
    records = synthetic.records("hostile", 500, seed="key-values")
    files: dict[tuple[str, str], list[list[object]]] = {}
    default_village = next(r.village for r in records if r.village)
    known_nik = {r.pid: r.nik for r in sorted(records, key=lambda r: r.rid) if r.nik}
    for r in records:
        village = r.village or default_village
        period = MONTHS[r.rid % 2]
        nik = r.nik or ""
        if corrected and f"village/{period}/desa_{village[:4]}.csv" == CORRECTED and not nik:
            nik = known_nik.get(r.pid, "")
        row = [0, nik, r.full_name, r.birth_date.strftime("%d/%m/%Y"), r.gender, _dotted(village), "Desa",
               "JKK, JKM", "Dana Desa", ""]  # fmt: skip
        files.setdefault((period, village[:4]), []).append(row)
    landed: dict[str, list[str]] = {p: [] for p in MONTHS}
    for (period, regency), rows in sorted(files.items()):
        rel = f"village/{period}/desa_{regency}.csv"
        if corrected and rel == CORRECTED:
            del rows[:2]
        for n, row in enumerate(rows, start=1):
            row[0] = n
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(csv_bytes([VILLAGE_HEADER, *rows]))
        landed[period].append(rel)
    return landed


def _advance_keys(conn: psycopg.Connection, rng: random.Random) -> None:
    (sequence,) = conn.execute("select pg_get_serial_sequence('identity.worker', 'worker_key')").fetchone()
    conn.execute(f"select setval('{sequence}', (select last_value from {sequence}) + %s)", (rng.randrange(1, 500),))


def _history(
    conn: psycopg.Connection, landed: dict[str, list[str]], rng: random.Random | None,
    months: tuple[str, ...] = MONTHS, split: bool = False, fresh: bool = True,
) -> tuple:  # fmt: skip
    """Run the months (in ``months``' order) through the DAG tasks' code; the grouping and the counts it leaves.

    ``rng``: move the key sequence on at random points; ``split``: link each
    month in two runs, its first files, then the rest; ``fresh``: start
    from an empty warehouse (else go on from what is there, as a late file does).
    """
    if fresh:
        conn.execute(f"truncate {', '.join(OUTPUT_TABLES)}, meta.stage_fingerprint restart identity cascade")

    def maybe_advance() -> None:
        if rng is not None and rng.random() < 0.7:
            _advance_keys(conn, rng)

    for period in months:
        files = landed[period]
        parts = [files[: len(files) // 2], files] if split else [files]
        for part in parts:
            maybe_advance()
            pipeline_tasks.ingest_files("village", period, part)
            validation = pipeline_tasks.validate("village", period, "ucj_ingest_village", "test")
            pipeline_tasks.publication_gate("village", period, validation, "ucj_ingest_village", "test")
            pipeline_tasks.settle("village", period)
            maybe_advance()
            pipeline_tasks.resolve_identities()
            maybe_advance()
            pipeline_tasks.link_probabilistically()
            for month in pipeline_tasks.periods_to_load(period, None):
                pipeline_tasks.load_period(month)
    workers: dict[int, set[tuple[str, int]]] = {}
    for source_file, source_row, worker_key in conn.execute(
        """select source_file, source_row, worker_key from mart.roster_row_status
           where worker_key is not null and status <> 'superseded'"""
    ):
        workers.setdefault(worker_key, set()).add((source_file, source_row))
    grouping = sorted(sorted(rows) for rows in workers.values())
    counts = conn.execute(
        """select period_month, regency_code, covered_workers, units_reported from mart.ucj_regency_month
           order by 1, 2"""
    ).fetchall()
    queued = conn.execute("select count(*) from identity.match_candidate where status = 'pending'").fetchone()[0]
    (top_key,) = conn.execute("select max(worker_key) from identity.worker").fetchone()
    return grouping, counts, queued, top_key


# The clean history's result, computed once for this module's tests: every test
# lands the same files (same paths, same bytes), so it would be the same each time.
_CLEAN: list[tuple] = []


def _clean_history(conn: psycopg.Connection, landed: dict[str, list[str]]) -> tuple:
    if not _CLEAN:
        _CLEAN.append(_history(conn, landed, None))
    return _CLEAN[0]


@pytest.mark.parametrize("seed", [1])
def test_worker_key_values_do_not_change_who_is_who(conn, tmp_path: Path, monkeypatch, seed: int) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_LANDING_ROOT", str(tmp_path))
    landed = _landing(tmp_path)
    clean = _clean_history(conn, landed)
    moved = _history(conn, landed, random.Random(seed))  # noqa: S311 - reproducible test data
    assert moved[3] > clean[3], "the keys really were numbered differently"
    assert moved[0] == clean[0], "the same rows share a worker"
    assert moved[1] == clean[1], "every regency-month count is the same"
    assert moved[2] == clean[2], "the same number of pairs wait for a reviewer"
    # Not vacuous: people with several rows were joined, and some rows stayed apart.
    assert any(len(rows) > 1 for rows in clean[0])
    assert clean[2] > 0, "the model scored pairs (with keys as sample ids it once merged different pairs)"
    assert len(clean[0]) < sum(len(rows) for rows in clean[0])
    assert dt.date(2025, 2, 1) in {row[0] for row in clean[1]}


def test_months_newest_first_group_alike(conn, tmp_path: Path, monkeypatch) -> None:
    """Case c: February linked before January. A worker never holds NIKs that cannot be one person's
    (before that rule, three people ended up grouped differently and a regency-month one worker off),
    and February's rows that share evidence with January's are linked again after them
    (``ucj.identity.reopen``): the rule is not transitive, so the order rows are linked in must not
    be the order they came in."""
    monkeypatch.setenv("AIRFLOW_VAR_LANDING_ROOT", str(tmp_path))
    landed = _landing(tmp_path)
    clean = _clean_history(conn, landed)
    other = _history(conn, landed, None, months=tuple(reversed(MONTHS)))
    assert other[1] == clean[1], "every regency-month count is the same"
    assert other[0] == clean[0], "the same rows share a worker"
    # The review queue may differ: the model is trained on the workers each run finds.


def test_a_month_linked_in_two_runs_groups_alike(conn, tmp_path: Path, monkeypatch) -> None:
    """Case d: each month linked in two runs, its first files, then the rest.

    Before the month's earlier rows were clustered again with its late ones
    (``ucj.identity.reopen``), a row without a NIK that came first joined a
    stored worker of the same name and birth date on its own, while with a
    row of that name carrying a relative's NIK it was clustered with it and
    both were refused: two people grouped differently.
    """
    monkeypatch.setenv("AIRFLOW_VAR_LANDING_ROOT", str(tmp_path))
    landed = _landing(tmp_path)
    clean = _clean_history(conn, landed)
    other = _history(conn, landed, None, split=True)
    assert other[0] == clean[0], "the same rows share a worker"
    assert other[1] == clean[1], "every regency-month count is the same"
    (workers,) = conn.execute("select count(*) from identity.worker where merged_into is null").fetchone()
    assert workers == len(clean[0]), "no worker is left without rows"


def test_a_late_correction_groups_as_a_clean_run_of_the_final_files(conn, tmp_path: Path, monkeypatch) -> None:
    """Case e: January corrected after February was linked, against both months run on the final files."""
    first, final = tmp_path / "first", tmp_path / "final"
    landed = _landing(first)
    assert _landing(final, corrected=True) == landed, "the correction replaces a file, it adds none"
    assert (first / CORRECTED).read_bytes() != (final / CORRECTED).read_bytes()
    monkeypatch.setenv("AIRFLOW_VAR_LANDING_ROOT", str(final))
    clean = _history(conn, landed, None)
    monkeypatch.setenv("AIRFLOW_VAR_LANDING_ROOT", str(first))
    before = _history(conn, landed, None)
    assert before[1] != clean[1], "the correction changes a published figure"
    (first / CORRECTED).write_bytes((final / CORRECTED).read_bytes())  # the clerk sends the second version
    late = _history(conn, landed, None, months=MONTHS[:1], fresh=False)
    (replaced,) = conn.execute(
        "select count(*) from mart.roster_row_status where source_file = %s and status = 'superseded'", (CORRECTED,)
    ).fetchone()
    assert replaced > 0, "the first version's rows are superseded, not counted"
    assert late[1] == clean[1], "every regency-month count is the same"
    assert late[0] == clean[0], "the same rows share a worker"
