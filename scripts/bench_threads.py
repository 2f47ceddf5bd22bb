"""Torch at 1 thread against 2, for every shipped recipe, on an idle machine and with a second process
busy on one core: training throughput (the summary's samples, characters, tokens or words a second).

    python scripts/bench_threads.py                       # every recipe, 3 repeats (about 25 minutes)
    python scripts/bench_threads.py --only mlp lstm_tinyshakespeare --repeats 5
    python scripts/bench_threads.py --threads 1 2 4       # on a machine with more cores

Each run is the real command, ``python -m zoo.train MODEL --config RECIPE``, shortened with
``max_epochs``/``max_steps``/``limit_train_batches`` (and fewer validation and test batches), so that a
step does what the recipe's step does; the thread count is set as a user sets it, ``OMP_NUM_THREADS=N``,
and read back from the run's own ``zoo: training on cpu (N threads)`` line. The figure is the summary's
``train_samples_per_s``: training steps only, after start-up, without validation, test and pictures.

"loaded" is the same run with one busy-looping process (``while True: pass``, this script's own)
started before it and stopped after it: the other engineers' test run or a second training, at its
simplest. The cases alternate (recipes in turn within a repeat; idle/loaded and 1/2 threads in the
opposite order every other repeat), and each cell is the median of the repeats. The machine's load
average is printed at the start and the end: these 2 cores are shared.
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
from contextlib import contextmanager

from benchlib import ROOT, machine, table

QUIET_EVAL = ["--trainer.limit_val_batches", "4", "--trainer.limit_test_batches", "4"]
FOR_STEPS = ["--trainer.max_epochs", "-1", "--trainer.max_time", "null", "--scheduler.over", "steps"]

# recipe -> its zoo.train arguments. The shortening keeps each recipe's model, data, batch size and
# optimizer: what one step computes.
RECIPES: dict[str, list[str]] = {
    "mlp": ["mlp", "--trainer.max_epochs", "40"],
    "mlp_diabetes": ["mlp", "--config", "mlp_diabetes", "--trainer.max_epochs", "60"],
    # the "cancer CSV": breast-cancer rows with text columns and missing cells, 20 epochs
    "tumours.csv": [
        "mlp",
        *("--data.name", "csv", "--data.path", str(ROOT / "examples" / "tumours.csv"), "--data.target", "diagnosis"),
        *("--model.hidden", "[32, 16]", "--model.activation", "relu", "--trainer.max_epochs", "20"),
    ],
    "mlp_fashion_mnist": [
        *("mlp", "--config", "mlp_fashion_mnist", "--trainer.max_epochs", "1"),
        *("--trainer.limit_train_batches", "60", *QUIET_EVAL),
    ],
    "lenet": ["lenet", "--trainer.max_epochs", "4", *QUIET_EVAL],
    "lenet_fashion_mnist": [
        *("lenet", "--config", "lenet_fashion_mnist", "--trainer.max_epochs", "1"),
        *("--trainer.limit_train_batches", "40", *QUIET_EVAL),
    ],
    "lstm": ["lstm", *FOR_STEPS, "--trainer.max_steps", "150", *QUIET_EVAL, "--task.sample_temperatures", "[]"],
    "lstm_tinyshakespeare": [
        *("lstm", "--config", "lstm_tinyshakespeare", *FOR_STEPS, "--trainer.max_steps", "200", *QUIET_EVAL),
    ],
    "lstm_words": ["lstm", "--config", "lstm_words", *FOR_STEPS, "--trainer.max_steps", "100", *QUIET_EVAL],
    "lstm_tinyshakespeare_gpu": [
        *("lstm", "--config", "lstm_tinyshakespeare_gpu", *FOR_STEPS, "--trainer.max_steps", "4"),
        *("--trainer.limit_val_batches", "1", "--trainer.limit_test_batches", "1", "--trainer.accelerator", "cpu"),
    ],
    # (its recipe shows no model summary; the summary's device line says how many threads it trained on)
    "word2vec": [
        *("word2vec", "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "3"),
        *("--trainer.enable_model_summary", "true"),
    ],
}


def load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


@contextmanager
def busy_core(on: bool):
    """One process spinning on a core while the block runs (nothing when ``on`` is false)."""
    if not on:
        yield
        return
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)  # (running before the measured process starts)
        yield
    finally:
        spinner.kill()
        spinner.wait()


def train(args: list[str], threads: int, root: str) -> tuple[float, str, int]:
    """One run of the command at ``threads`` torch threads: (rate, unit, parameters)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "zoo.train", *args, "--trainer.default_root_dir", root]
    print(f"$ OMP_NUM_THREADS={threads}", " ".join(command[1:]), file=sys.stderr, flush=True)
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=root)
    if done.returncode != 0:
        sys.exit(f"zoo failed:\n{done.stderr[-3000:]}")
    said = f"({threads} thread{'s' if threads != 1 else ''})"
    if not any(line.startswith("zoo: training on cpu") and said in line for line in done.stderr.splitlines()):
        sys.exit(f"the run did not train on the CPU with {threads} threads:\n{done.stderr[-2000:]}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    return summary["train_samples_per_s"], summary.get("sample_unit", "samples"), parameters(summary["checkpoint"])


def parameters(checkpoint: str) -> int:
    import torch

    state = torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]
    return sum(v.numel() for k, v in state.items() if k.startswith("model.") and v.is_floating_point())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=list(RECIPES), default=list(RECIPES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs=2, default=[1, 2], metavar=("FEW", "MANY"))
    args = parser.parse_args()
    few, many = args.threads
    print(f"load average at the start: {load_average()}", flush=True)
    rates: dict[tuple[str, str, int], list[float]] = {}
    about: dict[str, tuple[str, int]] = {}
    with tempfile.TemporaryDirectory() as root:
        for repeat in range(args.repeats):
            flip = repeat % 2 == 1
            for name in args.only:
                for loaded in (True, False) if flip else (False, True):
                    with busy_core(loaded):
                        for threads in (many, few) if flip else (few, many):
                            rate, unit, size = train(RECIPES[name], threads, root)
                            rates.setdefault((name, "loaded" if loaded else "idle", threads), []).append(rate)
                            about[name] = (unit, size)
            print(f"repeat {repeat + 1} of {args.repeats} done; load average {load_average()}", flush=True)
    rows = []
    for name in args.only:
        unit, size = about[name]
        cells: list[object] = [name, f"{size:,}", f"{unit}/s"]
        for load in ("idle", "loaded"):
            one, two = (statistics.median(rates[(name, load, t)]) for t in (few, many))
            cells += [one, two, f"{two / one:.2f}x"]
        rows.append(cells)
    headers = ["recipe", "parameters", "unit"]
    for load in ("idle", "loaded"):
        headers += [f"{load}: {few} thread{'s' if few != 1 else ''}", f"{many} threads", f"{many}/{few}"]
    print()
    print(table(headers, rows))
    print(f"\nmedian of {args.repeats} runs a cell; {machine()}; load average at the end: {load_average()}")


if __name__ == "__main__":
    main()
