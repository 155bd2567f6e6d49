import torch
from torch import nn
from torch.func import grad

from minimax_cli.games.nets.flat import FlatModule


def test_flat_module_matches_the_module_and_differentiates():
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    net = FlatModule(module)
    x = net.initial()
    assert x.shape == (3 * 4 + 4 + 4 + 1,)
    inputs = torch.randn(5, 3)
    torch.testing.assert_close(net(x, inputs), module(inputs))
    g = grad(lambda p: net(p, inputs).sum())(x)
    module.zero_grad()
    module(inputs).sum().backward()
    expected = torch.cat([p.grad.reshape(-1) for p in module.parameters()])
    torch.testing.assert_close(g, expected)
    shifted = net(x + 1.0, inputs)
    assert not torch.allclose(shifted, module(inputs))  # the module's own weights are untouched
