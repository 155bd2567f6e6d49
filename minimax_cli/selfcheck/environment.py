"""Import-and-step smoke test of a Python environment: does minimax run here?

    python -m minimax_cli.selfcheck            # from a checkout, minimax need not be installed
    python -m minimax_cli.selfcheck --device cuda

Prints the versions that matter, checks them against pyproject.toml's ranges (Python, torch), imports
every module of minimax_cli, then runs six short CLI runs in a temporary directory (one a resume),
each exercising a different part of torch:

    g3 / GDA           analytic game, float64, vmap over 16 starts
    MoG GAN / FR       torch.func second order: CG on Hessian-vector products (jvp of grad), 6 steps,
                       checkpoint, resume to 8 steps == 8 steps at once (torch.load(weights_only=True))
    MoG GAN / LEAD     mixed products (jvp of grad across players), 4 steps
    image GAN / GDA    conv + batch norm under torch.func on synthetic images, 2 steps, FID with an
                       untrained Inception network (weights=random: nothing is downloaded)

One line per check; exit status 0 and a last line ``smoke: ok`` when everything passed. Takes about a
minute on one CPU core. Used on the oldest supported torch (docs/install.md#what-minimax-needs) and on the GPU image.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

from minimax_cli.selfcheck import ROOT, train

QUIET = ["progress=false", "plot=false", "tensorboard=false", "hardware.threads=1"]
TINY_MOG = ["game=mog", "game.generator.width=8", "game.discriminator.width=8", "game.batch.dataset_size=64",
            "game.batch.size=64", "game.metrics.w1_samples=64", "game.metrics.kl_samples=128",
            "game.metrics.mode_samples=128"]
TINY_IMAGES = ["game=cifar10", "game.dataset=synthetic", "game.synthetic_size=8", "game.arch=dcgan",
               "game.generator.latent_dim=8", "game.generator.width=4", "game.discriminator.width=4",
               "game.batch.size=4", "game.metrics.fid_every=2", "game.metrics.sample_every=0", "game.metrics.grid=4",
               "game.metrics.fid.weights=random", "game.metrics.fid.samples=4", "game.metrics.fid.real_samples=4",
               "game.metrics.fid.batch_size=4"]


def requirement(name: str) -> str:
    """The version specifier pyproject.toml gives ``name`` (e.g. '>=2.2'), '' if none; without a
    checkout, the installed package's metadata (written from pyproject.toml)."""
    if (ROOT / "pyproject.toml").exists():
        text = (ROOT / "pyproject.toml").read_text()
    else:
        from importlib import metadata

        meta = metadata.metadata("minimax-cli")
        text = "\n".join([f'requires-python = "{meta["Requires-Python"]}"',
                          *(f'"{r.split(";")[0].replace(" ", "")}"' for r in meta.get_all("Requires-Dist") or [])])
    if name == "python":
        m = re.search(r'requires-python\s*=\s*"([^"]+)"', text)
    else:
        m = re.search(rf'"{re.escape(name)}([<>=!~][^"]*)"', text)
    return m.group(1) if m else ""


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version.split("+")[0])[:3])


def satisfies(version: str, spec: str) -> bool:
    """A >= / < range check that needs no packaging library (pyproject uses only these two)."""
    v = version_tuple(version)
    for clause in filter(None, (c.strip() for c in spec.split(","))):
        op, bound = re.match(r"(>=|<=|==|<|>)\s*(.+)", clause).groups()
        b = version_tuple(bound)
        n = max(len(v), len(b))
        vv, bb = v + (0,) * (n - len(v)), b + (0,) * (n - len(b))
        if not {">=": vv >= bb, "<=": vv <= bb, "==": vv == bb, "<": vv < bb, ">": vv > bb}[op]:
            return False
    return True


class Smoke:
    def __init__(self):
        self.failed = 0

    def check(self, what: str, ok: bool, detail: str = "") -> bool:
        print(f"{'ok  ' if ok else 'FAIL'}  {what}{': ' + detail if detail else ''}", flush=True)
        self.failed += not ok
        return ok

    def run(self, what: str, args: list[str], runs: Path, timeout: float = 600) -> Path | None:
        """``python -m minimax_cli train args`` into ``runs``; the run directory, or None on failure."""
        started = time.perf_counter()
        proc = train([*QUIET, *args], {"MINIMAX_RUNS": str(runs), "OMP_NUM_THREADS": "1"}, timeout)
        seconds = time.perf_counter() - started
        summaries = sorted(Path(runs).rglob("summary.json"), key=lambda p: p.stat().st_mtime)
        if proc.returncode != 0 or not summaries:
            last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
            self.check(what, False, f"exit {proc.returncode}: {last}")
            return None
        summary = json.loads(summaries[-1].read_text())
        ok = summary["status"] in ("finished", "converged")
        shown = {k: summary["metrics"][k] for k in ("grad_norm/y", "w1", "fid") if k in summary["metrics"]}
        self.check(what, ok, f"{summary['status']} at step {summary['step']}, "
                             f"{', '.join(f'{k} {v:.4g}' for k, v in shown.items())} ({seconds:.1f} s)")
        return summaries[-1].parent if ok else None


def versions() -> None:
    """Python, torch, torchvision, CUDA, cuDNN and every GPU, on one line each (scripts/gpu_check.sh's first step)."""
    import torch
    import torchvision

    print(f"python {platform.python_version()} ({sys.executable})")
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, CUDA build {torch.version.cuda}, "
          f"cuDNN {torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None}")
    if not torch.cuda.is_available():
        print("no CUDA device visible: CPU-sized checks only")
    for i in range(torch.cuda.device_count() if torch.cuda.is_available() else 0):
        p = torch.cuda.get_device_properties(i)
        print(f"cuda:{i} {p.name}, compute capability {p.major}.{p.minor}, {p.total_memory / 2**30:.0f} GiB, "
              f"{p.multi_processor_count} SMs")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu | cuda: hardware of the runs (default cpu)")
    parser.add_argument("--versions", action="store_true", help="only print the versions (and the GPUs)")
    args = parser.parse_args(argv)
    if args.versions:
        versions()
        return 0
    smoke = Smoke()
    print(f"python {platform.python_version()} ({sys.executable})")
    smoke.check(f"python {platform.python_version()} within pyproject's {requirement('python')}",
                satisfies(platform.python_version(), requirement("python")))
    try:
        import numpy
        import torch
    except ImportError as exc:
        smoke.check("import torch, numpy", False, str(exc))
        return 1
    cuda = torch.version.cuda or "none"
    print(f"torch {torch.__version__} (CUDA build {cuda}, cuda available: {torch.cuda.is_available()}), "
          f"numpy {numpy.__version__}")
    smoke.check(f"torch {torch.__version__} within pyproject's {requirement('torch')}",
                satisfies(torch.__version__, requirement("torch")))
    # torchvision (image data, grids, pytorch-fid's Inception) must match the torch build; without it the
    # image run is skipped and the smoke fails, but the torch.func runs still say whether torch itself works
    images = False
    try:
        import torchvision

        images = smoke.check(f"torchvision {torchvision.__version__} within pyproject's {requirement('torchvision')}",
                             satisfies(torchvision.__version__, requirement("torchvision")))
    except Exception as exc:  # noqa: BLE001  a torchvision built for another torch raises RuntimeError
        smoke.check("import torchvision", False, f"{type(exc).__name__}: {exc} (image run skipped)")

    failed_imports = []
    import minimax_cli

    for module in pkgutil.walk_packages(minimax_cli.__path__, "minimax_cli."):
        if module.name.endswith("__main__"):   # importing it would run the CLI
            continue
        try:
            importlib.import_module(module.name)
        except Exception as exc:  # noqa: BLE001  any failure is the report
            failed_imports.append(f"{module.name} ({type(exc).__name__}: {exc})")
    for package in ("hydra", "omegaconf", "ot", "scipy", "matplotlib", "tqdm") + (("pytorch_fid",) if images else ()):
        try:
            importlib.import_module(package)
        except ImportError as exc:
            failed_imports.append(f"{package} ({exc})")
    smoke.check("import every minimax_cli module and its dependencies", not failed_imports, "; ".join(failed_imports))
    if failed_imports:
        return 1

    hw = [f"hardware={args.device}"]
    with tempfile.TemporaryDirectory(prefix="minimax-smoke-") as tmp:
        tmp = Path(tmp)
        smoke.run("g3 / GDA, 16 starts, float64 (vmap)", ["game=g3", "game.starts=16", "steps=200", *hw], tmp / "g3")
        fr = ["algo=fr", "algo.solver.kind=cg", "algo.solver.iters=3", "log_every=2", "checkpoint_every=2",
              *TINY_MOG, *hw]
        full = smoke.run("MoG GAN / FR with CG (HVPs), 8 steps", [*fr, "steps=8"], tmp / "fr-full")
        part = smoke.run("MoG GAN / FR, 6 steps + checkpoint", [*fr, "steps=6"], tmp / "fr-part")
        if full is not None and part is not None:
            resumed = smoke.run("MoG GAN / FR, resumed to 8 steps", [f"resume={part}", "steps=8"], tmp / "fr-part")
            if resumed is not None:
                a, b = (json.loads(p.read_text())["metrics"] for p in (full / "summary.json", part / "summary.json"))
                smoke.check("resumed run == uninterrupted run", a["grad_norm/y"] == b["grad_norm/y"],
                            f"grad_norm/y {a['grad_norm/y']!r} vs {b['grad_norm/y']!r}")
        smoke.run("MoG GAN / LEAD (mixed products), 4 steps", ["algo=lead", "steps=4", *TINY_MOG, *hw], tmp / "lead")
        if images:
            smoke.run("image GAN (DCGAN, batch norm) / GDA, 2 steps, FID (random Inception)",
                      ["algo=gda", "steps=2", "log_every=1", *TINY_IMAGES, *hw], tmp / "images")
    print("smoke: ok" if not smoke.failed else f"smoke: {smoke.failed} check(s) failed")
    return 0 if not smoke.failed else 1


if __name__ == "__main__":
    sys.exit(main())
