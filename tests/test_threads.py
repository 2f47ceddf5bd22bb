"""torch's CPU threads: the ``threads`` option, zoo's choice without it (one thread for a small network,
every core for a larger one and for word2vec), ``OMP_NUM_THREADS`` honoured, a busy machine named in the
run's device line with what to set, and ``zoo.fit`` giving the caller's thread count back."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import lightning as L
import pytest
import torch

import zoo
from conftest import checkout_env
from zoo import callbacks, training

TINY = {
    "trainer.max_epochs": 1,
    "trainer.limit_train_batches": 2,
    "trainer.limit_val_batches": 1,
    "trainer.limit_test_batches": 1,
}


class Threads(L.Callback):
    """torch's thread count as training starts."""

    def on_train_start(self, trainer, pl_module) -> None:
        self.seen = torch.get_num_threads()


@pytest.fixture
def callers_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield 2
    torch.set_num_threads(before)


def test_the_threads_option_is_the_runs_and_fit_gives_the_callers_count_back(tmp_path, callers_threads):
    for wanted in (1, 3):
        seen = Threads()
        zoo.fit("lenet", overrides={**TINY, "threads": wanted}, callbacks=[seen], save=False, quiet=True)
        assert seen.seen == wanted
        assert torch.get_num_threads() == callers_threads


def test_zoos_choice_is_one_thread_for_a_small_network(tmp_path, callers_threads, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    seen = Threads()
    zoo.fit("mlp", overrides=TINY, callbacks=[seen], save=False, quiet=True)  # the spiral's 2,274 weights
    assert seen.seen == 1 and torch.get_num_threads() == callers_threads


def test_a_larger_network_and_word2vec_get_every_core_whatever_the_load(monkeypatch, callers_threads):
    """On 4 cores: LeNet (62,000 weights) and word2vec's kernel get all four, however busy the machine
    (a recipe gives the same numbers whenever it runs); the option, when given, wins."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(callbacks, "busy_cores_elsewhere", lambda: 3.0)
    lenet = training.prepare("lenet", zoo.resolve_recipe("lenet", overrides=TINY))[1]
    words = training.prepare("word2vec", zoo.resolve_recipe("word2vec", overrides=TINY))[1]
    spiral = training.prepare("mlp", zoo.resolve_recipe("mlp", overrides=TINY))[1]
    assert [training.choose_threads(None, task) for task in (lenet, words, spiral)] == [4, 4, 1]
    assert training.choose_threads(2, spiral) == 2 and training.choose_threads(1, lenet) == 1


def test_a_busy_machine_is_named_in_the_device_line_with_what_to_set(callers_threads, monkeypatch, capsys):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(callbacks, "busy_cores_elsewhere", lambda: 1.2)
    zoo.fit("lenet", overrides=TINY, save=False, model_summary="line")
    (line,) = [text for text in capsys.readouterr().err.splitlines() if text.startswith("zoo: training on")]
    assert line == (
        "zoo: training on cpu (2 threads); other processes keep 1 of the cores busy: on a shared machine "
        "threads=1 trains several times faster (each step's threads wait for the one held up)"
    )
    zoo.fit("lenet", overrides={**TINY, "threads": 2}, save=False, model_summary="line")  # (chosen: no hint)
    monkeypatch.setattr(callbacks, "busy_cores_elsewhere", lambda: 0.3)
    zoo.fit("lenet", overrides=TINY, save=False, model_summary="line")  # (a quiet machine: no hint)
    lines = [text for text in capsys.readouterr().err.splitlines() if text.startswith("zoo: training on")]
    assert lines == ["zoo: training on cpu (2 threads)"] * 2


def test_another_process_busy_on_a_core_is_seen():
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        busy = callbacks.busy_cores_elsewhere(window=0.3)
    finally:
        spinner.kill()
        spinner.wait()
    assert busy >= 0.8, busy  # (the spinner holds a whole core; other work here may add to it)


@pytest.mark.slow
def test_omp_num_threads_is_honoured_and_the_run_says_its_threads(tmp_path):
    """The command's own line says how many threads it trains on: OMP_NUM_THREADS's count when it is set
    (here 2, for a network zoo would give 1), and --threads above it."""
    base = ["-m", "zoo.train", "mlp", "--trainer.max_epochs", "1", "--trainer.default_root_dir", str(tmp_path)]
    cases = [
        ({"OMP_NUM_THREADS": "2"}, [], "(2 threads)"),
        ({"OMP_NUM_THREADS": "1"}, ["--threads", "2"], "(2 threads)"),
    ]
    for env, more, said in cases:
        environment = {k: v for k, v in checkout_env().items() if k != "OMP_NUM_THREADS"} | env
        done = subprocess.run(
            [sys.executable, *base, *more], env=environment, capture_output=True, text=True, cwd=tmp_path
        )
        assert done.returncode == 0, done.stderr[-2000:]
        lines = [line for line in done.stderr.splitlines() if line.startswith("zoo: training on cpu")]
        assert lines == [f"zoo: training on cpu {said}"], (env, more, done.stderr[-1000:])
