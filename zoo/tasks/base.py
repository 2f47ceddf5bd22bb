"""The one LightningModule every model trains with.

A task wraps a plain ``nn.Module`` from the registry (Lightning's "system" pattern) and owns what the
model should not know: the loss, the metrics, the optimizer and schedule. Train, validation and test
run the same ``step``; subclasses only say how a batch becomes a loss and metric inputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch import nn
from torchmetrics import MeanMetric, Metric, MetricCollection

from zoo.callbacks import exact
from zoo.optim import build_optimizer, build_scheduler
from zoo.registry import get_model

STAGES = ("train", "val", "test")


class Task(L.LightningModule):
    #: registry name, saved in every checkpoint so ``zoo.load_checkpoint`` can rebuild the task
    name = ""
    #: the metric that decides the "best" checkpoint, and whether lower or higher is better
    monitor = ("val_loss", "min")
    #: what ``count_samples`` counts, for the throughput figure
    sample_unit = "samples"
    #: __init__ arguments that come from the data module's ``describe()``, not from the recipe
    filled_by_data: tuple[str, ...] = ()
    #: __init__ arguments that change how the task runs, not what it learns: a run may resume with
    #: other values, and checkpoints written before they existed still resume
    runtime_options: tuple[str, ...] = ("compile",)

    def __init__(
        self,
        *,
        model: str,
        model_kwargs: dict[str, Any] | None = None,
        optimizer: dict[str, Any] | None = None,
        scheduler: dict[str, Any] | None = None,
        compile: bool = False,
    ):
        super().__init__()
        # Every __init__ argument up the subclass chain lands in hparams and in each checkpoint, so
        # a checkpoint alone rebuilds the task (see zoo/checkpoint.py). Only plain data goes in there.
        self.save_hyperparameters()
        self.model = get_model(model, **(model_kwargs or {}))
        if compile:
            # torch.compile in place: the first batches take longer (compilation), later ones launch
            # fewer, fused kernels. The parameter names, and so checkpoints, stay as they are.
            self.model.compile()
        self.optimizer_cfg = optimizer or {"name": "adam", "lr": 1e-3}
        self.scheduler_cfg = scheduler or {"name": "constant"}
        # Separate metric objects per stage: torchmetrics accumulates over the epoch and, under DDP,
        # reduces across processes when Lightning computes them at the epoch's end.
        # (Keys carry a suffix because "train" is taken: it is nn.Module.train.)
        # nan_strategy="disable": no NaN check (a device sync) at every update; a NaN loss shows in the log.
        self.losses = nn.ModuleDict({f"{stage}_loss": MeanMetric(nan_strategy="disable") for stage in STAGES})
        self.penalty = MeanMetric(nan_strategy="disable")
        metrics = self.make_metrics()
        if metrics is not None:
            # compute_groups=False: sharing state between metrics that compute the same statistics
            # saves nothing for one metric, and its bookkeeping cost ~15 us at every update.
            collection = MetricCollection(metrics, compute_groups=False)
            self.metrics = nn.ModuleDict({f"{stage}_metrics": collection.clone(prefix=f"{stage}_") for stage in STAGES})
        # What the training epoch has accumulated so far goes into checkpoints, so that a run resumed
        # mid-epoch reports the same epoch figures as the run left alone.
        for accumulator in Task.train_accumulators(self):  # (a subclass adds its own after its __init__)
            accumulator.persistent(True)

    def __setattr__(self, name: str, value: Any) -> None:
        # Lightning records which hook is running in _current_fx_name, setting it some 40 times a
        # training step; nn.Module's __setattr__ looks for a parameter, buffer or submodule of that
        # name each time, ten times slower than a plain attribute (a string never is one of those).
        if name == "_current_fx_name":
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    # --- what subclasses provide -------------------------------------------------------------
    def make_metrics(self) -> dict[str, Metric] | None:
        """Metrics by name, updated with ``(preds, targets)`` at every step; None for a task that logs its own."""
        raise NotImplementedError

    def loss_and_outputs(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(mean loss, predictions, targets)``; predictions and targets feed ``make_metrics``."""
        raise NotImplementedError

    def count_samples(self, batch: Any) -> int:
        return len(batch[-1])

    def epoch_extras(self, stage: str, values: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Metrics derived from the epoch's values (a language model's perplexity from its loss)."""
        return {}

    # --- the shared loop ---------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def step(self, batch: Any, stage: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Loss and metric updates for one batch of any stage: ``(loss to minimise, preds, targets)``.

        Metrics only accumulate here; they are computed and logged once per epoch (``_log_epoch``).
        Logging torchmetrics objects at every step made Lightning walk each metric's state at every
        step, which cost more than a small model's whole forward and backward pass.
        """
        loss, preds, target = self.loss_and_outputs(batch)
        # The epoch's loss is the mean over samples, so a short last batch counts for what it holds.
        # MeanMetric(nan_strategy="disable") drops its weight argument (torchmetrics issue #3434), so
        # the batch mean goes in once per sample: a view, no copy (and no host-to-GPU copy of a count).
        self.losses[f"{stage}_loss"].update(loss.detach().expand(self.count_samples(batch)))
        self.metrics[f"{stage}_metrics"].update(preds.detach(), target)
        if stage == "train":
            # Weight penalties (an MLP's L1/L2) count in what is minimised, and are logged on their own
            # so the data loss stays comparable with runs that have none.
            penalty = getattr(self.model, "regularization_loss", lambda: None)()
            if penalty is not None:
                self.penalty.update(penalty.detach())
                loss = loss + penalty
        return loss, preds, target

    def _log_epoch(self, stage: str) -> None:
        loss, metrics = self.losses[f"{stage}_loss"], self.metrics[f"{stage}_metrics"]
        if loss.update_count:  # a stage that saw no batch (limit_val_batches=0) logs nothing
            # compute() reduces across processes under DDP, so every rank logs the same numbers.
            values = {f"{stage}_loss": loss.compute(), **metrics.compute()}
            values.update(self.epoch_extras(stage, values))
            if stage == "train":
                if self.penalty.update_count:
                    values["train_penalty"] = self.penalty.compute()
                values["lr"] = self.current_lr()  # for the next step
            if stage != "test":
                values.update(self.csv_axes())
            self.log_dict({k: exact(v) for k, v in values.items()}, prog_bar=stage != "test")
        for metric in (loss, metrics, self.penalty if stage == "train" else None):
            if metric is not None:
                metric.reset()

    def csv_axes(self) -> dict[str, float]:
        """What places a row of metrics.csv, to log beside figures logged while fitting: "step" is
        Lightning's key for the x-axis, optimizer steps so far (left to itself, Lightning puts a
        validation one step early); giving it makes Lightning leave out the epoch, so that goes in
        too. Nothing outside fitting (an evaluation's results are figures only)."""
        if self.trainer.state.fn != "fit":
            return {}
        return {"step": float(self.trainer.global_step), "epoch": float(self.current_epoch)}

    def train_accumulators(self) -> list[nn.Module]:
        """The metric objects that sum up a training epoch."""
        found = [self.losses["train_loss"], self.penalty]
        return found + [self.metrics["train_metrics"]] if hasattr(self, "metrics") else found

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        # Lightning validates before stopping for max_time or early stopping, but not when max_steps
        # ends a run in the middle of an epoch: the last steps (a decayed schedule's best) would never
        # be validated, and "best" and the test would use the weights of the last epoch's end.
        max_steps = self.trainer.max_steps
        if max_steps is not None and 0 <= max_steps <= self.trainer.global_step:
            self.trainer.should_stop = True

    def on_train_epoch_start(self) -> None:
        # (Lightning skips this hook when it resumes in the middle of an epoch: the sums go on.)
        for accumulator in self.train_accumulators():
            accumulator.reset()

    def on_train_epoch_end(self) -> None:
        self._log_epoch("train")

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self.step(batch, "train")[0]

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self.step(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self.step(batch, "test")

    def configure_optimizers(self) -> Any:
        optimizer, decay = build_optimizer(self.parameters(), self.optimizer_cfg)
        total_steps = self.trainer.estimated_stepping_batches  # inf when only max_time bounds the run
        steps_per_epoch = max(1, self.trainer.num_training_batches // self.trainer.accumulate_grad_batches)
        scheduler = build_scheduler(
            optimizer, self.scheduler_cfg, decay=decay, total_steps=total_steps, steps_per_epoch=steps_per_epoch,
            time_progress=self._time_progress(),
        )
        return {"optimizer": optimizer, "lr_scheduler": scheduler}

    def current_lr(self) -> float | None:
        """The learning rate the next update will use."""
        groups = self.trainer.optimizers[0].param_groups if self.trainer.optimizers else []
        return groups[0]["lr"] if groups else None

    def _time_progress(self):
        """A function giving the share of ``trainer.max_time`` spent training so far, or None."""
        from lightning.pytorch.callbacks import Timer

        timer = next((c for c in self.trainer.callbacks if isinstance(c, Timer)), None)
        if timer is None:
            return None

        def progress() -> float:
            elapsed = timer.time_elapsed("train")
            remaining = timer.time_remaining("train") or 0.0
            return min(1.0, elapsed / max(1e-9, elapsed + remaining))

        return progress

    def write_artifacts(self, run_dir: Path) -> dict[str, Any]:
        """After the test run: write task-specific files (pictures, vectors) into the run directory and
        return extra entries for the summary."""
        return {}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["zoo_task"] = self.name
        # The random streams behind dropout, noise and augmentation, so that a resumed run draws
        # exactly what the uninterrupted run would have (the data order has its own seeded stream).
        checkpoint["zoo_rng"] = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            checkpoint["zoo_rng"]["cuda"] = torch.cuda.get_rng_state_all()

    def on_train_start(self) -> None:
        # A schedule that asks for the number of steps (trainer.estimated_stepping_batches) makes
        # Lightning build the training loader before a resumed checkpoint is restored, and then it
        # never hands the loader its saved place in the epoch. Dropping that early loader makes
        # Lightning build it again at the epoch's start, now with the place (see ResumableLoader).
        loop = self.trainer.fit_loop
        if loop._combined_loader is not None and loop._combined_loader_states_to_load:
            loop._combined_loader = None

    @property
    def resuming_fit(self) -> bool:
        """Whether a checkpoint being loaded resumes training (``--resume``), rather than being read
        for evaluation or by ``zoo.load_checkpoint``: only then are random streams and sums restored."""
        return self._trainer is not None and self.trainer.state.fn == "fit"

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        resuming = self.resuming_fit
        if resuming:  # restored epoch sums that hold something count as updated
            for accumulator in self.train_accumulators():
                for metric in accumulator.values() if hasattr(accumulator, "values") else [accumulator]:
                    if any(
                        isinstance(default, torch.Tensor) and bool((getattr(metric, name).cpu().double() != default.cpu().double()).any())
                        for name, default in metric._defaults.items()
                    ):
                        metric._update_count = max(1, metric._update_count)
        if resuming and "zoo_rng" in checkpoint:
            torch.set_rng_state(checkpoint["zoo_rng"]["torch"])
            if "cuda" in checkpoint["zoo_rng"] and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(checkpoint["zoo_rng"]["cuda"])
