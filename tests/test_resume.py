"""Nothing lost: a run killed anywhere resumes to exactly the uninterrupted result; signals and
non-finite losses stop a run cleanly; --resume refuses what it cannot continue, in one line."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import zoo
from conftest import ROOT, checkout_env, run_command, run_python
from zoo.checkpoint import safe_load

# LeNet on digits with everything random switched on (shuffling, augmentation, dropout) and a
# checkpoint after every step, deterministic kernels, three short epochs.
EXACT = [
    "--trainer.max_epochs",
    "3",
    "--trainer.limit_train_batches",
    "40",
    "--data.batch_size",
    "16",
    "--data.augment",
    "true",
    "--model.dropout",
    "0.2",
    "--model.batch_norm",
    "true",
    "--checkpoint.every_n_steps",
    "1",
    "--trainer.deterministic",
    "true",
    "--trainer.enable_progress_bar",
    "false",
    "--trainer.log_every_n_steps",
    "1",
]
SEED = ["--seed_everything", "3"]
KILL_AT = ROOT / "tests" / "kill_at.py"  # the real command, killed by itself at a chosen hook and step


def start(args, root):
    return subprocess.Popen(
        [sys.executable, "-m", "zoo.train", *args, "--trainer.default_root_dir", str(root)],
        cwd=root,
        env=checkout_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(predicate, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.02)


def kill_after_new_checkpoint(proc, last, delay):
    """SIGKILL ``proc`` ``delay`` seconds after it first (re)writes ``last``; where it stood when killed."""
    before = last.stat().st_mtime_ns if last.exists() else 0
    wait_for(lambda: last.exists() and last.stat().st_mtime_ns != before or proc.poll() is not None)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    progress = safe_load(last)["loops"]["fit_loop"]["epoch_loop.batch_progress"]["current"]["processed"]
    return progress


def metric_rows(run_dir):
    with open(os.path.join(run_dir, "metrics.csv")) as f:
        return [{k: v for k, v in row.items() if k != "train_time_s"} for row in csv.DictReader(f)]


@pytest.fixture(scope="module")
def alone(tmp_path_factory):
    """The uninterrupted run, as its own process like the killed ones: nothing an earlier test left in
    this process (thread settings, deterministic flags) can tell the two apart."""
    root = tmp_path_factory.mktemp("alone")
    reference = run_command(["zoo.train", "lenet", *EXACT, *SEED, "--trainer.default_root_dir", str(root)], root)
    assert reference.returncode == 0, reference.stderr
    return json.loads(reference.stdout.strip().splitlines()[-1])


def finish_and_compare(run_dir, root, alone, stood, more=()):
    """Resume ``run_dir`` to the end: everything must equal the run left alone. (On a busy machine the
    last kill may come after the run finished: a finished run is not resumed, it is compared as it is.)"""
    if (run_dir / "summary.json").is_file():
        resumed = json.loads((run_dir / "summary.json").read_text())
    else:
        done = run_command(
            [
                "zoo.train",
                "lenet",
                *EXACT,
                *SEED,
                *more,
                "--resume",
                str(run_dir),
                "--trainer.default_root_dir",
                str(root),
            ],
            root,
        )
        assert done.returncode == 0, done.stderr
        resumed = json.loads(done.stdout.strip().splitlines()[-1])
    assert resumed["run_dir"] == str(run_dir)
    assert resumed["epochs"] == alone["epochs"]
    assert (resumed["val"], resumed["test"]) == (alone["val"], alone["test"]), stood
    assert metric_rows(run_dir) == metric_rows(alone["run_dir"]), stood  # every epoch's row, once
    # every step once, in order, with the same loss
    assert (run_dir / "steps.csv").read_text() == (Path(alone["run_dir"]) / "steps.csv").read_text(), stood
    ours, theirs = (safe_load(Path(d) / "checkpoints" / "last.ckpt")["state_dict"] for d in (run_dir, alone["run_dir"]))
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs), stood


@pytest.mark.slow
@pytest.mark.xdist_group("resume")  # (one worker builds the module fixture once)
def test_killed_anywhere_and_resumed_ends_like_the_run_left_alone(tmp_path, alone):
    proc = start(["lenet", *EXACT, *SEED], tmp_path)
    wait_for(lambda: any(tmp_path.glob("lenet-digits-*/checkpoints/last.ckpt")))
    run_dir = next(tmp_path.glob("lenet-digits-*"))
    last = run_dir / "checkpoints" / "last.ckpt"
    stood = [kill_after_new_checkpoint(proc, last, 0.3)]
    for delay in (0.5, 1.0):  # killed again, each time after resuming
        proc = start(["lenet", *EXACT, *SEED, "--resume", str(run_dir)], tmp_path)
        stood.append(kill_after_new_checkpoint(proc, last, delay))
    assert any(0 < s < 40 for s in stood), stood  # at least one kill landed mid-epoch
    finish_and_compare(run_dir, tmp_path, alone, stood)


@pytest.mark.slow
@pytest.mark.xdist_group("resume")  # (one worker builds the module fixture once)
def test_killed_at_the_epoch_edges_and_resumed_ends_like_the_run_left_alone(tmp_path, alone):
    # The moments a timed kill rarely hits (epochs have 40 steps): after an epoch's last batch but
    # before its validation, during validation, at the epoch's end before its checkpoint, and after
    # that checkpoint but before Lightning logs the epoch's training metrics (a kill there left the
    # epoch's row without them for good: CI, 2026-12-05).
    points = [
        ("on_train_batch_end", 40),
        ("on_validation_batch_end", 80),
        ("on_train_epoch_end", 80),
        ("after_checkpoints:on_train_epoch_end", 80),
    ]
    run_dir = None
    for hook, step in points:
        resume = ["--resume", str(run_dir)] if run_dir else []
        killed = run_python(
            [
                str(KILL_AT),
                hook,
                str(step),
                "lenet",
                *EXACT,
                *SEED,
                *resume,
                "--trainer.default_root_dir",
                str(tmp_path),
            ],
            tmp_path,
        )
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        run_dir = run_dir or next(tmp_path.glob("lenet-digits-*"))
    finish_and_compare(run_dir, tmp_path, alone, points)


@pytest.mark.slow
def test_killed_around_the_epochs_last_validation_and_resumed_ends_like_the_run_left_alone(tmp_path):
    """Validations inside the epoch (--trainer.val_check_interval 20 of 40 steps): killed after the
    checkpoints written at the epoch's last validation (best.ckpt, newer than last.ckpt, was resumed
    from: a point after the epoch's last batch but before its end, and the epoch's training figures
    were never logged), then after the epoch-end checkpoint."""
    every = ["--trainer.val_check_interval", "20"]
    root = tmp_path / "alone"
    root.mkdir()
    reference = run_command(
        ["zoo.train", "lenet", *EXACT, *SEED, *every, "--trainer.default_root_dir", str(root)], root
    )
    assert reference.returncode == 0, reference.stderr
    alone = json.loads(reference.stdout.strip().splitlines()[-1])
    points = [("after_checkpoints:on_validation_end", 40), ("after_checkpoints:on_train_epoch_end", 80)]
    run_dir = None
    for hook, step in points:
        resume = ["--resume", str(run_dir)] if run_dir else []
        args = [str(KILL_AT), hook, str(step), "lenet", *EXACT, *SEED, *every, *resume]
        killed = run_python([*args, "--trainer.default_root_dir", str(tmp_path)], tmp_path)
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        run_dir = run_dir or next(tmp_path.glob("lenet-digits-*"))
    assert [row["step"] for row in metric_rows(run_dir)] == ["20", "40", "60", "80"]
    finish_and_compare(run_dir, tmp_path, alone, points, every)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stop_signal_finishes_the_step_saves_and_says_how_to_resume(tmp_path, sig):
    proc = start(
        [
            "mlp",
            "--trainer.max_epochs",
            "1000",
            "--trainer.enable_progress_bar",
            "false",
            "--checkpoint.every_n_steps",
            "20",
        ],
        tmp_path,
    )
    wait_for(lambda: any(tmp_path.glob("mlp-spiral-*/checkpoints/last.ckpt")))
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig
    run_dir = next(tmp_path.glob("mlp-spiral-*"))
    lines = err.strip().splitlines()
    assert lines[-1].startswith(f"zoo.train: error: interrupted by {sig.name} at step ")
    assert lines[-1].endswith(f"--resume {run_dir}") and "Traceback" not in err
    checkpoint = safe_load(run_dir / "checkpoints" / "last.ckpt")
    assert f"at step {checkpoint['global_step']};" in lines[-1]  # the checkpoint is the step it names


@pytest.mark.slow
def test_a_stop_signal_after_an_epochs_last_batch_lets_the_epoch_finish_first(tmp_path):
    # Ctrl-C during the last of 5 batches. A checkpoint taken after it would resume past the epoch's
    # validation; the epoch ends instead, then it stops.
    args = [
        "mlp",
        "--trainer.max_epochs",
        "3",
        "--trainer.limit_train_batches",
        "5",
        "--trainer.enable_progress_bar",
        "false",
        "--checkpoint.every_n_steps",
        "1",
        "--trainer.log_every_n_steps",
        "1",
        "--trainer.default_root_dir",
        str(tmp_path),
    ]
    stopped = run_python([str(KILL_AT), "--signal", "SIGINT", "on_train_batch_start", "4", *args], tmp_path)
    assert stopped.returncode == 130, stopped.stderr
    run_dir = next(tmp_path.glob("mlp-spiral-*"))
    assert stopped.stderr.strip().splitlines()[-1].startswith("zoo.train: error: interrupted by SIGINT at step 5;")
    assert [row["epoch"] for row in metric_rows(run_dir)] == ["0"] and metric_rows(run_dir)[0]["val_loss"]  # validated
    assert safe_load(run_dir / "checkpoints" / "last.ckpt")["global_step"] == 5
    done = run_command(["zoo.train", *args, "--resume", str(run_dir)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert [row["epoch"] for row in metric_rows(run_dir)] == ["0", "1", "2"]
    steps = [int(line.split(",")[0]) for line in (run_dir / "steps.csv").read_text().splitlines()[1:]]
    assert steps == list(range(1, 16))  # epoch 0 not trained again, nothing skipped


def test_a_non_finite_loss_stops_the_run_naming_the_step_and_the_learning_rate(cli, tmp_path):
    code, out, err = cli(
        "mlp",
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
        "--trainer.default_root_dir",
        str(tmp_path),
    )
    assert code == 1
    line = err.strip().splitlines()[-1]
    assert line.startswith("zoo.train: error: the training loss became ") and "learning rate (1e+30)" in line
    # The first update (at 1e30) breaks the weights, so the second batch's loss is the first bad one:
    # named exactly, although losses are read 32 steps at a time (here at the 23-batch epoch's end).
    assert " at step 2 (epoch 0);" in line
    # (it went bad before the first epoch's end, so no checkpoint exists to speak of)
    assert line.endswith("; no checkpoint was written before it") and not list(tmp_path.glob("*/checkpoints/*.ckpt"))
    for checkpoint in tmp_path.glob("*/checkpoints/*.ckpt"):  # whatever was saved is from before the fault
        assert all(
            torch.isfinite(v).all() for v in safe_load(checkpoint)["state_dict"].values() if v.is_floating_point()
        )


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    summary = zoo.fit("mlp", overrides=["--trainer.max_epochs", "3", "--trainer.default_root_dir", str(root)]).summary
    return summary


@pytest.mark.slow
@pytest.mark.xdist_group("resume")  # (one worker builds the module fixture once)
def test_resume_refuses_what_it_cannot_continue(cli, finished, tmp_path):
    code, _, err = cli("mlp", "--resume", str(tmp_path / "nowhere"))
    assert code == 2 and err.strip().splitlines() == [
        f"zoo.train: error: --resume: no such run directory or checkpoint file: {tmp_path / 'nowhere'}"
    ]
    code, _, err = cli("mlp", "--model.hidden", "[8]", "--resume", finished["run_dir"])
    assert (
        code == 2
        and "was trained with other options (model_kwargs.hidden: [32, 32, 32] then, [8] now)" in err
        and len(err.strip().splitlines()) == 1
    )
    empty = tmp_path / "empty"
    (empty / "checkpoints").mkdir(parents=True)
    code, _, err = cli("mlp", "--resume", str(empty))
    assert code == 1 and err.strip() == f"zoo.train: error: --resume: no checkpoint in {empty / 'checkpoints'}"


@pytest.mark.slow
@pytest.mark.xdist_group("resume")  # (one worker builds the module fixture once)
def test_resume_skips_a_corrupt_last_checkpoint_and_says_so(cli, finished, tmp_path):
    import shutil

    run_dir = tmp_path / "copy"
    shutil.copytree(finished["run_dir"], run_dir)
    last = run_dir / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[:1000])  # truncated, and the newest
    os.utime(last, None)
    code, out, err = cli(
        "mlp", "--trainer.max_epochs", "4", "--resume", str(run_dir), "--trainer.default_root_dir", str(tmp_path)
    )
    assert code == 0, err
    assert f"{last} is not a readable checkpoint" in err and "resuming from best.ckpt" in err
    assert os.path.basename(json.loads(out.strip().splitlines()[-1])["run_dir"]) == "copy"


def test_losses_checked_in_groups_name_the_first_bad_step():
    """On a GPU the losses of several steps are read at once (one host-device sync): the message must
    still name the step where the loss went bad, and the learning rate of that step, not those of the
    step where it was read."""
    from types import SimpleNamespace

    from zoo.callbacks import RunGuard
    from zoo.errors import Stopped

    guard = RunGuard(Path("unused.ckpt"))
    guard._unchecked = [(torch.tensor(2.5), 10, 0, 0.1), (torch.tensor(1.5), 11, 0, 0.1)]
    module = SimpleNamespace(current_lr=lambda: 0.1)
    guard.check_losses(module)  # all finite: nothing happens, nothing is kept
    assert guard._unchecked == []
    guard._unchecked = [
        (torch.tensor(2.0), 12, 0, 0.3),
        (torch.tensor(float("inf")), 13, 1, 0.2),
        (torch.tensor(float("nan")), 14, 1, 0.1),
    ]
    with pytest.raises(Stopped, match=r"became inf at step 13 \(epoch 1\).*learning rate \(0.2\)"):
        guard.check_losses(module)


def test_losses_read_in_groups_still_stop_before_a_checkpoint_holds_bad_weights(tmp_path):
    """Through the real Trainer, losses read 8 steps at a time (as on a GPU): the loss goes bad at step
    6, a checkpoint is due at step 7, before the group is full. The save must not happen, and the run
    stops naming step 6."""
    import lightning as L

    from zoo.callbacks import PeriodicCheckpoint, RunGuard
    from zoo.errors import Stopped

    class Diverges(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(3))

        def training_step(self, batch, batch_idx):
            loss = (self.w * batch).sum()
            return loss * float("nan") if batch_idx == 5 else loss  # the 6th step

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

        def current_lr(self):
            return self.trainer.optimizers[0].param_groups[0]["lr"]

    last = tmp_path / "last.ckpt"
    saver = PeriodicCheckpoint(every_n_steps=7)
    saver.path = last
    trainer = L.Trainer(
        max_epochs=1,
        callbacks=[RunGuard(last, check_every=8), saver],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
    )
    with pytest.raises(Stopped, match=r"became nan at step 6 \(epoch 0\).*learning rate \(0.01\)"):
        trainer.fit(Diverges(), torch.utils.data.DataLoader(torch.ones(20, 3), batch_size=None))
    assert not last.exists()


@pytest.mark.xdist_group("resume")  # (one worker builds the module fixture once)
def test_a_run_resumes_from_checkpoints_that_predate_the_compile_option_and_loads_uncompiled(cli, finished, tmp_path):
    import shutil

    from zoo.loading import load_checkpoint

    run_dir = tmp_path / "copy"
    shutil.copytree(finished["run_dir"], run_dir)
    for path in (run_dir / "checkpoints").glob("*.ckpt"):
        checkpoint = torch.load(path, weights_only=False)
        del checkpoint["hyper_parameters"]["compile"]  # as written before task.compile existed
        torch.save(checkpoint, path)
    code, out, err = cli(
        "mlp", "--trainer.max_epochs", "4", "--resume", str(run_dir), "--trainer.default_root_dir", str(tmp_path)
    )
    assert code == 0, err
    best = run_dir / "checkpoints" / "best.ckpt"
    checkpoint = torch.load(best, weights_only=False)
    checkpoint["hyper_parameters"]["compile"] = True  # a run trained with --task.compile true
    torch.save(checkpoint, best)
    assert load_checkpoint(best).model._compiled_call_impl is None  # an inference copy is not compiled
