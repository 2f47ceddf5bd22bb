"""What every run records: per-epoch and per-step CSV logs, the throughput figure, and a progress
bar that redraws a few times a second instead of at every step; and the callback a search adds to
each of its trials (``OptunaPruning``)."""

from __future__ import annotations

import contextlib
import io
import math
import os
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.loggers import Logger
from lightning.pytorch.plugins.io import CheckpointIO
from lightning.pytorch.profilers import PassThroughProfiler
from lightning.pytorch.utilities import rank_zero_only

from zoo._lightning import (
    attached_trainer,
    batches_done_total,
    batches_started_total,
    ends_epoch,
    training_epoch_log,
)
from zoo.checkpoint import atomic_write_text
from zoo.console import note
from zoo.errors import DataError, Stopped, UsageError, option
from zoo.records import exact, read_csv, write_csv


class EpochCSVLogger(Logger):
    """``metrics.csv``: one row per epoch, merging what the task logs at the end of the training and
    validation epochs (``train_*``, ``val_*``, ``lr``, ``train_time_s``), and a row of its own for each
    validation inside an epoch (``--trainer.val_check_interval``). Rows are keyed by (epoch, step). The
    learning-curve picture is drawn from these rows when training ends (and at every epoch's end with
    ``live_plot``), with the best epoch by ``monitor`` (better ``mode``) marked."""

    def __init__(
        self,
        run_dir: Path,
        title: str = "",
        monitor: str | None = None,
        mode: str | None = None,
        live_plot: bool = False,
        write: bool = True,
    ):
        super().__init__()
        self.run_dir, self.title, self.monitor, self.mode = run_dir, title, monitor, mode
        self.live_plot = live_plot  # the learning curves redrawn at every epoch's end, not only the run's
        self.write = write  # False: the rows are kept in memory only (a run that saves nothing)
        self.rows: dict[tuple[int, int], dict[str, Any]] = {}
        if (run_dir / "metrics.csv").exists():  # a resumed run: its history goes on (re-run steps are replaced)
            for row in read_csv(run_dir / "metrics.csv"):
                self.rows[(row["epoch"], row.get("step") or 0)] = row

    @property
    def name(self) -> str:
        return "zoo"

    @property
    def version(self) -> str:
        return self.run_dir.name

    @property
    def save_dir(self) -> str:
        return str(self.run_dir)

    @rank_zero_only
    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        pass  # the resolved recipe is config.yaml, and every checkpoint carries the hyperparameters

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, float], step: int | None = None, plot: bool = True) -> None:
        if "epoch" not in metrics:  # Lightning adds the epoch to everything logged from a hook
            return
        epoch, step = int(metrics["epoch"]), int(step or 0)
        # The training epoch's end and the validation at the epoch's end share a step, and a row.
        row = self.rows.setdefault((epoch, step), {"epoch": epoch, "step": step})
        row.update({k: float(v) for k, v in metrics.items() if k != "epoch"})
        if not self.write:
            return
        write_csv(self.run_dir / "metrics.csv", self.sorted_rows())
        if plot and self.live_plot and "train_loss" in metrics:  # (the training epoch's end: its row is whole)
            self.finalize("live")

    def forget_after(self, step: int) -> None:
        """Drop the rows past ``step``: a resumed run's, which a killed run logged after the checkpoint
        the run goes on from. They are logged again (or, with other settings, not at all)."""
        if any(key[1] > step for key in self.rows):
            self.rows = {key: row for key, row in self.rows.items() if key[1] <= step}
            write_csv(self.run_dir / "metrics.csv", self.sorted_rows())

    def sorted_rows(self) -> list[dict[str, Any]]:
        return [self.rows[key] for key in sorted(self.rows)]

    @rank_zero_only
    def finalize(self, status: str) -> None:
        if self.rows and self.write:
            from zoo.checkpoint import cannot_write, is_write_error
            from zoo.plots import plot_learning_curves

            path = self.run_dir / "learning_curves.png"
            try:
                plot_learning_curves(self.sorted_rows(), path, self.title, self.monitor, self.mode)
            except OSError as err:  # (a picture is not worth a run: say it was skipped)
                if not is_write_error(err):
                    raise
                note(f"zoo: {cannot_write('the learning curves', err)}; skipped")


class EpochRowBeforeCheckpoint(L.Callback):
    """Lightning writes the epoch-end checkpoint in an ``on_train_epoch_end`` hook, before it logs the
    epoch's training metrics: a run killed in between resumes in the next epoch, and metrics.csv would
    keep that epoch's row without them for good. So the row is written first, with the figures
    Lightning is about to log (it logs them after: the same figures, into the same row)."""

    def __init__(self) -> None:
        self.epoch_ending = False

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self.epoch_ending = False

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.epoch_ending = True  # (until the next epoch: Lightning logs, then resets the figures)

    def on_train_end(self, trainer, pl_module) -> None:
        self.epoch_ending = False

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict[str, Any]) -> None:
        if not self.epoch_ending or not trainer.is_global_zero:
            return
        metrics, step = training_epoch_log(trainer)
        for logger in trainer.loggers:
            if isinstance(logger, EpochCSVLogger) and metrics:
                logger.log_metrics({**metrics, "epoch": trainer.current_epoch}, step, plot=False)


def step_loss(trainer, pl_module, outputs: Any) -> torch.Tensor | None:
    """The training step's loss as the task computed it, from what Lightning hands ``on_train_batch_end``
    (which, with ``accumulate_grad_batches`` N, is the loss divided by N: each batch's share of the
    accumulated gradient)."""
    loss = outputs["loss"] if isinstance(outputs, dict) else outputs
    if not isinstance(loss, torch.Tensor):
        return None
    if pl_module.automatic_optimization and trainer.accumulate_grad_batches > 1:
        return loss.detach() * trainer.accumulate_grad_batches
    return loss.detach()


class StepLog(L.Callback):
    """``steps.csv``: the training loss and learning rate every ``trainer.log_every_n_steps`` batches and
    at each epoch's last batch (so a run shorter than the interval has its rows too)."""

    def __init__(self, run_dir: Path):
        self.path = run_dir / "steps.csv"
        self._file = None

    def on_train_start(self, trainer, pl_module) -> None:
        # A resumed run re-trains what came after its checkpoint: drop those rows, they come again.
        # (metrics.csv's too: its logger is not a callback and never learns where the run resumed.)
        if not trainer.is_global_zero:
            return
        for logger in trainer.loggers:
            if isinstance(logger, EpochCSVLogger):
                logger.forget_after(trainer.global_step)
        if self.path.exists():
            done = batches_done_total(trainer)
            lines = self.path.read_text(encoding="utf-8").splitlines(keepends=True)
            kept = lines[:1] + [
                line for line in lines[1:] if line.endswith("\n") and int(line.split(",", 1)[0]) <= done
            ]
            atomic_write_text(self.path, "".join(kept))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        batches = batches_started_total(trainer)  # not global_step: word2vec has no optimizer steps
        due = batches % max(1, trainer.log_every_n_steps) == 0 or ends_epoch(trainer)
        if not trainer.is_global_zero or not due:
            return
        loss = step_loss(trainer, pl_module, outputs)
        if loss is None:
            return
        lr = pl_module.current_lr()
        try:
            if self._file is None:
                self._file = open(self.path, "a", encoding="utf-8")
                if self._file.tell() == 0:
                    self._file.write("batch,epoch,loss,lr\n")
            row = f"{batches},{trainer.current_epoch},{exact(loss).item()!r},{'' if lr is None else repr(lr)}\n"
            self._file.write(row)
            self._file.flush()  # in the OS's hands at once: a killed run loses no row before its checkpoint
        except OSError as err:  # (a write's own error names no file: name it)
            raise OSError(err.errno, err.strerror, str(self.path)) from err

    def teardown(self, trainer, pl_module, stage: str) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):  # (a row the disk refused is already reported)
                self._file.close()
            self._file = None


class TrainThroughput(L.Callback):
    """Seconds spent on training batches (fetch, forward, backward, step) and samples trained.

    Time runs from each batch's end to the next one's, starting at the epoch's start, so validation,
    epoch-end checkpoints and the test run are not counted. ``samples`` counts what the task says a
    sample is (images, tokens, words), summed over every process.
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self.samples = 0
        self._mark: float | None = None

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._mark = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if pl_module.device.type == "cuda" and ends_epoch(trainer):
            torch.cuda.synchronize(pl_module.device)  # the GPU's queued work counts in this epoch's time
        now = time.perf_counter()
        if self._mark is not None:
            self.seconds += now - self._mark
        self._mark = now
        self.samples += pl_module.count_samples(batch) * trainer.world_size

    def on_validation_start(self, trainer, pl_module) -> None:
        if self._mark is not None and pl_module.device.type == "cuda":
            # (a run stopped by max_time validates mid-epoch: the GPU's queued training work counts)
            torch.cuda.synchronize(pl_module.device)
            self.seconds += time.perf_counter() - self._mark
        self._mark = None  # a mid-epoch validation is not training time

    def on_validation_end(self, trainer, pl_module) -> None:
        self._mark = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self._mark is None:
            # An epoch's end that Lightning calls again on resuming from a checkpoint written after the
            # epoch's last batch (at a validation's end): its row was written before the run stopped.
            return
        pl_module.log("train_time_s", exact(round(self.seconds, 3)))  # cumulative, into metrics.csv

    def samples_per_s(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else math.nan

    def state_dict(self) -> dict[str, Any]:
        return {"seconds": self.seconds, "samples": self.samples}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.seconds, self.samples = state_dict["seconds"], state_dict["samples"]


class CheckpointsInMemory(CheckpointIO):
    """Checkpoints kept in memory, by path, for a run that writes nothing (``fit(save=False)``): the best
    epoch's weights are restored for the evaluation as from a file, without a file (or an fsync) per
    epoch. Each is serialised as a file would be, so later training cannot change what it holds."""

    def __init__(self) -> None:
        self.kept: dict[str, bytes] = {}

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        self.kept[str(path)] = buffer.getvalue()

    def load_checkpoint(self, path: Any, map_location: Any = None, weights_only: bool | None = None) -> dict[str, Any]:
        if str(path) not in self.kept:
            raise DataError(f"no checkpoint {path} in this run's memory")
        return torch.load(io.BytesIO(self.kept[str(path)]), map_location=map_location or "cpu", weights_only=True)

    def remove_checkpoint(self, path: Any) -> None:
        self.kept.pop(str(path), None)


class NoProfiler(PassThroughProfiler):
    """Lightning's default profiler, which records nothing, minus the cost of recording nothing.

    Lightning wraps every hook call (each callback's included, whether it does something or not)
    in ``profiler.profile(name)``, about 50 times a training step; the default's generator-based
    context manager costs 1.4 us a call here, this one's single do-nothing context 0.2-0.4 us: together
    0.06 ms a step, 2-5% of a tiny model's step. ``--trainer.profiler simple`` (or another) replaces it.
    """

    _nothing = contextlib.nullcontext()

    def profile(self, action_name: str) -> contextlib.nullcontext:
        return self._nothing


class ThrottledProgressBar(TQDMProgressBar):
    """Lightning's tqdm bar, redrawn at most every ``min_interval`` seconds (and at each epoch's end),
    showing the last step's training loss beside the epoch metrics.

    Redrawing and collecting the metrics for it at every step of a small model costs a measurable
    share of the step time; a human cannot read faster than a few updates a second anyway. For the
    same reason the step loss is not logged (``self.log`` at every step costs more than a small
    model's step): the bar keeps the loss tensor and reads it only when it draws, which on a GPU is
    also the only time it makes the host wait for the device.
    """

    def __init__(self, min_interval: float = 0.25):
        super().__init__(refresh_rate=1)
        self.min_interval = min_interval
        self._last_draw = 0.0
        self._loss: torch.Tensor | None = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._loss = step_loss(trainer, pl_module, outputs)
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    def get_metrics(self, trainer, pl_module) -> dict[str, Any]:
        items = super().get_metrics(trainer, pl_module)
        # ("step" and "epoch" are in the logged metrics as the CSV's x-axis; the bar shows both already.
        # "v_num" is Lightning's logger version, which a zoo run's directory name already says.)
        shown = {k: v for k, v in items.items() if k not in ("step", "epoch", "v_num")}
        return shown if self._loss is None else {"loss": self._loss.item(), **shown}

    def _should_update(self, current: int, total: int | float) -> bool:
        if not self.is_enabled:
            return False
        now = time.monotonic()
        if current == total or now - self._last_draw >= self.min_interval:
            self._last_draw = now
            return True
        return False


class RunGuard(L.Callback):
    """Stops a run cleanly, between two steps, when it must stop:

    - SIGINT (Ctrl-C) or SIGTERM: the current step finishes, ``last.ckpt`` is written and the run
      exits with 128 + the signal number, saying how to resume. A second signal stops at once: the
      command exits (``exit_at_once``), and from Python a ``KeyboardInterrupt`` ends the run but not the
      process (checkpoint writes are atomic, so neither leaves a half-written file).
    - a non-finite training loss: the run stops, before any checkpoint holds the broken weights, and
      names the step where the loss went bad and the learning rate it had. Losses are read
      ``check_every`` steps at a time (default 32: on a GPU each read makes the host wait for the
      device, and on the CPU checking 32 at once costs what checking one does), and always before a
      checkpoint is saved, before validation and at the epoch's end, so no checkpoint ever holds what
      came after a bad loss. Under DDP the processes agree on the verdict, so all stop together.

    Lightning orders checkpoint callbacks after this one, so its checks run before they save.
    """

    def __init__(self, last_path: Path, check_every: int = 32, exit_at_once: bool = False):
        self.last_path = last_path
        self.exit_at_once = exit_at_once  # a second signal ends the process (the command line's way)
        self.signal: int | None = None
        self._previous: dict[int, Any] = {}
        self.check_every = check_every
        self._unchecked: list[tuple[torch.Tensor, int, int, float | None]] = []  # (loss, step, epoch, lr) not read yet

    def on_train_start(self, trainer, pl_module) -> None:
        import signal
        import threading

        if threading.current_thread() is not threading.main_thread():
            return  # handlers can only be installed from the main thread
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame: Any) -> None:
        import os

        if self.signal is not None:  # the second one: now
            if self.exit_at_once:
                os._exit(128 + signum)
            # From Python (a notebook's kernel above all) the process is the user's, with everything it
            # holds: never end it. An interrupt now stops wherever the run is; Lightning tears the run
            # down, and zoo.fit answers with Stopped naming the run directory and its checkpoints.
            raise KeyboardInterrupt
        self.signal = signum
        again = "again to quit at once" if self.exit_at_once else "again to stop at once"
        note(f"stopping after this step ({again})")

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        loss = step_loss(trainer, pl_module, outputs)
        if loss is not None:
            self._unchecked.append((loss, trainer.global_step, trainer.current_epoch, pl_module.current_lr()))
            if len(self._unchecked) >= self.check_every or ends_epoch(trainer):
                self.check_losses(pl_module)
        if self.signal is not None:
            if ends_epoch(trainer):
                # A checkpoint from here would resume past this epoch's validation and epoch end
                # (see PeriodicCheckpoint); let the epoch finish and write its own, then stop.
                trainer.should_stop = True
                return
            trainer.save_checkpoint(self.last_path, weights_only=False)
            self._stop(trainer)

    def check_losses(self, pl_module) -> None:
        """Stop at the first non-finite loss among those not read yet (one host-device sync on a GPU)."""
        if not self._unchecked:
            return
        losses, self._unchecked = self._unchecked, []
        finite = torch.isfinite(torch.stack([loss.reshape(()).float() for loss, *_ in losses])).float()
        trainer = attached_trainer(pl_module)
        if trainer is not None and trainer.world_size > 1:
            # Losses go bad on one process first (the next update spreads it to all): if that one
            # stopped alone, the others would wait for it forever in the next gradient exchange.
            finite = trainer.strategy.reduce(finite.to(pl_module.device), reduce_op="min")
        finite = finite.tolist()
        if all(finite):
            return
        loss, step, epoch, lr = losses[finite.index(0.0)]
        lr_text = "" if lr is None else f" ({lr:g})"
        saved = sorted(p.name for p in self.last_path.parent.glob("*.ckpt"))
        kept = (
            f"{', '.join(saved)} in {self.last_path.parent} keep the last good weights"
            if saved
            else "no checkpoint was written before it"
        )
        raise Stopped(
            f"the training loss became {loss.item()} at step {step} (epoch {epoch}); "
            f"the learning rate{lr_text} is probably too high for this model: lower {option('optimizer.lr')} "
            f"or clip gradients ({option('trainer.gradient_clip_val', 1.0)}); {kept}",
            run_dir=self.last_path.parent.parent,
            checkpoint=self.last_path if self.last_path.is_file() else None,
        )

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict[str, Any]) -> None:
        # Raising here leaves the file on disk as it was. (Lightning calls this for full checkpoints,
        # which are the only ones zoo writes; a weights-only save would skip the check.)
        self.check_losses(pl_module)

    def on_validation_start(self, trainer, pl_module) -> None:
        self.check_losses(pl_module)

    def on_train_end(self, trainer, pl_module) -> None:
        self.check_losses(pl_module)

    def on_fit_end(self, trainer, pl_module) -> None:
        if self.signal is not None:
            self._stop(trainer)

    def _stop(self, trainer) -> None:
        import signal

        raise Stopped(
            f"interrupted by {signal.Signals(self.signal).name} at step {trainer.global_step}; saved {self.last_path}",
            exit_code=128 + self.signal,
            run_dir=self.last_path.parent.parent,
            checkpoint=self.last_path,
        )

    def teardown(self, trainer, pl_module, stage: str) -> None:
        import signal

        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()


class PeriodicCheckpoint(L.Callback):
    """Writes ``last.ckpt`` every ``every_n_steps`` training steps and/or every ``every_minutes``
    minutes, so a long epoch killed half-way loses minutes, not the epoch. (It is also written at
    the end of every epoch, and so not after an epoch's last batch: see ``ends_epoch``.)"""

    def __init__(self, *, every_n_steps: int | None = None, every_minutes: float | None = None):
        if every_n_steps is not None and every_n_steps < 1:
            raise UsageError(f"checkpoint.every_n_steps must be >= 1, got {every_n_steps}")
        if every_minutes is not None and every_minutes <= 0:
            raise UsageError(f"checkpoint.every_minutes must be > 0, got {every_minutes}")
        self.every_n_steps, self.every_minutes = every_n_steps, every_minutes
        self.path: Path | None = None
        self._last_save = time.monotonic()

    @property
    def enabled(self) -> bool:
        return self.every_n_steps is not None or self.every_minutes is not None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        by_steps = self.every_n_steps is not None and trainer.global_step % self.every_n_steps == 0
        by_time = self.every_minutes is not None and time.monotonic() - self._last_save >= 60 * self.every_minutes
        if self.path is not None and (by_steps or by_time) and not ends_epoch(trainer):
            trainer.save_checkpoint(self.path, weights_only=False)
            self._last_save = time.monotonic()


class ValidationCheckpoint(L.Callback):
    """Writes ``last.ckpt`` after a validation inside an epoch (``--trainer.val_check_interval``), as
    Lightning's checkpoint callback would: that callback writes ``last.ckpt`` at epochs' ends only (see
    ``zoo.training``), and an epoch's own validation comes just before its end."""

    def __init__(self, path: Path):
        self.path = path

    def on_validation_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking and trainer.state.fn == "fit" and not ends_epoch(trainer):
            trainer.save_checkpoint(self.path, weights_only=False)


class DeviceLine(L.Callback):
    """Says where the run trains, once, as training starts: ``zoo: training on cpu (2 threads)``,
    ``cuda:0 (NVIDIA H200)``, ``2 processes, each on cpu (1 thread)``."""

    def on_train_start(self, trainer, pl_module) -> None:
        if not trainer.is_global_zero:
            return
        device = trainer.strategy.root_device
        where = f"{device} ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else str(device)
        hint = ""
        if device.type == "cpu":
            threads = torch.get_num_threads()
            where += f" ({threads} thread{'s' if threads != 1 else ''})"
            if threads > 1 and trainer.world_size == 1 and getattr(pl_module, "threads_by_zoo", False):
                hint = busy_machine_hint(threads, pl_module.threads_in_lockstep)
        if trainer.world_size > 1:
            where = f"{trainer.world_size} processes, each on {where}"
        note(f"zoo: training on {where}{hint}")


def busy_cores_elsewhere(window: float = 0.1) -> float:
    """How many of this process's cores other processes kept busy over ``window`` seconds (this one
    sleeps meanwhile), from Linux's per-core counters in /proc/stat; 0 where there are none to read."""
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()

    def counters() -> tuple[int, int]:
        total = idle = 0
        with open("/proc/stat") as stat:
            for line in stat:
                name, *fields = line.split()
                if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cores:
                    ticks = [int(f) for f in fields[:8]]  # user nice system idle iowait irq softirq steal
                    total, idle = total + sum(ticks), idle + ticks[3] + ticks[4]
        return total, idle

    try:
        total0, idle0 = counters()
        time.sleep(window)
        total1, idle1 = counters()
    except (OSError, ValueError, IndexError):
        return 0.0
    if total1 <= total0:
        return 0.0
    return len(cores) * (1 - (idle1 - idle0) / (total1 - total0))


def busy_machine_hint(threads: int, lockstep: bool) -> str:
    """What to do when other processes keep some of the cores busy as a run starts on ``threads``
    threads that wait for one another at every step (``Task.threads_in_lockstep``); "" otherwise."""
    busy = round(busy_cores_elsewhere()) if lockstep else 0
    if busy < 1:
        return ""
    free = max(1, threads - busy)
    return (
        f"; other processes keep {busy} of the cores busy: on a shared machine {option('threads', free)} "
        "trains several times faster (each step's threads wait for the one held up)"
    )


class LayerSummary(L.Callback):
    """At the start of fitting, the model's size: as a table of its layers (``style="table"``: their
    types, parameters, input and output sizes and FLOPs: Lightning's summary, computed from an example
    input the task takes from the data, what torch's FLOP counter counts; an LSTM layer's own are not
    among them), or as one line (``style="line"``: parameters and FLOPs, a notebook's default). Only
    the model, not the task's metric objects around it."""

    def __init__(self, max_depth: int = 3, style: str = "table"):
        self.max_depth, self.style = max_depth, style

    def on_fit_start(self, trainer, pl_module) -> None:
        from lightning.pytorch.utilities.model_summary import ModelSummary, get_human_readable_count

        if not trainer.is_global_zero:
            return
        bare = _ModelOnly(pl_module.model, pl_module.example_input(trainer.datamodule))
        bare.to(pl_module.device)  # (the model is there already: this tells the summary where to send the example)
        summary = ModelSummary(bare, max_depth=self.max_depth if self.style == "table" else 1)
        if self.style == "table":
            print(summary, flush=True)
            return
        trainable, total = summary.trainable_parameters, summary.total_parameters
        frozen = f" ({get_human_readable_count(total - trainable)} frozen)" if trainable != total else ""
        flops = f", {get_human_readable_count(summary.total_flops)}FLOPs a sample" if summary.total_flops else ""
        note(f"zoo: {type(pl_module.model).__name__}: {get_human_readable_count(total)} parameters{frozen}{flops}")


class _ModelOnly(L.LightningModule):
    """A model alone inside a LightningModule, so that Lightning's summary describes only its layers."""

    def __init__(self, model: torch.nn.Module, example: Any):
        super().__init__()
        self.model, self.example_input_array = model, example

    def forward(self, x: Any) -> Any:
        return self.model(x)


class OptunaPruning(L.Callback):
    """Reports the search's metric to Optuna at the end of every validation, and stops the run with
    ``optuna.TrialPruned`` when the pruner says the trial will not catch up.

    Zoo's own (instead of optuna-integration's ``PyTorchLightningPruningCallback``): a metric the run
    does not log is a one-line error naming those it does (theirs warns and never prunes); the step is
    the number of validations so far, this one included (1 after the first epoch), so that a pruner's
    resources read as epochs and ``--trainer.val_check_interval`` (several a epoch) reports each one;
    and a resumed trial reports its earlier validations again from ``metrics.csv``.
    """

    def __init__(self, trial: Any, metric: str):
        self.trial, self.metric = trial, metric
        self.validations = 0

    def on_train_start(self, trainer, pl_module) -> None:
        # A resumed trial (a retry that goes on from its predecessor's checkpoint): the validations
        # the run made before are reported to this trial again, so its pruner compares like with like.
        for logger in trainer.loggers:
            for row in getattr(logger, "sorted_rows", list)():
                if row.get(self.metric) is not None:
                    self.validations += 1
                    self.trial.report(float(row[self.metric]), step=self.validations)

    def on_validation_end(self, trainer, pl_module) -> None:
        import optuna

        if trainer.sanity_checking or trainer.state.fn != "fit":  # (not zoo's evaluation after training)
            return
        value = trainer.callback_metrics.get(self.metric)
        if value is None:
            logged = ", ".join(sorted(k for k in trainer.callback_metrics if k.startswith("val_")))
            raise UsageError(f"metric {self.metric!r} is not a metric these runs log; they log: {logged}")
        self.validations += 1
        if not math.isfinite(float(value)):
            return
        self.trial.report(float(value), step=self.validations)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned at epoch {trainer.current_epoch + 1}")
