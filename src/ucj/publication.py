"""Write-audit-publish for one source kind and month.

New file versions land with every row's state (loaded, quarantined,
duplicate) but are *held*: they count in the marts only once their
kind-month is published. Validation judges the kind-month as it would be
with every held file published (``include/sql/checks/candidate_rows.sql``).
When every expectation is met the held files are published at once; when one
fails they stay held, the marts keep the last published state of that
kind-month, and a data steward decides in the Airflow UI (Required Actions of
``ucj_publication_approval``) — or a fixed file arrives and a later run
judges the kind-month again.

The granularity is the kind-month because that is what the batch-level
expectations judge (the row count against last month, the share of
quarantined rows): a single file cannot fail them on its own, and publishing
part of a failed month would show exactly the false drop the hold prevents.

Who published what, and when, is in ``audit.publication`` and, per row, in
``mart.roster_row_status.publication`` / ``published_by``. Requests and
records carry expectation names and counts only, never row values.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg

from ucj.fingerprint import files_in
from ucj.period import period_label

log = logging.getLogger(__name__)

VALIDATION = "validation"


@dataclass
class Batch:
    """The file versions of a kind-month waiting to be published, and a digest of the kind-month they are judged in.

    The digest covers every version of the kind-month (id and state), so an
    answer to a request about this batch can tell that a later file has
    replaced it since.
    """

    kind: str
    period_month: dt.date
    held_files: list[int]
    candidate: str

    @property
    def period(self) -> str:
        return period_label(self.period_month)


def held_batch(conn: psycopg.Connection, kind: str, period_month: dt.date) -> Batch:
    held = [
        file_id
        for (file_id,) in conn.execute(
            """select file_id from ingest.source_file
               where source_kind = %s and period_month = %s and status = 'loaded' and published_at is null
               order by file_id""",
            (kind, period_month),
        )
    ]
    digest = hashlib.sha256(files_in(conn, period_month, kind, publication=False).encode()).hexdigest()[:32]
    return Batch(kind, period_month, held, digest)


def _lock(conn: psycopg.Connection, kind: str, period_month: dt.date) -> None:
    """One decision per kind-month at a time (the gate of two runs, an approval): until the transaction ends."""
    conn.execute("select pg_advisory_xact_lock(hashtext('ucj.publication'), hashtext(%s))", (f"{kind}/{period_month}",))


def held_files(conn: psycopg.Connection, period_month: dt.date | None = None) -> list[int]:
    """File versions never published (of one month, or all): their rows stay out of the marts.

    Held current versions, and versions replaced by a newer one before they
    were ever published (those never will be).
    """
    return [
        file_id
        for (file_id,) in conn.execute(
            """select file_id from ingest.source_file
               where status <> 'failed' and published_at is null and (%s::date is null or period_month = %s)
               order by file_id""",
            (period_month, period_month),
        )
    ]


@dataclass
class Failure:
    """One failed expectation as a steward reads it: what, over how many rows, how many did not meet it."""

    expectation: str
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    observed_value: Any = None


def failures(results: list[dict[str, Any]]) -> list[Failure]:
    """The failed expectations of a validation result (``ucj.validation``: counts only)."""
    out = []
    for r in results:
        if r["success"]:
            continue
        res = r.get("result") or {}
        percent = res.get("unexpected_percent")
        out.append(
            Failure(
                r["expectation"],
                res.get("element_count"),
                res.get("unexpected_count"),
                None if percent is None else round(float(percent), 2),
                res.get("observed_value"),
            )
        )
    return out


def _record(
    conn: psycopg.Connection,
    batch: Batch,
    decision: str,
    by: str | None,
    run: tuple[str | None, str | None],
    failed: list[Failure] | None = None,
    note: str | None = None,
) -> None:
    conn.execute(
        """insert into audit.publication
             (source_kind, period_month, decision, candidate, file_ids, failed_expectations, decided_by, note,
              dag_id, run_id)
           values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (
            batch.kind, batch.period_month, decision, batch.candidate, batch.held_files,
            None if failed is None else json.dumps([asdict(f) for f in failed], default=str), by, note, *run,
        ),
    )  # fmt: skip


def publish(
    conn: psycopg.Connection, batch: Batch, by: str, run: tuple[str | None, str | None], decision: str = "validated"
) -> int:
    """Publish the batch's held files (in the caller's transaction); return how many were published."""
    published = conn.execute(
        """update ingest.source_file set published_at = now(), published_by = %s
           where file_id = any(%s) and published_at is null and status = 'loaded'""",
        (by, batch.held_files),
    ).rowcount
    _record(conn, batch, decision, by, run)
    return published


@dataclass
class Gate:
    """What the gate did with a kind-month after validation: small, for XCom."""

    kind: str
    period: str
    held_files: int
    published_files: int
    held: bool
    candidate: str
    failed: list[dict[str, Any]] = field(default_factory=list)
    # Stewards' answers already given about this very batch: a rejected batch asked about again gets a new request.
    answers: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def gate(
    conn: psycopg.Connection,
    kind: str,
    period_month: dt.date,
    validation_success: bool,
    validation_results: list[dict[str, Any]],
    run: tuple[str | None, str | None],
) -> Gate:
    """Publish the kind-month's held files if it passed validation, else hold them (one transaction)."""
    with conn.transaction():
        conn.execute(
            "select pg_advisory_xact_lock(hashtext('ucj.publication'), hashtext(%s))", (f"{kind}/{period_month}",)
        )
        batch = held_batch(conn, kind, period_month)
        if not batch.held_files:
            return Gate(kind, batch.period, 0, 0, False, batch.candidate)
        if validation_success:
            published = publish(conn, batch, VALIDATION, run)
            log.info("%s %s: validation passed, %d file(s) published", kind, batch.period, published)
            return Gate(kind, batch.period, len(batch.held_files), published, False, batch.candidate)
        failed = failures(validation_results)
        _record(conn, batch, "held", None, run, failed)
        (answers,) = conn.execute(
            """select count(*) from audit.publication
               where source_kind = %s and period_month = %s and candidate = %s and decision <> 'held'""",
            (kind, period_month, batch.candidate),
        ).fetchone()
    log.warning(
        "%s %s: validation failed (%s); %d file(s) held, the marts keep the last published state",
        kind, batch.period, ", ".join(f.expectation for f in failed), len(batch.held_files),
    )  # fmt: skip
    return Gate(
        kind, batch.period, len(batch.held_files), 0, True, batch.candidate, [asdict(f) for f in failed], answers
    )


@dataclass
class Decision:
    applied: bool
    published_files: int
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def decide(
    conn: psycopg.Connection,
    kind: str,
    period_month: dt.date,
    candidate: str,
    approved: bool,
    by: str,
    run: tuple[str | None, str | None],
) -> Decision:
    """A steward's answer to a held batch; it applies only to the batch it was asked about."""
    with conn.transaction():
        conn.execute(
            "select pg_advisory_xact_lock(hashtext('ucj.publication'), hashtext(%s))", (f"{kind}/{period_month}",)
        )
        batch = held_batch(conn, kind, period_month)
        label = f"{kind} {batch.period}"
        if batch.candidate != candidate or not batch.held_files:
            message = (
                f"{label}: the batch this request was about has since been replaced or published by a later run; "
                f"this answer ({'approve' if approved else 'reject'} by {by}) applies to nothing"
            )
            _record(conn, batch, "void", by, run, note=message)
            return Decision(False, 0, message)
        if not approved:
            _record(conn, batch, "rejected", by, run)
            return Decision(
                True, 0, f"{label}: {by} rejected publication; the files stay held until a fixed file arrives"
            )
        published = publish(conn, batch, by, run, decision="approved")
    return Decision(True, published, f"{label}: {by} approved publication of {published} file(s)")


def approval_body(result: Gate) -> str:
    """The Required Action's text for a held batch, in Indonesian: what failed, with counts, never row values."""
    lines = [
        f"**Sumber:** {result.kind} · **Bulan:** {result.period} · **Berkas ditahan:** {result.held_files}",
        "",
        "Validasi (Great Expectations) gagal untuk bulan ini. Selama ditahan, mart BI tetap menampilkan "
        "data terakhir yang sudah terbit untuk sumber dan bulan ini.",
        "",
        "| Ekspektasi yang gagal | Baris diperiksa | Tidak memenuhi | % | Nilai teramati |",
        "|---|---|---|---|---|",
    ]
    for f in result.failed:
        observed = "" if f.get("observed_value") is None else str(f["observed_value"])
        lines.append(
            f"| `{f['expectation']}` | {_n(f.get('element_count'))} | {_n(f.get('unexpected_count'))} "
            f"| {_n(f.get('unexpected_percent'))} | {observed} |"
        )
    lines += [
        "",
        "- **Terbitkan**: data bulan ini memang benar (mis. unit memang berkurang); berkas yang ditahan "
        "langsung dihitung di mart.",
        "- **Tolak**: tetap ditahan; minta pengirim mengirim berkas perbaikan. Berkas perbaikan yang lolos "
        "validasi terbit sendiri.",
        "",
        "Laporan per berkas (bahasa Indonesia) ada di folder laporan petugas; Data Docs Great Expectations "
        "menampilkan hasil lengkapnya.",
    ]
    return "\n".join(lines)


def _n(value: Any) -> str:
    return "" if value is None else f"{value}"
