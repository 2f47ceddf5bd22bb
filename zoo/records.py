"""The numbers a run records, and the CSV files they go into (``metrics.csv``, ``steps.csv``).

Lightning hands loggers plain floats, so what a number meant (float32 or float64) is gone by the time
a row is written; ``exact`` keeps it. Rows are written atomically and read back with their types.
A CSV cell made of a user's text goes through ``spreadsheet_safe`` first.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

# (torch and the checkpoint module, which imports Lightning, are imported where they are used: commands
# that only format cells, ``zoo.predict --help`` among them, answer without them)

#: the first characters that make a spreadsheet read a cell as a formula (OWASP's CSV injection list)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def spreadsheet_safe(text: Any) -> str:
    """A user's text (a file name, a class name) as a CSV cell a spreadsheet shows as text: a cell that
    starts like a formula (``=``, ``+``, ``-``, ``@``, a tab or a carriage return) gets a leading single
    quote, OWASP's rule against CSV injection (``=HYPERLINK(...)`` as a class name would otherwise
    run when the predictions are opened in Excel). A plain number (``-1``, ``+2.5``) is left as it is:
    a spreadsheet reads it as the number, and the quote would change it."""
    text = str(text)
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def exact(value: Any) -> torch.Tensor:
    """A number to log, as a float64 tensor that says what it means. Lightning stores a logged Python
    float as float32 (0.064 becomes 0.06400000303983688) and hands loggers plain floats, so the dtype
    is gone by the time a row is written. A float32 value becomes the shortest decimal that float32
    reads back (0.064); float64 values (word2vec's exact loss, step counts) keep every digit."""
    import numpy as np
    import torch

    if isinstance(value, torch.Tensor) and value.dtype != torch.float64:
        shortest = np.format_float_positional(np.float32(value.item()), unique=True)
        return torch.tensor(float(shortest), dtype=torch.float64)
    if isinstance(value, torch.Tensor):
        return value.detach()
    return torch.tensor(float(value), dtype=torch.float64)


def number(text: str) -> Any:
    """A CSV cell back as the number it was written as: '' -> None, '3' -> 3, '0.5' -> 0.5."""
    if text == "":
        return None
    value = float(text)
    return int(value) if value.is_integer() and "." not in text and "e" not in text else value


def _column_order(name: str) -> tuple[int, str]:
    first = {"epoch": 0, "step": 1}
    return (
        first.get(
            name, 2 if name.startswith("train_") and name != "train_time_s" else 3 if name.startswith("val_") else 4
        ),
        "",
    )


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """``rows`` as a CSV file (epoch, step, train_*, val_*, then the rest), written atomically."""
    columns = sorted(dict.fromkeys(key for row in rows for key in row), key=_column_order)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    from zoo.checkpoint import atomic_write_text

    atomic_write_text(path, out.getvalue())


def read_csv(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a CSV file zoo wrote, numbers as numbers and empty cells as None."""
    with open(path, encoding="utf-8", newline="") as f:
        return [{k: number(v) for k, v in row.items()} for row in csv.DictReader(f)]
