"""Importing this package registers every model family with ``zoo.registry.MODELS``."""

from zoo.models import lenet, mlp  # noqa: F401
