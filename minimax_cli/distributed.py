"""Data-parallel training (``hardware=ddp``): N processes, each on its shard of every batch, with
every derivative averaged across them, so that FR, HessianFR and LEAD stay exact, not just GDA.

Why it is exact. Every loss of our games is a mean over the rows of the batch (plus terms that do
not depend on the batch, e.g. an L2 penalty). Split a batch of n·N rows into N equal shards:
the global mean is the mean of the N shard means, and since differentiation is linear the same
holds for every derivative of the loss — gradients, Hessian-vector products ∇²L·v, mixed products,
JVPs/VJPs of the field, dense Hessians. The :class:`DistributedOracle` therefore returns, for any
request, the all-reduced mean over ranks of what its own shard gives; every rank then holds the
very derivative a single process would compute on the whole batch (up to float rounding), bit for
bit the same on all ranks. Everything an algorithm builds from them (CG iterates and inner
products, Barzilai–Borwein scalars, Levenberg–Marquardt damping ratios, Adam moments) is then
identical on all ranks without any change to the algorithms, and the players never drift apart.
Not covered: networks whose forward pass uses batch statistics (batch norm in training mode)
compute them per shard, as torch's DistributedDataParallel without SyncBatchNorm does.

Batches. The game draws the step's GLOBAL batch from its own generator (same seed, same stream on
every rank) and each rank keeps rank r's contiguous slice of every tensor (dimension 0); the
slices must be equal, so each batch dimension must be a multiple of the number of processes. The
sampler state is therefore the same on all ranks, and a checkpoint written by rank 0 resumes every
rank. Diagnostics (``grad_norm/*``, ``loss/*``) are measured the same way on the eval batch.

Roles. Rank 0 writes the run directory (metrics.jsonl, TensorBoard, summary.json, checkpoints,
figures) and alone evaluates the game's extra metrics (W1, FID …: not part of the dynamics); the
other ranks write nothing. Every rank reads the checkpoint on resume.

Launch. Under torchrun (``torchrun --nproc_per_node=N -m minimax_cli train hardware=ddp ...``)
each process is a rank; rank 0 resolves the run directory once (Hydra's ``${now}`` differs per
process) and sends it to the others. Outside torchrun, ``minimax train hardware=ddp
hardware.nproc=N`` makes each job start its own torchrun (``python -m minimax_cli.distributed``,
torch's launcher without its traceback noise) on this machine, waits for it, and if a rank failed
records the root cause (the first rank that failed, not the ranks that then lost contact with it)
in the job's summary.json; this also works inside every sweep launcher (one torchrun per job).

Failures. A collective that waits longer than ``hardware.timeout_s`` (a rank died, or hangs)
raises; a rank whose peer died sees its connection close at once; torchrun stops the remaining
ranks when one exits with an error. Nothing waits forever.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils._pytree import tree_flatten, tree_map, tree_unflatten

from minimax_cli.errors import ConfigError, MinimaxError
from minimax_cli.oracle import BOOKKEEPING, REQUESTS, Oracle

log = logging.getLogger("minimax")

BACKENDS = ("auto", "gloo", "nccl")
#: environment variable naming the folder where ranks report failures to the launching process
ERRORS_ENV = "MINIMAX_DDP_ERRORS"
#: hydra overrides a job passes on to its ranks (the rest is about the launching process: sweep
#: dirs, launcher, sweeper)
_HYDRA_PASSED = ("hydra.searchpath", "hydra/job_logging", "hydra.job_logging", "hydra/hydra_logging",
                 "hydra.hydra_logging", "hydra.verbose", "hydra.job.env_set", "hydra.job.name")


class LostRank(RuntimeError):
    """A collective failed: another rank failed, died or timed out (the root cause is there)."""


class RankFailure(MinimaxError):
    """A data-parallel job failed; ``user_error``: bad input (exit 2) rather than a bug (exit 1)."""

    def __init__(self, message: str, user_error: bool):
        super().__init__(message)
        self.user_error = user_error


# -- the process group -------------------------------------------------------------------------------
@dataclass
class Comm:
    """This process's place in the data-parallel group."""

    rank: int
    world: int
    local_rank: int
    backend: str
    timeout_s: float

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def _collective(self, fn, *args):
        try:
            return fn(*args)
        except RuntimeError as exc:  # gloo/nccl: peer closed the connection, or the timeout passed
            detail = " ".join(str(exc).split())[:300]
            raise LostRank(f"rank {self.rank} lost contact with the other ranks (one failed, was killed or "
                           f"did not answer within hardware.timeout_s={self.timeout_s:g}s): {detail}") from exc

    def mean(self, tree):
        """The mean over ranks of every tensor in ``tree`` (one all-reduce per dtype)."""
        import torch.distributed as dist

        leaves, spec = tree_flatten(tree)
        groups: dict = {}
        for i, leaf in enumerate(leaves):
            if isinstance(leaf, torch.Tensor):
                groups.setdefault((leaf.dtype, leaf.device), []).append(i)
        out = list(leaves)
        for index in groups.values():
            flat = torch.cat([leaves[i].detach().reshape(-1) for i in index])  # a copy: outputs stay untouched
            self._collective(dist.all_reduce, flat)
            flat.div_(self.world)
            offset = 0
            for i in index:
                n = leaves[i].numel()
                out[i] = flat[offset:offset + n].view_as(leaves[i])
                offset += n
        return tree_unflatten(out, spec)

    def broadcast_object(self, obj):
        import torch.distributed as dist

        box = [obj]
        self._collective(dist.broadcast_object_list, box, 0)
        return box[0]

    def barrier(self) -> None:
        import torch.distributed as dist

        self._collective(dist.barrier)

    def max_on_cpu(self, value: int) -> int:
        """The largest ``value`` over ranks, through a gloo group (no device synchronization)."""
        import torch.distributed as dist

        if getattr(self, "_cpu_group", None) is None:   # created by every rank at its first call
            self._cpu_group = dist.group.WORLD if self.backend == "gloo" else dist.new_group(backend="gloo")
        box = torch.tensor([value], dtype=torch.int64)
        self._collective(dist.all_reduce, box, dist.ReduceOp.MAX, self._cpu_group)
        return int(box)

    def in_sync(self, state: dict) -> bool:
        """Whether the players are bitwise identical on all ranks (they must be: every rank applies
        the same all-reduced derivatives; a difference means a non-deterministic kernel)."""
        import torch.distributed as dist

        mine = torch.cat([state["x"].detach().reshape(-1), state["y"].detach().reshape(-1)])
        ref = mine.clone()
        self._collective(dist.broadcast, ref, 0)
        differ = torch.tensor([0.0 if torch.equal(ref, mine) else 1.0], device=mine.device)
        self._collective(dist.all_reduce, differ)
        return float(differ) == 0.0


_COMM: Comm | None = None
_FAILED = False   # this rank reported a failure (report_failure)


def agree_on_signal(signum: int) -> int:
    """A stop signal any rank received (0: none): every rank calls it at the same step boundary."""
    return signum if _COMM is None else _COMM.max_on_cpu(signum)


def active() -> bool:
    """Whether this process is a rank of a data-parallel run."""
    return _COMM is not None


def is_main() -> bool:
    """Rank 0 of a data-parallel run, or any ordinary process: the one that writes the run dir."""
    return _COMM is None or _COMM.is_main


def in_torchrun() -> bool:
    return all(key in os.environ for key in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"))


def is_ddp(cfg) -> bool:
    hw = cfg.get("hardware")
    return bool(hw is not None and hw.get("ddp", False))


def _backend(hw, cuda: bool) -> str:
    backend = str(hw.get("backend", "auto"))
    return ("nccl" if cuda else "gloo") if backend == "auto" else backend


def init(hw) -> Comm:
    """Join torchrun's process group (once per process; the env:// rendezvous of torchrun)."""
    global _COMM
    if _COMM is not None:
        return _COMM
    import torch.distributed as dist

    local_rank = int(os.environ.get("LOCAL_RANK", os.environ["RANK"]))
    cuda = str(hw.get("device", "auto")) != "cpu" and torch.cuda.is_available()
    backend = _backend(hw, cuda)
    if backend == "nccl" and not cuda:
        raise ConfigError("hardware.backend=nccl needs CUDA GPUs (hardware.device auto or cuda); none is in use "
                          "(use hardware.backend=gloo)")
    if cuda:
        if local_rank >= torch.cuda.device_count():
            raise ConfigError(f"hardware=ddp runs one process per GPU, but this machine's process {local_rank} has "
                              f"no GPU ({torch.cuda.device_count()} visible): use hardware.nproc <= "
                              f"{torch.cuda.device_count()}")
        torch.cuda.set_device(local_rank)
    timeout = float(hw.get("timeout_s", 1800))
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, timeout=datetime.timedelta(seconds=timeout))
    _COMM = Comm(rank=dist.get_rank(), world=dist.get_world_size(), local_rank=local_rank, backend=backend,
                 timeout_s=timeout)
    from minimax_cli import signals

    signals.defer(agree_on_signal)  # a signal stops every rank at one agreed step boundary (signals.py)
    import atexit

    atexit.register(_shutdown)
    return _COMM


def _shutdown() -> None:
    """Leave the process group while the interpreter is whole. Gloo ranks whose runs went well
    first meet (bounded by hardware.timeout_s, at most 60 s), so no rank tears its connections down
    while a peer's worker threads still use them; and our references to the groups go before the
    groups, so destroy_process_group really destroys them here rather than during interpreter
    finalization (where gloo's threads abort the process now and then: SIGABRT, "terminate called
    without an active exception", 1 exit in 10 under load after runs that had all finished)."""
    global _COMM
    import gc

    import torch.distributed as dist

    comm, _COMM = _COMM, None
    if dist.is_initialized():
        if comm is not None and comm.backend == "gloo" and not _FAILED:
            try:
                dist.monitored_barrier(timeout=datetime.timedelta(seconds=min(comm.timeout_s, 60.0)))
            except Exception:  # noqa: BLE001  a peer already gone: leave anyway
                pass
        del comm
        try:
            dist.destroy_process_group()
        except Exception:  # noqa: BLE001  at exit, after a failure: nothing left to do
            pass
        gc.collect()


# -- configuration -------------------------------------------------------------------------------------
def check_config(cfg, game) -> None:
    """hardware=ddp's own keys, and that the game has batches to split (called by check_run)."""
    if not is_ddp(cfg):
        return
    seeds = cfg.get("seeds", 1)
    if seeds > 1:
        raise ConfigError(f"seeds={seeds} runs every seed in one process; hardware=ddp splits one seed's batch "
                          "across processes: use one of them")
    hw = cfg.hardware
    nproc = hw.get("nproc", None)
    if nproc is not None and (isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1):
        raise ConfigError(f"hardware.nproc must be null (one per visible GPU) or an integer >= 1 (got {nproc!r})")
    if str(hw.get("backend", "auto")) not in BACKENDS:
        raise ConfigError(f"hardware.backend must be one of {', '.join(BACKENDS)} (got {hw.get('backend')!r})")
    timeout = hw.get("timeout_s", 1800)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ConfigError(f"hardware.timeout_s must be a number of seconds > 0 (got {timeout!r})")
    if game.analytic:
        raise ConfigError(f"hardware=ddp splits each step's batch across processes; game {game.name} is analytic "
                          "(no batch): run it with hardware=cpu (its starts are already vectorized)")
    rows = getattr(game, "batch_rows", dict)()
    odd = [(key, n) for key, n in rows.items() if nproc is not None and n % nproc]
    if odd:
        raise ConfigError(f"hardware=ddp splits every batch into hardware.nproc={nproc} equal shards, but "
                          f"{odd[0][0]}={odd[0][1]} is not a multiple of {nproc}")


def _default_nproc(hw) -> int:
    device = str(hw.get("device", "auto"))
    count = torch.cuda.device_count() if device != "cpu" and torch.cuda.is_available() else 0
    if count == 0:
        raise ConfigError("hardware=ddp without a GPU: say how many CPU processes to run with hardware.nproc=N "
                          "(backend gloo)")
    return count


def prepare(head, overrides: list[str], multirun: bool) -> list[str]:
    """Overrides to add before Hydra starts (``head``: the first job's config with its hydra node).

    The number of processes is written into the config (``hardware.nproc``: torchrun's world size,
    or one per visible GPU), so the run's saved overrides and checkpoints name it and a resume uses
    the same split. Under torchrun every rank gets rank 0's run directory; ranks other than 0 get
    no ``.hydra/`` output and no log file (they write nothing).
    """
    if not is_ddp(head):
        return []
    hw = head.hardware
    given = {o.split("=", 1)[0].lstrip("+~") for o in overrides if "=" in o}
    nproc = hw.get("nproc", None)
    if not in_torchrun():
        return [] if nproc is not None else [f"hardware.nproc={_default_nproc(hw)}"]
    if multirun:
        raise MinimaxError("under torchrun, run one job per torchrun (without -m); for a sweep of data-parallel "
                           "runs use minimax train -m hardware=ddp hardware.nproc=N (each job starts its own torchrun)")
    world = int(os.environ["WORLD_SIZE"])
    added = []
    if nproc is None:
        added.append(f"hardware.nproc={world}")
    elif nproc != world:
        raise ConfigError(f"hardware.nproc={nproc} but torchrun started {world} processes; leave hardware.nproc "
                          "out under torchrun, or make the two agree")
    comm = init(hw)
    if "hydra.run.dir" not in given:
        added.append(f"hydra.run.dir={comm.broadcast_object(str(head.hydra.run.dir) if comm.is_main else None)}")
    if not comm.is_main:
        added += ["hydra.output_subdir=null", "~hydra.job_logging.handlers.file",
                  "hydra.job_logging.root.handlers=[console]"]
    return added


# -- one rank's run ----------------------------------------------------------------------------------
class _RankFilter(logging.Filter):
    def __init__(self, rank: int):
        super().__init__()
        self.rank = rank

    def filter(self, record):
        record.msg = f"rank {self.rank}: {record.msg}"
        return True


def join(cfg, game, device: torch.device) -> torch.device:
    """Called by assemble.assemble once the game is built: join the group (hardware=ddp), check that
    every rank got here (their configs validated) before rank 0 writes anything, and return this
    rank's device (cuda:LOCAL_RANK on GPUs). Ranks other than 0 do not evaluate the game's extra
    metrics or figures. Without hardware=ddp: ``device`` unchanged."""
    if not is_ddp(cfg):
        return device
    if not in_torchrun():
        raise ConfigError("hardware=ddp runs under torchrun: start it with minimax train hardware=ddp "
                          "hardware.nproc=N (which starts torchrun) or torchrun ... -m minimax_cli train")
    check_config(cfg, game)
    comm = init(cfg.hardware)
    nproc = cfg.hardware.get("nproc", None)
    if nproc is not None and nproc != comm.world:
        raise ConfigError(f"hardware.nproc={nproc} but {comm.world} processes joined the run")
    logger = logging.getLogger("minimax")
    if not any(isinstance(f, _RankFilter) for f in logger.filters):
        logger.addFilter(_RankFilter(comm.rank))
    if not comm.is_main:
        logger.setLevel(logging.WARNING)
        # the game's own diagnostics are rank 0's (not part of the dynamics, maybe costly: FID)
        game.extra_metrics = lambda x, y, step: {}
        game.figures = lambda *args, **kwargs: []
        game.snapshot = lambda *args, **kwargs: {}
    comm.barrier()
    return torch.device("cuda", comm.local_rank) if device.type == "cuda" else device


def summary_fields(state: dict) -> dict:
    """What summary.json records of a data-parallel run (a collective: every rank calls it)."""
    if _COMM is None:
        return {}
    in_sync = _COMM.in_sync(state)
    if not in_sync:
        log.warning("the players differ across the %d ranks at the end of the run (a non-deterministic kernel?); "
                    "rank 0's are the ones saved", _COMM.world)
    return {"world_size": _COMM.world, "backend": _COMM.backend, "ranks_in_sync": in_sync}


class NullLog:
    """RunLog's interface for ranks other than 0: they write nothing."""

    def __init__(self):
        self.dir = None  # hooks that write files are muted on these ranks (see setup)
        self.fields: dict = {}
        self.history: list[dict] = []
        self.last: dict = {}

    def log(self, step, metrics, wall_time, seed=None):
        pass

    def add_figure_png(self, tag, png_path, step, seed=None):
        pass

    def add_artifact(self, path):
        pass

    def checkpointed(self):
        pass

    def summary(self, payload):
        pass

    def close(self, quiet: bool = False):
        pass


def report_failure(exc: BaseException, message: str, user_error: bool) -> bool:
    """Tell the launching process (if any) how this rank failed. Returns True for ranks other
    than 0, which must then write nothing into the run directory."""
    global _FAILED
    if _COMM is None:
        return False
    _FAILED = True   # no meeting at exit: the peers may be gone or stuck in a collective
    folder = os.environ.get(ERRORS_ENV)
    if not folder and not _COMM.is_main:  # under a bare torchrun: this rank's traceback goes nowhere else
        sys.stderr.write("".join(traceback.format_exception(exc)))
    if folder:
        record = {"rank": _COMM.rank, "time": time.time(), "message": message, "user_error": user_error,
                  "lost_contact": isinstance(exc, LostRank),
                  "traceback": "".join(traceback.format_exception(exc))}
        tmp = Path(folder) / f".rank{_COMM.rank}.json.tmp"
        tmp.write_text(json.dumps(record))
        os.replace(tmp, Path(folder) / f"rank{_COMM.rank}.json")
    return not _COMM.is_main


# -- the oracle -------------------------------------------------------------------------------------------
def shard(batch, rank: int, world: int):
    """Rank ``rank``'s slice (dimension 0, contiguous, 1/world of the rows) of every tensor in a batch."""
    if batch is None or world == 1:
        return batch

    def one(t):
        if not isinstance(t, torch.Tensor) or t.dim() == 0:
            return t
        n = t.shape[0]
        if n % world:
            raise ConfigError(f"hardware=ddp splits every batch into {world} equal shards, but a batch tensor has "
                              f"{n} rows; make the game's batch sizes (game.batch.size, eval_size ...) multiples "
                              f"of hardware.nproc={world}")
        size = n // world
        return t.narrow(0, rank * size, size)

    return tree_map(one, batch)


#: Oracle requests whose results are means over the batch (derivatives, losses): averaged over
#: ranks, as each request declares (oracle.request); the Oracle's other methods are bookkeeping
REDUCED = tuple(name for name, spec in REQUESTS.items() if spec.reduced)
NOT_REDUCED = BOOKKEEPING + tuple(name for name, spec in REQUESTS.items() if not spec.reduced)


def _reduced(name: str):
    base = getattr(Oracle, name)

    def method(self, *args, **kwargs):
        if self._depth:  # inside another request (e.g. the gradient a JVP differentiates): local
            return base(self, *args, **kwargs)
        self._depth += 1
        try:
            out = base(self, *args, **kwargs)
        finally:
            self._depth -= 1
        return self._comm.mean(out)

    method.__name__, method.__doc__ = name, base.__doc__
    return method


class DistributedOracle(Oracle):
    """The Oracle on this rank's shard of the batch, returning every derivative and loss averaged
    over ranks (one all-reduce per request). Requests made inside a request (the gradient that a
    Hessian-vector product differentiates through) stay local: the mean is taken once, of the
    result, since a collective cannot be differentiated by torch.func and does not need to be
    (the mean commutes with differentiation)."""

    def __init__(self, game, batch=None, *args, **kwargs):
        self._comm = _COMM
        self._depth = 0
        super().__init__(game, shard(batch, _COMM.rank, _COMM.world), *args, **kwargs)

    def _share(self, out):
        # a closure's product (a pullback, a kept graph's HVP) called by the algorithm: one
        # all-reduce like a request; called inside a request it stays local
        return out if self._depth else self._comm.mean(out)


for _name in REDUCED:
    setattr(DistributedOracle, _name, _reduced(_name))
del _name


def oracle_class():
    """The Oracle the runner builds: distributed in a data-parallel run."""
    return DistributedOracle if _COMM is not None else Oracle


# -- launching torchrun from a job --------------------------------------------------------------------
def should_launch(cfg) -> bool:
    """hardware=ddp outside torchrun: this job starts its own torchrun."""
    return is_ddp(cfg) and not in_torchrun()


def launch(cfg, run_dir: Path) -> str:
    """Run this Hydra job as ``hardware.nproc`` ranks under torchrun, on this machine; returns the
    run's status (rank 0's summary). On failure raises :class:`RankFailure` with the root cause
    (and writes the failing rank's traceback to ``error.txt`` when it was a bug)."""
    from hydra.core.hydra_config import HydraConfig

    hc = HydraConfig.get()
    nproc = cfg.hardware.get("nproc", None) or _default_nproc(cfg.hardware)
    passed = [o for o in hc.overrides.hydra if o.split("=", 1)[0].lstrip("+~").startswith(_HYDRA_PASSED)]
    args = ["--standalone", f"--nproc_per_node={nproc}", "-m", "minimax_cli", "train", *hc.overrides.task,
            *passed, f"hydra.run.dir={run_dir}", "hydra.output_subdir=null"]
    package_root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([package_root] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    log.info("starting %d processes (torchrun, hardware=ddp) -> %s", nproc, run_dir)
    with tempfile.TemporaryDirectory(prefix="minimax-ddp-") as errors:
        env[ERRORS_ENV] = errors
        proc = subprocess.Popen([sys.executable, "-m", "minimax_cli.distributed", *args], env=env)
        stop = None
        try:
            code = proc.wait()
        except KeyboardInterrupt as exc:  # Ctrl-C (the ranks got it too) or SIGTERM to this process only:
            stop = exc                    # torchrun passes SIGTERM on, the ranks stop at one step boundary
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
        records = [json.loads(p.read_text()) for p in Path(errors).glob("rank*.json")]
    summary = Path(run_dir) / "summary.json"
    status = json.loads(summary.read_text())["status"] if summary.exists() else None
    if not records and (status == "interrupted" or (code == 0 and status is not None)):
        return status
    if stop is not None:
        raise stop
    raise _root_cause(records, nproc, code, Path(run_dir))


def _root_cause(records: list[dict], nproc: int, code: int, run_dir: Path) -> RankFailure:
    """The first rank that failed on its own (ranks that then lost contact with it come after)."""
    own = sorted((r for r in records if not r["lost_contact"]), key=lambda r: r["time"])
    if own:
        first = own[0]
        if first["user_error"]:
            return RankFailure(first["message"], user_error=True)
        (run_dir / "error.txt").write_text(first["traceback"])
        return RankFailure(f"rank {first['rank']}: {first['message']}", user_error=False)
    silent = sorted(set(range(nproc)) - {r["rank"] for r in records})
    if silent:
        who = ", ".join(map(str, silent))
        return RankFailure(f"rank {who} of {nproc} stopped without an error report: killed (by a signal, out of "
                           f"memory?) or hung past hardware.timeout_s; torchrun exit code {code}", user_error=False)
    if records:
        return RankFailure(f"rank {records[0]['rank']}: {records[0]['message']}", user_error=False)
    return RankFailure(f"torchrun failed (exit code {code}) before the ranks started", user_error=False)


def _torchrun_main(argv: list[str]) -> int:
    """torchrun, minus the traceback it prints when a rank fails (each rank reports its own error)."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    logging.getLogger("torch.distributed.elastic").setLevel(logging.ERROR)
    try:
        run(parse_args(argv))
    except ChildFailedError:
        return 1
    except SignalException as exc:  # SIGTERM/SIGINT: the ranks were told and have stopped (signals.py)
        return 128 + int(exc.sigval)
    return 0


if __name__ == "__main__":
    raise SystemExit(_torchrun_main(sys.argv[1:]))
