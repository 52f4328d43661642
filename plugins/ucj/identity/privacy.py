"""NIK tokens that cannot be reversed without a key the warehouse never holds.

A NIK has little entropy: region and birth date are in it, leaving ~10^4
candidates, so a plain hash is reversed by hashing them all. A keyed HMAC is
not, as long as the key lives elsewhere: an Airflow connection
(``ucj_nik_hmac``, its password field, i.e. a secrets backend in production)
or the ``UCJ_NIK_HMAC_KEY`` environment variable.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from functools import lru_cache

log = logging.getLogger(__name__)

CONN_ID = "ucj_nik_hmac"


@lru_cache(maxsize=1)
def nik_key() -> bytes | None:
    key = os.environ.get("UCJ_NIK_HMAC_KEY")
    if not key:
        try:
            from airflow.sdk import Connection

            key = Connection.get(CONN_ID).password
        except Exception:  # no Airflow, or no such connection: tokens stay empty
            key = None
    if not key:
        log.warning("no NIK key (connection %s or UCJ_NIK_HMAC_KEY): nik_token stays empty", CONN_ID)
        return None
    return key.encode("utf-8")


def nik_token(nik: str | None, key: bytes | None = None) -> str | None:
    key = key if key is not None else nik_key()
    if not nik or not key:
        return None
    return hmac.digest(key, nik.encode("ascii"), hashlib.sha256).hex()  # hmac.new(...).hexdigest(), in one C call
