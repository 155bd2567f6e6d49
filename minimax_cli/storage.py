"""The disk under a run: checked before anything is written, and recognized when it fails mid-run.

Before a run: ``check_writable(target)`` finds the nearest existing folder of the run directory
and refuses, in one line naming it and the reason, a path through a file, a read-only file system,
a folder this user cannot write, a full disk (less than MIN_FREE bytes free) or one a small probe
write fails on (a quota, a file-size limit).

During a run: a write that fails for lack of room or rights (``failure``: ENOSPC, EDQUOT, EFBIG,
EROFS, EIO, EACCES, EPERM) ends the run ``failed`` with that one line as the reason, not as a bug
with a traceback. Checkpoints and summaries are written to a temporary file and renamed, so a
failed write leaves the previous file as it was (and no temporary file behind).
"""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

from minimax_cli.errors import RunDirError

MIN_FREE = 1 << 20            # bytes: below this a run could not even write its summary
PROBE_BYTES = 1 << 12
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO, errno.EACCES,
                            errno.EPERM})


def check_writable(target: Path, what: str = "the run directory") -> None:
    """Raise RunDirError (one line) unless ``target`` can be created and written."""
    target = Path(target).absolute()
    existing = target
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    reason = _problem(existing)
    if reason:
        raise RunDirError(f"cannot write {what} {target}: {existing} {reason}; choose another runs_root=... "
                          f"(or MINIMAX_RUNS=...)")


def _problem(folder: Path) -> str | None:
    if not folder.is_dir():
        return "is a file, not a directory"
    try:
        st = os.statvfs(folder)
    except OSError as exc:
        return f"cannot be inspected ({exc.strerror})"
    if st.f_flag & os.ST_RDONLY:
        return "is on a read-only file system"
    if not os.access(folder, os.W_OK | os.X_OK):
        return "is not writable by this user (permission denied)"
    if st.f_blocks == 0:   # procfs, sysfs: no storage at all, not a full disk
        return "is on a file system without storage (such as /proc or /sys)"
    free = st.f_bavail * st.f_frsize
    if free < MIN_FREE:
        return f"is on a full disk ({free} bytes free)"
    probe = folder / f".minimax-probe-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, b"\0" * PROBE_BYTES)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        return f"cannot be written ({exc.strerror})"
    finally:
        try:
            probe.unlink()
        except OSError:
            pass
    return None


def failure(exc: BaseException, run_dir: Path) -> str | None:
    """The one-line reason when ``exc`` (or what it was raised from) is a failed write to the disk."""
    seen = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in STORAGE_ERRNOS:
            where = seen.filename or run_dir
            return f"cannot write {where}: {seen.strerror or os.strerror(seen.errno)} (errno {errno.errorcode[seen.errno]})"
        seen = seen.__cause__ or seen.__context__
    return None


def quiet_writer_threads() -> None:
    """A TensorBoard writer thread that fails (a full disk) re-raises its error in the training
    thread at the next write, which ends the run with one line; its own traceback on stderr is
    noise. Installed once per process; other threads' errors are reported as before."""
    if getattr(threading.excepthook, "_minimax", False):
        return
    previous = threading.excepthook

    def hook(args):
        if type(args.thread).__name__ == "_AsyncWriterThread":
            return
        previous(args)

    hook._minimax = True
    threading.excepthook = hook
