"""What a run is doing, as it does it: one line when a phase starts (reading the data, FID
statistics of the real images, pre-training, training, figures), then a progress line every
``interval`` seconds while it lasts, and a closing line for a phase that lasted that long.

    with progress.phase("FID statistics of the real images", total=n, unit="images") as p:
        for batch in batches:
            ...
            p.update(len(batch))

Lines go through the ``minimax`` logger, i.e. to the console and to the run's ``minimax.log``.
On a terminal (stderr is a TTY), and in a Jupyter notebook (the Python API, minimax_cli/api.py),
the console shows a tqdm bar instead of the periodic lines, which then go to the log file only
(``ConsoleFilter`` on the console handler, conf/hydra/job_logging).
The periodic lines come from one background thread, so a phase that blocks (a torchvision
dataset constructor, one long FID evaluation inside a training step) still reports that it is
alive; ``update`` only counts.

``configure(progress)`` applies the run's ``progress`` key: true = a line every 10 s, a number =
every that many seconds, false/0 = no phase output at all (tests, reproductions' inner runs).
"""

from __future__ import annotations

import logging
import math
import sys
import threading
import time

log = logging.getLogger("minimax")

DEFAULT_INTERVAL = 10.0
#: seconds before a terminal bar appears (shorter phases leave no trace on a terminal)
BAR_DELAY = 2.0
#: ``extra`` of a record the console handler drops (the bar shows it on a terminal)
FILE_ONLY = {"minimax_console": False}

_settings = {"interval": DEFAULT_INTERVAL, "label": ""}
_open: list["Phase"] = []          # the phases now running, outermost first
_ticker: threading.Thread | None = None
_lock = threading.Lock()


def interval_of(value) -> float:
    """Seconds between progress lines for a ``progress`` value (true: 10 s; false, null, 0: off)."""
    from minimax_cli.errors import ConfigError

    if value is None or value is False:
        return 0.0
    if value is True:
        return DEFAULT_INTERVAL
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"progress must be true, false or seconds between progress lines (got {value!r})") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise ConfigError(f"progress must be true, false or seconds between progress lines >= 0 (got {value!r})")
    return seconds


def configure(progress=True, label: str = "") -> None:
    """This process's phase output from now on: ``progress`` as in :func:`interval_of`; ``label``
    starts every line (e.g. ``#3 `` for job 3 of a parallel sweep, whose lines interleave)."""
    _settings["interval"] = interval_of(progress)
    _settings["label"] = label


def enabled() -> bool:
    return _settings["interval"] > 0


class ConsoleFilter(logging.Filter):
    """On the console handler: drops the records marked ``FILE_ONLY`` (periodic lines a bar shows)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "minimax_console", True)


def duration(seconds: float) -> str:
    """12s, 2m05s, 1h02m."""
    s = int(round(seconds))
    if s < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class Phase:
    """One phase; see the module docstring. ``total`` (optional) and ``unit`` describe the count
    ``update`` advances from ``initial`` (a resumed run); ``note`` is appended to the progress
    lines (e.g. the last logged metrics); ``detail`` is added to the first line only; ``quiet``:
    no output at all."""

    def __init__(self, name: str, total: int | None = None, unit: str = "steps", initial: int = 0,
                 quiet: bool = False, detail: str = ""):
        self.name, self.total, self.unit, self.detail = name, total, unit, detail
        self.n = self.initial = int(initial)
        self.note = ""
        self.interval = _settings["interval"]
        self.quiet = quiet or self.interval <= 0
        self.label = _settings["label"]
        self._bar = None
        self._lines = 0
        self._t0 = self._last = time.monotonic()

    # -- life cycle ----------------------------------------------------------------------------------
    def __enter__(self) -> "Phase":
        return self.start()

    def __exit__(self, kind, exc, tb) -> None:
        self.close(done=kind is None)

    def start(self) -> "Phase":
        if self.quiet:
            return self
        size = "" if self.total is None else f" ({self.total - self.initial:,} {self.unit})"
        self._say(f"{self.name}{size}" + (f": {self.detail}" if self.detail else ""))
        self._t0 = self._last = time.monotonic()
        tqdm = bar_class()
        if tqdm is not None:
            self._bar = tqdm(total=self.total, initial=self.initial, unit=f" {self.unit}", delay=BAR_DELAY,
                             file=sys.stderr, dynamic_ncols=True, leave=False, desc=self.label + self.name)
        with _lock:
            _open.append(self)
        _start_ticker()
        return self

    def update(self, n: int = 1) -> None:
        self.n += n
        if self._bar is not None:
            self._bar.update(n)

    def set_note(self, note: str) -> None:
        self.note = note
        if self._bar is not None:
            self._bar.set_postfix_str(note, refresh=False)

    def close(self, done: bool = True) -> None:
        if self.quiet:
            return
        with _lock:
            if self in _open:
                _open.remove(self)
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        # a phase long enough to have reported progress also says that it ended
        if done and (self._lines or time.monotonic() - self._t0 >= self.interval):
            count = f"{self.n - self.initial:,} {self.unit} in " if self.n > self.initial else ""
            self._say(f"{self.name}: done, {count}{duration(time.monotonic() - self._t0)}")

    # -- lines ---------------------------------------------------------------------------------------
    def line(self) -> str:
        """The progress line now: count (of total), rate, elapsed, estimated time left, note."""
        elapsed = time.monotonic() - self._t0
        done = self.n - self.initial
        parts = []
        if self.total:
            parts.append(f"{self.n:,}/{self.total:,} {self.unit} ({100 * self.n / self.total:.0f}%)")
        elif done:
            parts.append(f"{self.n:,} {self.unit}")
        parts.append(duration(elapsed))
        if done and elapsed > 0:
            rate = done / elapsed
            parts.append(f"{rate:.3g} {self.unit}/s" if rate >= 1 else f"{1 / rate:.3g} s per {self.unit.rstrip('s')}")
            if self.total and self.n < self.total:
                parts.append(f"~{duration((self.total - self.n) / rate)} left")
        text = f"{self.name}: {', '.join(parts)}"
        return text + (f" | {self.note}" if self.note else "")

    def _tick(self, now: float) -> None:
        if now - self._last >= self.interval:
            self._last = now
            self._lines += 1
            self._say(self.line(), extra=FILE_ONLY if self._bar is not None else None)

    def _say(self, text: str, extra: dict | None = None) -> None:
        if extra is None and any(p._bar is not None for p in list(_open)):
            from tqdm import tqdm

            with tqdm.external_write_mode(file=sys.stderr):  # the line above the bars, not through them
                log.info("%s%s", self.label, text)
            return
        log.info("%s%s", self.label, text, extra=extra)


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (the Python API called from a notebook)."""
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def bar_class():
    """The bar a phase shows on the console: tqdm.auto's in a notebook (a widget where ipywidgets is
    installed), tqdm's own on a terminal; None elsewhere (a log file, a pipe: plain lines)."""
    if in_notebook():
        from tqdm.auto import tqdm

        return tqdm
    if sys.stderr.isatty():
        from tqdm import tqdm

        return tqdm
    return None


def phase(name: str, total: int | None = None, unit: str = "steps", initial: int = 0, quiet: bool = False,
          detail: str = "") -> Phase:
    """A :class:`Phase`, to use as a context manager (or ``start()``/``close()`` by hand)."""
    return Phase(name, total, unit, initial, quiet, detail)


def _start_ticker() -> None:
    global _ticker
    if _ticker is not None and _ticker.is_alive():
        return
    _ticker = threading.Thread(target=_tick_forever, name="minimax-progress", daemon=True)
    _ticker.start()


def _tick_forever() -> None:
    while True:
        with _lock:
            innermost = _open[-1] if _open else None
        if innermost is not None:
            try:
                innermost._tick(time.monotonic())
            except Exception:  # noqa: BLE001  progress output must never take a run down
                pass
        time.sleep(min(0.5, max(0.05, (innermost.interval if innermost else 1.0) / 4)))
