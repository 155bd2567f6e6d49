"""How many CPUs this process may actually use, and torch's thread settings from it.

torch sizes its intra-op pool from the machine's cores. On shared machines a job is usually
allowed fewer: a CPU affinity mask (taskset, SLURM's cpusets), a cgroup CPU quota (containers,
Kubernetes, systemd slices: cgroup v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``) or the SLURM
allocation (``SLURM_CPUS_PER_TASK``). More threads than allowed CPUs make every parallel region
wait for a thread the scheduler has parked, and a run collapses (7× measured on a 2-core machine
with one other busy process). The default thread count is therefore the least of these limits,
divided among the processes of a data-parallel run on this node (``LOCAL_WORLD_SIZE``).

Idle OpenMP threads must sleep rather than spin, or they take the cores other processes (and our
own other threads) need: ``OMP_WAIT_POLICY=PASSIVE`` is set before torch loads its OpenMP runtime
(``minimax_cli/__init__.py``), unless the user set it.

Steps are pure functions: every step allocates its new parameters, moments and gradients. glibc
returns large freed blocks to the system (mmap'd blocks, and the heap's top beyond a trim
threshold), so the next step's tensors of the same size page-fault their memory back in: ~0.5 s
of page faults per 100 Adam steps on Askari Hemmat et al. 2023's 8.1M-parameter networks, a third
of the update.
``tune_allocator`` keeps freed memory for reuse (blocks under 64 MiB from the heap, 1 GiB of free
heap kept), as a caching allocator would; the process's peak memory is unchanged.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

#: what ``OMP_WAIT_POLICY`` is set to when the user has not set it (read once, when libgomp loads)
WAIT_POLICY = "PASSIVE"


def set_wait_policy() -> None:
    """Idle OpenMP threads sleep (``OMP_WAIT_POLICY=PASSIVE``) unless the user chose otherwise.
    Effective only before torch (its OpenMP runtime) is first imported."""
    os.environ.setdefault("OMP_WAIT_POLICY", WAIT_POLICY)


def tune_allocator() -> bool:
    """glibc malloc keeps freed memory for the next step's tensors (see above); False where the
    C library is not glibc (nothing is changed)."""
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_mmap_threshold, 64 << 20)) and bool(mallopt(m_trim_threshold, 1 << 30))


def affinity_cpus() -> int | None:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def _cgroup_dirs(root: Path) -> list[Path]:
    """This process's cgroup directories with the CPU controller and their ancestors (a quota
    anywhere above applies too), from /proc/self/cgroup: v2 under ``root``, v1 under its cpu mount."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return [root]
    out = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        controllers, path = parts[1], parts[2]
        if not controllers:                                   # v2: one unified hierarchy
            mounts = [root]
        elif "cpu" in controllers.split(","):                 # v1: the cpu controller's own mount
            mounts = [root / "cpu", root / "cpu,cpuacct", root / controllers]
        else:
            continue
        for mount in mounts:
            here = mount / path.lstrip("/")
            while True:
                out.append(here)
                if here == mount or mount not in here.parents:
                    break
                here = here.parent
    return out or [root]


def quota_cpus(root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """ceil(quota / period) of the tightest cgroup CPU quota on this process (v2 or v1), or None."""
    best = None
    for base in dict.fromkeys(_cgroup_dirs(root)):
        quota = period = None
        try:
            text = (base / "cpu.max").read_text().split()        # v2: "max 100000" or "150000 100000"
            if len(text) == 2 and text[0] != "max":
                quota, period = int(text[0]), int(text[1])
        except (OSError, ValueError):
            try:                                                   # v1: quota -1 means none
                quota = int((base / "cpu.cfs_quota_us").read_text())
                period = int((base / "cpu.cfs_period_us").read_text())
            except (OSError, ValueError):
                continue
        if quota is not None and period and quota > 0:
            cpus = max(1, math.ceil(quota / period))
            best = cpus if best is None else min(best, cpus)
    return best


def slurm_cpus() -> int | None:
    value = os.environ.get("SLURM_CPUS_PER_TASK", "")
    return int(value) if value.isdigit() and int(value) > 0 else None


def available_cpus() -> int:
    """The CPUs this process may use: the least of its affinity mask, cgroup quota and SLURM
    allocation (os.cpu_count() when none is known)."""
    limits = [n for n in (affinity_cpus(), quota_cpus(), slurm_cpus()) if n]
    return min(limits) if limits else (os.cpu_count() or 1)


def local_processes() -> int:
    """Processes of this run on this node (torchrun's LOCAL_WORLD_SIZE; 1 otherwise)."""
    value = os.environ.get("LOCAL_WORLD_SIZE", "")
    return int(value) if value.isdigit() and int(value) > 0 else 1


_TORCH_DEFAULT: list[int] = []


def default_threads() -> int:
    """torch's own default (physical cores) capped by what the process may use, shared among the
    node's processes of a data-parallel run."""
    import torch

    if not _TORCH_DEFAULT:  # before any set_num_threads of this process (a multirun's jobs share it)
        _TORCH_DEFAULT.append(torch.get_num_threads())
    return max(1, min(_TORCH_DEFAULT[0], available_cpus()) // local_processes())


def apply_threads(hw) -> None:
    """torch's intra-op thread count: hardware.threads, or (null) what the process may use
    (default_threads: affinity, cgroup quota, SLURM allocation, shared among a node's
    data-parallel processes). One inter-op thread: nothing here runs ops concurrently."""
    import torch

    threads = hw.get("threads", None)
    threads = default_threads() if threads is None else int(threads)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # only possible before the pool starts (and once): then it is already set
        pass
