"""Airflow components load the plugins folder; it must not bring the domain package with it.

The scheduler, the dag-processor and the API server all import every file in
``plugins/``. The domain package (``src/ucj``) pulls in pandas, pyarrow,
psycopg and splink; none of that belongs in a process that only serves pages
or schedules runs.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

LOAD_PLUGINS = """
import json, sys
from airflow import plugins_manager
plugins_manager.ensure_plugins_loaded()  # what every component does at start
plugins = [p["name"] for p in plugins_manager.get_plugin_info()]
heavy = {"pandas", "pyarrow", "psycopg", "splink", "great_expectations", "duckdb", "ucj", "ucj_dev"}
print(json.dumps({"plugins": plugins, "heavy": sorted({m.split(".")[0] for m in sys.modules} & heavy)}))
"""


def _load_plugins_in_a_fresh_process(plugins_folder: Path) -> dict[str, list[str]]:
    env = {**os.environ, "AIRFLOW__CORE__PLUGINS_FOLDER": str(plugins_folder)}
    done = subprocess.run([sys.executable, "-c", LOAD_PLUGINS], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_loading_the_plugins_folder_imports_no_domain_code_and_no_pandas(airflow_db: None) -> None:
    loaded = _load_plugins_in_a_fresh_process(ROOT / "plugins")
    assert "ucj_reports" in loaded["plugins"]
    assert loaded["heavy"] == []


def test_the_check_sees_a_plugin_that_imports_the_domain(airflow_db: None, tmp_path: Path) -> None:
    """The same probe on a plugins folder whose plugin imports ``ucj``: the check above can fail."""
    (tmp_path / "heavy_plugin.py").write_text(
        "from airflow.plugins_manager import AirflowPlugin\nimport ucj.ingest  # noqa: F401\n\n\n"
        "class HeavyPlugin(AirflowPlugin):\n    name = 'heavy'\n",
        encoding="utf-8",
    )
    loaded = _load_plugins_in_a_fresh_process(tmp_path)
    assert "heavy" in loaded["plugins"]
    assert {"ucj", "pandas"} <= set(loaded["heavy"])


def _plugin_module():
    spec = importlib.util.spec_from_file_location(
        "ucj_reports_plugin_probe", ROOT / "plugins" / "ucj_reports_plugin.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "env",
    [{}, {"UCJ_VAR_DIR": "state"}, {"UCJ_REPORTS_DIR": "pages"}, {"UCJ_PROJECT_ROOT": "image"}],
    ids=["default", "var-dir", "reports-dir", "project-root"],
)
def test_the_plugin_serves_the_directory_the_report_is_written_to(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: dict[str, str]
) -> None:
    """The plugin restates ``ucj.settings.reports_dir`` (it may not import it); both must name one directory."""
    for key in ("UCJ_VAR_DIR", "UCJ_REPORTS_DIR", "UCJ_PROJECT_ROOT"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, str(tmp_path / value))
    plugin = _plugin_module()
    code = "import ucj.settings as s; print(s.reports_dir())"
    written_to = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert str(plugin.reports_dir()) == written_to.strip()
