"""Wang et al. 2020, Fig. 8: GDA vs FR on MNIST digits 0 and 1 (generated samples and gradient norms).

Full setting (`+experiment=fr_mnist01`, every value sourced in the yaml and docs/setups.md#fr_mnist01): the
saturating GAN on the 9,600 training images of classes 0 and 1, 2×512 tanh MLPs (spectral norm on D),
latent 64, L2 on D, RMSprop 1e-4 for both players, batch 2,000, 100,000 iterations; GDA (alternating, as
the reference's MoG baseline) and FR (CG 5 on the normal equations, LM damping, App. D.4). Writes
<out>/{table.md, rows.json, fig8.png (final samples and both players' gradient norms, like Fig. 8)}.

Quick setting (CI, seconds): tiny fake MNIST files in torchvision's format (tests/fake_datasets.py, 20
images of each of the two classes), 32-unit nets, batch 40, 60 steps at 1e-3, FID from 4 images with an
untrained Inception. It checks what a tiny run can: both runs finish with both players' gradient norms
logged and finite at every metrics row, and FR's ridge correction is applied at every step (its norm > 0);
which run ends with the lower gradient norm is not stable at that size (NOTES).
"""

from __future__ import annotations

import math
from pathlib import Path

from minimax_cli.plots import pyplot, save_figure
from minimax_cli.reproduce.curves import RUN_QUIET, curve, grad_norm, report_table, tail_median
from minimax_cli.reproduce.engine import Claim, Reproduction, Variant, quoted
from minimax_cli.reproduce.outputs import write_outputs

ALGOS = ["gda", "fr"]
QUICK = ["game.per_class=20", "game.batch.size=40", "game.generator.latent_dim=8", "game.generator.width=32",
         "game.discriminator.width=32", "algo.lr_x=1e-3", "algo.lr_y=1e-3", "steps=60", "log_every=5",
         "metrics_every=5", "checkpoint_every=0", "game.metrics.fid_every=60", "game.metrics.sample_every=60",
         "game.metrics.grid=4", "game.metrics.fid.weights=random", "game.metrics.fid.samples=4",
         "game.metrics.fid.real_samples=4", "game.metrics.fid.batch_size=4", "hardware.threads=1"]


def variants(quick: bool) -> list[Variant]:
    return [Variant(a, ["+experiment=fr_mnist01", f"algo={a}", *(QUICK if quick else [])]) for a in ALGOS]


def prepare(out: Path, quick: bool) -> list[str]:
    """--quick: tiny fake MNIST files (labels cycle 0..9: 20 images of each class from 200)."""
    if not quick:
        return []
    from minimax_cli.reproduce.images import fake_datasets

    fake_datasets().write_mnist(out / "data", n_train=200, n_test=10)
    return [f"game.data_root={quoted(out / 'data')}"]


def summary_rows(result) -> dict[str, dict]:
    rows = {}
    for label, runs in result.by_label.items():
        run = runs[0]
        _, gx, _ = curve(run, "grad_norm/x", None)
        _, gy, _ = curve(run, "grad_norm/y", None)
        _, norms, _ = grad_norm(run, None)
        _, ridge, _ = curve(run, "algo/ridge_norm", None)
        final = (run.summary or {}).get("metrics", {})
        rows[label] = {
            "status": run.status, "steps": int((run.summary or {}).get("step") or 0), "rows": len(norms),
            "finite": bool(norms) and all(math.isfinite(v) for v in gx + gy),
            "grad_x_first": gx[0] if gx else math.nan, "grad_y_first": gy[0] if gy else math.nan,
            "grad_x_tail": tail_median(gx, 0.1), "grad_y_tail": tail_median(gy, 0.1),
            "grad_norm_first": norms[0] if norms else math.nan,
            "grad_norm_tail": tail_median(norms, 0.1),
            "ridge_rows": len(ridge), "ridge_min": min(ridge) if ridge else math.nan,
            "fid": final.get("fid", math.nan),
        }
    return rows


def claims(rows: dict) -> list[Claim]:
    g, f = rows.get("gda"), rows.get("fr")
    out = []
    for label, r in rows.items():
        out.append(Claim(f"{label}: the run finishes with both players' gradient norms finite at every one of its "
                         f"{r['rows']} metrics rows ({r['status']}, {r['steps']} steps)",
                         r["status"] == "finished" and r["rows"] >= 2 and r["finite"]))
    if f:
        out.append(Claim(f"FR applies its ridge correction: algo/ridge_norm > 0 at every logged step (lowest "
                         f"{f['ridge_min']:.2e} over {f['ridge_rows']} rows)",
                         f["ridge_rows"] >= 2 and f["ridge_min"] > 0))
    if not (g and f):
        return out
    for who, key in (("discriminator", "grad_y_tail"), ("generator", "grad_x_tail")):
        out.append(Claim(f"Fig. 8: FR's {who} gradient norm falls much faster than GDA's: its median over the last "
                         f"10% of the logs is ≥ 10× below GDA's (FR {f[key]:.2e}, GDA {g[key]:.2e})",
                         f[key] * 10 <= g[key], "full"))
    out.append(Claim(f"Fig. 8: the gradients do not vanish by the end of training: FR's final norm is ≥ 1e-3 × its first "
                     f"({f['grad_norm_tail']:.2e} vs {f['grad_norm_first']:.2e})",
                     f["grad_norm_tail"] >= 1e-3 * f["grad_norm_first"], "full"))
    return out


def fig8(result, path: Path) -> Path | None:
    """Per algorithm: the final sample grid over its two players' gradient norms (Fig. 8's layout)."""
    labels = [a for a in ALGOS if a in result.by_label]
    if not labels:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(2, len(labels), figsize=(5 * len(labels), 8), dpi=100, squeeze=False)
    for j, label in enumerate(labels):
        run = result.by_label[label][0]
        grid = Path(run.files) / "samples.png"
        if grid.exists():
            ax[0, j].imshow(plt.imread(grid), cmap="gray")
        ax[0, j].set_axis_off()
        ax[0, j].set_title(f"{label.upper()}: samples")
        for key, who in (("grad_norm/y", "discriminator"), ("grad_norm/x", "generator")):
            s, v, _ = curve(run, key, None)
            ax[1, j].semilogy(s, v, lw=1, label=who)
        ax[1, j].set_xlabel("iteration")
        ax[1, j].set_ylabel("gradient norm")
        ax[1, j].legend(fontsize=8)
        ax[1, j].grid(alpha=0.3)
    fig.suptitle("Wang et al. 2020, Fig. 8: MNIST 0/1, GDA vs FR")
    return save_figure(fig, path)


NOTES = """\
* The paper's MNIST code is not public: RMSprop β = 0.999, ε = 1e-8 with bias correction, the initial damping 1
  and the alternating GDA baseline are its MoG experiment's (reference code); PyTorch's default initialization;
  the generator's output Tanh. Spectral norm on every layer of D (App. D.3: "for each fully-connected layer";
  §6.2.2 names the discriminator only). One FID of the final samples is reported, not a claim of the paper.
* Gradient norms are unsquared, of the raw (unpreconditioned) gradients, on the fixed evaluation batch (2,000 images).
* Quick setting (CI) departures, to finish in seconds: fake MNIST files (random pixels, labels cycling), 20
  images per class, 32-unit nets, latent 8, batch 40 (the whole subset), learning rate 1e-3 (10×), 60 steps.
  Which of FR and GDA ends with the lower gradient norm there depends on the seed and the subset size (FR
  above GDA at 20 images per class for seeds 0 and 1, below at 40 for seed 0), so the quick setting does not
  compare them: Fig. 8's "much faster" (≥ 10×) and the non-vanishing gradients need the full setting.
"""


def analyze(ctx) -> int:
    out, result, quick = ctx.out, ctx.result, ctx.quick
    rows = summary_rows(result)
    table = report_table(result, ["grad_norm/x", "grad_norm/y", "fid"])
    lines = ["| algorithm | status | steps | ‖∇ₓ‖ first | ‖∇ᵧ‖ first | ‖∇ₓ‖ tail | ‖∇ᵧ‖ tail | FID (final) |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for label, r in rows.items():
        lines.append(f"| {label} | {r['status']} | {r['steps']} | {r['grad_x_first']:.2e} | {r['grad_y_first']:.2e} "
                     f"| {r['grad_x_tail']:.2e} | {r['grad_y_tail']:.2e} | {r['fid']:.2f} |")
    fig8(result, out / "fig8.png")
    setting = ("Quick (CI) setting: see the notes." if quick else
               "Full setting: Wang et al. 2020, §6.2.2 / App. D.3, D.4 (`+experiment=fr_mnist01`), 100,000 iterations.")
    return write_outputs(out, "GDA vs Follow-the-Ridge on MNIST 0/1 (Wang et al. 2020, Fig. 8)", setting,
                         [("minimax report (final values)", table), ("Gradient norms (tail: median of the last 10%)",
                                                                     "\n".join(lines))],
                         claims(rows), quick, NOTES, {"rows": rows}, audit=("fr_mnist01",))


REPRODUCTION = Reproduction(
    name="fr-mnist", paper="Wang et al. 2020, Fig. 8 (GDA vs FR on MNIST 0/1: samples and gradient norms)",
    cost="full: 2 runs × 100k iterations of batch 2,000 (GPU: hardware=cuda); quick ~20 s",
    variants=variants, analyze=analyze, prepare=prepare, common=RUN_QUIET)
