"""Tables as they come: reading CSV and Parquet files with pandas, and turning their columns (numbers,
text, empty cells) into the numeric inputs of a network.

The encoding is learned from the training rows only and kept as plain data (lists, strings, numbers),
so it travels in the checkpoint and a loaded model takes raw rows exactly like the training file's:

- **types**: a column is numeric when every cell that is not missing is a number (in the whole file:
  a type is a property of the column); any other column is categorical. ``categorical``/``numeric``
  override that per column; ``drop`` leaves columns out.
- **missing cells**: the texts in ``missing`` (empty, ``NA``, ``NaN``, ``?``, ...) and empty values
  of a DataFrame. A numeric column gets the training rows' median in their place, plus a 0/1
  "was missing" input when its training rows had missing cells. In a categorical column a missing
  cell is a category of its own, ``(missing)``.
- **categories**: one 0/1 input (one-hot) per category seen at least ``MIN_COUNT`` times in the
  training rows, plus one ``(unknown)`` input. Rarer categories, and categories never seen in
  training, set the ``(unknown)`` input, so the network learns from the rare ones what an uncommon
  value does. When no training category was rare, the ``(unknown)`` input never had a training row,
  and an unseen category sets none of the column's inputs instead of an input with untrained weights.
  A column with more than ``max_categories`` distinct values is refused (a name or an id column
  would otherwise become hundreds of inputs): drop it, or raise the limit.
- **scaling**: numeric inputs are standardised by the task with the training rows' mean and std
  (``input_stats``); 0/1 inputs are left as they are.

pandas is imported inside the functions that need it, so that ``import zoo`` stays light.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import DataError, UsageError

#: cell texts read as missing unless the recipe says otherwise (``--data.missing``)
MISSING = ("", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "?")
#: a category needs this many training rows for an input of its own; rarer ones count as unknown
MIN_COUNT = 2
MISSING_CATEGORY, UNKNOWN_CATEGORY = "(missing)", "(unknown)"
PARQUET_SUFFIXES = (".parquet", ".pq")


def column_list(option: str | Sequence[str] | None) -> list[str]:
    """``"a,b"`` or ``["a", "b"]`` -> ``["a", "b"]`` (a recipe list, or the command line's comma list)."""
    if option is None:
        return []
    items = option.split(",") if isinstance(option, str) else list(option)
    return [str(item).strip() for item in items if str(item).strip()]


def read_table(path: str | Path, delimiter: str = ",") -> Any:
    """A CSV (any ``delimiter``) or Parquet file as a DataFrame; a CSV's cells stay text, exactly as
    written, so that type inference, categories and missing markers all see what the file holds."""
    import pandas as pd

    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"table not found: {path}")
    if path.suffix.lower() in PARQUET_SUFFIXES:
        try:
            import pyarrow  # noqa: F401  (pandas reads Parquet through it)
        except ImportError:
            raise UsageError(f"reading {path.name} needs pyarrow: pip install 'zoo[parquet]'") from None
        try:
            return pd.read_parquet(path)
        except Exception as err:  # pyarrow's errors have no common base worth naming
            raise DataError(f"{path} is not a Parquet file pandas can read ({str(err).splitlines()[0]})") from None
    try:
        # utf-8-sig: Excel's "CSV UTF-8" begins with a byte-order mark, not part of the first name
        frame = pd.read_csv(
            path, sep=delimiter, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig"
        )
    except UnicodeDecodeError as err:
        raise DataError(f"{path} is not a text table: not UTF-8 ({err.reason} at byte {err.start})") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty") from None
    except pd.errors.ParserError as err:
        raise DataError(f"{path} is not a table with {delimiter!r} between cells: {_parser_message(err)}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    duplicated = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
    if duplicated:
        raise DataError(f"{path}: the header names {', '.join(map(repr, duplicated))} more than once")
    return frame


def _parser_message(err: Exception) -> str:
    import re

    found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(err))
    if found:
        expected, line, saw = found.groups()
        return f"line {line} has {saw} cells, the header has {expected}"
    return str(err).strip().splitlines()[-1]


def rows_frame(rows: Any, delimiter: str = ",") -> Any:
    """Rows for a prediction as a DataFrame: a DataFrame, a list of dicts (or one dict), or the path of
    a CSV or Parquet file read as the training file was."""
    import pandas as pd

    if isinstance(rows, pd.DataFrame):
        return rows
    if isinstance(rows, (str, Path)):
        return read_table(rows, delimiter)
    if isinstance(rows, dict):
        rows = [rows]
    if isinstance(rows, Iterable) and not isinstance(rows, (bytes, np.ndarray)):
        rows = list(rows)
        if all(isinstance(row, dict) for row in rows):
            return pd.DataFrame(rows)
    raise UsageError(
        "table rows must be a pandas DataFrame, a list of dicts (column -> cell), or a CSV/Parquet path; "
        f"got {type(rows).__name__}"
    )


def cells(column: Any, missing: Iterable[str]) -> tuple[Any, Any]:
    """``(text, is_missing)`` for one column: each cell as stripped text (numbers of a numeric DataFrame
    column written as the file would, 3.0 as 3) and whether it counts as missing."""
    import pandas as pd

    absent = column.isna()
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        text = column.map(_number_text)
    else:
        text = column.astype(object).where(~absent, "").map(str).str.strip()
    return text, absent | text.isin(list(missing))


def _number_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def numbers(text: Any, is_missing: Any) -> Any:
    """Float values of text cells: NaN where missing or where the cell is not a number."""
    import pandas as pd

    return pd.to_numeric(text.where(~is_missing), errors="coerce").astype("float64")


def not_numbers(text: Any, is_missing: Any) -> Any:
    """Cells that are neither missing nor a number (a mask)."""
    return ~is_missing & numbers(text, is_missing).isna()


def examples(text: Any, mask: Any, first_row: int = 2, most: int = 3) -> str:
    """``row 4 'abc', row 9 'x'`` for the first cells where ``mask`` holds; a row is its index plus
    ``first_row`` (2 for a file read as a spreadsheet counts, the header being row 1)."""
    where = np.flatnonzero(mask.to_numpy())
    shown = ", ".join(f"row {text.index[i] + first_row} {text.iloc[i]!r}" for i in where[:most])
    return shown + (f" and {len(where) - most} more" if len(where) > most else "")


# --- learning the encoding from the training rows ----------------------------------------------


def fit_columns(
    frame: Any,
    train: np.ndarray,
    features: Sequence[str],
    *,
    categorical: Sequence[str] = (),
    numeric: Sequence[str] = (),
    missing: Sequence[str] = MISSING,
    max_categories: int = 50,
) -> tuple[list[dict[str, Any]], list[str]]:
    """``(columns, problems)``: how each feature column is encoded, learned from the rows ``train``
    (positions in ``frame``), and every problem found on the way (each a short sentence), so that a
    table with several problems is reported once with all of them."""
    columns, problems = [], []
    for name in features:
        text, is_missing = cells(frame[name], missing)
        if bool(is_missing.all()):
            problems.append(f"column {name!r} is empty (every cell is missing): leave it out with --data.drop {name}")
            continue
        train_text, train_missing = text.iloc[train], is_missing.iloc[train]
        if bool(train_missing.all()):
            problems.append(f"column {name!r} has no value in the training rows: leave it out with --data.drop {name}")
            continue
        wrong = not_numbers(text, is_missing)
        if name in categorical or (name not in numeric and bool(wrong.any())):
            distinct = text[~is_missing].nunique()
            if distinct > max_categories:
                problems.append(
                    f"column {name!r} has {distinct} distinct values, more than --data.max_categories "
                    f"{max_categories}: leave it out with --data.drop {name}, or raise --data.max_categories"
                )
                continue
            columns.append(_fit_categorical(name, train_text.where(~train_missing, MISSING_CATEGORY)))
        elif bool(wrong.any()):
            problems.append(f"column {name!r} is --data.numeric but holds text: {examples(text, wrong)}")
        else:
            values = numbers(train_text, train_missing)
            median = float(values.median())
            filled = values.fillna(median)
            std = float(filled.std(ddof=1)) if len(filled) > 1 else 0.0
            columns.append(
                {
                    "name": name,
                    "kind": "numeric",
                    "median": median,
                    "mean": float(filled.mean()),
                    "std": std if std > 1e-12 else 1.0,  # a constant column: nothing to scale
                    "missing_input": bool(train_missing.any()),
                    "missing_in_training": int(train_missing.sum()),
                }
            )
    return columns, problems


def _fit_categorical(name: str, train_text: Any) -> dict[str, Any]:
    counts = train_text.value_counts()
    kept = sorted(counts[counts >= MIN_COUNT].index, key=sort_key)
    return {
        "name": name,
        "kind": "categorical",
        "categories": [str(c) for c in kept],
        "unknown_trained": bool((counts < MIN_COUNT).any()),  # whether rare training rows set (unknown)
    }


def sort_key(label: str) -> tuple[int, float, str]:
    """Sort labels numerically when they are numbers ("2" before "10"), else by name."""
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def feature_names(columns: Sequence[dict[str, Any]]) -> list[str]:
    """The network's inputs, in order: ``age``, ``age (missing)``, ``town=Paris``, ``town=(unknown)``."""
    out = []
    for column in columns:
        name = column["name"]
        if column["kind"] == "numeric":
            out += [name] + ([f"{name} (missing)"] if column["missing_input"] else [])
        else:
            out += [f"{name}={c}" for c in column["categories"]] + [f"{name}={UNKNOWN_CATEGORY}"]
    return out


def input_stats(columns: Sequence[dict[str, Any]]) -> tuple[list[float], list[float]]:
    """Per-input mean and std for the task's standardisation: numeric inputs by their training rows,
    0/1 inputs (one-hot, was-missing) left as they are (mean 0, std 1)."""
    mean, std = [], []
    for column in columns:
        if column["kind"] == "numeric":
            mean.append(column["mean"])
            std.append(column["std"])
            width = int(column["missing_input"])
        else:
            width = len(column["categories"]) + 1
        mean += [0.0] * width
        std += [1.0] * width
    return mean, std


# --- encoding rows with a learned encoding -------------------------------------------------------


def encode(table: dict[str, Any], frame: Any, *, where: str = "rows", first_row: int = 2) -> np.ndarray:
    """``frame``'s rows as the network's inputs (N, F) float32, by the encoding ``table`` (the plain
    data ``describe()`` gives and the checkpoint keeps). Columns the model does not know, or lacks,
    are refused in one line naming them; the target and dropped columns may be there or not."""
    import pandas as pd

    columns, missing = table["columns"], table["missing"]
    frame = frame.reset_index(drop=True)  # rows are counted by position from first_row
    needed = [c["name"] for c in columns]
    absent = [name for name in needed if name not in frame.columns]
    extra = [str(c) for c in frame.columns if c not in needed and c not in table.get("ignored", ())]
    if absent or extra:
        said = [f"lack the columns {', '.join(map(repr, absent))}"] if absent else []
        said += [f"have columns the model was not trained on: {', '.join(map(repr, extra))}"] if extra else []
        raise DataError(f"{where} {' and '.join(said)} (the model's columns: {', '.join(needed)})")
    blocks, problems = [], []
    for column in columns:
        text, is_missing = cells(frame[column["name"]], missing)
        if column["kind"] == "numeric":
            wrong = not_numbers(text, is_missing)
            if bool(wrong.any()):
                problems.append(
                    f"column {column['name']!r} holds text where numbers belong: {examples(text, wrong, first_row)}"
                )
                continue
            values = numbers(text, is_missing).to_numpy()
            blocks.append(np.where(np.isnan(values), column["median"], values)[:, None])
            if column["missing_input"]:
                blocks.append(np.isnan(values)[:, None].astype(np.float64))
        else:
            categories = column["categories"]
            codes = pd.Categorical(text.where(~is_missing, MISSING_CATEGORY), categories=categories).codes
            # (-1: not a training category) -> the unknown input, or none when it never had a training row
            codes = np.where(codes < 0, len(categories) if column["unknown_trained"] else -1, codes)
            one_hot = np.zeros((len(codes), len(categories) + 1))
            rows = np.flatnonzero(codes >= 0)
            one_hot[rows, codes[rows]] = 1.0
            blocks.append(one_hot)
    if problems:
        raise DataError(f"{where}: {'; '.join(problems)}")
    if not blocks:
        return np.zeros((len(frame), 0), dtype=np.float32)
    return np.concatenate(blocks, axis=1).astype(np.float32)


def describe_columns(table: dict[str, Any]) -> dict[str, str]:
    """How each column was used, one phrase each (the run's summary shows it)."""
    out = {}
    for column in table["columns"]:
        if column["kind"] == "numeric":
            text = f"numeric, standardised (mean {column['mean']:.4g}, std {column['std']:.4g})"
            if column["missing_input"]:
                text += (
                    f"; {column['missing_in_training']} missing in training: "
                    f"median {column['median']:.4g} + a was-missing input"
                )
            else:
                text += f"; a missing cell gets the median {column['median']:.4g}"
        else:
            categories = column["categories"]
            shown = ", ".join(categories[:6]) + (f", ... ({len(categories)} in all)" if len(categories) > 6 else "")
            rare = "rare and unseen ones" if column["unknown_trained"] else "unseen ones (no input set)"
            text = f"one-hot: {len(categories)} categories ({shown}) + {UNKNOWN_CATEGORY} for {rare}"
        out[column["name"]] = text
    for name, text in table.get("notes", {}).items():
        out[name] = text
    return out
