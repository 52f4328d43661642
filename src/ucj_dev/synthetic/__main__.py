"""``python -m ucj_dev.synthetic LEVEL ROOT``: write a synthetic landing zone (see the package docstring)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ucj_dev.synthetic import ROSTER_LEVELS, generate


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m ucj_dev.synthetic", description=__doc__)
    parser.add_argument("level", choices=ROSTER_LEVELS)
    parser.add_argument("root", nargs="?", default="var/landing", type=Path)
    parser.add_argument("--rows", type=int, default=1_000_000, help="bulk: rows in the month")
    parser.add_argument("--format", default="xlsx", choices=("xlsx", "csv"), help="bulk: file format")
    parser.add_argument("--period", default="2025-01", help="bulk: the month, YYYY-MM")
    args = parser.parse_args()
    root = args.root.resolve()
    if args.level == "sample":
        truth = generate("sample", root)
        rows = sum(len(v) for v in truth["row_states"].values())
        print(f"wrote {len(truth['row_states'])} roster files ({rows} data rows) and ground_truth.json to {root}")
    else:
        try:
            counts = generate("bulk", root, total_rows=args.rows, fmt=args.format, period=args.period)
        except ValueError as exc:  # a month too small for its shape: say so, not a traceback
            parser.error(str(exc))
        print(f"wrote {counts['rows']:,} rows to {root}: {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
