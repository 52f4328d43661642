"""``make airflow``: Airflow 3 standalone over the sample landing zone and the embedded warehouse.

Keeps a handle on the embedded PostgreSQL for the whole session (so task
processes do not start and stop it over and over), applies migrations, then
runs ``airflow standalone`` (api-server with the UI on :8080, scheduler,
dag-processor, triggerer) until Ctrl-C.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ucj.settings import PIPELINE_OVERRIDE_ENV, var_dir
from ucj.warehouse import migrate, warehouse_uri
from ucj_dev.runner import airflow_environment

STANDALONE_SETTINGS = """\
arrival:
  schedule: 60
  stable_seconds: 10
  late_days_after_deadline: 3650
"""


def main() -> int:
    landing = os.environ.get("AIRFLOW_VAR_LANDING_ROOT")
    env = {**os.environ, **airflow_environment(landing)}
    # New DAGs start paused here: unpause them in the UI (ucj_arrivals then picks
    # up the landing zone by itself), or trigger a month by hand (param period=2025-01).
    env.setdefault("AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION", "True")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    if not env.get(PIPELINE_OVERRIDE_ENV):
        # A trial over the sample: sweep every minute, and keep the sample's months (2025) open.
        override = var_dir() / "standalone-pipeline.yaml"
        override.parent.mkdir(parents=True, exist_ok=True)
        override.write_text(STANDALONE_SETTINGS, encoding="utf-8")
        env[PIPELINE_OVERRIDE_ENV] = str(override)
        print(f"settings for this trial (laid over pipeline.yaml): {override}")
    uri = warehouse_uri()
    migrate()
    print(f"warehouse: {uri}\nlanding zone: {landing}")
    print("UI: http://localhost:8080 (user admin; password printed below and kept in .airflow/)")
    try:
        return subprocess.call([sys.executable, "-m", "airflow", "standalone"], env=env)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
