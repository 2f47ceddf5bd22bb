"""Tables as they come: reading CSV and Parquet files with pandas, and turning their columns (numbers,
text, empty cells) into the numeric inputs of a network.

Reading takes files as spreadsheets write them:

- **delimiter**: ``auto`` (the default) takes the one of ``, ; tab |`` that splits the first lines into
  the same number of cells, more than one; Excel's ``sep=;`` first line names it and is skipped.
- **decimal mark**: ``auto`` reads ``14,23`` as 14.23 when the delimiter is not a comma and the cells say
  so (a column of numbers written with decimal commas, and none written with points), as Excel writes
  CSV where the comma is the decimal mark (most of Europe); ``--data.decimal`` says it outright.
- **encoding**: UTF-8 (with or without Excel's byte-order mark) unless ``--data.encoding`` says another
  (``cp1252`` for Excel's CSV on Windows in Western Europe); a file that is not UTF-8 is refused with the
  line of its first foreign byte and the encoding to try.
- **rows are numbered as the file's records**, the header being row 1 (the line numbers, where no
  cell spans lines; Excel's ``sep=`` line counts): training errors, prediction errors and ``zoo.predict``'s
  ``row`` column all say the same number. Rows given in memory (a DataFrame, a list of dicts) are named
  by their index.

Every check here is linear in the cells (a table may have 100,000 columns), and none needs torch:
``check_table`` reads and checks a recipe's table before a command imports the heavy libraries.

The encoding is learned from the training rows only and kept as plain data (lists, strings, numbers),
so it travels in the checkpoint and a loaded model takes raw rows exactly like the training file's:

- **types**: a column is numeric when every cell that is not missing is a number (in the rows with a
  target: a type is a property of the column); any other column is categorical. ``categorical``/``numeric``
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

import codecs
import csv
import difflib
import io
import math
import re
import sys
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from zoo.errors import DataError, UsageError, at_command_line, option

#: cell texts read as missing unless the recipe says otherwise (``--data.missing``)
MISSING = ("", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "?")
#: a category needs this many training rows for an input of its own; rarer ones count as unknown
MIN_COUNT = 2
MISSING_CATEGORY, UNKNOWN_CATEGORY = "(missing)", "(unknown)"
PARQUET_SUFFIXES = (".parquet", ".pq")
#: a classification target whose cells are all numbers, with more distinct values than this, is a
#: quantity to predict (a price, an age), not classes: the classifier refuses it and says so
MAX_NUMERIC_CLASSES = 20

#: what ``delimiter="auto"`` chooses among (the first wins a tie)
DELIMITERS = (",", ";", "\t", "|")
#: Excel's first line naming the delimiter (``sep=;``), which Excel writes and reads, pandas does not
SEP_LINE = re.compile(r'"?sep=(.)"?', re.IGNORECASE)
#: numbers with a decimal comma (``14,23``, ``-,5``, ``1,5e3``) and with a decimal point; whole numbers
COMMA_NUMBER, POINT_NUMBER, WHOLE_NUMBER = (
    r"[+-]?\d*,\d+(?:[eE][+-]?\d+)?",
    r"[+-]?\d*\.\d+(?:[eE][+-]?\d+)?",
    r"[+-]?\d+",
)
#: the first lines a delimiter is chosen from, and the first rows a decimal comma is recognised in
SNIFF_LINES, DECIMAL_SAMPLE_ROWS = 50, 1000
#: a CSV with more columns than this is read by Python's csv module, not pandas' (``_read_wide``)
WIDE = 1000


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``1 row``, ``3 rows``, ``1,200 classes`` (``plural`` where an s is not enough)."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def column_list(names: str | Sequence[str] | None) -> list[str]:
    """``"a,b"`` or ``["a", "b"]`` -> ``["a", "b"]`` (a recipe list, or the command line's comma list)."""
    if names is None:
        return []
    items = names.split(",") if isinstance(names, str) else list(names)
    return [str(item).strip() for item in items if str(item).strip()]


def decimal_comma() -> str:
    """The option that reads decimal commas, as the reader writes it: ``--data.decimal ','`` (a shell
    takes the comma bare, but a sentence reads it better quoted) or ``data.decimal=','``."""
    return option("data.decimal", "','" if at_command_line() else ",", raw=at_command_line())


def check_reading(delimiter: str, decimal: str, encoding: str) -> None:
    """How a file is to be read, checked before it is (usage errors)."""
    if delimiter != "auto" and len(delimiter) != 1:
        raise UsageError(f"{option('data.delimiter')} must be one character (or auto), got {delimiter!r}")
    if decimal not in ("auto", ".", ","):
        raise UsageError(f"{option('data.decimal')} must be auto, '.' or ',', got {decimal!r}")
    if decimal == "," and delimiter == ",":
        raise UsageError(f"a decimal comma needs another delimiter between cells: {option('data.delimiter', ';')}")
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise UsageError(
            f"{option('data.encoding', encoding)} is not an encoding Python knows (utf-8, cp1252, latin-1, utf-16, ...)"
        ) from None


# --- reading a file ------------------------------------------------------------------------------

# The last file read, by path, size, time and options, and the last check of it: the command's early
# check and the data module's set-up read and check the same file in one process, and a wide or long one
# takes seconds.
_last_read: dict[tuple, Any] = {}
_last_checked: dict[tuple, Checked] = {}


def read_table(
    path: str | Path,
    delimiter: str = "auto",
    *,
    decimal: str = "auto",
    encoding: str = "utf-8",
    missing: Sequence[str] = MISSING,
    encoding_option: str | None = None,
) -> Any:
    """A CSV (any delimiter) or Parquet file as a DataFrame; a CSV's cells stay text, exactly as
    written, so that type inference, categories and missing markers all see what the file holds.

    How it was read is in ``frame.attrs``: ``delimiter``, ``decimal`` and ``encoding`` as used (``auto``
    resolved), and ``first_row``, the number of the first data row (2; 3 under a ``sep=`` line). The
    frame's index counts the file's records from that row (blank lines are dropped, keeping the count).
    ``encoding_option`` is the command's option that gives the encoding (``--encoding``), named in the
    message for a file in another; by default ``data.encoding``, as the reader writes it."""
    check_reading(delimiter, decimal, encoding)
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"table not found: {path}")
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, delimiter, decimal, encoding, tuple(missing))
    if key in _last_read:
        return _last_read[key].copy(deep=False)
    if path.suffix.lower() in PARQUET_SUFFIXES:
        frame = _read_parquet(path)
        frame.attrs.update(delimiter=None, decimal=".", encoding=None, first_row=2)
    else:
        frame = _read_csv(path, delimiter, decimal, encoding, missing, encoding_option)
    if len(frame) == 0:
        raise DataError(f"{path}: no data rows, only the header ({counted(frame.shape[1], 'column')})")
    frame.attrs["read"] = key
    _last_read.clear()
    _last_read[key] = frame
    return frame.copy(deep=False)


def _read_parquet(path: Path) -> Any:
    import pandas as pd

    try:
        import pyarrow  # noqa: F401  (pandas reads Parquet through it)
    except ImportError:
        raise UsageError(f"reading {path.name} needs pyarrow: pip install 'zoo[parquet]'") from None
    try:
        frame = pd.read_parquet(path)
    except Exception as err:  # pyarrow's errors have no common base worth naming
        raise DataError(f"{path} is not a Parquet file pandas can read ({str(err).splitlines()[0]})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    _refuse_repeated_names(path, list(frame.columns))
    return frame


def _read_csv(
    path: Path, delimiter: str, decimal: str, encoding: str, missing: Sequence[str], encoding_option: str | None
) -> Any:
    import pandas as pd

    # utf-8-sig: Excel's "CSV UTF-8" begins with a byte-order mark, not part of the first name
    codec = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
    head, whole = _head(path, codec, encoding, encoding_option)
    first_line, _, rest = head.partition("\n")
    sep_line = SEP_LINE.fullmatch(first_line.strip())
    skip = 1 if sep_line else 0
    if sep_line:
        head = rest
    if delimiter == "auto":
        delimiter = sep_line[1] if sep_line else sniff_delimiter(head, whole=whole)
    try:
        header = next(csv.reader(io.StringIO(head), delimiter=delimiter), None)
    except csv.Error as err:
        raise DataError(f"{path}: the header is not cells with {delimiter!r} between them ({err})") from None
    if not header:
        raise DataError(f"{path} is empty")
    # (pandas renames a repeated name "a.1" without a word; the header as written says what it holds)
    _refuse_repeated_names(path, [name.strip() for name in header])
    try:
        if len(header) > WIDE:
            frame = _read_wide(path, codec, delimiter, skip)
        else:
            frame = pd.read_csv(
                path,
                sep=delimiter,
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                encoding=codec,
                skiprows=skip,
                skip_blank_lines=False,  # (kept, then dropped below, so that the index counts the file's rows)
            )
    except UnicodeDecodeError:
        raise _not_decoded(path, codec, encoding, encoding_option) from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty") from None
    except pd.errors.ParserError as err:
        raise DataError(f"{path} is not a table with {delimiter!r} between cells: {_parser_message(err)}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    if len(frame) and frame.shape[1]:
        # A blank line is a row of empty cells: its first cell is empty, and then every other one is.
        maybe = np.flatnonzero(frame.iloc[:, 0].to_numpy() == "")
        blank = maybe[(frame.iloc[maybe].to_numpy() == "").all(axis=1)] if len(maybe) else maybe
        if len(blank):
            frame = frame.drop(index=frame.index[blank])
    if decimal == "auto":
        decimal = decimal_of(frame, missing) if delimiter != "," else "."
    frame.attrs.update(delimiter=delimiter, decimal=decimal, encoding=encoding, first_row=2 + skip)
    return frame


def _read_wide(path: Path, codec: str, delimiter: str, skip: int) -> Any:
    """A CSV of more than ``WIDE`` columns, read as pandas reads it (short rows padded, a long one refused
    by its number, blank lines dropped keeping the count) into one block of cells: pandas' reader makes
    an array per column, and 100,000 of them took it 6 s for a file of 4 rows (this, 0.1 s)."""
    import pandas as pd

    with open(path, encoding=codec, newline="") as f:
        reader = csv.reader(f, delimiter=delimiter)
        for _ in range(skip):
            next(reader, None)
        header = next(reader)
        width, rows, index = len(header), [], []
        try:
            for n, record in enumerate(reader):
                if not any(record):
                    continue
                if len(record) > width:
                    raise DataError(
                        f"{path} is not a table with {delimiter!r} between cells: row {n + 2 + skip} has "
                        f"{counted(len(record), 'cell')}, the header has {width:,}"
                    )
                rows.append(record + [""] * (width - len(record)))
                index.append(n)
        except csv.Error as err:
            raise DataError(
                f"{path}: row {len(index) + 2 + skip} is not cells with {delimiter!r} between them ({err})"
            ) from None
    names = [name if name.strip() else f"Unnamed: {j}" for j, name in enumerate(header)]
    cells = np.array(rows, dtype=object).reshape(len(rows), width)
    return pd.DataFrame(cells, columns=names, index=pd.Index(index), dtype=object)


def _head(path: Path, codec: str, encoding: str, encoding_option: str | None) -> tuple[str, bool]:
    """The file's first ``SNIFF_LINES`` lines, or its first MB when that holds two lines, decoded; and
    whether that is the whole file."""
    decoder = codecs.getincrementaldecoder(codec)()
    parts, lines, size = [], 0, 0
    with open(path, "rb") as f:
        while lines <= SNIFF_LINES and (lines < 2 or size < 1 << 20):
            chunk = f.read(1 << 16)
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError:
                raise _not_decoded(path, codec, encoding, encoding_option) from None
            if not chunk:
                return "".join(parts) + text, True
            parts.append(text)
            lines, size = lines + text.count("\n"), size + len(chunk)
    return "".join(parts), False


def _not_decoded(path: Path, codec: str, encoding: str, encoding_option: str | None) -> DataError:
    """The message for a file that is not text in ``encoding``: the line of its first foreign byte, and
    the encoding to read it with where the file says (a UTF-16 byte-order mark, Windows' cp1252)."""

    def give(value: str, raw: bool = False) -> str:
        if encoding_option is None:
            return option("data.encoding", value, raw=raw)
        return f"{encoding_option} {value}"

    decoder = codecs.getincrementaldecoder(codec)()
    line, byte = 1, b""
    with open(path, "rb") as f:
        start = f.read(2)
        f.seek(0)
        while chunk := f.read(1 << 20):
            try:
                line += decoder.decode(chunk).count("\n")
            except UnicodeDecodeError as err:
                line += err.object.count(b"\n", 0, max(0, err.start))
                byte = err.object[err.start : err.start + 1]
                break
    name = "UTF-8" if codecs.lookup(encoding).name == "utf-8" else encoding
    try:
        as_cp1252 = byte.decode("cp1252") if byte else ""
    except UnicodeDecodeError:
        as_cp1252 = ""
    shown = f"0x{byte.hex()}" + (f" ({as_cp1252!r} in cp1252)" if as_cp1252 else "")
    said = f"{path} is not a text table: not {name} (line {line} has the byte {shown})"
    if start in (b"\xff\xfe", b"\xfe\xff"):
        return DataError(f"{said}; the file begins as UTF-16 text does (Excel's 'Unicode Text'): {give('utf-16')}")
    if name == "UTF-8" and as_cp1252:
        return DataError(f"{said}; Excel on Windows saves CSV as cp1252 in Western Europe: {give('cp1252')}")
    return DataError(
        f"{said}; give the encoding it was saved in: {give('ENCODING', raw=True)} (cp1252, latin-1, utf-16, ...)"
    )


def _refuse_repeated_names(path: Path, names: list[str]) -> None:
    repeated = [name for name, n in Counter(names).items() if n > 1 and name]
    if repeated:
        raise DataError(f"{path}: the header names {', '.join(map(repr, repeated))} more than once")


def sniff_delimiter(head: str, *, whole: bool = False) -> str:
    """The delimiter of a CSV whose first lines are ``head`` (the whole file when ``whole``): the one of
    ``DELIMITERS`` that splits every record into the same number of cells, the most; where none does,
    the one that splits the header into the most; a comma where none splits anything."""
    widths = {}
    for delimiter in DELIMITERS:
        try:
            records = [len(r) for r in csv.reader(io.StringIO(head), delimiter=delimiter) if r]
        except csv.Error:  # (a cell of over 128 KB: not what this delimiter separates)
            continue
        widths[delimiter] = records if whole or len(records) < 2 else records[:-1]  # (the last may be cut)
    even = {d: w[0] for d, w in widths.items() if w and w[0] > 1 and min(w) == max(w)}
    if even:
        return max(even, key=lambda d: even[d])  # (max keeps the first of equals: DELIMITERS' order)
    header = {d: w[0] for d, w in widths.items() if w and w[0] > 1}
    return max(header, key=lambda d: header[d]) if header else ","


def decimal_of(frame: Any, missing: Sequence[str] = MISSING) -> str:
    """``","`` when the cells say so: some column holds numbers with a decimal comma (besides whole
    numbers and missing cells) and none holds numbers with a decimal point; else ``"."``. Judged on the
    first ``DECIMAL_SAMPLE_ROWS`` rows, all columns at once."""
    import pandas as pd

    sample = frame.head(DECIMAL_SAMPLE_ROWS)
    values = pd.Series(sample.to_numpy(dtype=object).ravel()).astype(str).str.strip()
    shape = sample.shape

    def cells(pattern: str) -> np.ndarray:
        return values.str.fullmatch(pattern).to_numpy(dtype=bool).reshape(shape)

    comma, point = cells(COMMA_NUMBER), cells(POINT_NUMBER)
    other = cells(WHOLE_NUMBER) | values.isin(list(missing)).to_numpy().reshape(shape)
    with_comma = comma.any(0) & (comma | other).all(0)
    with_point = point.any(0) & (point | other).all(0)
    return "," if with_comma.any() and not with_point.any() else "."


def _parser_message(err: Exception) -> str:
    found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(err))
    if found:
        expected, line, saw = (int(n) for n in found.groups())
        return f"row {line} has {counted(saw, 'cell')}, the header has {expected:,}"
    return str(err).strip().splitlines()[-1]


def reading_of(table: dict[str, Any]) -> dict[str, Any]:
    """How the training file was read (``read_table``'s options), for files given to the model later."""
    return {
        "delimiter": table.get("delimiter") or ",",
        "decimal": table.get("decimal", "."),
        "encoding": table.get("encoding") or "utf-8",
        "missing": table.get("missing", MISSING),
    }


def rows_frame(rows: Any, delimiter: str = ",", *, table: dict[str, Any] | None = None) -> Any:
    """Rows for a prediction as a DataFrame: a DataFrame, a list of dicts (or one dict), or the path of
    a CSV or Parquet file read as the training file was (``table``: its encoding, as the checkpoint keeps
    it; else ``delimiter`` alone)."""
    import pandas as pd

    if isinstance(rows, pd.DataFrame):
        return rows
    if isinstance(rows, (str, Path)):
        return read_table(rows, **(reading_of(table) if table else {"delimiter": delimiter}))
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


# --- cells -----------------------------------------------------------------------------------------


def cells(column: Any, missing: Iterable[str], decimal: str = ".") -> tuple[Any, Any]:
    """``(text, is_missing)`` for one column: each cell as stripped text (numbers of a numeric DataFrame
    column written as the file would, 3.0 as 3; with ``decimal=","``, ``14,23`` as ``14.23``) and whether
    it counts as missing."""
    import pandas as pd

    absent = column.isna()
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        text = column.map(_number_text)
    else:
        text = column.astype(object).where(~absent, "").map(str).str.strip()
        if decimal == ",":
            text = _with_points(text)
    return text, absent | text.isin(list(missing))


def _with_points(text: Any) -> Any:
    """Text cells with the numbers among them written with a decimal point (``14,23`` -> ``14.23``);
    other cells, ``red, white`` say, as they are."""
    import pandas as pd

    has_comma = text.str.contains(",", regex=False).to_numpy(dtype=bool)
    if not has_comma.any():
        return text
    with_comma = pd.Series(text.to_numpy(dtype=object)[has_comma], dtype=object)
    number = with_comma.str.fullmatch(COMMA_NUMBER).to_numpy(dtype=bool)
    values = text.to_numpy(dtype=object, copy=True)
    values[np.flatnonzero(has_comma)[number]] = with_comma[number].str.replace(",", ".", regex=False).to_numpy()
    return pd.Series(values, index=text.index, name=text.name, dtype=object)


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


@dataclass
class Block:
    """Columns of a table as cells, all columns at once (rows x columns): each cell's stripped text (as
    ``cells`` writes it), whether it is missing, and its number (NaN where missing or not a number).
    A table of 100,000 columns is then a few array operations, not a pandas call per column."""

    names: list[str]
    text: np.ndarray  # object
    missing: np.ndarray  # bool
    values: np.ndarray  # float64
    rows: np.ndarray  # the frame's index labels, which name rows in messages
    position: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.position = {name: j for j, name in enumerate(self.names)}

    @property
    def wrong(self) -> np.ndarray:
        """Cells that are neither missing nor a number."""
        return ~self.missing & np.isnan(self.values)

    def take(self, rows: np.ndarray) -> Block:
        return Block(self.names, self.text[rows], self.missing[rows], self.values[rows], self.rows[rows])

    def series(self, j: int) -> Any:
        """Column ``j``'s text as a Series indexed by the rows' labels (for messages)."""
        import pandas as pd

        return pd.Series(self.text[:, j], index=self.rows, dtype=object)


def cell_block(frame: Any, names: Sequence[str], missing: Iterable[str] = MISSING, decimal: str = ".") -> Block:
    """The columns ``names`` of ``frame`` as a ``Block``."""
    import pandas as pd

    names = list(names)
    if not frame.columns.is_unique:
        repeated = frame.columns[frame.columns.duplicated()].unique()
        raise DataError(f"rows have the columns {', '.join(map(repr, repeated))} more than once")
    # (by positions in one array: selecting 100,000 columns of a DataFrame by name takes seconds)
    positions = frame.columns.get_indexer(names)
    raw = frame.to_numpy(dtype=object)[:, positions] if names else np.zeros((len(frame), 0), dtype=object)
    flat = pd.Series(raw.ravel(), dtype=object)
    absent = flat.isna().to_numpy()
    text = pd.Series(flat.where(~absent, "").astype(str).str.strip().to_numpy(dtype=object), dtype=object)
    if decimal == ",":
        text = _with_points(text)
    missing = list(missing)
    is_missing = (absent | text.isin(missing).to_numpy()).reshape(raw.shape)
    text = text.to_numpy(dtype=object).reshape(raw.shape)
    dtypes = frame.dtypes.to_numpy()[positions]
    typed = [
        j
        for j, dtype in enumerate(dtypes)
        if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    ]
    if typed:
        text, is_missing = text.copy(), is_missing.copy()  # (pandas hands out read-only arrays)
    for j in typed:  # (3.0 as 3, as the file would have it: a category "3", not "3.0")
        text[:, j], is_missing[:, j] = (part.to_numpy() for part in cells(frame.iloc[:, positions[j]], missing))
    values = pd.to_numeric(pd.Series(text.ravel(), dtype=object).where(~is_missing.ravel()), errors="coerce")
    return Block(names, text, is_missing, values.to_numpy(dtype=np.float64).reshape(raw.shape), frame.index.to_numpy())


def examples(text: Any, mask: Any, first_row: int = 2, most: int = 3) -> str:
    """``row 4 'abc', row 9 'x'`` for the first cells where ``mask`` holds. A row is named by its index
    plus ``first_row``: a file's rows (index 0 under the header) by their number in the file (2 for
    the first, the header being row 1); rows in memory (``first_row=0``) by their index."""
    where = np.flatnonzero(np.asarray(mask))
    shown = ", ".join(f"{row_name(text.index[i], first_row)} {text.iloc[i]!r}" for i in where[:most])
    return shown + (f" and {len(where) - most} more" if len(where) > most else "")


def row_name(label: Any, first_row: int = 2) -> str:
    """``row 4``: a row by its index label plus ``first_row`` (a label that is not a number as it is)."""
    return f"row {label + first_row if isinstance(label, (int, np.integer)) else repr(label)}"


def _comma_numbers(text: Sequence[str]) -> bool:
    """Whether these cells are all numbers written with a decimal comma."""
    pattern = re.compile(COMMA_NUMBER)
    return len(text) > 0 and all(pattern.fullmatch(cell) for cell in text)


def _decimal_hint(text: Sequence[str], decimal: str) -> str:
    """A hint when the cells that are not numbers are numbers written with a decimal comma."""
    return (
        f" (numbers with a decimal comma: {decimal_comma()} reads them)"
        if decimal != "," and _comma_numbers(text)
        else ""
    )


def sort_key(label: str) -> tuple[int, float, str]:
    """Sort labels numerically when they are numbers ("2" before "10"), else by name."""
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


# --- checking a table before training ---------------------------------------------------------------


@dataclass
class Checked:
    """What ``check_frame`` found in a table: its problems, and what training builds on."""

    features: list[str] = field(default_factory=list)
    #: each feature column's kind, "numeric" or "categorical", from the rows with a target
    kinds: dict[str, str] = field(default_factory=dict)
    #: the rows with every target (a mask over the frame's rows)
    keep: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    #: the feature columns' cells in those rows
    block: Block | None = None
    #: each target column's (text, is_missing) in those rows
    target_cells: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    #: a classifier's classes, sorted (numbers as numbers)
    classes: list[str] = field(default_factory=list)
    #: how each target column is used (the summary's "columns")
    notes: dict[str, str] = field(default_factory=dict)
    #: (sentence, whether it is a usage mistake rather than the data's)
    problems: list[tuple[str, bool]] = field(default_factory=list)
    #: what the run goes on with but the user should know
    warnings: list[str] = field(default_factory=list)


def check_frame(
    frame: Any,
    *,
    targets: Sequence[str],
    kind: Literal["classes", "numbers"] | None,
    categorical: Sequence[str] = (),
    numeric: Sequence[str] = (),
    drop: Sequence[str] = (),
    missing: Sequence[str] = MISSING,
    max_categories: int = 50,
    decimal: str = ".",
    first_row: int = 2,
    delimiter: str | None = ",",
) -> Checked:
    """Every problem of a table that does not depend on the split into training, validation and test
    rows: the options' columns, the target (``kind``: a classifier's classes or a regression's numbers;
    None: not checked), and each feature column (empty, too many categories, text where numbers were
    asked for). Linear in the cells; no torch."""
    # (the problems' words depend on the voice: options as the command line or Python writes them)
    asked = (targets, kind, categorical, numeric, drop, missing, max_categories, decimal, first_row, delimiter)
    asked += (at_command_line(),)
    remembered = (frame.attrs.get("read"), *(tuple(a) if isinstance(a, (list, tuple)) else a for a in asked))
    if remembered[0] is not None and remembered in _last_checked:
        return _last_checked[remembered]
    out = Checked()
    columns = list(frame.columns)
    present = set(columns)
    if len(columns) == 1 and delimiter is not None and delimiter not in columns[0]:
        out.problems.append(
            (
                f"one column only ({columns[0][:40]!r}): not a table with {delimiter!r} between cells "
                f"(another delimiter? {option('data.delimiter', ';')})",
                False,
            )
        )
    listed = False  # (the file's column names, said once)
    for asked_for, names in (
        ("data.target", targets),
        ("data.categorical", categorical),
        ("data.numeric", numeric),
        ("data.drop", drop),
    ):
        for name in names:
            if name not in present:
                close = difflib.get_close_matches(name, columns[:1000], n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                shown = ", ".join(columns[:50]) + (f", ... ({len(columns):,} in all)" if len(columns) > 50 else "")
                said = "" if listed else f" (columns: {shown})"
                out.problems.append((f"no column {name!r} for {option(asked_for)}{hint}{said}", False))
                listed = True
    both = [c for c in categorical if c in set(numeric)]
    if both:
        out.problems.append(
            (f"{', '.join(map(repr, both))} in both {option('data.categorical')} and {option('data.numeric')}", True)
        )
    out.problems += [
        (f"column {name!r} is the target and in {option('data.drop')}", True) for name in targets if name in drop
    ]
    if kind == "classes" and len(targets) > 1:
        out.problems.append(
            (
                f"a classifier predicts one column, {option('data.target')} names {len(targets)}; "
                f"several numbers to predict: {option('task.name', 'regression')}",
                True,
            )
        )
    left_out = set(targets) | set(drop)
    out.features = [c for c in columns if c not in left_out]
    if not out.features:
        out.problems.append(("no feature columns besides the target", False))

    # Rows whose target is missing teach nothing: they are left out (and counted).
    target_cells = {t: cells(frame[t], missing, decimal) for t in targets if t in present}
    out.keep = np.ones(len(frame), dtype=bool)
    for _, is_missing in target_cells.values():
        out.keep &= ~is_missing.to_numpy()
    # (The kept rows keep their labels in the file as index, so that a problem names the right row.)
    out.target_cells = {t: (text[out.keep], m[out.keep]) for t, (text, m) in target_cells.items()}
    if kind is not None:
        _check_targets(out, kind, categorical, decimal, first_row)
    kept = int(out.keep.sum())
    if kept < 3 and len(target_cells) == len(targets):
        out.problems.append(
            (f"{counted(kept, 'row')} with a target; at least 3 are needed to train, validate and test", False)
        )
    out.block = cell_block(frame, out.features, missing, decimal).take(out.keep)
    if kept:  # (without rows, every column would be "empty": the line above says what is wrong)
        _check_features(out, categorical, numeric, max_categories, decimal, first_row)
    if remembered[0] is not None:
        _last_checked.clear()
        _last_checked[remembered] = out
    return out


def _check_targets(out: Checked, kind: str, categorical: Sequence[str], decimal: str, first_row: int) -> None:
    for name, (text, is_missing) in out.target_cells.items():
        if kind == "numbers":
            wrong = not_numbers(text, is_missing)
            if bool(wrong.any()):
                out.problems.append(
                    (
                        f"target {name!r} holds text where numbers belong: {examples(text, wrong, first_row)}"
                        + _decimal_hint(text[wrong].tolist(), decimal),
                        False,
                    )
                )
            elif name in categorical:
                out.problems.append(
                    (f"target {name!r} is in {option('data.categorical')}, but regression predicts numbers", True)
                )
            elif len(text) and numbers(text, is_missing).nunique() < 2:
                out.problems.append(
                    (f"target {name!r} holds one value only ({text.iloc[0]}): nothing to predict", False)
                )
            out.notes[name] = "target: a number, predicted standardised by the training rows' mean and std"
            continue
        if len(out.target_cells) != 1:
            return
        counts = text.value_counts()
        distinct = sorted(counts.index, key=sort_key)
        if (
            name not in categorical
            and len(distinct) > MAX_NUMERIC_CLASSES
            and not bool(not_numbers(text, is_missing).any())
        ):
            out.problems.append(
                (
                    f"target {name!r} holds {len(distinct)} distinct numbers, more than {MAX_NUMERIC_CLASSES}: "
                    f"a quantity to predict rather than classes; use {option('task.name', 'regression')} "
                    f"(or {option('data.categorical', name)} to classify by its values anyway)",
                    True,
                )
            )
        elif len(distinct) == 1:
            out.problems.append(
                (f"column {name!r} holds one class only ({distinct[0]!r}); a classifier needs two or more", False)
            )
        out.classes = distinct
        shown = ", ".join(distinct[:6]) + (", ..." if len(distinct) > 6 else "")
        out.notes[name] = f"target: {counted(len(distinct), 'class', 'classes')} ({shown})"
        alike = _alike_in_case(counts)
        if alike:
            out.warnings.append(
                f"target {name!r} has classes that differ only in case, trained as different classes: {alike} "
                "(write them alike in the file to make them one class)"
            )
            out.notes[name] += f"; differing only in case: {alike}"


def _alike_in_case(counts: Any) -> str:
    """``'Benign' (3 rows) and 'benign' (200 rows)`` for labels that differ only in case, else ''."""
    groups: dict[str, list[str]] = {}
    for label in counts.index:
        groups.setdefault(str(label).casefold(), []).append(label)
    said = [
        " and ".join(f"{label!r} ({counted(int(counts[label]), 'row')})" for label in sorted(group))
        for group in groups.values()
        if len(group) > 1
    ]
    return "; ".join(said)


def _check_features(
    out: Checked,
    categorical: Sequence[str],
    numeric: Sequence[str],
    max_categories: int,
    decimal: str,
    first_row: int,
) -> None:
    block, categorical, numeric = out.block, set(categorical), set(numeric)
    empty, wrong = block.missing.all(0), block.wrong
    has_text = wrong.any(0)
    commas, too_many = [], False  # (columns of numbers with decimal commas, read as text: said once for all)
    for j, name in enumerate(block.names):
        if empty[j]:
            out.problems.append(
                (
                    f"column {name!r} is empty (every cell is missing): leave it out with {option('data.drop', name)}",
                    False,
                )
            )
        elif name in categorical or (name not in numeric and has_text[j]):
            distinct = len(set(block.text[~block.missing[:, j], j].tolist()))
            comma = name not in categorical and bool(_decimal_hint(block.text[wrong[:, j], j].tolist(), decimal))
            if comma:
                commas.append(j)
                too_many |= distinct > max_categories
            elif distinct > max_categories:
                out.problems.append(
                    (
                        f"column {name!r} has {distinct} distinct values, more than "
                        f"{option('data.max_categories', max_categories)}: leave it out with "
                        f"{option('data.drop', name)}, or raise {option('data.max_categories')}",
                        False,
                    )
                )
                continue
            out.kinds[name] = "categorical"
        elif has_text[j]:
            out.problems.append(
                (
                    f"column {name!r} is {option('data.numeric')} but holds text: "
                    f"{examples(block.series(j), wrong[:, j], first_row)}"
                    + _decimal_hint(block.text[wrong[:, j], j].tolist(), decimal),
                    False,
                )
            )
        else:
            out.kinds[name] = "numeric"
    if commas:
        names = ", ".join(repr(block.names[j]) for j in commas[:5]) + (", ..." if len(commas) > 5 else "")
        first = commas[0]
        i = int(np.flatnonzero(wrong[:, first])[0])
        said = (
            f"{counted(len(commas), 'column')} ({names}) {'holds' if len(commas) == 1 else 'hold'} numbers written "
            f"with a decimal comma (such as {block.text[i, first]!r} in {row_name(block.rows[i], first_row)}), "
            "read as text, the decimal mark "
            f"being '.': {decimal_comma()} reads them as numbers"
        )
        if too_many:  # (as categories, some would be refused as too many: the decimal is what is wrong)
            out.problems.append((said, False))
        else:
            out.warnings.append(said + " (trained as categories otherwise)")


def raise_problems(where: Any, problems: Sequence[tuple[str, bool]]) -> None:
    """All of a table's problems in one line: a UsageError when every one is an option mistake, else a
    DataError."""
    if not problems:
        return
    said = [p for p, _ in problems]
    text = (
        said[0]
        if len(said) == 1
        else f"{len(said)} problems: " + "; ".join(f"({i}) {p}" for i, p in enumerate(said, 1))
    )
    error = UsageError if all(usage for _, usage in problems) else DataError
    raise error(f"{where}: {text}")


def check_table(config: dict[str, Any]) -> None:
    """A recipe's table (``data.name: csv``) read and checked as training will, before a command imports
    torch and Lightning: a mistake in the file or the options is one line within seconds of the command.
    Warnings are left to the training run, which says them once. Other data: nothing to do."""
    data = config.get("data") or {}
    if data.get("name") != "csv" or not data.get("path"):
        return
    kind = {"classification": "classes", "regression": "numbers"}.get((config.get("task") or {}).get("name"))
    targets = column_list(data.get("target", "target"))
    if not targets:
        raise UsageError(f"{option('data.target')} names no column")
    missing = [str(m).strip() for m in data.get("missing", MISSING)]
    path = Path(data["path"]).expanduser()
    frame = read_table(
        path,
        data.get("delimiter", "auto"),
        decimal=data.get("decimal", "auto"),
        encoding=data.get("encoding", "utf-8"),
        missing=missing,
    )
    checked = check_frame(
        frame,
        targets=targets,
        kind=kind,
        categorical=column_list(data.get("categorical")),
        numeric=column_list(data.get("numeric")),
        drop=column_list(data.get("drop")),
        missing=missing,
        max_categories=int(data.get("max_categories", 50)),
        decimal=frame.attrs["decimal"],
        first_row=frame.attrs["first_row"],
        delimiter=frame.attrs["delimiter"],
    )
    raise_problems(path, checked.problems)


def say_warnings(where: Any, said: Sequence[str]) -> None:
    """Warnings about a table, one line each on stderr."""
    for warning in said:
        print(f"zoo: warning: {where}: {warning}", file=sys.stderr)


# --- learning the encoding from the training rows ----------------------------------------------


def fit_columns(block: Block, train: np.ndarray, kinds: dict[str, str]) -> tuple[list[dict[str, Any]], list[str]]:
    """``(columns, problems)``: how each feature column (``kinds``: numeric or categorical, as
    ``check_frame`` found them) is encoded, learned from the rows ``train`` (positions in ``block``),
    and the columns with no value in those rows."""
    train_missing, train_values = block.missing[train], block.values[train]
    no_value = train_missing.all(0)
    numeric = [
        block.position[name] for name, kind in kinds.items() if kind == "numeric" and not no_value[block.position[name]]
    ]
    stats = {}
    if numeric:
        values = train_values[:, numeric]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # (a column without values is refused below)
            medians = np.nanmedian(values, axis=0)
        filled = np.where(np.isnan(values), medians, values)
        stds = filled.std(axis=0, ddof=1) if len(filled) > 1 else np.zeros(len(numeric))
        stats = dict(zip(numeric, zip(medians.tolist(), filled.mean(axis=0).tolist(), stds.tolist())))
    columns, problems = [], []
    for name, kind in kinds.items():
        j = block.position[name]
        if no_value[j]:
            problems.append(
                f"column {name!r} has no value in the training rows: leave it out with {option('data.drop', name)}"
            )
        elif kind == "categorical":
            train_text = np.where(train_missing[:, j], MISSING_CATEGORY, block.text[train, j])
            columns.append(_fit_categorical(name, Counter(train_text.tolist())))
        else:
            median, mean, std = stats[j]
            columns.append(
                {
                    "name": name,
                    "kind": "numeric",
                    "median": median,
                    "mean": mean,
                    "std": std if std > 1e-12 else 1.0,  # a constant column: nothing to scale
                    "missing_input": bool(train_missing[:, j].any()),
                    "missing_in_training": int(train_missing[:, j].sum()),
                }
            )
    return columns, problems


def _fit_categorical(name: str, counts: Counter) -> dict[str, Any]:
    kept = sorted((c for c, n in counts.items() if n >= MIN_COUNT), key=sort_key)
    return {
        "name": name,
        "kind": "categorical",
        "categories": [str(c) for c in kept],
        "unknown_trained": any(n < MIN_COUNT for n in counts.values()),  # whether rare training rows set (unknown)
    }


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


def encode(
    table: dict[str, Any],
    frame: Any,
    *,
    where: str = "rows",
    first_row: int = 0,
    unseen: dict[str, Counter] | None = None,
) -> np.ndarray:
    """``frame``'s rows as the network's inputs (N, F) float32, by the encoding ``table`` (the plain
    data ``describe()`` gives and the checkpoint keeps). Columns the model does not know, or lacks,
    are refused in one line naming them; the target and dropped columns may be there or not.

    Rows are named in messages as ``examples`` says (a frame ``read_table`` read knows its first row's
    number, which wins over ``first_row``). Categories the model has no input for (never seen in
    training, or too rarely) are counted per column into ``unseen`` (column -> Counter of the values);
    without it, a warning says how many there were."""
    first_row = frame.attrs.get("first_row", first_row)
    needed = [c["name"] for c in table["columns"]]
    known = set(needed) | set(table.get("ignored", ()))
    present = set(frame.columns)
    absent = [name for name in needed if name not in present]
    extra = [str(c) for c in frame.columns if c not in known]
    if absent or extra:
        said = [f"lack the columns {', '.join(map(repr, absent))}"] if absent else []
        said += [f"have columns the model was not trained on: {', '.join(map(repr, extra))}"] if extra else []
        raise DataError(f"{where} {' and '.join(said)} (the model's columns: {', '.join(needed)})")
    block = cell_block(frame, needed, table["missing"], table.get("decimal", "."))
    counts: dict[str, Counter] = {}
    x = encode_block(table, block, where=where, first_row=first_row, unseen=counts)
    if unseen is not None:
        for name, found in counts.items():
            unseen.setdefault(name, Counter()).update(found)
    elif counts:
        warnings.warn(f"{where}: {unseen_sentence(counts)}", stacklevel=2)
    return x


def encode_block(
    table: dict[str, Any], block: Block, *, where: str, first_row: int, unseen: dict[str, Counter]
) -> np.ndarray:
    """``encode`` for cells already in a ``Block`` (training encodes the block it checked)."""
    import pandas as pd

    parts, problems = [], []
    for column in table["columns"]:
        name = column["name"]
        j = block.position[name]
        is_missing = block.missing[:, j]
        if column["kind"] == "numeric":
            wrong = ~is_missing & np.isnan(block.values[:, j])
            if wrong.any():
                problems.append(
                    f"column {name!r} holds text where numbers belong: {examples(block.series(j), wrong, first_row)}"
                    + _decimal_hint(block.text[wrong, j].tolist(), table.get("decimal", "."))
                )
                continue
            values = block.values[:, j]
            parts.append(np.where(is_missing, column["median"], values)[:, None])
            if column["missing_input"]:
                parts.append(is_missing[:, None].astype(np.float64))
        else:
            categories = column["categories"]
            text = np.where(is_missing, MISSING_CATEGORY, block.text[:, j])
            codes = pd.Index(categories, dtype=object).get_indexer(text)
            strange = (codes < 0) & ~is_missing
            if strange.any():
                unseen[name] = Counter(text[strange].tolist())
            # (-1: not a training category) -> the unknown input, or none when it never had a training row
            codes = np.where(codes < 0, len(categories) if column["unknown_trained"] else -1, codes)
            one_hot = np.zeros((len(codes), len(categories) + 1))
            rows = np.flatnonzero(codes >= 0)
            one_hot[rows, codes[rows]] = 1.0
            parts.append(one_hot)
    if problems:
        raise DataError(f"{where}: {'; '.join(problems)}")
    if not parts:
        return np.zeros((len(block.rows), 0), dtype=np.float32)
    return np.concatenate(parts, axis=1).astype(np.float32)


def unseen_sentence(unseen: dict[str, Counter]) -> str:
    """``3 cells hold categories the model has no input for (...): kind 'castle' (2), 'hut' (1)``"""
    total = sum(sum(found.values()) for found in unseen.values())
    said = []
    for name, found in unseen.items():
        values = ", ".join(f"{value!r} ({n})" for value, n in found.most_common(3))
        more = len(found) - 3
        said.append(f"{name} {values}" + (f" and {counted(more, 'other')}" if more > 0 else ""))
    return (
        f"{counted(total, 'cell')} {'holds a category' if total == 1 else 'hold categories'} the model has no "
        f"input for (never or too rarely seen in training; read as {UNKNOWN_CATEGORY}): {'; '.join(said)}"
    )


def describe_columns(table: dict[str, Any]) -> dict[str, str]:
    """How each column was used, one phrase each (the run's summary shows it)."""
    out = {}
    comma = ", written with a decimal comma" if table.get("decimal") == "," else ""
    for column in table["columns"]:
        if column["kind"] == "numeric":
            text = f"numeric{comma}, standardised (mean {column['mean']:.4g}, std {column['std']:.4g})"
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
            text = (
                f"one-hot: {counted(len(categories), 'category', 'categories')} ({shown}) "
                f"+ {UNKNOWN_CATEGORY} for {rare}"
            )
        out[column["name"]] = text
    for name, text in table.get("notes", {}).items():
        out[name] = text
    return out
