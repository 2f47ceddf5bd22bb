"""torch.hub entry points: ``torch.hub.load("owner/zoo", "lenet", weights="fashion-mnist")``, or from a
checkout, ``torch.hub.load(CHECKOUT, "lenet", source="local", weights="fashion-mnist")``.

Each returns a plain ``nn.Module``: untrained with keyword arguments, trained with ``weights=`` (a
weight zoo ships: ``zoo.list_weights()``; its card, ``zoo.weight_card("lenet:fashion-mnist")``, says
what input it takes). ``zoo.load_pretrained(...)`` gives the task around it, which takes raw inputs.
"""

dependencies = ["torch", "lightning", "torchmetrics", "gensim", "numba", "sklearn", "matplotlib", "yaml"]

import zoo as _zoo  # noqa: E402  (torch.hub reads `dependencies` first)


def lenet(weights: str | None = None, **kwargs):
    """LeNet-5 (LeCun et al. 1998); weights: "fashion-mnist" (test accuracy on its card)."""
    return _zoo.get_model("lenet", weights=weights, **kwargs)


def mlp(weights: str | None = None, **kwargs):
    """A Keras-style dense network; weights: "fashion-mnist" (784-1024-512-256-10)."""
    return _zoo.get_model("mlp", weights=weights, **kwargs)


def lstm(weights: str | None = None, **kwargs):
    """A character- or word-level LSTM language model; weights: "tinyshakespeare" (characters)."""
    return _zoo.get_model("lstm", weights=weights, **kwargs)


def word2vec(weights: str | None = None, **kwargs):
    """Skip-gram word vectors (Mikolov et al. 2013); weights: "wikipedia-sample" (input table: the vectors)."""
    return _zoo.get_model("word2vec", weights=weights, **kwargs)
