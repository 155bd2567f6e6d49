"""Everything a run can be refused for, checked once before its directory exists.

``check_run`` checks the per-key rule table first (schema.RULES), then what no single key can
say: the game and algorithm build (constructors validate their own arguments), the algorithm's
limits on the game's size, the seeds, the hardware, the data-parallel split, the pretraining
phase and the logging cadences. A config that passes is trusted by the run (run_settings.py).
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from minimax_cli.build import build
from minimax_cli.catalog import GROUPS, option_names
from minimax_cli.errors import ConfigError


def check_run(cfg: DictConfig) -> None:
    """Refuse ``cfg`` with one line naming the first problem; return quietly when it can run."""
    from minimax_cli.distributed import check_config as check_distributed
    from minimax_cli.games.seeds import check_seeds
    from minimax_cli.schema import validate

    for group in GROUPS:
        if group not in cfg:
            raise ConfigError(f"the config has no {group} (choose one of: {', '.join(option_names(group))})")
    validate(cfg)
    game = build(cfg.game, "game")
    algos = [build(cfg.algo, "algo")]
    pretrain = pretrain_phase(cfg)
    if pretrain is not None:
        algos.append(pretrain[0])
    dims = game.parameter_dims()
    if dims is not None:
        for algo in algos:
            algo.check_game(game, *dims)
    seeds = check_seeds(cfg, game)
    check_sizes(cfg, game, len(seeds), dims)
    resolve_hardware(cfg.hardware, game)
    check_distributed(cfg, game)
    check = getattr(game, "check", None)
    if check is not None:
        check()
    metrics_every = cfg.get("metrics_every")
    if metrics_every is None:
        return
    # checked with its tie to log_every, in one place
    if isinstance(metrics_every, bool) or not isinstance(metrics_every, int) or metrics_every < 1:
        raise ConfigError(f"metrics_every must be null or an integer >= 1 (got {metrics_every!r})")
    if metrics_every % cfg.log_every:
        raise ConfigError(f"metrics_every ({metrics_every}) must be a multiple of log_every ({cfg.log_every}): "
                          "evaluation metrics go into the rows written every log_every steps")


#: floats a start or a seed keeps per parameter at once (iterate, field, optimizer moments, a solve's
#: vectors, vmap's copies): a low estimate, so that only sizes no machine of this one's memory can run are refused
_FLOATS_PER_PARAMETER = 16
#: of which a seed keeps between steps (iterate, optimizer moments)
_FLOATS_KEPT = 3


def check_sizes(cfg: DictConfig, game, n_seeds: int, dims) -> None:
    """Starts, seeds and metric samples that could not fit in memory: one line before anything is built."""
    from minimax_cli.games.seeds import seed_chunk
    from minimax_cli.memory import check_fits

    width = 8 if str(OmegaConf.select(cfg, "hardware.dtype", default="auto")) != "float32" else 4
    params = sum(dims) if dims is not None else 0
    starts = getattr(game, "n_starts", 1)
    if starts > 1 and params:
        check_fits(starts * params * _FLOATS_PER_PARAMETER * width, f"game.starts={starts}",
                   "give fewer starts (the run vectorizes all of them at once)")
    at_once = min(n_seeds, seed_chunk(cfg) or n_seeds)
    if n_seeds > 1 and params:   # every seed's state is kept; the step's work space only for a chunk at a time
        kept = _FLOATS_KEPT * n_seeds + (_FLOATS_PER_PARAMETER - _FLOATS_KEPT) * at_once
        check_fits(kept * params * width, f"seeds={n_seeds} of {params:,} parameters each",
                   "give fewer seeds (hardware.seed_chunk=N runs them N at a time, each keeping its state)")
    metrics = getattr(game, "metric_cfg", None) or {}
    data_dim = getattr(getattr(game, "dataset", None), "dim", 1)
    if data_dim > 2 and params:   # everything below grows with the data's dimension: say so, with the whole sum
        check_data_dimension(cfg, game, data_dim, params, width, metrics)
    m = metrics.get("w1_samples")
    if isinstance(m, int):
        exact = data_dim > 1   # 1-D W1 is a sort
        check_fits(3 * m * m * 8 if exact else 4 * m * 8, f"game.metrics.w1_samples={m}"
                   + (" (exact W1 solves a transport problem on an m × m cost matrix)" if exact else ""),
                   "give fewer samples (Liang & Stokes 2019 use 512)")
    for key in ("kl_samples", "mode_samples"):
        n = metrics.get(key)
        if isinstance(n, int):
            check_fits(n * data_dim * 8 * 4, f"game.metrics.{key}={n}", "give fewer samples")


def check_data_dimension(cfg: DictConfig, game, data_dim: int, params: int, width: int, metrics: dict) -> None:
    """A run on data of many dimensions (a samples file of shape (n, 200000) is small on disk): its
    networks' first and last layers and every metric evaluation's sample sets grow with the
    dimension; one line with the estimated peak before any of it is allocated."""
    from minimax_cli.memory import check_fits, human

    networks = params * _FLOATS_PER_PARAMETER * width
    n = max([v for k, v in metrics.items() if k.endswith("_samples") and isinstance(v, int)] or [0])
    samples = n * data_dim * 8 * _METRIC_COPIES
    rows = len(getattr(game.dataset, "points", ())) + 2 * int(OmegaConf.select(cfg, "game.batch.size", default=0) or 0)
    data = rows * data_dim * 8
    check_fits(networks + samples + data,
               f"game.data={OmegaConf.select(cfg, 'game.data')} (dimension {data_dim:,}: networks of {params:,} "
               f"parameters, {human(networks)} with the algorithm's state; metric sample sets of {n:,} × {data_dim:,}, "
               f"{human(samples)}; data and batches, {human(data)})",
               "use data of lower dimension (a projection of it) or fewer game.metrics samples "
               "(w1_samples, kl_samples, mode_samples)")


#: sample sets of the data's dimension one metric evaluation holds at once: the real samples, the
#: generated ones, and their float64 copy (games/gan.py extra_metrics)
_METRIC_COPIES = 3


def check_converge_on(converge_on: str, game) -> None:
    """The one rule that needs the game set up (its critical points may depend on its data and
    dtype): a distance to the equilibrium needs a known one. assemble.py checks it right after
    setting the game up."""
    if converge_on == "dist_to_eq" and game.equilibrium() is None:
        raise ConfigError(f"converge_on=dist_to_eq needs a game with a known critical point; {game.name} has none")


def pretrain_phase(cfg: DictConfig):
    """(algorithm, steps) of the optional pretraining phase, or None (``pretrain.steps`` = 0).

    Config: ``pretrain.steps`` and the algorithm node ``pretrain.algo``, added from conf/algo/
    with ``+algo@pretrain.algo=<name>`` (or an experiment's defaults ``- /algo@pretrain.algo: <name>``).
    """
    node = cfg.get("pretrain")
    if node is None:
        return None
    unknown = sorted(set(node.keys()) - {"steps", "algo"})
    if unknown:
        raise ConfigError(f"unknown key pretrain.{unknown[0]} (allowed: steps, algo)")
    steps = node.get("steps", 0)
    if steps == 0:
        return None
    if node.get("algo") is None:
        raise ConfigError("pretrain.steps > 0 needs the pretraining algorithm: add +algo@pretrain.algo=<name> "
                          f"(one of {', '.join(option_names('algo'))})")
    return build(node.algo, "pretrain.algo"), steps


def resolve_hardware(hw: DictConfig, game) -> tuple["torch.device", "torch.dtype"]:  # noqa: F821
    """The run's device and dtype (``auto`` resolved); refuses a CUDA device that is not there
    and a precision or compile choice this run cannot take (compile: not available, see docs/image-gans.md#hardware)."""
    import torch

    from minimax_cli.run_settings import device_of, dtype_of

    threads = hw.get("threads", None)
    if threads is not None:
        from minimax_cli.cpus import available_cpus

        most = max(4 * available_cpus(), 16)   # oversubscribing a little is a choice; 100,000 threads crash torch
        if int(threads) > most:
            raise ConfigError(f"hardware.threads={threads} is more than this machine can run: this process may use "
                              f"{available_cpus()} CPU(s); give at most {most} (or null: as many as it may use)")
    device = device_of(str(hw.get("device", "cpu")))
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("hardware=cuda but no CUDA device is visible (torch.cuda.is_available() is False); "
                          "use hardware=cpu or hardware=auto")
    dtype = dtype_of(str(hw.get("dtype", "auto")), game)
    # hardware.precision against the dtype (oracle.py applies it), and hardware.compile (docs/image-gans.md#hardware)
    precision = hw.get("precision", "fp32")
    if precision != "fp32" and dtype != "float32":
        raise ConfigError(f"hardware.precision={precision} applies to float32 runs (neural games); this run is "
                          f"{dtype}: use hardware.precision=fp32 or hardware.dtype=float32")
    if hw.get("compile", False):
        raise ConfigError("hardware.compile=true is not available: with this torch, torch.compile skips a network's "
                          "forward when it runs inside torch.func's grad/jvp/vjp (no graph is compiled), and every "
                          "derivative here is one; set hardware.compile=false (docs/image-gans.md#hardware)")
    return torch.device(device), getattr(torch, dtype)
