"""Signals that end a run the way Ctrl-C does.

SIGINT (Ctrl-C), SIGTERM (what SLURM at the time limit, ``timeout``, docker and systemd send), SIGHUP
(the terminal or ssh session closed) and
the signal SLURM sends ``signal_delay_s`` before the time limit (submitit's ``USR2``, or
``$SUBMITIT_PREEMPT_SIGNAL``; conf/hydra/launcher/slurm.yaml) all end a run ``interrupted``: the
loop stops, writes a checkpoint when ``checkpoint_every`` is set, the summary, and the process
exits with 128 + the signal's number (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP, 140 for SIGUSR2), so
``minimax train resume=<run dir>`` continues it. Once a run is stopping, further signals are only
recorded: they cannot tear the checkpoint being written (SIGKILL still can; the previous
checkpoint then stays, see checkpoint.py). Inside the training loop a signal takes effect at the
next step boundary (``only_between_steps``), never inside torch.func's transforms.

In a data-parallel rank (``defer``) the handler only records the signal; at each step boundary the
ranks agree over a CPU group (one tiny all-reduce) and all stop at the same step, so no rank waits
in a collective another has left and rank 0's checkpoint is of one step of every rank.

A sweep whose jobs run in worker processes (hydra/launcher=parallel) passes a stop signal on to
them (``passed_on``); a worker records one that comes while it waits for a job or sets one up
(``record_while_idle``, ``pending``), and the run it starts then stops as soon as it can record it.
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager


class Stop(KeyboardInterrupt):
    """Raised in the main thread by a stop signal; a KeyboardInterrupt, so every place that ends a
    run cleanly on Ctrl-C ends it cleanly on these signals too."""

    def __init__(self, signum: int, detail: str | None = None):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        #: what the stop left behind, for the one line the command ends with (a sweep's runs)
        self.detail = detail


_received: list[int] = []
_state = {"deferred": False, "stopping": False, "depth": 0, "between_steps": False}
#: in a data-parallel rank: the signal every rank agrees on (distributed.agree_on_signal), set by ``defer``
_agree: list = []


def preempt_signal() -> int | None:
    """The signal submitit asks SLURM to send before the time limit (USR2 unless overridden)."""
    return getattr(signal, "SIG" + os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2"), None)


def stop_signals() -> list[int]:
    return [s for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, preempt_signal()) if s is not None]


def _handler(signum, frame):
    _received.append(signum)
    if _state["deferred"] or _state["stopping"] or _state["between_steps"]:
        return
    _state["stopping"] = True
    raise Stop(signum)


@contextmanager
def handled():
    """Stop signals raise :class:`Stop` (or are deferred, in a data-parallel rank) while inside;
    the previous handlers come back after. A no-op outside the main thread."""
    with _installed(_handler) as main:
        if main and not _state["deferred"]:
            _stop_if_received()  # one recorded while the job was set up (``pending``) stops the run now
        yield


def _record(signum, frame):
    _received.append(signum)


def record_while_idle() -> None:
    """In a sweep's worker process (a loky initializer): a stop signal that comes while it waits for
    a job is recorded, not fatal; a worker killed by one makes joblib SIGKILL the others, mid-run."""
    for s in stop_signals():
        signal.signal(s, _record)


@contextmanager
def pending():
    """Inside (a sweep's worker, from taking a job until its run is ``handled``), a stop signal is
    only recorded; the run's ``handled`` then stops it at once, where the run can record it (a run
    directory that Hydra made is never left without summary.json). A no-op outside the main thread."""
    with _installed(_record):
        yield


@contextmanager
def _installed(handler):
    """``handler`` for the stop signals while inside, the previous ones after; yields whether this
    is the main thread (elsewhere nothing is installed: Python runs handlers in the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield False
        return
    if _state["depth"] == 0:
        _received.clear()
    previous = {s: signal.getsignal(s) for s in stop_signals()}
    for s in previous:
        signal.signal(s, handler)
    _state["depth"] += 1
    try:
        yield True
    finally:
        _state["depth"] -= 1
        for s, before in previous.items():
            signal.signal(s, before if before is not None else signal.SIG_DFL)
        if _state["depth"] == 0:
            _state["stopping"] = False


@contextmanager
def passed_on(forward):
    """Inside (a sweep's process waiting for its worker processes), a stop signal is not raised but
    recorded and handed to ``forward(signum)``, which signals the workers: their runs stop at a step
    boundary and write their summary, and the launcher returns what they did. Yields the signals
    received, so the caller can raise :class:`Stop` once the workers are done. A no-op outside the
    main thread."""
    got: list[int] = []

    def handler(signum, frame):
        got.append(signum)
        _received.append(signum)
        forward(signum)

    with _installed(handler):
        yield got


def defer(agree) -> None:
    """This process is a data-parallel rank: record signals, stop at an agreed step boundary.
    ``agree(signum) -> signum``: the stop signal any rank received (0: none), called by every rank
    at the same step boundary (handed in, so this module needs nothing of distributed.py)."""
    _state["deferred"] = True
    _agree[:] = [agree]


@contextmanager
def only_between_steps():
    """Inside, a stop signal is recorded and raised by the next ``at_step_boundary``, never in the
    middle of a step: an exception raised asynchronously inside torch.func's vmap/grad machinery can
    leave its transform stack inconsistent (an internal assert, the run lost as failed)."""
    previous = _state["between_steps"]
    _state["between_steps"] = True
    try:
        yield
    finally:
        _state["between_steps"] = previous
    # the loop ended on its own with a signal pending (one that came during the last step): it
    # takes effect now, where the loop's caller records the run as interrupted
    if not _state["deferred"]:
        _stop_if_received()


def _stop_if_received() -> None:
    """Raise Stop for a signal recorded while handled (and not raised yet)."""
    if _received and not _state["stopping"] and _state["depth"] > 0:
        _state["stopping"] = True
        raise Stop(_received[-1])


def at_step_boundary() -> None:
    """Called by the training loop before each step: raise Stop when a stop signal arrived during
    the last step; in a data-parallel rank, on every rank when any rank has received one."""
    if not _state["deferred"]:
        if _state["between_steps"]:
            _stop_if_received()
        return
    signum = _agree[0](_received[-1] if _received else 0)
    if signum:
        _state["stopping"] = True
        raise Stop(signum)


def exit_code(exc: BaseException | None = None) -> int:
    """128 + the number of the signal that stopped the run (130 for a plain KeyboardInterrupt)."""
    if isinstance(exc, Stop):
        return 128 + exc.signum
    return 128 + (_received[-1] if _received else signal.SIGINT)
