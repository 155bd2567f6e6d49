"""GAN runs through the CLI: metrics, figures, summary, pretraining, paper setups."""

import pytest

from minimax_cli.catalog import CONF_DIR, option_names
from minimax_cli.checks import check_run
from minimax_cli.config import compose
from tests.conftest import load_metrics, load_summary, run_dirs, run_subprocess

GAN_METRICS = ("w1", "kl", "modes_covered", "high_quality_frac", "grad_norm/x", "grad_norm/y")
FIGURES = ("samples.png", "grad_norms.png", "distances.png")
SMALL_BATCH = ["game.batch.dataset_size=200", "game.batch.size=200"]


def check_gan_run(root, steps):
    (run,) = run_dirs(root)
    summary = load_summary(run)
    assert summary["status"] == "finished" and summary["step"] == steps
    rows = load_metrics(run)
    assert [r["step"] for r in rows][-1] == steps
    evaluated = [r for r in rows if "w1" in r]   # every metrics_every steps, and the first and last
    assert evaluated[0]["step"] == 0 and evaluated[-1]["step"] == steps
    for row in evaluated:
        assert all(isinstance(row[k], float) for k in GAN_METRICS), row
    assert all(k in summary["metrics"] for k in GAN_METRICS)
    for name in FIGURES:
        assert (run / name).stat().st_size > 10_000
    return run, rows, summary


@pytest.mark.slow
def test_mog_gda_200_steps_writes_metrics_figures_and_summary(tmp_path):
    root = tmp_path / "runs"
    proc = run_subprocess(["train", "game=mog", "algo=gda", "steps=200", "log_every=10"],
                          env_extra={"MINIMAX_RUNS": str(root)})
    assert proc.returncode == 0, proc.stderr
    _, rows, summary = check_gan_run(root, 200)
    assert len(rows) == 21 and summary["game"] == "mog"
    assert [r["step"] for r in rows if "w1" in r] == [0, 100, 200]      # metrics_every: 100 for neural games
    assert 0 <= rows[-1]["modes_covered"] <= 3 and rows[-1]["w1"] > 0


@pytest.mark.slow
def test_mog_hessianfr_200_steps_writes_metrics_figures_and_summary(tmp_path):
    """HessianFR on the GAN from the command line: solver.kind=auto is CG there (10 steps, 2 HVPs
    each, one for the right-hand side, one JVP for the mixed product; the game's default is DG), on a
    64-point full batch to keep the test cheap."""
    root = tmp_path / "runs"
    proc = run_subprocess(["train", "game=mog", "algo=hessianfr", "steps=200", "game.batch.dataset_size=64",
                           "game.batch.size=64", "log_every=50", "algo.solver.kind=auto", "algo.mixed=jvp"],
                          env_extra={"MINIMAX_RUNS": str(root)})
    assert proc.returncode == 0, proc.stderr
    _, rows, summary = check_gan_run(root, 200)
    assert [r["step"] for r in rows] == [0, 50, 100, 150, 200]
    assert summary["algo"] == "hessianfr" and summary["algo_params"]["solver"]["kind"] == "cg"
    assert summary["cost"]["hvps_per_step"] == 22.0 and summary["cost"]["grads_per_step"] == 1.0
    assert all(r["algo/ridge_norm"] > 0 for r in rows[1:])


@pytest.mark.slow
def test_grid2d_with_fresh_minibatches(cli, runs_root):
    code, _, err = cli("train", "game=mog", "game.data=grid2d", "game.batch.mode=fresh", "game.batch.size=128",
                       "algo=gda", "algo.precond=adam", "algo.lr_x=1e-3", "steps=30")
    assert code == 0, err
    _, rows, _ = check_gan_run(runs_root, 30)
    assert rows[-1]["modes_covered"] <= 9


@pytest.mark.slow
def test_pretraining_logs_into_the_same_metrics_and_hands_over_x_y(cli, runs_root, tmp_path, monkeypatch):
    # deterministic game (fixed data and latents) and stateless SGD: 20 pretraining steps + 10 steps
    # of the same algorithm must land exactly where 30 steps of it do
    det = ["game=mog", *SMALL_BATCH, "game.batch.latent=fixed", "algo.lr_x=0.01", "algo.lr_y=0.01", "algo.precond=sgd",
           "ema=null", "log_every=10", "plot=false"]
    code, _, err = cli("train", *det, "+algo@pretrain.algo=gda", "pretrain.algo.lr_x=0.01", "pretrain.algo.lr_y=0.01",
                       "pretrain.algo.precond=sgd", "pretrain.steps=20", "steps=10")
    assert code == 0, err
    (run,) = run_dirs(runs_root)
    rows, summary = load_metrics(run), load_summary(run)
    assert [(r["step"], r["phase"]) for r in rows] == [(0, "pretrain"), (10, "pretrain"), (20, "pretrain"),
                                                       (20, "main"), (30, "main")]
    assert rows[2]["grad_norm/x"] == rows[3]["grad_norm/x"]   # the main phase starts at the pretrained point
    assert summary["step"] == 30 and summary["steps"] == 10
    assert summary["pretrain"]["steps"] == 20 and summary["pretrain"]["status"] == "finished"
    assert summary["pretrain"]["algo_params"]["lr_x"] == 0.01

    monkeypatch.setenv("MINIMAX_RUNS", str(tmp_path / "single"))
    code, _, err = cli("train", *det, "steps=30")
    assert code == 0, err
    (single,) = run_dirs(tmp_path / "single")
    last = load_metrics(single)[-1]
    assert "phase" not in last
    for key in ("grad_norm/x", "grad_norm/y", "loss/x", "w1"):
        assert last[key] == pytest.approx(rows[-1][key], rel=1e-5)


def test_pretraining_without_an_algorithm_is_one_clear_error(cli, runs_root):
    code, _, err = cli("train", "game=mog", "pretrain.steps=5")
    assert code == 2
    assert err.strip().splitlines() == [
        "minimax: error: pretrain.steps > 0 needs the pretraining algorithm: add +algo@pretrain.algo=<name> "
        f"(one of {', '.join(option_names('algo'))})"]
    assert not runs_root.exists()


def test_bad_gan_config_is_one_clear_error(cli, runs_root):
    code, _, err = cli("train", "game=mog", "game.loss.kind=hinge")
    assert code == 2
    assert err.strip().splitlines() == [
        "minimax: error: game.loss.kind must be one of saturating, non_saturating, wgan (got 'hinge')"]


MOG_SETUPS = [n for n in option_names("experiment")
              if not any(f"override /game: {g}" in (CONF_DIR / "experiment" / f"{n}.yaml").read_text()
                         for g in ("mnist", "cifar10", "celeba"))]


@pytest.mark.parametrize("name", MOG_SETUPS)  # the image setups: tests/test_image_gan.py (they need data)
def test_every_paper_setup_composes_and_validates(name):
    cfg = compose([f"+experiment={name}"])
    check_run(cfg)
    assert cfg.game.name == "mog"


def test_info_lists_the_paper_setups(cli):
    code, out, _ = cli("info")
    assert code == 0 and "paper setups (+experiment=...):" in out and "  fr_mog1d " in out
