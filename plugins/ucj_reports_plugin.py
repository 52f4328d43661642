"""Airflow UI plugin: the coverage reports, one page per month, in the nav bar.

The pages are static files written by the consolidation DAG
(``ucj.coverage_report``); this serves them from the API server and links
them from the menu. They hold aggregates only (what ``bi_reader`` may read).
"""

from __future__ import annotations

from typing import Any, ClassVar

from airflow.plugins_manager import AirflowPlugin
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from ucj.coverage_report import reports_dir

URL_PREFIX = "/ucj-reports"


def _app() -> FastAPI:
    directory = reports_dir()
    directory.mkdir(parents=True, exist_ok=True)
    app = FastAPI(title="UCJ coverage reports")
    app.mount("/", StaticFiles(directory=directory, html=True), name="reports")
    return app


class UcjReportsPlugin(AirflowPlugin):
    name = "ucj_reports"
    fastapi_apps: ClassVar[list[Any]] = [{"app": _app(), "url_prefix": URL_PREFIX, "name": "UCJ coverage reports"}]
    external_views: ClassVar[list[Any]] = [
        {
            "name": "UCJ coverage report",
            "href": f"{URL_PREFIX.lstrip('/')}/",
            "destination": "nav",
            "url_route": "ucj-coverage-report",
            "category": "browse",
        }
    ]
