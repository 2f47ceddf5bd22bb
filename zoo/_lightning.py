"""Every place zoo reaches into Lightning's (or torchmetrics') private attributes, or works around
one of their behaviours, in one module. Each function says what it works around; in
``tests/test_lightning_contract.py`` a test per workaround fails when Lightning changes that behaviour,
so a workaround never outlives its reason, nor silently breaks on an upgrade.
"""

from __future__ import annotations

import logging
import os
import warnings
from typing import Any

import torch

# --- where the training loop stands ------------------------------------------------------------------
# Lightning keeps its loop counters in ``fit_loop.epoch_loop.batch_progress``, with no public accessor.


def batches_done_in_epoch(trainer: Any) -> int:
    """Training batches finished in the current epoch (a resumed run counts the ones before its checkpoint)."""
    return trainer.fit_loop.epoch_loop.batch_progress.current.processed


def batches_done_total(trainer: Any) -> int:
    """Training batches finished since the run began, over all epochs."""
    return trainer.fit_loop.epoch_loop.batch_progress.total.processed


def batches_started_total(trainer: Any) -> int:
    """Training batches begun since the run began, the current one included (word2vec's steps are
    batches without optimizer steps, so ``global_step`` does not count them)."""
    return trainer.fit_loop.total_batch_idx + 1


def ends_epoch(trainer: Any) -> bool:
    """Whether the batch just trained was the epoch's last. Lightning 2.6 cannot resume exactly from a
    checkpoint written after it but before the epoch's end: it skips that epoch's validation and
    epoch-end hooks and counts the epochs wrong from then on. The epoch-end checkpoint follows
    within moments, so zoo writes none there."""
    progress = trainer.fit_loop.epoch_loop.batch_progress
    return bool(progress.is_last_batch) or progress.current.processed >= trainer.num_training_batches


def training_epoch_log(trainer: Any) -> tuple[dict[str, float], int]:
    """What Lightning is about to log for the training epoch that is ending, and the step it logs it at;
    asked in an ``on_train_epoch_end`` hook (as epoch figures only from then on). Lightning logs them
    after every callback's ``on_train_epoch_end``, the checkpoint callbacks' (called last) included:
    the epoch-end checkpoint is on disk before they are."""
    metrics = {k: float(v) for k, v in trainer._logger_connector.metrics["log"].items()}
    # As Lightning's log_metrics: a logged "step" is the step; else the loop's count, stepped back one.
    step = metrics.pop("step", None)
    return metrics, int(step) if step is not None else trainer.fit_loop.epoch_loop._batches_that_stepped - 1


def drop_early_train_loader(trainer: Any) -> None:
    """Call at ``on_train_start``. A schedule that asks for the number of steps
    (``trainer.estimated_stepping_batches``) makes Lightning build the training loader before a resumed
    checkpoint is restored, and then it never hands the loader its saved place in the epoch. Dropping
    that early loader makes Lightning build it again at the epoch's start, now with the place."""
    loop = trainer.fit_loop
    if loop._combined_loader is not None and loop._combined_loader_states_to_load:
        loop._combined_loader = None


def attached_trainer(module: Any) -> Any:
    """The Trainer a LightningModule is attached to, or None (``module.trainer`` raises when there is none)."""
    return getattr(module, "_trainer", None)


class PlainFxName:
    """Mixin for a LightningModule. Lightning records which hook is running in ``_current_fx_name``,
    setting it some 40 times a training step; nn.Module's ``__setattr__`` looks for a parameter, buffer
    or submodule of that name each time, ten times slower than a plain attribute (a string never is
    one of those)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "_current_fx_name":
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)


# --- torchmetrics ----------------------------------------------------------------------------------


def mark_restored_metrics_updated(metrics: list[Any]) -> None:
    """A metric's accumulated state restored from a checkpoint (``persistent(True)``) comes back with
    ``_update_count`` 0, so ``compute()`` would ignore it (and warn). A run resumed mid-epoch must go on
    summing: metrics whose state differs from their defaults count as updated."""
    for accumulator in metrics:
        for metric in accumulator.values() if hasattr(accumulator, "values") else [accumulator]:
            restored = any(
                isinstance(default, torch.Tensor)
                and bool((getattr(metric, name).cpu().double() != default.cpu().double()).any())
                for name, default in metric._defaults.items()
            )
            if restored:
                metric._update_count = max(1, metric._update_count)


# --- the process ---------------------------------------------------------------------------------


def cheap_gpu_probe() -> None:
    """On a machine with no GPU, let torch count GPUs its default (cached, microsecond) way again.

    Importing Lightning sets ``PYTORCH_NVML_BASED_CUDA_CHECK=1`` (so that a GPU count never initialises
    CUDA before worker processes fork). torch's optimizers ask whether CUDA is available at every
    ``step()``, and with that setting each ask tries to load the NVIDIA management library again: 0.1 ms
    a step, 1-5% of a small model's step on this project's CPU. Where there is no GPU there is nothing
    to protect, so the setting goes back to torch's default.
    """
    if os.environ.get("PYTORCH_NVML_BASED_CUDA_CHECK") == "1" and torch.cuda.device_count() == 0:
        os.environ["PYTORCH_NVML_BASED_CUDA_CHECK"] = "0"


# Lightning's info lines that say nothing to act on in a zoo run: advertising for a hosted service at
# every start; which accelerators exist; the step count the cosine schedule asks for; twice per run,
# that the best checkpoint is being loaded for the evaluation after training (zoo's summary names the
# checkpoint it tested); and that the run reached its max_epochs.
NOT_FOR_USERS = (
    "💡 Tip",
    "GPU available:",
    "TPU available:",
    "HPU available:",
    "Loading `train_dataloader` to estimate number of stepping batches",
    "Restoring states from the checkpoint path",
    "Restored all states from the checkpoint",
    "Loaded model weights from the checkpoint",
    "`Trainer.fit` stopped:",  # (that max_epochs or max_steps was reached: the summary's epochs say it)
)


def _no_tips(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith(NOT_FOR_USERS)


def quiet_lightning() -> None:
    """Drop Lightning's messages that do not apply to zoo's runs; keep everything else."""
    # In-memory batches need no worker processes, so the hint about workers does not apply.
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    # zoo logs once per epoch (metrics.csv) and records steps itself (steps.csv), so Lightning's
    # per-step logging interval does not apply either.
    warnings.filterwarnings("ignore", ".*smaller than the logging interval.*")
    # Lightning 2.6 with torch 2.14 warns about its own use of a torch API; nothing for users to do.
    warnings.filterwarnings("ignore", ".*isinstance\\(treespec, LeafSpec\\).*")
    # zoo's epoch figures are torchmetrics objects, already reduced across processes when computed.
    warnings.filterwarnings("ignore", ".*when logging on epoch level in distributed setting.*")
    # Every run has a directory of its own; only a resumed run finds checkpoints there, as it should.
    warnings.filterwarnings("ignore", ".*exists and is not empty.*")
    logger = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if _no_tips not in logger.filters:
        logger.addFilter(_no_tips)
