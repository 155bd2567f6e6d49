"""Networks of neural games, used functionally on flat parameter vectors (see flat.py).

Image GAN architectures, by config name (``game.arch``):

=================  ===========================================  ============================
name               paper                                        module
=================  ===========================================  ============================
``dcgan``          Askari Hemmat et al. 2023, Table 3 (LEAD, CIFAR-10 DCGAN)       ``dcgan.py``
``wgangp_cnn``     Gao et al. 2022 "standard CNN" = WGAN-GP conv nets   ``wgangp.py``
``resnet``         Askari Hemmat et al. 2023, Tables 4–5 (SNGAN); Gao et al. 2022 ResNet  ``resnet.py``
``gan_stability``  Fiez & Ratliff 2021, Fig. 17 (GAN_stability ResNet)       ``gan_stability.py``
=================  ===========================================  ============================

``build_pair(arch, channels, image_size, generator={...}, discriminator={...})`` returns the two
``nn.Module``s; wrap each in ``FlatModule``. Every generator maps z of shape (n, latent_dim) to
images (n, channels, size, size) in [−1, 1] (tanh); every discriminator maps images to LOGITS
of shape (n,) (apply the sigmoid in the loss). Normalization layers use batch statistics only
and spectral norm keeps its power-iteration state as buffers (``layers.py``).
"""

from __future__ import annotations

import inspect

from torch import nn

from minimax_cli.errors import ConfigError
from minimax_cli.games.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from minimax_cli.games.nets.gan_stability import GSDiscriminator, GSGenerator
from minimax_cli.games.nets.resnet import ResNetDiscriminator, ResNetGenerator
from minimax_cli.games.nets.wgangp import WGANGPDiscriminator, WGANGPGenerator

ARCHITECTURES = {
    "dcgan": (DCGANGenerator, DCGANDiscriminator),
    "wgangp_cnn": (WGANGPGenerator, WGANGPDiscriminator),
    "resnet": (ResNetGenerator, ResNetDiscriminator),
    "gan_stability": (GSGenerator, GSDiscriminator),
}


def _build(cls, role: str, arch: str, kwargs: dict) -> nn.Module:
    accepted = [p for p in inspect.signature(cls).parameters]
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ConfigError(f"unknown {role} option(s) {unknown} for arch={arch}; accepted: {', '.join(accepted)}")
    return cls(**kwargs)


def build_net(arch: str, role: str, channels: int, image_size: int, options: dict | None = None) -> nn.Module:
    """The ``role`` (generator | discriminator) module of architecture ``arch`` for c×s×s images."""
    if arch not in ARCHITECTURES:
        raise ConfigError(f"unknown game.arch {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
    cls = ARCHITECTURES[arch][0 if role == "generator" else 1]
    return _build(cls, role, arch, {"channels": channels, "image_size": image_size, **(options or {})})


def build_pair(arch: str, channels: int, image_size: int, generator: dict | None = None,
               discriminator: dict | None = None) -> tuple[nn.Module, nn.Module]:
    """(generator, discriminator) modules of architecture ``arch`` for c×s×s images."""
    return (build_net(arch, "generator", channels, image_size, generator),
            build_net(arch, "discriminator", channels, image_size, discriminator))
