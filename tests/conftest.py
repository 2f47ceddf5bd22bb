"""Shared helpers: running the real command, in this process or in a subprocess."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

if "PYTEST_XDIST_WORKER_COUNT" in os.environ:
    # Parallel workers (pytest -n) share the cores: each worker and the commands it starts get their
    # share of threads. Two processes each asking torch for every core made both run several times
    # slower than one alone (OpenMP threads waiting on each other), not twice as fast.
    _cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    _threads = max(1, _cores // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    os.environ["OMP_NUM_THREADS"] = str(_threads)
    torch.set_num_threads(_threads)

# One small input per registered model: (constructor kwargs, input batch or tuple of inputs, expected
# output shape).
# test_models.py fails for a model that is registered without an entry here.
EXAMPLES = {
    "lenet": (dict(num_classes=7), lambda: torch.rand(3, 1, 28, 28), (3, 7)),
    "mlp": (
        dict(in_features=12, num_classes=4, hidden=[8, 6], batch_norm=True),
        lambda: torch.rand(5, 3, 2, 2),
        (5, 4),
    ),
    "lstm": (
        dict(vocab_size=13, embed_dim=8, hidden_size=16, num_layers=2, dropout=0.1),
        lambda: torch.randint(13, (3, 5)),
        (3, 5, 13),
    ),
    "word2vec": (dict(vocab_size=20, dim=8), lambda: (torch.arange(4), torch.randint(20, (4, 6))), (4, 6)),
}


# What each model's test run reports (the summary's "test" keys). A summary turns a non-finite value into
# None, so a test asserts each of these is a finite float; word2vec's analogy score is left out of a
# summary whose vocabulary covers no analogy question (its coverage says so).
TEST_METRICS = {
    "lenet": {"loss", "acc"},
    "mlp": {"loss", "acc"},
    "lstm": {"loss", "acc", "ppl", "bpc"},
    "word2vec": {"wordsim353", "simlex999"},
}


def assert_finite_metrics(model: str, metrics: dict) -> None:
    """Every metric the model reports is there and is a finite number."""
    assert TEST_METRICS[model] <= set(metrics), metrics
    for name in TEST_METRICS[model]:
        assert isinstance(metrics[name], float) and math.isfinite(metrics[name]), (name, metrics)


def require(path: Path, why: str) -> Path:
    """Skip locally when an optional real-data file is missing, but fail on CI, where .ci/run installs it."""
    if not path.exists():
        message = f"{path} is missing ({why})"
        if ON_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def checkout_env() -> dict[str, str]:
    """The environment for a subprocess that imports the zoo of this checkout (whatever is installed)."""
    env = {k: v for k, v in os.environ.items() if k != "ZOO_DEBUG"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def run_python(args: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """``python ARGS`` in a subprocess with ``checkout_env()``."""
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=checkout_env(), capture_output=True, text=True, timeout=timeout
    )


def run_command(args: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """``python -m ARGS`` in a subprocess (see ``run_python``)."""
    return run_python(["-m", *args], cwd, timeout)


def summary_of(stdout: str) -> dict:
    """The run summary: the last line on stdout, one JSON object."""
    return json.loads(stdout.strip().splitlines()[-1])


@pytest.fixture
def cli(tmp_path, capsys):
    """Run ``python -m zoo.train``'s ``main`` in this process; returns (exit code, stdout, stderr)."""
    from zoo.train import main

    def call(*args: str):
        code = main([*args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return call


def require_module(name: str, why: str):
    """Import an optional dependency: skip locally when it is missing, but fail on CI, where .ci/run installs it."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        message = f"{name} is missing ({why})"
        if ON_CI:
            pytest.fail(message)
        pytest.skip(message)
