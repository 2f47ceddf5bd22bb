"""``zoo.fit`` as Python code calls it: messages in Python's words, short tracebacks, the caller's random
streams left alone, the seed as an option, a stop that says how to go on, results to look at."""

from __future__ import annotations

import os
import random
import re
import signal
import traceback
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch

import zoo
from conftest import run_command

TINY = {
    "trainer.max_epochs": 2,
    "trainer.limit_train_batches": 3,
    "trainer.limit_val_batches": 2,
    "trainer.limit_test_batches": 2,
}


def tiny(tmp_path, **more):
    return {**TINY, "trainer.default_root_dir": str(tmp_path), **more}


def test_a_mistyped_option_is_named_as_python_writes_it_and_the_traceback_is_short(tmp_path):
    with pytest.raises(zoo.UsageError) as caught:
        zoo.fit("mlp", overrides=tiny(tmp_path, **{"model.hiden": [8]}))
    message = str(caught.value)
    assert message.startswith("model has no option model.hiden; did you mean model.hidden?"), message
    assert "--" not in message
    frames = traceback.extract_tb(caught.value.__traceback__)
    # this test's frame and zoo.fit's, not the thirty between zoo.fit and the check that failed
    assert [f.name for f in frames][1:] == ["fit"] and len(frames) == 2
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_the_command_line_keeps_its_own_words(tmp_path):
    done = run_command(["zoo.train", "mlp", "--model.hiden", "8"], cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "zoo.train: error: model has no option --model.hiden; did you mean --model.hidden? (valid: activation, "
        "batch_norm, bias_init, dropout, hidden, l1, l2, leaky_slope, noise_std, weight_init)"
    )


def test_fit_leaves_the_callers_random_streams_where_they_were(tmp_path):
    def draws():
        return random.random(), float(np.random.rand()), float(torch.rand(()))

    os.environ.pop("PL_GLOBAL_SEED", None)  # (an earlier test's run in this process may have left it)
    random.seed(5), np.random.seed(5), torch.manual_seed(5)
    expected = draws()
    random.seed(5), np.random.seed(5), torch.manual_seed(5)
    zoo.fit("mlp", overrides=tiny(tmp_path), quiet=True)  # seeds the run with its own seed_everything
    assert draws() == expected
    assert "PL_GLOBAL_SEED" not in os.environ


@pytest.mark.slow
def test_the_seed_is_an_override_like_any_option(tmp_path):
    def first_weight(seed):
        result = zoo.fit("mlp", overrides=tiny(tmp_path, seed_everything=seed), quiet=True)
        assert result.config["seed_everything"] == seed
        return next(iter(result.task.model.parameters())).flatten()[:5].tolist()

    assert first_weight(1) == first_weight(1) != first_weight(2)
    cfg = zoo.resolve_recipe("mlp", overrides=["--seed_everything", "3"])
    assert cfg["seed_everything"] == 3
    with pytest.raises(zoo.UsageError, match="seed_everything expects int"):
        zoo.resolve_recipe("mlp", overrides={"seed_everything": "three"})


class InterruptAt(L.Callback):
    """Sends this process SIGINT at a training step, as Ctrl-C would."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.slow
def test_a_stop_carries_its_run_directory_and_says_how_to_go_on_in_python(tmp_path):
    overrides = tiny(tmp_path, **{"trainer.max_epochs": 3})
    with pytest.raises(zoo.Stopped) as caught:
        zoo.fit("mlp", overrides=overrides, callbacks=[InterruptAt(4)], quiet=True)
    stop = caught.value
    assert stop.exit_code == 130 and stop.run_dir.is_dir() and stop.checkpoint == stop.run_dir / "checkpoints/last.ckpt"
    assert stop.checkpoint.is_file()
    assert str(stop).endswith(f"to continue: zoo.fit('mlp', ..., resume={str(stop.run_dir)!r})"), str(stop)
    resumed = zoo.fit("mlp", overrides=overrides, resume=stop.run_dir, quiet=True)
    assert resumed.summary["epochs"] == 3 and resumed.run_dir == stop.run_dir


@pytest.mark.slow
def test_live_plot_redraws_the_runs_learning_curves_at_every_epochs_end(tmp_path):
    seen = []
    three = tiny(tmp_path, **{"trainer.max_epochs": 3})

    class Look(L.Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            seen.append((trainer.current_epoch, (Path(trainer.log_dir) / "learning_curves.png").is_file()))

    zoo.fit(
        "mlp", overrides=tiny(tmp_path, **{"trainer.max_epochs": 3}), callbacks=[Look()], live_plot=True, quiet=True
    )
    assert seen == [(0, False), (1, True), (2, True)]
    seen.clear()
    zoo.fit("mlp", overrides=three, callbacks=[Look()], quiet=True)
    assert seen == [(0, False), (1, False), (2, False)]  # (drawn once, at the end)


@pytest.mark.slow
def test_the_model_summary_is_a_table_or_one_line(tmp_path, capsys):
    zoo.fit("lenet", overrides=tiny(tmp_path))
    table = capsys.readouterr()
    assert "Total Flops" in table.out and "Conv2d" in table.out
    zoo.fit("lenet", overrides=tiny(tmp_path), model_summary="line")
    line = capsys.readouterr()
    assert "Total Flops" not in line.out
    assert re.search(r"^zoo: training on cpu \(\d+ threads?\)", line.err, re.M)  # (how many: test_threads.py)
    (summary,) = [text for text in line.err.splitlines() if "parameters" in text]
    assert summary.startswith("zoo: LeNet: 61.") and summary.endswith("FLOPs a sample")
    with pytest.raises(zoo.UsageError, match="model_summary must be 'line' or 'table'"):
        zoo.fit("lenet", overrides=tiny(tmp_path), model_summary="full")


def test_a_result_reads_as_a_table_of_epochs_and_pictures_by_name(tmp_path):
    result = zoo.fit("mlp", overrides=tiny(tmp_path, **{"trainer.max_epochs": 3}), quiet=True)
    history = result.history
    assert list(history["epoch"]) == [0, 1, 2] and {"train_loss", "val_loss", "val_acc"} <= set(history.columns)
    assert {"learning_curves", "decision_boundary", "confusion_matrix"} <= set(result.pictures)
    assert result.show("confusion_matrix")._repr_png_().startswith(b"\x89PNG")
    with pytest.raises(zoo.UsageError, match="no picture 'filters' .*it has: confusion_matrix"):
        result.show("filters")
    figure = result.plot(["acc"])
    assert [ax.get_ylabel() for ax in figure.axes] == ["acc"] and figure._repr_png_().startswith(b"\x89PNG")
    with pytest.raises(zoo.UsageError, match="no metric 'ppl'"):
        result.plot(["ppl"])
    assert repr(result).startswith("<zoo.Result mlp on spiral, 3 epochs: val loss ")


@pytest.mark.slow
def test_compare_takes_results_and_run_directories_and_labels_them_by_what_differs(tmp_path):
    a = zoo.fit("mlp", overrides=tiny(tmp_path), quiet=True)
    b = zoo.fit("mlp", overrides=tiny(tmp_path, **{"model.dropout": 0.5}), quiet=True)
    table = zoo.compare(a, b.run_dir).table
    assert list(table.index) == ["dropout=0.0", "dropout=0.5"]
    assert list(table["model.dropout"]) == [0.0, 0.5] and table.loc["dropout=0.5", "val_acc"] == b.summary["val"]["acc"]
    named = zoo.compare(plain=a, dropped=b)
    assert list(named.table.index) == ["plain", "dropped"] and named.metrics == ["loss", "acc"]
    with pytest.raises(zoo.UsageError, match="at least two runs"):
        zoo.compare(a)
    with pytest.raises(zoo.DataError, match="not a finished run"):
        zoo.compare(a, tmp_path)


@pytest.mark.slow
def test_a_resumed_run_removes_what_a_killed_write_left(tmp_path):
    import subprocess
    import sys

    first = zoo.fit("mlp", overrides=tiny(tmp_path), quiet=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    left = first.run_dir / "checkpoints" / f".last.ckpt.tmp-{int(dead.stdout)}"  # (its writer is gone)
    left.write_bytes(b"half a checkpoint")
    mine = first.run_dir / f".notes.txt.tmp-{os.getpid()}"  # (a live process's: it may be writing it)
    mine.write_bytes(b"{")
    zoo.fit("mlp", overrides=tiny(tmp_path, **{"trainer.max_epochs": 3}), resume=first.run_dir, quiet=True)
    assert not left.exists() and mine.exists()
