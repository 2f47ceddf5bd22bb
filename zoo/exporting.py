"""Trained models out of zoo, for code that does not have zoo: ONNX files (onnxruntime and any runtime
that reads ONNX) through ``torch.onnx.export(dynamo=True)``, and ``torch.export`` programs (``.pt2``,
for PyTorch alone). Never TorchScript: it is deprecated upstream.

What an exported graph takes and returns (batch and, for a language model, seq are any sizes):

- a classifier on images (lenet, an MLP trained on an image set): ``image`` uint8 (batch, C, H, W),
  raw pixels 0..255 as the training images were, at the size the model was trained on (a fixed-size
  model's ``input_size``; other sizes are resized first, outside the graph, as ``task.predict`` does)
  -> ``logits`` float32 (batch, num_classes). The task's normalisation (/255, then the training
  split's mean and std) is inside the graph: it is the task's own ``forward`` that is exported.
- a classifier or regression on feature vectors (an MLP on iris, diabetes, the Playground's sets):
  ``features`` float32 (batch, F), raw values in the training data's units -> ``logits``, or for a
  regression ``predictions`` float32 (batch, T), one per target in the targets' own units (the task
  predicts standardised numbers; the graph multiplies by the training targets' std and adds their mean).
  The standardisation of the inputs is inside the graph.
- a model trained on a table (``--data.name csv``, or a DataFrame given to ``zoo.fit``), in ONNX: one
  input per column, named as the column, in the table's order (``columns`` in the metadata): float32
  (batch,) for a numeric column, NaN where a cell is missing; string (batch,) for a text column, the
  cell's text ('' or another of the table's missing markers where it is missing). The table's encoding,
  learned from the training rows, is inside the graph as ``zoo/data/tables.py`` ``encode`` does it: a
  missing number gets the training median (and its was-missing input is set), text goes one-hot
  through an ``ai.onnx.ml`` LabelEncoder, a missing cell is the ``(missing)`` category, and a
  category the model has no input for (never, or too rarely, seen in training) sets the ``(unknown)``
  input, or none where that input never trained. (Text is matched as given: zoo strips the spaces
  around a cell's text first, the graph does not; a number in a text column is its text as the file
  writes it, ``3`` or, in a table read with decimal commas, ``1,5`` or ``1.5``.) In a .pt2 program,
  which takes tensors only, a table model takes ``features``, the rows as zoo encodes them
  (``feature_names`` and ``table`` in the metadata say how).
- a language model (lstm): ``ids`` int64 (batch, seq), ``h`` and ``c`` float32 (layers, batch,
  hidden), zeros to start -> ``logits`` float32 (batch, seq, vocab) for the token after each position,
  and ``h_next``, ``c_next``, the state after the last position, which continues the text when fed back.
- word2vec is not exported: its vectors already are in the word2vec format other tools read
  (``vectors.bin`` in the run directory).

What the graph needs to be used goes inside the file, as the same dictionary (``METADATA``'s keys):
ONNX metadata properties ``zoo.<key>`` (lists as JSON text), and in the .pt2 archive the extra file
``zoo.json``. Every export is checked before it is reported: the file is loaded back and run on batch
sizes (and sequence lengths) the export's example did not have, and must match PyTorch to 1e-4; a
table model's ONNX file on raw rows with missing cells and categories never seen in training, against
PyTorch on the same rows as zoo encodes them.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import json
import logging
import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from zoo.errors import UsageError
from zoo.pretrained import cards, load_trained

FORMATS = {"onnx": ".onnx", "pt2": ".pt2"}
# What --format onnx imports: the exporter's own dependencies, and onnxruntime, which checks the file.
ONNX_PACKAGES = ("onnx", "onnxscript", "onnxruntime")
PT2_METADATA = "zoo.json"  # the extra file inside a .pt2 archive that holds the metadata
TOLERANCE = 1e-4
#: the version of ONNX's ``ai.onnx.ml`` operators a table's graph declares (LabelEncoder-2's)
ML_OPSET = 3
METADATA = {
    "model": "the registered model name (lenet, mlp, lstm)",
    "task": "classification, regression or language_model",
    "inputs": "what each input is, in words",
    "outputs": "what each output is, in words",
    "class_names": "classifiers: the name of each logit's class, in order",
    "target_names": "regressions: the name of each prediction's target, in order",
    "columns": "table models in ONNX: the graph's inputs in the table's order, each {name, type}: float32 or string",
    "table": "table models: the encoding learned from the training rows (each column's median, mean and std, "
    "or its categories; the missing markers), as the checkpoint keeps it",
    "feature_names": "table models in .pt2: the name of each encoded feature the program takes, in order",
    "vocab": "language models: the token of each id, in order",
    "level": "language models: char or word",
    "weights": "exported from a shipped weight: its name (lenet:fashion-mnist); zoo.weight_card has the rest",
    "licence": "exported from a shipped weight: the licence of the data it was trained on, from its card",
    "version": "the zoo version that exported it",
}


@dataclass
class Exported:
    """What ``export_model`` wrote: the file, what its graph takes and returns (in words, as in its
    metadata), and the largest difference from PyTorch found when it was checked."""

    path: Path
    format: str
    inputs: str
    outputs: str
    checked_on: str
    max_abs_diff: float
    metadata: dict[str, Any]


def export_model(source: Any, format: Literal["onnx", "pt2"] = "onnx", out: str | Path | None = None) -> Exported:
    """Export a trained classifier, regression or language model: ``source`` is a task
    (``zoo.load_checkpoint``'s, ``result.task``) or what ``zoo.load_trained`` reads (a shipped weight
    ``MODEL:WEIGHTS``, a run directory, a checkpoint file). ``out`` defaults to ``MODEL-WEIGHTS.onnx`` in
    the current folder for a shipped weight, ``RUN_DIR/MODEL.onnx`` for a run directory and beside a
    checkpoint file for one."""
    import torch

    if format not in FORMATS:
        raise UsageError(f"unknown export format {format!r} (valid: {', '.join(FORMATS)})")
    if format == "onnx":
        require_onnx()
    task = source if isinstance(source, torch.nn.Module) else load_trained(source)
    out = Path(out) if out is not None else default_out(source, task, format)
    graph = exportable(task, format)
    if isinstance(source, str) and source in cards():  # a shipped weight: say which, and its data's licence
        graph.metadata.update(weights=source, licence=cards()[source]["data"]["licence"])
    out.parent.mkdir(parents=True, exist_ok=True)
    if format == "onnx":
        save_onnx(graph, out)
        diff = check(graph, onnx_runner(out))
    else:
        save_pt2(graph, out)
        diff = check(graph, pt2_runner(out))
    meta = graph.metadata
    return Exported(out, format, meta["inputs"], meta["outputs"], graph.checks_text, diff, meta)


def require_onnx() -> None:
    missing = []
    for name in ONNX_PACKAGES:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise UsageError(f"ONNX export needs {', '.join(missing)} (not installed here): pip install 'zoo[export]'")


def default_out(source: Any, task: Any, format: str) -> Path:
    suffix = FORMATS[format]
    if isinstance(source, (str, Path)) and Path(source).is_dir():
        return Path(source) / f"{task.hparams.model}{suffix}"
    if isinstance(source, (str, Path)) and Path(source).is_file():
        return Path(source).with_suffix(suffix)
    if isinstance(source, str):  # shipped weights, lenet:fashion-mnist: lenet-fashion-mnist.onnx here
        return Path(source.replace(":", "-") + suffix)
    raise UsageError("say where to write the exported model (out=...)")


# --- what is exported ----------------------------------------------------------------------------


@dataclass
class Graph:
    """A module ready for export: example inputs (their batch of 2 and seq of 5 are what the exported
    graph must NOT keep), which dimensions are dynamic, names, metadata, and the cases to check it on:
    ``(the module's inputs, what the exported file takes for the same)``, the same tensors but for a
    table's ONNX file, which takes the raw columns. ``table``: the encoding that file puts before the
    module (None: the file takes what the module takes)."""

    module: Any
    example: tuple
    dynamic: tuple
    input_names: list[str]
    output_names: list[str]
    metadata: dict[str, Any]
    checks: list[tuple[tuple, Any]]
    checks_text: str
    table: dict[str, Any] | None = None


def step_module(model: Any) -> Any:
    """``(ids, h, c) -> (logits, h_next, c_next)`` over a language model's ``forward_with_state``: ONNX
    and torch.export take tensors, not a tuple that may be None."""
    from torch import nn

    class Step(nn.Module):
        def __init__(self, lm: nn.Module):
            super().__init__()
            self.lm = lm

        def forward(self, ids, h, c):
            logits, (h, c) = self.lm.forward_with_state(ids, (h, c))  # (B, T, V), (L, B, H) each
            return logits, h, c

    return Step(model)


def in_units(task: Any) -> Any:
    """A regression task whose numbers come out in the targets' units, as ``task.predict`` gives them:
    the model predicts them standardised by the training targets' mean and std."""
    from torch import nn

    class InUnits(nn.Module):
        def __init__(self, regression: nn.Module):
            super().__init__()
            self.task = regression

        def forward(self, x):
            return self.task(x) * self.task.target_std + self.task.target_mean  # (B, T)

    return InUnits(task)


def exportable(task: Any, format: str = "onnx") -> Graph:
    """The module to export for ``task`` to ``format``, with its examples and metadata; a task that
    cannot be exported is refused in one line."""
    import torch

    import zoo

    if any(p.device.type != "cpu" for p in task.parameters()):
        task = copy.deepcopy(task).cpu()  # exported on the CPU; the caller's task stays where it is
    name = task.hparams.model
    meta: dict[str, Any] = {"model": name, "task": task.name}

    if task.name in ("classification", "regression"):
        graph = features_graph(task, format, meta)

    elif task.name == "language_model":
        generator = torch.Generator().manual_seed(0)
        batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq")
        step = step_module(task.model)
        vocab = len(task.vocab)
        with torch.no_grad():  # the state's shape, from one token
            _, state = task.model.forward_with_state(torch.zeros(1, 1, dtype=torch.long), None)
        if not (isinstance(state, tuple) and len(state) == 2):
            raise UsageError(f"export takes language models whose state is (h, c), as the LSTM's; {name}'s is not")
        layers, _, hidden = state[0].shape

        def draw(n: int, t: int):
            ids = torch.randint(0, vocab, (n, t), generator=generator)
            return (
                ids,
                torch.randn(layers, n, hidden, generator=generator),
                torch.randn(layers, n, hidden, generator=generator),
            )

        meta["inputs"] = (
            f"ids: int64 (batch, seq) token ids, indices into vocab; "
            f"h, c: float32 ({layers}, batch, {hidden}) the state, zeros to start"
        )
        meta["outputs"] = (
            f"logits: float32 (batch, seq, {vocab}) for the token after each position; h_next, c_next: the state "
            f"after the last position, to feed back"
        )
        meta["vocab"], meta["level"] = list(task.vocab), task.level
        # Examples of batch and seq >= 2: an example dimension of 1 was silently exported as a fixed 1.
        example = draw(3, 5)
        checks = [(x, x) for x in (draw(1, 1), draw(7, 11))]
        dynamic = ({0: batch, 1: seq}, {1: batch}, {1: batch})
        names = ["ids", "h", "c"], ["logits", "h_next", "c_next"]
        graph = Graph(step, example, dynamic, *names, meta, checks, "(batch, seq) of (1, 1) and (7, 11)")

    elif task.name == "skipgram":
        raise UsageError(
            "export is for lenet, mlp and lstm: word2vec's vectors already are in the word2vec format "
            "(vectors.bin in its run directory; zoo.load_vectors or gensim read it)"
        )
    else:
        raise UsageError(f"export takes classification, regression and language_model tasks, not {task.name}")
    meta["version"] = zoo.__version__
    return graph


def features_graph(task: Any, format: str, meta: dict[str, Any]) -> Graph:
    """A classifier's or a regression's graph: raw images, feature vectors or table rows in, logits or
    numbers in the targets' units out."""
    import numpy as np
    import torch

    batch = torch.export.Dim("batch")
    generator = torch.Generator().manual_seed(0)
    if task.name == "regression":
        module, output = in_units(task), "predictions"
        targets = list(task.target_names)
        meta["outputs"] = (
            f"predictions: float32 (batch, {len(targets)}), one number per target in target_names "
            f"({', '.join(targets)}), in the targets' own units (zoo's standardisation undone inside the graph)"
        )
        meta["target_names"] = targets
    else:
        module, output = task, "logits"
        meta["outputs"] = (
            f"logits: float32 (batch, {task.num_classes}), one per class in class_names (softmax: probabilities)"
        )
        meta["class_names"] = list(task.class_names)
    # (An example batch of 2: torch.export fixes a batch of 1 (it may be broadcast) in place of "batch".)
    sizes, checked_on = (1, 7), "batches of 1 and 7"

    if task.table is not None:
        from zoo.data.tables import feature_names

        table = task.table
        meta["table"] = {"columns": table["columns"], "missing": list(table["missing"])}
        rng = np.random.default_rng(0)
        example = (torch.from_numpy(table_rows(table, 2, rng)[1]),)
        if format == "onnx":
            meta["columns"] = [
                {"name": c["name"], "type": "float32" if c["kind"] == "numeric" else "string"} for c in table["columns"]
            ]
            meta["inputs"] = table_inputs(table)
            cases = [table_rows(table, n, rng) for n in sizes]
            checks = [((torch.from_numpy(encoded),), feeds) for feeds, encoded in cases]
            checked_on = "raw rows, batches of 1 and 7, with missing cells and categories never seen in training"
            return Graph(module, example, ({0: batch},), ["features"], [output], meta, checks, checked_on, table)
        names = feature_names(table["columns"])
        meta["feature_names"] = names
        meta["inputs"] = (
            f"features: float32 (batch, {len(names)}), the table's rows as zoo encodes them (feature_names: "
            "numbers in their units, a missing one as the training median with its was-missing input set, "
            "categories one-hot; the table metadata says how), standardised inside the graph (ONNX takes the "
            "raw columns)"
        )
        checks = [((x,), (x,)) for x in (torch.from_numpy(table_rows(table, n, rng)[1]) for n in sizes)]
        return Graph(module, example, ({0: batch},), ["features"], [output], meta, checks, checked_on)

    shape, kind = model_input(task)
    if kind == "image":
        channels, height, width = shape
        colour = {1: "grayscale", 3: "RGB"}.get(channels, f"{channels} channels")
        meta["inputs"] = (
            f"image: uint8 (batch, {channels}, {height}, {width}), raw pixels 0..255 as the training images "
            f"({colour}, {height}x{width}: resize other sizes first), normalised inside the graph"
        )

        def draw(n: int):
            return torch.randint(0, 256, (n, *shape), dtype=torch.uint8, generator=generator)

    else:
        meta["inputs"] = (
            f"features: float32 (batch, {shape[0]}), raw values as in the training data (no NaN: a missing value "
            "has no encoding here), standardised inside the graph"
        )
        mean, std = task.input_mean.float(), task.input_std.float()

        def draw(n: int):
            return torch.randn(n, *shape, generator=generator) * std + mean

    checks = [((x,), (x,)) for x in (draw(n) for n in sizes)]
    return Graph(module, (draw(2),), ({0: batch},), [kind], [output], meta, checks, checked_on)


def model_input(task: Any) -> tuple[tuple[int, ...], str]:
    """(shape without the batch, "image" or "features") of what the model was trained on. Image
    statistics are per channel, a table's per feature: their length tells the two apart."""
    channels = task.input_mean.numel()
    size = getattr(task.model, "input_size", None)
    if size is not None:  # a fixed-size image model (LeNet)
        return (channels, size, size), "image"
    features = (task.hparams.model_kwargs or {}).get("in_features")
    if features is None:
        raise UsageError(
            f"cannot tell what {task.hparams.model} takes: export needs a model with an input_size attribute "
            f"(images) or an in_features argument"
        )
    if features == channels:
        return (features,), "features"
    side = math.isqrt(features // channels)
    if side * side * channels != features:
        raise UsageError(f"{task.hparams.model} takes {features} features: not square images of {channels} channels")
    return (channels, side, side), "image"  # an MLP trained on images: it flattens them itself


# --- a table's encoding inside the ONNX graph ---------------------------------------------------------


def table_inputs(table: dict[str, Any]) -> str:
    """What a table model's ONNX file takes, in words."""
    from zoo.data.tables import counted

    columns = table["columns"]
    numeric = [c["name"] for c in columns if c["kind"] == "numeric"]
    text = [c["name"] for c in columns if c["kind"] != "numeric"]
    markers = ", ".join(repr(m) for m in table["missing"][:4]) + (", ..." if len(table["missing"]) > 4 else "")
    said = []
    if numeric:
        said.append(f"{counted(len(numeric), 'numeric column')}: float32 (batch,) each, NaN where a cell is missing")
    if text:
        shown = ", ".join(text[:5]) + (", ..." if len(text) > 5 else "")
        said.append(
            f"{counted(len(text), 'text column')} ({shown}): string (batch,) each, the cell's text as in the file "
            f"({markers} where missing; a category the model has no input for sets the (unknown) input, or none "
            "where that input never trained, as in zoo)"
        )
    return (
        f"{counted(len(columns), 'input')}, one per column, named as the columns (zoo.columns lists them in order): "
        + "; ".join(said)
        + "; encoded and standardised inside the graph as zoo does it"
    )


def table_rows(table: dict[str, Any], n: int, rng: Any) -> tuple[dict[str, Any], Any]:
    """``(feeds, encoded)``: ``n`` raw rows of the table's columns as an ONNX runtime takes them (NaN for
    a missing number; text from the training categories, the missing markers and one never seen in
    training), and the same rows as zoo encodes them for the network (N, F) float32."""
    import numpy as np
    import pandas as pd

    from zoo.data.tables import MISSING_CATEGORY, encode

    feeds, frame = {}, {}
    for j, column in enumerate(table["columns"]):
        name = column["name"]
        if column["kind"] == "numeric":
            values = (column["mean"] + column["std"] * rng.standard_normal(n)).astype(np.float32)
            values[(np.arange(n) + j) % 3 == 0] = np.nan
            feeds[name], frame[name] = values, values.astype(np.float64)
        else:
            known = [c for c in column["categories"] if c != MISSING_CATEGORY]
            unseen = "a category never seen in training"
            while unseen in column["categories"]:
                unseen += "!"
            cycle = [unseen, *table["missing"][:1], *known[:3], *table["missing"][1:2]]
            cells = np.array([cycle[(i + j) % len(cycle)] for i in range(n)], dtype=object)
            feeds[name], frame[name] = cells, cells
    encoded = encode(table, pd.DataFrame(frame), where="rows", unseen={})
    return feeds, encoded


def with_table_encoding(model: Any, table: dict[str, Any]) -> Any:
    """The ONNX model ``model`` (the task's graph, from encoded ``features``) behind the table's encoding:
    one input per column, named as the columns, and nodes that encode them as ``zoo.data.tables.encode``
    does. The task graph's own names get a prefix no column name begins with, so that no column can
    share a name with one of its values (a column named ``div`` or ``relu``)."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from zoo.data.tables import MISSING_CATEGORY, POINT_NUMBER

    columns = table["columns"]
    names = [c["name"] for c in columns]
    outputs = [o.name for o in model.graph.output]
    for name in names:
        if name in outputs:
            raise UsageError(
                f"column {name!r} has the name of the graph's output: ONNX names the inputs after the columns; "
                "rename the column and train again, or export with format pt2"
            )
    prefix, n = "zoo/", 0
    while any(name.startswith(prefix) for name in names):
        n += 1
        prefix = f"zoo{n}/"
    graph = onnx.compose.add_prefix_graph(model.graph, prefix + "net/", rename_outputs=False)
    (features,) = [i.name for i in graph.input]
    nodes, initializers = [], []

    def constant(name: str, array: Any) -> str:
        initializers.append(numpy_helper.from_array(array, prefix + name))
        return prefix + name

    def node(op: str, inputs: list[str], domain: str = "", **attributes: Any) -> str:
        out = f"{prefix}{op.lower()}_{len(nodes)}"
        nodes.append(helper.make_node(op, inputs, [out], domain=domain, **attributes))
        return out

    axis = constant("axis_1", np.array([1], dtype=np.int64))
    parts = []
    for j, column in enumerate(columns):
        name = column["name"]
        if column["kind"] == "numeric":
            missing = node("IsNaN", [name])
            median = constant(f"median_{j}", np.array(column["median"], dtype=np.float32))
            parts.append(node("Unsqueeze", [node("Where", [missing, median, name]), axis]))
            if column["missing_input"]:
                parts.append(node("Unsqueeze", [node("Cast", [missing], to=TensorProto.FLOAT), axis]))
            continue
        # Each cell -> its category's input (0..K-1), the (unknown) input (K), or none (K + 1: no input
        # set, where (unknown) never had a training row): encode's get_indexer, then its one-hot.
        categories = column["categories"]
        unknown = len(categories) if column["unknown_trained"] else len(categories) + 1
        codes = {category: i for i, category in enumerate(categories)}
        as_missing = codes.get(MISSING_CATEGORY, unknown)  # a missing cell is the category (missing)
        codes.update({marker: as_missing for marker in [*table["missing"], MISSING_CATEGORY]})
        if table.get("decimal") == ",":  # a number in a text cell was read with a point: 1,5 is the category 1.5
            for category, i in list(codes.items()):
                if re.fullmatch(POINT_NUMBER, category):
                    codes.setdefault(category.replace(".", ","), i)
        code = node(
            "LabelEncoder",
            [name],
            domain="ai.onnx.ml",
            keys_strings=list(codes),
            values_int64s=list(codes.values()),
            default_int64=unknown,
        )
        inputs = constant(f"inputs_{j}", np.arange(len(categories) + 1, dtype=np.int64)[None, :])
        parts.append(node("Cast", [node("Equal", [node("Unsqueeze", [code, axis]), inputs])], to=TensorProto.FLOAT))
    nodes.append(helper.make_node("Concat", parts, [features], axis=1))

    del graph.input[:]
    for column in columns:
        kind = TensorProto.FLOAT if column["kind"] == "numeric" else TensorProto.STRING
        graph.input.append(helper.make_tensor_value_info(column["name"], kind, ["batch"]))
    task_nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes + task_nodes)
    graph.initializer.extend(initializers)
    out = onnx.ModelProto()
    out.CopyFrom(model)
    out.graph.CopyFrom(graph)
    if not any(o.domain == "ai.onnx.ml" for o in out.opset_import):
        out.opset_import.append(helper.make_opsetid("ai.onnx.ml", ML_OPSET))
    return out


# --- writing and reading the two formats -------------------------------------------------------------


@contextlib.contextmanager
def quiet():
    """Export without the exporter's warnings and log lines (about its internals, not the user's model)."""
    loggers = [logging.getLogger(n) for n in ("torch", "torch._export", "torch.export", "torch.onnx")]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels):
                logger.setLevel(level)


@contextlib.contextmanager
def exporting(graph: Graph):
    """Eval mode, no grad, quiet, and torch 2.14's LSTM workaround: torch's LSTM export swaps the kernel
    of ``aten.lstm`` without clearing that op's dispatch cache, so a second LSTM export in one process
    ran the first one's stale kernel and silently fixed the sequence length. Clearing the cache before
    and after each export keeps exports independent of one another."""
    import torch

    def clear_lstm_cache():
        cache = getattr(torch.ops.aten.lstm.input, "_dispatch_cache", None)
        if cache is not None:
            cache.clear()

    modes = {module: module.training for module in graph.module.modules()}  # the caller's, put back after
    graph.module.eval()
    clear_lstm_cache()
    try:
        with quiet(), torch.no_grad():
            yield
    finally:
        clear_lstm_cache()
        for module, training in modes.items():
            module.training = training


def save_onnx(graph: Graph, path: Path) -> None:
    import onnx
    import torch

    with exporting(graph):
        program = torch.onnx.export(
            graph.module,
            graph.example,
            dynamo=True,
            dynamic_shapes=graph.dynamic,
            input_names=graph.input_names,
            output_names=graph.output_names,
            verbose=False,
        )
    for key, value in graph.metadata.items():
        program.model.metadata_props[f"zoo.{key}"] = (
            value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        )
    program.model.doc_string = (
        f"zoo {graph.metadata['model']}: {graph.metadata['inputs']} -> {graph.metadata['outputs']}"
    )
    program.save(str(path), external_data=False)  # one self-contained file (the default splits the weights off)
    if graph.metadata["task"] == "language_model":
        # The exporter leaves the example's seq (5) in the declared shape of the logits and of the
        # intermediate values: right numbers for any seq, but onnxruntime warns at every call and
        # other runtimes may trust the 5. Declare it as the input's dimension.
        proto = onnx.load(str(path))
        del proto.graph.value_info[:]
        for output in proto.graph.output:
            if output.name == "logits":
                dim = output.type.tensor_type.shape.dim[1]
                dim.ClearField("dim_value")
                dim.dim_param = "seq"
        onnx.save(proto, str(path))
    if graph.table is not None:
        onnx.save(with_table_encoding(onnx.load(str(path)), graph.table), str(path))


def save_pt2(graph: Graph, path: Path) -> None:
    import torch

    decomposition = contextlib.nullcontext()
    if graph.metadata["task"] == "language_model":
        # Without it torch.export fixes seq to the example's (torch.onnx does the same internally).
        try:
            from torch.export._patches import register_lstm_while_loop_decomposition

            decomposition = register_lstm_while_loop_decomposition()
        except ImportError:  # a torch without it: the check below says whether the program is right
            pass
    with exporting(graph), decomposition:
        program = torch.export.export(graph.module, graph.example, dynamic_shapes=graph.dynamic)
    torch.export.save(program, path, extra_files={PT2_METADATA: json.dumps(graph.metadata, ensure_ascii=False)})


def onnx_runner(path: Path):
    """``run(inputs)``: the file's outputs for a tuple of tensors (in the graph's input order) or a
    dictionary of named arrays (a table's columns)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]

    def run(inputs):
        feeds = inputs if isinstance(inputs, dict) else {n: x.numpy() for n, x in zip(names, inputs)}
        return session.run(None, feeds)

    return run


def pt2_runner(path: Path):
    import torch

    with quiet():
        module = torch.export.load(path).module()

    def run(inputs):
        with torch.inference_mode():
            out = module(*inputs)
        return [o.numpy() for o in (out if isinstance(out, (tuple, list)) else (out,))]

    return run


def check(graph: Graph, run) -> float:
    """The largest difference between the exported file and PyTorch on the check cases; one beyond
    the tolerance is a bug in the export (or the exporter), and raises."""
    import numpy as np
    import torch

    worst = 0.0
    with exporting(graph), torch.inference_mode():
        for inputs, taken in graph.checks:
            expected = graph.module(*inputs)
            expected = expected if isinstance(expected, tuple) else (expected,)
            with quiet():
                got = run(taken)
            for e, g in zip(expected, got):
                worst = max(worst, float(np.abs(e.numpy() - g).max()))
                if not np.allclose(g, e.numpy(), atol=TOLERANCE, rtol=TOLERANCE):
                    raise RuntimeError(
                        f"the exported {graph.metadata['model']} differs from PyTorch by {worst:.2e} on inputs of "
                        f"shape {[tuple(x.shape) for x in inputs]} (a bug: please report it)"
                    )
    return worst
