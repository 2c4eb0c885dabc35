"""Pauses of the garbage collector where a process builds many long-lived objects and (almost) no garbage."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collections_paused() -> Iterator[None]:
    """No garbage collection inside the block: each collection would walk again every object the block made and
    keeps (the application at start-up, the rows of an import), while finding next to nothing to free.

    Afterwards, unless a caller froze objects (``gc.freeze``), what the block made joins the oldest generation
    directly (``freeze`` then ``unfreeze``), as it would have after surviving the collections, instead of being
    walked once more by the first young collection. Garbage among it is found by the next full collection. The
    collector is handed back as it was found."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if not gc.get_freeze_count():  # a caller's frozen objects stay frozen
            gc.freeze()
            gc.unfreeze()
        if enabled:
            gc.enable()
