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
from torch import nn
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
    filled_by_data = ("num_classes", "class_names", *FeaturesTask.filled_by_data, "input_size", "labels_are_ints")
    # (input_size describes the images; checkpoints from before it was kept resume without it)
    runtime_options = (*FeaturesTask.runtime_options, "input_size")
    targets = "classes"
    wrong_data = "data {data!r} holds numbers to predict, not classes: train on it with {task_regression}"

    def __init__(
        self,
        *,
        num_classes: int,
        class_names: list[str] | None = None,
        input_size: int | None = None,
        labels_are_ints: bool = False,
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
        # Labels given as ints (zoo.fit(data=(x, y)) with int y) come back as ints: pred == y_test compares.
        self.labels_are_ints = labels_are_ints
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
    def predict(self, rows: Any) -> list[str] | list[int]:
        """Class names for raw inputs: images, feature vectors, or table rows (a DataFrame, a list of
        dicts, a CSV/Parquet path) as ``zoo/tasks/features.py`` says; ints for a model trained on int
        labels (``zoo.fit(data=(x, y))``), as they were given."""
        return self.labels_of(self.predict_proba(rows).argmax(dim=1).tolist())

    def labels_of(self, indices: list[int]) -> list[str] | list[int]:
        """Class indices as the labels the model was trained with."""
        names = [self.class_names[i] for i in indices]
        return [int(name) for name in names] if self.labels_are_ints else names

    @torch.no_grad()
    def predict_topk(self, rows: Any, k: int = 3) -> list[list[tuple[str, float]]]:
        """The ``k`` likeliest classes of each input with their probabilities."""
        probs = self.predict_proba(rows)
        top = probs.topk(min(k, probs.shape[1]), dim=1)
        return [list(zip(self.labels_of(idx.tolist()), val.tolist())) for val, idx in zip(*top)]

    def test_step(self, batch: Any, batch_idx: int) -> None:
        _, logits, y = self.step(batch, "test")
        self.test_confusion.update(logits, y)

    def on_test_epoch_end(self) -> None:
        super().on_test_epoch_end()
        self.confusion = self.test_confusion.compute().cpu()
        self.test_confusion.reset()

    @torch.no_grad()
    def predict_proba(self, inputs: Any) -> torch.Tensor:
        """Class probabilities (N, num_classes) for raw inputs as ``predict`` takes them."""
        was_training = self.training
        self.eval()
        probs = self(self.inputs(inputs)).softmax(dim=1).cpu()
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

    def class_images(self, steps: int = 200, smoothness: float = 3.0) -> torch.Tensor:
        """For each class, an image the model is sure is of that class: gradient ascent on the pixels
        from plain grey ("activation maximisation", Erhan et al., 2009). What grows is the class's
        log-probability, so it is what sets the class apart from the others that appears; a penalty on
        the differences between neighbouring pixels (total variation) keeps the image smooth, since
        without it pixel-level noise that no photograph holds raises the score as well. Pixels are a
        sigmoid of what is optimised, so they stay in [0, 1] as an image's do. (classes, C, H, W)."""
        channels, size = len(self.hparams.get("input_mean") or [0.0]), self.image_size()
        raw = torch.zeros(self.num_classes, channels, size, size, device=self.device, requires_grad=True)
        optimizer = torch.optim.Adam([raw], lr=0.1)
        classes = torch.arange(self.num_classes, device=self.device)
        was_training = self.training
        self.eval()  # (dropout off, batch norm's running statistics)
        try:
            with torch.enable_grad():
                for _ in range(steps):
                    x = torch.sigmoid(raw)  # (K, C, H, W)
                    sure = self(x).log_softmax(1)[classes, classes]  # (K,): each image's own class
                    rough = x.diff(dim=2).abs().mean((1, 2, 3)) + x.diff(dim=3).abs().mean((1, 2, 3))  # (K,)
                    (raw.grad,) = torch.autograd.grad((smoothness * rough - sure).sum(), [raw])
                    optimizer.step()
        finally:
            self.train(was_training)
        return torch.sigmoid(raw).detach()

    def write_pictures(self, folder: Path, images: Any = None, title: str = "") -> list[Path]:
        """Pictures of what the model learned: a CNN's first filters and, for a few images, the feature
        maps after each convolution and pooling; an MLP on images, what its first units look for and an
        image of each class as it sees it."""
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
                batch = self.inputs(images)[:3]
                shown = f"{len(batch)} image{'s' if len(batch) != 1 else ''}"
                plots.plot_feature_maps(
                    batch.float() / (255 if batch.dtype == torch.uint8 else 1),
                    self.feature_stages(batch),
                    folder / "feature_maps.png",
                    f"{title}: what each convolution and pooling makes of {shown}".strip(": "),
                )
                written.append(folder / "feature_maps.png")
        elif self.takes_images and self.input_width():
            first = next(m for m in self.model.modules() if isinstance(m, nn.Linear))
            channels, size = len(self.hparams.get("input_mean") or [0.0]), self.image_size()
            if size:
                units = first.weight[:32].reshape(-1, channels, size, size)
                plots.plot_filters(
                    units,
                    folder / "first_layer.png",
                    f"{title}: what 32 of the first layer's {first.out_features} units look for".strip(": "),
                )
                written.append(folder / "first_layer.png")
                plots.plot_class_images(
                    self.class_images(),
                    self.class_names,
                    folder / "class_images.png",
                    f"{title}\nan image of each class, as the network sees it".strip(),
                )
                written.append(folder / "class_images.png")
        return written

    def write_artifacts(self, run_dir: Path, held_out: str = "test") -> dict[str, Any]:
        if not self.trainer.is_global_zero:
            return self.table_summary()
        from zoo import plots

        data = self.trainer.datamodule
        held = getattr(data, f"{held_out}_set", None)
        if self.takes_images and held is not None:
            held_x, held_y = held.tensors
            firsts = [int((held_y == c).nonzero()[0]) for c in held_y.unique()[:3]]  # three classes' first images
            self.write_pictures(run_dir, held_x[firsts], title=run_dir.name)
        if self.confusion is not None:
            plots.plot_confusion_matrix(self.confusion, self.class_names, run_dir / "confusion_matrix.png")
        if held is None or self.num_classes != 2:
            return self.table_summary()
        if getattr(data, "plane", None):  # the Playground's sets: points in the plane, the network sees features
            featurize, train, shown = data.featurize, data.plane["train"].tensors, data.plane[held_out].tensors
        elif data.describe().get("in_features") == 2:
            featurize, train, shown = None, data.train_set.tensors, held.tensors
        else:
            return self.table_summary()
        was_training = self.training
        self.eval()
        panels = self.boundary_panels(run_dir, train, shown, featurize, held_out=held_out)
        plots.plot_decision_boundary(panels, train, shown, run_dir / "decision_boundary.png", held_out=held_out)
        self.train(was_training)
        return self.table_summary()

    def boundary_panels(
        self, run_dir: Path, train: Any, held: Any, featurize: Any = None, held_out: str = "test"
    ) -> Any:
        """What the decision boundary shows: the tested weights; or, when the best checkpoint comes from
        an earlier epoch than the last one, both side by side, so that over-fitting shows as the
        boundary bending around single training points between the two, each titled with its accuracy
        on ``train`` and on ``held`` (the ``held_out`` split's points). ``featurize``: what the network
        sees of a point in the plane (the Playground's features), if not the point itself."""
        import copy

        def seen(points: torch.Tensor) -> torch.Tensor:
            return points if featurize is None else featurize(points)

        from zoo.checkpoint import safe_load

        paths = [run_dir / "checkpoints" / f"{name}.ckpt" for name in ("best", "last")]
        if not all(p.is_file() for p in paths):
            return lambda points: self.predict_proba(seen(points))
        best, last = (safe_load(p) for p in paths)
        if best.get("global_step") == last.get("global_step"):
            return lambda points: self.predict_proba(seen(points))
        monitor = next((c.monitor for c in self.trainer.checkpoint_callbacks if c.monitor), "the monitor")
        panels = []
        for label, checkpoint in ((f"best {monitor}", best), ("last", last)):
            model = copy.deepcopy(self.model)
            model.load_state_dict({k[6:]: v for k, v in checkpoint["state_dict"].items() if k.startswith("model.")})

            def proba(x, model=model):
                return self.proba_with(model, seen(x))

            scores = [float((proba(x).argmax(1) == y).float().mean()) for x, y in (train, held)]
            title = f"epoch {checkpoint['epoch']} ({label}): train acc {scores[0]:.3f}, {held_out} acc {scores[1]:.3f}"
            panels.append((title, proba))
        return panels

    def proba_with(self, model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
        """``predict_proba`` with another network of the same shape (other weights) in place of the task's."""
        current, self.model = self.model, model
        try:
            return self.predict_proba(x)
        finally:
            self.model = current
