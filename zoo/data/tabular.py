"""Feature vectors: scikit-learn's bundled tables, any CSV file, and the TensorFlow Playground's
two-feature toy sets.

Features are float32 (N, F). They are standardised by the task with the training split's mean and
std (kept in the checkpoint), never with statistics that include validation or test rows.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from zoo.data.base import InMemoryDataModule, TensorBatches
from zoo.errors import DataError, UsageError
from zoo.registry import register_dataset


class TabularDataModule(InMemoryDataModule):
    """A table without a test split of its own: ``test_split`` of it is held out (seeded)."""

    def __init__(self, *, test_split: float = 0.2, **kwargs: Any):
        super().__init__(**kwargs)
        self.set_test_split(test_split)
        self.feature_names: list[str] = []

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "feature_names": list(self.feature_names)}


class SklearnDataModule(TabularDataModule):
    """One of scikit-learn's bundled real data sets (no download)."""

    loader: str  # the sklearn.datasets function

    def load(self):
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, self.loader)()
        self.class_names = [str(c) for c in bunch.target_names]
        self.feature_names = [str(f) for f in bunch.feature_names]
        x = torch.tensor(bunch.data, dtype=torch.float32)
        return x, torch.tensor(bunch.target, dtype=torch.long), None, None


@register_dataset("iris")
class IrisDataModule(SklearnDataModule):
    """Fisher's iris: 150 flowers, 4 measurements, 3 species."""

    loader = "load_iris"


@register_dataset("wine")
class WineDataModule(SklearnDataModule):
    """178 wines, 13 chemical measurements, 3 cultivars."""

    loader = "load_wine"


@register_dataset("breast_cancer")
class BreastCancerDataModule(SklearnDataModule):
    """Wisconsin diagnostic breast cancer: 569 tumours, 30 features, malignant or benign."""

    loader = "load_breast_cancer"


@register_dataset("csv")
class CSVDataModule(TabularDataModule):
    """Any CSV file with a header row: every column but ``target`` is a numeric feature; the target
    column's distinct values (numbers or names) are the classes."""

    def __init__(self, *, path: str | None = None, target: str = "target", delimiter: str = ",", **kwargs: Any):
        super().__init__(**kwargs)
        if path is None:
            raise UsageError("data 'csv' needs --data.path FILE.csv (and --data.target COLUMN)")
        if len(delimiter) != 1:
            raise UsageError(f"data.delimiter must be one character, got {delimiter!r}")
        self.path, self.target, self.delimiter = Path(path).expanduser(), target, delimiter

    def prepare_data(self) -> None:
        if not self.path.is_file():
            raise DataError(f"CSV file not found: {self.path}")

    def load(self):
        self.prepare_data()
        try:
            # utf-8-sig: Excel's "CSV UTF-8" begins with a byte-order mark, not part of the first name
            with open(self.path, newline="", encoding="utf-8-sig") as f:
                rows = list(csv.reader(f, delimiter=self.delimiter))
        except UnicodeDecodeError as err:
            raise DataError(f"{self.path} is not UTF-8 text ({err.reason} at byte {err.start})") from None
        if not rows:
            raise DataError(f"{self.path} is empty")
        header = [h.strip() for h in rows[0]]
        if self.target not in header:
            raise DataError(
                f"{self.path} has no column {self.target!r} for --data.target (columns: {', '.join(header)})"
            )
        if len(header) < 2:
            raise DataError(f"{self.path} has no feature columns besides {self.target!r}")
        t = header.index(self.target)
        self.feature_names = [h for i, h in enumerate(header) if i != t]
        features, labels = [], []
        for line, row in enumerate(rows[1:], start=2):
            if not row or all(not cell.strip() for cell in row):
                continue  # blank lines
            if len(row) != len(header):
                raise DataError(f"{self.path} row {line}: {len(row)} cells, the header has {len(header)}")
            values = []
            for i, cell in enumerate(row):
                if i == t:
                    continue
                try:
                    value = float(cell)
                except ValueError:
                    raise DataError(
                        f"{self.path} row {line}, column {header[i]!r}: {cell.strip()!r} is not a number"
                    ) from None
                if not math.isfinite(value):
                    raise DataError(f"{self.path} row {line}, column {header[i]!r}: {cell.strip()!r} is not finite")
                values.append(value)
            features.append(values)
            labels.append(row[t].strip())
        if len(features) < 3:
            raise DataError(
                f"{self.path} has {len(features)} data rows; at least 3 are needed to train, validate and test"
            )
        self.class_names = sorted(set(labels), key=_numeric_first)
        if len(self.class_names) < 2:
            raise DataError(
                f"{self.path}: column {header[t]!r} holds one class only ({self.class_names[0]!r}); "
                "a classifier needs two or more"
            )
        index = {name: i for i, name in enumerate(self.class_names)}
        x = torch.tensor(features, dtype=torch.float32)
        return x, torch.tensor([index[v] for v in labels], dtype=torch.long), None, None


def _numeric_first(label: str) -> tuple[int, float, str]:
    """Sort class labels numerically when they are numbers ("2" before "10"), else by name."""
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


# --- the TensorFlow Playground's toy sets ----------------------------------------------------------


# The Playground's input features, each computed from a point (x1, x2): its "features" column.
PLAYGROUND_FEATURES = {
    "x1": lambda p: p[:, 0],
    "x2": lambda p: p[:, 1],
    "x1_squared": lambda p: p[:, 0] ** 2,
    "x2_squared": lambda p: p[:, 1] ** 2,
    "x1_x2": lambda p: p[:, 0] * p[:, 1],
    "sin_x1": lambda p: torch.sin(p[:, 0]),
    "sin_x2": lambda p: torch.sin(p[:, 1]),
}
Feature = Literal["x1", "x2", "x1_squared", "x2_squared", "x1_x2", "sin_x1", "sin_x2"]


class PlaygroundDataModule(TabularDataModule):
    """Two-feature, two-class toy problems as the TensorFlow Playground (playground.tensorflow.org)
    generates them. ``noise`` is the Playground's noise slider as a fraction (0 to 0.5); the points are
    drawn from a generator seeded with ``split_seed``, so a data set is the same every run.

    ``features`` are what the network sees of a point (x1, x2), as the Playground's feature column:
    ``[x1, x2]`` (the point itself), or any of x1, x2, x1_squared, x2_squared, x1_x2, sin_x1, sin_x2.
    The points themselves stay in ``plane`` (per split), so that pictures are drawn over the input plane.
    """

    def __init__(
        self, *, n_samples: int = 1000, noise: float = 0.0, features: Sequence[Feature] = ("x1", "x2"), **kwargs: Any
    ):
        super().__init__(**kwargs)
        if n_samples < 10:
            raise UsageError(f"data.n_samples must be at least 10, got {n_samples}")
        if not 0.0 <= noise <= 0.5:
            raise UsageError(f"data.noise must be between 0 and 0.5 (the Playground's 0-50%), got {noise}")
        features = list(features)
        if not features or len(set(features)) != len(features):
            raise UsageError(f"data.features must name each feature once, at least one, got {features}")
        self.n_samples, self.noise, self.features = n_samples, noise, features
        self.class_names, self.feature_names = ["0", "1"], list(features)
        self.plane: dict[str, TensorBatches] = {}

    def generate(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def load(self):
        points, labels = self.generate(np.random.default_rng(self.split_seed))
        self.class_names = ["0", "1"]
        return torch.tensor(points, dtype=torch.float32), torch.tensor(labels, dtype=torch.long), None, None

    def featurize(self, points: torch.Tensor) -> torch.Tensor:
        """Points (N, 2) in the plane -> the network's inputs (N, len(features))."""
        return torch.stack([PLAYGROUND_FEATURES[name](points) for name in self.features], 1)

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        super().setup(stage)  # the points, split as every in-memory set is split
        self.plane = {"train": self.train_set, "val": self.val_set, "test": self.test_set}
        self.train_set, self.val_set, self.test_set = (
            TensorBatches(self.featurize(s.tensors[0]), s.tensors[1]) for s in self.plane.values()
        )
        self.mean, self.std = self.statistics(self.train_set.tensors[0])


@register_dataset("spiral")
class SpiralDataModule(PlaygroundDataModule):
    """Two interleaved spirals, 1.75 turns each out to radius 5."""

    def generate(self, rng):
        n = self.n_samples // 2
        r = np.arange(n) / n * 5
        points, labels = [], []
        for label, delta in ((0, 0.0), (1, math.pi)):
            t = 1.75 * np.arange(n) / n * 2 * math.pi + delta
            x = r * np.sin(t) + rng.uniform(-1, 1, n) * self.noise
            y = r * np.cos(t) + rng.uniform(-1, 1, n) * self.noise
            points.append(np.stack([x, y], 1))
            labels.append(np.full(n, label))
        return np.concatenate(points), np.concatenate(labels)


@register_dataset("circle")
class CircleDataModule(PlaygroundDataModule):
    """A disc of one class inside a ring of the other; labels follow the noisy position's radius."""

    def generate(self, rng):
        radius, n = 5.0, self.n_samples // 2
        points = []
        for low, high in ((0.0, radius * 0.5), (radius * 0.7, radius)):
            r = rng.uniform(low, high, n)
            angle = rng.uniform(0, 2 * math.pi, n)
            points.append(np.stack([r * np.sin(angle), r * np.cos(angle)], 1))
        points = np.concatenate(points)
        noisy = points + rng.uniform(-radius, radius, points.shape) * self.noise
        return points, (np.linalg.norm(noisy, axis=1) >= radius * 0.5).astype(np.int64)


@register_dataset("xor")
class XorDataModule(PlaygroundDataModule):
    """Points in the four quadrants; the class is the sign of x1 * x2 (of the noisy position)."""

    def generate(self, rng):
        points = rng.uniform(-5, 5, (self.n_samples, 2))
        points += np.where(points > 0, 0.3, -0.3)  # keep a gap along the axes
        noisy = points + rng.uniform(-5, 5, points.shape) * self.noise
        return points, (noisy[:, 0] * noisy[:, 1] < 0).astype(np.int64)


@register_dataset("gauss")
class GaussDataModule(PlaygroundDataModule):
    """Two Gaussian blobs at (2, 2) and (-2, -2); more noise, wider blobs (variance 0.5 to 4)."""

    def generate(self, rng):
        n = self.n_samples // 2
        std = math.sqrt(0.5 + self.noise / 0.5 * 3.5)
        points = np.concatenate([rng.normal(c, std, (n, 2)) for c in (2.0, -2.0)])
        return points, np.repeat([0, 1], n)
