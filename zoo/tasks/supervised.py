"""Tasks that learn from (input, target) batches with a loss and torchmetrics metrics: classification
and language modelling (and any task built the same way).

Train, validation and test run the same ``step``; a subclass only says how a batch becomes a loss and
metric inputs (``loss_and_outputs``) and which metrics to keep (``make_metrics``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torchmetrics import MeanMetric, Metric, MetricCollection

from zoo.records import exact
from zoo.tasks.base import STAGES, Task


class SupervisedTask(Task):
    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        # Separate metric objects per stage: torchmetrics accumulates over the epoch and, under DDP,
        # reduces across processes when Lightning computes them at the epoch's end.
        # (Keys carry a suffix because "train" is taken: it is nn.Module.train.)
        # nan_strategy="disable": no NaN check (a device sync) at every update; a NaN loss shows in the log.
        self.losses = nn.ModuleDict({f"{stage}_loss": MeanMetric(nan_strategy="disable") for stage in STAGES})
        self.penalty = MeanMetric(nan_strategy="disable")
        # compute_groups=False: sharing state between metrics that compute the same statistics
        # saves nothing for one metric, and its bookkeeping cost ~15 us at every update.
        collection = MetricCollection(self.make_metrics(), compute_groups=False)
        self.metrics = nn.ModuleDict({f"{stage}_metrics": collection.clone(prefix=f"{stage}_") for stage in STAGES})
        self.mark_accumulators()

    # --- what subclasses provide -------------------------------------------------------------
    def make_metrics(self) -> dict[str, Metric]:
        """Metrics by name, updated with ``(preds, targets)`` at every step."""
        raise NotImplementedError

    def loss_and_outputs(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(mean loss, predictions, targets)``; predictions and targets feed ``make_metrics``."""
        raise NotImplementedError

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
        if stage == "train":
            objective, loss, preds, target, penalty = self.training_objective(batch)
        else:
            (loss, preds, target), penalty = self.loss_and_outputs(batch), None
            objective = loss
        # The epoch's loss is the mean over samples, so a short last batch counts for what it holds.
        # MeanMetric(nan_strategy="disable") drops its weight argument (torchmetrics issue #3434), so
        # the batch mean goes in once per sample: a view, no copy (and no host-to-GPU copy of a count).
        self.losses[f"{stage}_loss"].update(loss.detach().expand(self.count_samples(batch)))
        if preds is not None:  # (None: a model that did not score every class, see language_model.py)
            self.metrics[f"{stage}_metrics"].update(preds.detach(), target)
        if penalty is not None:
            self.penalty.update(penalty.detach())
        return objective, preds, target

    def training_objective(self, batch: Any) -> tuple[torch.Tensor, ...]:
        """``(what a training step minimises, data loss, predictions, targets, penalty or None)``, and no
        metric touched: the data loss plus the model's weight penalty (an MLP's L1/L2), which is logged on
        its own so the data loss stays comparable with runs that have none. (The Playground's page steps
        with this, and measures its losses over whole splits instead of per batch.)"""
        loss, preds, target = self.loss_and_outputs(batch)
        penalty = getattr(self.model, "regularization_loss", lambda: None)()
        return (loss if penalty is None else loss + penalty), loss, preds, target, penalty

    def _log_epoch(self, stage: str) -> None:
        loss, metrics = self.losses[f"{stage}_loss"], self.metrics[f"{stage}_metrics"]
        if loss.update_count:  # a stage that saw no batch (limit_val_batches=0) logs nothing
            # compute() reduces across processes under DDP, so every rank logs the same numbers.
            updated = any(metric.update_count for metric in metrics.values())
            values = {f"{stage}_loss": loss.compute(), **(metrics.compute() if updated else {})}
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

    def train_accumulators(self) -> list[nn.Module]:
        return [self.losses["train_loss"], self.penalty, self.metrics["train_metrics"]]

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
