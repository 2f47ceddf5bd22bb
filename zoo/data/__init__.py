"""Data sets by the names users say them (``--data.name``); each is a LightningDataModule.

Each module here registers the data sets it defines (``@register_dataset("digits")``): a new data set
is one new file here. They are imported, all of them, the first time the registry is read (``DATASETS``
imports ``zoo.data.registered``) or a name below is asked of this package; importing the package alone
imports nothing heavy, so that ``zoo.data.tables`` (pandas, no torch) checks a table before a command
imports torch.
"""

import importlib

# Keys of ``describe()`` that size a model; they come from the data, never from a recipe.
DESCRIBED = ("in_channels", "in_features", "num_classes", "num_outputs", "vocab_size", "token_counts")

_FROM = {name: "zoo.data.base" for name in ("BatchOrder", "InMemoryDataModule", "TensorBatches", "ZooDataModule")}
_FROM["DATASETS"] = "zoo.registry"

__all__ = ["DATASETS", "DESCRIBED", "BatchOrder", "InMemoryDataModule", "TensorBatches", "ZooDataModule"]


def __getattr__(name: str):
    if name not in _FROM:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    importlib.import_module("zoo.data.registered")
    return getattr(importlib.import_module(_FROM[name]), name)
