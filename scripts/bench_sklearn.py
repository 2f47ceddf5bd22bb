"""zoo's scikit-learn estimator beside scikit-learn's own MLPClassifier and skorch's NeuralNetClassifier:
5-fold ``cross_val_score`` of the same small MLP on scikit-learn's breast-cancer table (one hidden layer
of 32 ReLU units, Adam at 1e-3, batches of 32, 20 epochs, inputs standardised), the whole call timed,
in one run; then how many of scikit-learn's estimator checks each passes.

    pip install skorch                  # the reference
    python scripts/bench_sklearn.py     # --threads 1 (torch's threads for zoo and skorch), --seeds 3

Each runs with ``--seeds`` seeds (the initial weights and data order), alternating: the time is the
median and the accuracy the mean over the seeds, each with its range (the machine is shared; the first
call of a process pays imports no later call does, so a warm-up call comes first).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from benchlib import machine, table

EPOCHS, BATCH, HIDDEN, LR = 20, 32, 32, 1e-3


class TwoLayers(torch.nn.Module):
    def __init__(self, in_features: int = 30):
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(in_features, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 2)
        )

    def forward(self, x):
        return self.layers(x)


def estimators(seed: int) -> dict[str, object]:
    from skorch import NeuralNetClassifier

    from zoo.sklearn import ZooClassifier

    as_float32 = FunctionTransformer(lambda x: x.astype(np.float32))  # (skorch's module takes float32)
    return {
        "zoo ZooClassifier": ZooClassifier(
            "mlp",
            model__hidden=[HIDDEN],
            model__activation="relu",
            optimizer__name="adam",
            optimizer__lr=LR,
            scheduler__name="constant",
            data__batch_size=BATCH,
            trainer__max_epochs=EPOCHS,
            random_state=seed,
        ),  # (zoo standardises its inputs itself, with the training split's statistics)
        "scikit-learn MLPClassifier": make_pipeline(
            StandardScaler(),
            MLPClassifier(
                hidden_layer_sizes=(HIDDEN,),
                activation="relu",
                solver="adam",
                learning_rate_init=LR,
                batch_size=BATCH,
                max_iter=EPOCHS,
                random_state=seed,
            ),
        ),
        "skorch NeuralNetClassifier": make_pipeline(
            StandardScaler(),
            as_float32,
            NeuralNetClassifier(
                TwoLayers,
                criterion=torch.nn.CrossEntropyLoss,
                optimizer=torch.optim.Adam,
                lr=LR,
                batch_size=BATCH,
                max_epochs=EPOCHS,
                train_split=None,
                verbose=0,
            ),
        ),
    }


def estimator_checks() -> list[list[object]]:
    """How many of scikit-learn's estimator checks each torch-based estimator passes, both classifiers
    (skorch's module is the one above, sized for 4 inputs, as most of the checks' tables have: a skorch
    module is built for one input size, zoo's model is sized by the data at each fit)."""
    from sklearn.utils.estimator_checks import check_estimator
    from skorch import NeuralNetClassifier

    from zoo.sklearn import ZooClassifier

    rows = []
    for name, estimator in {
        "zoo ZooClassifier": ZooClassifier(trainer__max_epochs=10, random_state=0),
        "skorch NeuralNetClassifier": NeuralNetClassifier(
            TwoLayers,
            module__in_features=4,
            criterion=torch.nn.CrossEntropyLoss,
            max_epochs=10,
            train_split=None,
            verbose=0,
        ),
    }.items():
        results: list[dict] = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check_estimator(estimator, on_fail=None, on_skip=None, callback=lambda **kw: results.append(kw))  # noqa: B023
        count = {status: sum(r["status"] == status for r in results) for status in ("passed", "failed", "skipped")}
        failed = ", ".join(r["check_name"] for r in results if r["status"] == "failed")
        rows.append([name, len(results), count["passed"], count["failed"], count["skipped"], failed or "-"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=3, help="runs of each, with seeds 0, 1, ...")
    parser.add_argument("--no-checks", action="store_true", help="leave out the estimator checks")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")  # (MLPClassifier warns that 20 epochs did not converge: as asked)
    x, y = load_breast_cancer(return_X_y=True)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    for estimator in estimators(0).values():  # warm-up: imports and first calls
        cross_val_score(estimator, x[:100], y[:100], cv=2)
    seconds: dict[str, list[float]] = {}
    scores: dict[str, list[float]] = {}
    for seed in range(args.seeds):  # (alternating, so that the machine's drift falls on all alike)
        for name, estimator in estimators(seed).items():
            torch.manual_seed(seed)  # (skorch's initial weights; zoo seeds itself with random_state)
            start = time.perf_counter()
            scores.setdefault(name, []).append(float(cross_val_score(estimator, x, y, cv=folds).mean()))
            seconds.setdefault(name, []).append(time.perf_counter() - start)
    skorch = statistics.median(seconds["skorch NeuralNetClassifier"])
    rows = [
        [
            name,
            f"{statistics.median(times):.2f} s ({min(times):.2f}-{max(times):.2f})",
            f"{statistics.median(times) / skorch:.2f}x",
            f"{statistics.mean(scores[name]):.4f} ({min(scores[name]):.4f}-{max(scores[name]):.4f})",
        ]
        for name, times in seconds.items()
    ]
    print(f"{machine()}; torch threads {args.threads}", file=sys.stderr)
    print(
        table(
            [
                "5-fold cross_val_score, breast cancer (569 rows)",
                f"whole call, median of {args.seeds} seeds",
                "of skorch's",
                "mean accuracy (seeds' range)",
            ],
            rows,
        )
    )
    if not args.no_checks:
        print()
        print(table(["estimator", "checks", "passed", "failed", "skipped", "failed checks"], estimator_checks()))


if __name__ == "__main__":
    main()
