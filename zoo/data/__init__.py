"""Data sets by the names users say them (``--data.name``); each is a LightningDataModule.

Importing this package imports each of its modules, and each registers the data sets it defines
(``@register_dataset("digits")``): a new data set is one new file here.
"""

import importlib
import pkgutil

from zoo.data.base import BatchOrder, InMemoryDataModule, TensorBatches, ZooDataModule
from zoo.registry import DATASETS

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

# Keys of ``describe()`` that size a model; they come from the data, never from a recipe.
DESCRIBED = ("in_channels", "in_features", "num_classes", "num_outputs", "vocab_size", "token_counts")

__all__ = ["DATASETS", "DESCRIBED", "BatchOrder", "InMemoryDataModule", "TensorBatches", "ZooDataModule"]
