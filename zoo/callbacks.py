"""What every run records: per-epoch and per-step CSV logs, the throughput figure, and a progress
bar that redraws a few times a second instead of at every step."""

from __future__ import annotations

import csv
import io
import math
import time
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.loggers import Logger
from lightning.pytorch.utilities import rank_zero_only

from zoo.checkpoint import atomic_write_text


def exact(value: Any) -> torch.Tensor:
    """A number to log, as a float64 tensor that says what it means. Lightning stores a logged Python
    float as float32 (0.064 becomes 0.06400000303983688) and hands loggers plain floats, so the dtype
    is gone by the time a row is written. A float32 value becomes the shortest decimal that float32
    reads back (0.064); float64 values (word2vec's exact loss, step counts) keep every digit."""
    if isinstance(value, torch.Tensor) and value.dtype != torch.float64:
        shortest = np.format_float_positional(np.float32(value.item()), unique=True)
        return torch.tensor(float(shortest), dtype=torch.float64)
    if isinstance(value, torch.Tensor):
        return value.detach()
    return torch.tensor(float(value), dtype=torch.float64)


def _column_order(name: str) -> tuple[int, str]:
    first = {"epoch": 0, "step": 1}
    return (first.get(name, 2 if name.startswith("train_") and name != "train_time_s" else 3 if name.startswith("val_") else 4), "")


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    columns = sorted(dict.fromkeys(key for row in rows for key in row), key=_column_order)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, out.getvalue())


class EpochCSVLogger(Logger):
    """``metrics.csv``: one row per epoch, merging what the task logs at the end of the training and
    validation epochs (``train_*``, ``val_*``, ``lr``, ``train_time_s``). The learning-curve picture is
    drawn from these rows when training ends."""

    def __init__(self, run_dir: Path, title: str = ""):
        super().__init__()
        self.run_dir, self.title = run_dir, title
        self.rows: dict[int, dict[str, Any]] = {}

    @property
    def name(self) -> str:
        return "zoo"

    @property
    def version(self) -> str:
        return self.run_dir.name

    @property
    def save_dir(self) -> str:
        return str(self.run_dir)

    @rank_zero_only
    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        pass  # the resolved recipe is config.yaml, and every checkpoint carries the hyperparameters

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        if "epoch" not in metrics:  # Lightning adds the epoch to everything logged from a hook
            return
        epoch = int(metrics["epoch"])
        row = self.rows.setdefault(epoch, {"epoch": epoch})
        row["step"] = int(step) if step is not None else None
        row.update({k: float(v) for k, v in metrics.items() if k != "epoch"})
        write_csv(self.run_dir / "metrics.csv", [self.rows[e] for e in sorted(self.rows)])

    @rank_zero_only
    def finalize(self, status: str) -> None:
        if self.rows:
            from zoo.plots import plot_learning_curves

            rows = [self.rows[e] for e in sorted(self.rows)]
            plot_learning_curves(rows, self.run_dir / "learning_curves.png", title=self.title)


class StepLog(L.Callback):
    """``steps.csv``: the training loss and learning rate every ``trainer.log_every_n_steps`` batches."""

    def __init__(self, run_dir: Path):
        self.path = run_dir / "steps.csv"
        self._file = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        batches = trainer.fit_loop.total_batch_idx + 1  # not global_step: word2vec has no optimizer steps
        if not trainer.is_global_zero or batches % max(1, trainer.log_every_n_steps) or outputs is None:
            return
        if self._file is None:
            new = not self.path.exists()
            self._file = open(self.path, "a", encoding="utf-8")
            if new:
                self._file.write("batch,epoch,loss,lr\n")
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        lr = pl_module.current_lr()
        self._file.write(f"{batches},{trainer.current_epoch},{exact(loss).item()!r},{'' if lr is None else repr(lr)}\n")

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self._file is not None:
            self._file.flush()

    def teardown(self, trainer, pl_module, stage: str) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class TrainThroughput(L.Callback):
    """Seconds spent on training batches (fetch, forward, backward, step) and samples trained.

    Time runs from each batch's end to the next one's, starting at the epoch's start, so validation,
    epoch-end checkpoints and the test run are not counted. ``samples`` counts what the task says a
    sample is (images, tokens, words), summed over every process.
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self.samples = 0
        self._mark: float | None = None

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._mark = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        now = time.perf_counter()
        if self._mark is not None:
            self.seconds += now - self._mark
        self._mark = now
        self.samples += pl_module.count_samples(batch) * trainer.world_size

    def on_validation_start(self, trainer, pl_module) -> None:
        self._mark = None  # a mid-epoch validation is not training time

    def on_validation_end(self, trainer, pl_module) -> None:
        self._mark = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        pl_module.log("train_time_s", exact(round(self.seconds, 3)))  # cumulative, into metrics.csv

    def samples_per_s(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else math.nan

    def state_dict(self) -> dict[str, Any]:
        return {"seconds": self.seconds, "samples": self.samples}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.seconds, self.samples = state_dict["seconds"], state_dict["samples"]


class ThrottledProgressBar(TQDMProgressBar):
    """Lightning's tqdm bar, redrawn at most every ``min_interval`` seconds (and at each epoch's end).

    Redrawing and collecting the metrics for it at every step of a small model costs a measurable
    share of the step time; a human cannot read faster than a few updates a second anyway.
    """

    def __init__(self, min_interval: float = 0.25):
        super().__init__(refresh_rate=1)
        self.min_interval = min_interval
        self._last_draw = 0.0

    def _should_update(self, current: int, total: int | float) -> bool:
        if not self.is_enabled:
            return False
        now = time.monotonic()
        if current == total or now - self._last_draw >= self.min_interval:
            self._last_draw = now
            return True
        return False
