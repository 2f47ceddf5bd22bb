"""What a 30-epoch fit leaves in a notebook: zoo's display against Keras' progress output, for the same
network (3 dense layers of 32 tanh units, Adam at 0.01, batches of 32) on the same spiral points.

    pip install keras          # the reference (Keras 3 on its PyTorch backend: KERAS_BACKEND=torch)
    python scripts/bench_notebook.py

Each cell runs in a real Jupyter kernel (nbclient with ipykernel, as Jupyter's "Run all"), and the
table gives what the notebook stores for it: bytes of outputs (as the .ipynb holds them), outputs, lines
of text, and whether any went to stderr (which Jupyter shows as an error) or holds terminal escape codes.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

import nbformat
from nbclient import NotebookClient

from benchlib import ROOT, machine, table

SETUP = """
import os, numpy as np, zoo
os.environ["KERAS_BACKEND"] = "torch"
data, _ = zoo.build("mlp")  # the spiral as zoo trains on it: the same points for both
x_train, y_train = (t.numpy() for t in data.train_set.tensors)
x_val, y_val = (t.numpy() for t in data.val_set.tensors)
mean, std = x_train.mean(0), x_train.std(0)
x_train, x_val = (x_train - mean) / std, (x_val - mean) / std  # (zoo standardises inside the task)
"""

KERAS = """
import keras
from keras import layers
model = keras.Sequential([keras.Input((2,))] + [layers.Dense(32, activation="tanh") for _ in range(3)]
                         + [layers.Dense(2, activation="softmax")])
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(x_train, y_train, validation_data=(x_val, y_val), batch_size=32, epochs=30{verbose})
"""

CELLS = {
    "zoo.fit (this checkout)": "r = zoo.fit('mlp', overrides={'trainer.max_epochs': 30})",
    "zoo.fit, live_plot=True": "r = zoo.fit('mlp', overrides={'trainer.max_epochs': 30}, live_plot=True)",
    "Keras model.fit (verbose='auto', its default)": KERAS.format(verbose=""),
    "Keras model.fit, verbose=2": KERAS.format(verbose=", verbose=2"),
}


def stored(outputs: list) -> list[object]:
    text = "".join(
        o.get("text", "") if o["output_type"] == "stream" else o.get("data", {}).get("text/plain", "") for o in outputs
    )
    return [
        len(json.dumps(outputs)),
        len(outputs),
        len(text.splitlines()),
        sum(o["output_type"] == "stream" and o["name"] == "stderr" for o in outputs),
        "yes" if "\x1b[" in json.dumps(outputs) or "\\u001b[" in json.dumps(outputs) else "no",
    ]


def main() -> None:
    cells = [SETUP, *CELLS.values()]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        NotebookClient(nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": folder}}).execute(
            env=env
        )
        seconds = time.perf_counter() - start
    rows = [[name, *stored(cell.outputs)] for name, cell in zip(CELLS, nb.cells[1:])]
    print(f"{machine()}; the notebook ran in {seconds:.0f} s", file=sys.stderr)
    print(
        table(
            ["cell (30 epochs, same network and data)", "bytes stored", "outputs", "lines", "stderr", "escapes"], rows
        )
    )


if __name__ == "__main__":
    main()
