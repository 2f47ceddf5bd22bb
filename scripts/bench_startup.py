"""How long a learner waits for zoo's first answer: a usage error, --help, --print_config, zoo.predict's
help and list of shipped weights, and the first training step of ``python -m zoo.train lenet``.

    python scripts/bench_startup.py                       # this checkout
    python scripts/bench_startup.py --before /tmp/zoo-old # and another checkout, in the same run

Each command is a fresh process, timed from its start to its answer (the first training step: to the
moment Lightning calls the task's first ``on_train_batch_start``), the median of ``--repeats`` runs.
The commands alternate between the checkouts, so the machine's drift falls on both alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import ROOT, machine, table

# The first training step, however the checkout's command is written: the hook every zoo task inherits.
FIRST_STEP = """
import os, runpy, sys
import lightning.pytorch as pl
def first(self, batch, batch_idx):
    print("FIRST STEP", file=sys.stderr, flush=True)
    os._exit(0)
pl.LightningModule.on_train_batch_start = first
sys.argv = ["zoo.train", *sys.argv[1:]]
runpy.run_module("zoo.train", run_name="__main__")
"""

CASES = {
    "usage error (--data.batch_sise 3)": ["-m", "zoo.train", "lenet", "--data.batch_sise", "3"],
    "--help": ["-m", "zoo.train", "--help"],
    "--print_config": ["-m", "zoo.train", "lenet", "--print_config"],
    "`zoo.predict --help`": ["-m", "zoo.predict", "--help"],
    "`zoo.predict --list` (the shipped weights)": ["-m", "zoo.predict", "--list"],
    "first training step of `zoo.train lenet`": ["-c", FIRST_STEP, "lenet"],
}


def timed(checkout: Path, args: list[str], cwd: str) -> float:
    env = dict(os.environ, PYTHONPATH=str(checkout))
    start = time.perf_counter()
    result = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - start
    if "-c" in args and "FIRST STEP" not in result.stderr:
        sys.exit(f"{checkout}: the run did not reach a training step:\n{result.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="another checkout of zoo to time in the same run")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    checkouts = {"this checkout": ROOT} | ({"before": args.before.resolve()} if args.before else {})
    times: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as runs:
        for _ in range(args.repeats):
            for case, command in CASES.items():
                for name, checkout in checkouts.items():
                    times.setdefault((case, name), []).append(timed(checkout, command, runs))
    headers = ["command", *(f"{name} (s, median of {args.repeats})" for name in checkouts)]
    rows = [[case, *(f"{statistics.median(times[case, name]):.2f}" for name in checkouts)] for case in CASES]
    print(f"\n{machine()}\n")
    print(table(headers, rows))


if __name__ == "__main__":
    main()
