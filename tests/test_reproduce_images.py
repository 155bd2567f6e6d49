"""The CPU smoke variants (--quick) of `minimax reproduce hessianfr-table1 / lead-cifar / tau-images`
(real `minimax train` runs on fake data, tables through minimax_cli.report) and `make bench-images`."""

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO, load_summary


@pytest.fixture
def reproduce(monkeypatch):
    """`minimax reproduce`, run in this process (imports and the untrained Inception are shared by the
    three targets); torchvision's MD5 lists, which --quick points at its fake files, are restored
    afterwards."""
    from torchvision.datasets import CIFAR10, CelebA

    for cls, names in ((CIFAR10, ("train_list", "test_list", "meta")), (CelebA, ("file_list",))):
        for name in names:
            monkeypatch.setattr(cls, name, getattr(cls, name))
    from tests.reproduce_command import reproduce as main

    return main


def rows_of(out):
    return json.loads((out / "rows.json").read_text())


@pytest.mark.slow
def test_hessianfr_table1_smoke(reproduce, tmp_path):
    out = tmp_path / "t1"
    assert reproduce(["hessianfr-table1", "--quick", "--out", str(out)]) == 0
    data = rows_of(out)
    got = {(r["setting"], r["optimizer"]) for r in data["rows"]}
    every = {"gda5", "eg", "fr_dg", "fr_cg1", "hfr_dg", "hfr_cg1", "hfr_cg5"}
    assert got == {("mnist_cnn", o) for o in every} | {(s, "hfr_cg1") for s in ("cifar10_cnn", "cifar10_resnet",
                                                                                "celeba_resnet")}
    assert all(r["fid"] > 0 and r["time_per_100"] > 0 for r in data["rows"]) and all(ok for _, ok in data["claims"])
    table = (out / "table.md").read_text()
    assert "| HessianFR-CG5 |" in table and "(5.04)" in table and "(174.22)" in table
    assert "| label.setting | label.optimizer | runs |" in table              # minimax report's own table
    run = out / "runs" / "mnist_cnn" / "hfr_cg5" / "seed0"
    summary = load_summary(run)
    assert summary["algo"] == "hessianfr" and summary["algo_params"]["solver"]["iters"] == 5
    assert summary["step"] == 2 and (run / "samples.png").exists() and (run / "samples" / "step_00000002.png").exists()
    # calling the (full) target again keeps every finished run and checks the paper's claims on them
    assert reproduce(["hessianfr-table1", "--reanalyze", str(out)]) in (0, 1)
    again = rows_of(out)
    assert len(again["rows"]) == 10 and again["runs"] == [] and any("HessianFR-CG1 time" in c for c, _ in again["claims"])


@pytest.mark.slow
def test_lead_cifar_smoke(reproduce, tmp_path):
    out = tmp_path / "lead"
    # the table's baselines (CGD-WGAN, Extra-Adam): tests/test_extra_adam.py
    assert reproduce(["lead-cifar", "--quick", "--only", "adam,lead_adam,sngan,lead_adam_resnet", "--out", str(out)]) == 0
    rows = {(r["setting"], r["optimizer"]): r for r in rows_of(out)["rows"]}
    assert set(rows) == {("dcgan", "adam"), ("dcgan", "lead_adam"), ("resnet", "sngan"), ("resnet", "lead_adam_resnet")}
    assert all(r["fid"] > 0 and r["is"] >= 1 for r in rows.values())
    summary = load_summary(out / "runs" / "resnet" / "lead_adam_resnet" / "seed0")
    assert summary["algo"] == "lead_adam" and summary["algo_params"]["alpha_x"] == 0.5 and summary["ema"] == 0.9999
    assert "| DCGAN | LEAD-Adam | 1 |" in (out / "table.md").read_text()


@pytest.mark.slow
def test_tau_images_smoke(reproduce, tmp_path):
    out = tmp_path / "tau"
    assert reproduce(["tau-images", "--quick", "--out", str(out)]) == 0
    rows = {r["setting"]: r for r in rows_of(out)["rows"]}
    assert set(rows) == {"cifar10_mu10_tau1", "cifar10_mu10_tau4", "cifar10_mu1_tau4", "celeba_mu10_tau8"}
    summary = load_summary(out / "runs" / "cifar10_mu1_tau4" / "tgda" / "seed0")
    assert summary["algo"] == "tgda" and summary["algo_params"]["tau"] == 4.0 and summary["game"] == "cifar10"
    import yaml

    cfg = yaml.safe_load((out / "runs" / "celeba_mu10_tau8" / "tgda" / "seed0" / ".hydra" / "config.yaml").read_text())
    assert cfg["game"]["loss"]["r1"] == 10 and cfg["game"]["celeba_loader"] == "imagefolder" and cfg["algo"]["tau"] == 8
    assert (out / "fid_vs_tau.png").stat().st_size > 5_000
    assert "| 10 | " in (out / "table.md").read_text()


@pytest.mark.slow
def test_bench_images_runs_and_reports_ratios_to_gda5(tmp_path):
    md = tmp_path / "bench.md"
    proc = subprocess.run([sys.executable, "-m", "scripts.bench_images", "--device", "cpu", "--width", "2",
                           "--batch", "4", "--steps", "1", "--warmup", "1", "--threads", "1",
                           "--algos", "GDA-5,HessianFR-DG", "--markdown", str(md)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    text = md.read_text()
    assert "| GDA-5 |" in text and "| 1.00x | 1 (reference) |" in text and "| HessianFR-DG |" in text
    assert "0.85 / 0.86 / 0.86 / 0.81" in text
