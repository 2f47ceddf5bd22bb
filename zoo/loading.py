"""Trained models back from disk: a task rebuilt from a checkpoint or a run directory, and word vectors.

Loading is weights-only: a checkpoint holds tensors, numbers, strings, lists and dicts (the task's
name and its constructor arguments among them), and one that carries pickled code is refused before
any of that code can run (``zoo/checkpoint.py``).
"""

from __future__ import annotations

import contextlib
import copy
import re
import shlex
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from zoo.errors import DataError, UsageError, ZooError, at_command_line


def load_checkpoint(path: str | Path, map_location: Any = "cpu", imports: str | Sequence[str] = ()):
    """The trained task from a checkpoint file or a run directory (its best checkpoint), in eval mode.

    ``imports``: modules or ``.py`` files to import first, as ``zoo.fit`` takes them: those that register
    the model of a run trained on a model of your own. A file zoo cannot rebuild a task from (truncated,
    garbled, wrong types, missing keys, weights that do not fit the model its hyperparameters describe)
    is refused in one DataError naming it, before any large model is built."""
    import torch

    from zoo.checkpoint import find_checkpoint, safe_load
    from zoo.recipes import import_user_code
    from zoo.registry import TASKS

    import_user_code([str(imports)] if isinstance(imports, (str, Path)) else imports)
    path = Path(path)
    if path.is_dir():
        path = find_checkpoint(path)
    checkpoint = safe_load(path, map_location)
    task_name, hparams, state = checked_layout(path, checkpoint)
    # An inference copy is not compiled, whatever the training run did: compiling is slow and on a
    # CPU needs a C++ toolchain, for a model that is called a few times.
    kwargs = {**hparams, "compile": False}
    # First on the meta device (shapes without memory): a file whose hyperparameters claim 20,000-wide
    # layers would otherwise have that model built, gigabytes and seconds, before the weights disagree.
    with rebuilding(path, task_name):
        with torch.device("meta"):
            shell = TASKS.get(task_name)(**copy.deepcopy(kwargs))
        shell.on_load_checkpoint(checkpoint)  # (may drop keys of older checkpoints from the state dict)
    state = {k: v for k, v in state.items() if k in checkpoint["state_dict"]}
    check_shapes(path, {k: tuple(v.shape) for k, v in shell.state_dict().items()}, state)
    with rebuilding(path, task_name):
        task = TASKS.get(task_name)(**kwargs)
        task.on_load_checkpoint(checkpoint)
        task.load_state_dict(state)
    return task.to(map_location if isinstance(map_location, (str, torch.device)) else "cpu").eval()


def checked_layout(path: Path, checkpoint: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """The task's name, its constructor arguments and the state dict, each of the type zoo writes; a
    registered task and model, or a line saying how to register them."""
    import torch

    from zoo.registry import MODELS, TASKS

    missing = [key for key in ("zoo_task", "hyper_parameters", "state_dict") if key not in checkpoint]
    if missing:
        raise DataError(f"{path} is not a zoo checkpoint (it has no {', '.join(missing)})")
    task_name, hparams, state = checkpoint["zoo_task"], checkpoint["hyper_parameters"], checkpoint["state_dict"]
    if not isinstance(hparams, Mapping) or not all(isinstance(k, str) for k in hparams):
        raise DataError(
            f"{path} is damaged: its hyperparameters are a {type(hparams).__name__}, not a mapping of names"
        )
    if not isinstance(state, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise DataError(f"{path} is damaged: its state dict is not a mapping of names to tensors")
    model, model_kwargs = hparams.get("model"), hparams.get("model_kwargs")
    if not isinstance(task_name, str) or not isinstance(model, str):
        raise DataError(f"{path} is damaged: its task or model name is not text ({task_name!r}, {model!r})")
    if model_kwargs is not None and not isinstance(model_kwargs, Mapping):
        raise DataError(f"{path} is damaged: its model arguments are a {type(model_kwargs).__name__}, not a mapping")
    for kind, name, registry in (("task", task_name, TASKS), ("model", model, MODELS)):
        if name not in registry:
            raise UsageError(
                f"{path} holds a {name!r} {kind}, which is not registered here: {how_to_import(path)} "
                f"(known {kind}s: {', '.join(registry.names())})"
            )
    return task_name, dict(hparams), dict(state)


def how_to_import(path: Path) -> str:
    """How the reader imports the code that registers a run's model, in the reader's words: the run
    directory's recipe names the modules when the run was trained with them (read here, never imported)."""
    from zoo.config import load_yaml_file

    config = (path.parent.parent if path.parent.name == "checkpoints" else path.parent) / "config.yaml"
    try:
        imports = load_yaml_file(config).get("imports") if config.is_file() else None
    except ZooError:
        imports = None
    named = [name for name in imports if isinstance(name, str) and name] if isinstance(imports, list) else []
    if at_command_line():
        if named:
            return "add " + " ".join(f"--import {shlex.quote(name)}" for name in named) + ", as the run was trained"
        return "add --import MODULE_OR_FILE, the module or .py file that registers it (e.g. --import my_models.py)"
    if named:
        return f"import the module that registers it first, or pass imports={named!r}, as the run was trained"
    return "import the module that registers it first, or pass imports=['my_models.py']"


@contextlib.contextmanager
def rebuilding(path: Path, task_name: str) -> Iterator[None]:
    """Whatever a task's constructor or ``load_state_dict`` raises on the values a checkpoint supplies is
    the file's fault: one DataError naming it."""
    from zoo.checkpoint import first_line

    try:
        yield
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, ArithmeticError, RuntimeError) as err:
        raise DataError(
            f"{path} is damaged: zoo cannot rebuild its {task_name} task from it ({first_line(err)})"
        ) from None


def check_shapes(path: Path, expected: dict[str, tuple[int, ...]], state: dict[str, Any]) -> None:
    """The state dict holds exactly the tensors the model its hyperparameters describe has, of their shapes."""

    def shape(dims: tuple[int, ...]) -> str:
        return "x".join(map(str, dims)) or "a scalar"

    wrong = [k for k in expected if k in state and tuple(state[k].shape) != expected[k]]
    if wrong:
        key, more = wrong[0], f"; {len(wrong) - 1} more differ" if len(wrong) > 1 else ""
        raise DataError(
            f"{path} is damaged: its weights do not fit the model its hyperparameters describe ({key} is "
            f"{shape(tuple(state[key].shape))} in the file, {shape(expected[key])} in that model{more})"
        )
    missing, extra = [k for k in expected if k not in state], [k for k in state if k not in expected]
    if missing or extra:
        detail = "; ".join(
            f"{what}: {keys[0]}" + (f" and {len(keys) - 1} more" if len(keys) > 1 else "")
            for what, keys in (("missing", missing), ("unexpected", extra))
            if keys
        )
        raise DataError(f"{path} is damaged: its weights are not the model's ({detail})")


def load_vectors(path: str | Path):
    """Word vectors from a word2vec run directory or a word2vec-format file (binary, or text if it ends in
    ``.txt``), as gensim ``KeyedVectors``."""
    from gensim.models import KeyedVectors

    path = Path(path)
    if path.is_dir():
        path = path / "vectors.bin"
    if not path.is_file():
        raise DataError(f"vectors not found: {path}")
    try:
        return KeyedVectors.load_word2vec_format(str(path), binary=path.suffix != ".txt")
    except (ValueError, UnicodeDecodeError, EOFError) as err:
        raise DataError(f"{path} is not a word2vec-format file: {err}") from None


def parse_query(query: str) -> tuple[list[str], list[str]]:
    """``king-man+woman`` -> (["king", "woman"], ["man"])."""
    positive, negative = [], []
    for sign, word in re.findall(r"([+-]?)([^+-]+)", query.strip()):
        (negative if sign == "-" else positive).append(word.strip())
    return positive, negative


def print_neighbors(vectors, queries: list[str], topn: int = 10, out=None) -> None:
    """Print each query's ``topn`` nearest words (a query written ``king-man+woman`` is an analogy: the
    words nearest vec(king) - vec(man) + vec(woman)). Words missing from the vocabulary are named after
    the other queries are answered, in one UsageError."""
    from zoo.errors import UsageError

    if topn < 1:
        raise UsageError(f"--topn must be at least 1, got {topn}")
    missing: list[str] = []
    for query in queries:
        positive, negative = parse_query(query)
        if not positive + negative:
            raise UsageError(f"{query!r} names no word: give words, or analogies written like king-man+woman")
        unknown = [w for w in positive + negative if w not in vectors.key_to_index]
        if unknown:  # answer the other queries first; name what is missing at the end
            missing += [w for w in unknown if w not in missing]
            continue
        print(f"{query}:", file=out)
        for word, score in vectors.most_similar(positive=positive, negative=negative, topn=topn):
            print(f"  {score:.3f}  {word}", file=out)
    if missing:
        # (the default tokeniser lowercases, so a capitalised word is the usual miss)
        hints = [f"{w} (try {w.lower()})" if w.lower() in vectors.key_to_index else w for w in missing]
        raise UsageError(f"not in the vocabulary: {', '.join(hints)} ({len(vectors)} words)")
