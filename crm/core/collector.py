"""The garbage collector's policy: paused or frozen where a process builds many long-lived objects (the
application, an import's rows) and (almost) no garbage, so collections do not walk them again and again."""

from __future__ import annotations

import atexit
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


_exit_hook: dict[str, bool] = {"registered": False}


def skip_final_collections() -> None:
    """When the command's process exits, freeze what is left instead of letting the interpreter's last garbage
    collections walk every object of the application (0.4 s at the end of each command). Nothing is lost: the
    memory goes back to the system, and atexit handlers and weakref finalizers registered before still run."""
    if not _exit_hook["registered"]:
        _exit_hook["registered"] = True
        atexit.register(gc.freeze)


@contextlib.contextmanager
def application_frozen() -> Iterator[None]:
    """Keep the objects that exist when the command starts (the application: modules, models, routes, about
    170,000 objects) out of the garbage collections during the command: each full collection would walk them
    all again, and a command that reads 10,000 rows sets off several (0.3 s of an import's 3.5 s). They are
    handed back to the collector when the command ends, so a process that runs many commands (the tests) keeps
    no garbage."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def freeze_application() -> None:
    """Keep the objects that exist now (a web worker's application: modules, models, routes, some 200,000 of them)
    out of the garbage collector for good: its full collections otherwise walk them all again every few hundred
    requests; with gunicorn --preload it also keeps the forked workers from copying the pages the collector would
    touch."""
    gc.freeze()
