"""Askari Hemmat et al. 2023's scale: preconditioner updates against torch.optim, and LEAD-Adam / Adam
iterations against the authors' reference implementation, measured interleaved in one process.

    python -m scripts.bench_lead [--reference PATH] [--rounds 3] [--block 3] [--wall] [--skip-reference]

1. Our Adam / RMSprop update of a player's point (``Precond.advance``, as GDA takes it) on one flat
   vector of 8.1M float32 parameters (the paper's 3×2000 ReLU generator), against ``torch.optim``'s
   (default settings) on the same parameters in place. Target: ≤ 1.1×.
2. The 8-Gaussians setting of the reference's ``Gaussians_py3.py`` (batch 256, non-saturating loss, lr
   3e-4, Adam betas (0.5, 0.9), α = 0.6): one iteration of its loop body with ``update_rule`` 'adam' or
   'adam_lsd' against one step of ``algo=gda`` (its Adam baseline) or ``algo=lead_adam``. The reference
   is read from ``--reference`` (a checkout of ReyhaneAskari/Least_action_dynamics_minmax, never copied
   here) and executed as it is, on the CPU, without its plots and prints. Target: ≤ 1.0×.

CPU time, one thread (``--wall``: wall time); the cases take turns ``--block`` iterations at a time
for ``--rounds`` rounds; medians. Three steps a turn: a case's first step after another's turn pays
for re-allocating its buffers (ours allocates fresh ones each step).
"""

from __future__ import annotations

import argparse
import ast
import warnings
from pathlib import Path

from scripts import _timing
from scripts._timing import add_wall, interleave, mark, table

DEFAULT_REFERENCE = Path("/tmp/Least_action_dynamics_minmax/Gaussians_py3.py")
PRECOND_TARGET, LEAD_TARGET = 1.1, 1.0
N_PARAMS = 8_136_002          # Askari Hemmat et al. 2023's generator: 64→2000→2000→2000→2 (weights and biases)
LR, ALPHA, BATCH = 3e-4, 0.6, 256


# -- 1. preconditioners ------------------------------------------------------------------------------
def precond_cases(n: int) -> dict:
    import torch

    from minimax_cli.algos.precond import Precond

    gen = torch.Generator().manual_seed(0)
    g = torch.randn(n, generator=gen)
    cases = {}
    for kind, ours_spec, make_opt in (
            ("adam", {"kind": "adam", "beta1": 0.5, "beta2": 0.9, "eps": 1e-8},
             lambda p: torch.optim.Adam([p], lr=LR, betas=(0.5, 0.9), eps=1e-8)),
            ("rmsprop", {"kind": "rmsprop", "beta2": 0.99, "eps": 1e-8},
             lambda p: torch.optim.RMSprop([p], lr=LR, alpha=0.99, eps=1e-8))):
        pc = Precond.build(ours_spec)
        box = {"p": torch.randn(n, generator=gen), "st": pc.init(g)}

        def ours(pc=pc, box=box):   # as GDA moves a player: the new point p + Δ
            box["p"], box["st"] = pc.advance(box["p"], g, box["st"], LR)

        param = torch.nn.Parameter(torch.randn(n, generator=gen))
        param.grad = g.clone()
        opt = make_opt(param)
        cases[f"{kind}: torch.optim"] = opt.step
        cases[f"{kind}: minimax"] = ours
    return cases


def ratio_table(what: str, reference: str, unit: str, labels, times: dict, target: float) -> str:
    """One row per label: the reference's time, ours (times[f"{label}: {reference}"], ..."minimax"],
    seconds, shown in ``unit``: ms or s), their ratio and the target."""
    scale, digits = (1e3, 1) if unit == "ms" else (1.0, 3)
    rows = []
    for label in labels:
        ref, ours = times[f"{label}: {reference}"], times[f"{label}: minimax"]
        rows.append([label, f"{ref * scale:.{digits}f}", f"{ours * scale:.{digits}f}", f"{ours / ref:.2f}×",
                     mark(ours / ref, target)])
    return table([what, f"{reference} {unit}", f"minimax {unit}", f"minimax / {reference}", "target"], "lrrrl", rows)


def precond_table(times: dict) -> str:
    return ratio_table("update (8.1M float32 parameters)", "torch.optim", "ms", ("adam", "rmsprop"), times,
                       PRECOND_TARGET)


# -- 2. the reference implementation -------------------------------------------------------------------
def load_reference(path: Path, update_rule: str):
    """The reference script's set-up executed in a fresh namespace (CPU, no plots, no prints),
    and its loop body as a function of no arguments (one iteration)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    setup, loop = [], None
    for node in tree.body:
        if isinstance(node, ast.For) and isinstance(node.target, ast.Name) and node.target.id == "iteration":
            loop = node
            continue
        setup.append(node)
    if loop is None:
        raise SystemExit(f"{path}: no `for iteration in ...` training loop found")
    overrides = {"use_cuda": False, "update_rule": update_rule, "_batch_size": BATCH}

    class Override(ast.NodeTransformer):
        def visit_Assign(self, node):
            if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) and node.targets[0].id in overrides:
                return ast.copy_location(ast.Assign(targets=node.targets, value=ast.Constant(
                    overrides[node.targets[0].id])), node)
            return node

    module = ast.fix_missing_locations(Override().visit(ast.Module(body=setup, type_ignores=[])))
    body = [stmt for stmt in loop.body if not _reports(stmt)]
    assigned = sorted({n.id for stmt in body for n in ast.walk(stmt)
                       if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)})
    func = ast.FunctionDef(name="_iteration", args=ast.arguments(posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[],
                                                                  defaults=[]),
                           body=[ast.Global(names=assigned)] + body, decorator_list=[], returns=None, type_params=[])
    iteration = ast.fix_missing_locations(ast.Module(body=[func], type_ignores=[]))
    namespace = {"__name__": "lead_reference"}
    import matplotlib

    matplotlib.use("Agg")
    with warnings.catch_warnings():  # the reference's own deprecation warnings (add_(Number, Tensor), .backward)
        warnings.simplefilter("ignore", UserWarning)
        exec(compile(module, str(path), "exec"), namespace)
    exec(compile(iteration, str(path), "exec"), namespace)
    body = namespace["_iteration"]

    def one_iteration():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            body()

    return one_iteration


def _reports(stmt) -> bool:
    """The loop's print and its every-100-iterations plot (not part of an iteration's work)."""
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and getattr(stmt.value.func, "id", "") == "print":
        return True
    return isinstance(stmt, ast.If) and "iteration" in ast.unparse(stmt.test)


def minimax_step(algo: str):
    """One step of ``algo`` (lead_adam, or gda: the experiment's Adam baseline) in +experiment=lead_ring8,
    at the reference's batch."""
    import torch

    from minimax_cli.build import build
    from minimax_cli.config import compose
    from minimax_cli.oracle import CostMeter, Oracle

    alpha = [f"algo.alpha_x={ALPHA}", f"algo.alpha_y={ALPHA}"] if algo == "lead_adam" else []
    cfg = compose(["+experiment=lead_ring8", f"algo={algo}", f"algo.lr_x={LR}", f"algo.lr_y={LR}", *alpha,
                   "game.loss.kind=non_saturating", f"game.batch.size={BATCH}",
                   "algo.precond={kind:adam,beta1:0.5,beta2:0.9,eps:1e-8,bias_correction:true}"])
    game, algo = build(cfg.game, "game"), build(cfg.algo, "algo")
    game.setup(torch.device("cpu"), torch.float32, 0)
    x0, y0 = game.initial_points()
    box = {"state": algo.init(x0[0], y0[0], Oracle(game, game.sample(0))), "t": 0}

    def step():
        box["t"] += 1
        box["state"], _ = algo.step(box["state"], Oracle(game, game.sample(box["t"]), CostMeter()))

    return step


def reference_cases(reference: Path) -> dict:
    """Adam and LEAD-Adam iterations, the reference's and ours (algo=gda: lead_ring8's Adam baseline)."""
    return {"Adam: reference": load_reference(reference, "adam"), "Adam: minimax": minimax_step("gda"),
            "LEAD-Adam: reference": load_reference(reference, "adam_lsd"), "LEAD-Adam: minimax": minimax_step("lead_adam")}


def lead_table(times: dict) -> str:
    return ratio_table("iteration (3×2000 ReLU nets, batch 256)", "reference", "s", ("Adam", "LEAD-Adam"), times,
                       LEAD_TARGET)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE,
                        help="Gaussians_py3.py of ReyhaneAskari/Least_action_dynamics_minmax")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--block", type=int, default=3)
    add_wall(parser)
    parser.add_argument("--skip-reference", action="store_true", help="only the preconditioner table")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    clock = _timing.clock(args.wall)
    print(f"1 thread, median {'wall' if args.wall else 'CPU'} time, {args.rounds} interleaved rounds")
    print(precond_table(interleave(precond_cases(N_PARAMS), max(args.rounds, 5), 3, clock)))
    if args.skip_reference:
        return 0
    if not args.reference.exists():
        print(f"\n(no reference at {args.reference}: fetch ReyhaneAskari/Least_action_dynamics_minmax there to compare "
              "LEAD-Adam and Adam iterations)")
        return 0
    print()
    print(lead_table(interleave(reference_cases(args.reference), args.rounds, args.block, clock)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
