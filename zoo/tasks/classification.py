"""Classification: inputs (images, feature vectors or table rows) -> one of ``num_classes`` labels.

The model's contract: ``forward(x)`` takes a batch of normalised inputs, images (B, C, H, W) or feature
vectors (B, F), and returns logits (B, num_classes); its constructor takes ``num_classes`` and, when it
accepts them, ``in_channels``/``in_features``/``input_size``, which the data fills in. An optional
``regularization_loss()`` (None or a scalar) is added to the training loss. A model with a fixed input
size says so in an ``input_size`` attribute, and images are resized to it. The data's targets are
class labels (``targets`` "classes"); ``predict`` takes raw inputs as ``zoo/tasks/features.py`` says.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torchmetrics import Metric
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix

from zoo.errors import UsageError
from zoo.registry import register_task
from zoo.tasks.features import FeaturesTask


def _cross_entropy(logits: torch.Tensor, target: torch.Tensor, label_smoothing: float) -> torch.Tensor:
    return F.cross_entropy(logits, target, label_smoothing=label_smoothing)


def _mse(logits: torch.Tensor, target: torch.Tensor, label_smoothing: float) -> torch.Tensor:
    # The lecture's loss='mean_squared_error': softmax probabilities against one-hot targets,
    # averaged over classes and samples as Keras does.
    one_hot = F.one_hot(target, logits.shape[1]).to(logits.dtype)
    return F.mse_loss(logits.softmax(dim=1), one_hot)


def _binary_cross_entropy(logits: torch.Tensor, target: torch.Tensor, label_smoothing: float) -> torch.Tensor:
    # Two-class problems with two output units: the logit of class 1 relative to class 0 is the one
    # logit a sigmoid output would have, so this is Keras' binary_crossentropy on a sigmoid unit.
    if logits.shape[1] != 2:
        raise UsageError(f"task.loss 'bce' is for two classes, this data has {logits.shape[1]}")
    return F.binary_cross_entropy_with_logits(logits[:, 1] - logits[:, 0], target.to(logits.dtype))


LOSSES = {"cross_entropy": _cross_entropy, "mse": _mse, "bce": _binary_cross_entropy}


@register_task("classification")
class ClassificationTask(FeaturesTask):
    higher_is_better = ("acc",)
    sample_unit = "samples"
    filled_by_data = ("num_classes", "class_names", *FeaturesTask.filled_by_data)
    targets = "classes"
    wrong_data = "data {data!r} holds numbers to predict, not classes: train on it with --task.name regression"

    def __init__(
        self,
        *,
        num_classes: int,
        class_names: list[str] | None = None,
        loss: Literal["cross_entropy", "mse", "bce"] = "cross_entropy",
        label_smoothing: float = 0.0,
        **kwargs: Any,
    ):
        self.num_classes = num_classes
        super().__init__(**kwargs)
        if not 0.0 <= label_smoothing < 1.0:
            raise UsageError(f"task.label_smoothing must be in [0, 1), got {label_smoothing}")
        self.loss_fn, self.label_smoothing = LOSSES[loss], label_smoothing
        self.class_names = class_names or [str(i) for i in range(num_classes)]
        self.test_confusion = MulticlassConfusionMatrix(num_classes, validate_args=False)
        self.confusion: torch.Tensor | None = None  # filled by the test run

    def make_metrics(self) -> dict[str, Metric]:
        # validate_args=False: the inputs are always well-formed logits and labels, and the checks
        # (a scan of the targets) cost more than the update itself on small batches.
        return {"acc": MulticlassAccuracy(self.num_classes, average="micro", validate_args=False)}

    def loss_and_outputs(self, batch):
        x, y = batch
        logits = self(x)
        return self.loss_fn(logits, y, self.label_smoothing), logits, y

    @torch.no_grad()
    def predict(self, rows: Any) -> list[str]:
        """Class names for raw inputs: images, feature vectors, or table rows (a DataFrame, a list of
        dicts, a CSV/Parquet path) as ``zoo/tasks/features.py`` says."""
        return [self.class_names[i] for i in self(self.inputs(rows)).argmax(dim=1).tolist()]

    def test_step(self, batch: Any, batch_idx: int) -> None:
        _, logits, y = self.step(batch, "test")
        self.test_confusion.update(logits, y)

    def on_test_epoch_end(self) -> None:
        super().on_test_epoch_end()
        self.confusion = self.test_confusion.compute().cpu()
        self.test_confusion.reset()

    @torch.no_grad()
    def predict_proba(self, rows: Any) -> torch.Tensor:
        """Class probabilities (B, num_classes) for raw inputs, as ``predict`` takes them."""
        return self(self.inputs(rows)).softmax(dim=1).cpu()

    def write_artifacts(self, run_dir: Path) -> dict[str, Any]:
        if not self.trainer.is_global_zero:
            return self.table_summary()
        from zoo import plots

        if self.confusion is not None:
            plots.plot_confusion_matrix(self.confusion, self.class_names, run_dir / "confusion_matrix.png")
        data = self.trainer.datamodule
        if data is not None and data.describe().get("in_features") == 2 and self.num_classes == 2:
            was_training = self.training
            self.eval()
            plots.plot_decision_boundary(
                self.predict_proba, data.train_set.tensors, data.test_set.tensors, run_dir / "decision_boundary.png"
            )
            self.train(was_training)
        return self.table_summary()
