"""Trained weights that ship inside the package, each with its model card.

``zoo/weights/cards.json`` is the one place that names them: what each was trained on (data set and
licence), how to feed it (classes or vocabulary, preprocessing), what it scores on held-out data,
its size and sha256, and the command that reproduces it (``scripts/make_weights.py`` runs them all).
A weight is named ``MODEL:NAME``, e.g. ``lenet:fashion-mnist``; its file is a zoo checkpoint
reduced to what inference needs, loaded weights-only after its sha256 is checked.

    zoo.list_weights()                                   # ['lenet:fashion-mnist', ...]
    zoo.get_model("lenet", weights="fashion-mnist")      # the trained nn.Module (takes normalised input)
    zoo.load_pretrained("lenet:fashion-mnist")           # the task: predict() takes raw images
    zoo.weight_card("lenet:fashion-mnist")               # the model card, a dict
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zoo.errors import DataError, UsageError
from zoo.registry import unknown_name_message

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
CARDS_FILE = WEIGHTS_DIR / "cards.json"


@functools.cache
def cards() -> dict[str, dict[str, Any]]:
    """Every shipped weight's card, by ``MODEL:NAME``."""
    try:
        return json.loads(CARDS_FILE.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def list_weights(model: str | None = None) -> list[str]:
    """``MODEL:NAME`` of every shipped weight, or, for one model, the names it ships (``["fashion-mnist"]``)."""
    names = sorted(cards())
    if model is None:
        return names
    return [name.split(":", 1)[1] for name in names if name.split(":", 1)[0] == model]


def weight_card(spec: str, weights: str | None = None) -> dict[str, Any]:
    """The card of ``MODEL:NAME`` (or of ``spec`` = MODEL with ``weights`` = NAME). Unknown names raise,
    listing the weights there are."""
    key = f"{spec}:{weights}" if weights is not None else spec
    if key not in cards():
        model = key.split(":", 1)[0]
        known = [f"{model}:{n}" for n in list_weights(model)] or list_weights()
        raise UsageError(unknown_name_message("weights", key, known))
    return dict(cards()[key])


def weight_file(card: dict[str, Any]) -> Path:
    """The card's file, after checking its sha256: a damaged or replaced file is refused in one line."""
    path = WEIGHTS_DIR / card["file"]
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        raise DataError(f"{card['model']}:{card['name']}: {path} is missing; reinstall zoo") from None
    if digest != card["sha256"]:
        raise DataError(
            f"{card['model']}:{card['name']}: {path.name} does not match its model card "
            f"(sha256 {digest[:12]}..., the card says {card['sha256'][:12]}...); reinstall zoo"
        )
    return path


def load_pretrained(spec: str, weights: str | None = None, map_location: Any = "cpu"):
    """The trained task of a shipped weight (``"lenet:fashion-mnist"``), in eval mode, as
    ``zoo.load_checkpoint`` gives a run's: ``predict``, ``generate``, ``keyed_vectors().most_similar``."""
    from zoo.loading import load_checkpoint

    card = weight_card(spec, weights)
    return load_checkpoint(weight_file(card), map_location=map_location)


def get_model(name: str, *, weights: str | None = None, **kwargs: Any):
    """``zoo.get_model``: the registered model ``name`` built with ``kwargs``; with ``weights``, a shipped
    weight's trained ``nn.Module`` (its card says what input it takes: for classifiers, inputs normalised
    with the card's ``input_mean``/``input_std``, which ``load_pretrained``'s task does itself)."""
    from zoo.registry import get_model as build

    if weights is None:
        return build(name, **kwargs)
    if kwargs:
        raise UsageError(f"get_model({name!r}, weights={weights!r}) takes no other arguments: the weights fix them")
    return load_pretrained(name, weights).model


def load_trained(spec: str | Path, map_location: Any = "cpu", imports: str | Sequence[str] = ()):
    """The trained task behind whatever names one: a shipped weight (``lenet:fashion-mnist``), a run
    directory (its best checkpoint) or a checkpoint file. What every tool that uses a trained model
    (predict, export, the hub) loads through. ``imports``: as ``zoo.load_checkpoint`` takes them, the
    modules or ``.py`` files that register a model of your own."""
    from zoo.loading import load_checkpoint

    text = str(spec)
    if text in cards():
        return load_pretrained(text, map_location=map_location)
    if Path(text).expanduser().exists():
        return load_checkpoint(Path(text).expanduser(), map_location=map_location, imports=imports)
    if ":" in text and not Path(text).suffix:
        weight_card(text)  # an unknown weight: one line listing the model's (or every) weight
    raise UsageError(
        f"no such run directory, checkpoint or shipped weight: {text} (shipped: {', '.join(list_weights())})"
    )


def load_vectors(spec: str | Path):
    """``zoo.load_vectors``: gensim ``KeyedVectors`` from shipped weights (``word2vec:wikipedia-sample``),
    a word2vec run directory or a word2vec-format file."""
    from zoo import loading

    return load_pretrained(str(spec)).keyed_vectors() if str(spec) in cards() else loading.load_vectors(spec)
