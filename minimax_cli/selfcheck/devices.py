"""The same run on two devices: max relative difference of every logged metric and of the final players.

    python -m minimax_cli.selfcheck.devices [--algos fr,hessianfr] [--steps 5] [--devices cpu,cuda] [--tol 1e-8]
                                             [-- extra overrides]

Each algorithm runs ``minimax train game=mog`` (Wang et al. 2020's 1-D MoG GAN, full batch) in float64 on each
device, ``--steps`` steps, logging every step and checkpointing at the end; then, per algorithm, the
largest relative difference |a − b| / max(|a|, |b|) over every numeric metric of every logged row
(times excluded) and over the final (x, y) of the checkpoints. Data, latents and initial networks
are drawn on the CPU, so both runs start from the same numbers and differ only by the devices'
rounding: in float64 over a few steps that is ~1e-12, and anything above ``--tol`` is a bug (exit 1).
``--devices cpu,cpu`` checks the comparison itself (difference 0) where there is no GPU.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path

from minimax_cli.selfcheck import train
SKIP = ("wall_time_s", "step")


def run(algo: str, device: str, steps: int, out: Path, extra: list[str]) -> Path:
    run_dir = out / f"{algo}-{device}"
    proc = train(["game=mog", f"algo={algo}", f"steps={steps}", f"hardware={device}", "hardware.dtype=float64",
                  "log_every=1", f"checkpoint_every={steps}", "plot=false", "tensorboard=false", "progress=false",
                  f"hydra.run.dir={run_dir}", *extra])
    if proc.returncode != 0:
        raise SystemExit(f"{algo} on {device} failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
    return run_dir


def rel(a: float, b: float) -> float:
    if a == b:
        return 0.0
    if not (math.isfinite(a) and math.isfinite(b)):
        return math.inf
    return abs(a - b) / max(abs(a), abs(b))


def compare(a: Path, b: Path) -> tuple[float, str, float]:
    """(max relative difference over metrics, the metric where it is, over the final x and y)."""
    import torch

    rows = [[json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()] for d in (a, b)]
    if [r["step"] for r in rows[0]] != [r["step"] for r in rows[1]]:
        return math.inf, "logged steps differ", math.inf
    worst, where = 0.0, ""
    for ra, rb in zip(*rows):
        for key, va in ra.items():
            vb = rb.get(key)
            if key in SKIP or key.endswith("time_s") or not isinstance(va, (int, float)) or isinstance(va, bool):
                continue
            d = rel(float(va), float(vb)) if isinstance(vb, (int, float)) else math.inf
            if d > worst:
                worst, where = d, f"{key} at step {ra['step']}"
    states = [torch.load(d / "checkpoints" / "last.pt", map_location="cpu", weights_only=True)["runner"]["state"]
              for d in (a, b)]
    players = max(float((states[0][k] - states[1][k]).abs().max() / states[1][k].abs().max().clamp(min=1e-300))
                  for k in ("x", "y"))
    return worst, where, players


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--algos", default="fr,hessianfr")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--devices", default="cpu,cuda")
    parser.add_argument("--tol", type=float, default=1e-8)
    args = parser.parse_args(argv)
    first, second = args.devices.split(",")
    failed = False
    with tempfile.TemporaryDirectory(prefix="minimax-devices-") as tmp:
        for algo in filter(None, args.algos.split(",")):
            a = run(algo, first, args.steps, Path(tmp), extra)
            b = run(algo, second, args.steps, Path(tmp) / "b", extra)
            metrics, where, players = compare(a, b)
            ok = max(metrics, players) <= args.tol
            failed |= not ok
            print(f"{'ok  ' if ok else 'FAIL'}  {algo}, 1-D MoG GAN, float64, {args.steps} steps, {first} vs {second}: "
                  f"max relative difference {metrics:.3g} over metrics ({where or 'all equal'}), "
                  f"{players:.3g} over the final (x, y) (tolerance {args.tol:g})", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
