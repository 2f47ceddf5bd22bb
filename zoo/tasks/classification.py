"""Classification: inputs (images or feature vectors) -> one of ``num_classes`` labels.

The model's contract: ``forward(x)`` takes a batch of normalised inputs, images (B, C, H, W) or feature
vectors (B, F), and returns logits (B, num_classes); its constructor takes ``num_classes`` and, when it
accepts them, ``in_channels``/``in_features``/``input_size``, which the data fills in. An optional
``regularization_loss()`` (None or a scalar) is added to the training loss. A model with a fixed input
size says so in an ``input_size`` attribute, and images are resized to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torchmetrics import Metric
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix

from zoo.data.images import resize_images
from zoo.errors import UsageError
from zoo.registry import register_task
from zoo.tasks.supervised import SupervisedTask


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
class ClassificationTask(SupervisedTask):
    higher_is_better = ("acc",)
    sample_unit = "samples"
    filled_by_data = ("num_classes", "class_names", "input_mean", "input_std")

    def __init__(
        self,
        *,
        num_classes: int,
        class_names: list[str] | None = None,
        input_mean: list[float] | None = None,
        input_std: list[float] | None = None,
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
        # Inputs are normalised here, with the training split's statistics, so a checkpoint takes raw
        # data (images in [0, 1] or uint8, unscaled features) at inference time.
        self.register_buffer("input_mean", torch.tensor(input_mean or [0.0]), persistent=False)
        self.register_buffer("input_std", torch.tensor(input_std or [1.0]), persistent=False)
        self.test_confusion = MulticlassConfusionMatrix(num_classes, validate_args=False)
        self.confusion: torch.Tensor | None = None  # filled by the test run

    def make_metrics(self) -> dict[str, Metric]:
        # validate_args=False: the inputs are always well-formed logits and labels, and the checks
        # (a scan of the targets) cost more than the update itself on small batches.
        return {"acc": MulticlassAccuracy(self.num_classes, average="micro", validate_args=False)}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.uint8:
            x = x.float() / 255
        elif x.dtype != self.input_mean.dtype:
            x = x.to(self.input_mean.dtype)  # float64 from numpy, say: the weights' own dtype
        # Statistics are per channel (B, C, H, W) or per feature (B, F): broadcast along dim 1.
        shape = (1, -1) + (1,) * (x.dim() - 2)
        x = (x - self.input_mean.view(shape)) / self.input_std.view(shape)
        return self.model(x)  # (B, num_classes) logits

    def loss_and_outputs(self, batch):
        x, y = batch
        logits = self(x)
        return self.loss_fn(logits, y, self.label_smoothing), logits, y

    def fit_input_size(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, C, h, w) of another size than a fixed-size model takes (LeNet: 28 or 32) resized
        to it, bilinear with antialiasing, as the training images were; anything else as it is."""
        size = getattr(self.model, "input_size", None)
        return x if size is None or x.dim() != 4 else resize_images(x, size)

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> list[str]:
        """Class names for a batch of raw inputs (images of any size for a fixed-size model)."""
        return [self.class_names[i] for i in self(self.fit_input_size(x).to(self.device)).argmax(dim=1).tolist()]

    def test_step(self, batch: Any, batch_idx: int) -> None:
        _, logits, y = self.step(batch, "test")
        self.test_confusion.update(logits, y)

    def on_test_epoch_end(self) -> None:
        super().on_test_epoch_end()
        self.confusion = self.test_confusion.compute().cpu()
        self.test_confusion.reset()

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities (B, num_classes) for a batch of raw inputs."""
        return self(self.fit_input_size(x).to(self.device)).softmax(dim=1).cpu()

    def write_artifacts(self, run_dir: Path) -> dict[str, Any]:
        if not self.trainer.is_global_zero:
            return {}
        from zoo import plots

        if self.confusion is not None:
            plots.plot_confusion_matrix(self.confusion, self.class_names, run_dir / "confusion_matrix.png")
        data = self.trainer.datamodule
        if data is not None and data.describe().get("in_features") == 2 and self.num_classes == 2:
            was_training = self.training
            self.eval()
            train, test = data.train_set.tensors, data.test_set.tensors
            panels = self.boundary_panels(run_dir, train, test)
            plots.plot_decision_boundary(panels, train, test, run_dir / "decision_boundary.png")
            self.train(was_training)
        return {}

    def boundary_panels(self, run_dir: Path, train: Any, test: Any) -> Any:
        """What the decision boundary shows: the tested weights; or, when the best checkpoint comes from
        an earlier epoch than the last one, both side by side, so that over-fitting shows as the
        boundary bending around single training points between the two."""
        import copy

        from zoo.checkpoint import safe_load

        paths = [run_dir / "checkpoints" / f"{name}.ckpt" for name in ("best", "last")]
        if not all(p.is_file() for p in paths):
            return self.predict_proba
        best, last = (safe_load(p) for p in paths)
        if best.get("global_step") == last.get("global_step"):
            return self.predict_proba
        monitor = next((c.monitor for c in self.trainer.checkpoint_callbacks if c.monitor), "the monitor")
        panels = []
        for label, checkpoint in ((f"best {monitor}", best), ("last", last)):
            model = copy.deepcopy(self.model)
            model.load_state_dict({k[6:]: v for k, v in checkpoint["state_dict"].items() if k.startswith("model.")})

            def proba(x, model=model):
                return self.proba_with(model, x)

            scores = [float((proba(x).argmax(1) == y).float().mean()) for x, y in (train, test)]
            title = f"epoch {checkpoint['epoch'] + 1} ({label}): train acc {scores[0]:.3f}, test acc {scores[1]:.3f}"
            panels.append((title, proba))
        return panels

    def proba_with(self, model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
        """``predict_proba`` with another network of the same shape (other weights) in place of the task's."""
        current, self.model = self.model, model
        try:
            return self.predict_proba(x)
        finally:
            self.model = current
