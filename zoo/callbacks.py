"""Callbacks every run gets: per-epoch and per-step CSV logs, the throughput figure, and a progress
bar that redraws a few times a second instead of at every step."""

from __future__ import annotations

import csv
import io
import math
import time
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import TQDMProgressBar

from zoo.checkpoint import atomic_write_text


def _scalar(value: Any) -> float:
    return float(value.item() if hasattr(value, "item") else value)


def _learning_rate(trainer: L.Trainer) -> float | None:
    return trainer.optimizers[0].param_groups[0]["lr"] if trainer.optimizers else None


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, out.getvalue())


class EpochMetrics(L.Callback):
    """``metrics.csv``: one row per epoch with every ``train_*`` and ``val_*`` metric, the learning
    rate and the cumulative training time; the learning-curve picture is drawn from it at the end."""

    def __init__(self, run_dir: Path, throughput: "TrainThroughput"):
        self.path = run_dir / "metrics.csv"
        self.plot_path = run_dir / "learning_curves.png"
        self.throughput = throughput
        self.rows: list[dict[str, Any]] = []
        self._val: dict[str, float] = {}

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._val = {k: _scalar(v) for k, v in trainer.callback_metrics.items() if k.startswith("val_")}

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        train = {k: _scalar(v) for k, v in trainer.callback_metrics.items() if k.startswith("train_")}
        self.rows.append(
            {
                "epoch": trainer.current_epoch,
                "step": trainer.global_step,
                "lr": _learning_rate(trainer),
                "train_time_s": round(self.throughput.seconds, 3),
                **train,
                **self._val,
            }
        )
        self._val = {}
        write_csv(self.path, self.rows)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero and self.rows:
            from zoo.plots import plot_learning_curves

            plot_learning_curves(self.rows, self.plot_path, title=getattr(pl_module.hparams, "model", ""))

    def state_dict(self) -> dict[str, Any]:
        return {"rows": self.rows}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.rows = list(state_dict.get("rows", []))


class StepLog(L.Callback):
    """``steps.csv``: the training loss and learning rate every ``trainer.log_every_n_steps`` steps."""

    def __init__(self, run_dir: Path):
        self.path = run_dir / "steps.csv"
        self._file = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = trainer.global_step
        if not trainer.is_global_zero or step % max(1, trainer.log_every_n_steps) or outputs is None:
            return
        if self._file is None:
            new = not self.path.exists()
            self._file = open(self.path, "a", encoding="utf-8")
            if new:
                self._file.write("step,epoch,loss,lr\n")
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        self._file.write(f"{step},{trainer.current_epoch},{_scalar(loss):.6g},{_learning_rate(trainer):.6g}\n")

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
