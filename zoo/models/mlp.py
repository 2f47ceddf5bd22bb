"""Multi-layer perceptron: a Keras ``Sequential`` of ``Dense`` layers (Rumelhart, Hinton & Williams
1986, "Learning representations by back-propagating errors").

Each hidden layer is, in the order the lecture draws it: Dense -> BatchNorm (optional) -> activation
-> Dropout. The output layer is a plain Dense: ``num_classes`` logits for a classifier (the task
applies softmax in the loss), or ``num_outputs`` numbers for a regression (one per target; the data
fills it in, and it takes precedence over ``num_classes``).
L1/L2 penalties on every Dense kernel are exposed by ``regularization_loss()`` (None without them),
which the training loop adds to the loss, like Keras' ``kernel_regularizer``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from zoo.nn import make_activation
from zoo.nn.init import INITIALIZERS, initialize
from zoo.registry import register_model


@register_model("mlp", task="classification", data="spiral")
class MLP(nn.Module):
    def __init__(
        self,
        *,
        in_features: int = 2,
        num_classes: int = 2,
        num_outputs: int | None = None,
        hidden: Sequence[int] = (64, 64),
        activation: str = "relu",
        leaky_slope: float = 0.01,
        noise_std: float | None = None,
        batch_norm: bool = False,
        dropout: float | Sequence[float] = 0.0,
        weight_init: str = "glorot_uniform",
        bias_init: str = "zeros",
        l1: float = 0.0,
        l2: float = 0.0,
    ):
        super().__init__()
        hidden = list(hidden)
        rates = list(dropout) if isinstance(dropout, (list, tuple)) else [dropout] * len(hidden)
        if len(rates) != len(hidden):
            raise ValueError(f"dropout has {len(rates)} rates for {len(hidden)} hidden layers")
        for rate in rates:
            if not 0.0 <= rate < 1.0:
                raise ValueError(f"dropout must be in [0, 1), got {rate}")
        if any(width < 1 for width in hidden):
            raise ValueError(f"hidden widths must be positive, got {hidden}")
        if num_outputs is not None and num_outputs < 1:
            raise ValueError(f"num_outputs must be positive, got {num_outputs}")
        if l1 < 0 or l2 < 0:
            raise ValueError(f"l1 and l2 must be >= 0, got l1={l1}, l2={l2}")
        INITIALIZERS.get(weight_init), INITIALIZERS.get(bias_init)  # unknown names fail here, listing the known
        make_activation(activation)
        self.l1, self.l2 = l1, l2

        layers: list[nn.Module] = [nn.Flatten()]  # images (B, C, H, W) become (B, C*H*W)
        width = in_features
        for out, rate in zip(hidden, rates):
            layers.append(nn.Linear(width, out))
            if batch_norm:
                layers.append(nn.BatchNorm1d(out))
            layers.append(make_activation(activation, leaky_slope=leaky_slope, noise_std=noise_std))
            if rate:
                layers.append(nn.Dropout(rate))
            width = out
        layers.append(nn.Linear(width, num_classes if num_outputs is None else num_outputs))
        self.layers = nn.Sequential(*layers)
        for dense in self.dense_layers():
            initialize(dense.weight, weight_init)
            initialize(dense.bias, bias_init)

    def dense_layers(self) -> list[nn.Linear]:
        return [m for m in self.layers if isinstance(m, nn.Linear)]

    def regularization_loss(self) -> torch.Tensor | None:
        """l1 * sum|W| + l2 * sum W^2 over every Dense kernel (biases are not penalised, as in Keras);
        None when both are 0, so that the loop adds and logs nothing."""
        if not (self.l1 or self.l2):
            return None
        weights = [d.weight for d in self.dense_layers()]
        penalty = weights[0].new_zeros(())
        if self.l1:
            penalty = penalty + self.l1 * sum(w.abs().sum() for w in weights)
        if self.l2:
            penalty = penalty + self.l2 * sum(w.pow(2).sum() for w in weights)
        return penalty

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, in_features) or (B, C, H, W) with C*H*W == in_features
        return self.layers(x)  # (B, num_classes) logits, or (B, num_outputs) numbers
