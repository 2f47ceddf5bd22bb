"""Building blocks shared by the models."""

from zoo.nn.activations import ACTIVATIONS, NoisyReLU, make_activation

__all__ = ["ACTIVATIONS", "NoisyReLU", "make_activation"]
