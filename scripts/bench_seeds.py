"""S seeds of a neural game in one vectorized run (``seeds=S``) against one seed, timed in the same run.

    python -m scripts.bench_seeds [--rounds 5] [--block 2] [--device cpu|cuda] [--cases ls_sga,...]

Cases: Liang & Stokes 2019's ring-8 WGAN-GP (`+experiment=ls_ring8`) with 16 seeds for sim, symplectic
SGA, OMD and CO (target ≤ 4× one seed); Wang et al. 2020's 1-D MoG (`+experiment=fr_mog1d`) with FR-CG10
for 4 seeds (target ≤ 3×), also with ``hardware.seed_chunk=1``. Each row times the loop's real step
(``Runner.stepper``) of both runs in interleaved blocks, one thread; peak memory (RSS, or CUDA
memory allocated) is measured apart, in a fresh process per run that takes 3 steps
(docs/benchmarks.md#many-seeds-in-one-run).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

from scripts import _timing
from scripts._timing import child, interleave, mark

LS = ["+experiment=ls_ring8"]
FR = ["+experiment=fr_mog1d", "algo=fr", "algo.lr_y=2.0e-4", "algo.mixed=fd", "algo.solver.kind=cg",
      "algo.solver.adaptive=true", "algo.solver.damping=1.0", "algo.solver.iters=10"]
#: name -> (overrides, seeds, target ratio or None)
CASES: dict[str, tuple[list[str], int, float | None]] = {
    "ls_sim": ([*LS, "algo=gda"], 16, None),
    "ls_sga": ([*LS, "algo=sga", "setup.strict=false"], 16, 4.0),   # symplectic SGA: not one of Liang & Stokes 2019's five
    "ls_omd": ([*LS, "algo=ogda"], 16, 4.0),
    "ls_co": ([*LS, "algo=co", "algo.gamma=1.0", "algo.penalty=half_squared_norm", "algo.consensus_on=value"], 16, 4.0),
    "fr_cg10": (FR, 4, 3.0),
    "fr_cg10_chunk1": ([*FR, "hardware.seed_chunk=1"], 4, 3.0),
}


def build(name: str, seeds: int, device: str):
    """(runner, state, step) of the case's run with ``seeds`` seeds from seed 0."""
    from minimax_cli.build import build as build_node
    from minimax_cli.checks import resolve_hardware
    from minimax_cli.config import compose
    from minimax_cli.cpus import apply_threads
    from minimax_cli.games.seeds import SeedStack, seed_chunk
    from minimax_cli.runner import LoopSettings, Runner

    overrides, _, _ = CASES[name]
    cfg = compose([*overrides, f"hardware={device}", "hardware.threads=1", "seed=0", f"seeds={seeds}"])
    games = [build_node(cfg.game, "game") for _ in range(seeds)]
    dev, dtype = resolve_hardware(cfg.hardware, games[0])
    apply_threads(cfg.hardware)
    for seed, game in enumerate(games):
        game.setup(dev, dtype, seed)
    game = SeedStack(games, list(range(seeds))) if seeds > 1 else games[0]
    runner = Runner(game, build_node(cfg.algo, "algo"), LoopSettings(
        steps=10**9, log_every=10**9, tol=0.0, progress=False, seed_chunk=seed_chunk(cfg)))
    return {"runner": runner, "state": runner.init_state(), "step": runner.stepper(), "t": 0}


def stepper(case: dict):
    """One step of the run: every seed's batches drawn, one vmapped step."""
    def step():
        case["t"] += 1
        case["state"], *_ = case["step"](case["state"], case["t"])

    return step


def sync(device: str):
    """What to call before reading the clock: CUDA kernels run asynchronously."""
    if device == "cuda":
        import torch

        return torch.cuda.synchronize
    return lambda: None


def measure(name: str, rounds: int, block: int, device: str) -> dict:
    from minimax_cli.runner import _warm_up_torch_func

    _warm_up_torch_func()
    seeds = CASES[name][1]
    cases = {"one": stepper(build(name, 1, device)), "many": stepper(build(name, seeds, device))}
    times = interleave(cases, rounds, block, time.perf_counter, sync(device))
    ms_one, ms_many = 1e3 * times["one"], 1e3 * times["many"]
    return {"case": name, "seeds": seeds, "ms_one": ms_one, "ms_many": ms_many, "ratio": ms_many / ms_one}


def peak_memory(name: str, seeds: int, device: str) -> float:
    """MiB: peak RSS (CPU) or peak CUDA memory allocated, of a fresh process building the run and
    taking 3 steps."""
    out = child(["-m", "scripts.bench_seeds", "--memory-child", name, str(seeds), "--device", device],
                f"memory measurement of {name} ({seeds} seeds)", env={"OMP_NUM_THREADS": "1"})
    return float(out.strip().splitlines()[-1])


def memory_child(name: str, seeds: int, device: str) -> None:
    import torch

    step = stepper(build(name, seeds, device))
    for _ in range(3):
        step()
    sync(device)()
    if device == "cuda":
        print(torch.cuda.max_memory_allocated() / 2**20)
    else:   # VmHWM: this process image's peak RSS (getrusage's maxrss carries the parent's over fork + exec)
        status = Path("/proc/self/status")
        if status.exists():
            peak = next(line for line in status.read_text().splitlines() if line.startswith("VmHWM:"))
            print(int(peak.split()[1]) / 1024)
        else:
            print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)   # macOS: bytes


def table(rows: list[dict], device: str) -> str:
    mem = "peak CUDA MiB" if device == "cuda" else "peak RSS MiB"
    return _timing.table(
        ["case", "seeds", "ms/step, 1 seed", "ms/step, S seeds", "time S / 1", "throughput ×", f"{mem}: 1 / S", "target"],
        "lrrrrrrl", [[r["case"], r["seeds"], f"{r['ms_one']:.1f}", f"{r['ms_many']:.1f}", f"{r['ratio']:.2f}×",
                      f"{r['seeds'] / r['ratio']:.2f}", f"{r['mem_one']:.0f} / {r['mem_many']:.0f}",
                      mark(r["ratio"], CASES[r["case"]][2])] for r in rows])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed blocks per run (interleaved)")
    parser.add_argument("--block", type=int, default=2, help="steps per timed block")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="hardware=cpu or hardware=cuda")
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma list of: {', '.join(CASES)}")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows to this file")
    parser.add_argument("--memory-child", nargs=2, metavar=("CASE", "SEEDS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child[0], int(args.memory_child[1]), args.device)
        return 0
    names = _timing.names(parser, args.cases, CASES, "case")
    rows = []
    for name in names:
        row = measure(name, args.rounds, args.block, args.device)
        row["mem_one"] = peak_memory(name, 1, args.device)
        row["mem_many"] = peak_memory(name, row["seeds"], args.device)
        rows.append(row)
        print(f"{name}: {row['ms_one']:.1f} ms (1 seed), {row['ms_many']:.1f} ms ({row['seeds']} seeds): "
              f"{row['ratio']:.2f}x", flush=True)
    import torch

    load = os.getloadavg()[0]
    print(f"\nseeds in one vectorized run vs one seed, hardware={args.device}, {torch.get_num_threads()} thread(s), "
          f"median over {args.rounds} interleaved blocks of {args.block} steps; load average {load:.1f}")
    print(table(rows, args.device))
    if args.json:
        args.json.write_text(json.dumps({"device": args.device, "load": load, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
