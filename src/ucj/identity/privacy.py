"""NIK tokens that cannot be reversed without a key the warehouse never holds.

A NIK has little entropy: region and birth date are in it, leaving ~10^4
candidates, so a plain hash is reversed by hashing them all. A keyed HMAC is
not, as long as the key lives elsewhere: an Airflow connection
(``ucj_nik_hmac``, its password field, i.e. a secrets backend in production)
or the ``UCJ_NIK_HMAC_KEY`` environment variable.
"""

from __future__ import annotations

import hashlib
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
    """One NIK's token (:func:`nik_tokens`); None without a NIK or a key."""
    return nik_tokens([nik], key)[0]


def nik_tokens(niks: list[str | None], key: bytes | None = None) -> list[str | None]:
    """``nik_token`` of many NIKs: the same HMAC-SHA256 (RFC 2104), its key pads hashed once.

    ``hmac.digest`` sets the key up again for every message; for a month's
    half a million new workers that was a tenth of identity resolution.
    """
    key = key if key is not None else nik_key()
    if not key:
        return [None] * len(niks)
    block = hashlib.sha256().block_size
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    tokens: list[str | None] = []
    for nik in niks:
        if not nik:
            tokens.append(None)
            continue
        h = inner.copy()
        h.update(nik.encode("ascii"))
        o = outer.copy()
        o.update(h.digest())
        tokens.append(o.hexdigest())
    return tokens


def retoken(conn: object, key: bytes | None = None) -> int:
    """Recompute every worker's ``nik_token`` under the current key (after a key rotation); return how many.

    A token is computed when its worker is created, so a new key alone would
    leave older workers with tokens under the old one. Run once after
    rotating, in one transaction: readers see all old tokens or all new ones.
    """
    key = key if key is not None else nik_key()
    if not key:
        raise RuntimeError(f"no NIK key (connection {CONN_ID} or UCJ_NIK_HMAC_KEY): nothing to rotate to")
    rows = conn.execute("select worker_key, nik from identity.worker where nik is not null order by 1").fetchall()
    tokens = nik_tokens([nik for _, nik in rows], key)
    with conn.transaction():
        conn.execute(
            """update identity.worker as w set nik_token = t.token
               from unnest(%s::bigint[], %s::text[]) as t (worker_key, token)
               where w.worker_key = t.worker_key and w.nik_token is distinct from t.token""",
            ([k for k, _ in rows], tokens),
        )
    log.info("nik_token recomputed for %d workers under the current key", len(rows))
    return len(rows)


def main() -> int:
    """``python -m ucj.identity.privacy --retoken``: re-token every worker after a NIK key rotation."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--retoken", action="store_true", required=True, help="recompute every nik_token")
    parser.parse_args()
    from ucj.warehouse import connect

    with connect() as conn:
        print(f"nik_token recomputed for {retoken(conn)} workers")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
