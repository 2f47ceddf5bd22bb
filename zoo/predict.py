"""``python -m zoo.predict MODEL_OR_RUN INPUT... [--topk K] [--out FILE]``: what a trained model says.

MODEL_OR_RUN is a weight zoo ships (``lenet:fashion-mnist``; ``--list`` lists them), a run directory
(its best checkpoint) or a checkpoint file. What INPUT is depends on the model:

- an image classifier: image files and folders (searched recursively), any size and mode Pillow reads
  (grey, colour, palette, 16-bit, with alpha); one CSV row per image with its ``--topk`` classes and
  their probabilities, on stdout or in ``--out``. A single folder laid out by class (FOLDER/<class>/...,
  the classes the model knows; a slash in a class name is a dash in its folder's) also gets the accuracy
  and a confusion matrix picture. Files that cannot be read are named on stderr and skipped, never the
  whole run lost.
- a model trained on a table (``--data.name csv``): CSV or Parquet files with the training file's
  columns, read as the training file was (its delimiter, decimal mark and encoding); one CSV row per
  table row with the ``--topk`` classes and their probabilities, or the predicted numbers for a
  regression, and ``row``, the row's number in its file as every table message gives it (the header
  is row 1). With the target column there, the accuracy (and a confusion matrix picture), or a
  regression's RMSE, MAE and R². Missing or extra columns: one line; categories the model never saw:
  counted in one line.

Text from the user's files (file names, class names) is written so that a spreadsheet shows it as
text, never runs it as a formula (``zoo.records.spreadsheet_safe``). Nothing predicted (every image
unreadable) exits 1; a closed pipe (``| head``) ends the command quietly, as Unix tools do.
- a language model: prompts, continued as ``python -m zoo.generate`` does.
- word vectors: words or analogies (``king-man+woman``), answered as ``python -m zoo.neighbors`` does.
"""

from __future__ import annotations

import csv
import math
import os
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from zoo.commands import OneLineParser, add_import_option, command_main
from zoo.errors import DataError, UsageError
from zoo.records import spreadsheet_safe
from zoo.rundir import available_cores

PROG = "zoo.predict"


def parse(argv: list[str]):
    parser = OneLineParser(prog=f"python -m {PROG}", description="Predict with a trained or shipped zoo model.")
    parser.add_argument(
        "model", nargs="?", help="a shipped weight (lenet:fashion-mnist), a run directory or a checkpoint"
    )
    parser.add_argument("inputs", nargs="*", help="image files or folders; CSV/Parquet tables; prompts; words")
    parser.add_argument("--list", action="store_true", help="list the shipped weights and exit")
    parser.add_argument("--topk", type=int, default=None, help="classes per image (3) or neighbours per word (10)")
    parser.add_argument("--out", type=Path, default=None, help="write the CSV here instead of stdout")
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument(
        "--workers", type=int, default=None, help="processes reading images (default: the cores, up to 4)"
    )
    parser.add_argument("--length", type=int, default=200, help="language models: tokens to generate")
    parser.add_argument("--temperature", type=float, default=0.8, help="language models: below 1 safer, above 1 wilder")
    parser.add_argument("--top_k", type=int, default=None, help="language models: sample among the k likeliest tokens")
    parser.add_argument("--seed", type=int, default=None, help="language models: make the sample repeatable")
    parser.add_argument(
        "--encoding", default=None, help="tables: the files' text encoding (default: the training file's, as read)"
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps")
    add_import_option(parser)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    args = parser.parse_args(argv)
    if args.list:
        return args
    if args.model is None or not args.inputs:
        raise UsageError("give MODEL_OR_RUN and at least one INPUT (see --help; --list shows the shipped weights)")
    for option in ("topk", "batch_size", "length"):
        if getattr(args, option) is not None and getattr(args, option) < 1:
            raise UsageError(f"--{option} must be at least 1, got {getattr(args, option)}")
    return args


def main(argv: list[str] | None = None) -> int:
    try:
        return command_main(PROG, argv, predict)
    except BrokenPipeError:
        # The reader went away (| head): stop as Unix tools do, without a traceback, with the status a
        # shell gives a command that SIGPIPE ended; stdout goes nowhere, so that Python's own flush at
        # exit does not fail again.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):  # (a stdout without a descriptor: nothing to flush into a pipe)
            pass
        return 128 + signal.SIGPIPE


def predict(argv: list[str]) -> int:
    args = parse(argv)
    from zoo.pretrained import list_weights, load_trained, weight_card

    if args.list:
        for name in list_weights():
            card = weight_card(name)
            figures = ", ".join(f"{k} {v}" for k, v in card["metrics"].items())
            print(f"{name:28s} {card['data']['name'].split(':')[0]} ({figures})")
        return 0
    from zoo.recipes import import_user_code

    import_user_code(args.imports)
    task = load_trained(args.model, map_location=args.device)
    if task.name in ("classification", "regression") and task.table is not None:
        return predict_tables(task, args)
    if task.name == "classification" and task.takes_images:
        return predict_images(task, args)
    if task.name == "language_model":
        import torch

        for prompt in args.inputs:
            generator = torch.Generator().manual_seed(args.seed) if args.seed is not None else None
            print(task.generate(prompt, args.length, args.temperature, args.top_k, generator=generator))
        return 0
    if task.name == "skipgram":
        from zoo.loading import print_neighbors

        print_neighbors(task.keyed_vectors(), args.inputs, args.topk or 10)
        return 0
    raise UsageError(
        f"{args.model} is a {task.name} model trained on arrays, not files: predict from Python, task.predict(x)"
    )


# --- tables ---------------------------------------------------------------------------------------


def predict_tables(task: Any, args: Any) -> int:
    """Each file's rows through the table encoding the model was trained with; one output row per input row."""
    import torch

    from zoo.data.tables import cells, counted, encode, numbers, read_table, reading_of, unseen_sentence

    table = task.table
    reading = {**reading_of(table), **({"encoding": args.encoding} if args.encoding else {})}
    frames = []
    for text in args.inputs:
        path = Path(text).expanduser()
        if not path.is_file():
            raise DataError(f"no such table file: {text}")
        frames.append((text, read_table(path, **reading, encoding_option="--encoding")))
    # (the target's columns: what the table says, or for a checkpoint from before it said, its notes)
    targets = table.get("targets") or [n for n, note in table.get("notes", {}).items() if note.startswith("target")]
    given = [t for t in targets if any(t in frame.columns for _, frame in frames)]
    classes = task.name == "classification"
    k = min(args.topk or 3, len(task.class_names)) if classes else 0
    header = [f"{what}_{n}" for n in range(1, k + 1) for what in ("class", "prob")] if classes else task.target_names
    truth = (["true_class"] if classes else [f"true_{t}" for t in given]) if given else []
    out = open(args.out, "w", newline="", encoding="utf-8") if args.out else sys.stdout
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([spreadsheet_safe(cell) for cell in ["input", "row", *header, *truth]])
    unseen: dict[str, Counter] = {}
    labels, predicted, rows, true_values, predicted_values = [], {}, 0, [], []
    for text, frame in frames:
        x = torch.from_numpy(encode(table, frame, where=text, unseen=unseen))
        numbered = (frame.index + frame.attrs["first_row"]).tolist()  # the rows' numbers in the file
        true = {}
        for name in given:
            if name in frame.columns:
                cell, is_missing = cells(frame[name], table["missing"], table.get("decimal", "."))
                true[name] = cell.where(~is_missing, "").tolist() if classes else numbers(cell, is_missing).tolist()
            else:
                true[name] = [""] * len(frame) if classes else [math.nan] * len(frame)
        if classes:
            top = task.predict_proba(x).topk(k, dim=1)
            for n, (values, idx) in enumerate(zip(top.values.tolist(), top.indices.tolist())):
                predicted[rows + n] = task.class_names[idx[0]]
                cells_out = [
                    c for cls, p in zip(idx, values) for c in (spreadsheet_safe(task.class_names[cls]), f"{p:.4f}")
                ]
                label = true[given[0]][n] if given else ""
                labels.append(label)
                writer.writerow(
                    [spreadsheet_safe(text), numbered[n], *cells_out] + ([spreadsheet_safe(label)] if given else [])
                )
        else:
            values = task.predict(x).reshape(len(frame), len(task.target_names))
            for n, row in enumerate(values.tolist()):
                observed = [true[name][n] for name in given]
                cells_out = [f"{v:.6g}" for v in row] + ["" if math.isnan(v) else f"{v:.6g}" for v in observed]
                writer.writerow([spreadsheet_safe(text), numbered[n], *cells_out])
            predicted_values.append(values)
            true_values.append([true[name] for name in given])
        rows += len(frame)
    if args.out:
        out.close()
    if unseen:
        print(f"{PROG}: {unseen_sentence(unseen)}", file=sys.stderr)
    said = counted(rows, "row")
    if given and classes:
        said += "; " + accuracy(task, labels, predicted, args, unit="row")
    elif given:
        said += "; " + regression_scores(task, given, predicted_values, true_values)
    print(f"{PROG}: {said}" + (f"; predictions in {args.out}" if args.out else ""), file=sys.stderr)
    return 0


def regression_scores(task: Any, given: list[str], predicted: list[Any], true: list[list[list[float]]]) -> str:
    """RMSE, MAE and R² of each target given in the files, over the rows with a number there."""
    import torch

    from zoo.data.tables import counted

    said = []
    for i, name in enumerate(given):
        column = task.target_names.index(name)
        guess = torch.cat([p[:, column] for p in predicted]).double()
        value = torch.tensor([v for t in true for v in t[i]], dtype=torch.float64)
        known = ~value.isnan()
        guess, value = guess[known], value[known]
        if len(value) == 0:
            continue
        error = guess - value
        spread = ((value - value.mean()) ** 2).sum()
        r2 = f"{1 - (error**2).sum().item() / spread.item():.4f}" if spread > 0 else "undefined (one value)"
        said.append(
            f"{name}: rmse {error.pow(2).mean().sqrt().item():.6g}, mae {error.abs().mean().item():.6g}, r2 {r2} "
            f"on {counted(len(value), 'row')} with a value"
        )
    return "; ".join(said) or f"no number in {', '.join(given)} to compare with"


# --- images ---------------------------------------------------------------------------------------


def image_files(inputs: list[str]) -> list[Path]:
    from zoo.data.images import IMAGE_SUFFIXES

    files: list[Path] = []
    for text in inputs:
        path = Path(text).expanduser()
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            files.append(path)
        else:
            raise DataError(f"no such image file or folder: {text}")
    if not files:
        raise DataError(f"no images in {', '.join(inputs)} (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    return files


def labels_by_folder(inputs: list[str], files: list[Path], classes: list[str]) -> list[str] | None:
    """The true classes when the one INPUT is a folder laid out by class (FOLDER/<class>/...), else None."""
    if len(inputs) != 1 or not Path(inputs[0]).is_dir():
        return None
    root = Path(inputs[0]).expanduser()
    # (a class name with a slash, Fashion-MNIST's "T-shirt/top", is a folder named with a dash: T-shirt-top)
    by_folder = {name.replace("/", "-"): name for name in classes} | {name: name for name in classes}
    parts = [f.relative_to(root).parts for f in files]
    labels = [by_folder.get(p[0]) if len(p) > 1 else None for p in parts]
    return labels if all(label is not None for label in labels) else None


class ImageFiles:
    """Files -> uint8 (C, size, size) images, read in worker processes; a file that cannot be read comes
    back as its error message instead."""

    def __init__(self, files: list[Path], channels: int, size: int | None):
        self.files, self.channels, self.size = files, channels, size

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        from zoo.data.images import read_image

        try:
            return i, read_image(self.files[i], self.channels, self.size)
        except (DataError, UsageError) as err:
            return i, str(err)


def keep_readable(items: list[tuple[int, Any]]):
    import torch

    good = [(i, x) for i, x in items if isinstance(x, torch.Tensor)]
    bad = [(i, x) for i, x in items if not isinstance(x, torch.Tensor)]
    images = torch.stack([x for _, x in good]) if good else torch.empty(0)
    return [i for i, _ in good], images, bad


def predict_images(task: Any, args: Any) -> int:
    import torch
    from torch.utils.data import DataLoader
    from tqdm import tqdm

    from zoo.data.tables import counted

    files = image_files(args.inputs)
    labels = labels_by_folder(args.inputs, files, task.class_names)
    size = task.image_size()
    if size is None:
        raise UsageError(f"{args.model} does not say what image size it takes; predict from Python with task.predict")
    cores = available_cores()
    workers = args.workers if args.workers is not None else min(4, cores) if len(files) > 2 * args.batch_size else 0
    channels = len(task.hparams.input_mean or [0.0])
    loader = DataLoader(
        ImageFiles(files, channels, size), batch_size=args.batch_size, num_workers=workers, collate_fn=keep_readable
    )
    k = min(args.topk or 3, len(task.class_names))
    out = open(args.out, "w", newline="", encoding="utf-8") if args.out else sys.stdout
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["input", *(f"{what}_{n}" for n in range(1, k + 1) for what in ("class", "prob"))]
        + (["true_class"] if labels else [])
    )
    unreadable, predicted = 0, {}
    bar = tqdm(total=len(files), desc="predicting", unit="image", disable=None if len(files) > 300 else True)
    with torch.inference_mode():
        for index, images, bad in loader:
            for i, message in bad:
                print(f"{PROG}: skipped {files[i]}: {message}", file=sys.stderr)
            unreadable += len(bad)
            rows: dict[int, list] = {}
            if index:
                probs = task(images.to(task.device)).softmax(dim=1).cpu()
                top = probs.topk(k, dim=1)
                for i, values, classes in zip(index, top.values.tolist(), top.indices.tolist()):
                    predicted[i] = task.class_names[classes[0]]
                    cells = [
                        c
                        for cls, p in zip(classes, values)
                        for c in (spreadsheet_safe(task.class_names[cls]), f"{p:.4f}")
                    ]
                    rows[i] = [spreadsheet_safe(files[i]), *cells] + ([spreadsheet_safe(labels[i])] if labels else [])
            for i in sorted(rows):
                writer.writerow(rows[i])
            bar.update(len(index) + len(bad))
    bar.close()
    if args.out:
        out.close()
    if not predicted:
        raise DataError(f"nothing to predict: {counted(unreadable, 'image')} could not be read (named above)")
    said = counted(len(predicted), "image") + (
        f", {unreadable} unreadable (skipped, named above)" if unreadable else ""
    )
    if labels:
        said += "; " + accuracy(task, labels, predicted, args, unit="image")
    print(f"{PROG}: {said}" + (f"; predictions in {args.out}" if args.out else ""), file=sys.stderr)
    return 0


def accuracy(task: Any, labels: list[str], predicted: dict[int, str], args: Any, *, unit: str) -> str:
    """Accuracy over the predicted inputs whose true class (``labels``, by the inputs' positions) the
    model knows, and a confusion matrix picture beside the output."""
    import torch

    from zoo.data.tables import counted
    from zoo.plots import plot_confusion_matrix

    index = {name: i for i, name in enumerate(task.class_names)}
    matrix = torch.zeros(len(index), len(index), dtype=torch.long)
    strangers: Counter = Counter()
    for i, name in predicted.items():
        if labels[i] in index:
            matrix[index[labels[i]], index[name]] += 1
        elif labels[i]:
            strangers[labels[i]] += 1
    said = ""
    if strangers:
        shown = ", ".join(f"{label!r}" for label, _ in strangers.most_common(3))
        said = (
            f" ({counted(sum(strangers.values()), unit)} with a class the model does not know left out: {shown}"
            + (", ..." if len(strangers) > 3 else "")
            + ")"
        )
    labelled = int(matrix.sum())
    if not labelled:
        return f"no {unit} with a class the model knows to measure the accuracy on{said}"
    picture = args.out.with_name(f"{args.out.stem}_confusion.png") if args.out else Path("confusion_matrix.png")
    plot_confusion_matrix(
        matrix, task.class_names, picture, title=f"{args.model} on {args.inputs[0]}:", measured="accuracy"
    )
    right = matrix.diagonal().sum().item() / labelled
    return f"accuracy {right:.4f} on {counted(labelled, f'labelled {unit}')}{said}; confusion matrix: {picture}"


if __name__ == "__main__":
    sys.exit(main())
