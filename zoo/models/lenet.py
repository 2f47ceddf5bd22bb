"""LeNet-5: LeCun, Bottou, Bengio & Haffner (1998), "Gradient-based learning applied to document
recognition", Proc. IEEE 86(11). Two 5x5 convolutions (6 and 16 filters), each followed by 2x2
pooling, then fully connected layers of 120 and 84 units.

The paper used tanh and average pooling ("subsampling") on 32x32 inputs; both are options here, and
28x28 inputs (MNIST's own size) are padded by 2 in the first convolution so that every layer after it
has the paper's shape.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from zoo.nn import make_activation
from zoo.registry import register_model


@register_model("lenet", task="classification", data="digits")
class LeNet(nn.Module):
    def __init__(
        self,
        *,
        in_channels: int = 1,
        num_classes: int = 10,
        input_size: Literal[28, 32] = 28,
        activation: str = "relu",
        pooling: Literal["max", "avg"] = "max",
        batch_norm: bool = False,
        dropout: float = 0.0,
    ):
        super().__init__()
        if input_size not in (28, 32):
            raise ValueError(f"input_size must be 28 or 32, got {input_size}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.input_size = input_size
        pool = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}[pooling]

        def conv_block(c_in: int, c_out: int, padding: int) -> list[nn.Module]:
            # With batch norm the convolution's bias is redundant (BN subtracts the mean).
            layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 5, padding=padding, bias=not batch_norm)]
            if batch_norm:
                layers.append(nn.BatchNorm2d(c_out))
            return layers + [make_activation(activation), pool(2)]

        def dense_block(n_in: int, n_out: int) -> list[nn.Module]:
            layers: list[nn.Module] = [nn.Linear(n_in, n_out, bias=not batch_norm)]
            if batch_norm:
                layers.append(nn.BatchNorm1d(n_out))
            layers.append(make_activation(activation))
            return layers + ([nn.Dropout(dropout)] if dropout else [])

        self.features = nn.Sequential(
            *conv_block(in_channels, 6, padding=(32 - input_size) // 2),
            *conv_block(6, 16, padding=0),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            *dense_block(16 * 5 * 5, 120),
            *dense_block(120, 84),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, C, input_size, input_size)
        x = self.features(x)  # (B, 16, 5, 5)
        return self.classifier(x)  # (B, num_classes) logits
