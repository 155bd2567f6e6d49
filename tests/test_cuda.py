"""The tests that use a GPU (all skipped without CUDA; scripts/gpu_check.sh runs them on a GPU machine).

The same game on CUDA and on the CPU, same seed, float64: every Oracle product agrees to rounding
(the data, latents and initial networks are drawn on the CPU, so the two runs see the same
numbers); the image game runs every precision on CUDA with finite derivatives; a CUDA run resumed
from its checkpoint (device generators included) logs exactly the rows of an uninterrupted one.
"""

import pytest
import torch

from minimax_cli.games.gan import GAN
from minimax_cli.games.image_gan import ImageGAN
from minimax_cli.oracle import Oracle, apply_precision
from tests.conftest import load_metrics, run_subprocess

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

TINY_MOG = {"generator": {"width": 8}, "discriminator": {"width": 8}, "batch": {"mode": "fixed", "dataset_size": 64,
                                                                            "size": 64},
            "metrics": {"w1_samples": 64, "kl_samples": 128, "mode_samples": 128}}


def mog(device, seed=0):
    game = GAN("mog", **TINY_MOG)
    game.setup(device, torch.float64, seed)
    return game


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().double().cpu(), b.detach().double().cpu()
    return float((a - b).abs().max() / b.abs().max().clamp(min=1e-300))


def test_oracle_products_on_cuda_match_the_cpu_in_float64():
    cpu, gpu = mog("cpu"), mog("cuda")
    (x, y), (xg, yg) = ((g._x0.clone(), g._y0.clone()) for g in (cpu, gpu))
    assert relative(xg, x) == 0 and relative(yg, y) == 0          # the same initial networks
    gen = torch.Generator().manual_seed(1)
    u, v = torch.randn(x.shape, generator=gen, dtype=torch.float64), torch.randn(y.shape, generator=gen,
                                                                                dtype=torch.float64)
    oc, og = Oracle(cpu, cpu.eval_batch()), Oracle(gpu, gpu.eval_batch())
    ug, vg = u.cuda(), v.cuda()
    pairs = {
        "grad_x": (oc.grad_x(x, y), og.grad_x(xg, yg)),
        "grad_y": (oc.grad_y(x, y), og.grad_y(xg, yg)),
        "hvp_yy": (oc.hvp_yy(x, y, v), og.hvp_yy(xg, yg, vg)),
        "hvp_yx": (oc.hvp_yx(x, y, u), og.hvp_yx(xg, yg, ug)),
        "field_jvp": (torch.cat(oc.field_jvp(x, y, u, v)), torch.cat(og.field_jvp(xg, yg, ug, vg))),
    }
    for name, (c, g) in pairs.items():
        assert g.device.type == "cuda"
        assert relative(g, c) < 1e-10, name


@pytest.mark.parametrize("precision", ["fp32", "tf32", "bf16"])
def test_image_game_derivatives_are_finite_on_cuda_in_every_precision(precision):
    game = ImageGAN("cifar10", dataset="synthetic", synthetic_size=16, arch="dcgan",
                    generator={"latent_dim": 8, "width": 8}, discriminator={"width": 8}, batch={"size": 8},
                    metrics={"fid_every": 0, "sample_every": 0, "grid": 4})
    game.setup("cuda", torch.float32, 0)
    apply_precision(precision)
    try:
        oracle = Oracle(game, game.sample(0), precision=precision)
        x, y = game.initial_points()
        gx, gy = oracle.field(x[0], y[0])
        hv = oracle.hvp_yy(x[0], y[0], torch.ones_like(y[0]))
    finally:
        apply_precision("fp32")
    for t in (gx, gy, hv):
        assert t.device.type == "cuda" and t.dtype == torch.float32 and bool(torch.isfinite(t).all())


@pytest.mark.slow
def test_cuda_run_resumed_from_its_checkpoint_logs_the_rows_of_an_uninterrupted_run(tmp_path):
    base = ["train", "game=cifar10", "game.dataset=synthetic", "game.synthetic_size=32", "game.arch=dcgan",
            "game.generator.latent_dim=8", "game.generator.width=8", "game.discriminator.width=8",
            "game.batch.size=8", "game.hflip=true", "game.dequantize=true", "game.metrics.fid_every=0",
            "game.metrics.sample_every=0", "algo=gda", "algo.precond=adam", "hardware=cuda", "log_every=1",
            "checkpoint_every=2", "plot=false", "tensorboard=false", "progress=false"]
    a, b = tmp_path / "a", tmp_path / "b"
    assert run_subprocess(base + ["steps=4", f"hydra.run.dir={a}"]).returncode == 0
    resumed = run_subprocess(["train", f"resume={a}", "steps=6"])
    assert resumed.returncode == 0, resumed.stderr
    assert run_subprocess(base + ["steps=6", f"hydra.run.dir={b}"]).returncode == 0

    rows_a, rows_b = load_metrics(a), load_metrics(b)
    assert [r["step"] for r in rows_a] == [r["step"] for r in rows_b] == list(range(7))
    # the same batches and noise (device generators restored); cuDNN's convolution gradients may sum
    # in a different order from run to run, so values agree to float32 rounding, not bit for bit
    for ra, rb in zip(rows_a, rows_b):
        for key in ("grad_norm/x", "grad_norm/y", "loss/x", "loss/y"):
            assert ra[key] == pytest.approx(rb[key], rel=1e-4, abs=1e-6), (ra["step"], key)
