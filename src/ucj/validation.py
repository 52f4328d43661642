"""Great Expectations validation of one source kind's rows in force for a month.

Row-level quarantine is decided by ``ucj.roster.rows`` (vectorised checks that
know every row); GX audits the result as a batch, mirrors those rules, and
holds the batch-level thresholds: the share of quarantined rows and the row
count against last month. Suites are JSON files in ``include/gx/`` whose
``$name`` placeholders are filled from ``pipeline.yaml``.

Only outcomes and counts are kept: GX result objects can embed row values
(``partial_unexpected_list``), and NIKs or names must never reach the audit
table, XCom or logs.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pyarrow as pa

from ucj.period import parse_period, period_end, previous_month
from ucj.roster.rows import PROGRAMS, age_at
from ucj.settings import GX_DIR, settings, var_dir
from ucj.warehouse import sql_file

log = logging.getLogger(__name__)

# Result keys that are counts or shares, never values from rows.
_SAFE_RESULT_KEYS = {
    "element_count", "unexpected_count", "unexpected_percent", "missing_count", "missing_percent",
    "unexpected_percent_nonmissing", "unexpected_percent_total",
}  # fmt: skip
_TABLE_EXPECTATIONS = {"expect_table_row_count_to_be_between"}


@dataclass
class ValidationOutcome:
    suite: str
    success: bool
    row_count: int
    evaluated: int
    successful: int
    failed: list[str] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """For XCom and logs: no row values."""
        return {
            "suite": self.suite,
            "success": self.success,
            "row_count": self.row_count,
            "evaluated": self.evaluated,
            "successful": self.successful,
            "failed": self.failed,
        }


def rule_params() -> dict[str, Any]:
    """The suites' literals that are rules of the pipeline, from their one home.

    The age bounds are those the row rules quarantine by (pipeline.yaml),
    the programs those of the vocabulary: a suite can then never pass rows
    the rules refuse, nor fail rows they accept, after either is changed.
    """
    cfg = settings().validation
    programs = "|".join(re.escape(p) for p in PROGRAMS)
    return {
        "min_age_years": cfg.min_age_years,
        "max_age_years": cfg.max_age_years,
        "programs_pattern": f"^(?:{programs})(?:,(?:{programs}))*$",
    }


def load_suite(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """A suite with its ``"$name"`` values filled from ``rule_params()`` and ``params`` (the month's)."""
    spec = json.loads((GX_DIR / f"roster_{kind}.json").read_text(encoding="utf-8"))
    values = {**rule_params(), **params}
    for exp in spec["expectations"]:
        for key, value in list(exp["kwargs"].items()):
            if isinstance(value, str) and value.startswith("$"):
                if value[1:] not in values:
                    raise KeyError(f"{GX_DIR / f'roster_{kind}.json'}: no value for {value} in {exp['type']}")
                exp["kwargs"][key] = values[value[1:]]
        exp["kwargs"] = {k: v for k, v in exp["kwargs"].items() if v is not None}
    return spec


_GX_LOCK = threading.Lock()


def _gx():
    """The GX module and context, made once per process (a second caller waits for the first)."""
    with _GX_LOCK:
        return _make_gx()


@lru_cache(maxsize=1)
def _make_gx():
    """A file-backed GX context under ``<var>/gx``: results accumulate into one Data Docs site.

    GX is imported lazily and quietly: it is slow to import and chatty at INFO.
    """
    for name in ("great_expectations", "great_expectations._docs_decorators"):
        logging.getLogger(name).setLevel(logging.WARNING)
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    root = var_dir() / "gx"
    root.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(root))
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    _bound_data_docs_index(context, int(settings().validation.data_docs_index_limit))
    return gx, context


def _prepare_gx() -> None:
    """``_gx()`` ahead of time; a failure is left for the call that needs GX, which raises it."""
    try:
        _gx()
    except Exception:  # raised again, with its traceback, by validate_frame's own call
        log.debug("preparing GX failed; validation will raise it", exc_info=True)


def _bound_data_docs_index(context: Any, limit: int) -> None:
    """Each site's index lists at most ``limit`` validation results (the latest ones)."""
    for name, site in context.list_data_docs_sites().items():
        index = dict(site.get("site_index_builder") or {"class_name": "DefaultSiteIndexBuilder"})
        if index.get("validation_results_limit") != limit:
            index["validation_results_limit"] = limit
            context.update_data_docs_site(name, {**site, "site_index_builder": index})


def data_docs_index() -> Path:
    return var_dir() / "gx" / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"


def _batch_definition(context: Any, asset_name: str) -> Any:
    try:
        source = context.data_sources.get("rosters")
    except (KeyError, ValueError, LookupError):
        source = context.data_sources.add_pandas("rosters")
    try:
        asset = source.get_asset(asset_name)
    except LookupError:
        asset = source.add_dataframe_asset(asset_name)
    try:
        return asset.get_batch_definition("whole")
    except (KeyError, LookupError):
        return asset.add_batch_definition_whole_dataframe("whole")


def _condition_groups(spec: dict[str, Any]) -> list[tuple[str | None, list[dict[str, Any]]]]:
    """Expectations grouped by their pandas ``row_condition``, unconditional ones first.

    GX filters the whole frame again for every metric of a conditional
    expectation (``DataFrame.query`` and a copy of every column, ~40 times per
    suite): on a month of rows that was over half the validation time. Each
    condition is applied here once, to the columns its expectations read, and
    the group validated as its own batch with the condition taken off: the
    same rows are judged by the same expectations.
    """
    groups: dict[str | None, list[dict[str, Any]]] = {None: []}
    for exp in spec["expectations"]:
        kwargs = exp["kwargs"]
        condition = kwargs.get("row_condition")
        if condition and kwargs.get("condition_parser") == "pandas":
            kwargs = {k: v for k, v in kwargs.items() if k not in ("row_condition", "condition_parser")}
            groups.setdefault(condition, []).append({**exp, "kwargs": kwargs})
        else:
            groups[None].append(exp)
    return [(condition, exps) for condition, exps in groups.items() if exps]


def _group_name(suite: str, condition: str | None) -> str:
    """``roster_village.where_status_is_loaded``: the Data Docs page says which rows it judged."""
    if condition is None:
        return suite
    words = condition.replace("!=", " not ").replace("==", " is ")
    return f"{suite}.where_" + "_".join(re.findall(r"\w+", words))


def _group_frame(frame: pd.DataFrame, condition: str | None, expectations: list[dict[str, Any]]) -> pd.DataFrame:
    """The group's rows, and only the columns its expectations read.

    GX hashes every batch whole to fingerprint it; the unconditional group
    reads 6 of the frame's 14 columns, and hashing the other 8 was a tenth
    of validating a kind. A group of table-level expectations only (a row
    count) keeps one column, so its rows are still there to count.
    """
    columns: list[str] = []
    for exp in expectations:
        for column in [exp["kwargs"].get("column"), *exp["kwargs"].get("column_list", [])]:
            if column and column not in columns:
                columns.append(column)
    rows = frame if condition is None else frame.query(condition)
    return rows[columns or list(frame.columns[:1])]


def validate_frame(frame: pd.DataFrame, spec: dict[str, Any], run_name: str = "adhoc") -> ValidationOutcome:
    gx, context = _gx()
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    run_id = RunIdentifier(run_name=run_name)
    documented: list[Any] = []
    raw_results: list[dict[str, Any]] = []
    for condition, expectations in _condition_groups(spec):
        name = _group_name(spec["name"], condition)
        suite = gx.ExpectationSuite(name=name)
        for exp in expectations:
            suite.add_expectation_configuration(ExpectationConfiguration(type=exp["type"], kwargs=exp["kwargs"]))
        suite = context.suites.add_or_update(suite)
        definition = context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=name, data=_batch_definition(context, name), suite=suite)
        )
        checkpoint = context.checkpoints.add_or_update(
            gx.Checkpoint(
                name=name,
                validation_definitions=[definition],
                # Data Docs are built once below for every group of the suite.
                actions=[],
                # SUMMARY gives unexpected counts; partial_unexpected_count=0 keeps
                # row values (NIKs, names) out of results and Data Docs. COMPLETE,
                # whose result building dominates on big batches (GX #8671), is
                # never asked for.
                result_format={"result_format": "SUMMARY", "partial_unexpected_count": 0},
            )
        )
        group_frame = _group_frame(frame, condition, expectations)
        checkpoint_result = checkpoint.run(batch_parameters={"dataframe": group_frame}, run_id=run_id)
        for identifier, result in checkpoint_result.run_results.items():
            documented += [identifier, ExpectationSuiteIdentifier(name=name)]
            raw_results += result.to_json_dict()["results"]
    context.build_data_docs(resource_identifiers=documented)

    results = []
    failed = []
    for r in raw_results:
        cfg = r["expectation_config"]
        column = cfg["kwargs"].get("column") or ",".join(cfg["kwargs"].get("column_list", []))
        label = f"{cfg['type']}({column})" if column else cfg["type"]
        kept = {k: v for k, v in (r.get("result") or {}).items() if k in _SAFE_RESULT_KEYS}
        if cfg["type"] in _TABLE_EXPECTATIONS:
            kept["observed_value"] = (r.get("result") or {}).get("observed_value")
        if r.get("exception_info", {}).get("raised_exception"):
            kept["exception"] = str(r["exception_info"].get("exception_message"))[:200]
        results.append({"expectation": label, "success": r["success"], "result": kept})
        if not r["success"]:
            failed.append(label)
    return ValidationOutcome(
        suite=spec["name"],
        success=not failed,
        row_count=len(frame),
        evaluated=len(results),
        successful=len(results) - len(failed),
        failed=failed,
        results=results,
    )


_FRAME_COLUMNS = (
    "file_id", "status", "row_hash", "nik", "nik_quality", "name_key", "birth_date", "gender", "programs",
    "funding_source", "segment", "unit_key", "regency_code",
)  # fmt: skip


def _frame(conn: psycopg.Connection, kind: str, period_month: dt.date) -> pd.DataFrame:
    """The month's rows as they would be in force with every held file published, as strings, fetched by COPY.

    NULL stays NULL, an empty string stays empty. Validation judges what
    publication would show (write-audit-publish), so a failing batch can be
    held before the marts see it.
    """
    from ucj.bulk import fetch_arrow

    types = {name: pa.int64() if name == "file_id" else pa.string() for name in _FRAME_COLUMNS}
    # Right after a bulk load the row estimates are poor, and a nested loop of the month's rows
    # against its files is the planner's costly mistake (41 s for 12k rows, measured).
    conn.execute("set local enable_nestloop = off")
    table = fetch_arrow(conn, sql_file("checks/candidate_rows.sql"), {"kind": kind, "period": period_month}, types)
    frame = table.to_pandas()
    end = period_end(period_month)
    # The same age rule as the row checks: an approximate age (days / 365.25)
    # disagrees with it around birthdays and would fail rows that were right.
    ages = {born: age_at(dt.date.fromisoformat(born), end) for born in frame["birth_date"].dropna().unique()}
    frame["age"] = frame["birth_date"].map(ages)
    return frame


def validate_period(
    conn: psycopg.Connection, kind: str, period: str, dag_id: str | None, run_id: str | None
) -> ValidationOutcome:
    """Validate the month's rows in force for one kind; store the outcome in audit.validation_run."""
    period_month = parse_period(period)
    cfg = settings().validation
    (files,) = conn.execute(
        "select count(*) from ingest.source_file where source_kind = %s and period_month = %s", (kind, period_month)
    ).fetchone()
    if not files:
        # Nothing received is a completeness question (units_reported in the
        # mart), not a failed batch: there is no batch.
        log.info("no %s files for %s: nothing to validate", kind, period)
        return ValidationOutcome(suite=f"roster_{kind}", success=True, row_count=0, evaluated=0, successful=0)
    # GX takes seconds to import; most of fetching the rows is PostgreSQL's
    # work, during which this process would otherwise sit idle.
    importing = threading.Thread(target=_prepare_gx, name="import-great-expectations", daemon=True)
    importing.start()
    frame = _frame(conn, kind, period_month)
    importing.join()
    previous = previous_month(period_month)
    # Last month as published: a held batch is no yardstick.
    (last_month,) = conn.execute(
        """select count(*) from ingest.roster_row as r join ingest.source_file as f using (file_id)
           where r.source_kind = %s and r.period_month = %s and not r.superseded and f.published_at is not null""",
        (kind, previous),
    ).fetchone()
    params = {
        "min_loaded_share": 1 - cfg.max_quarantined_share,
        "min_row_count": int(last_month * cfg.min_rowcount_vs_last_month) if last_month else None,
    }
    outcome = validate_frame(frame, load_suite(kind, params), run_name=f"{kind}_{period}")
    conn.execute(
        """insert into audit.validation_run
             (dag_id, run_id, source_kind, period_month, suite_name, success, evaluated, successful, row_count,
              results, data_docs_path)
           values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (
            dag_id, run_id, kind, period_month, outcome.suite, outcome.success, outcome.evaluated,
            outcome.successful, outcome.row_count, json.dumps(outcome.results), str(data_docs_index()),
        ),
    )  # fmt: skip
    log.info(
        "validated %s %s: %d rows, %d/%d expectations met; Data Docs: file://%s",
        kind, period, outcome.row_count, outcome.successful, outcome.evaluated, data_docs_index(),
    )  # fmt: skip
    return outcome
