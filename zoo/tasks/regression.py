"""Regression: inputs (feature vectors or table rows) -> one or more numbers; Keras' Dense output
without activation, compiled with ``loss='mean_squared_error'``.

The model's contract: ``forward(x)`` takes a batch of normalised feature vectors (B, F) and returns
(B, num_outputs) numbers, one per target, with no activation on the output; its constructor takes
``num_outputs`` (the number of targets) and, when it accepts it, ``in_features``, which the data fills
in. An optional ``regularization_loss()`` (None or a scalar) is added to the training loss. The data's
targets are numbers (``targets`` "numbers"), float (N, T).

The targets are standardised with the training split's mean and std (kept in the checkpoint): the
model predicts standardised numbers and the loss is computed on them (so with mse, 1.0 is what always
predicting the training mean scores, on any data). The metrics are in the targets' own units: mse,
rmse (the square root of the epoch's mse) and mae over all targets together, and r2, the mean of each
target's R² (1 is perfect, 0 is predicting the mean). ``predict`` takes raw inputs as
``zoo/tasks/features.py`` says and returns numbers in the original units.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torchmetrics import Metric
from torchmetrics.aggregation import CatMetric
from torchmetrics.regression import MeanAbsoluteError, MeanSquaredError, R2Score

from zoo.errors import UsageError
from zoo.registry import register_task
from zoo.tasks.features import FeaturesTask


class R2(R2Score):
    """R² that is NaN, instead of an error, for fewer than two samples (a tiny validation split)."""

    def compute(self) -> torch.Tensor:
        if self.total < 2:
            return torch.tensor(float("nan"), device=self.total.device)
        return super().compute()


@register_task("regression")
class RegressionTask(FeaturesTask):
    higher_is_better = ("r2",)
    sample_unit = "samples"
    filled_by_data = ("target_names", "target_mean", "target_std", *FeaturesTask.filled_by_data)
    targets = "numbers"
    wrong_data = (
        "data {data!r} holds classes, not numbers to predict: train on it with {task_classification} "
        "(numbers: diabetes, linnerud, plane, multi_gaussian, or csv with {data_target})"
    )

    def __init__(
        self,
        *,
        target_names: list[str] | None = None,
        target_mean: list[float] | None = None,
        target_std: list[float] | None = None,
        loss: Literal["mse", "mae", "huber"] = "mse",
        huber_delta: float = 1.0,
        **kwargs: Any,
    ):
        if "num_outputs" not in (kwargs.get("model_kwargs") or {}):
            raise UsageError(
                f"model {kwargs.get('model')!r} does not fit the regression task: its constructor takes no "
                "num_outputs (the number of targets, which sizes its output layer)"
            )
        self.target_names = list(target_names or ["value"])
        super().__init__(**kwargs)
        if huber_delta <= 0:
            raise UsageError(f"task.huber_delta must be positive, got {huber_delta}")
        self.loss_name, self.huber_delta = loss, huber_delta
        width = len(self.target_names)
        self.register_buffer("target_mean", torch.tensor(target_mean or [0.0] * width), persistent=False)
        self.register_buffer("target_std", torch.tensor(target_std or [1.0] * width), persistent=False)
        # The test split's predictions and targets, for the pictures (gathered across processes).
        self.test_preds, self.test_targets = CatMetric(nan_strategy="disable"), CatMetric(nan_strategy="disable")
        self.predictions: tuple[torch.Tensor, torch.Tensor] | None = None  # filled by the test run

    def make_metrics(self) -> dict[str, Metric]:
        return {"mse": MeanSquaredError(), "mae": MeanAbsoluteError(), "r2": R2()}

    def epoch_extras(self, stage: str, values: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {f"{stage}_rmse": values[f"{stage}_mse"].sqrt()}

    def loss_and_outputs(self, batch):
        x, y = batch  # y: (B, T) in the targets' units
        scaled = self(x)  # (B, T) standardised predictions
        target = (y - self.target_mean) / self.target_std
        if self.loss_name == "mse":
            loss = F.mse_loss(scaled, target)
        elif self.loss_name == "mae":
            loss = F.l1_loss(scaled, target)
        else:  # quadratic within huber_delta (in standard deviations) of the target, linear beyond
            loss = F.huber_loss(scaled, target, delta=self.huber_delta)
        return loss, scaled.detach() * self.target_std + self.target_mean, y

    @torch.no_grad()
    def predict(self, rows: Any) -> torch.Tensor:
        """Numbers in the targets' original units for raw inputs (feature vectors, or table rows: a
        DataFrame, a list of dicts, a CSV/Parquet path): (B,) for one target, (B, T) for several, in
        the order of ``target_names``."""
        was_training = self.training
        self.eval()  # dropout and batch norm as at test time, whatever mode the task was in
        out = (self(self.inputs(rows)) * self.target_std + self.target_mean).cpu()
        self.train(was_training)
        return out[:, 0] if out.shape[1] == 1 else out

    def test_step(self, batch: Any, batch_idx: int) -> None:
        _, preds, y = self.step(batch, "test")
        self.test_preds.update(preds)
        self.test_targets.update(y)

    def on_test_epoch_end(self) -> None:
        super().on_test_epoch_end()
        if self.test_preds.update_count:
            width = len(self.target_names)
            preds, targets = self.test_preds.compute().view(-1, width), self.test_targets.compute().view(-1, width)
            self.predictions = preds.cpu(), targets.cpu()
        self.test_preds.reset()
        self.test_targets.reset()

    def write_artifacts(self, run_dir: Path, held_out: str = "test") -> dict[str, Any]:
        if not self.trainer.is_global_zero:
            return self.table_summary()
        from zoo import plots

        data = self.trainer.datamodule
        title = f"{self.hparams.model} on {getattr(data, 'name', 'data')}, {run_dir.name}"
        if self.predictions is not None:
            preds, targets = self.predictions
            plots.plot_predictions(preds, targets, self.target_names, run_dir / "predicted_vs_true.png", title)
            plots.plot_residuals(preds, targets, self.target_names, run_dir / "residuals.png", title)
        held = getattr(data, f"{held_out}_set", None)
        if (
            held is not None
            and self.table is None
            and data.describe().get("in_features") == 2
            and len(self.target_names) == 1
        ):
            was_training = self.training
            self.eval()
            plots.plot_learned_surface(
                self.predict,
                data.train_set.tensors,
                held.tensors,
                run_dir / "learned_surface.png",
                title,
                held_out=held_out,
            )
            self.train(was_training)
        return self.table_summary()
