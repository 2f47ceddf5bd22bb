"""zoo: four classic networks (MLP, LeNet, LSTM, word2vec) on one shared Lightning training loop.

    >>> import zoo
    >>> zoo.list_models()
    >>> net = zoo.get_model("lenet", num_classes=10)      # a plain torch.nn.Module
    >>> task = zoo.load_checkpoint("runs/.../checkpoints/best.ckpt")   # trained, eval mode, CPU
    >>> vectors = zoo.load_vectors("runs/word2vec-corpus-...")          # gensim KeyedVectors
"""

from __future__ import annotations

from typing import Any

import zoo.models  # noqa: F401  (registers the model families)
from zoo.errors import DataError, UsageError, ZooError
from zoo.registry import get_model, list_models, register_model

__version__ = "0.1.0"
__all__ = [
    "get_model",
    "list_models",
    "register_model",
    "load_checkpoint",
    "load_vectors",
    "ZooError",
    "UsageError",
    "DataError",
]


def load_checkpoint(path: str, map_location: Any = "cpu"):
    """The trained task (a LightningModule wrapping the model) from a zoo checkpoint, in eval mode.

    Loading is weights-only: a checkpoint that carries pickled code is refused and its code never runs.
    """
    from zoo.checkpoint import load_checkpoint as _load  # imports Lightning, so only when needed

    return _load(path, map_location=map_location)


def load_vectors(path: str):
    """Word vectors from a word2vec run directory or a ``vectors.bin`` file, as gensim ``KeyedVectors``."""
    from zoo.neighbors import load_vectors as _load

    return _load(path)
