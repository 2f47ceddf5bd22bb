"""What zoo relies on in Lightning and torchmetrics beyond their public API, and the behaviours it works
around (all of it in zoo/_lightning.py, and where each workaround lives). One test per workaround, on
a bare LightningModule without zoo: each fails when Lightning changes that behaviour, so that the
workaround is looked at again (removed, or moved to the new attribute) instead of silently breaking."""

import subprocess
import sys

import lightning as L
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from conftest import checkout_env
from zoo import _lightning


class Tiny(L.LightningModule):
    """Ten training batches an epoch, two validation batches."""

    def __init__(self, steps_known: bool = False):
        super().__init__()
        self.layer = nn.Linear(2, 1)
        self.steps_known = steps_known
        self.fx_names: list[str] = []
        self.validated = 0

    def training_step(self, batch, batch_idx):
        self.fx_names.append(self._current_fx_name)
        return self.layer(batch[0]).pow(2).mean()

    def validation_step(self, batch, batch_idx):
        self.validated += 1
        self.log("val_loss", self.layer(batch[0]).pow(2).mean() + self.current_epoch)  # worse every epoch

    def configure_optimizers(self):
        if self.steps_known:  # what a schedule over the whole run asks
            assert self.trainer.estimated_stepping_batches > 0
        return torch.optim.SGD(self.parameters(), lr=0.01)

    def train_dataloader(self):
        return DataLoader(TensorDataset(torch.rand(40, 2)), batch_size=4)

    def val_dataloader(self):
        return DataLoader(TensorDataset(torch.rand(8, 2)), batch_size=4)


def trainer(tmp_path, **kwargs):
    options = dict(
        default_root_dir=tmp_path,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        accelerator="cpu",
        max_epochs=2,
    )
    return L.Trainer(**(options | kwargs))


def test_the_loop_counters_count_batches_and_flag_an_epochs_last(tmp_path):
    """StepLog, RunGuard, PeriodicCheckpoint and the resumable loader read fit_loop.epoch_loop.batch_progress."""
    seen = []

    class Watch(L.Callback):
        def on_train_batch_end(self, trainer, *args):
            seen.append(
                (
                    _lightning.batches_done_in_epoch(trainer),
                    _lightning.batches_done_total(trainer),
                    _lightning.batches_started_total(trainer),
                    _lightning.ends_epoch(trainer),
                )
            )

    trainer(tmp_path, callbacks=[Watch()], limit_val_batches=0).fit(Tiny())
    assert [s[0] for s in seen] == list(range(1, 11)) * 2
    assert [s[1] for s in seen] == [s[2] for s in seen] == list(range(1, 21))
    assert [i + 1 for i, s in enumerate(seen) if s[3]] == [10, 20]


def test_lightning_names_the_running_hook_in_current_fx_name(tmp_path):
    """PlainFxName makes this attribute cheap to set; it pays off only while Lightning sets it at every hook."""
    module = Tiny()
    trainer(tmp_path, max_epochs=1, limit_val_batches=0).fit(module)
    assert module.fx_names == ["training_step"] * 10

    class Fast(_lightning.PlainFxName, Tiny):
        pass

    fast = Fast()
    fast._current_fx_name = "x"
    assert fast.__dict__["_current_fx_name"] == "x"


class PlaceKeepingLoader(DataLoader):
    """A loader Lightning saves the place of (state_dict) and should hand it back on resume."""

    restored: list[dict] = []

    def state_dict(self):
        return {"place": 5}

    def load_state_dict(self, state):
        PlaceKeepingLoader.restored.append(state)


class Resumable(Tiny):
    def train_dataloader(self):
        return PlaceKeepingLoader(TensorDataset(torch.rand(40, 2)), batch_size=4)


def test_a_loader_built_for_the_step_count_never_gets_its_place_back_on_resume(tmp_path):
    """Asking estimated_stepping_batches makes Lightning build the training loader before the checkpoint
    is restored; then it never calls the loader's load_state_dict. drop_early_train_loader (at
    on_train_start) makes Lightning build it again, and hand it the place."""

    class Save(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if batch_idx == 4:
                trainer.save_checkpoint(tmp_path / "mid.ckpt")

    trainer(tmp_path, max_epochs=1, limit_val_batches=0, callbacks=[Save()]).fit(Resumable(steps_known=True))

    class Dropping(Resumable):
        def on_train_start(self):
            _lightning.drop_early_train_loader(self.trainer)

    for module, handed_back in ((Resumable(steps_known=True), False), (Dropping(steps_known=True), True)):
        PlaceKeepingLoader.restored = []
        trainer(tmp_path, max_epochs=1, limit_val_batches=0).fit(module, ckpt_path=tmp_path / "mid.ckpt")
        assert bool(PlaceKeepingLoader.restored) is handed_back


def test_a_restored_metric_state_does_not_count_as_updated():
    """A run resumed mid-epoch restores its epoch sums; torchmetrics would ignore them (update count 0)."""
    from torchmetrics import MeanMetric

    before = MeanMetric()
    before.persistent(True)
    for value in (1.0, 2.0, 3.0):
        before.update(torch.tensor(value))
    after = MeanMetric()
    after.persistent(True)
    after.load_state_dict(before.state_dict())
    assert after._update_count == 0 and set(after._defaults) == {"mean_value", "weight"}
    _lightning.mark_restored_metrics_updated([after])
    assert after._update_count == 1 and after.compute().item() == pytest.approx(2.0)
    untouched = MeanMetric()
    _lightning.mark_restored_metrics_updated([untouched])
    assert untouched._update_count == 0


def test_a_module_without_a_trainer_raises_on_trainer():
    module = Tiny()
    with pytest.raises(RuntimeError, match="not attached to a `Trainer`"):
        module.trainer  # noqa: B018 (the attribute access is what raises)
    assert _lightning.attached_trainer(module) is None


@pytest.mark.slow
def test_importing_lightning_switches_torch_to_the_nvml_gpu_check():
    env = {k: v for k, v in checkout_env().items() if k != "PYTORCH_NVML_BASED_CUDA_CHECK"}
    code = "import os, lightning.pytorch; print(os.environ.get('PYTORCH_NVML_BASED_CUDA_CHECK'))"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "1", result.stderr


def test_lightning_does_not_validate_when_max_steps_ends_an_epoch_early(tmp_path):
    """Task.on_train_batch_end sets should_stop at max_steps so that the last weights are validated."""
    module = Tiny()
    trainer(tmp_path, max_steps=5, max_epochs=-1).fit(module)
    assert module.validated == 0


def test_save_last_is_only_rewritten_with_a_new_best(tmp_path):
    """zoo keeps "last" in a ModelCheckpoint of its own: with save_last=True, Lightning 2.6 rewrote
    last.ckpt only in the steps that wrote a new best (here the first epoch: the loss grows every epoch)."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    from zoo.checkpoint import safe_load

    best = ModelCheckpoint(dirpath=tmp_path / "ck", monitor="val_loss", save_top_k=1, save_last=True)
    trainer(tmp_path, max_epochs=3, enable_checkpointing=True, callbacks=[best]).fit(Tiny())
    assert safe_load(tmp_path / "ck" / "last.ckpt")["epoch"] == 0


def test_mean_metric_without_nan_checks_ignores_weights():
    """torchmetrics issue #3434: SupervisedTask.step feeds a batch's mean once per sample instead."""
    from torchmetrics import MeanMetric

    mean = MeanMetric(nan_strategy="disable")
    mean.update(torch.tensor([1.0, 3.0]), weight=torch.tensor([3.0, 1.0]))
    assert mean.compute().item() == pytest.approx(2.0)  # weighted, it would be 1.5


def test_lightning_logs_a_validation_one_step_before_the_step_it_follows(tmp_path):
    """Task.csv_axes logs "step" itself so that metrics.csv puts a validation at the true step."""
    from lightning.pytorch.loggers import Logger

    class Steps(Logger):
        name, version = "steps", 0
        logged: list = []

        def log_metrics(self, metrics, step=None):
            if "val_loss" in metrics:
                self.logged.append(step)

        def log_hyperparams(self, *args, **kwargs):
            pass

    logger = Steps()
    trainer(tmp_path, logger=logger, max_epochs=2).fit(Tiny())
    assert logger.logged == [9, 19]  # after 10 and 20 optimizer steps


def test_lightning_talks_at_every_start_and_quiet_lightning_keeps_it_quiet(tmp_path, caplog):
    import logging

    lightning_logger = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    lightning_logger.removeFilter(_lightning._no_tips)
    with caplog.at_level(logging.INFO, logger="lightning.pytorch.utilities.rank_zero"):
        trainer(tmp_path, max_epochs=1)
    said = [str(r.msg) for r in caplog.records]
    assert any(m.startswith("💡 Tip") for m in said) and any(m.startswith("GPU available:") for m in said), said
    caplog.clear()
    _lightning.quiet_lightning()
    with caplog.at_level(logging.INFO, logger="lightning.pytorch.utilities.rank_zero"):
        trainer(tmp_path, max_epochs=1)
    assert not [r for r in caplog.records if str(r.msg).startswith(_lightning.NOT_FOR_USERS)]


def test_resuming_from_a_checkpoint_written_after_an_epochs_last_batch_skips_that_epochs_end(tmp_path):
    """Why zoo writes no checkpoint after an epoch's last batch (ends_epoch): resumed from one, Lightning
    goes on past that epoch's validation and end without running them."""

    class Save(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if trainer.current_epoch == 0 and _lightning.ends_epoch(trainer):
                trainer.save_checkpoint(tmp_path / "edge.ckpt")

    ends = []

    class Count(L.Callback):
        def on_train_epoch_end(self, trainer, pl_module):
            ends.append(trainer.current_epoch)

    trainer(tmp_path, max_epochs=2, callbacks=[Save()]).fit(Tiny())
    module = Tiny()
    trainer(tmp_path, max_epochs=2, callbacks=[Count()]).fit(module, ckpt_path=tmp_path / "edge.ckpt")
    assert 0 not in ends and module.validated == 2  # epoch 0's end and validation never ran; epoch 1's did


def test_lightning_logs_an_epochs_training_figures_after_the_epoch_end_checkpoint(tmp_path):
    """Why EpochRowBeforeCheckpoint writes the epoch's row first: Lightning logs an epoch's training
    figures after every on_train_epoch_end, checkpoint callbacks' included; training_epoch_log says
    there which figures it will log, and at which step."""
    from lightning.pytorch.callbacks import Checkpoint
    from lightning.pytorch.loggers import Logger

    events: list = []

    class Epochs(Logger):
        name, version = "epochs", 0

        def log_metrics(self, metrics, step=None):
            if "train_loss" in metrics:
                events.append(("logged", {k: v for k, v in metrics.items() if k != "epoch"}, step))

        def log_hyperparams(self, *args, **kwargs):
            pass

    class AtCheckpoint(Checkpoint):  # (Lightning calls checkpoint callbacks' hooks last)
        def on_train_epoch_end(self, trainer, pl_module):
            events.append(("checkpoint", *_lightning.training_epoch_log(trainer)))

    class Logs(Tiny):
        def training_step(self, batch, batch_idx):
            loss = super().training_step(batch, batch_idx)
            self.log("train_loss", loss, on_step=False, on_epoch=True)
            return loss

    trainer(tmp_path, logger=Epochs(), max_epochs=2, callbacks=[AtCheckpoint()], enable_checkpointing=True).fit(Logs())
    assert [e[0] for e in events] == ["checkpoint", "logged"] * 2
    assert events[0][2] == events[1][2] == 9 and events[2][2] == events[3][2] == 19
    assert events[0][1] == events[1][1] and events[2][1] == events[3][1] != events[0][1]
