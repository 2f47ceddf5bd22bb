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

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import Metric
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix

from zoo.data.images import image_batch
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
    filled_by_data = ("num_classes", "class_names", "input_mean", "input_std", "input_size")
    # (input_size describes the images; checkpoints from before it was kept resume without it)
    runtime_options = (*SupervisedTask.runtime_options, "input_size")

    def __init__(
        self,
        *,
        num_classes: int,
        class_names: list[str] | None = None,
        input_mean: list[float] | None = None,
        input_std: list[float] | None = None,
        input_size: int | None = None,
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

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """Raw inputs (uint8 images, floats in [0, 1], unscaled features) as the model takes them."""
        if x.dtype == torch.uint8:
            x = x.float() / 255
        elif x.dtype != self.input_mean.dtype:
            x = x.to(self.input_mean.dtype)  # float64 from numpy, say: the weights' own dtype
        # Statistics are per channel (B, C, H, W) or per feature (B, F): broadcast along dim 1.
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return (x - self.input_mean.view(shape)) / self.input_std.view(shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(self.normalise(x))  # (B, num_classes) logits

    def example_input(self, datamodule: Any) -> torch.Tensor | None:
        train = getattr(datamodule, "train_set", None)
        return None if train is None else self.normalise(train.tensors[0][:1].to(self.input_mean.device))

    def loss_and_outputs(self, batch):
        x, y = batch
        logits = self(x)
        return self.loss_fn(logits, y, self.label_smoothing), logits, y

    @property
    def takes_images(self) -> bool:
        """Whether the model was trained on images (statistics per channel, fewer than its inputs)
        rather than table rows (statistics per feature)."""
        channels = len(self.hparams.input_mean or [0.0])
        fixed = getattr(self.model, "input_size", None) is not None
        return channels in (1, 3) and (fixed or (self.input_width() or 0) > channels)

    def input_width(self) -> int | None:
        """How many numbers the model's first layer takes, where it says (an MLP's first Dense layer)."""
        if getattr(self.model, "input_size", None):
            return None
        first = next((m for m in self.model.modules() if isinstance(m, torch.nn.Linear)), None)
        return None if first is None else first.in_features

    def image_size(self) -> int | None:
        """The side of the square images the model was trained on: a fixed-size model's own (LeNet: 28 or
        32), else what the data said (``input_size``), else from an MLP's input width; None: any size."""
        size = getattr(self.model, "input_size", None) or self.hparams.get("input_size")
        channels, width = len(self.hparams.input_mean or [0.0]), self.input_width()
        if size is None and width:
            side = round((width / channels) ** 0.5)
            size = side if side * side * channels == width else None
        return size

    def prepare(self, inputs: Any) -> torch.Tensor:
        """Raw inputs as one batch for ``forward``: images in any of the forms ``image_batch`` reads (PIL,
        paths, numpy or torch, HWC or CHW, single or batched, mixed sizes), or a batch of feature rows."""
        if self.takes_images:
            return image_batch(inputs, len(self.hparams.input_mean or [0.0]), self.image_size())
        return inputs if isinstance(inputs, torch.Tensor) else torch.as_tensor(np.asarray(inputs))

    @torch.no_grad()
    def predict(self, inputs: Any) -> list[str]:
        """Class names for raw inputs (see ``prepare``)."""
        return [self.class_names[i] for i in self.predict_proba(inputs).argmax(dim=1).tolist()]

    @torch.no_grad()
    def predict_topk(self, inputs: Any, k: int = 3) -> list[list[tuple[str, float]]]:
        """The ``k`` likeliest classes of each input with their probabilities."""
        probs = self.predict_proba(inputs)
        top = probs.topk(min(k, probs.shape[1]), dim=1)
        return [[(self.class_names[i], p) for i, p in zip(idx.tolist(), val.tolist())] for val, idx in zip(*top)]

    def test_step(self, batch: Any, batch_idx: int) -> None:
        _, logits, y = self.step(batch, "test")
        self.test_confusion.update(logits, y)

    def on_test_epoch_end(self) -> None:
        super().on_test_epoch_end()
        self.confusion = self.test_confusion.compute().cpu()
        self.test_confusion.reset()

    @torch.no_grad()
    def predict_proba(self, inputs: Any) -> torch.Tensor:
        """Class probabilities (N, num_classes) for raw inputs (see ``prepare``)."""
        was_training = self.training
        self.eval()
        probs = self(self.prepare(inputs).to(self.device)).softmax(dim=1).cpu()
        self.train(was_training)
        return probs

    # --- what it learned, as pictures ------------------------------------------------------------
    @torch.no_grad()
    def feature_stages(self, images: torch.Tensor) -> list[list[tuple[str, torch.Tensor]]]:
        """For each image (N, C, H, W, raw), what each convolution and pooling layer made of it, in order."""
        seen: list[tuple[str, torch.Tensor]] = []
        kinds = {nn.Conv2d: "convolution", nn.MaxPool2d: "max pooling", nn.AvgPool2d: "average pooling"}
        layers = [(f"{kinds[type(m)]} ({name})", m) for name, m in self.model.named_modules() if type(m) in kinds]
        hooks = [m.register_forward_hook(lambda m, i, out, name=name: seen.append((name, out))) for name, m in layers]
        was_training = self.training
        self.eval()
        try:
            self(images.to(self.device))
        finally:
            self.train(was_training)
            for hook in hooks:
                hook.remove()
        return [[(name, out[i]) for name, out in seen] for i in range(len(images))]

    def write_pictures(self, folder: Path, images: Any = None, title: str = "") -> list[Path]:
        """Pictures of what the model learned: a CNN's first filters and, for a few images, the feature
        maps after each convolution and pooling; an MLP on images, what its first units look for."""
        from zoo import plots

        folder.mkdir(parents=True, exist_ok=True)
        written = []
        convolutions = [m for m in self.model.modules() if isinstance(m, nn.Conv2d)]
        if convolutions:
            plots.plot_filters(
                convolutions[0].weight,
                folder / "filters.png",
                f"{title}: the first convolution's {convolutions[0].out_channels} filters".strip(": "),
            )
            written.append(folder / "filters.png")
            if images is not None:
                batch = self.prepare(images)[:3]
                plots.plot_feature_maps(
                    batch.float() / (255 if batch.dtype == torch.uint8 else 1),
                    self.feature_stages(batch),
                    folder / "feature_maps.png",
                    f"{title}: what each convolution and pooling makes of {len(batch)} images".strip(": "),
                )
                written.append(folder / "feature_maps.png")
        elif self.takes_images and self.input_width():
            first = next(m for m in self.model.modules() if isinstance(m, nn.Linear))
            channels, size = len(self.hparams.input_mean or [0.0]), self.image_size()
            if size:
                units = first.weight[:32].reshape(-1, channels, size, size)
                plots.plot_filters(
                    units,
                    folder / "first_layer.png",
                    f"{title}: what 32 of the first layer's {first.out_features} units look for".strip(": "),
                )
                written.append(folder / "first_layer.png")
        return written

    def write_artifacts(self, run_dir: Path) -> dict[str, Any]:
        if not self.trainer.is_global_zero:
            return {}
        from zoo import plots

        data = self.trainer.datamodule
        if self.takes_images and data is not None and getattr(data, "test_set", None) is not None:
            test_x, test_y = data.test_set.tensors
            firsts = [int((test_y == c).nonzero()[0]) for c in test_y.unique()[:3]]  # three classes' first images
            self.write_pictures(run_dir, test_x[firsts], title=run_dir.name)
        if self.confusion is not None:
            plots.plot_confusion_matrix(self.confusion, self.class_names, run_dir / "confusion_matrix.png")
        if data is not None and data.describe().get("in_features") == 2 and self.num_classes == 2:
            was_training = self.training
            self.eval()
            plots.plot_decision_boundary(
                self.predict_proba, data.train_set.tensors, data.test_set.tensors, run_dir / "decision_boundary.png"
            )
            self.train(was_training)
        return {}
