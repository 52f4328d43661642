"""Build roster files in memory, the way clerks' tools write them (with ``ucj_dev.synthetic.writers``)."""

from __future__ import annotations

import io
import os
import re
import zipfile
from pathlib import Path
from typing import Any

from ucj_dev.synthetic.writers import Grid, csv_bytes

VILLAGE_HEADER = [
    "No",
    "NIK",
    "Nama",
    "Tgl Lahir",
    "JK",
    "Kode Desa",
    "Nama Desa",
    "Program",
    "Sumber Dana",
    "Keterangan",
]


def village_row(n: int, nik: Any = "1310015203850001", name: str = "Siti Aminah", born: Any = "12/03/1985",
                code: str = "13.10.01.2002", programs: str = "JKK, JKM", gender: str = "P") -> list[Any]:  # fmt: skip
    return [n, nik, name, born, gender, code, "Koto Baru", programs, "Dana Desa", ""]


def with_cached_formula_values(data: bytes, cached: dict[str, str]) -> bytes:
    """Give formula cells the cached values Excel stores when it saves (openpyxl stores none)."""
    import re
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                text = content.decode()
                for ref, value in cached.items():
                    text = re.sub(
                        rf'<c r="{ref}"><f>(.*?)</f><v\s*/>', rf'<c r="{ref}" t="str"><f>\1</f><v>{value}</v>', text
                    )
                content = text.encode()
            target.writestr(item, content)
    return buffer.getvalue()


def encrypted(data: bytes, password: str = "rahasia") -> bytes:
    """The workbook as Excel saves it with "Encrypt with Password"."""
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(data)).encrypt(password, out)
    return out.getvalue()


def land_village(root: Path, period: str, name: str, rows: Grid, mtime: int = 1_700_000_000) -> str:
    """Write a village roster CSV into the landing zone; return its path relative to ``root``."""
    rel = f"village/{period}/{name}"
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(csv_bytes([VILLAGE_HEADER, *rows]))
    os.utime(path, (mtime, mtime))
    return rel


def publish_and_settle(conn: Any, kind: str, period: str) -> int:
    """What ucj_ingest does after loading a month that passed validation: publish its held files, then settle.

    Returns the rows whose superseded state changed (``snapshots.settle_snapshots``).
    """
    from ucj import publication, snapshots
    from ucj.period import parse_period

    publication.gate(conn, kind, parse_period(period), True, [], (None, None))
    return snapshots.settle_snapshots(conn, kind, period)


def land_bytes(root: Path, period: str, name: str, data: bytes, mtime: int = 1_700_000_000) -> str:
    """Write any bytes as a village roster file into the landing zone; return its path relative to ``root``."""
    rel = f"village/{period}/{name}"
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_bytes(data)
    os.utime(root / rel, (mtime, mtime))
    return rel


def loaded_rows(conn: Any) -> dict[str, int]:
    """Rows per loaded file: which files of a batch loaded, and with how many rows."""
    return dict(
        conn.execute(
            """select f.rel_path, count(r.*) from ingest.source_file as f
               left join ingest.roster_row as r using (file_id) where f.status = 'loaded' group by 1"""
        ).fetchall()
    )


def village_workbook(stray: str | None = None, dimension: bytes | None = None, rows: int = 2) -> bytes:
    """A village roster workbook; ``stray`` types an "x" in that cell, ``dimension`` rewrites its claimed extent."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(VILLAGE_HEADER)
    for n in range(1, rows + 1):
        sheet.append(village_row(n))
    if stray:
        sheet[stray] = "x"
    out = io.BytesIO()
    book.save(out)
    data = out.getvalue()
    if dimension is None:
        return data
    source, rewritten = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(rewritten, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            content = source.read(entry)
            if entry.filename.startswith("xl/worksheets/sheet"):
                content, found = re.subn(rb'<dimension ref="[^"]*" ?/>', dimension, content)
                assert found == 1
            target.writestr(entry, content)
    return rewritten.getvalue()


def odd_landing_zone(tmp_path: Path) -> tuple[Path, Path]:
    """A landing zone with every odd entry the issue tracker has seen, beside one good roster."""
    root = tmp_path / "landing"
    good = land_village(root, "2025-01", "a.csv", [village_row(1)], 1_700_000_000)
    folder = root / "village" / "2025-01"
    outside = tmp_path / "elsewhere.csv"
    outside.write_bytes((root / good).read_bytes())
    (folder / "keluar.csv").symlink_to(outside)  # leads out of the landing zone
    (folder / "hilang.csv").symlink_to(tmp_path / "nothing-here.csv")  # dangling
    (folder / "passwd.csv").symlink_to("/etc/passwd")
    (folder / "dalam.csv").symlink_to(root / good)  # inside: read as the file it points to
    os.mkfifo(folder / "pipe.csv")
    for junk in ("Thumbs.db", "desktop.ini", "a.xlsx~", "~$a.xlsx", ".~lock.a.xlsx#"):
        (folder / junk).write_bytes(b"x")
    (folder / os.fsdecode(b"rekap\xff.csv")).write_bytes(b"x")  # not UTF-8
    return root, outside


def run_village_month(period: str, files: list[str]) -> dict[str, dict]:
    """A village month through the DAG tasks' own code, ingest to load; each loaded month's load result."""
    from ucj import pipeline_tasks

    pipeline_tasks.ingest_files("village", period, files)
    validation = pipeline_tasks.validate("village", period, "ucj_ingest_village", "test")
    pipeline_tasks.publication_gate("village", period, validation, "ucj_ingest_village", "test")
    pipeline_tasks.settle("village", period)
    pipeline_tasks.resolve_identities()
    pipeline_tasks.link_probabilistically()
    return {month: pipeline_tasks.load_period(month) for month in pipeline_tasks.periods_to_load(period, None)}
