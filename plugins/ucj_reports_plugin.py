"""Airflow UI plugin: the coverage reports, one page per month, in the nav bar.

The pages are static files written by the consolidation DAG
(``ucj.coverage_report``); this serves them from the API server and links
them from the menu. They hold aggregates only (what ``bi_reader`` may read),
and like every page of the API server they need an Airflow login.

Airflow imports every file in the plugins folder in the scheduler, the
dag-processor and the API server, so this module imports Airflow, FastAPI and
the standard library only - never the ``ucj`` package, which would bring
pandas, pyarrow and psycopg into every component. The directory rule is
therefore restated here and kept equal to ``ucj.settings.reports_dir`` by a
test (``tests/dags/test_plugins.py``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from airflow.plugins_manager import AirflowPlugin
from fastapi import FastAPI, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

URL_PREFIX = "/ucj-reports"


def reports_dir() -> Path:
    """UCJ_REPORTS_DIR, else UCJ_VAR_DIR/reports/coverage, else var/ of the project this plugins folder sits in."""
    if explicit := os.environ.get("UCJ_REPORTS_DIR"):
        return Path(explicit).resolve()
    project = Path(os.environ.get("UCJ_PROJECT_ROOT") or Path(__file__).resolve().parent.parent)
    return (Path(os.environ.get("UCJ_VAR_DIR") or project / "var") / "reports" / "coverage").resolve()


async def require_login(request: Request) -> None:
    """Only a logged-in Airflow user gets a page: the same JWT (bearer header or the UI's cookie) as the REST API.

    A browser without a session is sent to the login page and back; anything
    else without a valid token gets 401, as the REST API answers.
    """
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN
    from airflow.api_fastapi.core_api.security import resolve_user_from_token

    header = request.headers.get("authorization", "")
    token = header[7:] if header.lower().startswith("bearer ") else request.cookies.get(COOKIE_NAME_JWT_TOKEN)
    if not token and "text/html" in request.headers.get("accept", ""):
        from airflow.api_fastapi.app import get_auth_manager

        login = get_auth_manager().get_url_login(next_url=str(request.url))
        raise HTTPException(status.HTTP_307_TEMPORARY_REDIRECT, headers={"Location": login})
    await resolve_user_from_token(token)  # 401 without a token, 401/403 for an expired or forged one


def _app() -> FastAPI:
    directory = reports_dir()
    directory.mkdir(parents=True, exist_ok=True)
    app = FastAPI(title="UCJ coverage reports")

    # A middleware, not a route dependency: the pages are a mounted static app, which dependencies never reach.
    @app.middleware("http")
    async def login_required(request: Request, call_next: Any) -> Response:
        try:
            await require_login(request)
        except HTTPException as exc:
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        return await call_next(request)

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
