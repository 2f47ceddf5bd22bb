"""Trained models back from disk: a task rebuilt from a checkpoint or a run directory, and word vectors.

Loading is weights-only: a checkpoint holds tensors, numbers, strings, lists and dicts (the task's
name and its constructor arguments among them), and one that carries pickled code is refused before
any of that code can run (``zoo/checkpoint.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo.errors import DataError, UsageError


def load_checkpoint(path: str | Path, map_location: Any = "cpu"):
    """The trained task from a checkpoint file or a run directory (its best checkpoint), in eval mode."""
    import torch

    from zoo.checkpoint import find_checkpoint, safe_load
    from zoo.registry import MODELS, TASKS

    path = Path(path)
    if path.is_dir():
        path = find_checkpoint(path)
    checkpoint = safe_load(path, map_location)
    if "zoo_task" not in checkpoint or "hyper_parameters" not in checkpoint:
        raise DataError(f"{path} is not a zoo checkpoint (no task name or hyperparameters)")
    hparams = checkpoint["hyper_parameters"]
    if hparams.get("model") not in MODELS:
        raise UsageError(
            f"{path} holds a {hparams.get('model')!r} model, which is not registered here: import the module "
            f"that registers it first (known: {', '.join(MODELS.names())})"
        )
    # An inference copy is not compiled, whatever the training run did: compiling is slow and on a
    # CPU needs a C++ toolchain, for a model that is called a few times.
    task = TASKS.get(checkpoint["zoo_task"])(**{**hparams, "compile": False})
    task.on_load_checkpoint(checkpoint)
    task.load_state_dict(checkpoint["state_dict"])
    return task.to(map_location if isinstance(map_location, (str, torch.device)) else "cpu").eval()


def load_trained(source: str | Path, map_location: Any = "cpu"):
    """The trained task a command is pointed at (its MODEL_OR_RUN argument), in eval mode: a run
    directory, a checkpoint file, or ``MODEL:WEIGHTS`` naming shipped weights. Every command that uses a
    trained model resolves its argument here, so a new kind of source is added in one place."""
    path = Path(source)
    if path.exists():
        return load_checkpoint(path, map_location)
    from zoo.registry import MODELS

    model, _, weights = str(source).partition(":")
    # SHIPPED WEIGHTS: `MODEL:WEIGHTS` (lenet:fashion-mnist) loads through zoo.load_pretrained here, once
    # the package ships weights; until then the name is refused below.
    if model in MODELS:
        shown = f"{model}:{weights}" if weights else model
        raise UsageError(
            f"{shown!r} names a model, not trained weights (this version of zoo ships none): "
            f"give a run directory or a checkpoint file (.ckpt)"
        )
    raise DataError(f"{source} not found: give a run directory or a checkpoint file (.ckpt)")


def load_vectors(path: str | Path):
    """Word vectors from a word2vec run directory or a word2vec-format file (binary, or text if it ends
    in ``.txt``), as gensim ``KeyedVectors``."""
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
