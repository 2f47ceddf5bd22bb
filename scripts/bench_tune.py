"""A search with the pruner against the same search without it, in one run of this script.

    python scripts/bench_tune.py --no-full        # the README's table
    python scripts/bench_tune.py --no-full --sampler random
    python scripts/bench_tune.py --trials 8 --pruners asha
    python scripts/bench_tune.py --no-full --no-timed --pruners asha --rounds 3   # medians of 3 rounds

The search is the shipped ``mlp_fashion_mnist`` space (configs/search/): 24 trials over the learning
rate, depth, width and dropout of Fashion-MNIST's MLP, each trial 8 epochs on a tenth of the training
images per epoch (validation on all 6,000 held-out images), the sampler (TPE, or random with
``--sampler random``) seeded alike, one process. It runs
with ``--pruner none`` and with each pruner asked for (default: asha, hyperband, median), each as
``python -m zoo.tune`` exactly as a user runs it, timed from start to end; besides the wall time, the
epochs the search trained (from its trials.csv): the work, which a busy machine does not distort.
With ``--rounds N`` the searches run N times, alternating, and the wall time is the median of the
rounds (with their range): this machine's speed drifts by 10-30% from minute to minute, more than a
rule of thumb such as 40% can stand. (The trials, their epochs and the best are the same in every
round: the sampler and every trial are seeded.) Then pruning's other use: the first pruner with
``--timeout`` at 40% of the unpruned search's wall time and no limit on trials, against the unpruned
search's best.

References, measured in the same run of this script:
- the shipped recipe (mlp_fashion_mnist) at the search's budget: where the search started from;
- with --full (the default): the best options found, trained with the recipe's full budget (20 epochs
  on every training image) beside the recipe itself at that budget, on the test split.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import ROOT, machine, run_zoo, table

BUDGET = ["--trainer.max_epochs", "8", "--trainer.limit_train_batches", "0.1"]
FULL = ["--trainer.max_epochs", "20", "--trainer.limit_train_batches", "1.0"]


def epochs_trained(summary: dict) -> int:
    with open(Path(summary["study_dir"]) / "trials.csv", newline="") as f:
        return sum(int(row["epochs"] or 0) for row in csv.DictReader(f))


def search_row(label: str, summary: dict, seconds: float) -> list:
    """A table row: what, trials, epochs trained, wall s, best val acc, best options."""
    best = summary["best"]
    options = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in best["options"].items())
    counts = f"{summary.get('complete', 0)} complete, {summary.get('pruned', 0)} pruned"
    return [label, counts, epochs_trained(summary), seconds, best["value"], f"trial {best['number']}: {options}"]


def search(
    pruner: str, trials: int, root: Path, sampler: str, timeout: float | None = None, round: int = 0
) -> tuple[dict, float]:
    """``python -m zoo.tune`` with this pruner (and ``--timeout``); returns (its summary, wall seconds)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    name = f"{sampler}-{pruner}" + ("-timed" if timeout else "") + (f"-round{round + 1}" if round else "")
    cmd = [sys.executable, "-m", "zoo.tune", "mlp", "--search", "mlp_fashion_mnist", "--n_trials", str(trials)]
    cmd += ["--sampler", sampler, "--pruner", pruner, "--study", f"bench-{name}", "--dir", str(root / name)]
    cmd += ["--timeout", f"{timeout:.0f}s"] if timeout else []
    print("$", " ".join(cmd[1:]), file=sys.stderr, flush=True)
    start = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=root)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"zoo.tune failed:\n{result.stderr[-3000:]}")
    print(result.stdout, file=sys.stderr, flush=True)
    return json.loads(result.stdout.strip().splitlines()[-1]), seconds


def wall_text(row: list, walls: dict[str, list[float]]) -> str:
    """The wall seconds of a row: the median, and the range of the rounds when there were several."""
    pruner = row[0].removeprefix("search, --pruner ")
    rounds = walls.get(pruner, [])
    if len(rounds) < 2:
        return f"{row[3]:.0f}"
    return f"{row[3]:.0f} ({min(rounds):.0f}-{max(rounds):.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument(
        "--pruners", nargs="+", default=["asha", "hyperband", "median"], choices=["median", "hyperband", "asha"]
    )
    parser.add_argument("--sampler", default="tpe", choices=["tpe", "random"])
    parser.add_argument(
        "--no-timed", dest="timed", action="store_false", help="skip the search given 40%% of the unpruned time"
    )
    parser.add_argument("--no-full", dest="full", action="store_false", help="skip the full-budget rows")
    parser.add_argument("--rounds", type=int, default=1, help="run the searches this many times (median wall time)")
    parser.add_argument("--keep", default=None, help="keep the studies in this folder (default: a temporary one)")
    args = parser.parse_args()
    root = Path(args.keep or tempfile.mkdtemp(prefix="bench-tune-")).resolve()
    root.mkdir(parents=True, exist_ok=True)
    print(machine(), file=sys.stderr)

    rows, studies, walls = [], {}, {}
    for round in range(args.rounds):
        order = ["none", *args.pruners]
        for pruner in order if round % 2 == 0 else order[::-1]:  # (alternating: drift hits each alike)
            summary, seconds = search(pruner, args.trials, root, args.sampler, round=round)
            studies.setdefault(pruner, summary)
            walls.setdefault(pruner, []).append(seconds)
    for pruner in ["none", *args.pruners]:
        rows.append(search_row(f"search, --pruner {pruner}", studies[pruner], statistics.median(walls[pruner])))
    if args.timed:
        # Pruning's other use: more trials in the same time. The first pruner asked for, with as many
        # trials as start within 40% of the unpruned search's wall time (less one unpruned trial's
        # average, so that the last one started ends near it).
        unpruned = rows[0][3]
        pruner = args.pruners[0]
        summary, seconds = search(pruner, 1000, root, args.sampler, timeout=0.4 * unpruned - unpruned / args.trials)
        studies[f"{pruner}, timed"] = summary
        rows.append(search_row(f"search, --pruner {pruner} --timeout (40% of none's)", summary, seconds))
    start = time.perf_counter()
    recipe = run_zoo(
        "mlp", "--config", "mlp_fashion_mnist", *BUDGET, "--early_stopping.monitor", "val_acc", root=str(root / "runs")
    )
    seconds = time.perf_counter() - start
    own = ["the recipe at the search's budget", "1 run", recipe["epochs"], seconds, recipe["val"]["acc"]]
    rows.append([*own, "(the recipe's own)"])

    unpruned, unpruned_epochs = rows[0][3], rows[0][2]
    sampler = {"tpe": "TPE", "random": "the random sampler"}[args.sampler]
    print(f"\n{machine()}; {args.trials} trials each, {sampler} seeded from the recipe (seed 0), one process\n")
    print(
        table(
            ["what", "trials", "epochs trained", "wall s", "best val acc", "best options"],
            [row[:3] + [wall_text(row, walls)] + row[4:] for row in rows],
        )
    )
    for pruner in args.pruners:
        row = next(r for r in rows if r[0].endswith(pruner))
        gap = studies[pruner]["best"]["value"] - studies["none"]["best"]["value"]
        print(
            f"\n--pruner {pruner}: {row[3] / unpruned:.0%} of the unpruned wall time, {row[2] / unpruned_epochs:.0%} "
            f"of its epochs; best val acc {gap:+.4f} against it (goal: at most 40%, within 0.005)"
        )
        if args.rounds > 1:
            shares = [f"{p / n:.0%}" for p, n in zip(walls[pruner], walls["none"])]
            print(f"  round by round: {', '.join(shares)} of that round's unpruned wall time")
    if args.timed:
        row = next(r for r in rows if "--timeout" in r[0])
        gap = row[4] - studies["none"]["best"]["value"]
        print(
            f"\n--pruner {args.pruners[0]} --timeout: {row[3] / unpruned:.0%} of the unpruned wall time, "
            f"{row[1]}; best val acc {gap:+.4f} against the unpruned search's"
        )

    if args.full:
        full_rows = []
        recipe_full = run_zoo("mlp", "--config", "mlp_fashion_mnist", *FULL, root=str(root / "runs"))
        full_rows.append(["the recipe (mlp_fashion_mnist)", recipe_full["val"]["acc"], recipe_full["test"]["acc"]])
        for pruner, summary in studies.items():  # (the timed search's best too)
            best = Path(summary["study_dir"]) / "best.yaml"
            found = run_zoo("mlp", "--config", str(best), *FULL, root=str(root / "runs"))
            label = f"best of --pruner {pruner} (trial {summary['best']['number']})"
            full_rows.append([label, found["val"]["acc"], found["test"]["acc"]])
        print("\nTrained with the recipe's full budget (20 epochs, every training image):\n")
        print(table(["options", "val acc", "test acc"], full_rows))
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
