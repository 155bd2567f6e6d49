"""Functional spectral normalization: the forward is a pure function of (params, u, v, inputs)."""

import pytest
import torch
from torch import nn
from torch.func import grad, jvp, vmap

from minimax_cli.games.nets.flat import FlatModule
from minimax_cli.games.nets.layers import SNConv2d, SNLinear, power_iteration, sn_sigma


def _sigma_max(weight):
    return torch.linalg.matrix_norm(weight.reshape(weight.shape[0], -1), ord=2)


def test_sigma_converges_to_the_largest_singular_value_and_normalizes_it_to_one():
    torch.manual_seed(0)
    for layer in (SNLinear(7, 5), SNConv2d(3, 4, 3)):
        net = FlatModule(layer)
        p = net.initial()
        buffers = net.buffers()
        for _ in range(300):
            buffers = power_iteration(net, p, buffers)
        w = net.unflatten(p)["weight"]
        sigma = sn_sigma(w, buffers["u"], buffers["v"])
        torch.testing.assert_close(sigma, _sigma_max(w), rtol=1e-8, atol=0)
        torch.testing.assert_close(_sigma_max(w / sigma), torch.tensor(1.0), rtol=1e-8, atol=0)
        assert torch.equal(layer.u, net.buffers()["u"])  # power_iteration did not touch the module
        net.set_buffers(buffers)
        torch.testing.assert_close(_sigma_max(layer.normalized_weight()), torch.tensor(1.0), rtol=1e-8, atol=0)


def test_one_power_iteration_per_step_equals_torch_spectral_norm():
    """With the state advanced once before each step, value and gradient equal
    torch.nn.utils.spectral_norm's training-mode forward, step after step."""
    torch.manual_seed(1)
    ours = SNLinear(6, 4)
    ref = nn.utils.spectral_norm(nn.Linear(6, 4))
    with torch.no_grad():
        ref.weight_orig.copy_(ours.weight)
        ref.bias.copy_(ours.bias)
        ref.weight_u.copy_(ours.u)
    net = FlatModule(ours)
    p, x = net.initial(), torch.randn(3, 6)
    buffers = net.buffers()
    for _ in range(4):
        buffers = power_iteration(net, p, buffers)  # before the step, at the step's parameters
        ref.train()
        ref.zero_grad()
        out_ref = ref(x)
        out_ref.square().sum().backward()
        torch.testing.assert_close(net.apply(p, buffers, x), out_ref)
        g = grad(lambda q: net.apply(q, buffers, x).square().sum())(p)
        torch.testing.assert_close(g, torch.cat([ref.weight_orig.grad.reshape(-1), ref.bias.grad]))
        torch.testing.assert_close(buffers["u"], ref.weight_u)
        with torch.no_grad():  # a "step" on both copies
            ref.weight_orig.sub_(0.1 * ref.weight_orig.grad)
            ref.bias.sub_(0.1 * ref.bias.grad)
        p = p - 0.1 * g


def test_forward_is_pure_under_transforms_and_its_hvp_matches_finite_differences():
    torch.manual_seed(2)
    net = FlatModule(nn.Sequential(SNConv2d(2, 3, 3), nn.Tanh(), nn.Flatten(), SNLinear(3 * 4 * 4, 1)))
    p, x = net.initial(), torch.randn(5, 2, 6, 6)
    before = {k: b.clone() for k, b in net.buffers().items()}
    f = lambda q: net(q, x).pow(3).sum()  # noqa: E731
    v = torch.randn_like(p)
    _, hv = jvp(grad(f), (p,), (v,))
    fd = (grad(f)(p + 1e-6 * v) - grad(f)(p - 1e-6 * v)) / 2e-6
    torch.testing.assert_close(hv, fd, rtol=1e-6, atol=1e-8 * hv.abs().max())
    vmap(net, in_dims=(0, None))(torch.stack([p, 2 * p]), x)
    for _ in range(3):
        net(p, x)
    assert all(torch.equal(b, before[k]) for k, b in net.buffers().items())  # nothing advanced u, v
    # W/σ is invariant to scaling W (σ is linear in W): the net is scale-free in each SN weight
    scaled = net.unflatten(p.clone())
    scaled["0.weight"].mul_(3.0)
    torch.testing.assert_close(net(torch.cat([t.reshape(-1) for t in scaled.values()]), x), net(p, x))


def test_buffers_are_passed_explicitly_or_stored():
    torch.manual_seed(3)
    net = FlatModule(SNLinear(4, 3))
    p, x = net.initial(), torch.randn(2, 4)
    new = power_iteration(net, p, steps=5)
    assert not torch.equal(new["u"], net.buffers()["u"])
    explicit = net.apply(p, new, x)
    assert not torch.allclose(explicit, net(p, x))
    net.set_buffers(new)
    torch.testing.assert_close(net(p, x), explicit)
    with pytest.raises(KeyError, match="not buffers"):
        net.set_buffers({"w": torch.zeros(3)})
