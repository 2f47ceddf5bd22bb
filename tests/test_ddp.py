"""Two processes on the CPU (DDP over gloo) train every model through Lightning's own launcher: one
run directory, one summary, the data split between the processes, metrics reduced across them."""

import json
import os
import subprocess
import sys

import pytest
import torch

import zoo
from conftest import assert_finite_metrics, checkout_env
from zoo.checkpoint import safe_load

# One worker runs this whole module under pytest -n (--dist loadgroup): its fixture starts ten processes.
pytestmark = [pytest.mark.xdist_group("ddp"), pytest.mark.slow]

DDP = [
    "--trainer.strategy",
    "ddp",
    "--trainer.devices",
    "2",
    "--trainer.accelerator",
    "cpu",
    "--trainer.enable_progress_bar",
    "false",
    "--trainer.enable_model_summary",
    "false",
]
RUNS = {
    "lenet": ["--trainer.max_epochs", "2", "--data.batch_size", "32"],
    "mlp": ["--trainer.max_epochs", "3"],
    "lstm": [
        "--trainer.max_epochs",
        "1",
        "--model.hidden_size",
        "32",
        "--data.seq_len",
        "32",
        "--task.sample_temperatures",
        "[]",
        "--trainer.limit_train_batches",
        "30",
    ],
    "word2vec": ["--trainer.max_epochs", "2", "--model.dim", "20"],
}
# (a run name -> its model and options, beside the four above: one whose loss goes bad)
DIVERGING = (
    "mlp",
    [
        "--optimizer.name",
        "sgd",
        "--optimizer.lr",
        "1e30",
        "--model.activation",
        "relu",
        "--scheduler.name",
        "constant",
        "--trainer.max_epochs",
        "5",
    ],
)


@pytest.fixture(scope="module")
def ddp_runs(tmp_path_factory):
    """All four commands at once (they wait on each other's start-up more than on the CPU)."""
    root = tmp_path_factory.mktemp("ddp")
    env = checkout_env()
    runs = {name: (name, args) for name, args in RUNS.items()} | {"diverging": DIVERGING}
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "zoo.train", model, *DDP, *args, "--trainer.default_root_dir", str(root / name)],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, (model, args) in runs.items()
    }
    results = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=600)
        results[name] = (proc.returncode, out, err, root / name)
    return results


@pytest.mark.parametrize("name", list(RUNS))
def test_two_processes_train_every_model_into_one_run(ddp_runs, name):
    code, out, err, root = ddp_runs[name]
    assert code == 0, err[-3000:]
    lines = out.strip().splitlines()
    summaries = [line for line in lines if line.startswith("{")]
    assert len(summaries) == 1 and sum(line.startswith("run_dir: ") for line in lines) == 1  # rank 0 alone reports
    summary = json.loads(summaries[0])
    assert os.listdir(root) == [os.path.basename(summary["run_dir"])]  # one directory for both processes
    assert json.loads(open(os.path.join(summary["run_dir"], "summary.json")).read()) == summary
    checkpoint = safe_load(summary["checkpoint"])
    assert checkpoint["global_step"] > 0
    assert_finite_metrics(name, summary["test"])


def test_ddp_splits_the_data_and_reduces_metrics_over_all_of_it(ddp_runs):
    """Each process takes half of every epoch (half the steps of one process), and the test accuracy
    reported is the whole test split's, as one process computes it from the checkpoint."""
    from zoo.data import DATASETS

    code, out, err, root = ddp_runs["lenet"]
    assert code == 0, err[-3000:]
    summary = json.loads(out.strip().splitlines()[-1])
    dm = DATASETS.get("digits")(image_size=28, batch_size=32)
    dm.setup("fit")
    per_process = len(dm.train_set) // 2
    assert safe_load(os.path.join(summary["run_dir"], "checkpoints", "last.ckpt"))["global_step"] == 2 * -(
        -per_process // 32
    )
    task = zoo.load_checkpoint(summary["checkpoint"])
    x, y = dm.test_set.tensors
    with torch.no_grad():
        acc = (task(x).argmax(1) == y).float().mean().item()
    assert acc == pytest.approx(summary["test"]["acc"], abs=1e-6)


def test_a_loss_gone_bad_stops_every_process_with_one_line(ddp_runs):
    """The processes agree on the verdict (a loss that goes bad in one process alone would otherwise
    leave the others waiting for it in the next gradient exchange): all stop, rank 0 says why."""
    code, out, err, root = ddp_runs["diverging"]
    errors = [line for line in err.splitlines() if line.startswith("zoo.train: error:")]
    assert code == 1 and len(errors) == 1 and "the training loss became nan at step" in errors[0], err[-3000:]
