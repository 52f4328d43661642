"""A run's merges written together equal the same merges written one after another."""

from __future__ import annotations

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ucj.identity.store import merge_workers, merge_workers_many

KEYS = range(1, 9)


def _state(conn: psycopg.Connection) -> tuple:
    workers = conn.execute("select worker_key, merged_into from identity.worker order by 1").fetchall()
    edges = conn.execute("select worker_key, merged_into, rule from identity.worker_merge order by 1").fetchall()
    return workers, edges


def _fresh(conn: psycopg.Connection, before: list[tuple[int, int]]) -> None:
    conn.execute("truncate identity.worker, identity.worker_merge cascade")
    conn.execute(
        """insert into identity.worker (worker_key, name_key, birth_date)
           overriding system value select k, 'orang ' || k, date '1985-03-12' from unnest(%s::bigint[]) as k""",
        (list(KEYS),),
    )
    for other, survivor in before:  # merges of earlier runs
        merge_workers(conn, survivor, [other], "nik")


@st.composite
def a_run(draw: st.DrawFn) -> tuple[list[tuple[int, int]], list[tuple[int, list[int], str]]]:
    """Earlier runs' merges, then this run's: each between roots of the moment, as resolve makes them."""
    root = {k: k for k in KEYS}

    def merge(survivor: int, others: list[int]) -> None:
        for k, r in root.items():
            if r in others:
                root[k] = survivor

    before = []
    for _ in range(draw(st.integers(0, 3))):
        roots = sorted(set(root.values()))
        if len(roots) < 2:
            break
        a, b = sorted(draw(st.lists(st.sampled_from(roots), min_size=2, max_size=2, unique=True)))
        before.append((b, a))
        merge(a, [b])
    run = []
    for _ in range(draw(st.integers(1, 4))):
        roots = sorted(set(root.values()))
        if len(roots) < 2:
            break
        group = sorted(draw(st.lists(st.sampled_from(roots), min_size=2, max_size=3, unique=True)))
        run.append((group[0], group[1:], draw(st.sampled_from(["nik", "name_birth_date"]))))
        merge(group[0], group[1:])
    return before, run


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(a_run())
def test_merges_written_together_equal_one_after_another(clean_warehouse: str, case) -> None:
    before, run = case
    with psycopg.connect(clean_warehouse) as conn:
        _fresh(conn, before)
        for survivor, others, rule in run:
            merge_workers(conn, survivor, others, rule)
        one_by_one = _state(conn)
        conn.rollback()
        _fresh(conn, before)
        merge_workers_many(conn, run)
        assert _state(conn) == one_by_one
        conn.rollback()
