"""The GAN game on synthetic data: datasets, networks, losses and penalties, batches, derivatives."""

import math

import numpy as np
import pytest
import torch
from torch.func import grad

from minimax_cli.errors import ConfigError
from minimax_cli.games.data.mog import make_dataset
from minimax_cli.games.gan import GAN
from minimax_cli.games.nets.mlp import MLP
from minimax_cli.metrics.distributions import mode_coverage, w1
from minimax_cli.oracle import Oracle
from tests.conftest import make_game

SMALL = {"batch": {"mode": "fixed", "dataset_size": 64, "size": 64},
         "metrics": {"w1_samples": 64, "kl_samples": 256, "mode_samples": 256}}
TINY_NETS = {"generator": {"latent": 2, "depth": 1, "width": 3, "activation": "tanh"},
             "discriminator": {"depth": 1, "width": 3, "activation": "tanh"}}


def gan(**kw):
    spec = {**SMALL, **TINY_NETS, **kw}
    return make_game(GAN, name="mog", **spec)


def start(game):
    x, y = game.initial_points()
    return x[0], y[0]


# -- datasets ---------------------------------------------------------------------------------------------
def test_dataset_centres_and_sigmas():
    ds = make_dataset("mog1d")
    assert ds.centres.reshape(-1).tolist() == [-4.0, 0.0, 4.0] and ds.sigma == 0.1
    assert make_dataset("mog1d", 0.3).sigma == 0.3
    grid = make_dataset("grid2d")
    assert sorted(map(tuple, grid.centres.tolist())) == [(a, b) for a in (-3.0, 0.0, 3.0) for b in (-3.0, 0.0, 3.0)]
    assert grid.sigma ** 2 == pytest.approx(0.01)
    ring = make_dataset("ring8")
    assert ring.sigma ** 2 == pytest.approx(0.05)
    angles = torch.atan2(ring.centres[:, 1], ring.centres[:, 0]) % (2 * math.pi)
    torch.testing.assert_close(ring.centres.norm(dim=1), torch.ones(8, dtype=torch.float64))
    torch.testing.assert_close(angles.sort().values, torch.arange(8, dtype=torch.float64) * math.pi / 4)
    roll = make_dataset("swissroll")
    r = roll.centres.norm(dim=1) * 7.5                      # on the curve, radius = t
    t = torch.atan2(roll.centres[:, 1], roll.centres[:, 0])
    torch.testing.assert_close(torch.cos(r), torch.cos(t), atol=1e-9, rtol=0)
    assert roll.n_modes == 10 and roll.mode_weights().sum() == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="game.data must be one of"):
        make_dataset("moons")
    with pytest.raises(ConfigError, match="game.sigma must be a number > 0"):
        make_dataset("ring8", -1.0)


def test_w1_sample_count_defaults_to_what_its_estimator_affords():
    """1-D W1 is a sort: 4,096 samples, whose noise floor (two samples of the same MoG: W1 ≈ 0.07) sits
    well below a covered generator's W1; elsewhere POT's LP keeps seed 004's 512. Set, it is kept."""
    metrics = {"kl_samples": 256, "mode_samples": 256}
    assert gan(metrics=metrics).metric_cfg["w1_samples"] == 4096
    assert gan(metrics=metrics, data="ring8").metric_cfg["w1_samples"] == 512
    assert gan(metrics={**metrics, "w1_samples": 100}).metric_cfg["w1_samples"] == 100
    gen = torch.Generator().manual_seed(0)
    ds = make_dataset("mog1d")
    floor = {m: np.mean([w1(ds.sample(m, gen), ds.sample(m, gen)) for _ in range(20)]) for m in (512, 4096)}
    assert 0.12 < floor[512] < 0.26 and floor[4096] < 0.1, floor


@pytest.mark.parametrize("name", ["mog1d", "grid2d", "ring8", "swissroll"])
def test_data_samples_have_the_stated_modes_and_spread(name):
    ds = make_dataset(name)
    samples = ds.sample(20000, torch.Generator().manual_seed(0))
    dist, nearest = torch.cdist(samples, ds.centres).min(1)
    # data samples are high quality at the rate of a Gaussian within 3σ: 1-D 0.9973, 2-D 1 − e^{−4.5} = 0.9889
    covered, quality = mode_coverage(samples, ds.centres, ds.labels, ds.mode_weights(), ds.sigma, cover_frac=0.8)
    assert covered == ds.n_modes
    if name == "swissroll":   # distance to the curve is |the normal component of the noise|
        assert quality == pytest.approx(0.9973, abs=0.005)
        assert dist.median() == pytest.approx(0.6745 * ds.sigma, rel=0.1)
        return
    expected = 0.9973 if ds.dim == 1 else 1 - math.exp(-4.5)
    if name == "ring8":  # neighbouring 3σ balls overlap (centres 0.77 apart, 3σ = 0.67): a bit more
        assert expected - 0.004 < quality < 1.0
    else:
        assert quality == pytest.approx(expected, abs=0.004)
    # E‖v‖² = Σ w_k ‖c_k‖² + d σ² (independent of which centre a sample is nearest to)
    second_moment = (ds.weights * ds.centres.pow(2).sum(1)).sum() + ds.dim * ds.sigma ** 2
    assert samples.pow(2).sum(1).mean() == pytest.approx(float(second_moment), rel=0.02)
    if name != "ring8":
        residual = samples - ds.centres[nearest]
        assert residual.std(0) == pytest.approx(torch.full((ds.dim,), ds.sigma, dtype=torch.float64), rel=0.03)
    shares = torch.bincount(nearest, minlength=len(ds.centres)).double() / len(samples)
    torch.testing.assert_close(shares, ds.weights, atol=0.015, rtol=0)


# -- networks ---------------------------------------------------------------------------------------------
def test_mlp_shape_and_initializations():
    net = MLP(16, 1, depth=2, width=64, activation="tanh")
    assert sum(p.numel() for p in net.parameters()) == (16 * 64 + 64) + (64 * 64 + 64) + (64 + 1)
    big = MLP(300, 1, depth=1, width=300, activation="relu").double()
    big.initialize("glorot_normal", torch.Generator().manual_seed(0))
    w = big[0].weight
    assert w.std().item() == pytest.approx(math.sqrt(2 / 600), rel=0.02)  # TF's truncated normal, rescaled
    assert w.abs().max() <= 2 * math.sqrt(2 / 600) / 0.87962566103423978 + 1e-12
    assert big[0].bias.abs().max() == 0
    big.initialize("torch_default", torch.Generator().manual_seed(0))
    assert big[0].weight.abs().max() <= 1 / math.sqrt(300) and big[0].bias.abs().max() > 0
    with pytest.raises(ConfigError, match="game.generator.activation must be one of"):
        GAN("mog", generator={"activation": "swish"})
    with pytest.raises(ConfigError, match="unknown key game.discriminator.latent"):
        GAN("mog", discriminator={"latent": 3})


def test_initial_parameters_depend_on_the_seed_only():
    a, b, c = gan(seed=3), gan(seed=3), gan(seed=4)
    assert torch.equal(start(a)[0], start(b)[0]) and torch.equal(start(a)[1], start(b)[1])
    assert not torch.equal(start(a)[0], start(c)[0])
    single = make_game(GAN, dtype=torch.float32, seed=3, name="mog", **SMALL, **TINY_NETS)
    torch.testing.assert_close(start(single)[0], start(a)[0].float())  # drawn in float64, then cast


# -- losses against their formulas ---------------------------------------------------------------------------
def tiny_game(kind, **loss):
    """G(z) = a z + b (latent 1, depth 0); D(v) = u·tanh(W v + β) + c (width 2), 1-D data."""
    return make_game(GAN, name="mog", generator={"latent": 1, "depth": 0},
                     discriminator={"depth": 1, "width": 2, "activation": "tanh"},
                     loss={"kind": kind, **loss}, **SMALL)


X = torch.tensor([0.7, -0.2])                                  # a, b
Y = torch.tensor([0.5, -1.3, 0.1, 0.4, 1.2, -0.8, 0.3])        # W1, W2, β1, β2, u1, u2, c
BATCH = {"real": torch.tensor([[-0.4], [0.9], [2.0]]), "z": torch.tensor([[1.1], [-0.6], [0.3]]),
         "eps": torch.tensor([[0.25], [0.5], [0.9]])}


def by_hand():
    a, b = X.tolist()
    W, beta, u, c = Y[0:2].numpy(), Y[2:4].numpy(), Y[4:6].numpy(), float(Y[6])
    real, z, eps = (BATCH[k].numpy().ravel() for k in ("real", "z", "eps"))
    fake = a * z + b
    D = lambda v: np.array([u @ np.tanh(W * vi + beta) + c for vi in v])             # noqa: E731
    dD = lambda v: np.array([u @ ((1 - np.tanh(W * vi + beta) ** 2) * W) for vi in v])  # noqa: E731
    sig = lambda s: 1 / (1 + np.exp(-s))                                           # noqa: E731
    return dict(real=real, fake=fake, eps=eps, D=D, dD=dD, sig=sig)


def test_saturating_loss_matches_its_formula_and_is_zero_sum():
    h = by_hand()
    f = np.mean(np.log(h["sig"](h["D"](h["real"])))) + np.mean(np.log(1 - h["sig"](h["D"](h["fake"]))))
    game = tiny_game("saturating")
    assert game.zero_sum
    lx, ly = game.losses(X, Y, BATCH)
    assert lx.item() == pytest.approx(f, rel=1e-12) and ly.item() == pytest.approx(-f, rel=1e-12)
    assert game.f(X, Y, BATCH).item() == pytest.approx(f, rel=1e-12)


def test_non_saturating_loss_matches_its_formula():
    h = by_hand()
    d_loss = -np.mean(np.log(h["sig"](h["D"](h["real"])))) - np.mean(np.log(1 - h["sig"](h["D"](h["fake"]))))
    g_loss = -np.mean(np.log(h["sig"](h["D"](h["fake"]))))
    game = tiny_game("non_saturating")
    assert not game.zero_sum and not game.penalized_zero_sum
    lx, ly = game.losses(X, Y, BATCH)
    assert lx.item() == pytest.approx(g_loss, rel=1e-12) and ly.item() == pytest.approx(d_loss, rel=1e-12)
    assert game.loss_x(X, Y, BATCH).item() == pytest.approx(g_loss, rel=1e-12)
    assert game.loss_y(X, Y, BATCH).item() == pytest.approx(d_loss, rel=1e-12)


def test_wgan_loss_and_gradient_penalties_match_their_formulas():
    h = by_hand()
    U = np.mean(h["D"](h["real"])) - np.mean(h["D"](h["fake"]))
    mix = h["eps"] * h["real"] + (1 - h["eps"]) * h["fake"]
    norms = np.abs(h["dD"](mix))                                # 1-D data: ‖∇D‖ = |D'|
    gp_two = 10.0 * np.mean((norms - 1) ** 2)
    gp_one = 10.0 * np.mean(np.maximum(norms - 1, 0) ** 2)
    r1 = 0.5 * 2.0 * np.mean(h["dD"](h["real"]) ** 2)
    l2 = 1e-3 * float((Y ** 2).sum())
    assert (norms > 1).any() and (norms < 1).any()           # both sides of the two-sided penalty occur
    for one_sided, gp in ((False, gp_two), (True, gp_one)):
        game = tiny_game("wgan", gp=10.0, gp_one_sided=one_sided, r1=2.0, l2=1e-3)
        assert game.penalized_zero_sum
        lx, ly = game.losses(X, Y, BATCH)
        assert lx.item() == pytest.approx(U, rel=1e-12)
        assert ly.item() == pytest.approx(-U + gp + r1 + l2, rel=1e-10)
        assert game.penalty(X, Y, BATCH).item() == pytest.approx(gp + r1 + l2, rel=1e-10)


def test_l2_penalty_is_coefficient_times_sum_of_squares():
    game = tiny_game("saturating", l2=1e-4)
    lx, ly = game.losses(X, Y, BATCH)
    assert (lx + ly).item() == pytest.approx(1e-4 * float((Y ** 2).sum()), rel=1e-10)
    g = grad(game.penalty, argnums=1)(X, Y, BATCH)
    torch.testing.assert_close(g, 2e-4 * Y)                    # seed 000's "0.0002" gradient coefficient


# -- gradients flow through the penalties --------------------------------------------------------------------
def central_difference(fn, p, eps=1e-6):
    out = torch.zeros_like(p)
    for i in range(p.numel()):
        e = torch.zeros_like(p)
        e[i] = eps
        out[i] = (fn(p + e) - fn(p - e)) / (2 * eps)
    return out


def test_gradient_penalty_gradients_are_nonzero_and_match_finite_differences():
    game = tiny_game("wgan", gp=1.0, r1=1.0)
    gy = grad(game.penalty, argnums=1)(X, Y, BATCH)
    gx = grad(game.penalty, argnums=0)(X, Y, BATCH)          # through the interpolates v̂(G(z))
    assert gy[:-1].abs().min() > 0 and gx.abs().min() > 0
    assert gy[-1] == 0                                        # D's output bias does not move ∇ᵥD
    torch.testing.assert_close(gy, central_difference(lambda p: game.penalty(X, p, BATCH), Y), rtol=1e-6, atol=1e-9)
    torch.testing.assert_close(gx, central_difference(lambda p: game.penalty(p, Y, BATCH), X), rtol=1e-6, atol=1e-9)


def penalized_game():
    return gan(loss={"kind": "saturating", "l2": 1e-2, "gp": 1.0, "r1": 0.5})


def test_hvp_of_the_discriminator_loss_through_the_penalties_matches_finite_differences():
    game = penalized_game()
    x, y = start(game)
    batch = game.sample(1)
    assert "eps" in batch
    oracle = Oracle(game, batch)
    v = torch.randn(y.shape, generator=torch.Generator().manual_seed(0), dtype=y.dtype)
    u = torch.randn(x.shape, generator=torch.Generator().manual_seed(1), dtype=x.dtype)
    gy = lambda xx, yy: grad(game.loss_y, argnums=1)(xx, yy, batch)   # noqa: E731
    eps = 1e-6
    fd_yy = (gy(x, y + eps * v) - gy(x, y - eps * v)) / (2 * eps)
    fd_yx = (gy(x + eps * u, y) - gy(x - eps * u, y)) / (2 * eps)
    torch.testing.assert_close(oracle.hvp_yy(x, y, v), fd_yy, rtol=1e-5, atol=1e-8)
    torch.testing.assert_close(oracle.hvp_yx(x, y, u), fd_yx, rtol=1e-5, atol=1e-8)
    fd_field = [(a - b) / (2 * eps) for a, b in zip(oracle.field(x + eps * u, y + eps * v),
                                                     oracle.field(x - eps * u, y - eps * v))]
    for got, want in zip(oracle.field_jvp(x, y, u, v), fd_field):  # the one-pass field, differentiated
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-8)
    # and the penalty's own second derivatives are not zero (they really enter the HVP)
    pen_hvp = torch.func.jvp(lambda yy: grad(game.penalty, argnums=1)(x, yy, batch), (y,), (v,))[1]
    assert (pen_hvp - 2e-2 * v).abs().max() > 1e-6


@pytest.mark.parametrize("loss", [{"kind": "saturating", "l2": 1e-2, "gp": 1.0, "r1": 0.5},
                                  {"kind": "wgan", "gp": 1.0}, {"kind": "non_saturating", "r1": 1.0},
                                  {"kind": "saturating", "l2": 0.0}])
def test_the_oracle_field_is_each_players_own_gradient(loss):
    game = gan(loss=loss)
    x, y = start(game)
    batch = game.sample(1)
    gx, gy = Oracle(game, batch).field(x, y)
    torch.testing.assert_close(gx, grad(lambda p: game.losses(p, y, batch)[0])(x))
    torch.testing.assert_close(gy, grad(lambda p: game.losses(x, p, batch)[1])(y))


# -- batches -------------------------------------------------------------------------------------------------
def test_fixed_full_batch_reuses_the_dataset_and_draws_fresh_latents():
    game = gan(batch={"mode": "fixed", "dataset_size": 40, "size": 40})
    b1, b2 = game.sample(1), game.sample(2)
    assert b1["real"].shape == (40, 1) and torch.equal(b1["real"], b2["real"])
    assert b1["z"].shape == (40, 2) and not torch.equal(b1["z"], b2["z"])
    fixed = gan(batch={"mode": "fixed", "dataset_size": 40, "size": 40, "latent": "fixed"})
    assert torch.equal(fixed.sample(1)["z"], fixed.sample(2)["z"])
    assert torch.equal(fixed.eval_batch()["z"], fixed.sample(3)["z"])  # deterministic game: eval = train batch


def test_fixed_minibatches_are_subsets_without_replacement_and_fresh_mode_redraws():
    game = gan(batch={"mode": "fixed", "dataset_size": 50, "size": 20})
    data = {round(v, 12) for v in game._dataset.reshape(-1).tolist()}
    b1, b2 = game.sample(1)["real"].reshape(-1).tolist(), game.sample(2)["real"].reshape(-1).tolist()
    assert set(map(lambda v: round(v, 12), b1)) <= data and len(set(b1)) == 20 and b1 != b2
    fresh = gan(batch={"mode": "fresh", "size": 30})
    r1, r2 = fresh.sample(1)["real"], fresh.sample(2)["real"]
    assert r1.shape == (30, 1) and not torch.equal(r1, r2)
    with pytest.raises(ConfigError, match="exceeds game.batch.dataset_size"):
        GAN("mog", batch={"mode": "fixed", "dataset_size": 10, "size": 20})


def test_sampling_is_deterministic_under_the_seed_and_restorable():
    a, b = gan(batch={"mode": "fresh", "size": 8}, seed=5), gan(batch={"mode": "fresh", "size": 8}, seed=5)
    a.sample(1)
    state = a.sampler_state()
    first = [a.sample(t) for t in (2, 3)]
    b.sample(1)
    a.extra_metrics(*start(a), 3)                            # diagnostics never move the training stream
    a.eval_batch()
    for t, batch in zip((2, 3), first):
        other = b.sample(t)
        assert all(torch.equal(batch[k], other[k]) for k in batch)
    a.load_sampler_state(state)
    again = [a.sample(t) for t in (2, 3)]
    assert all(torch.equal(p[k], q[k]) for p, q in zip(first, again) for k in p)
    other = gan(batch={"mode": "fresh", "size": 8}, seed=6)
    other.sample(1)
    assert not torch.equal(other.sample(2)["real"], first[0]["real"])


def test_eval_batch_is_fixed_and_is_the_whole_dataset_in_fixed_mode():
    game = gan(batch={"mode": "fixed", "dataset_size": 64, "size": 16})
    e = game.eval_batch()
    assert e is game.eval_batch() and torch.equal(e["real"], game._dataset) and e["z"].shape == (64, 2)


# -- metrics hook --------------------------------------------------------------------------------------------
def test_extra_metrics_names_and_values():
    game = gan()
    x, y = start(game)
    m = game.extra_metrics(x, y, 0)
    assert set(m) == {"w1", "kl", "modes_covered", "high_quality_frac"}
    assert m["w1"] > 0 and m["kl"] > 0 and 0 <= m["modes_covered"] <= 3 and 0 <= m["high_quality_frac"] <= 1
    assert game.extra_metrics(x, y, 10) == m                   # fixed samples: the same point, the same value
    bad = x.clone()
    bad[0] = float("nan")
    assert math.isnan(game.extra_metrics(bad, y, 0)["w1"])
