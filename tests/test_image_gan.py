"""The image GAN game: losses and penalties on images against hand-written autograd, derivatives,
batches and their checkpointed state, spectral norm, seeds, FID / grids, validation before a run,
precision in the Oracle, the paper setups."""

import logging
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.func import grad

from fake_datasets import trust_cifar10, write_celeba, write_cifar10, write_mnist
from minimax_cli.catalog import CONF_DIR, option_names
from minimax_cli.checks import check_run
from minimax_cli.config import compose
from minimax_cli.errors import ConfigError, DataError
from minimax_cli.games.data.images import SyntheticImages
from minimax_cli.games.image_gan import ImageGAN
from minimax_cli.games.nets.layers import power_iteration
from minimax_cli.oracle import Oracle, apply_precision, effective_precision
from tests.conftest import load_summary

# tiny WGAN-GP CNN: no normalization in D, so per-sample input gradients are checkable one by one
WGANGP = {"arch": "wgangp_cnn", "generator": {"latent_dim": 4, "dim": 2}, "discriminator": {"dim": 2}}
NO_METRICS = {"fid_every": 0, "sample_every": 0, "grid": 4}


def game(dtype=torch.float64, seed=0, **kw):
    spec = {"dataset": "synthetic", "synthetic_size": 16, "batch": {"size": 4}, "metrics": NO_METRICS, **WGANGP,
            "loss": {"kind": "non_saturating"}}
    spec.update(kw)
    g = ImageGAN("cifar10", **spec)
    g.setup("cpu", dtype, seed)
    return g


def start(g):
    x, y = g.initial_points()
    return x[0], y[0]


def modules_at(g, x, y):
    """The generator and discriminator nn.Modules with parameters x and y (plain autograd, no FlatModule)."""
    gen, disc = g.G.module, g.D.module
    torch.nn.utils.vector_to_parameters(x.detach().clone(), [p for p in gen.parameters()])
    torch.nn.utils.vector_to_parameters(y.detach().clone(), [p for p in disc.parameters()])
    return gen, disc


def per_sample_input_grads(disc, images):
    """∇_v D(v_i) one sample at a time with torch.autograd (create_graph: differentiable in D's weights)."""
    rows = []
    for v in images:
        v = v.unsqueeze(0).clone().requires_grad_(True)
        (g,) = torch.autograd.grad(disc(v).sum(), v, create_graph=True)
        rows.append(g[0])
    return torch.stack(rows)


# -- losses and penalties against their formulas --------------------------------------------------------------
@pytest.mark.parametrize("r1_half", [True, False])
def test_non_saturating_loss_with_r1_matches_autograd(r1_half):
    g = game(loss={"kind": "non_saturating", "r1": 3.0, "r1_half": r1_half})
    x, y = start(g)
    batch = g.sample(1)
    lx, ly = g.losses(x, y, batch)
    gen, disc = modules_at(g, x, y)
    fake = gen(batch["z"])
    d_real, d_fake = disc(batch["real"]), disc(fake)
    bce = F.binary_cross_entropy_with_logits
    grads = per_sample_input_grads(disc, batch["real"])
    r1 = (1.5 if r1_half else 3.0) * grads.pow(2).flatten(1).sum(1).mean()
    want_y = bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake)) + r1
    assert lx.item() == pytest.approx(bce(d_fake, torch.ones_like(d_fake)).item(), rel=1e-12)
    assert ly.item() == pytest.approx(want_y.item(), rel=1e-10)
    assert r1.item() > 1e-6 and not g.zero_sum and not g.penalized_zero_sum


def test_wgan_gp_on_images_matches_per_sample_interpolates():
    g = game(loss={"kind": "wgan", "gp": 10.0})
    x, y = start(g)
    batch = g.sample(1)
    assert batch["eps"].shape == (4, 1, 1, 1) and g.penalized_zero_sum
    lx, ly = g.losses(x, y, batch)
    gen, disc = modules_at(g, x, y)
    fake = gen(batch["z"])
    u = disc(batch["real"]).mean() - disc(fake).mean()
    mix = batch["eps"] * batch["real"] + (1 - batch["eps"]) * fake
    norms = per_sample_input_grads(disc, mix).flatten(1).norm(dim=1)
    assert lx.item() == pytest.approx(u.item(), rel=1e-12)
    assert ly.item() == pytest.approx((-u + 10.0 * (norms - 1).pow(2).mean()).item(), rel=1e-9)


def central_difference(fn, p, direction, eps=1e-6):
    return (fn(p + eps * direction) - fn(p - eps * direction)) / (2 * eps)


@pytest.mark.parametrize("loss", [{"kind": "wgan", "gp": 10.0}, {"kind": "non_saturating", "r1": 10.0, "r1_half": False}])
def test_hvps_through_image_penalties_match_finite_differences(loss):
    g = game(loss=loss)
    x, y = start(g)
    batch = g.sample(1)
    oracle = Oracle(g, batch)
    gen = torch.Generator().manual_seed(0)
    v, u = torch.randn(y.shape, generator=gen, dtype=y.dtype), torch.randn(x.shape, generator=gen, dtype=x.dtype)
    gy = lambda xx, yy: grad(g.loss_y, argnums=1)(xx, yy, batch)   # noqa: E731
    torch.testing.assert_close(oracle.hvp_yy(x, y, v), central_difference(lambda p: gy(x, p), y, v), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(oracle.hvp_yx(x, y, u), central_difference(lambda p: gy(p, y), x, u), rtol=1e-5, atol=1e-7)


# -- batches and their state -----------------------------------------------------------------------------------
def test_batches_are_seeded_restorable_and_diagnostics_leave_them_alone():
    kw = dict(loss={"kind": "wgan", "gp": 1.0}, hflip=True, dequantize=True)
    a, b = game(seed=3, **kw), game(seed=3, **kw)
    a.sample(1)
    state = a.state_dict()
    first = [a.sample(t) for t in (2, 3)]
    b.sample(1)
    a.eval_batch()
    a.losses(*start(a))                                   # diagnostics never move the training streams
    for batch, t in zip(first, (2, 3)):
        other = b.sample(t)
        assert set(batch) == {"real", "z", "eps"} and all(torch.equal(batch[k], other[k]) for k in batch)
    a.load_state_dict(state)
    again = [a.sample(t) for t in (2, 3)]
    assert all(torch.equal(p[k], q[k]) for p, q in zip(first, again) for k in p)
    real = first[0]["real"]
    assert real.shape == (4, 3, 32, 32) and real.min() >= -1 and real.max() < 1 + 1 / 128
    assert first[0]["z"].shape == (4, 4) and a.eval_batch() is a.eval_batch()
    assert not torch.equal(game(seed=4, **kw).sample(1)["z"], game(seed=3, **kw).sample(1)["z"])


def test_networks_depend_on_the_seed_only():
    torch.manual_seed(123)
    a = game(seed=5, dtype=torch.float32)
    saved = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    try:
        torch.manual_seed(7)
        b = game(seed=5, dtype=torch.float32)
    finally:
        torch.set_default_dtype(saved)
    c = game(seed=6, dtype=torch.float32)
    assert torch.equal(start(a)[0], start(b)[0]) and torch.equal(start(a)[1], start(b)[1])
    assert not torch.equal(start(a)[0], start(c)[0])


def test_spectral_norm_advances_before_each_step_and_is_checkpointed():
    g = game(arch="dcgan", generator={"latent_dim": 4, "width": 2},
             discriminator={"width": 2, "batchnorm": False, "spectral_norm": True})
    x, y = start(g)
    before = {k: v.clone() for k, v in g.D.buffers().items()}
    expected = power_iteration(g.D, y)
    g.before_step(x, y, 1)
    assert all(torch.equal(g.D.buffers()[k], expected[k]) for k in expected)
    assert any(not torch.equal(before[k], expected[k]) for k in before)
    saved = g.state_dict()
    assert set(saved["spectral_norm"]) == set(expected)
    g.before_step(x, y + 0.1, 2)
    value = g.losses(x, y)[1]
    g.load_state_dict(saved)
    assert not torch.equal(g.losses(x, y)[1], value)
    assert all(torch.equal(g.D.buffers()[k], expected[k]) for k in expected)


def test_synthetic_images_are_seeded_uint8():
    a, b = SyntheticImages(1, 8, 5, seed=2).load(), SyntheticImages(1, 8, 5, seed=2).load()
    assert a.dtype == torch.uint8 and a.shape == (5, 1, 8, 8) and torch.equal(a, b)
    assert "synthetic-c1-8-n5" in SyntheticImages(1, 8, 5).key


# -- configuration errors ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw, message", [
    ({"arch": "vgg"}, "unknown game.arch 'vgg'"),
    ({"generator": {"width": 3}}, "unknown generator option(s) ['width'] for arch=wgangp_cnn"),
    ({"channels": 1, "dataset": "mnist"}, "game.channels applies to dataset=synthetic or folder only"),
    ({"batch": {"size": 1}}, "game.batch.size must be an integer >= 2"),
    ({"metrics": {"fid_every": 5, "resolution": 2}}, "unknown key game.metrics.resolution"),
    ({"metrics": {"fid": {"samples": 5, "inception_score": True}}}, "needs game.metrics.fid.samples >= is_splits"),
    ({"loss": {"kind": "hinge"}}, "game.loss.kind must be one of"),
    ({"hflip": "yes"}, "game.hflip must be true or false"),
    ({"image_size": 64, "dataset": "cifar10"}, "game.image_size for cifar10 must be one of (32,)"),
])
def test_bad_image_game_options_are_one_line_config_errors(kw, message):
    spec = {"dataset": "synthetic", **WGANGP, **kw}
    with pytest.raises(ConfigError) as err:
        ImageGAN("cifar10", **spec)
    assert message in str(err.value) and "\n" not in str(err.value)


# -- validation at `minimax train` time: nothing is created ------------------------------------------------------
TINY_CLI = ["game.generator.latent_dim=4", "game.generator.width=2", "game.discriminator.width=2", "game.batch.size=4",
            "game.metrics.grid=4", "tensorboard=false", "progress=false"]


def test_missing_data_is_one_line_at_validation_and_creates_no_run(cli, runs_root, tmp_path):
    code, out, err = cli("train", "game=cifar10", f"game.data_root={tmp_path / 'nowhere'}", "steps=2", *TINY_CLI)
    (line,) = err.strip().splitlines()
    assert code == 2 and line.startswith("minimax: error: CIFAR-10 not found: torchvision expects ")
    assert str(tmp_path / "nowhere" / "cifar-10-batches-py" / "data_batch_1") in line and "game.download=true" in line
    assert not runs_root.exists() or not any(runs_root.rglob("*"))
    g = ImageGAN("cifar10", dataset="cifar10", data_root=str(tmp_path / "nowhere"), download=True,
                 metrics={"fid_every": 0})
    g.check()                                              # download=true: the files will be fetched in setup
    assert g.source.download


def test_missing_fid_weights_is_one_line_at_validation(cli, runs_root, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    write_mnist(tmp_path / "data", n_train=20)
    code, _, err = cli("train", "game=mnist", f"game.data_root={tmp_path / 'data'}", "game.metrics.fid_every=2",
                       "game.generator.dim=2", "game.discriminator.dim=2", "game.batch.size=4", "steps=2")
    (line,) = err.strip().splitlines()
    assert code == 2 and "FID needs pytorch-fid's Inception weights pt_inception-2015-12-05-6726825d.pth" in line
    assert str(tmp_path / "torch_home" / "hub" / "checkpoints") in line and "game.metrics.fid.weights=PATH" in line
    assert line.endswith("or train without FID: game.metrics.fid.required=false (warns once) or game.metrics.fid_every=0")
    assert not runs_root.exists() or not any(runs_root.rglob("summary.json"))


def test_without_weights_and_not_required_fid_is_off_with_one_warning(cli, runs_root, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    write_mnist(tmp_path / "data", n_train=20)
    run = tmp_path / "run"
    code, _, err = cli("train", "game=mnist", f"game.data_root={tmp_path / 'data'}", "game.metrics.fid_every=1",
                       "game.metrics.fid.required=false", "game.generator.dim=2", "game.discriminator.dim=2",
                       "game.batch.size=4", "game.metrics.sample_every=0", "steps=2", "log_every=1",
                       f"hydra.run.dir={run}", "tensorboard=false", "progress=false")
    assert code == 0, err
    warnings = [line for line in (run / "minimax.log").read_text().splitlines() if "FID is off" in line]
    assert len(warnings) == 1 and "game.metrics.fid.required=false" in warnings[0] and "pt_inception" in warnings[0]
    assert load_summary(run)["status"] == "finished" and "fid" not in load_summary(run)["metrics"]


# -- FID, grids, EMA, resume: end to end on fake CIFAR-10 ------------------------------------------------------------
def fake_cifar(tmp_path, monkeypatch):
    root = tmp_path / "data"
    write_cifar10(root, per_batch=4, n_test=2)
    trust_cifar10(monkeypatch, root)
    return root


RUN = TINY_CLI + ["game=cifar10", "game.discriminator.spectral_norm=true", "game.loss.r1=1.0", "game.hflip=true",
                  "game.dequantize=true", "algo=gda", "algo.follower_steps=2", "algo.lr_x=1e-3",
                  "algo.precond={kind:adam,beta1:0.5,beta2:0.99,eps:1e-8,bias_correction:true}", "ema=0.5",
                  "game.metrics.fid_every=2", "game.metrics.sample_every=2", "game.metrics.fid.weights=random",
                  "game.metrics.fid.samples=2", "game.metrics.fid.real_samples=4", "game.metrics.fid.batch_size=2",
                  "log_every=1", "metrics_every=1"]


def reproducible(rows):
    return [{k: v for k, v in r.items() if k not in ("wall_time_s", "fid_time_s")} for r in rows]


@pytest.mark.slow
def test_resume_extends_an_image_gan_run_exactly_with_fid_grids_and_ema(cli, tmp_path, monkeypatch):
    """4 steps, then resume to 6 == 6 steps at once (sampler, noise, spectral norm, Adam, EMA, FID).
    The FID logged is the FID of the EMA generator's samples, and each grid is the EMA's."""
    from minimax_cli.games import image_gan
    from minimax_cli.metrics.fid import FID, batches_of, load_stats
    from tests.conftest import load_metrics

    data = fake_cifar(tmp_path, monkeypatch)
    a, b = tmp_path / "a", tmp_path / "b"
    base = RUN + [f"game.data_root={data}"]
    assert cli("train", *base, "steps=4", "checkpoint_every=2", f"hydra.run.dir={a}")[0] == 0
    code, _, err = cli("train", f"resume={a}", "steps=6")
    assert code == 0, err
    assert cli("train", *base, "steps=6", "checkpoint_every=2", f"hydra.run.dir={b}")[0] == 0
    rows_a, rows_b = load_metrics(a), load_metrics(b)
    assert reproducible(rows_a) == reproducible(rows_b)
    assert [r["step"] for r in rows_a if "fid" in r] == [2, 4, 6] and all(r["fid"] > 0 for r in rows_a if "fid" in r)
    assert load_summary(a)["metrics"]["fid"] == load_summary(b)["metrics"]["fid"]
    for name in ("samples.png", "fid.png", "samples/step_00000000.png", "samples/step_00000006.png"):
        assert (a / name).stat().st_size > 100, name
    assert (a / "samples" / "step_00000006.png").read_bytes() == (b / "samples" / "step_00000006.png").read_bytes()
    # the logged FID at step 6 is FID(G(EMA)) recomputed by hand from the checkpoint's EMA
    payload = torch.load(a / "checkpoints" / "last.pt", weights_only=True)
    ema = payload["runner"]["ema"]
    cfg = compose(base + ["steps=6"])
    from minimax_cli.build import build

    g = build(cfg.game, "game")
    g.setup("cpu", torch.float32, 0)
    stats = list((data / "fid_stats").glob("*.npz"))
    assert [p.name for p in stats] == ["cifar10-train-32-random-inception-n4.npz"]
    model = image_gan.inception("random", torch.device("cpu"))
    want = FID(model, load_stats(stats[0]))(batches_of(lambda s, n: g.generate(ema, g._fid_z[s:s + n]), 2, 2))
    assert rows_a[-1]["fid"] == pytest.approx(want, rel=1e-9)
    assert not torch.equal(ema, payload["runner"]["state"]["x"])
    g._grid(ema, tmp_path / "grid.png")
    assert (tmp_path / "grid.png").read_bytes() == (a / "samples.png").read_bytes()


def test_fid_only_every_fid_every_steps_and_grids_only_every_sample_every(tmp_path, monkeypatch):
    data = fake_cifar(tmp_path, monkeypatch)
    g = ImageGAN("cifar10", dataset="cifar10", data_root=str(data), arch="dcgan",
                 generator={"latent_dim": 4, "width": 2}, discriminator={"width": 2}, batch={"size": 4},
                 metrics={"fid_every": 3, "sample_every": 2, "grid": 4,
                          "fid": {"weights": "random", "samples": 2, "real_samples": 3, "batch_size": 2}})
    g.setup("cpu", torch.float32, 0)
    stats = data / "fid_stats" / "cifar10-train-32-random-inception-n3.npz"
    written = stats.stat().st_mtime_ns
    x, y = start(g)
    assert g.extra_metrics(x, y, 0) == {} and g.extra_metrics(x, y, 4) == {}
    m = g.extra_metrics(x, y, 3)
    assert set(m) == {"fid", "fid_time_s"} and m["fid"] > 0
    assert g.extra_metrics(x, y, 6)["fid"] == m["fid"]        # fixed noise: the same generator, the same FID
    bad = x.clone()
    bad[0] = float("nan")
    assert math.isnan(g.extra_metrics(bad, y, 3)["fid"])
    assert g.snapshot(tmp_path, x, y, 3) == {}
    shot = g.snapshot(tmp_path, x, y, 4)
    assert shot == {"samples": tmp_path / "samples" / "step_00000004.png"} and shot["samples"].stat().st_size > 100
    g2 = ImageGAN("cifar10", dataset="cifar10", data_root=str(data), arch="dcgan",
                  generator={"latent_dim": 4, "width": 2}, discriminator={"width": 2}, batch={"size": 4},
                  metrics={"fid_every": 3, "fid": {"weights": "random", "samples": 2, "real_samples": 3}})
    g2.setup("cpu", torch.float32, 1)
    assert stats.stat().st_mtime_ns == written             # real statistics cached once per dataset


# -- precision: one place, the Oracle -------------------------------------------------------------------------------
def test_bf16_autocasts_first_order_evaluations_only(monkeypatch):
    g = game(dtype=torch.float32, arch="dcgan", generator={"latent_dim": 4, "width": 2}, discriminator={"width": 2},
             loss={"kind": "non_saturating", "r1": 1.0})
    x, y = start(g)
    batch = g.sample(1)
    seen = []
    original = g.follower_loss  # every derivative in y differentiates the follower's loss

    def spy(xx, b):
        loss = original(xx, b)
        return lambda yy: seen.append(torch.is_autocast_enabled("cpu")) or loss(yy)

    monkeypatch.setattr(g, "follower_loss", spy)
    fp32, bf16 = Oracle(g, batch), Oracle(g, batch, precision="bf16")
    gy32, gy16 = fp32.grad_y(x, y), bf16.grad_y(x, y)
    assert seen == [False, True] and gy16.dtype == torch.float32
    assert 0 < (gy16 - gy32).norm() / gy32.norm() < 0.3       # bfloat16 keeps ~3 significant digits
    v = torch.randn(y.shape, generator=torch.Generator().manual_seed(0), dtype=y.dtype)
    seen.clear()
    assert torch.equal(bf16.hvp_yy(x, y, v), fp32.hvp_yy(x, y, v)) and seen == [False, False]


def test_tf32_is_off_inside_second_order_products(monkeypatch):
    g = game(dtype=torch.float32)
    x, y = start(g)
    seen, original = [], g.follower_loss

    def spy(xx, b):
        loss = original(xx, b)
        return lambda yy: seen.append(torch.backends.cuda.matmul.allow_tf32) or loss(yy)

    monkeypatch.setattr(g, "follower_loss", spy)
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    try:
        apply_precision("tf32")
        oracle = Oracle(g, g.sample(1), precision="tf32")
        oracle.grad_y(x, y)
        oracle.hvp_yy(x, y, torch.ones_like(y))
        assert seen == [True, False] and torch.backends.cuda.matmul.allow_tf32
        # the kept-graph products of CG: the graph is recorded without TF32, the plain gradient with it
        seen.clear()
        _, hvp = oracle.follower_curvature(x, y)
        hvp(torch.ones_like(y))
        oracle.follower_at(x).grad(y)
        assert seen == [False, True] and torch.backends.cuda.matmul.allow_tf32
        apply_precision("fp32")
        assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.allow_tf32
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def test_algorithms_that_difference_gradients_keep_fp32(caplog):
    from minimax_cli.algos.gda import GDA
    from minimax_cli.algos.ridge import FollowTheRidge

    assert effective_precision(GDA(tau=1.0), "bf16") == "bf16"
    assert effective_precision(FollowTheRidge(solver={"kind": "cg", "damping": 1.0}), "bf16") == "bf16"
    with caplog.at_level(logging.WARNING):
        for algo in (FollowTheRidge(mixed="fd", solver={"kind": "cg", "damping": 1.0}), FollowTheRidge(solver={"kind": "diag"}),
                     FollowTheRidge(solver={"kind": "cg", "adaptive": True, "damping": 1.0})):
            assert effective_precision(algo, "bf16") == "fp32"
            assert effective_precision(algo, "tf32") == "tf32"
    assert sum("finite differences of gradients" in r.getMessage() for r in caplog.records) == 3


@pytest.mark.parametrize("overrides, message", [
    (["hardware.precision=bf16"], "hardware.precision=bf16 applies to float32 runs (neural games); this run is float64"),
    (["hardware.precision=fp16"], "hardware.precision must be one of fp32, tf32, bf16 (got 'fp16')"),
    (["hardware.compile=true"], "hardware.compile=true is not available"),
])
def test_precision_and_compile_options_are_checked_at_validation(cli, runs_root, overrides, message):
    code, _, err = cli("train", "game=g1", "steps=2", *overrides)
    (line,) = err.strip().splitlines()
    assert code == 2 and message in line


def test_a_bf16_image_run_trains_and_logs(cli, tmp_path, monkeypatch):
    data = fake_cifar(tmp_path, monkeypatch)
    run = tmp_path / "run"
    code, _, err = cli("train", *TINY_CLI, "game=cifar10", f"game.data_root={data}", "game.metrics.fid_every=0",
                       "game.metrics.sample_every=0", "hardware.precision=bf16", "algo=hessianfr",
                       "algo.solver.kind=cg", "algo.solver.iters=1", "algo.lr_x=1e-3", "steps=2", f"hydra.run.dir={run}")
    assert code == 0, err
    summary = load_summary(run)
    assert summary["status"] == "finished" and summary["cost"]["hvps_per_step"] > 0
    assert math.isfinite(summary["metrics"]["grad_norm/y"])


# -- the paper setups ------------------------------------------------------------------------------------------------
IMAGE_SETUPS = [n for n in option_names("experiment")
                if any(f"override /game: {g}" in (CONF_DIR / "experiment" / f"{n}.yaml").read_text()
                       for g in ("mnist", "cifar10", "celeba"))]


def test_the_image_setups_exist():
    assert sorted(IMAGE_SETUPS) == ["fr_mnist01", "hessianfr_celeba_resnet", "hessianfr_cifar10_cnn", "hessianfr_cifar10_resnet",
                                    "hessianfr_mnist", "lead_cifar_dcgan", "lead_cifar_resnet", "tgda_celeba",
                                    "tgda_cifar10"]


@pytest.fixture(scope="module")
def fake_everything(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    write_mnist(root, n_train=20)
    write_cifar10(root, per_batch=2, n_test=2)
    write_celeba(root, n=2)
    hub = tmp_path_factory.mktemp("torch_home")
    (hub / "hub" / "checkpoints").mkdir(parents=True)
    (hub / "hub" / "checkpoints" / "pt_inception-2015-12-05-6726825d.pth").write_bytes(b"")  # existence is checked
    return root, hub


@pytest.mark.parametrize("name", IMAGE_SETUPS)
def test_every_image_setup_composes_and_validates(name, fake_everything, monkeypatch):
    root, hub = fake_everything
    monkeypatch.setenv("MINIMAX_DATA", str(root))
    monkeypatch.setenv("TORCH_HOME", str(hub))
    cfg = compose([f"+experiment={name}"])
    check_run(cfg)                                   # builds the game (meta-device networks) and checks data/weights
    assert cfg.game.data_root == str(root) and cfg.game.metrics.fid_every > 0 and cfg.steps % cfg.game.metrics.fid_every == 0
    expected = {"fr": ("saturating", 0.0, 1.0e-4), "hessianfr": ("wgan", 10.0, 2.0e-5), "lead": ("non_saturating", 0.0, 2.0e-4),
                "tgda": ("non_saturating", 0.0, None)}[name.split("_")[0]]
    assert cfg.game.loss.kind == expected[0] and cfg.game.loss.gp == expected[1]
    if expected[2] is not None:
        assert cfg.algo.lr_x == expected[2]
    if name.startswith("tgda"):
        assert cfg.game.loss.r1 == 10.0 and cfg.game.loss.r1_half is False and cfg.ema == 0.9999
        assert cfg.algo.precond.lr_decay == 0.005 and cfg.algo.order == "alternating_follower_first"
    monkeypatch.setenv("TORCH_HOME", str(root / "no_weights"))
    with pytest.raises(DataError, match="FID needs pytorch-fid's Inception weights"):
        check_run(compose([f"+experiment={name}"]))


def test_loading_the_fake_cifar_through_the_game(tmp_path, monkeypatch):
    data = fake_cifar(tmp_path, monkeypatch)
    g = ImageGAN("cifar10", dataset="cifar10", data_root=str(data), arch="dcgan", generator={"latent_dim": 4, "width": 2},
                 discriminator={"width": 2}, batch={"size": 4}, metrics=NO_METRICS)
    g.setup("cpu", torch.float32, 0)
    assert len(g.images) == 20 and g.sample(1)["real"].shape == (4, 3, 32, 32)
    real = g.eval_batch()["real"]
    assert np.isin(np.round(((real + 1) / 2 * 255).numpy()).astype(int), np.arange(256)).all()


@pytest.mark.slow
def test_sigkill_then_resume_equals_an_uninterrupted_image_run(tmp_path):
    """A fake-MNIST (32×32) DCGAN with spectral norm, GDA-2 + Adam and EMA, killed with SIGKILL after
    its checkpoint at step 10 and resumed, logs exactly the rows of its uninterrupted twin."""
    import os
    import sys

    from tests.conftest import kill_resume_and_twin, load_metrics

    write_mnist(tmp_path / "data", n_train=40)
    env = dict(os.environ, MINIMAX_RUNS=str(tmp_path / "runs"), PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    args = ["game=mnist", f"game.data_root={tmp_path / 'data'}", "game.image_size=32", "game.arch=dcgan",
            "game.generator.latent_dim=4", "game.generator.width=2", "game.discriminator.width=2",
            "game.discriminator.batchnorm=false", "game.discriminator.spectral_norm=true", "game.loss.kind=non_saturating",
            "game.loss.gp=0", "game.loss.r1=1.0", "game.batch.size=4", "game.metrics.fid_every=0",
            "game.metrics.sample_every=10", "game.metrics.grid=4", "algo=gda", "algo.follower_steps=2",
            "algo.precond=adam", "algo.lr_x=1e-3", "ema=0.9", "steps=30", "log_every=5", "checkpoint_every=10",
            "tensorboard=false", "progress=false", "plot=false"]
    cmd = [sys.executable, "-m", "minimax_cli", "train", *args]
    killed, twin = tmp_path / "killed", tmp_path / "twin"
    kill_resume_and_twin(cmd, env, killed, twin, past_step=15)
    assert reproducible(load_metrics(killed)) == reproducible(load_metrics(twin))
    assert load_summary(killed)["metrics"] == load_summary(twin)["metrics"] and load_summary(killed)["step"] == 30
    grid = "samples/step_00000030.png"
    assert (killed / grid).read_bytes() == (twin / grid).read_bytes()
