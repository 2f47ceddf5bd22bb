"""Weight initialisers by the names Keras gives them, with Keras' definitions.

fan_in and fan_out are a Dense layer's input and output widths. Keras' ``*_normal`` initialisers draw
from a normal distribution truncated at two standard deviations and widen it by 1/0.87962566 so that
the truncated draws keep the intended standard deviation; these do the same.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from zoo.registry import Registry

INITIALIZERS = Registry("initialiser")

# std of a standard normal truncated to [-2, 2]; Keras divides by it to restore unit variance
_TRUNCATED_STD = 0.87962566103423978


def _truncated_normal_(tensor: torch.Tensor, std: float) -> torch.Tensor:
    std = std / _TRUNCATED_STD
    return nn.init.trunc_normal_(tensor, mean=0.0, std=std, a=-2 * std, b=2 * std)


def _fans(tensor: torch.Tensor) -> tuple[int, int]:
    if tensor.dim() < 2:
        raise ValueError("fan-based initialisers need a weight matrix, not a bias vector")
    fan_out, fan_in = tensor.shape[:2]  # torch stores Linear weights as (out, in)
    receptive = tensor[0][0].numel()  # 1 for Linear, kh*kw for Conv2d
    return fan_in * receptive, fan_out * receptive


@INITIALIZERS.register("zeros")
def zeros_(t: torch.Tensor) -> torch.Tensor:
    return nn.init.zeros_(t)


@INITIALIZERS.register("uniform")
def uniform_(t: torch.Tensor) -> torch.Tensor:
    """Keras RandomUniform: U(-0.05, 0.05)."""
    return nn.init.uniform_(t, -0.05, 0.05)


@INITIALIZERS.register("normal")
def normal_(t: torch.Tensor) -> torch.Tensor:
    """Keras RandomNormal: N(0, 0.05^2)."""
    return nn.init.normal_(t, 0.0, 0.05)


@INITIALIZERS.register("glorot_uniform")
def glorot_uniform_(t: torch.Tensor) -> torch.Tensor:
    """Glorot & Bengio (2010): U(-l, l) with l = sqrt(6 / (fan_in + fan_out)). Keras' default."""
    fan_in, fan_out = _fans(t)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return nn.init.uniform_(t, -limit, limit)


@INITIALIZERS.register("glorot_normal")
def glorot_normal_(t: torch.Tensor) -> torch.Tensor:
    """Truncated normal with std sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(t)
    return _truncated_normal_(t, math.sqrt(2.0 / (fan_in + fan_out)))


@INITIALIZERS.register("he_uniform")
def he_uniform_(t: torch.Tensor) -> torch.Tensor:
    """He et al. (2015), for ReLU layers: U(-l, l) with l = sqrt(6 / fan_in)."""
    fan_in, _ = _fans(t)
    limit = math.sqrt(6.0 / fan_in)
    return nn.init.uniform_(t, -limit, limit)


@INITIALIZERS.register("he_normal")
def he_normal_(t: torch.Tensor) -> torch.Tensor:
    """Truncated normal with std sqrt(2 / fan_in)."""
    fan_in, _ = _fans(t)
    return _truncated_normal_(t, math.sqrt(2.0 / fan_in))


def initialize(tensor: torch.Tensor, name: str) -> torch.Tensor:
    with torch.no_grad():
        return INITIALIZERS.get(name)(tensor)
