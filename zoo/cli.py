"""``python -m zoo.train MODEL [options]``: resolve the recipe, build data, task and Trainer, train,
test the best checkpoint, and print the run's summary as the last line on stdout.

Recipe layers, later ones winning: ``configs/MODEL.yaml`` (shipped with the package), each
``--config FILE``, then ``--section.key VALUE`` overrides. Sections: model, data, task, optimizer,
scheduler, trainer, early_stopping, checkpoint; plus ``seed_everything``. ``--resume RUN_DIR``
continues a stopped run in its own directory.
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import os
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any, Literal

from zoo.config import Section, check_kwargs, coerce_text, dump_yaml, load_yaml_file, parse_overrides, resolve
from zoo.errors import UsageError, ZooError, command_main
from zoo.registry import MODELS

PROG = "zoo.train"
USAGE = f"""usage: python -m {PROG} MODEL [--config FILE_OR_RECIPE] [--section.key VALUE ...]
                          [--seed_everything N] [--resume RUN_DIR] [--print_config] [--debug]

Train MODEL with its recipe (configs/MODEL.yaml), test the best checkpoint, print a JSON summary.

  MODEL                one of: {{models}}
  --config X           a YAML file, or a shipped recipe name ({{recipes}}); repeatable
  --section.key VALUE  override one option; sections: model, data, task, optimizer, scheduler,
                       trainer, early_stopping, checkpoint (e.g. --data.name fashion-mnist)
  --seed_everything N  seed for weights, data order, dropout and augmentation
  --resume PATH        continue a run (its directory, or one of its checkpoints) where it stopped;
                       give the same options it was started with
  --print_config       print the resolved recipe and exit
  --debug              show tracebacks (also ZOO_DEBUG=1)
"""

# Trainer arguments zoo sets itself: every run has its own callbacks, checkpoint I/O and data sharding.
TRAINER_MANAGED = (
    "callbacks", "logger", "plugins", "use_distributed_sampler", "enable_checkpointing", "barebones", "model_registry",
)


# --- recipes ------------------------------------------------------------------------------------

def recipe_dir() -> Path:
    """Shipped recipes: ``zoo/configs`` inside an installed wheel, the top-level ``configs/`` in a checkout."""
    package = Path(__file__).resolve().parent
    return package / "configs" if (package / "configs").is_dir() else package.parent / "configs"


def list_recipes() -> list[str]:
    return sorted(p.stem for p in recipe_dir().glob("*.yaml"))


def load_recipe(name_or_path: str) -> tuple[str, dict[str, Any]]:
    path = Path(name_or_path)
    if not path.is_file() and (recipe_dir() / f"{name_or_path}.yaml").is_file():
        path = recipe_dir() / f"{name_or_path}.yaml"
    if not path.is_file():
        raise UsageError(f"config file not found: {name_or_path} (shipped recipes: {', '.join(list_recipes())})")
    return str(path), load_yaml_file(path)


def sections(model_name: str) -> dict[str, Section]:
    import lightning as L
    from lightning.pytorch.callbacks import EarlyStopping

    from zoo.callbacks import PeriodicCheckpoint
    from zoo.data import DATASETS, DESCRIBED
    from zoo.optim import COMMON_OPTIMIZER_OPTIONS, IMPLEMENTATION_OPTIONS, OPTIMIZERS, SCHEDULERS
    from zoo.tasks import TASK_MANAGED, TASKS

    return {
        # Sizes the data decides (classes, channels, vocabulary) are not model options in a recipe.
        "model": Section(lambda _: MODELS.get(model_name), named=False, skip=DESCRIBED),
        "data": Section(DATASETS.get),
        "task": Section(TASKS.get, skip=TASK_MANAGED),
        "optimizer": Section(OPTIMIZERS.get, skip=IMPLEMENTATION_OPTIONS, extra=COMMON_OPTIMIZER_OPTIONS),
        "scheduler": Section(SCHEDULERS.get),
        "trainer": Section(lambda _: L.Trainer, named=False, skip=TRAINER_MANAGED),
        "early_stopping": Section(
            lambda _: EarlyStopping, named=False, skip=("monitor", "mode"), extra=EARLY_STOPPING_OPTIONS
        ),
        "checkpoint": Section(lambda _: PeriodicCheckpoint, named=False),
    }


# Early stopping is off unless enabled; it watches the task's metric (val_loss) unless told otherwise,
# and "best" then means best by that metric. The final validation and test use the best weights
# (Keras' restore_best_weights=True) unless restore_best is false, when they use the last ones.
EARLY_STOPPING_OPTIONS = {
    "enabled": (bool, False),
    "monitor": (str | None, None),
    "mode": (Literal["min", "max"] | None, None),
    "restore_best": (bool, True),
}


SCALARS = {"seed_everything": int}


def resolve_config(model_name: str, config_files: list[str], overrides: list[str]) -> dict[str, Any]:
    MODELS.get(model_name)  # an unknown model fails here, listing the known ones
    recipe = recipe_dir() / f"{model_name}.yaml"
    if not recipe.is_file():
        raise UsageError(f"no recipe for model {model_name!r}: expected {recipe}")
    layers = [(str(recipe), load_yaml_file(recipe))] + [load_recipe(c) for c in config_files]
    return resolve(layers, parse_overrides(overrides), sections(model_name), SCALARS)


# --- one run ------------------------------------------------------------------------------------

# The run directory every process of a multi-process run writes to. zoo sets it for the processes
# Lightning launches; with torchrun or SLURM, set it yourself (the same path for every process).
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


def construct(what: str, fn: Any, kwargs: dict[str, Any]) -> Any:
    """Call a constructor with checked kwargs; its own argument errors become one-line usage errors."""
    check_kwargs(fn, kwargs, what)
    try:
        return fn(**kwargs)
    except UsageError as err:  # e.g. an unknown activation name inside the model: say which section
        raise UsageError(f"{what}: {err}") from None
    except ZooError:
        raise
    except (ValueError, TypeError) as err:
        raise UsageError(f"{what}: {err}") from None


def fill_from_data(fn: Any, given: dict[str, Any], described: dict[str, Any], what: str) -> dict[str, Any]:
    """Arguments ``fn`` accepts that the data describes (``num_classes``, ``in_channels``, ...), added
    to ``given``. A value the user set that disagrees with the data is an error, not silently replaced."""
    from zoo.config import accepted_params

    out = dict(given)
    for key in accepted_params(fn):
        if key in described:
            if key in given and given[key] != described[key]:
                raise UsageError(f"{what}.{key} is {given[key]!r} but the data has {described[key]!r}")
            out[key] = described[key]
    return out


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


def cheap_gpu_probe() -> None:
    """On a machine with no GPU, let torch count GPUs its default (cached, microsecond) way again.

    Importing Lightning sets ``PYTORCH_NVML_BASED_CUDA_CHECK=1`` (so that a GPU count never initialises
    CUDA before worker processes fork). torch's optimizers ask whether CUDA is available at every
    ``step()``, and with that setting each ask tries to load the NVIDIA management library again: 0.1 ms
    a step, 1-5% of a small model's step on this project's CPU. Where there is no GPU there is nothing
    to protect, so the setting goes back to torch's default.
    """
    import torch

    if os.environ.get("PYTORCH_NVML_BASED_CUDA_CHECK") == "1" and torch.cuda.device_count() == 0:
        os.environ["PYTORCH_NVML_BASED_CUDA_CHECK"] = "0"


def _no_tips(record: logging.LogRecord) -> bool:
    message = str(record.msg)
    # Advertising for a hosted service at every start, and a note on the step count that the cosine
    # schedule asks Lightning for; neither is for the user to act on.
    return not message.startswith(("💡 Tip", "Loading `train_dataloader` to estimate number of stepping batches"))


def run(model_name: str, cfg: dict[str, Any], resume: str | None = None) -> dict[str, Any]:
    """Everything ``python -m zoo.train`` does after parsing: returns the summary."""
    datamodule, task = prepare(model_name, cfg)
    return train_and_test(model_name, cfg, datamodule, task, resume=resume)


def resume_point(path: str, task: Any) -> tuple[Path, Path]:
    """``(run directory, checkpoint)`` for ``--resume PATH``: a checkpoint file, or a run directory
    whose newest checkpoint that loads is taken (saying so when a newer one does not load). The
    checkpoint must come from a run with the same options as this one."""
    from zoo.checkpoint import safe_load
    from zoo.errors import DataError

    given = Path(path).expanduser()
    if given.is_file():
        candidates = [given]
        run_dir = given.resolve().parent.parent if given.parent.name == "checkpoints" else given.resolve().parent
    elif given.is_dir():
        run_dir = given.resolve()
        candidates = sorted((run_dir / "checkpoints").glob("*.ckpt"), key=lambda f: f.stat().st_mtime, reverse=True)
        if not candidates:
            raise DataError(f"--resume: no checkpoint in {run_dir / 'checkpoints'}")
    else:
        raise UsageError(f"--resume: no such run directory or checkpoint file: {path}")
    for newer, candidate in enumerate(candidates):
        try:
            checkpoint = safe_load(candidate)
        except DataError as err:
            if len(candidates) == 1:
                raise
            print(f"{PROG}: {err}; trying an older checkpoint", file=sys.stderr)
            continue
        if newer:
            print(f"{PROG}: resuming from {candidate.name}, the newest checkpoint that loads", file=sys.stderr)
        saved, now = checkpoint.get("hyper_parameters", {}), dict(task.hparams)
        differ = sorted(k for k in set(saved) | set(now) if k not in task.runtime_options and saved.get(k) != now.get(k))
        if differ:
            shown = "; ".join(f"{k}: {saved.get(k)!r} then, {now.get(k)!r} now" for k in differ[:3])
            raise UsageError(f"--resume: {candidate} was trained with other options ({shown}); give the options it was started with")
        return run_dir, candidate
    raise DataError(f"--resume: no checkpoint in {run_dir / 'checkpoints'} loads")


def prepare(model_name: str, cfg: dict[str, Any]):
    """Seed, check the optimizer settings, load the data and build the task sized by it."""
    import lightning as L

    from zoo.data import DATASETS
    from zoo.optim import check_optimization
    from zoo.tasks import TASKS

    quiet_lightning()
    cheap_gpu_probe()
    L.seed_everything(cfg.get("seed_everything", 0), workers=True, verbose=False)

    check_optimization(cfg["optimizer"], cfg["scheduler"])
    data_cfg, model_cfg, task_cfg = dict(cfg["data"]), dict(cfg["model"]), dict(cfg["task"])
    data_name, task_name = data_cfg.pop("name"), task_cfg.pop("name")
    data_class, model_class = DATASETS.get(data_name), MODELS.get(model_name)
    link_image_size(model_class, model_cfg, data_class, data_cfg)

    datamodule = construct(f"data {data_name!r}", data_class, data_cfg)
    datamodule.prepare_data()
    datamodule.setup("fit")
    described = datamodule.describe()
    model_kwargs = fill_from_data(model_class, model_cfg, described, "model")
    task_class = TASKS.get(task_name)
    task_kwargs = {k: v for k, v in described.items() if k in task_class.filled_by_data}
    task = construct(
        f"task {task_name!r}",
        task_class,
        dict(
            model=model_name, model_kwargs=model_kwargs, optimizer=cfg["optimizer"], scheduler=cfg["scheduler"],
            **task_cfg, **task_kwargs,
        ),
    )
    return datamodule, task


def train_and_test(
    model_name: str, cfg: dict[str, Any], datamodule: Any, task: Any, resume: str | None = None
) -> dict[str, Any]:
    """Make the run directory (or take the one to resume), fit, evaluate the best checkpoint on
    validation and test, summarise."""
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    from zoo.checkpoint import atomic_write_text
    from zoo.errors import Stopped

    data_name = cfg["data"]["name"]
    trainer_cfg = dict(cfg["trainer"])
    root = trainer_cfg.pop("default_root_dir", None) or "runs"
    if resume:
        run_dir, checkpoint = resume_point(resume, task)
    elif os.environ.get(RUN_DIR_ENV):  # another process of this run made it (or the user named it)
        run_dir, checkpoint = Path(os.environ[RUN_DIR_ENV]).resolve(), None
        run_dir.mkdir(parents=True, exist_ok=True)
    elif launched_rank() > 0:
        raise UsageError(f"process {launched_rank()} of a multi-process run needs {RUN_DIR_ENV}=DIR: the run directory all processes share")
    else:
        run_dir, checkpoint = make_run_dir(root, model_name, data_name), None
    try:
        trainer, (best_checkpoint, last_checkpoint), throughput = build_trainer(
            trainer_cfg, cfg["early_stopping"], cfg["checkpoint"], task, run_dir
        )
    except BaseException:
        if not resume:
            shutil.rmtree(run_dir, ignore_errors=True)  # a run that never started leaves nothing behind
        raise
    if launched_rank() == 0:
        print(f"run_dir: {run_dir}", flush=True)
        atomic_write_text(run_dir / "config.yaml", dump_yaml(cfg))

    # Lightning's own launcher (--trainer.devices N) starts the other processes inside fit(), by
    # running this same command again: they find the run directory here.
    shared, os.environ[RUN_DIR_ENV] = os.environ.get(RUN_DIR_ENV), str(run_dir)
    try:
        trainer.fit(task, datamodule=datamodule, ckpt_path=checkpoint)
    except (RuntimeError, MisconfigurationException) as err:
        # A mistyped monitor is only found at the first validation's end.
        watchers = {"early_stopping.monitor": cfg["early_stopping"]["monitor"], "scheduler.monitor": cfg["scheduler"].get("monitor")}
        for option, watched in watchers.items():
            if watched and watched not in trainer.callback_metrics and watched in str(err):
                logged = ", ".join(sorted(k for k in trainer.callback_metrics if k.startswith(("train_", "val_")) and k != "train_time_s"))
                raise UsageError(f"{option} {watched!r} is not a metric this run logs; it logs: {logged}") from None
        raise
    except ValueError as err:
        if "Expected more than 1 value per channel when training" in str(err):  # (BatchNorm1d)
            raise UsageError("batch normalisation needs at least 2 samples in a training batch: "
                             "raise --data.batch_size or set --model.batch_norm false") from None
        raise
    except Stopped as stop:
        if stop.exit_code > 128:  # a signal: say how to go on
            raise Stopped(f"{stop}; to continue: python -m {PROG} {model_name} [the same options] --resume {run_dir}",
                          stop.exit_code) from None
        raise
    finally:
        if shared is None:
            os.environ.pop(RUN_DIR_ENV, None)
        else:
            os.environ[RUN_DIR_ENV] = shared
    if trainer.interrupted:
        raise ZooError(f"training interrupted; checkpoints so far are in {run_dir / 'checkpoints'}")
    if trainer.num_training_batches == 0 and not trainer.global_step:
        from zoo.errors import DataError

        if not resume and trainer.is_global_zero:
            shutil.rmtree(run_dir, ignore_errors=True)  # nothing was trained: nothing to keep

        raise DataError(f"no training batches: the training split is smaller than one batch per process "
                        f"({trainer.world_size} processes), or --trainer.limit_train_batches is 0")
    # Read these now: evaluating a checkpoint below restores the callbacks' state saved with it.
    epochs, train_time_s, samples_per_s = trainer.current_epoch, throughput.seconds, throughput.samples_per_s()
    trainer.loggers = []  # metrics.csv is the training history; the evaluations below go to the summary
    last = last_checkpoint.best_model_path or None  # with no monitor, its "best" is the latest
    best = best_checkpoint.best_model_path or last
    if cfg["early_stopping"]["enabled"] and not cfg["early_stopping"]["restore_best"]:
        best = last
    val = trainer.validate(task, datamodule=datamodule, ckpt_path=best, verbose=False)
    test = trainer.test(task, datamodule=datamodule, ckpt_path=best, verbose=False)
    summary = {
        "model": model_name,
        "data": data_name,
        "epochs": epochs,
        "train_time_s": round(train_time_s, 3),
        "train_samples_per_s": round(samples_per_s, 1),
        "sample_unit": task.sample_unit,
        "val": _strip_prefix(val[0] if val else {}, "val_"),
        "test": _strip_prefix(test[0] if test else {}, "test_"),
        **task.write_artifacts(run_dir),
        "run_dir": str(run_dir),
        "checkpoint": str(best) if best else None,
    }
    if trainer.is_global_zero:
        atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


def build_trainer(
    trainer_cfg: dict[str, Any], stopping_cfg: dict[str, Any], checkpoint_cfg: dict[str, Any], task: Any, run_dir: Path
):
    """The Trainer with zoo's callbacks: metrics CSVs, throughput, best/last checkpoints (also every
    N steps or M minutes if asked), clean stops on signals and non-finite losses, optional early
    stopping, and a progress bar on a terminal."""
    import lightning as L
    from lightning.fabric.utilities.exceptions import MisconfigurationException
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    from zoo.callbacks import EpochCSVLogger, NoProfiler, PeriodicCheckpoint, RunGuard, StepLog, ThrottledProgressBar, TrainThroughput
    from zoo.checkpoint import AtomicCheckpointIO
    from zoo.optim import better_mode

    stopping = dict(stopping_cfg)
    stopping.pop("restore_best")
    enabled = stopping.pop("enabled")
    task_monitor, task_mode = task.monitor or (None, None)
    monitor, mode = stopping.pop("monitor") or task_monitor, stopping.pop("mode")
    if mode is None and monitor == task_monitor:
        mode = task_mode or "min"
    elif mode is None:  # as Keras does: accuracies and similarity scores grow, losses shrink
        mode = better_mode(monitor)
    if enabled and monitor is None:
        raise UsageError(f"early_stopping needs early_stopping.monitor: the {task.name} task has no validation loss")
    early_stop = [construct("early_stopping", EarlyStopping, dict(stopping, monitor=monitor, mode=mode))] if enabled else []
    # A separate callback for "last": Lightning 2.6's save_last only rewrites it when a best
    # checkpoint was written in the same step, so it would lag behind after the best epoch.
    last = ModelCheckpoint(dirpath=run_dir / "checkpoints", filename="last", save_top_k=1, enable_version_counter=False)
    # A task without a "best" (word2vec: the last epoch is the result) keeps only "last".
    best = last if monitor is None else ModelCheckpoint(
        dirpath=run_dir / "checkpoints", filename="best", monitor=monitor, mode=mode,
        save_top_k=1, auto_insert_metric_name=False, enable_version_counter=False,
    )
    throughput = TrainThroughput()
    periodic = construct("checkpoint", PeriodicCheckpoint, dict(checkpoint_cfg))
    periodic.path = run_dir / "checkpoints" / "last.ckpt"
    # (Lightning calls every hook of every callback at every step, whether it does anything or not:
    # a periodic saver nobody asked for is left out.)
    callbacks = [
        RunGuard(run_dir / "checkpoints" / "last.ckpt"), throughput, StepLog(run_dir),
        *([periodic] if periodic.enabled else []), *dict.fromkeys([best, last]), *early_stop,
    ]
    if trainer_cfg.get("enable_progress_bar") is None:
        trainer_cfg["enable_progress_bar"] = sys.stdout.isatty()  # a bar on a terminal, none in logs
    if trainer_cfg["enable_progress_bar"]:
        callbacks.append(ThrottledProgressBar())
    if trainer_cfg.get("profiler") is None:
        trainer_cfg["profiler"] = NoProfiler()
    try:
        trainer = L.Trainer(
            **trainer_cfg, default_root_dir=run_dir, logger=EpochCSVLogger(run_dir, title=task.hparams.model),
            callbacks=callbacks,
            plugins=[AtomicCheckpointIO()], use_distributed_sampler=False,
        )
    except (ValueError, TypeError, MisconfigurationException) as err:
        raise UsageError(f"trainer: {err}") from None
    return trainer, (best, last), throughput


def link_image_size(model_class: Any, model_cfg: dict[str, Any], data_class: Any, data_cfg: dict[str, Any]) -> None:
    """A model with a fixed input size (LeNet: 28 or 32) decides the size images are resized to;
    ``--data.image_size`` alone picks the model's input size instead."""
    from zoo.config import accepted_params

    model_params, data_params = accepted_params(model_class), accepted_params(data_class)
    if "input_size" not in model_params or "image_size" not in data_params:
        return
    # (The resolved config always holds the model's default input size: only another one counts as given.)
    default, given = model_params["input_size"].default, model_cfg.get("input_size")
    size = given if given not in (None, default) else data_cfg.get("image_size") or default
    if data_cfg.get("image_size") not in (None, size):
        raise UsageError(f"data.image_size {data_cfg['image_size']} differs from model.input_size {size}")
    model_cfg["input_size"] = data_cfg["image_size"] = size


def _strip_prefix(metrics: dict[str, Any], prefix: str) -> dict[str, float | None]:
    """``{"val_loss": 0.1234567891}`` -> ``{"loss": 0.123457}``; NaN (a benchmark with no known word) -> None."""
    out = {}
    for key, value in metrics.items():
        value = float(value)
        out[key.removeprefix(prefix)] = round(value, 6) if math.isfinite(value) else None
    return out


# --- the command ---------------------------------------------------------------------------------

def split_argv(argv: list[str]) -> dict[str, Any]:
    opts: dict[str, Any] = {"model": None, "configs": [], "overrides": [], "print_config": False, "debug": False}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-h", "--help"):
            opts["help"] = True
        elif arg == "--print_config":
            opts["print_config"] = True
        elif arg == "--debug":
            opts["debug"] = True
        elif arg in ("--config", "--seed_everything", "--resume") or arg.startswith(("--config=", "--seed_everything=", "--resume=")):
            name, eq, value = arg.partition("=")
            if not eq:
                if i + 1 >= len(argv):
                    raise UsageError(f"option {name} needs a value")
                value, i = argv[i + 1], i + 1
            if name == "--config":
                opts["configs"].append(value)
            elif name == "--resume":
                opts["resume"] = value
            else:
                opts["seed"] = value
        elif not arg.startswith("-") and opts["model"] is None and not opts["overrides"]:
            opts["model"] = arg
        elif arg.startswith("--") and "." in arg.split("=", 1)[0]:
            opts["overrides"].append(arg)
            if "=" not in arg and i + 1 < len(argv):
                opts["overrides"].append(argv[i + 1])
                i += 1
        else:
            raise UsageError(f"unexpected argument {arg!r}; options look like --section.key VALUE (see --help)")
        i += 1
    return opts


def main(argv: list[str] | None = None) -> int:
    return command_main(PROG, argv, train)


def train(argv: list[str]) -> int:
    opts = split_argv(argv)
    if opts.get("help") or opts["model"] is None:
        text = USAGE.format(models=", ".join(MODELS.names()), recipes=", ".join(list_recipes()))
        if opts.get("help"):
            print(text)
            return 0
        raise UsageError(f"missing MODEL (one of: {', '.join(MODELS.names())}); see --help")
    cfg = resolve_config(opts["model"], opts["configs"], opts["overrides"])
    if "seed" in opts:
        cfg["seed_everything"] = coerce_text(opts["seed"], int, "--seed_everything")
    if opts["print_config"]:
        print(dump_yaml(cfg), end="")
        return 0
    summary = run(opts["model"], cfg, resume=opts.get("resume"))
    if launched_rank() == 0:  # one summary per run, not one per process
        print(json.dumps(summary), flush=True)
    return 0
