"""Quality of the shipped classifier recipes beside the references people use, on this machine.

    python scripts/bench_classifiers.py            # everything (about 20 minutes on 2 CPU cores)
    python scripts/bench_classifiers.py --only mlp

References, each run here in the same process run:
- LeNet-5 as pytorch/examples trains it: plain topology, Adam(1e-3), batch 128, 10 epochs, a
  hand-written PyTorch loop over the same Fashion-MNIST files and the same 54,000-image training split.
- scikit-learn's MLPClassifier with the 256-128-64 hidden layers of the Fashion-MNIST benchmark's MLP
  baseline (published: 0.900), Adam, on standardised pixels, 20 epochs.
- The spiral: scikit-learn's MLPClassifier with the recipe's layers, as the Playground's stand-in.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

import zoo
from benchlib import machine, run_zoo, table
from zoo.data import DATASETS

FASHION = "/usr/share/datasets/fashion-mnist"


def fashion_arrays():
    dm = DATASETS.get("fashion-mnist")(root=FASHION, download=False, val_split=0.1)
    dm.setup("fit")
    return [(s.tensors[0].float() / 255, s.tensors[1]) for s in (dm.train_set, dm.test_set)]


def reference_lenet(epochs: int = 10) -> tuple[float, float]:
    """pytorch/examples-style loop: plain LeNet-5, Adam 1e-3, batch 128; returns (test acc, seconds)."""
    torch.manual_seed(0)
    (x, y), (tx, ty) = fashion_arrays()
    mean, std = x.mean(), x.std()
    net = zoo.get_model("lenet")
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    start = time.perf_counter()
    for _ in range(epochs):
        net.train()
        for idx in torch.randperm(len(x)).split(128):
            loss = F.cross_entropy(net((x[idx] - mean) / std), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    seconds = time.perf_counter() - start
    net.eval()
    with torch.no_grad():
        acc = (net((tx - mean) / std).argmax(1) == ty).float().mean().item()
    return acc, seconds


def reference_sklearn(x, y, tx, ty, hidden, epochs, lr=1e-3) -> tuple[float, float]:
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x)
    clf = MLPClassifier(
        hidden_layer_sizes=hidden, max_iter=epochs, learning_rate_init=lr, random_state=0, batch_size=128
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter is the epoch budget here
        clf.fit(scaler.transform(x), y)
    return clf.score(scaler.transform(tx), ty), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["digits", "lenet", "mlp", "spiral"])
    only = parser.parse_args().only
    rows = []
    if only in (None, "digits"):  # the default recipe, as is and on Fashion-MNIST
        s = run_zoo("lenet")
        rows.append(["LeNet-5 (default recipe)", "digits", s["test"]["acc"], s["train_time_s"], "-", "-", "-"])
        s = run_zoo("lenet", "--data.name", "fashion-mnist")
        rows.append(["LeNet-5 (default recipe)", "Fashion-MNIST", s["test"]["acc"], s["train_time_s"], "-", "-", "-"])
    if only in (None, "lenet"):
        s = run_zoo("lenet", "--config", "lenet_fashion_mnist")
        ref, ref_s = reference_lenet()
        rows.append(
            [
                "LeNet-5",
                "Fashion-MNIST",
                s["test"]["acc"],
                s["train_time_s"],
                "pytorch/examples-style LeNet-5, Adam, 10 epochs",
                ref,
                ref_s,
            ]
        )
    if only in (None, "mlp"):
        s = run_zoo("mlp", "--config", "mlp_fashion_mnist")
        (x, y), (tx, ty) = fashion_arrays()
        ref, ref_s = reference_sklearn(
            x.flatten(1).numpy(), y.numpy(), tx.flatten(1).numpy(), ty.numpy(), (256, 128, 64), 20
        )
        rows.append(
            [
                "MLP",
                "Fashion-MNIST",
                s["test"]["acc"],
                s["train_time_s"],
                "sklearn MLPClassifier 256-128-64, 20 epochs (published: 0.900)",
                ref,
                ref_s,
            ]
        )
    if only in (None, "spiral"):
        s = run_zoo("mlp")
        dm = DATASETS.get("spiral")()
        dm.setup("fit")
        (x, y), (tx, ty) = [(t.tensors[0].numpy(), t.tensors[1].numpy()) for t in (dm.train_set, dm.test_set)]
        ref, ref_s = reference_sklearn(x, y, tx, ty, (32, 32, 32), 100, lr=0.01)
        rows.append(
            [
                "MLP",
                "spiral",
                s["test"]["acc"],
                s["train_time_s"],
                "sklearn MLPClassifier 32-32-32, 100 epochs",
                ref,
                ref_s,
            ]
        )
    print(f"\n{machine()}\n")
    print(
        table(
            ["model", "data", "zoo test acc", "zoo train s", "reference", "reference test acc", "reference train s"],
            rows,
        )
    )


if __name__ == "__main__":
    main()
