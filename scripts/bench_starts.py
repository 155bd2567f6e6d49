"""Vectorized starts: N spread trajectories of g3 in one run, against a hand-vectorized torch loop.

    python -m scripts.bench_starts [--starts 10000] [--steps 1000] [--repeat 3] [--radius 4] [--tol 0] [--wall] [--scaling]

What users run: ``minimax train game=g3 algo=gda|fr game.starts=N game.init_radius=4 tol=0``, starts
spread over a ball of radius 4 around (7, 5), where some FR starts diverge (421 of 10,000 within 300
steps). The runner, as that command builds it, against the same update written by hand on (N,)
tensors: one ``torch.autograd.grad`` of the summed g3 per step (the starts are independent), and for
FR the follower's Hessian blocks from one more backward pass, the exact solve written out as a
division. The hand loop keeps updating every start, a diverged one into inf or NaN, where the runner
freezes it at its last iterate inside ``diverge_norm``. The starts still running must end at the
same iterates and both must count the same diverged starts (of those the runner did not see
converge), or no ratio is printed. ``--tol``: the
runner's convergence check (0: none, as in the command above; the hand loop never checks). CPU
time, one thread, interleaved (``--wall``: wall time). Target: the runner ≤ 2× the hand loop, for
GDA and FR. ``--scaling`` adds the per-step time of 1, 100 and N starts.
"""

from __future__ import annotations

import argparse
import statistics

from scripts import _timing
from scripts._timing import add_wall, mark

TARGET = 2.0
LR = 0.05
RADIUS = 4.0          # game.init_radius of the starts: spread, as users run them
DIVERGE_NORM = 1e6    # the config's diverge_norm


def g3(x, y):
    """The paper's g3 (minimax_cli/games/toy.py G3 with scale 1), elementwise on (N,) tensors."""
    import torch

    return (4 * x**2 - (y - 3 * x + 0.05 * x**3) ** 2 - 0.1 * y**4) * torch.exp(-0.01 * (x**2 + y**2))


def hand_gda(x, y, steps: int):
    import torch

    for _ in range(steps):
        xr, yr = x.detach().requires_grad_(), y.detach().requires_grad_()
        gx, gy = torch.autograd.grad(g3(xr, yr).sum(), (xr, yr))
        x, y = x - LR * gx, y + LR * gy                      # descent on f, ascent on f
    return x, y


def hand_fr(x, y, steps: int):
    """FR (Wang et al. 2020, Alg. 1): y gains η_x H_yy⁻¹ H_yx ∇_x f, with H_yy, H_yx per start."""
    import torch

    for _ in range(steps):
        xr, yr = x.detach().requires_grad_(), y.detach().requires_grad_()
        gx, gy = torch.autograd.grad(g3(xr, yr).sum(), (xr, yr), create_graph=True)
        hyx, hyy = torch.autograd.grad(gy.sum(), (xr, yr))
        gx, gy = gx.detach(), gy.detach()
        dx = -LR * gx
        x, y = x + dx, y + (LR * gy - hyx * dx / hyy)       # z = −H_yy⁻¹ H_yx Δx (G = −H_yy, G_yx = −H_yx)
    return x, y


def make_runner(algo_name: str, starts: int, steps: int, radius: float = RADIUS, tol: float = 0.0):
    import torch

    from minimax_cli.build import build
    from minimax_cli.config import compose
    from minimax_cli.runner import LoopSettings, Runner

    cfg = compose([f"algo={algo_name}", "game=g3", f"game.starts={starts}", f"game.init_radius={radius}",
                   f"algo.lr_x={LR}", f"algo.lr_y={LR}", f"tol={tol}", f"diverge_norm={DIVERGE_NORM}"])
    game, algo = build(cfg.game, "game"), build(cfg.algo, "algo")
    game.setup("cpu", torch.float64, 0)
    runner = Runner(game, algo, LoopSettings(steps=steps, log_every=int(cfg.log_every), tol=float(cfg.tol),
                    diverge_norm=float(cfg.diverge_norm), progress=False, plot_starts=int(cfg.plot_starts)))
    return game, runner


def diverged(x, y):
    """The starts a hand loop's iterates show as diverged: not finite, or beyond diverge_norm."""
    import torch

    return ~(torch.isfinite(x) & torch.isfinite(y) & (x.square() + y.square() <= DIVERGE_NORM ** 2))


def compare(algo_name: str, hand, starts: int, steps: int, repeat: int, clock, radius: float = RADIUS,
            tol: float = 0.0) -> dict:
    from minimax_cli.runner import CONVERGED, DIVERGED

    game, runner = make_runner(algo_name, starts, steps, radius, tol)
    x0, y0 = game.initial_points()
    runner.run()                                      # warm-up: one-off dispatch and allocation costs
    hand(x0[:, 0], y0[:, 0], 5)
    times = {"runner": [], "hand": []}
    for _ in range(repeat):
        t0 = clock()
        result = runner.run()
        times["runner"].append(clock() - t0)
        t0 = clock()
        x, y = hand(x0[:, 0], y0[:, 0], steps)
        times["hand"].append(clock() - t0)
    running = result.start_status == 0
    if result.step < steps:   # the hand loop's iterate after as many steps as the runner took
        x, y = hand(x0[:, 0], y0[:, 0], result.step)
    agree = max(float((result.state["x"][running, 0] - x[running]).abs().max()),
                float((result.state["y"][running, 0] - y[running]).abs().max())) if bool(running.any()) else 0.0
    if not agree < 1e-8:
        raise SystemExit(f"bench_starts: {algo_name} and the hand loop disagree by {agree:.2e}")
    lost = result.start_status == DIVERGED
    kept = result.start_status != CONVERGED      # a converged start is frozen by the runner, not by the hand loop
    if not bool((lost == diverged(x, y))[kept].all()):
        raise SystemExit(f"bench_starts: {algo_name}: the runner counts {int(lost.sum())} diverged starts, the hand "
                         f"loop {int(diverged(x, y)[kept].sum())} of those the runner did not see converge")
    # per step: the runner stops early once every start has converged (or diverged)
    runner_ms = 1e3 * statistics.median(times["runner"]) / result.step
    hand_ms = 1e3 * statistics.median(times["hand"]) / steps
    return {"algo": algo_name, "runner_ms": runner_ms, "hand_ms": hand_ms, "ratio": runner_ms / hand_ms,
            "steps": result.step, "running": int(running.sum()), "diverged": int(lost.sum()), "agree": agree}


def scaling(starts: int, steps: int, clock) -> list[tuple[int, float]]:
    out = []
    for n in sorted({1, 100, starts}):
        _, runner = make_runner("gda", n, steps, 0.0)
        runner.run()
        t0 = clock()
        runner.run()
        out.append((n, clock() - t0))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--radius", type=float, default=RADIUS, help="game.init_radius of the starts")
    parser.add_argument("--tol", type=float, default=0.0, help="the runner's tol (0: no convergence check)")
    parser.add_argument("--algos", default="gda,fr")
    add_wall(parser)
    parser.add_argument("--scaling", action="store_true", help="also time 1, 100 and N starts")
    args = parser.parse_args(argv)
    import torch

    from minimax_cli.runner import _warm_up_torch_func

    torch.set_num_threads(1)
    _warm_up_torch_func()
    clock = _timing.clock(args.wall)
    hands = {"gda": hand_gda, "fr": hand_fr}
    rows = [compare(name, hands[name], args.starts, args.steps, args.repeat, clock, args.radius, args.tol)
            for name in args.algos.split(",")]
    print(f"g3, {args.starts} starts (ball of radius {args.radius:g} around (7, 5)) x {args.steps} steps, tol {args.tol:g}, "
          f"1 thread, median {'wall' if args.wall else 'CPU'} time of {args.repeat} interleaved runs")
    print(table(rows))
    if args.scaling:
        print("\n| starts | s | ms/step | time per start vs 1 start |\n|---:|---:|---:|---:|")
        res = scaling(args.starts, args.steps, clock)
        one = res[0][1]
        for n, s in res:
            print(f"| {n} | {s:.2f} | {s / args.steps * 1e3:.2f} | {s / (n * one):.2e} |")
    return 0


def table(rows: list[dict]) -> str:
    return _timing.table(["algorithm", "runner ms/step", "hand loop ms/step", "runner / hand", "target", "runner steps",
                          "diverged", "starts running at the end, max |Δ|"], "lrrrlrrl",
                         [[r["algo"], f"{r['runner_ms']:.2f}", f"{r['hand_ms']:.2f}", f"{r['ratio']:.2f}×",
                           mark(r["ratio"], TARGET), r["steps"], r["diverged"], f"{r['running']}, {r['agree']:.0e}"]
                          for r in rows])


if __name__ == "__main__":
    raise SystemExit(main())
