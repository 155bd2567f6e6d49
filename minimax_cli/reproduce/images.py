"""The image-GAN reproductions (GPU): Gao et al. 2022, Table 1 (``hessianfr-table1``); Askari Hemmat
et al. 2023, Table 1, CIFAR-10 (``lead-cifar``); Fiez & Ratliff 2021, Figs. 2-3 (``tau-images``).

Every run is a real ``minimax train`` with a paper setup of conf/experiment/ and the target's
optimizer overrides, into ``<out>/runs/<setting>/<optimizer>/seed<k>``; calling again with the same
``--out`` keeps finished runs and resumes interrupted ones (``--only`` restricts a call to the
settings and/or optimizers named, to spread the runs over machines; ``--reanalyze`` only rebuilds
the table). Extra overrides go to every run, e.g. ``hardware=cuda hardware.precision=tf32``. The
tables are built with ``minimax_cli.report`` from the run directories and written to
``<out>/table.md`` (and ``table.csv``, ``rows.json``) next to the papers' numbers; the papers'
claims are checked (with ``--quick`` only that every run finished with an FID: the numbers of an
untrained Inception on a few steps of tiny nets mean nothing).

``time/100 it`` = (wall time − time spent in FID evaluations) / steps × 100 s, from summary.json
and metrics.jsonl (``fid_time_s``).

``lead-cifar`` has the rows of Table 1's baselines that this tool has (CGD-WGAN, ``algo=cgd``; Extra-Adam,
``algo=extra_adam``) beside the paper's numbers; ``--only adam,lead_adam,sngan,lead_adam_resnet`` leaves them out.

``--quick`` (the CPU smoke) writes tiny fake MNIST / CIFAR-10 / CelebA files in torchvision's formats
(tests/fake_datasets.py) to ``<out>/data``, makes torchvision's MD5 checks accept them (in this
process only), and runs every setting with tiny networks, 2 steps and FID from 2 images (real
statistics of 2) with ``weights: random``.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

from minimax_cli.reproduce.engine import Reproduction, ReproduceError, Variant, quoted

REPO = Path(__file__).resolve().parents[2]

TINY = {   # --quick: per architecture, networks a CPU trains in milliseconds
    "wgangp_cnn": ["game.generator.latent_dim=8", "game.generator.dim=4", "game.discriminator.dim=4"],
    "resnet": ["game.generator.latent_dim=8", "game.generator.width=8", "game.discriminator.width=8"],
    "dcgan": ["game.generator.latent_dim=8", "game.generator.width=4", "game.discriminator.width=4"],
    "gan_stability": ["game.generator.latent_dim=8", "game.generator.nf=4", "game.generator.nf_max=16",
                      "game.discriminator.nf=4", "game.discriminator.nf_max=16"],
}
SMOKE = ["steps=2", "log_every=2", "checkpoint_every=0", "game.batch.size=4", "game.metrics.fid_every=2",
         "game.metrics.sample_every=2", "game.metrics.grid=4", "game.metrics.fid.weights=random",
         "game.metrics.fid.samples=2", "game.metrics.fid.real_samples=2", "game.metrics.fid.batch_size=2",
         "hardware.threads=1", "progress=false"]

# Every optimizer runs with its experiment's values (docs/setups.md: the audit of each against its paper
# and the reference code); a variant names only what makes it one (solver kind and iterations).
TARGETS = {
    "hessianfr-table1": {
        "title": "Gao et al. 2022, Table 1: FID and time per 100 iterations (WGAN-GP, Adam, eta_x = 2e-5, eta_y = (5e-5, 2e-5))",
        "settings": {   # name: (label, experiment, architecture)
            "mnist_cnn": ("MNIST (CNN)", "hessianfr_mnist", "wgangp_cnn"),
            "cifar10_cnn": ("CIFAR-10 (CNN)", "hessianfr_cifar10_cnn", "wgangp_cnn"),
            "cifar10_resnet": ("CIFAR-10 (ResNet)", "hessianfr_cifar10_resnet", "resnet"),
            "celeba_resnet": ("CelebA (ResNet)", "hessianfr_celeba_resnet", "resnet"),
        },
        "audit": "hessianfr-table-1",
        "optimizers": {     # the setup: GDA-5, fd mixed products, CG1 (conf/experiment/common/hessianfr_table1.yaml)
            "gda5": ("GDA-5", ["algo=gda"]),
            "eg": ("EG", ["algo=eg"]),
            "fr_dg": ("FR-DG", ["algo=fr", "algo.solver.kind=diag"]),
            "fr_cg1": ("FR-CG1", ["algo=fr"]),
            "hfr_dg": ("HessianFR-DG", ["algo=hessianfr", "algo.solver.kind=diag"]),
            "hfr_cg1": ("HessianFR-CG1", ["algo=hessianfr"]),
            "hfr_cg5": ("HessianFR-CG5", ["algo=hessianfr", "algo.solver.iters=5"]),
        },
        "only": {"hfr_cg5": ("mnist_cnn",)},          # Table 1 has CG5 on MNIST only
        "smoke_optimizers": {"mnist_cnn": None, "*": ("hfr_cg1",)},   # None: all
        "seeds": 1,
        # (FID, seconds per 100 iterations) as printed
        "paper": {
            "mnist_cnn": {"gda5": (5.04, 5.50), "eg": (4.83, 3.82), "fr_dg": (4.74, 4.68), "fr_cg1": (4.85, 13.14),
                          "hfr_dg": (4.79, 4.68), "hfr_cg1": (4.65, 13.14), "hfr_cg5": (4.68, 27.86)},
            "cifar10_cnn": {"gda5": (28.43, 17.40), "eg": (33.01, 12.85), "fr_dg": (27.01, 14.96),
                            "fr_cg1": (26.38, 34.80), "hfr_dg": (26.59, 14.96), "hfr_cg1": (26.44, 34.80)},
            "cifar10_resnet": {"gda5": (23.48, 44.81), "eg": (25.38, 29.32), "fr_dg": (22.42, 38.37),
                               "fr_cg1": (19.68, 88.70), "hfr_dg": (20.83, 38.37), "hfr_cg1": (18.12, 88.70)},
            "celeba_resnet": {"gda5": (19.34, 98.74), "eg": (24.45, 68.79), "fr_dg": (13.32, 80.44),
                              "fr_cg1": (11.41, 174.22), "hfr_dg": (12.34, 80.44), "hfr_cg1": (10.99, 174.22)},
        },
    },
    "lead-cifar": {
        "title": "Askari Hemmat et al. 2023, Table 1 (CIFAR-10): FID and IS on 50k samples, Adam / SNGAN vs LEAD-Adam "
                 "and the table's baselines",
        "settings": {
            "dcgan": ("DCGAN", "lead_cifar_dcgan", "dcgan"),
            "resnet": ("ResNet", "lead_cifar_resnet", "resnet"),
        },
        "audit": "lead_cifar_dcgan, docs/setups.md#lead_cifar_resnet",
        "optimizers": {     # each experiment's gda is its baseline (Adam / SNGAN's 5 D steps), lead_adam its α
            "adam": ("Adam", ["algo=gda"]),
            "sngan": ("SNGAN (Adam, 5 D steps)", ["algo=gda"]),
            "lead_adam": ("LEAD-Adam", ["algo=lead_adam"]),
            "lead_adam_resnet": ("LEAD-Adam", ["algo=lead_adam"]),
            # the table's baselines, each in its own paper's setting on the experiment's data and networks:
            # Schäfer & Anandkumar 2019's CGD on the WGAN loss; Gidel et al. 2019's Extra-Adam on WGAN-GP
            # (their ResNet run: lr G 5e-5, D 5e-4, Adam (0.5, 0.9), penalty 10)
            "cgd_wgan": ("CGD-WGAN (Schäfer & Anandkumar 2019)", ["algo=cgd", "setup.strict=false", "game.loss.kind=wgan"]),
            "extra_adam_resnet": ("Extra-Adam (Gidel et al. 2019)",
                                  ["algo=extra_adam", "setup.strict=false", "algo.lr_x=5e-5", "algo.lr_y=5e-4",
                                   "game.loss.kind=wgan", "game.loss.gp=10.0"]),
        },
        "only": {"adam": ("dcgan",), "lead_adam": ("dcgan",), "sngan": ("resnet",), "lead_adam_resnet": ("resnet",),
                 "cgd_wgan": ("dcgan",), "extra_adam_resnet": ("resnet",)},
        "smoke_optimizers": {"*": None},
        "smoke_extra": ["game.metrics.fid.inception_score=true", "game.metrics.fid.is_splits=1"],
        "seeds": 5,
        "paper": {"dcgan": {"adam": (24.38, 6.58), "lead_adam": (19.27, 7.58), "cgd_wgan": (21.3, 7.2)},
                  "resnet": {"sngan": (12.10, 8.58), "lead_adam_resnet": (10.49, 8.82), "extra_adam_resnet": (16.78, 8.47)}},
    },
    "tau-images": {
        "title": "Fiez & Ratliff 2021, Figs. 2-3: FID (EMA 0.9999) of tau-GDA against tau, R1 weight mu in {10, 1}",
        "settings": {
            f"{data}_mu{mu}_tau{tau}": (f"{label}, mu = {mu}, tau = {tau}", exp, "gan_stability")
            for data, label, exp, taus in (("cifar10", "CIFAR-10", "tgda_cifar10", (1, 2, 4, 8)),
                                           ("celeba", "CelebA", "tgda_celeba", (1, 2, 4, 8, 16)))
            for mu in (10, 1) for tau in taus
        },
        "audit": "tgda_cifar10",
        "optimizers": {"tgda": ("tau-GDA", [])},
        "smoke_settings": ("cifar10_mu10_tau1", "cifar10_mu10_tau4", "cifar10_mu1_tau4", "celeba_mu10_tau8"),
        "smoke_optimizers": {"*": None},
        "seeds": 3,
        # μ = 10: FID at 150k; μ = 1: (150k, 300k)
        "paper": {"cifar10": {10: {1: 37.0, 2: 27.1, 4: 26.3, 8: 29.1},
                              1: {1: (26.7, 21.6), 2: (21.6, 18.1), 4: (20.1, 17.6), 8: (20.7, 18.6)}},
                  "celeba": {10: {1: 14.6, 2: 11.7, 4: 10.7, 8: 10.1, 16: 11.2},
                             1: {1: (13.1, 8.5), 2: (10.3, 6.8), 4: (8.8, 6.1), 8: (8.0, 5.8), 16: (8.1, 6.2)}}},
    },
}


def tau_overrides(setting: str) -> list[str]:
    """tau-images settings carry tau and mu in their name: cifar10_mu1_tau4."""
    _, mu, tau = setting.split("_")
    mu, tau = int(mu[2:]), int(tau[3:])
    return [f"algo.tau={tau}", f"game.loss.r1={mu}"] + (["steps=300000"] if mu == 1 else [])


# -- fake data for --quick --------------------------------------------------------------------------------
def fake_datasets():
    """tests/fake_datasets.py, the writers of tiny datasets in torchvision's formats (a source checkout's)."""
    source = REPO / "tests" / "fake_datasets.py"
    if not source.is_file():
        raise ReproduceError(f"--quick of the image reproductions needs {source} (a source checkout)")
    spec = importlib.util.spec_from_file_location("minimax_fake_datasets", source)
    fake = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fake)
    return fake


def write_fake_data(root: Path) -> None:
    """Tiny MNIST / CIFAR-10 / CelebA in torchvision's formats; torchvision's MD5 lists are pointed at
    these files for this process only (the files' real digests cannot match)."""
    fake = fake_datasets()
    from torchvision.datasets import CIFAR10, CelebA

    fake.write_mnist(root, n_train=40, n_test=10)
    fake.write_cifar10(root, per_batch=8, n_test=4)
    fake.write_celeba(root, n=8)
    md5 = fake.md5
    base = root / "cifar-10-batches-py"
    CIFAR10.train_list = [[n, md5(base / n)] for n, _ in CIFAR10.train_list]
    CIFAR10.test_list = [[n, md5(base / n)] for n, _ in CIFAR10.test_list]
    CIFAR10.meta = {**CIFAR10.meta, "md5": md5(base / CIFAR10.meta["filename"])}
    celeba = root / "celeba"
    CelebA.file_list = [(fid, md5(celeba / name) if (celeba / name).exists() else digest, name)
                        for fid, digest, name in CelebA.file_list]


# -- running ---------------------------------------------------------------------------------------------
def plan(target: dict, smoke: bool, seeds: int, only: set[str]) -> list[tuple[str, str, int]]:
    """(setting, optimizer, seed) of every run of the target."""
    settings = list(target.get("smoke_settings", target["settings"])) if smoke else list(target["settings"])
    named_settings, named_opts = only & set(target["settings"]), only & set(target["optimizers"])
    runs = []
    for setting in settings:
        for opt in target["optimizers"]:
            allowed = target.get("only", {}).get(opt)
            if allowed is not None and setting not in allowed:
                continue
            if smoke:
                chosen = target["smoke_optimizers"].get(setting, target["smoke_optimizers"].get("*"))
                if chosen is not None and opt not in chosen:
                    continue
            if (named_settings and setting not in named_settings) or (named_opts and opt not in named_opts):
                continue
            runs += [(setting, opt, seed) for seed in range(seeds)]
    return runs


def run_overrides(name: str, target: dict, setting: str, opt: str, seed: int, smoke: bool) -> list[str]:
    _, experiment, arch = target["settings"][setting]
    out = [f"+experiment={experiment}", *target["optimizers"][opt][1], f"seed={seed}",
           f"+label={{target:{name},setting:{setting},optimizer:{opt}}}"]
    if name == "tau-images":
        out += tau_overrides(setting)
    if smoke:
        out += TINY[arch] + SMOKE + target.get("smoke_extra", [])
    return out


def variants_of(name: str):
    target = TARGETS[name]

    def variants(quick: bool) -> list[Variant]:
        seeds = 1 if quick else target["seeds"]
        return [Variant(f"{setting}/{opt}/seed{seed}", run_overrides(name, target, setting, opt, seed, quick),
                        seeds=None, dir=f"runs/{setting}/{opt}/seed{seed}", groups=(setting, opt), name_runs=False)
                for setting, opt, seed in plan(target, quick, seeds, set())]
    return variants


def prepare(out: Path, quick: bool) -> list[str]:
    """--quick: the fake datasets, and every run reads them."""
    if not quick:
        return []
    write_fake_data(out / "data")
    return [f"game.data_root={quoted(out / 'data')}", "tensorboard=false"]


# -- tables ----------------------------------------------------------------------------------------------
def time_per_100(run) -> float | None:
    """(wall time − FID time) / steps × 100, seconds."""
    if not run.summary or not run.summary.get("step"):
        return None
    fid_time = sum(float(r.get("fid_time_s", 0.0)) for r in run.history if isinstance(r.get("fid_time_s"), (int, float)))
    return (float(run.summary["wall_time_s"]) - fid_time) / int(run.summary["step"]) * 100


def fid_at(run, step: int) -> float | None:
    for row in run.history:
        if row.get("step") == step and isinstance(row.get("fid"), (int, float)):
            return float(row["fid"])
    return None


def _fmt(value, digits=2) -> str:
    return "—" if value is None or (isinstance(value, float) and not math.isfinite(value)) else f"{value:.{digits}f}"


def build_table(name: str, target: dict, out: Path, smoke: bool) -> tuple[str, list[dict], list[tuple[str, bool]]]:
    from minimax_cli import report

    runs = report.collect_runs([out / "runs"])
    if not runs:
        raise ReproduceError(f"no runs under {out / 'runs'}")
    metrics = ["fid"] + (["is"] if name == "lead-cifar" else [])
    table = report.table(runs, by=["label.setting", "label.optimizer"], metrics=metrics)
    report.to_csv(table, out / "table.csv")
    groups = {}
    for run in runs:
        groups.setdefault((run.get("label.setting"), run.get("label.optimizer")), []).append(run)
    rows = []
    for row in table:
        setting, opt = row["label.setting"], row["label.optimizer"]
        members = groups[(setting, opt)]
        times = [t for t in (time_per_100(r) for r in members) if t is not None]
        entry = {"setting": setting, "optimizer": opt, "runs": row["runs"],
                 "statuses": {s: row[s] for s in table.statuses if row[s]},
                 "fid": row["fid:mean"], "fid_std": row["fid:std"],
                 "time_per_100": sum(times) / len(times) if times else None}
        if name == "lead-cifar":
            entry["is"] = row["is:mean"]
        if name == "tau-images":
            entry["fid_150k"] = _mean([fid_at(r, 150000) for r in members])
        rows.append(entry)
    text = {"hessianfr-table1": _table1_markdown, "lead-cifar": _lead_markdown, "tau-images": _tau_markdown}[name](
        target, rows)
    text += "\n`minimax report` of the same runs (mean ± std over seeds):\n\n" + report.to_markdown(table)
    claims = _smoke_claims(rows) if smoke else {"hessianfr-table1": _table1_claims, "lead-cifar": _lead_claims,
                                                "tau-images": _tau_claims}[name](rows)
    return text, rows, claims


def _mean(values):
    values = [v for v in values if v is not None and math.isfinite(v)]
    return sum(values) / len(values) if values else None


def _by(rows):
    return {(r["setting"], r["optimizer"]): r for r in rows}


def _table1_markdown(target, rows) -> str:
    by = _by(rows)
    settings = [s for s in target["settings"] if any(r["setting"] == s for r in rows)]
    head = "| optimizer | " + " | ".join(f"{target['settings'][s][0]} FID (paper) | time/100 it s (paper) | time / GDA-5 (paper)"
                                        for s in settings) + " |"
    lines = [head, "|---|" + "---:|---:|---:|" * len(settings)]
    for opt, (label, _) in target["optimizers"].items():
        cells = []
        for s in settings:
            r, paper = by.get((s, opt)), target["paper"].get(s, {}).get(opt)
            base, pbase = by.get((s, "gda5")), target["paper"].get(s, {}).get("gda5")
            ratio = r["time_per_100"] / base["time_per_100"] if r and base and base["time_per_100"] else None
            pratio = paper[1] / pbase[1] if paper and pbase else None
            cells += [f"{_fmt(r and r['fid'])} ({_fmt(paper and paper[0])})",
                      f"{_fmt(r and r['time_per_100'])} ({_fmt(paper and paper[1])})",
                      f"{_fmt(ratio)} ({_fmt(pratio)})"]
        if any(c.split(" ")[0] != "—" for c in cells[::3]):
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _table1_claims(rows):
    by, claims = _by(rows), []
    for s in {r["setting"] for r in rows}:
        gda5, cg1, dg = by.get((s, "gda5")), by.get((s, "hfr_cg1")), by.get((s, "hfr_dg"))
        if gda5 and cg1 and gda5["fid"] is not None and cg1["fid"] is not None:
            claims.append((f"{s}: HessianFR-CG1 FID {cg1['fid']:.2f} < GDA-5 {gda5['fid']:.2f}", cg1["fid"] < gda5["fid"]))
        if gda5 and cg1 and gda5["time_per_100"] and cg1["time_per_100"]:
            ratio = cg1["time_per_100"] / gda5["time_per_100"]
            claims.append((f"{s}: HessianFR-CG1 time {ratio:.2f}x GDA-5's, at most the paper's 2.39x", ratio <= 2.39))
        if gda5 and dg and gda5["time_per_100"] and dg["time_per_100"]:
            ratio = dg["time_per_100"] / gda5["time_per_100"]
            claims.append((f"{s}: HessianFR-DG time {ratio:.2f}x GDA-5's, 'comparable' (at most 1.2x; paper 0.85x)",
                           ratio <= 1.2))
    return claims


def _lead_markdown(target, rows) -> str:
    lines = ["| architecture | method | runs | FID (paper) | IS (paper) |", "|---|---|---:|---:|---:|"]
    for r in rows:
        paper = target["paper"].get(r["setting"], {}).get(r["optimizer"])
        fid = _fmt(r["fid"]) + ("" if r["fid_std"] is None else f" ± {r['fid_std']:.2f}")
        lines.append(f"| {target['settings'][r['setting']][0]} | {target['optimizers'][r['optimizer']][0]} | {r['runs']} "
                     f"| {fid} ({_fmt(paper and paper[0])}) | {_fmt(r.get('is'))} ({_fmt(paper and paper[1])}) |")
    return "\n".join(lines) + "\n"


def _lead_claims(rows):
    by, claims = _by(rows), []
    for setting, base, lead in (("dcgan", "adam", "lead_adam"), ("resnet", "sngan", "lead_adam_resnet"),
                                ("dcgan", "cgd_wgan", "lead_adam"), ("resnet", "extra_adam_resnet", "lead_adam_resnet")):
        a, b = by.get((setting, base)), by.get((setting, lead))
        if a and b and a["fid"] is not None and b["fid"] is not None:
            claims.append((f"{setting}: LEAD-Adam FID {b['fid']:.2f} < {base} {a['fid']:.2f}", b["fid"] < a["fid"]))
    return claims


def _tau_markdown(target, rows) -> str:
    lines = []
    for data, label in (("cifar10", "CIFAR-10 (Fig. 2)"), ("celeba", "CelebA (Fig. 3)")):
        taus = sorted({int(r["setting"].split("_tau")[1]) for r in rows if r["setting"].startswith(data)})
        if not taus:
            continue
        lines += [f"{label}: FID at the end (150k updates for mu = 10, 150k/300k for mu = 1); paper in parentheses", "",
                  "| mu \\ tau | " + " | ".join(str(t) for t in taus) + " |", "|---|" + "---:|" * len(taus)]
        for mu in (10, 1):
            cells = []
            for tau in taus:
                r = _by(rows).get((f"{data}_mu{mu}_tau{tau}", "tgda"))
                paper = target["paper"][data][mu].get(tau)
                if r is None:
                    cells.append("—")
                elif mu == 1:
                    cells.append(f"{_fmt(r['fid_150k'], 1)}/{_fmt(r['fid'], 1)} "
                                 f"({'/'.join(_fmt(p, 1) for p in paper) if paper else '—'})")
                else:
                    cells.append(f"{_fmt(r['fid'], 1)} ({_fmt(paper, 1)})")
            lines.append(f"| {mu} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _tau_claims(rows):
    claims = []
    for data, best in (("cifar10", 4), ("celeba", 8)):
        for mu in (10, 1):
            fids = {int(r["setting"].split("_tau")[1]): r["fid"] for r in rows
                    if r["setting"].startswith(f"{data}_mu{mu}_") and r["fid"] is not None}
            if len(fids) < 2 or 1 not in fids:
                continue
            claims.append((f"{data}, mu = {mu}: tau = 1 has the worst FID ({fids[1]:.1f})", fids[1] == max(fids.values())))
            if best in fids:
                winner = min(fids, key=fids.get)
                claims.append((f"{data}, mu = {mu}: the best tau is {winner} (paper: {best})", winner == best))
    return claims


def _smoke_claims(rows):
    return [(f"{r['setting']} / {r['optimizer']}: every run finished with an FID",
             r["statuses"].get("finished", 0) == r["runs"] and r["fid"] is not None and math.isfinite(r["fid"]))
            for r in rows]


def figure_tau(rows: list[dict], path: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), dpi=100)
    drawn = False
    for ax, data in zip(axes, ("cifar10", "celeba")):
        for mu in (10, 1):
            points = sorted((int(r["setting"].split("_tau")[1]), r["fid"]) for r in rows
                            if r["setting"].startswith(f"{data}_mu{mu}_") and r["fid"] is not None)
            if points:
                ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=f"mu = {mu}")
                drawn = True
        ax.set(xscale="log", xlabel="tau", ylabel="FID", title=data)
        ax.set_xticks([1, 2, 4, 8, 16], ["1", "2", "4", "8", "16"])
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path if drawn else None


def analyze(ctx) -> int:
    name, out, smoke = ctx.name, ctx.out, ctx.quick
    target = TARGETS[name]
    done = ctx.launched
    text, rows, claims = build_table(name, target, out, smoke)
    figure = figure_tau(rows, out / "fid_vs_tau.png") if name == "tau-images" else None
    checks = "\n".join(f"- [{'x' if ok else ' '}] {claim}" for claim, ok in claims)
    failed = [d for d in done if d[1].startswith("failed")]
    header = (f"# {target['title']}{' — SMOKE (tiny nets, fake data, untrained Inception: not FIDs)' if smoke else ''}\n\n"
              f"Runs: `{out / 'runs'}` ({len(done)} run(s) this call, {len(failed)} failed, "
              f"{ctx.seconds:.0f} s).\n\n"
              f"Setup audit: `docs/setups.md#{target['audit']}` (each value: paper section, reference-code "
              "file:line, ours, why); each run's `.hydra/resolved.yaml` ends with where every algorithm value "
              "came from.\n\n")
    (out / "table.md").write_text(header + text + "\nClaims:\n\n" + (checks or "- (none checkable)") + "\n")
    (out / "rows.json").write_text(json.dumps({"rows": rows, "claims": claims, "runs": done}, indent=1) + "\n")
    print("\n" + header + text + "\nClaims:\n\n" + checks)
    print(f"wrote {out / 'table.md'}" + (f", {figure}" if figure else ""))
    return 0 if all(ok for _, ok in claims) and not failed else 1


PAPERS = {
    "hessianfr-table1": ("Gao et al. 2022, Table 1 (FID and time per 100 iterations, 4 image settings; GPU)",
                         "full ≈ 335 GPU-h at the paper's speed (25 runs × 100k steps); quick (CPU smoke) ~30 s"),
    "lead-cifar": ("Askari Hemmat et al. 2023, Table 1, CIFAR-10 (FID and IS, Adam/SNGAN vs LEAD-Adam; GPU)",
                   "full ≈ 15 GPU-h (20 runs); quick (CPU smoke) ~15 s"),
    "tau-images": ("Fiez & Ratliff 2021, Figs. 2–3 (τ-GDA FID against τ, CIFAR-10 and CelebA; GPU)",
                   "full ≈ 70 GPU-h (54 runs); quick (CPU smoke) ~20 s"),
}
REPRODUCTIONS = {name: Reproduction(name=name, paper=paper, cost=cost, variants=variants_of(name), analyze=analyze,
                                    prepare=prepare)
                 for name, (paper, cost) in PAPERS.items()}
