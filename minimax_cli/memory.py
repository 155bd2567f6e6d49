"""What the machine can hold: sizes a config asks for are checked against it before anything is
allocated, so a typo (``game.starts=1e8``, ``seeds=100000``) is one line instead of the kernel's
out-of-memory killer taking the run (and other processes) down."""

from __future__ import annotations

import os
from pathlib import Path

from minimax_cli.errors import ConfigError


def available_bytes() -> int:
    """Memory this process can still take: the least of the system's MemAvailable and the room
    under its cgroup's memory limit (v2 memory.max or v1 limit_in_bytes)."""
    found = [_meminfo_available()]
    for limit_file, usage_file in (("memory.max", "memory.current"),
                                   ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes")):
        try:
            limit = Path("/sys/fs/cgroup", limit_file).read_text().strip()
            usage = int(Path("/sys/fs/cgroup", usage_file).read_text())
        except (OSError, ValueError):
            continue
        if limit.isdigit() and int(limit) < 1 << 60:
            found.append(max(0, int(limit) - usage))
    found = [n for n in found if n is not None]
    return min(found) if found else 1 << 62


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def human(nbytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if nbytes < 1024 or unit == "PiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.1f} PiB"


def check_fits(nbytes: float, what: str, advice: str, error=ConfigError) -> None:
    """One line if ``what`` needs more than the memory available now (``nbytes``: an estimate that
    errs low, so nothing a machine can run is refused)."""
    room = available_bytes()
    if nbytes > room:
        raise error(f"{what} needs at least {human(nbytes)} of memory; {human(room)} is available here: {advice}")
