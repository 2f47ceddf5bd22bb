"""Data as a learner holds it, for ``zoo.fit(model, data=...)``: numpy arrays, torch tensors, lists,
pandas DataFrames, strings, and torch Datasets or DataLoaders, the way Keras' ``model.fit(x, y)`` and
scikit-learn's ``fit(X, y)`` take them.

``from_memory`` reads what it is given into one of the data modules below, checks it (one line naming
what is wrong and what is expected), and describes it for the run's ``config.yaml`` under
``data.memory``: where it came from, its shapes and dtypes, how validation and test data were made,
and a content hash, so that a reader knows the run's data came from memory and ``resume=`` can refuse
other data. The data itself never goes into a recipe or a checkpoint (the checkpoint keeps what
prediction needs: class names, normalisation, the table's encoding, the vocabulary).

What each model takes:

- ``mlp`` (and any model of the classification or regression task): ``(x, y)``, ``x`` numbers ``(N, F)``
  or images as below; ``y`` class labels (ints or strings) for a classifier, numbers ``(N,)`` or
  ``(N, k)`` for a regression; or a DataFrame with ``target="column"``, encoded as a CSV file is.
- ``lenet`` (a model with ``in_channels``): images ``(N, H, W)``, ``(N, H, W, C)`` or ``(N, C, H, W)``,
  uint8 0-255 or floats 0-1, kept at 8 bits as image files are.
- ``lstm``: a string, a list of strings (lines), or a list of token lists (word level, a list a line).
- ``word2vec``: the same; a list of token lists is taken as tokenised, strings are tokenised as the
  recipe's ``data.tokenizer`` says.
- A torch ``Dataset`` of ``(x, y)`` items or a ``DataLoader`` of ``(x, y)`` batches is read once into
  memory and is then the arrays it holds.

Validation: ``validation_split`` holds out the last fraction of the training data (Keras' meaning),
``validation_data`` is a second ``(x, y)`` (or text); neither: the recipe's own ``data.val_split``.
Test: ``test_data``; without it the run has no test figures (as ``zoo.fit(test=False)``).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from zoo.data.base import InMemoryDataModule, TensorBatches, seeded_split
from zoo.data.corpus import CorpusDataModule
from zoo.data.images import ImageDataModule, image_batch
from zoo.data.tabular import CSVDataModule
from zoo.data.text import EOS, TextDataModule, tokenize
from zoo.errors import DataError, UsageError
from zoo.registry import register_dataset

# --- what was given ----------------------------------------------------------------------------------


@dataclass
class Held:
    """The data ``zoo.fit`` was given, read: ``train``, ``val`` and ``test`` as ``(x, y)`` arrays (or
    token lists for text; ``y`` None), ``val``/``test`` None when not given."""

    kind: str
    train: Any
    val: Any = None
    test: Any = None


def array(value: Any, what: str) -> np.ndarray:
    """A numpy array of ``value`` (numpy, torch, list, pandas Series), or a one-line refusal."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    elif hasattr(value, "to_numpy"):  # a pandas Series or DataFrame
        value = value.to_numpy()
    try:
        out = np.asarray(value)
    except (ValueError, TypeError) as err:  # (ragged lists)
        raise UsageError(f"{what} is not an array: {err}") from None
    if out.size == 0:
        raise UsageError(f"{what} is empty (shape {out.shape}): give at least one sample")
    return out


def numbers(x: np.ndarray, what: str) -> np.ndarray:
    """``x`` as float32 numbers: object, string and complex arrays refused, NaN and inf named."""
    if x.dtype == object or x.dtype.kind in "USV":
        raise UsageError(
            f"{what} has dtype {x.dtype}: give numbers (np.asarray(x, dtype=float)), or a pandas DataFrame "
            "with target='column' for a table whose columns hold text"
        )
    if x.dtype.kind not in "biuf":
        raise UsageError(f"{what} has dtype {x.dtype}: give integers or floats")
    out = x.astype(np.float32)
    bad = ~np.isfinite(out)
    if bad.any():
        first = np.argwhere(bad)[0]
        kind = "NaN" if np.isnan(out[tuple(first)]) else "inf"
        raise UsageError(
            f"{what} holds {int(bad.sum())} NaN or infinite values (the first, {kind}, at index "
            f"{tuple(int(i) for i in first)}): fill or drop them first (a DataFrame with target= fills "
            "missing cells as a CSV's are)"
        )
    return out


def pair(value: Any, what: str) -> tuple[Any, Any]:
    """``(x, y)`` from a tuple or list of two."""
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return value[0], value[1]
    raise UsageError(f"{what} should be a pair (x, y), got {type(value).__name__}")


def describe_array(x: np.ndarray) -> dict[str, Any]:
    return {"shape": list(x.shape), "dtype": str(x.dtype)}


def digest(*parts: Any) -> str:
    """A SHA-256 of arrays, strings and token lists: the same data gives the same hash."""
    sha = hashlib.sha256()
    for part in parts:
        if part is None:
            sha.update(b"\x00none")
        elif isinstance(part, np.ndarray):
            sha.update(f"{part.dtype.str}{part.shape}".encode())
            sha.update(np.ascontiguousarray(part).tobytes() if part.dtype != object else repr(part.tolist()).encode())
        elif isinstance(part, str):
            sha.update(b"\x01" + part.encode("utf-8"))
        elif isinstance(part, (list, tuple)):
            sha.update(f"\x02{len(part)}".encode())
            for item in part:
                sha.update(repr(item).encode("utf-8") if not isinstance(item, str) else item.encode("utf-8") + b"\x03")
        else:
            sha.update(repr(part).encode())
    return sha.hexdigest()


# --- torch Datasets and DataLoaders: read once into arrays ----------------------------------------------


def from_torch(value: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    """The ``(x, y)`` a map-style Dataset's items or a DataLoader's batches hold, as two arrays."""
    from torch.utils.data import DataLoader, Dataset, IterableDataset

    if isinstance(value, DataLoader):
        items = list(value)
        batched = True
    elif isinstance(value, IterableDataset) or not hasattr(value, "__len__"):
        items, batched = list(value), False
    elif isinstance(value, Dataset):
        items, batched = [value[i] for i in range(len(value))], False
    else:
        raise UsageError(f"{what}: not a torch Dataset or DataLoader")
    if not items:
        raise UsageError(f"{what} is empty")
    if not all(isinstance(item, (tuple, list)) and len(item) == 2 for item in items):
        raise UsageError(f"{what} should yield (x, y) pairs, got {type(items[0]).__name__}")

    def stacked(values: list[Any]) -> np.ndarray:
        tensors = [v if isinstance(v, torch.Tensor) else torch.as_tensor(np.asarray(v)) for v in values]
        return (torch.cat if batched else torch.stack)(tensors).numpy()

    return stacked([x for x, _ in items]), stacked([y for _, y in items])


def is_torch_data(value: Any) -> bool:
    from torch.utils.data import DataLoader, Dataset

    return isinstance(value, (Dataset, DataLoader))


# --- labels and targets ------------------------------------------------------------------------------


def classes(labels: Sequence[np.ndarray]) -> tuple[list[Any], bool]:
    """The classes of label arrays, sorted, and whether they are integers (ints, bools, whole floats),
    which predictions then give back as ints. Fractional floats and mixed types are refused."""
    joined = np.concatenate([np.asarray(y).reshape(-1) for y in labels])
    if joined.dtype.kind == "f":
        if not np.isfinite(joined).all() or (joined != np.round(joined)).any():
            bad = joined[~np.isfinite(joined) | (joined != np.round(joined))][0]
            raise UsageError(
                f"y holds fractional numbers (e.g. {bad:g}), but a classifier's labels are classes (ints or "
                "strings); to predict numbers, train a regression: overrides={'task.name': 'regression'}"
            )
        joined = joined.astype(np.int64)
    if joined.dtype.kind in "biu":
        return [int(v) for v in np.unique(joined)], True
    if joined.dtype.kind in "USO":
        values = [str(v) if not isinstance(v, str) else v for v in joined.tolist()]
        if joined.dtype == object and not all(isinstance(v, str) for v in joined.tolist()):
            kinds = sorted({type(v).__name__ for v in joined.tolist()})
            raise UsageError(f"y mixes {', '.join(kinds)}: give class labels of one kind (ints or strings)")
        return sorted(set(values)), False
    raise UsageError(f"y has dtype {joined.dtype}: give class labels (ints or strings)")


def class_indices(y: np.ndarray, names: list[Any], ints: bool) -> torch.Tensor:
    y = np.asarray(y).reshape(-1)
    lookup = {name: i for i, name in enumerate(names)}
    values = y.astype(np.int64).tolist() if ints else [str(v) for v in y.tolist()]
    return torch.tensor([lookup[v] for v in values], dtype=torch.long)


def target_numbers(y: np.ndarray, what: str) -> torch.Tensor:
    """Regression targets as float32 (N, T)."""
    y = numbers(y, what)
    return torch.from_numpy(y.reshape(len(y), -1).copy())


# --- the data modules ----------------------------------------------------------------------------------


class FromMemory:
    """Shared by the data modules below: their data is handed over by ``zoo.fit`` (``hold``), not read
    from a file, and ``memory`` (the record in config.yaml) says what it was."""

    held: Held | None = None

    def hold(self, held: Held) -> None:
        self.held = held

    def given(self) -> Held:
        if self.held is None:
            memory = getattr(self, "memory", None) or {}
            what = memory.get("from", "data in memory")
            raise DataError(
                f"this run's data came from memory ({what}): give the same data to zoo.fit(model, data=...); "
                "it cannot be read from a file or the command line"
            )
        return self.held

    @property
    def has_test(self) -> bool:
        return self.given().test is not None


class FromArrays(FromMemory):
    """Arrays ``(x, y)`` given to ``zoo.fit``: labels for a classifier, numbers for a regression
    (the task says which, ``choose_targets``); subclasses read ``x`` (``features``)."""

    def __init__(self, *, memory: dict[str, Any] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.memory = memory or {}
        self.labels_are_ints = False  # then predictions give ints back, as the labels were given

    def features(self, x: np.ndarray, what: str) -> torch.Tensor:
        raise NotImplementedError

    def choose_targets(self, kind: Literal["classes", "numbers"]) -> None:
        self.targets = kind

    @property
    def has_validation(self) -> bool:
        return self.given().val is not None or self.val_split > 0

    def prepare_data(self) -> None:
        self.given()

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:  # (Lightning calls setup again for every stage)
            return
        held = self.given()
        given = (("train", held.train), ("val", held.val), ("test", held.test))
        splits = {name: part for name, part in given if part is not None}
        if self.targets == "classes":
            labels, self.labels_are_ints = classes([y for _, y in splits.values()])
            ys = {k: class_indices(y, labels, self.labels_are_ints) for k, (_, y) in splits.items()}
            self.class_names = [str(label) for label in labels]
        else:
            ys = {k: target_numbers(y, "y" if k == "train" else f"y of {k}") for k, (_, y) in splits.items()}
            width = ys["train"].shape[1]
            self.target_names = ["y"] if width == 1 else [f"y{i}" for i in range(width)]
        xs = {k: self.features(x, "x" if k == "train" else f"x of {k}") for k, (x, _) in splits.items()}
        x, y = xs["train"], ys["train"]
        if "val" in xs:
            self.train_set, self.val_set = TensorBatches(x, y), TensorBatches(xs["val"], ys["val"])
        else:  # (validation_split: the last fraction, as Keras takes it; else the recipe's val_split)
            keep, val = seeded_split(len(x), self.val_split, self.split_seed, self.val_mode)
            self.train_set, self.val_set = TensorBatches(x[keep], y[keep]), TensorBatches(x[val], y[val])
        self.test_set = TensorBatches(xs["test"], ys["test"]) if "test" in xs else None
        self.fit_statistics()

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        if self.targets == "classes" and self.labels_are_ints:
            out["labels_are_ints"] = True
        return out


@register_dataset("arrays")
class ArraysDataModule(FromArrays, InMemoryDataModule):
    """Feature rows ``x`` (N, F) of numbers."""

    def features(self, x: np.ndarray, what: str) -> torch.Tensor:
        if x.ndim != 2:
            raise UsageError(f"{what} has shape {x.shape}: give feature rows (N, F), or images (N, H, W[, C])")
        return torch.from_numpy(numbers(x, what))


@register_dataset("image_arrays")
class ImageArraysDataModule(FromArrays, ImageDataModule):
    """Images ``x``, kept as uint8 (N, C, H, W) as every image set is (``image_array``)."""

    def features(self, x: np.ndarray, what: str) -> torch.Tensor:
        return image_array(x, what)


def image_array(x: np.ndarray, what: str) -> torch.Tensor:
    """A batch of images as uint8 (N, C, H, W): (N, H, W) grey, (N, H, W, C) or (N, C, H, W) with C of 1
    to 4 (grey, grey and alpha, RGB, RGBA), uint8 0-255 or floats 0-1 (kept at 8 bits, as files are)."""
    if x.ndim not in (3, 4):
        raise UsageError(
            f"{what} has shape {x.shape}: images are (N, H, W), (N, H, W, C) or (N, C, H, W); a model that "
            "takes feature rows (N, F) is 'mlp'"
        )
    if x.dtype == object or x.dtype.kind not in "biuf":
        raise UsageError(f"{what} has dtype {x.dtype}: images are uint8 0-255 or floats 0-1")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise UsageError(f"{what} holds NaN or infinite values: images are uint8 0-255 or floats 0-1")
    batch = x[..., None] if x.ndim == 3 else x  # (N, H, W) -> (N, H, W, 1): a batch, never one image
    channels_last = batch.shape[3] <= 4 < batch.shape[1]
    given = batch.shape[3] if channels_last else batch.shape[1]
    try:
        unit = image_batch(batch, 1 if given in (1, 2) else 3, None)  # float (N, C, H, W) in [0, 1]
    except UsageError as err:
        raise UsageError(f"{what}: {err}") from None
    return unit.mul_(255).round_().to(torch.uint8)


@register_dataset("texts")
class TextsDataModule(FromMemory, TextDataModule):
    """Text given to ``zoo.fit``: a string, lines, or token lists (a list a line, word level)."""

    def __init__(self, *, memory: dict[str, Any] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.memory = memory or {}

    @property
    def has_validation(self) -> bool:
        return self.given().val is not None or self.val_split > 0

    def prepare_data(self) -> None:
        self.given()

    def text_tokens(self, text: Any) -> list[str]:
        if isinstance(text, str):
            return tokenize(text, self.level, self.tokenizer, self.lowercase)
        if self.level == "char":
            return tokenize("\n".join(text), "char", lowercase=self.lowercase)
        if text and all(isinstance(line, str) for line in text):
            return tokenize("\n".join(text), "word", self.tokenizer, self.lowercase)
        out: list[str] = []
        for line in text:  # token lists, as given
            out += [t.lower() if self.lowercase else t for t in line] + [EOS]
        return out

    def split_tokens(self) -> dict[str, list[str]]:
        held = self.given()
        tokens = self.text_tokens(held.train)
        parts = {}
        if held.val is not None:
            parts = {"train": tokens, "val": self.text_tokens(held.val)}
        else:
            n_val = int(len(tokens) * self.val_split)
            parts = {"train": tokens[: len(tokens) - n_val], "val": tokens[len(tokens) - n_val :]}
        if held.test is not None:
            parts["test"] = self.text_tokens(held.test)
        return parts


@register_dataset("sentences")
class SentencesDataModule(FromMemory, CorpusDataModule):
    """Sentences given to ``zoo.fit`` for word vectors: token lists, or strings tokenised by
    ``tokenizer``; written once into the same token cache a corpus file makes (named by their hash)."""

    def __init__(self, *, memory: dict[str, Any] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.memory = memory or {}

    @property
    def has_test(self) -> bool:
        return True  # (word2vec's test is its word-similarity benchmarks, whatever the text)

    def prepare_data(self) -> None:
        held = self.given()
        folder = self.cache_root / f"memory-{self.memory.get('sha256', digest(held.train))[:24]}-{self.tokenizer}"
        if not folder.is_dir():
            write_sentences(sentences(held.train, self.tokenizer), folder)
        self.folder = folder


@register_dataset("frame")
class FrameDataModule(FromMemory, CSVDataModule):
    """A pandas DataFrame given to ``zoo.fit`` with ``target="column"``: checked and encoded as a CSV file
    is (numbers, text categories, missing cells; ``zoo/data/tables.py``), its cells as pandas holds them
    (as a Parquet file's are). ``validation_data`` and ``test_data`` are DataFrames with the same columns."""

    reads_a_file = False

    def __init__(self, *, memory: dict[str, Any] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.memory = memory or {}

    @property
    def source(self) -> str:
        return "the DataFrame"

    @property
    def has_validation(self) -> bool:
        return self.given().val is not None or self.val_split > 0

    def prepare_data(self) -> None:
        self.given()

    def read(self) -> Any:
        import pandas as pd

        held = self.given()
        parts = [part for part in (held.train, held.val, held.test) if part is not None]
        frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else held.train.reset_index(drop=True)
        frame.columns = [str(c).strip() for c in frame.columns]
        # which part each row came from: 0 training, 1 validation, 2 test
        self.parts = np.concatenate(
            [np.full(len(p), i) for i, p in enumerate((held.train, held.val, held.test)) if p is not None]
        )
        frame.attrs.update(delimiter=None, decimal=".", encoding=None, first_row=2)
        return frame

    def split_rows(self, keep: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        parts = torch.as_tensor(self.parts[keep])
        train, val, test = ((parts == i).nonzero().flatten() for i in range(3))
        if self.given().val is None:  # validation_split: the last fraction of the training rows
            train_pos, val_pos = self.val_indices(len(train))
            train, val = train[train_pos], train[val_pos]
        return train, val, test


def sentences(text: Any, tokenizer: str) -> list[list[str]]:
    """Token lists from a string (a sentence a line), lines, or token lists (kept as they are)."""
    from zoo.data.corpus import tokenize_block

    if isinstance(text, str):
        return tokenize_block(text, tokenizer)
    if all(isinstance(line, str) for line in text):
        return tokenize_block("\n".join(text), tokenizer)
    return [list(map(str, line)) for line in text]


def write_sentences(lines: list[list[str]], folder: Path) -> None:
    """The corpus cache ``CorpusDataModule`` reads (``tokens.i32``, ``sentences.i64``, ``vocab.tsv``, ids by
    frequency, ties in first-seen order), written into a temporary folder and renamed into place."""
    import os
    import shutil
    import tempfile

    counts = Counter(token for line in lines for token in line)
    if not counts:
        raise UsageError("the text holds no words")
    first_seen = {token: i for i, token in enumerate(dict.fromkeys(t for line in lines for t in line))}
    ranked = sorted(counts, key=lambda t: (-counts[t], first_seen[t]))
    index = {token: i for i, token in enumerate(ranked)}
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=folder.parent))
    try:
        np.array([index[t] for line in lines for t in line], dtype=np.int32).tofile(work / "tokens.i32")
        np.concatenate([[0], np.cumsum([len(line) for line in lines])]).astype(np.int64).tofile(work / "sentences.i64")
        with open(work / "vocab.tsv", "w", encoding="utf-8") as f:
            f.writelines(f"{token}\t{counts[token]}\n" for token in ranked)
        try:
            os.replace(work, folder)
        except OSError:
            if not folder.is_dir():
                raise
            shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


# --- what zoo.fit calls --------------------------------------------------------------------------------


def from_memory(
    takes_images: bool,
    learns_from: Literal["supervised", "text", "sentences"],
    data: Any,
    *,
    validation_split: float | None = None,
    validation_data: Any = None,
    test_data: Any = None,
    target: str | Sequence[str] | None = None,
) -> tuple[dict[str, Any], Held]:
    """``(the recipe's data section, the data read)`` for ``zoo.fit(model, data=...)``: ``takes_images``
    for a model with image input (``in_channels``), ``learns_from`` what its task trains on."""
    if validation_split is not None and validation_data is not None:
        raise UsageError("give validation_split or validation_data, not both")
    if validation_split is not None and not (isinstance(validation_split, (int, float)) and 0 < validation_split < 1):
        raise UsageError(f"validation_split must be a fraction between 0 and 1, got {validation_split!r}")
    section: dict[str, Any] = {}
    if validation_split is not None:
        section.update(val_split=float(validation_split), val_mode="last")
    if learns_from == "sentences":
        if validation_split is not None or validation_data is not None or test_data is not None:
            raise UsageError(
                "word2vec is evaluated on word-similarity benchmarks: validation_split, validation_data and "
                "test_data do not apply"
            )
        train = text_value(data, "data")
        record = {"from": f"text in memory ({text_size(train)})", "sha256": digest(train)}
        return {"name": "sentences", "memory": record, **section}, Held("sentences", train)
    if learns_from == "text":
        train = text_value(data, "data")
        val = text_value(validation_data, "validation_data") if validation_data is not None else None
        test = text_value(test_data, "test_data") if test_data is not None else None
        record = {
            "from": f"text in memory ({text_size(train)})",
            "validation": f"text ({text_size(val)})" if val is not None else None,
            "test": f"text ({text_size(test)})" if test is not None else None,
            "sha256": digest(train, val, test),
        }
        if val is not None:
            section["val_split"] = 0.0
        return {"name": "texts", "memory": record, **section}, Held("text", train, val, test)
    if is_frame(data):
        return frame_section(data, validation_split, validation_data, test_data, target, section)
    if target is not None:
        raise UsageError("target= names a DataFrame's column to predict; with arrays, give data=(x, y)")
    parts = {"train": data, "val": validation_data, "test": test_data}
    read: dict[str, tuple[np.ndarray, np.ndarray] | None] = {}
    source = "numpy arrays"
    for name, value in parts.items():
        what = "data" if name == "train" else f"{name if name == 'test' else 'validation'}_data"
        if value is None:
            read[name] = None
            continue
        if is_torch_data(value):
            x, y = from_torch(value, what)
            source = f"a torch {type(value).__name__}"
        elif isinstance(value, str):
            raise UsageError(
                f"{what} is a string: this model takes arrays (x, y); to train on a data set zoo knows, "
                "name it: overrides={'data.name': ...}"
            )
        else:
            x_value, y_value = pair(value, what)
            if isinstance(x_value, torch.Tensor):
                source = "torch tensors"
            named = "" if name == "train" else f" of {what}"
            x, y = array(x_value, f"x{named}"), array(y_value, f"y{named}")
        if len(x) != len(y):
            raise UsageError(f"{what}: x has {len(x)} samples but y has {len(y)}; give one label per sample")
        if name == "train" and len(x) < 2:
            raise UsageError(
                f"{what} holds 1 sample: training needs at least 2 (one to learn from, one more to scale by)"
            )
        if y.ndim > 2:
            raise UsageError(f"{what}: y has shape {y.shape}: give labels (N,) or numbers (N,) or (N, k)")
        read[name] = (x, y)
    images = takes_images or read["train"][0].ndim >= 3
    if takes_images and read["train"][0].ndim < 3:
        raise UsageError(
            f"x has shape {read['train'][0].shape}, but this model takes images: (N, H, W), (N, H, W, C) or "
            "(N, C, H, W)"
        )
    shapes = {"x": describe_array(read["train"][0]), "y": describe_array(read["train"][1])}
    record = {
        "from": source,
        **shapes,
        "validation": {k: describe_array(v) for k, v in zip("xy", read["val"])} if read["val"] else None,
        "test": {k: describe_array(v) for k, v in zip("xy", read["test"])} if read["test"] else None,
        "sha256": digest(*(a for part in read.values() for a in (part or (None, None)))),
    }
    if read["val"] is not None:
        section["val_split"] = 0.0
    held = Held("images" if images else "features", read["train"], read["val"], read["test"])
    return {"name": "image_arrays" if images else "arrays", "memory": record, **section}, held


def is_frame(value: Any) -> bool:
    import sys

    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.DataFrame)


def frame_section(data, validation_split, validation_data, test_data, target, section) -> tuple[dict[str, Any], Held]:
    """A DataFrame with ``target``: the recipe's data section for ``FrameDataModule``, and the frames."""
    if target is None:
        raise UsageError(
            "a DataFrame needs target='column' naming what to predict "
            f"(columns: {', '.join(map(str, data.columns[:20]))})"
        )
    for value, what in ((validation_data, "validation_data"), (test_data, "test_data")):
        if value is not None and not is_frame(value):
            raise UsageError(f"{what} should be a DataFrame with the same columns as data, got {type(value).__name__}")
        if value is not None and list(value.columns) != list(data.columns):
            raise UsageError(f"{what} has other columns than data: {', '.join(map(str, value.columns[:20]))}")
    if len(data) == 0:
        raise UsageError("the DataFrame has no rows")
    import pandas as pd

    parts = [data, validation_data, test_data]
    rows = [pd.util.hash_pandas_object(p, index=False).to_numpy() if p is not None else None for p in parts]
    record = {
        "from": f"a pandas DataFrame ({len(data):,} rows, {data.shape[1]} columns)",
        "columns": [str(c) for c in data.columns],
        "validation": f"a DataFrame of {len(validation_data):,} rows" if validation_data is not None else None,
        "test": f"a DataFrame of {len(test_data):,} rows" if test_data is not None else None,
        "sha256": digest(*rows, [str(c) for c in data.columns], [str(t) for t in data.dtypes]),
    }
    if validation_data is not None:
        section["val_split"] = 0.0
    return {"name": "frame", "target": target, "memory": record, **section}, Held(
        "frame", data, validation_data, test_data
    )


def text_value(value: Any, what: str) -> Any:
    if isinstance(value, str):
        if not value.strip():
            raise UsageError(f"{what} is an empty string")
        return value
    if isinstance(value, (list, tuple)) and value:
        if all(isinstance(line, str) for line in value):
            return list(value)
        if all(isinstance(line, (list, tuple)) and all(isinstance(t, str) for t in line) for line in value):
            return [list(line) for line in value]
    raise UsageError(
        f"{what} should be text: a string, a list of strings (lines), or a list of token lists, "
        f"got {type(value).__name__}"
    )


def text_size(text: Any) -> str:
    if text is None:
        return "none"
    if isinstance(text, str):
        return f"{len(text):,} characters"
    if all(isinstance(line, str) for line in text):
        return f"{len(text):,} lines"
    return f"{len(text):,} token lists, {sum(map(len, text)):,} tokens"
