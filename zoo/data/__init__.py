"""Data sets by the names users say them (``--data.name``); each is a LightningDataModule."""

from zoo.data.corpus import CorpusDataModule
from zoo.data.base import BatchOrder, InMemoryDataModule, TensorBatches, ZooDataModule
from zoo.data.images import DigitsDataModule, FashionMNISTDataModule, ImageFolderDataModule, MNISTDataModule
from zoo.data.tabular import (
    BreastCancerDataModule,
    CircleDataModule,
    CSVDataModule,
    GaussDataModule,
    IrisDataModule,
    SpiralDataModule,
    WineDataModule,
    XorDataModule,
)
from zoo.data.text import TextDataModule
from zoo.registry import Registry

DATASETS = Registry("data set")
for _module in (
    DigitsDataModule, MNISTDataModule, FashionMNISTDataModule, ImageFolderDataModule,
    IrisDataModule, WineDataModule, BreastCancerDataModule, CSVDataModule,
    SpiralDataModule, CircleDataModule, XorDataModule, GaussDataModule, TextDataModule,
    CorpusDataModule,
):
    DATASETS.register(_module.name)(_module)

# Keys of ``describe()`` that size a model; they come from the data, never from a recipe.
DESCRIBED = ("in_channels", "in_features", "num_classes", "vocab_size")

__all__ = ["DATASETS", "DESCRIBED", "BatchOrder", "InMemoryDataModule", "TensorBatches", "ZooDataModule"]
