"""What every data module shares: whole-batch indexing, seeded splits, and the loader that feeds them.

Small data sets live in memory as tensors. A batch is one fancy-indexing call (``x[idx]``) instead of
``batch_size`` ``__getitem__`` calls and a collate, which is what made a plain
``DataLoader(TensorDataset)`` run at two thirds of a hand-written loop's speed.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import Any, Literal

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from zoo.errors import UsageError


class TensorBatches(Dataset):
    """Tensors that share a first dimension, indexed a whole batch at a time: ``ds[idx] -> tuple``."""

    def __init__(self, *tensors: torch.Tensor):
        if len({len(t) for t in tensors}) != 1:
            raise ValueError("all tensors must have the same length")
        self.tensors = tensors

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, idx: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(t[idx] for t in self.tensors)


class BatchOrder(Sampler[torch.Tensor]):
    """Yields index tensors, one per batch: a fresh seeded permutation each epoch (or the natural order).

    The order depends only on ``(seed, epoch)``, so every process in a multi-process run draws the same
    permutation and takes its own ``rank::world_size`` share of it, and a resumed run can replay an
    epoch exactly. Lightning calls ``set_epoch`` before each epoch.
    """

    def __init__(
        self,
        n: int,
        batch_size: int,
        *,
        shuffle: bool,
        drop_last: bool = False,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ):
        self.n, self.batch_size, self.shuffle, self.drop_last = n, batch_size, shuffle, drop_last
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _indices(self) -> torch.Tensor:
        if self.shuffle:
            g = torch.Generator().manual_seed((self.seed * 1_000_003 + self.epoch) % 2**63)
            order = torch.randperm(self.n, generator=g)
        else:
            order = torch.arange(self.n)
        if self.world_size > 1:
            if self.shuffle:  # training: equal shares, so every process takes the same number of steps
                order = order[: len(order) - len(order) % self.world_size]
            order = order[self.rank :: self.world_size]  # evaluation: every sample exactly once
        return order

    def __iter__(self) -> Iterator[torch.Tensor]:
        order = self._indices()
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            yield order[start : start + self.batch_size]

    def __len__(self) -> int:
        if self.shuffle:
            per_rank = self.n // self.world_size
        else:
            per_rank = len(range(self.rank, self.n, self.world_size))
        if self.drop_last or (self.shuffle and per_rank % self.batch_size == 1 and per_rank > 1):
            # (A last training batch of one sample is left out too: batch normalisation cannot train on
            # one sample. Shuffled, it is another sample each epoch.)
            return per_rank // self.batch_size
        return math.ceil(per_rank / self.batch_size)


def quiet_loader(dataset: Any, **kwargs: Any) -> DataLoader:
    """A DataLoader that takes its worker seed from a random stream of its own. A plain one draws it
    from torch's global stream each time an epoch starts, moving the numbers dropout and augmentation
    draw next; an exact resume needs those to depend on the training steps alone."""
    return DataLoader(dataset, generator=torch.Generator(), **kwargs)


class ResumableOrder(Sampler):
    """A batch order that can start part-way through an epoch: the first ``skip`` batches of the next
    pass are left out (only their indices are drawn, no data is fetched)."""

    def __init__(self, order: Sampler):
        self.order, self.epoch, self.skip = order, 0, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        if hasattr(self.order, "set_epoch"):
            self.order.set_epoch(epoch)

    def __iter__(self) -> Iterator[Any]:
        skip, self.skip = self.skip, 0
        return itertools.islice(iter(self.order), skip, None)

    def __len__(self) -> int:
        return len(self.order)


class ResumableLoader(DataLoader):
    """The training loader. Lightning saves ``state_dict()`` in every checkpoint and hands it back to
    ``load_state_dict()`` on ``--resume``, so a run resumed from a mid-epoch checkpoint continues the
    same epoch's order at the next batch instead of starting the epoch again."""

    def __init__(self, dataset: Dataset, order: Sampler, trainer: Any, **kwargs: Any):
        super().__init__(dataset, sampler=ResumableOrder(order), batch_size=None, generator=torch.Generator(), **kwargs)
        self.trainer = trainer

    def state_dict(self) -> dict[str, int]:
        epoch, done = self.sampler.epoch, 0
        if self.trainer is not None:
            done = self.trainer.fit_loop.epoch_loop.batch_progress.current.processed
            if done >= self.trainer.num_training_batches:  # saved at the epoch's end: the next one starts afresh
                epoch, done = epoch + 1, 0
        return {"epoch": epoch, "batches_done": done}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.sampler.set_epoch(state["epoch"])
        self.sampler.skip = state["batches_done"]


def batch_loader(
    dataset: Dataset, batch_size: int, *, shuffle: bool, drop_last: bool, seed: int, trainer: Any
) -> DataLoader:
    """A DataLoader whose sampler yields whole batches of indices (``batch_size=None`` turns off
    per-sample collation). Pinned memory only when batches go to a GPU. The shuffled (training)
    loader is resumable mid-epoch."""
    rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
    order = BatchOrder(
        len(dataset), batch_size, shuffle=shuffle, drop_last=drop_last, seed=seed, rank=rank, world_size=world
    )
    if shuffle:
        return ResumableLoader(dataset, order, trainer, num_workers=0, pin_memory=feeds_gpu(trainer))
    return quiet_loader(dataset, sampler=order, batch_size=None, num_workers=0, pin_memory=feeds_gpu(trainer))


def feeds_gpu(trainer: Any) -> bool:
    """Whether batches go to a GPU: then the loader pins them, so the copy can overlap with compute."""
    return trainer is not None and trainer.accelerator.__class__.__name__ == "CUDAAccelerator"


def seeded_split(n: int, fraction: float, seed: int, mode: Literal["random", "last"] = "random"):
    """Indices ``(keep, held_out)`` with ``round(n * fraction)`` held out.

    ``random``: a seeded permutation, the same for the same ``(n, seed)``. ``last``: the last fraction
    in the original order, as Keras' ``validation_split`` does (it takes them before shuffling).
    """
    n_out = int(round(n * fraction))
    if fraction > 0 and n_out == 0:
        n_out = 1
    if n_out >= n:
        raise UsageError(f"a split of {fraction} leaves no training samples out of {n}")
    if mode == "last":
        order = torch.arange(n)
    else:
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[: n - n_out], order[n - n_out :]


class ZooDataModule(L.LightningDataModule):
    """Options every data set takes, and their checks.

    Subclasses fill ``self.train_set``, ``self.val_set``, ``self.test_set`` (``TensorBatches``) in
    ``setup`` and describe what they yield in ``describe()``, so that the CLI can size the model.
    """

    def __init__(
        self,
        *,
        batch_size: int = 128,
        eval_batch_size: int = 1024,
        val_split: float = 0.1,
        val_mode: Literal["random", "last"] = "random",
        split_seed: int = 0,
        drop_last: bool = False,
    ):
        super().__init__()
        if batch_size < 1:
            raise UsageError(f"data.batch_size must be a positive integer, got {batch_size}")
        if eval_batch_size < 1:
            raise UsageError(f"data.eval_batch_size must be a positive integer, got {eval_batch_size}")
        if not 0.0 <= val_split < 1.0:
            raise UsageError(f"data.val_split must be at least 0 and below 1, got {val_split}")
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.val_split, self.val_mode, self.split_seed = val_split, val_mode, split_seed
        self.drop_last = drop_last
        self.train_set = self.val_set = self.test_set = None
        # The training order follows the run's seed (seed_everything ran before this), the
        # validation split follows split_seed: changing the run's seed does not change the split.
        self.shuffle_seed = torch.initial_seed()

    @property
    def name(self) -> str:
        raise NotImplementedError

    @property
    def has_validation(self) -> bool:
        """Whether a validation split is held out (``val_split 0``, Keras' default, holds out none)."""
        return self.val_split > 0

    def describe(self) -> dict[str, Any]:
        """What the data yields, by the argument names models and tasks use (``num_classes``, ...)."""
        raise NotImplementedError

    def train_dataloader(self) -> DataLoader:
        return batch_loader(
            self.train_set,
            self.batch_size,
            shuffle=True,
            drop_last=self.drop_last,
            seed=self.shuffle_seed,
            trainer=self.trainer,
        )

    def val_dataloader(self) -> DataLoader:
        return self._eval_loader(self.val_set)

    def test_dataloader(self) -> DataLoader:
        return self._eval_loader(self.test_set)

    def _eval_loader(self, dataset: Dataset) -> DataLoader:
        return batch_loader(dataset, self.eval_batch_size, shuffle=False, drop_last=False, seed=0, trainer=self.trainer)


class InMemoryDataModule(ZooDataModule):
    """A labelled data set held as two tensors: features ``x`` (N, ...) and class labels ``y`` (N,).

    ``setup`` holds out a seeded test share (``test_split``, for sets without a test split of their
    own; those take it as an option), then the validation share, and keeps per-feature (dim 1) mean
    and std of the training split for the task to normalise with. Subclasses implement ``load``.
    """

    test_split = 0.2

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.class_names: list[str] = []

    def set_test_split(self, test_split: float) -> None:
        if not 0.0 < test_split < 1.0:
            raise UsageError(f"data.test_split must be between 0 and 1 (exclusive), got {test_split}")
        self.test_split = test_split

    def load(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """``(x, y, test_x, test_y)``, test None when the set has no test split; fills ``class_names``."""
        raise NotImplementedError

    def prepare_features(self, x: torch.Tensor) -> torch.Tensor:
        """Per-set preprocessing applied once to every split (images: resizing)."""
        return x

    def unit_features(self, x: torch.Tensor) -> torch.Tensor:
        """Features as the model's batches will see them before normalisation (images: [0, 1])."""
        return x.double()

    def split_off_test(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``(x, y, test_x, test_y)``: a seeded ``test_split`` of the samples, for a set without its own."""
        keep, test = seeded_split(len(x), self.test_split, self.split_seed + 1)
        if self.val_mode == "last":  # what is left keeps its order: "last" means last in the file
            keep = keep.sort().values
        return x[keep], y[keep], x[test], y[test]

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:  # Lightning calls setup again for every stage
            return
        x, y, test_x, test_y = self.load()
        if test_x is None:
            x, y, test_x, test_y = self.split_off_test(x, y)
        x, test_x = self.prepare_features(x), self.prepare_features(test_x)
        keep, val = seeded_split(len(x), self.val_split, self.split_seed, self.val_mode)
        self.train_set = TensorBatches(x[keep], y[keep])
        self.val_set = TensorBatches(x[val], y[val])
        self.test_set = TensorBatches(test_x, test_y)
        # Statistics of the training split only, so nothing about validation or test leaks into training.
        train_x = self.unit_features(x[keep])
        flat = train_x.transpose(0, 1).reshape(train_x.shape[1], -1)
        self.mean, self.std = flat.mean(1).tolist(), flat.std(1).clamp_min(1e-6).tolist()

    def describe(self) -> dict[str, Any]:
        shape = self.train_set.tensors[0].shape[1:]
        return {
            "in_features": math.prod(shape),
            "num_classes": len(self.class_names),
            "class_names": list(self.class_names),
            "input_mean": self.mean,
            "input_std": self.std,
        }
