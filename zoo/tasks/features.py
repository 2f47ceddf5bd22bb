"""What classification and regression share: they take raw inputs (images, feature vectors, or a
table's raw rows) and normalise them with the training split's statistics, kept in the checkpoint, so
that a loaded model predicts from data as it comes.

- images (B, C, H, W): uint8, or floats in [0, 1]; resized to a fixed-size model's input;
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

from zoo.data.images import resize_images
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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.uint8:
            x = x.float() / 255
        elif x.dtype != self.input_mean.dtype:
            x = x.to(self.input_mean.dtype)  # float64 from numpy, say: the weights' own dtype
        # Statistics are per channel (B, C, H, W) or per feature (B, F): broadcast along dim 1.
        shape = (1, -1) + (1,) * (x.dim() - 2)
        x = (x - self.input_mean.view(shape)) / self.input_std.view(shape)
        return self.model(x)

    def inputs(self, rows: Any) -> torch.Tensor:
        """A batch for ``forward``, on the task's device, from what a user has: table rows (see the
        module's docstring) for a model trained on a table, else a tensor or numpy array of images
        (of any size for a fixed-size model) or feature vectors."""
        if self.table is not None and not isinstance(rows, (torch.Tensor, np.ndarray)):
            from zoo.data.tables import encode, rows_frame

            from_file = isinstance(rows, (str, Path))
            frame = rows_frame(rows, self.table.get("delimiter", ","))
            where = str(rows) if from_file else "rows"
            x = torch.from_numpy(encode(self.table, frame, where=where, first_row=2 if from_file else 0))
        else:
            x = torch.as_tensor(rows)
            size = getattr(self.model, "input_size", None)
            if size is not None and x.dim() == 4:
                # Images of another size than a fixed-size model takes (LeNet: 28 or 32): resized as
                # the training images were, bilinear with antialiasing.
                x = resize_images(x, size)
        return x.to(self.device)

    def table_summary(self) -> dict[str, Any]:
        """For a table: how many rows were read and used, and how each column was encoded."""
        if self.table is None:
            return {}
        from zoo.data.tables import describe_columns

        return {"rows": dict(self.table["rows"]), "columns": describe_columns(self.table)}
