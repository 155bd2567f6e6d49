"""Iterations/s and peak memory per algorithm on a CIFAR-shaped DCGAN, as ratios to GDA-5 (same run).

    python -m scripts.bench_images [--device cpu|cuda|auto] [--width 256] [--batch 64] [--steps 50]
                                   [--warmup 3] [--algos GDA-5,EG,...] [--loss ns|wgangp] [--markdown FILE]
                                   [--precision fp32|tf32|bf16]

``game=cifar10 game.dataset=synthetic`` (random images in memory): Askari Hemmat et al. 2023's DCGAN
(Table 3) with ``width`` channels, the non-saturating loss (``--loss wgangp``: Gao et al. 2022's Table 1
loss), and Gao et al. 2022's Table 1 optimizers as ``minimax reproduce hessianfr-table1`` runs them,
plus GDA and LEAD-Adam. Each algorithm runs in a fresh child process (its peak memory is its own):
setup, ``--warmup`` steps, then ``--steps`` timed steps through the real Runner (on CUDA the clock
stops after a synchronize). Memory: ``torch.cuda.max_memory_allocated`` on CUDA, the peak resident set
size on the CPU; ``step peak`` subtracts what the process held before the first step.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

from scripts import _timing

#: Gao et al. 2022, Table 1's optimizers (as make reproduce-hessianfr-table1 runs them) and two references
ALGOS = {
    "GDA-5": ["algo=gda", "algo.follower_steps=5"],
    "GDA": ["algo=gda"],
    "EG": ["algo=eg"],
    "FR-DG": ["algo=fr", "algo.mixed=fd", "algo.solver.kind=diag"],
    "FR-CG1": ["algo=fr", "algo.mixed=fd", "algo.solver.kind=cg", "algo.solver.iters=1"],
    "HessianFR-DG": ["algo=hessianfr", "algo.lr_y2=2e-5", "algo.mixed=fd", "algo.solver.kind=diag"],
    "HessianFR-CG1": ["algo=hessianfr", "algo.lr_y2=2e-5", "algo.mixed=fd", "algo.solver.kind=cg", "algo.solver.iters=1"],
    "HessianFR-CG5": ["algo=hessianfr", "algo.lr_y2=2e-5", "algo.mixed=fd", "algo.solver.kind=cg", "algo.solver.iters=5"],
    "LEAD-Adam": ["algo=lead_adam"],
}
#: Gao et al. 2022, Table 1: time per 100 iterations relative to GDA-5 (MNIST, CIFAR-10 CNN, CIFAR-10 ResNet, CelebA)
PAPER_RATIOS = {"EG": (0.69, 0.74, 0.65, 0.70), "FR-DG": (0.85, 0.86, 0.86, 0.81), "FR-CG1": (2.39, 2.00, 1.98, 1.76),
                "HessianFR-DG": (0.85, 0.86, 0.86, 0.81), "HessianFR-CG1": (2.39, 2.00, 1.98, 1.76),
                "HessianFR-CG5": (5.07, None, None, None)}


def overrides(args, algo: str) -> list[str]:
    common = ["game=cifar10", "game.dataset=synthetic", f"game.synthetic_size={max(4 * args.batch, 256)}",
              f"game.generator.width={args.width}", f"game.discriminator.width={args.width}",
              f"game.batch.size={args.batch}", "game.metrics.fid_every=0", "game.metrics.sample_every=0",
              "algo.lr_x=2e-5", "algo.lr_y=5e-5",
              "algo.precond={kind:adam,beta1:0.5,beta2:0.9,eps:1e-8,bias_correction:true}", f"hardware={args.device}",
              "hardware.threads=" + (str(args.threads) if args.threads else "null"),
              f"hardware.precision={args.precision}"]
    if args.loss == "wgangp":
        common += ["game.loss.kind=wgan", "game.loss.gp=10.0", "game.discriminator.batchnorm=false"]
    return common + ALGOS[algo]


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def child(args) -> dict:
    """One algorithm in this process: setup, warm-up, timed steps; returns the measurements."""
    import torch

    from minimax_cli.build import build
    from minimax_cli.checks import resolve_hardware
    from minimax_cli.config import compose
    from minimax_cli.cpus import apply_threads
    from minimax_cli.oracle import apply_precision, effective_precision
    from minimax_cli.runner import LoopSettings, Runner

    cfg = compose(overrides(args, args.child))
    game, algo = build(cfg.game, "game"), build(cfg.algo, "algo")
    device, dtype = resolve_hardware(cfg.hardware, game)
    apply_threads(cfg.hardware)
    apply_precision(args.precision)   # as train.py: the process-wide TF32 switch, then the Oracle's contexts
    precision = effective_precision(algo, args.precision)
    game.setup(device, dtype, 0)
    cuda = device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    if cuda:
        sync()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = _rss_bytes()
    runner = Runner(game, algo, LoopSettings(steps=args.warmup, log_every=max(args.warmup, 1), tol=0.0,
                                              diverge_norm=float("inf"), progress=False, precision=precision))
    state = runner.run().state          # warm-up (allocator, kernels); the timed run continues from it
    runner = Runner(game, algo, LoopSettings(steps=args.warmup + args.steps, log_every=args.warmup + args.steps,
                                              tol=0.0, diverge_norm=float("inf"), progress=False, precision=precision))
    sync()
    t0 = time.perf_counter()
    result = runner.run(initial_state=state, start_step=args.warmup)
    sync()
    seconds = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated() if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"algo": args.child, "it_per_s": args.steps / seconds, "s_per_it": seconds / args.steps,
            "peak_mb": peak / 2**20, "step_peak_mb": (peak - base) / 2**20, "device": str(device),
            "params": [game.dim_x, game.dim_y], "grads_per_step": result.cost["grads_per_step"],
            "hvps_per_step": result.cost["hvps_per_step"], "status": result.status}


def measure(args, algo: str) -> dict:
    cmd = ["-m", "scripts.bench_images", "--child", algo, "--device", args.device, "--width", str(args.width),
           "--batch", str(args.batch), "--steps", str(args.steps), "--warmup", str(args.warmup), "--loss", args.loss,
           "--precision", args.precision] + (["--threads", str(args.threads)] if args.threads else [])
    out = _timing.child(cmd, algo, env={"OMP_NUM_THREADS": str(args.threads)} if args.threads else None)
    return json.loads(out.strip().splitlines()[-1])


def table(rows: list[dict], args) -> str:
    base = next(r for r in rows if r["algo"] == "GDA-5")
    out = []
    for r in rows:
        paper = PAPER_RATIOS.get(r["algo"])
        paper_text = "1 (reference)" if r["algo"] == "GDA-5" else (
            " / ".join("—" if p is None else f"{p:.2f}" for p in paper) if paper else "—")
        out.append([r["algo"], f"{r['it_per_s']:.2f}", f"{r['s_per_it'] / base['s_per_it']:.2f}x", paper_text,
                    f"{r['peak_mb']:.0f}", f"{r['step_peak_mb']:.0f}", f"{r['step_peak_mb'] / base['step_peak_mb']:.2f}x",
                    f"{r['grads_per_step']:.1f}", f"{r['hvps_per_step']:.1f}"])
    head = ["algorithm", "it/s", "time / GDA-5", "paper time / GDA-5 (Gao et al. 2022, Table 1)", "peak MB",
            "step peak MB", "step peak / GDA-5", "grads/step", "hvps/step"]
    return "\n".join([
        f"CIFAR-shaped DCGAN (3x32x32, width {args.width}, batch {args.batch}, {args.loss} loss, synthetic data, "
        f"precision {args.precision}), {args.steps} timed steps after {args.warmup} warm-up, device {base['device']}, "
        f"G {base['params'][0]:,} / D {base['params'][1]:,} parameters", "", _timing.table(head, "lrrlrrrrr", out), "",
        "paper ratios are MNIST / CIFAR-10 CNN / CIFAR-10 ResNet / CelebA (its time per 100 iterations over GDA-5's)"]) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", choices=("cpu", "cuda", "auto"))
    parser.add_argument("--width", type=int, default=256, help="DCGAN width (Askari Hemmat et al. 2023, Table 3: 256)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (CPU)")
    parser.add_argument("--loss", default="ns", choices=("ns", "wgangp"))
    parser.add_argument("--precision", default="fp32", choices=("fp32", "tf32", "bf16"),
                        help="hardware.precision of the runs (docs/image-gans.md#hardware)")
    parser.add_argument("--algos", default=",".join(ALGOS))
    parser.add_argument("--markdown", type=Path, default=None, help="also write the table here")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args)))
        return 0
    names = _timing.names(parser, args.algos, ALGOS, "algorithm")
    if "GDA-5" not in names:
        names.insert(0, "GDA-5")
    rows = []
    for name in names:
        rows.append(measure(args, name))
        print(f"{name}: {rows[-1]['it_per_s']:.2f} it/s, peak {rows[-1]['peak_mb']:.0f} MB", file=sys.stderr, flush=True)
    text = table(rows, args)
    print(text)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
