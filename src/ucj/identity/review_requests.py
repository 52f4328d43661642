"""The identity review queue as pages of Required Actions in the Airflow UI.

A page shows up to ``identity.review.pairs_per_request`` doubtful pairs
(``identity.review_queue``), each with both workers side by side: names,
birth dates, masked NIKs, gender, the roster rows behind them, the model's
per-field comparison and its match probability. The reviewer answers every
pair of the page in one form (accept / reject / skip); the answers land in
``identity.match_candidate`` with ``decided_by`` = the logged-in Airflow user,
exactly as an SQL ``update`` would, and the next consolidation applies them.

Pairs nobody has been shown come first, then the ones shown longest ago, so
skipped pairs come back on a later page instead of blocking the queue.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg

log = logging.getLogger(__name__)

ACCEPT, REJECT, SKIP = "terima", "tolak", "lewati"
CHOICES = [ACCEPT, REJECT, SKIP]
_STATUS = {ACCEPT: "accepted", REJECT: "rejected"}
ROWS_SHOWN = 3


@dataclass
class Side:
    worker_key: int
    name: str | None
    birth_date: str | None
    nik_masked: str | None
    gender: str | None
    rows: list[str] = field(default_factory=list)
    row_count: int = 0


@dataclass
class QueuedPair:
    """A pair waiting in identity.review_queue, with both workers as a reviewer sees them."""

    worker_a: int
    worker_b: int
    probability: float
    weight: float
    comparison: dict[str, Any]
    a: Side
    b: Side

    @property
    def key(self) -> str:
        """The form field of this pair: stable, and it names both workers."""
        return f"pair_{self.worker_a}_{self.worker_b}"


def _mask(nik: str | None) -> str | None:
    return None if not nik else f"{nik[:4]}{'*' * max(len(nik) - 6, 0)}{nik[-2:]}"


def next_pairs(conn: psycopg.Connection, limit: int) -> list[QueuedPair]:
    """The next page of the queue: never shown first, then shown longest ago; most likely first."""
    found = conn.execute(
        """select q.worker_a, q.worker_b, q.match_probability, q.match_weight, q.comparison,
                  q.name_a, q.birth_date_a, q.nik_a, q.gender_a, q.name_b, q.birth_date_b, q.nik_b, q.gender_b
           from identity.review_queue as q
           join identity.match_candidate as c using (worker_a, worker_b)
           order by c.presented_at nulls first, q.match_probability desc, q.worker_a, q.worker_b
           limit %s""",
        (limit,),
    ).fetchall()
    pairs = [
        QueuedPair(
            a,
            b,
            float(p),
            float(w),
            comparison or {},
            Side(a, na, _iso(ba), _mask(ka), ga),
            Side(b, nb, _iso(bb), _mask(kb), gb),
        )
        for a, b, p, w, comparison, na, ba, ka, ga, nb, bb, kb, gb in found
    ]
    workers = sorted({s.worker_key for pair in pairs for s in (pair.a, pair.b)})
    rows: dict[int, list[str]] = {}
    counts: dict[int, int] = {}
    for worker_key, rel_path, source_row, n in conn.execute(
        """select worker_key, rel_path, source_row, count(*) over (partition by worker_key)
           from identity.worker_rows where worker_key = any(%s)
           order by worker_key, period_month, rel_path, source_row""",
        (workers,),
    ):
        counts[worker_key] = n
        if len(rows.setdefault(worker_key, [])) < ROWS_SHOWN:
            rows[worker_key].append(f"{rel_path} baris {source_row}")
    for pair in pairs:
        for side in (pair.a, pair.b):
            side.rows, side.row_count = rows.get(side.worker_key, []), counts.get(side.worker_key, 0)
    return pairs


def _iso(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def mark_presented(conn: psycopg.Connection, pairs: list[QueuedPair], request: str) -> None:
    conn.execute(
        """update identity.match_candidate as c set presented_at = now(), presented_in = %s
           from unnest(%s::bigint[], %s::bigint[]) as p (a, b)
           where c.worker_a = p.a and c.worker_b = p.b""",
        (request, [p.worker_a for p in pairs], [p.worker_b for p in pairs]),
    )


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _comparison(comparison: dict[str, Any]) -> str:
    parts = []
    for name, detail in comparison.items():
        if isinstance(detail, dict):
            level = detail.get("gamma", detail.get("level"))
            weight = detail.get("weight", detail.get("match_weight"))
            text = f"{name} level {level}"
            if isinstance(weight, int | float):
                text += f" ({weight:+.1f})"
            parts.append(text)
        else:
            parts.append(f"{name} {detail}")
    return "; ".join(parts)


def request_body(pairs: list[QueuedPair], waiting: int) -> str:
    """The page in Markdown, in Indonesian: both workers of each pair side by side."""
    lines = [
        f"**{len(pairs)} pasangan** dari {waiting} yang menunggu. Untuk setiap pasangan pilih di formulir: "
        f"**{ACCEPT}** (orang yang sama: digabung), **{REJECT}** (dua orang berbeda: tidak akan digabung) "
        f"atau **{SKIP}** (ragu: muncul lagi nanti). Keputusan dipakai pada konsolidasi berikutnya.",
        "",
    ]
    for n, pair in enumerate(pairs, 1):
        lines += [
            f"#### {n}. `{pair.key}` — peluang orang yang sama {pair.probability:.4f} (bobot {pair.weight:+.1f})",
            "",
            f"| | Pekerja {pair.worker_a} | Pekerja {pair.worker_b} |",
            "|---|---|---|",
            f"| Nama | {_cell(pair.a.name)} | {_cell(pair.b.name)} |",
            f"| Tanggal lahir | {_cell(pair.a.birth_date)} | {_cell(pair.b.birth_date)} |",
            f"| NIK (disamarkan) | {_cell(pair.a.nik_masked)} | {_cell(pair.b.nik_masked)} |",
            f"| Jenis kelamin | {_cell(pair.a.gender)} | {_cell(pair.b.gender)} |",
            f"| Baris roster ({pair.a.row_count} / {pair.b.row_count}) | {_cell('; '.join(pair.a.rows))} "
            f"| {_cell('; '.join(pair.b.rows))} |",
            "",
            f"Perbandingan per kolom: {_cell(_comparison(pair.comparison))}",
            "",
        ]
    return "\n".join(lines)


def form(pairs: list[QueuedPair]) -> dict[str, dict[str, Any]]:
    """One choice per pair (default: skip), as Airflow Param definitions."""
    return {
        pair.key: {
            "default": SKIP,
            "type": "string",
            "enum": CHOICES,
            "title": f"{n}. {pair.a.name or pair.worker_a} ↔ {pair.b.name or pair.worker_b}",
            "description": f"Pekerja {pair.worker_a} dan {pair.worker_b}, peluang {pair.probability:.4f}",
        }
        for n, pair in enumerate(pairs, 1)
    }


@dataclass
class Answers:
    accepted: int = 0
    rejected: int = 0
    skipped: int = 0
    # Pairs decided meanwhile (by SQL, another page) or no longer in the queue: left as they are.
    already_decided: int = 0

    @property
    def decided(self) -> int:
        return self.accepted + self.rejected

    def as_dict(self) -> dict[str, int]:
        return {**asdict(self), "decided": self.decided}


def parse_key(key: str) -> tuple[int, int]:
    prefix, a, b = key.split("_")
    if prefix != "pair":
        raise ValueError(f"not a review pair field: {key!r}")
    return int(a), int(b)


def apply_answers(conn: psycopg.Connection, answers: dict[str, Any], by: str, note: str | None = None) -> Answers:
    """Record a page's answers as reviewers' decisions; a pair decided meanwhile keeps its decision."""
    result = Answers()
    for key, choice in sorted(answers.items()):
        if choice not in CHOICES:
            raise ValueError(f"{key}: answer must be one of {CHOICES}, got {choice!r}")
        if choice == SKIP:
            result.skipped += 1
            continue
        a, b = parse_key(key)
        updated = conn.execute(
            """update identity.match_candidate
               set status = %s, decided_by = %s, decided_at = now(), note = coalesce(%s, note)
               where worker_a = %s and worker_b = %s and status = 'pending'""",
            (_STATUS[choice], by, note, a, b),
        ).rowcount
        if not updated:
            result.already_decided += 1
        elif choice == ACCEPT:
            result.accepted += 1
        else:
            result.rejected += 1
    return result


def waiting(conn: psycopg.Connection) -> int:
    return conn.execute("select count(*) from identity.review_queue").fetchone()[0]


def never_shown(conn: psycopg.Connection, again_after_days: float | None = None) -> int:
    """Waiting pairs no open request shows: a new page is worth asking for.

    A pair shown on a page that expired unanswered (older than
    ``again_after_days``, the request timeout) counts as not shown.
    """
    return conn.execute(
        """select count(*) from identity.review_queue as q
           join identity.match_candidate as c using (worker_a, worker_b)
           where c.presented_at is null
              or (%s::float8 is not null and c.presented_at < now() - interval '1 day' * %s::float8)""",
        (again_after_days, again_after_days),
    ).fetchone()[0]


def page_open(conn: psycopg.Connection, expires_after_days: float) -> bool:
    """A page is waiting for its reviewer: no second page is asked for meanwhile (it would queue behind).

    A page older than its request timeout counts as closed, even if the run
    that showed it never recorded an answer (it failed, or was cleared).
    """
    return conn.execute(
        """select exists (select from identity.match_candidate
                          where status = 'pending' and presented_in is not null
                            and presented_at > now() - interval '1 day' * %s::float8)""",
        (expires_after_days,),
    ).fetchone()[0]


def close_page(conn: psycopg.Connection, request: str) -> None:
    """The page was answered (or timed out): its pairs are no longer on an open page."""
    conn.execute("update identity.match_candidate set presented_in = null where presented_in = %s", (request,))
