"""zoo: four classic networks (MLP, LeNet, LSTM, word2vec) on one shared Lightning training loop.

    >>> import zoo
    >>> zoo.list_models()
    >>> net = zoo.get_model("lenet", num_classes=10)                 # a plain torch.nn.Module
    >>> zoo.list_weights()                                            # ['lenet:fashion-mnist', ...]
    >>> task = zoo.load_pretrained("lenet:fashion-mnist")            # trained, shipped in the package
    >>> result = zoo.fit("lenet", overrides={"trainer.max_epochs": 3})  # train, test, run directory
    >>> result.history, result.plot(), result.show("filters")          # epochs as a DataFrame, pictures
    >>> zoo.compare(result, zoo.fit("lenet", overrides={"model.dropout": 0.3}))  # two runs side by side
    >>> task = zoo.load_checkpoint("runs/.../checkpoints/best.ckpt")  # trained, eval mode, CPU
    >>> task = zoo.load_trained("lenet:fashion-mnist")               # a shipped weight, run dir or checkpoint
    >>> vectors = zoo.load_vectors("runs/word2vec-corpus-...")         # gensim KeyedVectors
    >>> zoo.export_model("lenet:fashion-mnist", "onnx")                # an ONNX file (or pt2: a torch.export program)

``import zoo`` is light: torch and Lightning are imported when something needs them.
"""

from __future__ import annotations

from typing import Any

from zoo.errors import DataError, Stopped, UsageError, ZooError
from zoo.pretrained import get_model, list_weights, load_pretrained, load_trained, weight_card
from zoo.registry import list_models, register_dataset, register_model, register_task

__version__ = "0.1.0"

# Imported on first use (PEP 562), so that ``import zoo`` and a command's usage errors stay fast.
_LAZY = {
    "fit": "zoo.training",
    "build": "zoo.training",
    "Result": "zoo.results",
    "compare": "zoo.results",
    "resolve_recipe": "zoo.recipes",
    "list_recipes": "zoo.recipes",
    "load_checkpoint": "zoo.loading",
    "load_vectors": "zoo.pretrained",
    "export_model": "zoo.exporting",
}

__all__ = [
    "fit",
    "build",
    "Result",
    "compare",
    "resolve_recipe",
    "list_recipes",
    "get_model",
    "list_models",
    "list_weights",
    "load_pretrained",
    "weight_card",
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
