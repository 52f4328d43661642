"""Shared DAG policy: defaults, alerting, assets and the period a run is for.

One small module, imported by every DAG file, so that owners, retries,
alerting and tags are the same everywhere and tests can enforce them.
Importing it must stay cheap: DAG files are parsed every few seconds.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import urllib.request
from typing import Any

from ucj.period import parse_period, period_label, previous_month

log = logging.getLogger("ucj.alerts")

OWNER = "ucj-data"
TAGS = ["ucj", "bpjamsostek"]
ASSET_URI = "ucj://roster/{kind}"
# Published roster changes are emitted through this alias, to the kind's
# Asset, only when something was published: an unchanged cycle emits nothing.
PUBLISHED_ALIAS = "ucj_roster_published"
# Reviewers' decisions made in the Airflow UI (ucj_identity_review) start a consolidation.
DECISIONS_URI = "ucj://identity/decisions"
# Pairs waiting for a reviewer start (or continue) ucj_identity_review.
REVIEW_QUEUE_URI = "ucj://identity/review_queue"
REVIEW_ALIAS = "ucj_review_queue"
# A steward's two answers to a held batch (Required Actions of ucj_publication_approval).
APPROVE_OPTION = "Terbitkan"
REJECT_OPTION = "Tolak"
ALERT_CONN_ID = "ucj_alerts"


class PeriodError(ValueError):
    """The period asked for cannot be a roster month."""


def resolve_period(param: str | None, logical_date: dt.datetime | None) -> str:
    """The month a run is for: the ``period`` param, else the month before the run's date.

    A monthly run at the start of March collects February's rosters; a
    manual run without a period does the same for the month before today.
    """
    if param:
        try:
            return period_label(parse_period(param))
        except ValueError as exc:
            raise PeriodError(str(exc)) from exc
    when = logical_date or dt.datetime.now(dt.UTC)
    first = when.date().replace(day=1)
    return period_label(previous_month(first))


def period_param(description: str) -> Any:
    """The ``period`` param every DAG takes: empty, or a month YYYY-MM (validated in the trigger form)."""
    from airflow.sdk import Param

    return Param(None, type=["null", "string"], pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description=description)


def stable_seconds_param() -> Any:
    """How long a file must be unchanged to be read; empty = arrival.stable_seconds of pipeline.yaml."""
    from airflow.sdk import Param

    return Param(
        None,
        type=["null", "number"],
        minimum=0,
        description=(
            "Leave files modified in the last N seconds for the next run (still being copied); "
            "empty = arrival.stable_seconds (pipeline.yaml)."
        ),
    )


def reinterpret_param() -> Any:
    """Interpret files already loaded again, after a vocabulary or header-synonym change."""
    from airflow.sdk import Param

    return Param(
        False,
        type="boolean",
        description=(
            "Read every file already loaded for the month again and interpret its rows with the current "
            "vocabulary and header synonyms (after a spelling was added); the month is then validated, settled "
            "and consolidated again. Files are otherwise skipped when their bytes are unchanged."
        ),
    )


def force_param() -> Any:
    """Redo stages even when their inputs are unchanged since they last succeeded."""
    from airflow.sdk import Param

    return Param(
        False,
        type="boolean",
        description=(
            "Redo settle/validate/load even when their inputs are unchanged since they last succeeded "
            "(normally such a rerun reuses the earlier result and says so in the log)."
        ),
    )


def alert_payload(context: dict[str, Any]) -> dict[str, Any]:
    """What on-call needs to find the failure; never row values."""
    ti = context.get("ti") or context.get("task_instance")
    exception = context.get("exception")
    return {
        "event": "ucj_task_failed",
        "dag_id": getattr(ti, "dag_id", None),
        "task_id": getattr(ti, "task_id", None),
        "run_id": getattr(ti, "run_id", None),
        "map_index": getattr(ti, "map_index", None),
        "try_number": getattr(ti, "try_number", None),
        "error_type": type(exception).__name__ if exception else None,
        "error": str(exception)[:2000] if exception else None,
        "period": (context.get("params") or {}).get("period"),
    }


def on_failure(context: dict[str, Any]) -> None:
    """Log a structured alert always; POST it to a webhook when ``ucj_alerts`` is configured.

    The webhook is an Airflow connection (``AIRFLOW_CONN_UCJ_ALERTS=https://...``)
    so its secret stays out of the code; a failing webhook must not hide the
    original failure, so its own errors are logged, not raised.
    """
    payload = alert_payload(context)
    log.error("ALERT %s", json.dumps(payload, default=str))
    url = os.environ.get("AIRFLOW_CONN_UCJ_ALERTS")
    if not url:
        return
    url = url.replace("http-", "").replace("https-", "")  # tolerate conn-type prefixes
    if not url.startswith(("http://", "https://")):
        log.error("%s must be an http(s) URL; alert not sent", ALERT_CONN_ID)
        return
    body = json.dumps(payload, default=str).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - scheme checked above
            pass
    except OSError as exc:
        log.error("could not deliver alert to %s: %s", ALERT_CONN_ID, exc)


DEFAULT_ARGS: dict[str, Any] = {
    "owner": OWNER,
    # Transient failures (database restart, network) are retried with backoff;
    # data problems raise AirflowFailException, which is never retried.
    "retries": 2,
    "retry_delay": dt.timedelta(seconds=30),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": dt.timedelta(minutes=10),
    "execution_timeout": dt.timedelta(hours=2),
    "on_failure_callback": on_failure,
}
