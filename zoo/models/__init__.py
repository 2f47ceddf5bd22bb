"""Importing this package registers every model family with ``zoo.registry.MODELS``."""

from zoo.models import lenet, lstm, mlp, word2vec  # noqa: F401
