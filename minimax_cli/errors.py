"""Errors that reach the user as one clear line (never a traceback)."""


class MinimaxError(Exception):
    """Base class: the message is complete and user-facing (what was wrong, what is allowed)."""


class ConfigError(MinimaxError):
    """A configuration value is invalid."""


class DataError(MinimaxError):
    """Data or weights the run needs are missing or unreadable."""


class RunDirError(MinimaxError):
    """The run directory cannot be used without destroying earlier results."""
