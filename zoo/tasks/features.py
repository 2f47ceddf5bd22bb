"""What classification and regression share: they take raw inputs (images, feature vectors, or a
table's raw rows) and normalise them with the training split's statistics, kept in the checkpoint, so
that a loaded model predicts from data as it comes.

- images: PIL images, files, numpy or torch arrays (HWC or CHW, one or a batch, mixed sizes), uint8 or
  floats in [0, 1]; resized to the size the model was trained on;
- feature vectors (B, F): unscaled numbers, as the data set holds them;
- table rows (models trained on ``--data.name csv``): a pandas DataFrame, a list of dicts (column ->
  cell) or one dict, or the path of a CSV/Parquet file, with the training file's columns; cells as
  the file writes them (text, numbers, empty or ``NA`` for missing). The encoding learned from the
  training rows (``zoo/data/tables.py``) turns them into the network's inputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from zoo.data.images import image_batch
from zoo.tasks.supervised import SupervisedTask


class FeaturesTask(SupervisedTask):
    filled_by_data = ("input_mean", "input_std", "table")

    def __init__(
        self,
        *,
        input_mean: list[float] | None = None,
        input_std: list[float] | None = None,
        table: dict[str, Any] | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        # Inputs are normalised here, with the training split's statistics, so a checkpoint takes raw
        # data (images in [0, 1] or uint8, unscaled features) at inference time.
        self.register_buffer("input_mean", torch.tensor(input_mean or [0.0]), persistent=False)
        self.register_buffer("input_std", torch.tensor(input_std or [1.0]), persistent=False)
        self.table = table  # a table's column encoding (plain data), or None

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
        return self.model(self.normalise(x))

    def example_input(self, datamodule: Any) -> torch.Tensor | None:
        train = getattr(datamodule, "train_set", None)
        return None if train is None else self.normalise(train.tensors[0][:1].to(self.input_mean.device))

    # --- what the model takes: images or feature rows ----------------------------------------------
    @property
    def takes_images(self) -> bool:
        """Whether the model was trained on images (statistics per channel, fewer than its inputs)
        rather than feature vectors or table rows (statistics per feature)."""
        if self.table is not None:
            return False
        channels = len(self.hparams.get("input_mean") or [0.0])
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
        channels, width = len(self.hparams.get("input_mean") or [0.0]), self.input_width()
        if size is None and width:
            side = round((width / channels) ** 0.5)
            size = side if side * side * channels == width else None
        return size

    def inputs(self, rows: Any) -> torch.Tensor:
        """A batch for ``forward``, on the task's device, from what a user has: table rows (see the
        module's docstring) for a model trained on a table; images in any form ``image_batch`` reads
        (PIL, paths, numpy or torch, HWC or CHW, single or batched, mixed sizes) for a model trained on
        images; else a tensor or numpy array of feature vectors."""
        if self.table is not None and not isinstance(rows, (torch.Tensor, np.ndarray)):
            from zoo.data.tables import encode, rows_frame

            from_file = isinstance(rows, (str, Path))
            frame = rows_frame(rows, table=self.table)
            where = str(rows) if from_file else "rows"
            x = torch.from_numpy(encode(self.table, frame, where=where, first_row=2 if from_file else 0))
        elif self.takes_images:
            x = image_batch(rows, len(self.hparams.get("input_mean") or [0.0]), self.image_size())
        else:
            x = torch.as_tensor(np.asarray(rows)) if not isinstance(rows, torch.Tensor) else rows
        return x.to(self.device)

    def table_summary(self) -> dict[str, Any]:
        """For a table: how many rows were read and used, and how each column was encoded."""
        if self.table is None:
            return {}
        from zoo.data.tables import describe_columns

        return {"rows": dict(self.table["rows"]), "columns": describe_columns(self.table)}
