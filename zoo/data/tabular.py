"""Feature vectors: scikit-learn's bundled tables, any CSV (or Parquet) table, and the TensorFlow
Playground's two-feature toy sets, for classification and regression.

Features are float32 (N, F). They are standardised by the task with the training split's mean and
std (kept in the checkpoint), never with statistics that include validation or test rows; so are
the numbers a regression predicts (its targets, float32 (N, T)).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from zoo.data.base import InMemoryDataModule, TensorBatches
from zoo.data.tables import (
    MISSING,
    Checked,
    check_frame,
    check_reading,
    column_list,
    encode_block,
    feature_names,
    fit_columns,
    input_stats,
    numbers,
    raise_problems,
    read_table,
    say_warnings,
)
from zoo.errors import DataError, UsageError, option
from zoo.registry import register_dataset
from zoo.rundir import launched_rank


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
    loader_kwargs: dict[str, Any] = {}

    def load(self):
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, self.loader)(**self.loader_kwargs)
        self.feature_names = [str(f) for f in bunch.feature_names]
        x = torch.tensor(np.asarray(bunch.data, dtype=np.float64), dtype=torch.float32)
        if self.targets == "numbers":
            y = torch.tensor(np.asarray(bunch.target, dtype=np.float64), dtype=torch.float32)
            y = y.view(len(y), -1)  # (N, T), one column per target
            self.target_names = [str(t) for t in getattr(bunch, "target_names", self.target_names)]
            return x, y, None, None
        self.class_names = [str(c) for c in bunch.target_names]
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


@register_dataset("diabetes")
class DiabetesDataModule(SklearnDataModule):
    """Regression: 442 diabetes patients, 10 baseline measurements (age, sex, BMI, blood pressure and
    six blood serum values, in their original units), and a quantitative measure of disease
    progression one year later (25 to 346) to predict (Efron et al. 2004)."""

    loader, loader_kwargs = "load_diabetes", {"scaled": False}
    targets = "numbers"

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.target_names = ["progression"]


@register_dataset("linnerud")
class LinnerudDataModule(SklearnDataModule):
    """Regression with three targets: 20 middle-aged men, three exercises (chins, situps, jumps) and
    three physiological measurements to predict (weight, waist, pulse)."""

    loader = "load_linnerud"
    targets = "numbers"


@register_dataset("csv")
class CSVDataModule(TabularDataModule):
    """Any table with a header row, as it comes: a CSV file (or Parquet, with pyarrow) whose columns
    may hold numbers, text and missing cells (``zoo/data/tables.py`` says how it is read and how each
    column is encoded, learned from the training rows). ``target`` names the column to predict: its
    values are the classes of the classification task, or, for the regression task, numbers (one or
    more columns, ``"a,b"``). Rows whose target is missing are left out and counted in the run's summary.

    ``delimiter`` and ``decimal`` (the decimal mark) are found from the file unless given (``auto``);
    ``encoding`` is the file's text encoding (UTF-8 by default, ``cp1252`` for Excel's CSV on Windows)."""

    def __init__(
        self,
        *,
        path: str | None = None,
        target: str | list[str] = "target",
        delimiter: str = "auto",
        decimal: Literal["auto", ".", ","] = "auto",
        encoding: str = "utf-8",
        categorical: str | list[str] = (),
        numeric: str | list[str] = (),
        drop: str | list[str] = (),
        missing: list[str] = MISSING,
        max_categories: int = 50,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if path is None and self.reads_a_file:
            raise UsageError(
                f"data 'csv' needs {option('data.path', 'FILE.csv', raw=True)} "
                f"(and {option('data.target', 'COLUMN', raw=True)})"
            )
        check_reading(delimiter, decimal, encoding)
        if max_categories < 1:
            raise UsageError(f"{option('data.max_categories')} must be at least 1, got {max_categories}")
        if not column_list(target):
            raise UsageError(f"{option('data.target')} names no column")
        self.path = Path(path).expanduser() if path is not None else None
        self.delimiter, self.decimal, self.encoding = delimiter, decimal, encoding
        self.target_columns = column_list(target)
        self.categorical, self.numeric, self.drop = column_list(categorical), column_list(numeric), column_list(drop)
        self.missing, self.max_categories = [str(m).strip() for m in missing], max_categories
        self.table: dict[str, Any] = {}

    def choose_targets(self, kind: Literal["classes", "numbers"]) -> None:
        """Whether the target column holds classes or numbers is the task's choice (``zoo.fit`` calls
        this with the task's ``targets`` before ``setup``)."""
        self.targets = kind

    #: whether the table comes from a file (``path``); a DataFrame given to ``zoo.fit`` does not
    reads_a_file = True

    @property
    def source(self) -> Any:
        """What messages name as the table: its file."""
        return self.path

    def prepare_data(self) -> None:
        if not self.path.is_file():
            raise DataError(f"table file not found: {self.path}")

    def read(self) -> Any:
        """The table as a DataFrame of its cells (``read_table``: ``frame.attrs`` say how it was read)."""
        self.prepare_data()
        return read_table(self.path, self.delimiter, decimal=self.decimal, encoding=self.encoding, missing=self.missing)

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:  # Lightning calls setup again for every stage
            return
        frame = self.read()
        read = frame.attrs
        checked = check_frame(
            frame,
            targets=self.target_columns,
            kind=self.targets,
            categorical=self.categorical,
            numeric=self.numeric,
            drop=self.drop,
            missing=self.missing,
            max_categories=self.max_categories,
            decimal=read["decimal"],
            first_row=read["first_row"],
            delimiter=read["delimiter"],
        )
        kept = int(checked.keep.sum())
        if kept < 3:
            train_idx = val_idx = test_idx = torch.zeros(0, dtype=torch.long)
            fitted, found = [], []
        else:
            train_idx, val_idx, test_idx = self.split_rows(checked.keep)
            fitted, found = fit_columns(checked.block, train_idx.numpy(), checked.kinds)
        raise_problems(self.source, checked.problems + [(p, False) for p in found])
        if launched_rank() == 0:
            say_warnings(self.source, checked.warnings)

        y = self._targets(checked)
        self.table = {
            "columns": fitted,
            "missing": list(self.missing),
            # how the file was read, so that files given to the model later are read the same way
            "delimiter": read["delimiter"] or ",",
            "decimal": read["decimal"],
            "encoding": read["encoding"] or "utf-8",
            "targets": list(self.target_columns),
            "ignored": [*self.target_columns, *self.drop],
            "rows": {
                "read": len(frame),
                "left_out_missing_target": len(frame) - kept,
                "train": len(train_idx),
                "val": len(val_idx),
                "test": len(test_idx),
            },
            "notes": {**checked.notes, **{name: f"left out ({option('data.drop')})" for name in self.drop}},
        }
        self.feature_names = feature_names(fitted)
        # Which rows of the file each split took (0 = the first row under the header), for a comparison
        # on the same split (scripts/bench_tables.py) or a look at the test rows.
        positions = torch.as_tensor(np.flatnonzero(checked.keep))
        self.row_positions = {
            "train": positions[train_idx].tolist(),
            "val": positions[val_idx].tolist(),
            "test": positions[test_idx].tolist(),
        }
        x = encode_block(self.table, checked.block, where=str(self.source), first_row=read["first_row"], unseen={})
        x = torch.from_numpy(x)
        self.train_set = TensorBatches(x[train_idx], y[train_idx])
        self.val_set = TensorBatches(x[val_idx], y[val_idx])
        self.test_set = TensorBatches(x[test_idx], y[test_idx])
        self.fit_statistics()
        self.mean, self.std = input_stats(fitted)  # 0/1 inputs stay 0/1

    def split_rows(self, keep: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(train, val, test)`` positions among the rows ``keep`` marks (those with a target): a seeded
        ``test_split`` of them, then ``val_split`` of the rest."""
        keep_idx, test_idx = self.test_indices(int(keep.sum()))
        train_pos, val_pos = self.val_indices(len(keep_idx))
        return keep_idx[train_pos], keep_idx[val_pos], test_idx

    def _targets(self, checked: Checked) -> torch.Tensor:
        """The target tensor of the kept rows: numbers (N, T), or class indices (N,)."""
        if self.targets == "numbers":
            self.target_names = list(checked.target_cells)
            values = [numbers(text, is_missing).to_numpy() for text, is_missing in checked.target_cells.values()]
            return torch.tensor(np.stack(values, 1), dtype=torch.float32)
        ((text, _),) = checked.target_cells.values()
        self.class_names = checked.classes
        index = {label: i for i, label in enumerate(checked.classes)}
        return torch.tensor([index[v] for v in text.tolist()], dtype=torch.long)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "table": self.table}


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
            raise UsageError(f"{option('data.n_samples')} must be at least 10, got {n_samples}")
        if not 0.0 <= noise <= 0.5:
            raise UsageError(f"{option('data.noise')} must be between 0 and 0.5 (the Playground's 0-50%), got {noise}")
        features = list(features)
        if not features or len(set(features)) != len(features):
            raise UsageError(f"{option('data.features')} must name each feature once, at least one, got {features}")
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
        self.fit_statistics()  # of the features the network sees, training split only


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


class PlaygroundRegressionDataModule(PlaygroundDataModule):
    """The Playground's regression problems: points uniform in [-6, 6]^2 and a value between -1 and 1
    to predict, computed at the noisy position (``noise`` moves the position the value is read at by
    up to ``noise`` x 6 in each direction, as the Playground does)."""

    targets = "numbers"

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.class_names, self.target_names = [], ["value"]

    def value(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def generate(self, rng):
        radius = 6.0
        points = rng.uniform(-radius, radius, (self.n_samples, 2))
        noisy = points + rng.uniform(-radius, radius, points.shape) * self.noise
        return points, self.value(noisy[:, 0], noisy[:, 1])

    def load(self):
        points, values = self.generate(np.random.default_rng(self.split_seed))
        return torch.tensor(points, dtype=torch.float32), torch.tensor(values, dtype=torch.float32)[:, None], None, None


@register_dataset("plane")
class PlaneDataModule(PlaygroundRegressionDataModule):
    """A tilted plane: value (x1 + x2) / 10."""

    def value(self, x, y):
        return (x + y) / 10


@register_dataset("multi_gaussian")
class MultiGaussianDataModule(PlaygroundRegressionDataModule):
    """Six bumps, alternately +1 and -1, centred at x1 in {-4, 0, 4}, x2 in {2.5, -2.5}; each falls
    linearly to 0 at distance 2, and a point takes the bump largest in absolute value."""

    BUMPS = ((-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1))

    def value(self, x, y):
        bumps = np.stack([sign * np.clip(1 - np.hypot(x - cx, y - cy) / 2, 0, 1) for cx, cy, sign in self.BUMPS])
        strongest = np.abs(bumps).argmax(0)  # (the first of equals, as the Playground's strict ">")
        return bumps[strongest, np.arange(len(x))]
