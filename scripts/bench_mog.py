"""Per-step cost of the algorithms on Wang et al. 2020's 1-D MoG GAN, as ratios to GDA in the same run.

    python -m scripts.bench_mog [--rounds 15] [--block 3] [--algos gda,fr_cg1,...] [--wall] [-- overrides]

`+experiment=fr_mog1d` (§6.2.1 / App. D.2: 2×64 tanh MLPs, latent 16, full batch of 5,000, RMSprop
2e-4) on one thread; each algorithm has its own game and state, and they take turns ``--block`` steps
at a time (batch sampling included, metrics not) for ``--rounds`` rounds, so a shared machine's noise
hits all alike. The row ``plain`` is the same networks and batches in plain PyTorch (one
``torch.autograd.grad`` for both players, ``torch.optim.Adam(betas=(0, 0.999))``: the setup's
bias-corrected RMSprop); its parameters must match GDA's after the timed steps. Reported: median step
time, its ratio to GDA, counted evaluations per step (grads, hvps) and grad-equivalents (grads +
2·hvps) against GDA's. Targets: GDA ≤ 1.1× plain, HessianFR-DG ≤ 1.3× GDA, FR-CG1 ≤ 4× GDA
(docs/benchmarks.md#algorithms-on-the-1-d-mog).
"""

from __future__ import annotations

import argparse
import statistics
import time

from scripts import _timing
from scripts._timing import mark, turns

#: Wang et al. 2020, App. D.4 (FR: CG on the normal equations, LM damping from λ = 1, finite-difference mixed
#: product along the step) and Gao et al. 2022, §3.3 (HessianFR-CGk / -DG, GDN).
RIDGE = ["algo.mixed=fd", "algo.solver.kind=cg", "algo.solver.adaptive=true", "algo.solver.damping=1.0"]
ALGOS: dict[str, list[str]] = {
    "plain": ["algo=gda", "algo.order=simultaneous"],   # the plain PyTorch loop (PlainGDA) on GDA's configuration
    "gda": ["algo=gda", "algo.order=simultaneous"],     # one gradient evaluation for both players, as PlainGDA
    "tgda": ["algo=tgda"],
    "eg": ["algo=eg"],
    "ogda": ["algo=ogda"],
    "co": ["algo=co"],
    "sga": ["algo=sga"],
    "lead": ["algo=lead"],
    "lead_adam": ["algo=lead_adam"],
    "extra_adam": ["algo=extra_adam"],   # Gidel et al. 2019: two Adam updates, two gradients a step
    "cm": ["algo=cm"],                                  # complex momentum (Lorraine et al. 2022), first order
    "fr_cg1": ["algo=fr", *RIDGE, "algo.solver.iters=1"],
    "fr_cg1_fixed_damping": ["algo=fr", *RIDGE, "algo.solver.iters=1", "algo.solver.adaptive=false"],
    "fr_cg5": ["algo=fr", *RIDGE, "algo.solver.iters=5"],
    "fr_cg10": ["algo=fr", *RIDGE, "algo.solver.iters=10"],
    "hessianfr_cg1": ["algo=hessianfr", *RIDGE, "algo.solver.iters=1"],
    "hessianfr_dg": ["algo=hessianfr", "algo.mixed=fd", "algo.solver.kind=diag"],
    "gdn_cg5": ["algo=gdn", *RIDGE, "algo.solver.iters=5"],
    "cgd": ["algo=cgd"],      # Schäfer & Anandkumar 2019: the official code's CG (tolerance 1e-12, warm starts)
    "acgd": ["algo=acgd"],
}
TARGETS = {"hessianfr_dg": 1.3, "fr_cg1": 4.0}
#: the first-order target: GDA's step against the plain PyTorch loop
PLAIN_TARGET = 1.1


class PlainGDA:
    """Simultaneous GDA as one would write it in plain PyTorch, on the game's networks and batches."""

    def __init__(self, game, algo):
        import copy

        import torch

        self.game = game
        self.G, self.D = copy.deepcopy(game.G.module), copy.deepcopy(game.D.module)
        self.gp, self.dp = list(self.G.parameters()), list(self.D.parameters())
        self.l2 = game.loss_cfg["l2"]
        pc = algo.px
        if (pc.kind != "rmsprop" or not pc.bias_correction or pc.momentum or algo.lr_x != algo.lr_y or algo.py != pc
                or algo.order != "simultaneous" or algo.k != 1):
            raise SystemExit("bench_mog: the plain reference implements simultaneous GDA with the same bias-corrected "
                             "RMSprop and learning rate for both players")
        self.opt = torch.optim.Adam(self.gp + self.dp, lr=algo.lr_x, betas=(0.0, pc.beta2), eps=pc.eps)

    def step(self, t: int) -> None:
        import torch
        import torch.nn.functional as F

        batch = self.game.sample(t)
        f = -F.softplus(-self.D(batch["real"])).mean() - F.softplus(self.D(self.G(batch["z"]))).mean()
        grads = torch.autograd.grad(f, self.gp + self.dp)
        for p, g in zip(self.gp, grads):
            p.grad = g
        for p, g in zip(self.dp, grads[len(self.gp):]):   # L_y = -f + l2 |y|^2
            p.grad = 2 * self.l2 * p.detach() - g
        self.opt.step()

    def flat(self):
        import torch

        return torch.cat([p.detach().reshape(-1) for p in self.gp]), torch.cat([p.detach().reshape(-1) for p in self.dp])


def build_case(name: str, overrides: list[str]):
    import torch

    from minimax_cli.build import build
    from minimax_cli.checks import resolve_hardware
    from minimax_cli.config import compose
    from minimax_cli.cpus import apply_threads
    from minimax_cli.oracle import CostMeter, Oracle

    # setup.strict=false: the algorithms Wang et al. 2020 does not run get the setup's common values (RMSprop 2e-4)
    cfg = compose(["+experiment=fr_mog1d", "setup.strict=false", "hardware.threads=1", *ALGOS[name], *overrides])
    game, algo = build(cfg.game, "game"), build(cfg.algo, "algo")
    device, dtype = resolve_hardware(cfg.hardware, game)
    apply_threads(cfg.hardware)
    game.setup(device, dtype, int(cfg.seed))
    x0, y0 = game.initial_points()
    cost = CostMeter()
    state = algo.init(x0[0], y0[0], Oracle(game, game.sample(0), cost))
    cost.reset()
    torch.manual_seed(0)
    plain = PlainGDA(game, algo) if name == "plain" else None
    return {"game": game, "algo": algo, "state": state, "cost": cost, "steps": 0, "plain": plain}


def stepper(case: dict):
    """One step of the case (sampling the step's batch included, metrics not)."""
    from minimax_cli.oracle import Oracle

    game, algo, cost = case["game"], case["algo"], case["cost"]

    def step():
        case["steps"] += 1
        t = case["steps"]
        if case["plain"] is not None:
            case["plain"].step(t)
            return
        oracle = Oracle(game, game.sample(t), cost, lambda t=t: game.sample(t))
        case["state"], _ = algo.step(case["state"], oracle)

    return step


def check_plain(cases: dict) -> float:
    """Largest relative difference between the plain loop's parameters and GDA's (same steps)."""
    import torch

    plain, gda = cases["plain"], cases["gda"]
    assert plain["steps"] == gda["steps"]
    worst = 0.0
    for p, q in zip(plain["plain"].flat(), (gda["state"]["x"], gda["state"]["y"])):
        worst = max(worst, float((p - q).abs().max() / q.abs().max()))
    if not worst < 1e-4 or not torch.isfinite(torch.tensor(worst)):
        raise SystemExit(f"bench_mog: the plain loop drifted from GDA (relative difference {worst:.2e})")
    return worst


def measure(names: list[str], rounds: int, block: int, overrides: list[str], clock=time.process_time) -> dict:
    from minimax_cli.runner import _warm_up_torch_func

    _warm_up_torch_func()
    cases = {name: build_case(name, overrides) for name in names}

    def warmed():   # the counted evaluations are the timed steps'
        for case in cases.values():
            case["cost"].reset()
            case["steps_timed"] = case["steps"]

    times = turns({name: stepper(case) for name, case in cases.items()}, rounds, block, clock, warmed=warmed)
    if "plain" in cases and "gda" in cases:
        check_plain(cases)
    rows = {}
    for name, case in cases.items():
        n = case["steps"] - case["steps_timed"]
        rows[name] = {"ms": 1e3 * statistics.median(times[name]),
                      "ms_spread": (1e3 * min(times[name]), 1e3 * max(times[name])),
                      "grads": case["cost"].grads / n, "hvps": case["cost"].hvps / n}
    return rows


def table(rows: dict, base: str = "gda") -> str:
    ref = rows[base]
    ref_eq = ref["grads"] + 2 * ref["hvps"]
    out = []
    if "plain" in rows:
        ratio, plain = ref["ms"] / rows["plain"]["ms"], rows["plain"]
        out.append(["plain PyTorch GDA (reference)", f"{plain['ms']:.1f}",
                    f"{plain['ms_spread'][0]:.0f}–{plain['ms_spread'][1]:.0f}", f"GDA / plain = {ratio:.2f}×",
                    "1.00", "0.00", "", mark(ratio, PLAIN_TARGET)])
    for name, r in rows.items():
        if name != "plain":
            ratio = r["ms"] / ref["ms"]
            out.append([name, f"{r['ms']:.1f}", f"{r['ms_spread'][0]:.0f}–{r['ms_spread'][1]:.0f}", f"{ratio:.2f}×",
                        f"{r['grads']:.2f}", f"{r['hvps']:.2f}", f"{(r['grads'] + 2 * r['hvps']) / ref_eq:.2f}×",
                        mark(ratio, TARGETS.get(name))])
    return _timing.table(["algorithm", "ms/step (median)", "min–max", "time / GDA", "grads/step", "hvps/step",
                          "grad-eq. / GDA", "target"], "lrrrrrrl", out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="timed blocks per algorithm (interleaved)")
    parser.add_argument("--block", type=int, default=3, help="steps per timed block")
    parser.add_argument("--algos", default=",".join(ALGOS), help=f"comma list of: {', '.join(ALGOS)}")
    _timing.add_wall(parser)
    parser.add_argument("overrides", nargs="*", help="extra config overrides (e.g. game.batch.size=500)")
    args = parser.parse_args(argv)
    names = _timing.names(parser, args.algos, ALGOS, "algorithm")
    if "gda" not in names:
        names = ["gda"] + names
    rows = measure(names, args.rounds, args.block, args.overrides, clock=_timing.clock(args.wall))
    import torch

    print(f"1-D MoG GAN (Wang et al. 2020 setup{', ' + ' '.join(args.overrides) if args.overrides else ''}), "
          f"{torch.get_num_threads()} thread(s), median {'wall' if args.wall else 'CPU'} time over {args.rounds} "
          f"interleaved blocks of {args.block} steps")
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
