"""Faults of the machine, not of the user: a full disk, a read-only folder, a resume with nothing left
to train, two processes writing one run directory. Each ends in one line with the right exit status,
and leaves the run directory resumable.

The full and read-only disks are real: a tmpfs mounted in a mount namespace of the test's own
(``unshare -rm``: a private mount, allowed to an unprivileged user too), where the scenario runs as a
script that reports what it saw as JSON."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import zoo
from conftest import checkout_env

pytestmark = pytest.mark.slow

TINY = [
    "--trainer.limit_val_batches",
    "2",
    "--trainer.limit_test_batches",
    "2",
    "--trainer.enable_model_summary",
    "false",
]


def in_namespace(script: str, tmp_path, mount: str = "size=4m") -> dict:
    """Run ``script`` (Python; ``DISK`` is the tmpfs's path) in a mount namespace of its own with a tmpfs
    mounted at ``DISK`` (``mount`` its options); the dict it printed as its last line."""
    if shutil.which("unshare") is None:
        pytest.fail("unshare (util-linux) is missing: the fault tests mount a tmpfs in a namespace of their own")
    disk = tmp_path / "disk"
    disk.mkdir()
    (tmp_path / "scenario.py").write_text(
        "import json, os, sys\nDISK = sys.argv[1]\n" + textwrap.dedent(script), encoding="utf-8"
    )
    command = 'mount -t tmpfs -o "$2" tmpfs "$1" && exec "$3" "$4" "$1"'
    done = subprocess.run(
        ["unshare", "-rm", "sh", "-c", command, "sh", str(disk), mount, sys.executable, str(tmp_path / "scenario.py")],
        capture_output=True,
        text=True,
        env=checkout_env(),
        timeout=600,
    )
    assert done.returncode == 0 and done.stdout.strip(), (done.returncode, done.stdout[-2000:], done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


# The scenario's helpers: run the command in this process with a callback, fill the disk at a moment.
DRIVER = """
import contextlib, io
import lightning as L
from zoo.train import main

class FillDiskAt(L.Callback):
    '''Fills DISK (to its last byte) at the start of epoch ``epoch``, or when training ends.'''
    def __init__(self, epoch=None):
        self.epoch = epoch
    def fill(self):
        with contextlib.suppress(OSError), open(os.path.join(DISK, "filler"), "wb") as f:
            while True:  # (until the disk refuses: the last write's error, or the close's, ends it)
                f.write(b"x" * 4096)
                f.flush()
    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch:
            self.fill()
    def on_train_end(self, trainer, pl_module):
        if self.epoch is None:
            self.fill()

def train(*args, callbacks=()):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["mlp", "--trainer.default_root_dir", DISK, *args], callbacks=list(callbacks))
    return code, out.getvalue(), err.getvalue()

def files():
    return sorted(os.path.relpath(os.path.join(d, f), DISK) for d, _, fs in os.walk(DISK) for f in fs if f != "filler")
"""


def test_a_full_disk_mid_run_stops_in_one_line_and_the_run_resumes_once_there_is_room(tmp_path):
    seen = in_namespace(
        DRIVER
        + f"""
code, out, err = train("--trainer.max_epochs", "4", *{TINY!r}, callbacks=[FillDiskAt(epoch=2)])
before = files()
os.remove(os.path.join(DISK, "filler"))  # room again
run = [f for f in before if f.endswith("config.yaml")][0].split("/")[0]
again = train("--trainer.max_epochs", "4", *{TINY!r}, "--resume", os.path.join(DISK, run))
print(json.dumps({{"code": code, "err": err, "files": before, "again": again[:2], "again_err": again[2], "run": run}}))
""",
        tmp_path,
    )
    lines = seen["err"].strip().splitlines()
    assert seen["code"] == 1 and lines[-1].startswith("zoo.train: error: cannot write "), seen["err"]
    assert "no space left on the device (the disk is full); the run stopped (best.ckpt, last.ckpt in " in lines[-1]
    assert lines[-1].endswith(
        f"when it can write again: python -m zoo.train mlp [the same options] --resume {tmp_path}/disk/{seen['run']}"
    )
    assert not any(".tmp-" in f for f in seen["files"]), seen["files"]  # no half file under any name
    assert f"{seen['run']}/checkpoints/last.ckpt" in seen["files"]
    code, out = seen["again"]
    assert code == 0, seen["again_err"]
    assert json.loads(out.strip().splitlines()[-1])["epochs"] == 4  # resumed from the whole checkpoint


def test_a_disk_that_fills_after_training_skips_the_pictures_and_keeps_the_trained_run(tmp_path):
    seen = in_namespace(
        DRIVER
        + f"""
code, out, err = train("--trainer.max_epochs", "2", *{TINY!r}, callbacks=[FillDiskAt()])
print(json.dumps({{"code": code, "out": out, "err": err, "files": files()}}))
""",
        tmp_path,
    )
    assert seen["code"] == 0, seen["err"]
    summary = json.loads(seen["out"].strip().splitlines()[-1])  # the summary still comes out
    assert summary["epochs"] == 2 and summary["test"]["acc"] is not None
    assert "cannot write the learning curves" in seen["err"] and "; skipped" in seen["err"]
    assert "cannot write its pictures and files" in seen["err"] and "cannot write summary.json" in seen["err"]
    assert not any(f.endswith(".png") or ".tmp-" in f for f in seen["files"]), seen["files"]  # none half written
    assert any(f.endswith("checkpoints/best.ckpt") for f in seen["files"])


def test_a_read_only_run_root_is_one_line(tmp_path):
    seen = in_namespace(
        DRIVER
        + """
code, out, err = train("--trainer.max_epochs", "1")
print(json.dumps({"code": code, "err": err}))
""",
        tmp_path,
        mount="ro,size=1m",
    )
    assert seen["code"] == 1
    assert seen["err"].strip().splitlines() == [
        f"zoo.train: error: cannot write the run directory {tmp_path}/disk/"
        + seen["err"].split(f"{tmp_path}/disk/", 1)[1].split(":", 1)[0]
        + ": a read-only file system; give a folder this process may write: --trainer.default_root_dir DIR"
    ]


def test_a_command_that_writes_elsewhere_says_it_in_one_line(tmp_path):
    """zoo.predict's --out on a read-only disk: the commands' own writes are one line too."""
    image = tmp_path / "shirt.png"
    from PIL import Image

    Image.new("L", (28, 28), 128).save(image)
    seen = in_namespace(
        f"""
import subprocess
done = subprocess.run([sys.executable, "-m", "zoo.predict", "lenet:fashion-mnist", {str(image)!r},
                       "--out", os.path.join(DISK, "predictions.csv")], capture_output=True, text=True)
print(json.dumps({{"code": done.returncode, "err": done.stderr}}))
""",
        tmp_path,
        mount="ro,size=1m",
    )
    assert seen["code"] == 1 and seen["err"].strip().splitlines()[-1] == (
        f"zoo.predict: error: cannot write {tmp_path}/disk/predictions.csv: a read-only file system"
    ), seen["err"]


def test_resuming_with_no_epochs_left_says_what_the_checkpoint_reached(tmp_path):
    options = {"trainer.max_epochs": 3, "trainer.limit_val_batches": 2, "trainer.default_root_dir": str(tmp_path)}
    run = zoo.fit("mlp", overrides=options, quiet=True)
    with pytest.raises(zoo.UsageError) as fewer:
        zoo.fit("mlp", overrides={**options, "trainer.max_epochs": 2}, resume=run.run_dir, quiet=True)
    assert str(fewer.value) == (
        "resume: last.ckpt has trained 3 epochs (69 steps), more than trainer.max_epochs 2 asks; to train on, "
        "give trainer.max_epochs above 3"
    )
    with pytest.raises(zoo.UsageError, match="as many as trainer.max_epochs 3 asks"):
        zoo.fit("mlp", overrides=options, resume=run.run_dir, quiet=True)
    with pytest.raises(zoo.UsageError, match=r"to train on, give trainer.max_steps above 69"):
        zoo.fit(
            "mlp",
            overrides={**options, "trainer.max_epochs": 9, "trainer.max_steps": 50},
            resume=run.run_dir,
            quiet=True,
        )
    # Stopped after its last epoch's checkpoint but before the test and summary: resuming finishes it.
    (run.run_dir / "summary.json").unlink()
    finished = zoo.fit("mlp", overrides=options, resume=run.run_dir, quiet=True)
    assert finished.run_dir == run.run_dir and (run.run_dir / "summary.json").is_file()
    assert finished.summary["test"] == run.summary["test"] and finished.summary["epochs"] == 3


def test_a_run_directory_is_written_by_one_process_at_a_time(tmp_path):
    """A second process resuming a run directory that another is writing is refused, naming it; once
    that one is killed (its lock left behind), the resume takes the lock over and goes on."""
    root = tmp_path / "runs"
    first = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "zoo.train",
            "mlp",
            "--trainer.max_epochs",
            "400",
            "--trainer.default_root_dir",
            str(root),
        ],
        env=checkout_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        run_dir = first.stdout.readline().removeprefix("run_dir: ").strip()  # (the run's first line)
        deadline = time.monotonic() + 120
        while not os.path.exists(os.path.join(run_dir, "checkpoints", "last.ckpt")):
            assert time.monotonic() < deadline and first.poll() is None, "the first run never wrote a checkpoint"
            time.sleep(0.2)
        second = [sys.executable, "-m", "zoo.train", "mlp", "--trainer.max_epochs", "400", "--resume", run_dir]
        refused = subprocess.run(second, env=checkout_env(), capture_output=True, text=True, timeout=300)
        assert refused.returncode == 1
        assert refused.stderr.strip() == (
            f"zoo.train: error: {run_dir} is being written by another run: process {first.pid} "
            f"(its lock {run_dir}/.lock); wait for it to end, or stop it"
        )
    finally:
        first.send_signal(signal.SIGKILL)  # (no clean end: the lock stays, its process gone)
        first.wait()
    assert os.path.exists(os.path.join(run_dir, ".lock"))
    import torch

    done = torch.load(os.path.join(run_dir, "checkpoints", "last.ckpt"), weights_only=True)
    epochs = done["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"]
    second[second.index("400")] = str(epochs + 1)  # (one more epoch than the killed run reached)
    taken = subprocess.run(second, env=checkout_env(), capture_output=True, text=True, timeout=300)
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert json.loads(taken.stdout.strip().splitlines()[-1])["epochs"] == epochs + 1
    assert not os.path.exists(os.path.join(run_dir, ".lock"))  # (released at the end)
