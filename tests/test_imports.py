"""Each of zoo's modules can be the first one imported: a module that registers data sets, models or
tasks must not depend on another having been imported before it (a notebook's first line may be
``from zoo.data.text import read_text``)."""

from __future__ import annotations

import pytest

from conftest import run_python

FIRST = """
import importlib, pkgutil, sys
import torch, lightning  # (imported once: only zoo's own modules are imported afresh each time)
import zoo
names = [f"zoo.{package}.{m.name}" for package in ("data", "models", "tasks", "nn")
         for m in pkgutil.iter_modules(importlib.import_module(f"zoo.{package}").__path__)]
for name in names:
    for loaded in [m for m in sys.modules if m == "zoo" or m.startswith("zoo.")]:
        del sys.modules[loaded]
    importlib.import_module(name)  # first
    from zoo.registry import DATASETS, MODELS, TASKS
    print(name, len(DATASETS.names()), len(MODELS.names()), len(TASKS.names()))
"""


@pytest.mark.slow
def test_every_module_that_registers_things_can_be_imported_first(tmp_path):
    done = run_python(["-c", FIRST], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    counts = {line.split()[0]: tuple(line.split()[1:]) for line in done.stdout.splitlines()}
    assert "zoo.data.text" in counts and "zoo.data.memory" in counts and len(set(counts.values())) == 1, counts
