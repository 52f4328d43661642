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

from ucj.runner import airflow_environment
from ucj.warehouse import migrate, warehouse_uri


def main() -> int:
    landing = os.environ.get("AIRFLOW_VAR_LANDING_ROOT")
    env = {**os.environ, **airflow_environment(landing)}
    # New DAGs start paused here: trigger a month by hand (param period=2025-01)
    # instead of the scheduler running last month on an empty landing folder.
    env.setdefault("AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION", "True")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
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
