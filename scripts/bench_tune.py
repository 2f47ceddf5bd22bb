"""A search with the pruner against the same search without it, in one run of this script.

    OMP_NUM_THREADS=1 python scripts/bench_tune.py --no-full   # 41 minutes on 2 shared CPU cores (README)
    python scripts/bench_tune.py --trials 8 --pruners median hyperband

The search is the shipped ``mlp_fashion_mnist`` space (configs/search/): 24 trials over the learning
rate, depth, width and dropout of Fashion-MNIST's MLP, each trial 8 epochs on a tenth of the training
images per epoch (validation on all 6,000 held-out images), TPE seeded alike, one process. It runs
with ``--pruner none`` and with each pruner asked for (default: median), each as ``python -m zoo.tune``
exactly as a user runs it, timed from start to end.

References, measured in the same run of this script:
- the shipped recipe (mlp_fashion_mnist) at the search's budget: where the search started from;
- with --full (the default): the best options found, trained with the recipe's full budget (20 epochs
  on every training image) beside the recipe itself at that budget, on the test split.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import ROOT, machine, run_zoo, table

BUDGET = ["--trainer.max_epochs", "8", "--trainer.limit_train_batches", "0.1"]
FULL = ["--trainer.max_epochs", "20", "--trainer.limit_train_batches", "1.0"]


def search(pruner: str, trials: int, root: Path) -> tuple[dict, float]:
    """``python -m zoo.tune`` with this pruner; returns (its summary, wall seconds)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    cmd = [sys.executable, "-m", "zoo.tune", "mlp", "--search", "mlp_fashion_mnist", "--n_trials", str(trials)]
    cmd += ["--pruner", pruner, "--study", f"bench-{pruner}", "--dir", str(root / pruner)]
    print("$", " ".join(cmd[1:]), file=sys.stderr, flush=True)
    start = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=root)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"zoo.tune failed:\n{result.stderr[-3000:]}")
    print(result.stdout, file=sys.stderr, flush=True)
    return json.loads(result.stdout.strip().splitlines()[-1]), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--pruners", nargs="+", default=["median"], choices=["median", "hyperband"])
    parser.add_argument("--no-full", dest="full", action="store_false", help="skip the full-budget rows")
    parser.add_argument("--keep", default=None, help="keep the studies in this folder (default: a temporary one)")
    args = parser.parse_args()
    root = Path(args.keep or tempfile.mkdtemp(prefix="bench-tune-")).resolve()
    root.mkdir(parents=True, exist_ok=True)
    print(machine(), file=sys.stderr)

    rows, studies = [], {}
    for pruner in ["none", *args.pruners]:
        summary, seconds = search(pruner, args.trials, root)
        studies[pruner] = summary
        best = summary["best"]
        options = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in best["options"].items())
        counts = f"{summary.get('complete', 0)} complete, {summary.get('pruned', 0)} pruned"
        rows.append(
            [f"search, --pruner {pruner}", counts, seconds, best["value"], f"trial {best['number']}: {options}"]
        )
    start = time.perf_counter()
    recipe = run_zoo(
        "mlp", "--config", "mlp_fashion_mnist", *BUDGET, "--early_stopping.monitor", "val_acc", root=str(root / "runs")
    )
    seconds = time.perf_counter() - start
    rows.append(["the recipe at the search's budget", "1 run", seconds, recipe["val"]["acc"], "(the recipe's own)"])

    unpruned = rows[0][2]
    print(f"\n{machine()}; {args.trials} trials each, TPE seeded from the recipe (seed 0), one process\n")
    print(
        table(
            ["what", "trials", "wall s", "best val acc", "best options"],
            [row[:2] + [f"{row[2]:.0f}"] + row[3:] for row in rows],
        )
    )
    for pruner in args.pruners:
        share = next(r[2] for r in rows if r[0].endswith(pruner)) / unpruned
        gap = studies[pruner]["best"]["value"] - studies["none"]["best"]["value"]
        print(f"\n--pruner {pruner}: {share:.0%} of the unpruned wall time; best val acc {gap:+.4f} against it")

    if args.full:
        full_rows = []
        recipe_full = run_zoo("mlp", "--config", "mlp_fashion_mnist", *FULL, root=str(root / "runs"))
        full_rows.append(["the recipe (mlp_fashion_mnist)", recipe_full["val"]["acc"], recipe_full["test"]["acc"]])
        for pruner, summary in studies.items():
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
