"""Where things are and the configuration people change (kept as YAML data)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    model_validator,
)

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


# A deployment's own vocabulary.yaml / headers.yaml (a Pemkab's spellings) without rebuilding the image:
# a file in this directory replaces the shipped one of its name.
CONFIG_DIR_ENV = "UCJ_CONFIG_DIR"


def config_file(name: str) -> Path:
    if (own := os.environ.get(CONFIG_DIR_ENV)) and (Path(own) / name).is_file():
        return Path(own) / name
    return CONFIG_DIR / name


def _load(name: str) -> dict[str, Any]:
    with open(config_file(name), encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@lru_cache(maxsize=1)
def vocabulary() -> dict[str, Any]:
    return _load("vocabulary.yaml")


@lru_cache(maxsize=1)
def header_synonyms() -> dict[str, dict[str, list[str]]]:
    return _load("headers.yaml")


class SettingsError(ValueError):
    """pipeline.yaml (or the deployment's override) holds a key or a value the pipeline does not know."""


def _merged(base: dict[str, Any], override: dict[str, Any], where: str = "") -> dict[str, Any]:
    """``override`` laid over ``base`` key by key; a key ``base`` does not have is a typo, not a setting."""
    merged = dict(base)
    for key, value in override.items():
        if key not in base:
            raise SettingsError(f"{PIPELINE_OVERRIDE_ENV}: unknown setting {where}{key}")
        if isinstance(base[key], dict) and isinstance(value, dict):
            merged[key] = _merged(base[key], value, f"{where}{key}.")
        else:
            merged[key] = value
    return merged


PIPELINE_OVERRIDE_ENV = "UCJ_PIPELINE_YAML"


class _Section(BaseModel):
    # A key nobody reads is a typo that would silently keep the default.
    model_config = ConfigDict(extra="forbid", frozen=True)


class IngestSettings(_Section):
    files_per_batch: PositiveInt
    bytes_per_batch: PositiveInt
    max_file_bytes: PositiveInt
    max_workbook_unpacked_bytes: PositiveInt
    max_sheet_cells: PositiveInt
    max_rows_per_file: PositiveInt
    max_columns: PositiveInt
    reader_memory_bytes: PositiveInt
    max_read_seconds: PositiveFloat


class ValidationSettings(_Section):
    max_quarantined_share: Annotated[float, Field(ge=0, le=1)]
    min_rowcount_vs_last_month: Annotated[float, Field(ge=0, le=1)]
    min_age_years: Annotated[int, Field(ge=0, le=150)]
    max_age_years: Annotated[int, Field(ge=0, le=150)]
    data_docs_index_limit: PositiveInt

    @model_validator(mode="after")
    def _ages_in_order(self) -> ValidationSettings:
        if self.min_age_years > self.max_age_years:
            raise ValueError("min_age_years is above max_age_years")
        return self


class ProbabilisticSettings(_Section):
    enabled: bool
    merge_letter_slips: bool
    auto_merge: bool
    auto_merge_probability: Annotated[float, Field(gt=0, le=1)]
    review_probability: Annotated[float, Field(gt=0, le=1)]
    expected_duplicate_share: Annotated[float, Field(gt=0, lt=1)]
    calibration_min_decisions: PositiveInt

    @model_validator(mode="after")
    def _review_below_merge(self) -> ProbabilisticSettings:
        if self.review_probability > self.auto_merge_probability:
            raise ValueError("review_probability is above auto_merge_probability")
        return self


class ReviewSettings(_Section):
    pairs_per_request: PositiveInt
    request_timeout_days: PositiveInt


class IdentitySettings(_Section):
    nik_name_similarity: Annotated[int, Field(ge=0, le=100)]
    probabilistic: ProbabilisticSettings
    review: ReviewSettings


class WarehouseSettings(_Section):
    statement_timeout_ms: NonNegativeInt
    lock_timeout_ms: NonNegativeInt
    client_connection_check_interval_ms: NonNegativeInt


class DeadlineSettings(_Section):
    day_of_next_month: Annotated[int, Field(ge=1, le=28)]


class ArrivalSettings(_Section):
    schedule: str | PositiveInt
    stable_seconds: NonNegativeInt
    late_days_after_deadline: NonNegativeInt


class PublicationSettings(_Section):
    approval_timeout_days: PositiveInt


class PipelineSettings(_Section):
    """Every operational threshold, typed; ``src/ucj/config/pipeline.yaml`` says what each is for."""

    ingest: IngestSettings
    validation: ValidationSettings
    identity: IdentitySettings
    warehouse: WarehouseSettings
    deadline: DeadlineSettings
    arrival: ArrivalSettings
    publication: PublicationSettings


def _settings_error(error: ValidationError, sources: str) -> SettingsError:
    problems = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = "unknown setting" if item["type"] == "extra_forbidden" else item["msg"]
        if item["type"] != "extra_forbidden" and "input" in item and not isinstance(item["input"], dict):
            message += f" (got {item['input']!r})"
        problems.append(f"{key}: {message}")
    return SettingsError(f"{sources}: " + "; ".join(problems))


_active: PipelineSettings | None = None


def settings() -> PipelineSettings:
    """The settings of this process, loaded and validated at the first call (``load_settings``)."""
    global _active
    if _active is None:
        _active = load_settings()
    return _active


def load_settings() -> PipelineSettings:
    """pipeline.yaml, with the file named by ``UCJ_PIPELINE_YAML`` (a deployment's own values) laid over it.

    Validated once, at the first use in a process (a DAG file's parse, a
    task's start): a wrong key or value fails there, naming the key, rather
    than months later in the task that happens to read it.
    """
    config = yaml.safe_load((CONFIG_DIR / "pipeline.yaml").read_text(encoding="utf-8"))
    sources = str(CONFIG_DIR / "pipeline.yaml")
    if override := os.environ.get(PIPELINE_OVERRIDE_ENV):
        with open(override, encoding="utf-8") as fh:
            config = _merged(config, yaml.safe_load(fh) or {})
        sources += f" with {PIPELINE_OVERRIDE_ENV}={override}"
    try:
        return PipelineSettings.model_validate(config)
    except ValidationError as error:
        raise _settings_error(error, sources) from None


def reload_settings() -> PipelineSettings:
    """Read the files again (after ``UCJ_PIPELINE_YAML`` changed)."""
    global _active
    _active = None
    return settings()


def with_values(base: PipelineSettings, changes: dict[str, Any]) -> PipelineSettings:
    """``base`` with dotted keys replaced (``{"ingest.max_read_seconds": 0.5}``), validated like the file.

    For benchmarks and tests that run the pipeline under other limits;
    a deployment changes values with its ``UCJ_PIPELINE_YAML`` file instead.
    """
    data = base.model_dump()
    for dotted, value in changes.items():
        *path, last = dotted.split(".")
        node = data
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict) or last not in node:
            raise SettingsError(f"unknown setting {dotted}")
        node[last] = value
    try:
        return PipelineSettings.model_validate(data)
    except ValidationError as error:
        raise _settings_error(error, "changed settings") from None
