"""What every task shares.

A task is a LightningModule that wraps a plain ``nn.Module`` from the registry (Lightning's "system"
pattern) and owns what the model should not know: the loss, the metrics, the optimizer and schedule,
the files a finished run leaves. The contract in one sentence: the Trainer knows only the task; the
task builds its model by name (``get_model(model, **model_kwargs)``) and asks of it only what its own
module's contract says (a classifier's ``forward``, a language model's ``forward_with_state``,
skip-gram's two embedding tables), checked when the task is built.

Every ``__init__`` argument lands in ``hparams`` and in each checkpoint, so a checkpoint alone rebuilds
the task (``zoo/loading.py``). Only plain data goes in there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import lightning as L
import torch
from torch import nn

from zoo._lightning import PlainFxName, attached_trainer, drop_early_train_loader, mark_restored_metrics_updated
from zoo.errors import UsageError
from zoo.optim import build_optimizer, build_scheduler
from zoo.registry import get_model

STAGES = ("train", "val", "test")


class Task(PlainFxName, L.LightningModule):
    #: registry name (set by ``@register_task``), saved in every checkpoint as ``zoo_task``
    name = ""
    #: the metric that decides the "best" checkpoint; None: the last epoch is the result
    monitor: str | None = "val_loss"
    #: metrics (without their train_/val_/test_ prefix) that are better higher; every other one is
    #: better lower. Early stopping, the plateau schedule, the best checkpoint and tuning all ask here.
    higher_is_better: tuple[str, ...] = ()
    #: what ``count_samples`` counts, for the throughput figure
    sample_unit = "samples"
    #: __init__ arguments that come from the data module's ``describe()``, not from the recipe
    filled_by_data: tuple[str, ...] = ()
    #: __init__ arguments that change how the task runs, not what it learns: a run may resume with
    #: other values, and checkpoints written before they existed still resume
    runtime_options: tuple[str, ...] = ("compile",)
    #: whether the task may print while it trains (a language model's samples); quiet runs turn it off
    echo = True
    #: what the data's targets must be ("classes" or "numbers", as its ``describe()`` says), None when
    #: the task learns from something else; ``wrong_data`` is the line a mismatch gets ({data}: its name;
    #: {task_regression}, {task_classification}, {data_target}: those options as the reader writes them)
    targets: str | None = None
    wrong_data = ""
    #: what ``zoo.fit(model, data=...)`` gives this task (``zoo/data/memory.py``): "pairs" (x, y), "text"
    #: (a language model's), or "sentences" (word vectors')
    learns_from: Literal["pairs", "text", "sentences"] = "pairs"
    #: whether the CPU threads a step runs on wait for one another (torch's intra-op threads meet at the
    #: end of every operation, so one thread descheduled by another process stalls them all): zoo's
    #: choice of ``threads`` gives such a task one thread when its network is small, and its device line
    #: names a busy machine
    threads_in_lockstep = True

    def __init__(
        self,
        *,
        model: str,
        model_kwargs: dict[str, Any] | None = None,
        optimizer: dict[str, Any] | None = None,
        scheduler: dict[str, Any] | None = None,
        compile: bool = False,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.model = get_model(model, **(model_kwargs or {}))
        self.check_model(self.model)
        if compile:
            # torch.compile in place: the first batches take longer (compilation), later ones launch
            # fewer, fused kernels. The parameter names, and so checkpoints, stay as they are.
            self.model.compile()
        self.optimizer_cfg = optimizer or {"name": "adam", "lr": 1e-3}
        self.scheduler_cfg = scheduler or {"name": "constant"}

    # --- what a subclass provides ------------------------------------------------------------
    def check_model(self, model: nn.Module) -> None:
        """Raise a UsageError when ``model`` lacks what this task calls (the module's contract)."""

    def count_samples(self, batch: Any) -> int:
        return len(batch[-1])

    def train_accumulators(self) -> list[nn.Module]:
        """The metric objects that sum up a training epoch; checkpoints carry what they hold, so a run
        resumed mid-epoch reports the same epoch figures as the run left alone."""
        return []

    def example_input(self, datamodule: Any) -> Any:
        """One input the model takes (normalised as the task feeds it), from the data: the run's model
        summary passes it through the model for the layers' sizes and FLOPs. None: no example."""
        return None

    def write_pictures(self, folder: Path, images: Any = None, title: str = "") -> list[Path]:
        """Pictures of what the model learned (a CNN's filters and feature maps for ``images``, a map of
        word vectors, ...), written into ``folder``; the paths. For a run or any trained model."""
        return []

    def write_artifacts(self, run_dir: Path, held_out: str = "test") -> dict[str, Any]:
        """After the run's evaluation: write task-specific files (pictures, vectors) into the run
        directory and return extra entries for the summary. ``held_out``: the split its pictures may
        show beside the training data: "test" after the test run, "val" for a run that was not tested
        (a search's trial, which must not see the test split)."""
        return {}

    @classmethod
    def metric_mode(cls, metric: str) -> Literal["min", "max"]:
        """ "max" for a metric this task logs that grows as the model gets better, else "min"."""
        for stage in STAGES:
            metric = metric.removeprefix(f"{stage}_")
        return "max" if metric in cls.higher_is_better else "min"

    # --- shared by every task ------------------------------------------------------------------
    def mark_accumulators(self) -> None:
        """Call at the end of a subclass's __init__: what the training epoch has accumulated so far goes
        into checkpoints."""
        for accumulator in self.train_accumulators():
            accumulator.persistent(True)

    def configure_optimizers(self) -> Any:
        optimizer, decay = build_optimizer(self.parameters(), self.optimizer_cfg)
        total_steps = self.trainer.estimated_stepping_batches  # inf when only max_time bounds the run
        steps_per_epoch = max(1, self.trainer.num_training_batches // self.trainer.accumulate_grad_batches)
        scheduler = build_scheduler(
            optimizer,
            self.scheduler_cfg,
            decay=decay,
            total_steps=total_steps,
            steps_per_epoch=steps_per_epoch,
            time_progress=self._time_progress(),
            mode_of=self.metric_mode,
        )
        return {"optimizer": optimizer, "lr_scheduler": scheduler}

    def current_lr(self) -> float | None:
        """The learning rate the next update will use."""
        groups = self.trainer.optimizers[0].param_groups if self.trainer.optimizers else []
        return groups[0]["lr"] if groups else None

    def _time_progress(self):
        """A function giving the share of ``trainer.max_time`` spent training so far, or None."""
        from lightning.pytorch.callbacks import Timer

        timer = next((c for c in self.trainer.callbacks if isinstance(c, Timer)), None)
        if timer is None:
            return None

        def progress() -> float:
            elapsed = timer.time_elapsed("train")
            remaining = timer.time_remaining("train") or 0.0
            return min(1.0, elapsed / max(1e-9, elapsed + remaining))

        return progress

    def csv_axes(self) -> dict[str, float]:
        """What places a row of metrics.csv, to log beside figures logged while fitting: "step" is
        Lightning's key for the x-axis, optimizer steps so far (left to itself, Lightning puts a
        validation one step early); giving it makes Lightning leave out the epoch, so that goes in
        too. Nothing outside fitting (an evaluation's results are figures only)."""
        if self.trainer.state.fn != "fit":
            return {}
        return {"step": float(self.trainer.global_step), "epoch": float(self.current_epoch)}

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        # Lightning validates before stopping for max_time or early stopping, but not when max_steps
        # ends a run in the middle of an epoch: the last steps (a decayed schedule's best) would never
        # be validated, and "best" and the test would use the weights of the last epoch's end.
        max_steps = self.trainer.max_steps
        if max_steps is not None and 0 <= max_steps <= self.trainer.global_step:
            self.trainer.should_stop = True

    def on_train_epoch_start(self) -> None:
        # (Lightning skips this hook when it resumes in the middle of an epoch: the sums go on.)
        for accumulator in self.train_accumulators():
            accumulator.reset()

    def on_train_start(self) -> None:
        drop_early_train_loader(self.trainer)

    @property
    def resuming_fit(self) -> bool:
        """Whether a checkpoint being loaded resumes training (``--resume``), rather than being read
        for evaluation or by ``zoo.load_checkpoint``: only then are random streams and sums restored."""
        return attached_trainer(self) is not None and self.trainer.state.fn == "fit"

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["zoo_task"] = self.name
        # The random streams behind dropout, noise and augmentation, so that a resumed run draws
        # exactly what the uninterrupted run would have (the data order has its own seeded stream).
        checkpoint["zoo_rng"] = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            checkpoint["zoo_rng"]["cuda"] = torch.cuda.get_rng_state_all()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if not self.resuming_fit:
            return
        mark_restored_metrics_updated(self.train_accumulators())
        if "zoo_rng" in checkpoint:
            torch.set_rng_state(checkpoint["zoo_rng"]["torch"])
            if "cuda" in checkpoint["zoo_rng"] and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(checkpoint["zoo_rng"]["cuda"])


def require(model: nn.Module, task: str, *members: str, call: str) -> None:
    """A task's contract check: ``model`` must have ``members``; the message says what the task calls."""
    missing = [m for m in members if not hasattr(model, m)]
    if missing:
        raise UsageError(
            f"model {type(model).__name__} does not fit the {task} task: it has no {', '.join(missing)} "
            f"(the task calls {call})"
        )
