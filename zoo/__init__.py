"""zoo: four classic networks (MLP, LeNet, LSTM, word2vec) on one shared Lightning training loop.

    >>> import zoo
    >>> zoo.list_models()
    >>> net = zoo.get_model("lenet", num_classes=10)                 # a plain torch.nn.Module
    >>> result = zoo.fit("lenet", overrides={"trainer.max_epochs": 3})  # train, test, run directory
    >>> task = zoo.load_checkpoint("runs/.../checkpoints/best.ckpt")  # trained, eval mode, CPU
    >>> vectors = zoo.load_vectors("runs/word2vec-corpus-...")         # gensim KeyedVectors
    >>> zoo.export_model("runs/lenet-digits-...", "onnx")              # ONNX file or (pt2) torch.export program

``import zoo`` is light: torch and Lightning are imported when something needs them.
"""

from __future__ import annotations

from typing import Any

from zoo.errors import DataError, Stopped, UsageError, ZooError
from zoo.registry import get_model, list_models, register_dataset, register_model, register_task

__version__ = "0.1.0"

# Imported on first use (PEP 562), so that ``import zoo`` and a command's usage errors stay fast.
_LAZY = {
    "fit": "zoo.training",
    "build": "zoo.training",
    "Result": "zoo.training",
    "resolve_recipe": "zoo.recipes",
    "list_recipes": "zoo.recipes",
    "load_checkpoint": "zoo.loading",
    "load_vectors": "zoo.loading",
    "load_trained": "zoo.loading",
    "export_model": "zoo.exporting",
}

__all__ = [
    "fit",
    "build",
    "Result",
    "resolve_recipe",
    "list_recipes",
    "get_model",
    "list_models",
    "register_model",
    "register_dataset",
    "register_task",
    "load_checkpoint",
    "load_vectors",
    "load_trained",
    "export_model",
    "ZooError",
    "UsageError",
    "DataError",
    "Stopped",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
