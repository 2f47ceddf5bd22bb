"""Trained models back from disk: a task rebuilt from a checkpoint or a run directory, and word vectors.

Loading is weights-only: a checkpoint holds tensors, numbers, strings, lists and dicts (the task's
name and its constructor arguments among them), and one that carries pickled code is refused before
any of that code can run (``zoo/checkpoint.py``).
"""

from __future__ import annotations

import re
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
