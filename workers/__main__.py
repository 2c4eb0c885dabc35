"""``python -m workers worker ...``: Celery's own command line for this app, without its interactive shell.

``python -m workers worker --loglevel=INFO`` is ``celery -A workers.celery_app worker --loglevel=INFO`` (any
``celery`` subcommand works the same way), except that ``celery amqp repl`` is not offered: the ``celery``
command imports click-repl, and with it prompt_toolkit, for that shell alone, which costs every worker process
6 MB of memory it never uses.
"""

from __future__ import annotations

import sys
import types


def main(argv: list[str] | None = None) -> None:
    if "click_repl" not in sys.modules:
        without_shell = types.ModuleType("click_repl")
        without_shell.register_repl = lambda group, name="repl": None  # type: ignore[attr-defined]
        sys.modules["click_repl"] = without_shell
    from celery.__main__ import main as celery_main

    sys.argv = [sys.argv[0], "-A", "workers.celery_app", *(sys.argv[1:] if argv is None else argv)]
    celery_main()


if __name__ == "__main__":
    main()
