"""Run directories, which process of a multi-process run this is, and the cores it may use.

Every run writes into a directory of its own, ``ROOT/MODEL-DATA-YYYYmmdd-HHMMSS``. The processes of a
multi-process run share one: zoo hands it to the processes Lightning launches through ``ZOO_RUN_DIR``;
with torchrun or SLURM, set it yourself (the same path for every process).
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

from zoo.errors import ZooError

RUN_DIR_ENV = "ZOO_RUN_DIR"


def launched_rank() -> int:
    """This process's rank as its launcher (Lightning, torchrun, SLURM) set it; 0 when alone."""
    for name in ("RANK", "LOCAL_RANK", "SLURM_PROCID"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 0


def make_run_dir(root: str | Path, model_name: str, data_name: str) -> Path:
    """``ROOT/MODEL-DATA-YYYYmmdd-HHMMSS``, with ``-2``, ``-3``... when two runs start in the same second."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(root).resolve() / f"{model_name}-{data_name}-{stamp}"
    Path(root).mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 1000):
        candidate = base if attempt == 1 else base.with_name(f"{base.name}-{attempt}")
        try:
            candidate.mkdir()  # atomic: exactly one process wins each name
            return candidate
        except FileExistsError:
            continue
    raise ZooError(f"could not create a run directory under {root}")


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity where the system has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
