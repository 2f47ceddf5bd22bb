"""Activations by name, as a Keras ``Dense(..., activation="relu")`` user would write them.

``noisy_relu`` is the one neither PyTorch nor Keras has: Nair & Hinton (2010), "Rectified Linear Units
Improve Restricted Boltzmann Machines", use max(0, x + N(0, sigmoid(x))), Gaussian noise whose
variance is sigmoid(x), added during training only.
"""

from __future__ import annotations

import torch
from torch import nn

from zoo.registry import Registry

ACTIVATIONS = Registry("activation")


class NoisyReLU(nn.Module):
    """max(0, x + noise) while training, max(0, x) in eval.

    ``noise_std=None`` follows the paper: noise ~ N(0, sigmoid(x)), i.e. standard deviation
    sqrt(sigmoid(x)): from 0 for very negative inputs up to 1 for large ones. A number fixes the
    standard deviation.
    """

    def __init__(self, noise_std: float | None = None):
        super().__init__()
        if noise_std is not None and noise_std < 0:
            raise ValueError(f"noise_std must be >= 0, got {noise_std}")
        self.noise_std = noise_std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return torch.relu(x)
        std = torch.sigmoid(x.detach()).sqrt() if self.noise_std is None else self.noise_std
        return torch.relu(x + torch.randn_like(x) * std)

    def extra_repr(self) -> str:
        return "noise_std=sqrt(sigmoid(x))" if self.noise_std is None else f"noise_std={self.noise_std}"


ACTIVATIONS.register("linear")(lambda **_: nn.Identity())
ACTIVATIONS.register("sigmoid")(lambda **_: nn.Sigmoid())
ACTIVATIONS.register("tanh")(lambda **_: nn.Tanh())
ACTIVATIONS.register("relu")(lambda **_: nn.ReLU())
ACTIVATIONS.register("leaky_relu")(lambda leaky_slope=0.01, **_: nn.LeakyReLU(leaky_slope))
ACTIVATIONS.register("noisy_relu")(lambda noise_std=None, **_: NoisyReLU(noise_std))
ACTIVATIONS.register("elu")(lambda **_: nn.ELU())
ACTIVATIONS.register("gelu")(lambda **_: nn.GELU())
ACTIVATIONS.register("softplus")(lambda **_: nn.Softplus())


def make_activation(name: str, *, leaky_slope: float = 0.01, noise_std: float | None = None) -> nn.Module:
    """A fresh activation module; options that do not apply to ``name`` are ignored."""
    return ACTIVATIONS.get(name)(leaky_slope=leaky_slope, noise_std=noise_std)
