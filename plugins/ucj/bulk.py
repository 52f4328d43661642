"""Helpers for stages that build millions of Python objects at once."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def without_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a bulk stage builds its objects.

    Every few hundred allocations the collector walks the young objects, and
    every so often all of them; with millions of rows, keys and cells alive
    that is a quarter of identity resolution and a tenth of ingest (measured
    at 1M rows, docs/benchmarks.md). The objects these stages build hold no
    reference cycles, so reference counting frees them and nothing leaks.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
