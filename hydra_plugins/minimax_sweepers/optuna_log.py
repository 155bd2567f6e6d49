"""optuna's own log lines ("A new study created", "Trial 0 finished") in colour on a terminal only.

optuna logs through a handler of its own on stderr whose colorlog formatter is not told the stream,
so its colour codes land in a file or pipe too (``minimax train -m ... 2>&1 | cat``, a SLURM log).
"""

from __future__ import annotations

import logging


def colours_only_on_a_terminal() -> None:
    """Give optuna's handler a formatter that knows its stream: colour codes only where it is a
    terminal (colorlog also honours NO_COLOR and FORCE_COLOR). Imports optuna (the sweeper would)."""
    import colorlog
    import optuna.logging

    optuna.logging.get_logger("optuna")   # (its handler is made with its first logger)
    for handler in logging.getLogger("optuna").handlers:
        formatter = handler.formatter
        if isinstance(handler, logging.StreamHandler) and isinstance(formatter, colorlog.ColoredFormatter):
            handler.setFormatter(colorlog.ColoredFormatter(formatter._fmt, datefmt=formatter.datefmt,
                                                           stream=handler.stream))
