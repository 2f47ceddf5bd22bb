"""Tables and regression beside the references people use, on this machine, in one run.

    python scripts/bench_tables.py                      # all four (about 5 minutes on a quiet 2-core machine)
    python scripts/bench_tables.py --only diabetes tumours speed wide

1. diabetes (regression): zoo's ``mlp_diabetes`` recipe, test R², beside scikit-learn's MLPRegressor
   with the same hidden layers (standardised inputs and target, as zoo trains) and
   HistGradientBoostingRegressor (a strong tabular reference), trained on zoo's training rows and
   scored on zoo's test rows.
2. a table with text columns and missing cells (examples/tumours.csv, written by
   scripts/make_tumours_table.py from scikit-learn's breast-cancer set): zoo reading the file as it is,
   test accuracy, beside scikit-learn's SimpleImputer + OneHotEncoder + MLPClassifier pipeline with the
   same hidden layers, on the same rows of the same file.
3. small-table speed: 100 epochs on a 344-row table (4 numeric features, 3 classes; the PERF-NOTES
   setting), a Dense 64-BN-ReLU-Dropout-32-BN-ReLU network, batch 32, 10% validation: zoo's
   milliseconds an epoch against Keras 3 with the torch backend fitting the same network with
   ``validation_split``, each the median epoch of its own process. Keras is not a zoo dependency:
   ``pip install keras`` first (this script sets KERAS_BACKEND=torch for its Keras process).
4. wide and long tables: what a command checks before training (``zoo.data.tables.check_table``: the
   file read, its header, every column's kind, the target's classes) on tables 20,000 to 200,000
   columns wide and 4 rows long, and 200,000 rows long and 20 columns wide, against pandas reading the
   same file (``read_csv(dtype=str)``, the reference: zoo's reading does at least that much).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

import zoo
from benchlib import ROOT, machine, table

TUMOURS = ROOT / "examples" / "tumours.csv"
TUMOUR_HIDDEN = [32, 16]


def split_of(model: str, overrides: dict):
    """zoo's data module for a recipe, set up exactly as ``zoo.fit`` sets it up (same split)."""
    datamodule, _ = zoo.build(model, overrides=overrides)
    return datamodule


def diabetes() -> list[list[object]]:
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.metrics import r2_score
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    recipe = zoo.resolve_recipe("mlp", config="mlp_diabetes")
    start = time.perf_counter()
    result = zoo.fit("mlp", config=recipe, overrides={"trainer.default_root_dir": "runs/bench"}, quiet=True)
    zoo_seconds = time.perf_counter() - start
    dm = split_of("mlp", {"task.name": "regression", "data.name": "diabetes"})
    (x, y), (tx, ty) = [(s.tensors[0].numpy(), s.tensors[1].numpy()[:, 0]) for s in (dm.train_set, dm.test_set)]
    hidden = tuple(recipe["model"]["hidden"])
    rows = [
        [
            f"zoo `--config mlp_diabetes` (MLP {'-'.join(map(str, hidden))})",
            result.summary["test"]["r2"],
            result.summary["test"]["rmse"],
            f"{zoo_seconds:.1f} s",
        ]
    ]
    references = {
        f"scikit-learn MLPRegressor {'-'.join(map(str, hidden))}, defaults, standardised inputs and target": (
            TransformedTargetRegressor(
                make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=hidden, random_state=0)),
                transformer=StandardScaler(),
            )
        ),
        "scikit-learn HistGradientBoostingRegressor (defaults)": HistGradientBoostingRegressor(random_state=0),
    }
    for name, reference in references.items():
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reference.fit(x, y)
        seconds = time.perf_counter() - start
        predicted = reference.predict(tx)
        rows.append([name, r2_score(ty, predicted), float(np.sqrt(np.mean((ty - predicted) ** 2))), f"{seconds:.1f} s"])
    return rows


def tumours() -> list[list[object]]:
    import pandas as pd
    from sklearn.compose import make_column_transformer
    from sklearn.impute import SimpleImputer
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    overrides = {"data.name": "csv", "data.path": str(TUMOURS), "data.target": "diagnosis"}
    options = {**overrides, "model.hidden": TUMOUR_HIDDEN, "model.activation": "relu", "model.dropout": 0.2}
    options |= {"optimizer.lr": 0.003}
    options |= {"trainer.max_epochs": 100, "trainer.default_root_dir": "runs/bench"}
    start = time.perf_counter()
    result = zoo.fit("mlp", overrides=options, quiet=True)
    zoo_seconds = time.perf_counter() - start
    split = split_of("mlp", overrides).row_positions

    from zoo.data.tables import MISSING

    frame = pd.read_csv(TUMOURS, keep_default_na=False, na_values=list(MISSING))
    target = frame.pop("diagnosis")
    numbers = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    text = [c for c in frame.columns if c not in numbers]
    pipeline = make_pipeline(
        make_column_transformer(
            (make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler()), numbers),
            (
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="(missing)"), OneHotEncoder(handle_unknown="ignore")
                ),
                text,
            ),
        ),
        MLPClassifier(hidden_layer_sizes=tuple(TUMOUR_HIDDEN), random_state=0),
    )
    start = time.perf_counter()
    pipeline.fit(frame.iloc[split["train"]], target.iloc[split["train"]])
    seconds = time.perf_counter() - start
    accuracy = float((pipeline.predict(frame.iloc[split["test"]]) == target.iloc[split["test"]]).mean())
    layers = "-".join(map(str, TUMOUR_HIDDEN))
    return [
        [
            f"zoo, the file as it is (MLP {layers}, dropout 0.2, 100 epochs)",
            result.summary["test"]["acc"],
            f"{zoo_seconds:.1f} s",
        ],
        [f"scikit-learn SimpleImputer + OneHotEncoder + MLPClassifier {layers}", accuracy, f"{seconds:.1f} s"],
    ]


# --- small-table speed ----------------------------------------------------------------------------

KERAS = r"""
import json, sys, time
import numpy as np, pandas as pd
import keras

frame = pd.read_csv(sys.argv[1])
y = frame.pop("label").to_numpy()
x = frame.to_numpy("float32")
x = (x - x.mean(0)) / x.std(0)
keras.utils.set_random_seed(0)
model = keras.Sequential([
    keras.Input((x.shape[1],)),
    keras.layers.Dense(64), keras.layers.BatchNormalization(), keras.layers.Activation("relu"),
    keras.layers.Dropout(0.2),
    keras.layers.Dense(32), keras.layers.BatchNormalization(), keras.layers.Activation("relu"),
    keras.layers.Dense(3),
])
model.compile(
    optimizer=keras.optimizers.Adam(1e-3),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
stamps = []
class Clock(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        stamps.append(time.perf_counter())
    def on_train_end(self, logs=None):
        stamps.append(time.perf_counter())
history = model.fit(x, y, batch_size=32, epochs=100, validation_split=0.1, verbose=0, callbacks=[Clock()])
epochs = [b - a for a, b in zip(stamps, stamps[1:])]
print(json.dumps({"epochs": epochs, "val_acc": history.history["val_accuracy"][-1]}))
"""


def small_table(folder: Path) -> tuple[Path, Path]:
    """A 344-row table with 4 numeric features and 3 classes; the same rows for both sides: zoo reads
    the whole file (20% test, then 10% validation), Keras the rows zoo trains and validates on."""
    import pandas as pd
    from sklearn.datasets import make_classification

    x, y = make_classification(344, 4, n_informative=3, n_redundant=0, n_classes=3, random_state=0)
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d"]).assign(label=y)
    whole = folder / "small.csv"
    frame.to_csv(whole, index=False)
    split = split_of("mlp", {"data.name": "csv", "data.path": str(whole), "data.target": "label"}).row_positions
    keras_rows = folder / "small_keras.csv"
    frame.iloc[split["train"] + split["val"]].to_csv(keras_rows, index=False)  # validation_split takes the last 10%
    return whole, keras_rows


def speed() -> list[list[object]]:
    from lightning.pytorch.callbacks import Callback

    class Clock(Callback):
        def __init__(self):
            self.stamps = []

        def on_train_epoch_start(self, trainer, task):
            self.stamps.append(time.perf_counter())

        def on_train_end(self, trainer, task):
            self.stamps.append(time.perf_counter())

    with tempfile.TemporaryDirectory() as folder:
        whole, keras_rows = small_table(Path(folder))
        clock = Clock()
        options = {"data.name": "csv", "data.path": str(whole), "data.target": "label", "data.batch_size": 32}
        options |= {"model.hidden": [64, 32], "model.batch_norm": True, "model.dropout": [0.2, 0.0]}
        options |= {"model.activation": "relu", "optimizer.lr": 1e-3, "scheduler.name": "constant"}
        options |= {"trainer.max_epochs": 100, "trainer.default_root_dir": str(Path(folder) / "runs")}
        result = zoo.fit("mlp", overrides=options, callbacks=[clock], quiet=True)
        zoo_epochs = [b - a for a, b in zip(clock.stamps, clock.stamps[1:])]
        env = dict(os.environ, KERAS_BACKEND="torch")
        done = subprocess.run([sys.executable, "-c", KERAS, str(keras_rows)], capture_output=True, text=True, env=env)
        if done.returncode != 0:
            sys.exit(f"Keras failed (pip install keras?):\n{done.stderr[-2000:]}")
        keras = json.loads(done.stdout.strip().splitlines()[-1])
    zoo_ms, keras_ms = (1000 * statistics.median(e[1:]) for e in (zoo_epochs, keras["epochs"]))
    return [
        [
            "zoo (`--data.name csv`, the whole epoch: training, validation, checkpoints)",
            f"{zoo_ms:.0f}",
            result.summary["val"]["acc"],
            "1.00x",
        ],
        [
            "Keras 3, torch backend, `fit(validation_split=0.1)`",
            f"{keras_ms:.0f}",
            keras["val_acc"],
            f"{keras_ms / zoo_ms:.2f}x zoo's time",
        ],
    ]


def wide() -> list[list[object]]:
    import pandas as pd

    from zoo.data import tables

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        rng = np.random.default_rng(0)
        for columns, length in ((20_000, 4), (100_000, 4), (200_000, 4), (20, 200_000)):
            path = Path(folder) / f"t{columns}x{length}.csv"
            cells = rng.integers(0, 1000, (length, columns)) / 10
            frame = pd.DataFrame(cells, columns=[f"c{i}" for i in range(columns)]).assign(y=np.arange(length) % 2)
            frame.to_csv(path, index=False)
            start = time.perf_counter()
            pd.read_csv(path, dtype=str, keep_default_na=False)
            reference = time.perf_counter() - start
            tables._last_read.clear()  # (read it, do not remember it)
            start = time.perf_counter()
            tables.check_table(
                {"data": {"name": "csv", "path": str(path), "target": "y"}, "task": {"name": "classification"}}
            )
            checked = time.perf_counter() - start
            size = f"{path.stat().st_size / 1e6:.1f} MB"
            rows.append([f"{columns:,} columns x {length:,} rows ({size})", f"{checked:.2f} s", f"{reference:.2f} s"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=["diabetes", "tumours", "speed", "wide"], default=None)
    args = parser.parse_args()
    wanted = args.only or ["diabetes", "tumours", "speed", "wide"]
    print(machine(), "\n")
    if "diabetes" in wanted:
        print("diabetes regression, test split (88 rows)\n")
        print(table(["model", "test R²", "test RMSE", "training"], diabetes()), "\n", flush=True)
    if "tumours" in wanted:
        print("examples/tumours.csv (text columns, missing cells), test split\n")
        print(table(["model", "test accuracy", "training"], tumours()), "\n", flush=True)
    if "speed" in wanted:
        print("344-row table, 100 epochs, batch 32, 10% validation: median epoch\n")
        print(table(["", "ms an epoch", "final val accuracy", ""], speed()), "\n", flush=True)
    if "wide" in wanted:
        print("wide and long tables: the check before training (read, header, columns, target)\n")
        print(table(["table", "zoo's check", "pandas.read_csv alone"], wide()), flush=True)


if __name__ == "__main__":
    main()
