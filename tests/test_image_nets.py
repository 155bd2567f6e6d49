"""Image GAN networks as pure functions of flat parameters: shapes, paper layer lists, and every
torch.func transform the algorithms use (grad, forward-over-reverse HVP, jvp, vjp, vmap)."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import grad, jvp, vjp, vmap

from minimax_cli.errors import ConfigError
from minimax_cli.games.nets import build_pair
from minimax_cli.games.nets.flat import FlatModule
from minimax_cli.games.nets.layers import BatchNorm, SNConv2d, SNLinear, spectral_layers

# (id, arch, channels, size, generator kwargs, discriminator kwargs): tiny widths, paper structure
TINY = [
    ("dcgan-32", "dcgan", 3, 32, dict(latent_dim=6, width=4), dict(width=4)),
    ("dcgan-mnist32", "dcgan", 1, 32, dict(latent_dim=6, width=4), dict(width=4)),
    ("dcgan-sn", "dcgan", 3, 32, dict(latent_dim=6, width=4), dict(width=4, batchnorm=False, spectral_norm=True)),
    ("wgangp-28", "wgangp_cnn", 1, 28, dict(latent_dim=6, dim=3), dict(dim=3)),
    ("wgangp-32", "wgangp_cnn", 3, 32, dict(latent_dim=6, dim=3), dict(dim=3)),
    ("resnet-sngan", "resnet", 3, 32, dict(latent_dim=6, width=3), dict(width=3, spectral_norm=True)),
    ("resnet-wgangp", "resnet", 3, 32, dict(latent_dim=6, width=3, learned_shortcut=True),
     dict(width=3, spectral_norm=False)),
    ("gan-stability", "gan_stability", 3, 32, dict(latent_dim=6, nf=2, nf_max=8), dict(nf=2, nf_max=8)),
]
LARGE = [
    ("dcgan-64", "dcgan", 3, 64, dict(latent_dim=6, width=2), dict(width=2)),
    ("resnet-64", "resnet", 3, 64, dict(latent_dim=6, width=3), dict(width=3)),
    ("gan-stability-64", "gan_stability", 3, 64, dict(latent_dim=6, nf=2, nf_max=8), dict(nf=2, nf_max=8)),
    ("gan-stability-mnist", "gan_stability", 1, 32, dict(latent_dim=6, nf=2), dict(nf=2)),
]


def _nets(case, seed=0):
    _, arch, c, s, gkw, dkw = case
    torch.manual_seed(seed)
    g, d = build_pair(arch, c, s, gkw, dkw)
    return FlatModule(g), FlatModule(d), gkw["latent_dim"], c, s


@pytest.mark.parametrize("case", TINY + LARGE, ids=[c[0] for c in TINY + LARGE])
def test_shapes_ranges_and_logits(case):
    G, D, k, c, s = _nets(case)
    z = torch.randn(5, k)
    images = G(G.initial(), z)
    assert images.shape == (5, c, s, s)
    assert images.abs().max() <= 1
    logits = D(D.initial(), images)
    assert logits.shape == (5,) and torch.isfinite(logits).all()


def _count(module):
    return sum(p.numel() for p in module.parameters())


def test_dcgan_is_table_3_of_seed_002():
    g, d = build_pair("dcgan", 3, 32)  # paper sizes: z ∈ R^100, 1024-512-256 / 256-512-1024
    convs = [(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding) for m in g.modules()
             if isinstance(m, nn.ConvTranspose2d)]
    assert convs == [(100, 1024, (4, 4), (1, 1), (0, 0)), (1024, 512, (4, 4), (2, 2), (1, 1)),
                     (512, 256, (4, 4), (2, 2), (1, 1)), (256, 3, (4, 4), (2, 2), (1, 1))]
    convs = [(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding) for m in d.modules()
             if isinstance(m, nn.Conv2d)]
    assert convs == [(3, 256, (4, 4), (2, 2), (1, 1)), (256, 512, (4, 4), (2, 2), (1, 1)),
                     (512, 1024, (4, 4), (2, 2), (1, 1)), (1024, 1, (4, 4), (1, 1), (0, 0))]
    # parameters by hand: kernels, BN (γ, β), biases only where no BN follows
    assert _count(g) == 100 * 1024 * 16 + 2 * 1024 + 1024 * 512 * 16 + 2 * 512 + 512 * 256 * 16 + 2 * 256 \
        + 256 * 3 * 16 + 3
    assert _count(d) == 3 * 256 * 16 + 256 + 256 * 512 * 16 + 2 * 512 + 512 * 1024 * 16 + 2 * 1024 + 1024 * 16 + 1
    assert [type(m).__name__ for m in d.net] == ["Conv2d", "LeakyReLU", "Conv2d", "BatchNorm", "LeakyReLU",
                                                  "Conv2d", "BatchNorm", "LeakyReLU", "Conv2d"]


def test_wgangp_cnn_is_the_reference_code():
    g, d = build_pair("wgangp_cnn", 1, 28)  # gan_mnist.py: DIM 64, no BN in wgan-gp mode
    assert g.fc[0].in_features == 128 and g.fc[0].out_features == 4 * 4 * 4 * 64
    assert not any(isinstance(m, BatchNorm) for m in g.modules())
    assert _count(d) == (1 * 64 * 25 + 64) + (64 * 128 * 25 + 128) + (128 * 256 * 25 + 256) + (4 * 4 * 256 + 1)
    g, d = build_pair("wgangp_cnn", 3, 32)  # gan_cifar.py: DIM 128, BN in G
    assert sum(isinstance(m, BatchNorm) for m in g.modules()) == 3
    assert _count(d) == (3 * 128 * 25 + 128) + (128 * 256 * 25 + 256) + (256 * 512 * 25 + 512) + (4 * 4 * 512 + 1)


def test_resnet_is_tables_4_and_5_of_seed_002():
    g, d = build_pair("resnet", 3, 32)
    assert (g.fc.in_features, g.fc.out_features) == (64, 4096) and len(g.blocks) == 3
    assert all(b.shortcut is None for b in g.blocks)  # Table 4: shortcut = Upsample only
    assert (g.out[2].in_channels, g.out[2].out_channels) == (256, 3)
    assert [b.downsample for b in d.blocks] == [True, True, False, False]
    assert d.blocks[0].conv1.in_channels == 3 and d.fc.in_features == 128
    layers = [m for m in d.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert layers and all(isinstance(m, (SNConv2d, SNLinear)) for m in layers)  # SN everywhere in D
    feats = d.blocks(torch.randn(2, 3, 32, 32))
    assert feats.shape == (2, 128, 8, 8)  # the 8×8 map Table 5's AvgPool(8×8) averages


def test_gan_stability_is_fig_17_of_seed_003():
    g, d = build_pair("gan_stability", 3, 32)
    assert (g.fc.in_features, g.fc.out_features) == (256 + 1, 512 * 4 * 4)
    blocks = [(b.conv_0.in_channels, b.conv_0.out_channels, b.conv_1.out_channels) for b in g.resnet
              if hasattr(b, "conv_0")]
    assert blocks == [(512, 256, 256), (256, 128, 128), (128, 64, 64), (64, 64, 64)]
    blocks = [(b.conv_0.in_channels, b.conv_0.out_channels, b.conv_1.out_channels) for b in d.resnet
              if hasattr(b, "conv_0")]
    assert blocks == [(64, 64, 64), (64, 64, 128), (128, 128, 256), (256, 256, 512)]
    assert (d.conv_img.in_channels, d.conv_img.out_channels) == (3, 64)
    assert (d.fc.in_features, d.fc.out_features) == (512 * 4 * 4, 1)
    shortcut = [b.conv_s for b in d.resnet if hasattr(b, "conv_s") and b.conv_s is not None]
    assert shortcut and all(s.bias is None for s in shortcut)  # learned 1×1 shortcut without bias


def test_unsupported_sizes_and_options_are_config_errors():
    for args in (("dcgan", 1, 28), ("resnet", 1, 28), ("wgangp_cnn", 3, 64), ("gan_stability", 3, 48),
                 ("vgg", 3, 32)):
        with pytest.raises(ConfigError):
            build_pair(*args)
    with pytest.raises(ConfigError, match="unknown generator option"):
        build_pair("dcgan", 3, 32, generator=dict(depth=3))


# -- batch normalization ---------------------------------------------------------------------------------
def test_batchnorm_equals_torch_training_mode_and_keeps_no_state():
    torch.manual_seed(0)
    x4, x2 = torch.randn(6, 3, 5, 5) * 3 + 1, torch.randn(7, 4) * 2 - 1
    ours4, ours2 = BatchNorm(3), BatchNorm(4)
    with torch.no_grad():
        ours4.weight.uniform_(0.5, 1.5), ours4.bias.uniform_(-1, 1)
    ref4 = nn.BatchNorm2d(3, track_running_stats=False)
    ref4.load_state_dict(ours4.state_dict())
    torch.testing.assert_close(ours4(x4), ref4(x4))
    torch.testing.assert_close(ours2(x2), nn.BatchNorm1d(4, track_running_stats=False)(x2))
    assert list(ours4.buffers()) == []


# -- torch.func through every net --------------------------------------------------------------------------
def _d_loss(D, y, real, fake):
    """Non-saturating D loss + R1 penalty (a gradient w.r.t. the input inside the loss)."""
    r1 = grad(lambda xr: D(y, xr).sum())(real)
    return F.softplus(-D(y, real)).mean() + F.softplus(D(y, fake)).mean() + r1.square().sum() / len(real)


def _g_loss(G, D, x, y, z):
    return F.softplus(-D(y, G(x, z))).mean()


def _assert_matches_fd(d, fn, p, v):
    """d = (directional derivative of fn at p along v) against central differences of fn.

    Used with fn = ∇f (then d is an HVP) or fn = a network output (d is a JVP). The functions
    are only piecewise smooth (ReLU kinks; with R1, ∇f itself jumps where a unit's sign flips),
    so a difference is valid only if no kink lies within ±eps·v: we try a few eps in float64
    and require ONE to agree to 1e-5 relative. A wrong derivative (e.g. stock BatchNorm's third
    derivatives, or torch-style spectral norm, both off by 10–30%) disagrees at every eps."""
    errors = []
    for eps in (1e-8, 1e-7, 1e-6):
        err = float((d - (fn(p + eps * v) - fn(p - eps * v)) / (2 * eps)).abs().max() / d.abs().max())
        if err < 1e-5:
            return
        errors.append(f"eps={eps:g}: {err:.1e}")
    raise AssertionError("derivative disagrees with finite differences: " + ", ".join(errors))


# every architecture once (the 1-channel DCGAN and the un-normalized ResNet reuse the same layers)
HVP_CASES = [c for c in TINY if c[0] not in ("dcgan-mnist32", "resnet-wgangp")]


@pytest.mark.parametrize("case", HVP_CASES, ids=[c[0] for c in HVP_CASES])
def test_hvps_through_each_net_match_finite_differences(case):
    G, D, k, c, s = _nets(case)
    x, y = G.initial(), D.initial()
    gen = torch.Generator().manual_seed(1)
    z = torch.randn(3, k, generator=gen)  # small batches: float64 convolutions are slow on CPU
    real = torch.rand(2, c, s, s, generator=gen) * 2 - 1
    fake = G(x, z).detach()
    buffers = {n: b.clone() for n, b in D.buffers().items()}

    fd = lambda yy: _d_loss(D, yy, real, fake)  # noqa: E731
    v = torch.randn(y.shape, generator=gen)
    _, hv = jvp(grad(fd), (y,), (v,))  # forward-over-reverse, third order in D because of R1
    _assert_matches_fd(hv, grad(fd), y, v)

    fg = lambda xx: _g_loss(G, D, xx, y, z)  # noqa: E731
    u = torch.randn(x.shape, generator=gen)
    _, hu = jvp(grad(fg), (x,), (u,))
    _assert_matches_fd(hu, grad(fg), x, u)

    # mixed second derivative ∇_x ∇_y (what FR/HessianFR/LEAD/SGA need) and its transpose
    gy = lambda xx: grad(lambda yy: _g_loss(G, D, xx, yy, z))(y)  # noqa: E731
    _, hyx = jvp(gy, (x,), (u,))
    _assert_matches_fd(hyx, gy, x, u)
    _, pullback = vjp(gy, x)
    (vjp_out,) = pullback(v)
    torch.testing.assert_close(vjp_out @ u, v @ hyx)  # ⟨v, J u⟩ = ⟨Jᵀ v, u⟩

    for name, b in D.buffers().items():  # no transform touched a buffer (SN's u included)
        assert torch.equal(b, buffers[name])


@pytest.mark.parametrize("case", TINY, ids=[c[0] for c in TINY])
def test_grad_matches_autograd_and_jvp_matches_finite_difference(case):
    G, D, k, c, s = _nets(case)
    x = G.initial()
    z = torch.randn(3, k)
    g = grad(lambda p: G(p, z).square().sum())(x)
    G.module.zero_grad()
    G.module(z).square().sum().backward()
    expected = torch.cat([p.grad.reshape(-1) for p in G.module.parameters()])
    torch.testing.assert_close(g, expected)
    u = torch.randn_like(x)
    _, tangent = jvp(lambda p: G(p, z), (x,), (u,))
    _assert_matches_fd(tangent, lambda p: G(p, z), x, u)


@pytest.mark.parametrize("case", TINY, ids=[c[0] for c in TINY])
def test_vmap_over_parameters_and_over_samples(case):
    G, D, k, c, s = _nets(case)
    x, y = G.initial(), D.initial()
    z = torch.randn(4, k)
    stack = torch.stack([x, x + 0.01 * torch.randn_like(x)])
    batched = vmap(G, in_dims=(0, None))(stack, z)
    torch.testing.assert_close(batched, torch.stack([G(p, z) for p in stack]))
    if any(isinstance(m, BatchNorm) for m in D.module.modules()):
        return  # batch statistics couple the samples: per-sample gradients are not defined
    images = torch.rand(4, c, s, s) * 2 - 1
    per_sample = vmap(grad(lambda im: D(y, im[None]).sum()))(images)
    torch.testing.assert_close(per_sample, grad(lambda im: D(y, im).sum())(images))


def test_spectral_norm_nets_list_their_state():
    G, D, *_ = _nets(TINY[5])  # resnet-sngan: every D layer is spectrally normalized
    names = spectral_layers(D.module)
    assert len(names) == len([m for m in D.module.modules() if isinstance(m, (SNConv2d, SNLinear))]) > 0
    assert sorted(D.buffers()) == sorted(f"{n}.{b}" for n in names for b in "uv")
    assert spectral_layers(G.module) == [] and G.buffers() == {}
