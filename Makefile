# UCJ pipeline. `make demo` and `make test` are the two commands a new user needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SAMPLE_LANDING := $(CURDIR)/var/landing/sample
SAMPLE_PERIODS := 2025-01:2025-03

export AIRFLOW_HOME ?= $(CURDIR)/.airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
# pgserver and platformdirs want a runtime dir; not every shell has one.
export XDG_RUNTIME_DIR ?= $(CURDIR)/var/run

.PHONY: help venv demo pipeline reinterpret sample test test-unit test-warehouse test-dags test-e2e test-chaos test-celery lint fix airflow clean compose-check bench bench-identity bench-history

help:  ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is needed (set PYTHON=python3.11)")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	$(PY) -m pip install --quiet --no-deps --editable .  # the ucj and ucj_dev packages from src/
	@mkdir -p var/run && chmod 700 var/run
	touch $(STAMP)

venv: $(STAMP)  ## create .venv and install pinned dependencies

sample: $(STAMP)  ## (re)generate the sample landing zone in var/landing/sample
	rm -rf $(SAMPLE_LANDING)
	$(PY) -m ucj_dev.synthetic sample $(SAMPLE_LANDING)

demo: $(STAMP)  ## install, generate sample rosters, run the real DAGs for 3 months, print the UCJ table
	@test -f $(SAMPLE_LANDING)/ground_truth.json || $(MAKE) --no-print-directory sample
	$(PY) -m ucj_dev.runner --landing-root $(SAMPLE_LANDING) --periods $(SAMPLE_PERIODS)

pipeline: $(STAMP)  ## run the DAGs on any landing zone: make pipeline LANDING_ROOT=/abs/path PERIODS=2025-01:2025-06
	@test -n "$(LANDING_ROOT)" -a -n "$(PERIODS)" || { echo "usage: make pipeline LANDING_ROOT=/abs/path PERIODS=YYYY-MM[:YYYY-MM]"; exit 2; }
	$(PY) -m ucj_dev.runner --landing-root "$(LANDING_ROOT)" --periods "$(PERIODS)"

reinterpret: $(STAMP)  ## after a vocabulary/header change: interpret loaded files again, make reinterpret PERIODS=2025-01:2025-06 [LANDING_ROOT=...]
	@test -n "$(PERIODS)" || { echo "usage: make reinterpret PERIODS=YYYY-MM[:YYYY-MM] [LANDING_ROOT=/abs/path]"; exit 2; }
	$(PY) -m ucj_dev.runner --reinterpret --landing-root "$(or $(LANDING_ROOT),$(SAMPLE_LANDING))" --periods "$(PERIODS)"

TEST_WORKERS ?= 2
test: $(STAMP)  ## the whole default suite: every tier below, in one run, on TEST_WORKERS processes (2)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile tests/e2e tests/unit tests/warehouse tests/dags

test-unit: $(STAMP)  ## tier 1: pure functions, reading, GX suites; no database, no Airflow
	$(PY) -m pytest tests/unit

test-warehouse: $(STAMP)  ## tier 2: ingest, identity, marts and roles against a real PostgreSQL
	$(PY) -m pytest tests/warehouse

test-dags: $(STAMP)  ## tier 3: DAG integrity, the UI plugin, dag.test of the deadline DAG
	$(PY) -m pytest tests/dags

test-e2e: $(STAMP)  ## tier 4: the real DAGs end to end (make pipeline), reruns, hostile landing zones
	$(PY) -m pytest tests/e2e

bench-reading: $(STAMP)  ## reading in the isolated child vs in process (ROWS=200000); writes docs/benchmarks-reading.md
	$(PY) -m bench.reading --rows $${ROWS:-200000} --formats $${FORMATS:-csv,xlsx}

bench-identity: $(STAMP)  ## identity resolution accuracy (clean/realistic/hostile) vs exact NIK and default splink; writes docs/benchmarks-identity.md
	$(PY) -m bench.identity --people $${PEOPLE:-20000}

test-chaos: $(STAMP)  ## the runner killed (kill -9) at three points, the server stopped mid-run; each rerun: the clean run's warehouse
	$(PY) -m pytest tests/chaos

test-celery: $(STAMP)  ## integration: PostgreSQL + Redis + scheduler + 2 Celery workers; marts equal the single-process run
	$(PY) tests/integration/celery_stack.py

lint: $(STAMP)  ## ruff (incl. Airflow 3 rules) and format check; sqlfluff on include/sql (.sqlfluff)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/sqlfluff lint include/sql --processes 2

fix: $(STAMP)  ## apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .
	$(VENV)/bin/sqlfluff fix include/sql --processes 2 -f

airflow: $(STAMP)  ## Airflow 3 standalone (UI on http://localhost:8080) over the sample landing zone
	@test -f $(SAMPLE_LANDING)/ground_truth.json || $(MAKE) --no-print-directory sample
	AIRFLOW_VAR_LANDING_ROOT=$(SAMPLE_LANDING) $(PY) -m ucj_dev.standalone

clean:  ## remove the embedded warehouse, Airflow state and sample data (keeps .venv)
	rm -rf var .airflow

compose-check:  ## validate docker-compose.yaml (installs Debian's docker-compose when missing and root)
	@command -v docker-compose >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq docker-compose >/dev/null; }
	docker-compose --env-file .env.example -f docker-compose.yaml config -q && echo "docker-compose.yaml is valid"

bench-history: $(STAMP)  ## twelve months at 1M rows a month and a one-file correction (ROWS, MONTHS); writes docs/benchmarks-history.md
	$(PY) -m bench.history --rows $${ROWS:-1000000} --months $${MONTHS:-12}

bench: $(STAMP)  ## benchmark every stage at 1M rows (CSV and Excel) with references; writes docs/benchmarks.md
	$(PY) -m bench.run --rows $${ROWS:-1000000} --formats $${FORMATS:-csv,xlsx}
