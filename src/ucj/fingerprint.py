"""Skip work whose inputs have not changed since it last succeeded.

A rerun of an unchanged month should cost seconds, not redo validation and the
fact load. Each stage records a fingerprint of what it read; the next run
computes the fingerprint again (cheap: file versions and counters, never row
contents) and reuses the stored result when it matches. Anything that could
change a stage's output is in its fingerprint, so a skip is always safe; a
`force` run ignores fingerprints altogether.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from typing import Any

import psycopg

from ucj.period import previous_month
from ucj.settings import GX_DIR, SQL_DIR, settings

log = logging.getLogger(__name__)


def _digest(*parts: object) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(repr(part).encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def file_checksum(*paths: Any) -> str:
    return _digest(*(path.read_bytes() for path in paths))


def config_checksum() -> str:
    """The settings in force (pipeline.yaml with any deployment override), not the file's bytes."""
    return _digest(json.dumps(settings().model_dump(mode="json"), sort_keys=True))


def files_in(conn: psycopg.Connection, period_month: dt.date, kind: str | None = None, publication: bool = True) -> str:
    """The file versions received for a month (and kind), as one fingerprint part.

    Per version: its id and status, whether it is published, and how often
    its rows were interpreted again (``ingest_batch(..., reinterpret=True)``).

    Validation judges the files whatever their publication (``publication=False``):
    publishing a batch that passed must not make the next run validate it again.
    """
    (text,) = conn.execute(
        """select coalesce(string_agg(
                      file_id || ':' || status
                      || case when %s and published_at is null and status = 'loaded' then ':held' else '' end
                      || case when interpretation > 0 then ':r' || interpretation else '' end,
                      ',' order by file_id), '')
           from ingest.source_file
           where period_month = %s and (%s::text is null or source_kind = %s)""",
        (publication, period_month, kind, kind),
    ).fetchone()
    return text


def identity_generation(conn: psycopg.Connection) -> int:
    return conn.execute("select generation from meta.identity_generation").fetchone()[0]


def bump_identity_generation(conn: psycopg.Connection) -> None:
    conn.execute("update meta.identity_generation set generation = generation + 1")


def settle_fingerprint(conn: psycopg.Connection, kind: str, period_month: dt.date) -> str:
    return _digest(files_in(conn, period_month, kind), file_checksum(SQL_DIR / "load" / "settle_snapshots.sql"))


def validation_fingerprint(conn: psycopg.Connection, kind: str, period_month: dt.date) -> str:
    previous = previous_month(period_month)  # the row-count threshold reads it
    return _digest(
        files_in(conn, period_month, kind, publication=False),
        files_in(conn, previous, kind),
        file_checksum(GX_DIR / f"roster_{kind}.json"),
        config_checksum(),
    )


LOAD_SQL = (
    "submissions.sql", "load_period.sql", "refresh_aggregates.sql", "worker_month.sql", "worker_versions.sql",
    "apply_identity_changes.sql",
)  # fmt: skip


def _load_sql_checksum() -> str:
    return file_checksum(*(SQL_DIR / "load" / f for f in LOAD_SQL))


def load_fingerprint(conn: psycopg.Connection, period_month: dt.date) -> str:
    return _digest(files_in(conn, period_month), identity_generation(conn), _load_sql_checksum())


def load_inputs(conn: psycopg.Connection, period_month: dt.date, versions: str | None = None) -> dict[str, str]:
    """The load's inputs but identity, stored with each load: with the same SQL, a month can take what
    changed since instead of a reload (``facts.incremental_scope``). ``versions``: the month's
    :func:`files_in`, when the caller has read it already."""
    return {
        "files": _digest(files_in(conn, period_month) if versions is None else versions),
        "sql": _load_sql_checksum(),
    }


def churn_sql_checksum() -> str:
    return file_checksum(SQL_DIR / "load" / "refresh_churn.sql")


def churn_fingerprint(conn: psycopg.Connection) -> str:
    """What the churn aggregates are built from: every month's load as recorded, what loads left for the
    churn to count (``dw.churn_pending``), and the SQL."""
    (loads, pending) = conn.execute(
        """select coalesce(string_agg(scope || '=' || fingerprint, ',' order by scope), ''),
                  (select count(*) from dw.churn_pending)
           from meta.stage_fingerprint where stage = 'load'"""
    ).fetchone()
    return _digest(loads, str(pending), churn_sql_checksum())


def churn_sql_changed(conn: psycopg.Connection) -> bool:
    """Whether the churn was last counted by another refresh_churn.sql (or never): then it is counted whole."""
    last = last_result(conn, "churn", "all")
    return last is None or last.get("sql") != churn_sql_checksum()


def reusable(conn: psycopg.Connection, stage: str, scope: str, fingerprint: str) -> dict[str, Any] | None:
    """The stored result when the stage already processed exactly these inputs."""
    row = conn.execute(
        "select result, done_at from meta.stage_fingerprint where stage = %s and scope = %s and fingerprint = %s",
        (stage, scope, fingerprint),
    ).fetchone()
    if row is None:
        return None
    log.info("%s %s: inputs unchanged since %s, reusing that result (run with force to redo)", stage, scope, row[1])
    return row[0]


def last_result(conn: psycopg.Connection, stage: str, scope: str) -> dict[str, Any] | None:
    """The stage's last stored result for the scope, whatever its inputs were."""
    row = conn.execute(
        "select result from meta.stage_fingerprint where stage = %s and scope = %s", (stage, scope)
    ).fetchone()
    return None if row is None else row[0]


def record(conn: psycopg.Connection, stage: str, scope: str, fingerprint: str, result: Any) -> None:
    conn.execute(
        """insert into meta.stage_fingerprint (stage, scope, fingerprint, result) values (%s, %s, %s, %s)
           on conflict (stage, scope) do update
           set fingerprint = excluded.fingerprint, result = excluded.result, done_at = now()""",
        (stage, scope, fingerprint, json.dumps(result, default=str)),
    )


def linkage_fingerprint(conn: psycopg.Connection) -> str:
    """What the probabilistic pass reads: the workers (their generation), every reviewer decision, its settings."""
    (decisions,) = conn.execute(
        """select coalesce(string_agg(d, ',' order by d), '') from (
               select 'c' || worker_a || '-' || worker_b || ':' || status as d
               from identity.match_candidate where status in ('accepted', 'rejected')
               union all
               select 'k' || worker_a || '-' || worker_b from identity.keep_apart
               union all
               select 'r' || file_id || '-' || source_row || ':' || coalesce(applied_worker_key::text, '')
               from identity.row_decision
           ) as all_decisions"""
    ).fetchone()
    return _digest(identity_generation(conn), decisions, config_checksum())
