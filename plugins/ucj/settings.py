"""Where things are and the configuration people change (kept as YAML data)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent.parent
INCLUDE_DIR = PROJECT_ROOT / "include"
SQL_DIR = INCLUDE_DIR / "sql"
REFERENCE_DIR = INCLUDE_DIR / "reference"
GX_DIR = INCLUDE_DIR / "gx"
CONFIG_DIR = PACKAGE_DIR / "config"

SOURCE_KINDS = ("opd", "village", "employer")


def var_dir() -> Path:
    """Project-local state (embedded PostgreSQL, reports); override with UCJ_VAR_DIR."""
    return Path(os.environ.get("UCJ_VAR_DIR", PROJECT_ROOT / "var")).resolve()


def _load(name: str) -> dict[str, Any]:
    with open(CONFIG_DIR / name, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@lru_cache(maxsize=1)
def vocabulary() -> dict[str, Any]:
    return _load("vocabulary.yaml")


@lru_cache(maxsize=1)
def header_synonyms() -> dict[str, dict[str, list[str]]]:
    return _load("headers.yaml")


@lru_cache(maxsize=1)
def pipeline_config() -> dict[str, Any]:
    return _load("pipeline.yaml")
