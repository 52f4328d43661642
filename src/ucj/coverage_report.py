"""The static coverage report: one HTML page per month, rendered from the marts.

For people who would rather look than query: UCJ against target per regency
over the months, who came into coverage and who fell out of it (churn, with
the reasons), which published figures were revised and why, coverage by
program and funding source, and who has not reported. In Indonesian
throughout: Pemkab and branch staff read it; the marts' English notes and
codes are translated here (:data:`RATE_NOTES`, :data:`LAPSE_REASONS`,
:data:`REVISION_CAUSES`). It reads only the ``mart`` views (what ``bi_reader`` sees), so the
page can never show more than a BI tool could. Charts are inline SVG with the
text kept as text, so the page works offline, prints, and can be searched.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from jinja2 import Environment, FileSystemLoader, select_autoescape

from ucj.period import parse_period
from ucj.roster.parse import MONTH_NAMES_ID
from ucj.settings import INCLUDE_DIR, reports_dir

log = logging.getLogger(__name__)

HISTORY_MONTHS = 12
UNITS_LISTED_PER_REGENCY = 50

# mart.ucj_regency_month.rate_note, as the page says it (an unknown note is shown as it is).
RATE_NOTES = {
    "no cited working population for this regency": "belum ada angka penduduk bekerja yang dapat dikutip",
    "covered workers exceed registered population: data error":
        "pekerja terlindungi melebihi penduduk terdaftar: kesalahan data",
}  # fmt: skip
# mart.coverage_churn_month's lapse columns (lapsed_<reason>), in the order the page lists them.
LAPSE_REASONS = {
    "status_non_aktif": "status non aktif",
    "enrollment_ended": "masa kepesertaan berakhir",
    "unit_not_reported": "unit tidak melapor",
    "dropped_from_snapshot": "tidak ada lagi di daftar unit",
}
# mart.ucj_revision.cause.
REVISION_CAUSES = {
    "identity_merge": "dua catatan ternyata satu orang",
    "identity_split": "satu pekerja dipisah oleh peninjau",
    "review_decision": "keputusan peninjau",
    "late_file": "berkas terlambat",
    "corrected_file": "berkas perbaikan",
    "reference_change": "perubahan data rujukan atau cara baca",
}


def month_label(month: dt.date) -> str:
    return f"{MONTH_NAMES_ID[month.month - 1]} {month.year}"


@dataclass
class ReportData:
    period: dt.date
    regencies: list[dict[str, Any]]
    history: dict[str, list[dict[str, Any]]]
    programs: list[dict[str, Any]]
    missing_units: dict[str, list[dict[str, Any]]]
    missing_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    churn: list[dict[str, Any]] = field(default_factory=list)
    revisions: list[dict[str, Any]] = field(default_factory=list)


def _rows(conn: psycopg.Connection, query: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute(query, params).fetchall()


def collect(conn: psycopg.Connection, period: str) -> ReportData:
    month = parse_period(period)
    first = dt.date(month.year - (1 if month.month < HISTORY_MONTHS else 0), (month.month % HISTORY_MONTHS) + 1, 1)
    regencies = _rows(
        conn,
        """select * from mart.ucj_regency_month where period_month = %s
           order by gap_pct_points desc nulls last, regency_code""",
        (month,),
    )
    history: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in _rows(
        conn,
        """select period_month, regency_code, regency_name, covered_workers, ucj_rate_pct, ucj_target_pct
           from mart.ucj_regency_month
           where period_month between %s and %s
             and regency_code in (select regency_code from mart.ucj_regency_month where period_month = %s)
           order by regency_code, period_month""",
        (first, month, month),
    ):
        history[row["regency_code"]].append(row)
    programs = _rows(
        conn,
        """select program_code, funding_source, sum(covered_workers) as covered
           from mart.coverage_program_month where period_month = %s
           group by 1, 2 order by 1, 2""",
        (month,),
    )
    missing: dict[str, list[dict[str, Any]]] = defaultdict(list)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in _rows(
        conn,
        """select regency_code, source_kind, unit_code, unit_name from mart.units_not_reported
           where period_month = %s order by regency_code, source_kind, unit_code""",
        (month,),
    ):
        counts[row["regency_code"]][row["source_kind"]] += 1
        if len(missing[row["regency_code"]]) < UNITS_LISTED_PER_REGENCY:
            missing[row["regency_code"]].append(row)
    churn = _rows(
        conn,
        "select * from mart.coverage_churn_month where period_month = %s order by regency_code",
        (month,),
    )
    # Revisions of the months the page shows, newest first: what changed since a figure was published.
    revisions = _rows(
        conn,
        """select period_month, regency_code, regency_name, covered_workers_before, covered_workers_after,
                  covered_workers_change, revised_at, cause
           from mart.ucj_revision
           where period_month between %s and %s
           order by revised_at desc, period_month desc, regency_code""",
        (first, month),
    )
    for row in regencies:
        row["rate_note_id"] = RATE_NOTES.get(row["rate_note"], row["rate_note"]) if row["rate_note"] else None
    for row in churn:
        row["lapse_reasons"] = [(label, row[f"lapsed_{code}"]) for code, label in LAPSE_REASONS.items()]
    for row in revisions:
        row["cause_id"] = REVISION_CAUSES.get(row["cause"], row["cause"])
    return ReportData(
        month, regencies, dict(history), programs, dict(missing), {k: dict(v) for k, v in counts.items()},
        churn, revisions,
    )  # fmt: skip


def _svg(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # Text stays text in the SVG: searchable, selectable, testable.
    plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "svg.hashsalt": "ucj"})
    return plt


def rate_chart(data: ReportData) -> str | None:
    """UCJ % per regency over the months, the year's target dashed in the same colour."""
    series = {code: [r for r in rows if r["ucj_rate_pct"] is not None] for code, rows in data.history.items()}
    series = {code: rows for code, rows in series.items() if rows}
    if not series:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 4))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (code, rows) in enumerate(sorted(series.items())):
        colour = colours[i % len(colours)]
        months = [r["period_month"] for r in rows]
        ax.plot(months, [float(r["ucj_rate_pct"]) for r in rows], marker="o", color=colour,
                label=f"{code} {rows[-1]['regency_name']}")  # fmt: skip
        targets = [(r["period_month"], float(r["ucj_target_pct"])) for r in rows if r["ucj_target_pct"] is not None]
        if targets:
            ax.plot([m for m, _ in targets], [t for _, t in targets], linestyle="--", color=colour, alpha=0.7)
    from matplotlib.dates import DateFormatter, MonthLocator

    ax.xaxis.set_major_locator(MonthLocator())
    ax.xaxis.set_major_formatter(DateFormatter("%Y-%m"))
    ax.set_ylabel("UCJ (%)")
    ax.set_title("UCJ per kabupaten/kota (garis putus-putus: target)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1, 0.5))
    fig.autofmt_xdate()
    return _svg(fig)


def program_chart(data: ReportData) -> str | None:
    """Covered workers per program, stacked by who pays."""
    if not data.programs:
        return None
    plt = _pyplot()
    programs = sorted({r["program_code"] for r in data.programs})
    fundings = sorted({r["funding_source"] for r in data.programs})
    value = {(r["program_code"], r["funding_source"]): int(r["covered"]) for r in data.programs}
    fig, ax = plt.subplots(figsize=(7, 3.5))
    bottom = [0] * len(programs)
    for funding in fundings:
        heights = [value.get((p, funding), 0) for p in programs]
        ax.bar(programs, heights, bottom=bottom, label=funding)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    ax.set_ylabel("pekerja terlindungi")
    ax.set_title("Kepesertaan per program dan sumber dana")
    ax.legend(fontsize=7, title="sumber dana", title_fontsize=7, loc="center left", bbox_to_anchor=(1, 0.5))
    ax.grid(axis="y", alpha=0.3)
    return _svg(fig)


def units_chart(data: ReportData) -> str | None:
    """Units reported against units expected, per regency."""
    if not data.regencies:
        return None
    plt = _pyplot()
    rows = sorted(data.regencies, key=lambda r: r["regency_code"])
    labels = [f"{r['regency_code']} {r['regency_name']}" for r in rows]
    fig, ax = plt.subplots(figsize=(7, 0.5 + 0.45 * len(rows)))
    ax.barh(labels, [r["units_expected"] for r in rows], color="#dddddd", label="diharapkan")
    ax.barh(labels, [r["units_reported"] for r in rows], color="#2a7ab9", label="sudah melapor")
    ax.invert_yaxis()
    ax.set_xlabel("unit pelapor (OPD, desa, pemberi kerja)")
    ax.set_title("Unit yang sudah melapor")
    ax.legend(fontsize=7)
    return _svg(fig)


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(INCLUDE_DIR / "report"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["thousands"] = lambda v: "-" if v is None else f"{int(v):,}".replace(",", ".")
    env.filters["pct"] = lambda v: "-" if v is None else f"{float(v):.2f}".replace(".", ",")
    return env


def render(data: ReportData, generated_at: dt.datetime | None = None) -> str:
    generated = generated_at or dt.datetime.now(dt.UTC)
    return (
        _environment()
        .get_template("coverage.html.j2")
        .render(
            period=data.period,
            period_label=month_label(data.period),
            data=data,
            rate_svg=rate_chart(data),
            program_svg=program_chart(data),
            units_svg=units_chart(data),
            generated_at=generated.strftime("%Y-%m-%d %H:%M UTC"),
        )
    )


def write_index(directory: Path) -> Path:
    pages = sorted((p.stem for p in directory.glob("????-??.html")), reverse=True)
    html = (
        _environment()
        .get_template("index.html.j2")
        .render(pages=[(page, month_label(parse_period(page))) for page in pages])
    )
    index = directory / "index.html"
    index.write_text(html, encoding="utf-8")
    return index


def write_report(conn: psycopg.Connection, period: str, directory: Path | None = None) -> Path:
    """Render one month's page (replacing any earlier one) and refresh the index."""
    directory = directory or reports_dir()
    directory.mkdir(parents=True, exist_ok=True)
    data = collect(conn, period)
    target = directory / f"{data.period:%Y-%m}.html"
    partial = target.with_suffix(".html.partial")
    partial.write_text(render(data), encoding="utf-8")
    partial.replace(target)  # readers never see half a page
    write_index(directory)
    return target
