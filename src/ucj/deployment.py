"""A production deployment refuses to run with a secret anyone could guess.

``.env.example`` ships placeholders (``change-me-...``) so that the compose
file renders; left in place, they would let anyone mint an Airflow API token
(``AIRFLOW_JWT_SECRET``) or reverse ``mart.worker.nik_token`` back into NIKs
(the NIK key: a NIK has only ~10^4 candidates per district and birth date).
With ``UCJ_REQUIRE_WAREHOUSE=1`` (compose sets it) every process that opens
the warehouse checks the secrets first and stops, naming each setting that
is empty, a placeholder or too short; ``airflow-init`` runs the migrations,
so a stack with such a secret never starts its scheduler or API server.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

PRODUCTION_ENV = "UCJ_REQUIRE_WAREHOUSE"
MIN_SECRET_CHARS = 32
MIN_NIK_KEY_BYTES = 32
_PLACEHOLDER = re.compile(r"change[-_ ]?me|placeholder|^(secret|password|admin|test|x+)$", re.IGNORECASE)

# Secrets read from the environment, as the compose file passes them.
ENV_SECRETS = {
    "AIRFLOW__API_AUTH__JWT_SECRET": "AIRFLOW_JWT_SECRET in .env (signs every API and UI login token)",
    "AIRFLOW__CORE__FERNET_KEY": "AIRFLOW_FERNET_KEY in .env (encrypts Airflow connections and variables)",
}


def _weak(value: str | None, minimum: int) -> str | None:
    if not value:
        return "is empty"
    if _PLACEHOLDER.search(value):
        return "is still the placeholder"
    if len(value) < minimum:
        return f"is shorter than {minimum} characters"
    return None


def secret_problems(env: Mapping[str, str], warehouse_uri: str, nik_key: bytes | None) -> list[str]:
    """Each production secret that is empty, a placeholder or too short, named as the operator sets it."""
    problems = []
    for name, where in ENV_SECRETS.items():
        if why := _weak(env.get(name), MIN_SECRET_CHARS if "JWT" in name else 1):
            problems.append(f"{name} {why}: set {where}")
    password = urlsplit(warehouse_uri).password if "://" in warehouse_uri else None
    if why := _weak(password, 12):
        problems.append(f"the warehouse password {why}: set WAREHOUSE_PASSWORD in .env (AIRFLOW_CONN_WAREHOUSE)")
    key = nik_key.decode("utf-8", "replace") if nik_key else None
    if why := _weak(key, 1):
        problems.append(f"the NIK token key {why}: set the connection ucj_nik_hmac (password) or UCJ_NIK_HMAC_KEY")
    elif nik_key is not None and len(nik_key) < MIN_NIK_KEY_BYTES:
        problems.append(
            f"the NIK token key is {len(nik_key)} bytes, shorter than {MIN_NIK_KEY_BYTES}: "
            "generate one with python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return problems


def in_production(env: Mapping[str, str] | None = None) -> bool:
    return (os.environ if env is None else env).get(PRODUCTION_ENV) == "1"
