"""Where things are and the configuration people change (kept as YAML data)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

PACKAGE_DIR = Path(__file__).resolve().parent
# The checkout (or image directory) holding include/, dags/ and var/. An editable install in a
# checkout finds it beside src/; an installed package (the Docker image) is told by UCJ_PROJECT_ROOT.
PROJECT_ROOT = Path(os.environ.get("UCJ_PROJECT_ROOT") or PACKAGE_DIR.parent.parent).resolve()
INCLUDE_DIR = PROJECT_ROOT / "include"
SQL_DIR = INCLUDE_DIR / "sql"
REFERENCE_DIR = INCLUDE_DIR / "reference"
GX_DIR = INCLUDE_DIR / "gx"
CONFIG_DIR = PACKAGE_DIR / "config"

SOURCE_KINDS = ("opd", "village", "employer")


def var_dir() -> Path:
    """Project-local state (embedded PostgreSQL, reports); override with UCJ_VAR_DIR."""
    return Path(os.environ.get("UCJ_VAR_DIR") or PROJECT_ROOT / "var").resolve()


def reports_dir() -> Path:
    """Where the coverage report pages go; the UI plugin serves the same directory (UCJ_REPORTS_DIR overrides)."""
    return Path(os.environ.get("UCJ_REPORTS_DIR") or var_dir() / "reports" / "coverage").resolve()


def _load(name: str) -> dict[str, Any]:
    with open(CONFIG_DIR / name, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@lru_cache(maxsize=1)
def vocabulary() -> dict[str, Any]:
    return _load("vocabulary.yaml")


@lru_cache(maxsize=1)
def header_synonyms() -> dict[str, dict[str, list[str]]]:
    return _load("headers.yaml")


def _merged(base: dict[str, Any], override: dict[str, Any], where: str = "") -> dict[str, Any]:
    """``override`` laid over ``base`` key by key; a key ``base`` does not have is a typo, not a setting."""
    merged = dict(base)
    for key, value in override.items():
        if key not in base:
            raise KeyError(f"{PIPELINE_OVERRIDE_ENV}: unknown setting {where}{key}")
        if isinstance(base[key], dict) and isinstance(value, dict):
            merged[key] = _merged(base[key], value, f"{where}{key}.")
        else:
            merged[key] = value
    return merged


PIPELINE_OVERRIDE_ENV = "UCJ_PIPELINE_YAML"


@lru_cache(maxsize=1)
def pipeline_config() -> dict[str, Any]:
    """pipeline.yaml, with the file named by ``UCJ_PIPELINE_YAML`` (a deployment's own values) laid over it."""
    config = _load("pipeline.yaml")
    if override := os.environ.get(PIPELINE_OVERRIDE_ENV):
        with open(override, encoding="utf-8") as fh:
            config = _merged(config, yaml.safe_load(fh) or {})
    return config
