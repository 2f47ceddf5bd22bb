"""``zoo.fit``: one training run, from a recipe to a tested model and a run directory.

Everything that trains goes through here: ``python -m zoo.train``, the tests, the benchmarks, and
tools that attach their own Lightning callbacks (a search pruning its trials, a page streaming its
metrics). A run: resolve the recipe (``zoo/recipes.py``), seed, load the data, build the task sized by
the data, build the Trainer with zoo's callbacks and yours, fit, evaluate the best checkpoint on the
validation and test splits, write the pictures and ``summary.json``, and return a ``Result``.

Errors a user can cause are zoo's exceptions (``zoo.errors``), never ``sys.exit``; an exception your
callback raises on purpose reaches you as itself, with the run directory as the last checkpoint left it.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import json
import math
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple

from zoo import console
from zoo.config import accepted_params, check_kwargs, plain
from zoo.errors import (
    DataError,
    Stopped,
    UsageError,
    ZooError,
    at_command_line,
    option,
    resume_hint,
    trimmed,
)
from zoo.recipes import Config, resolve_recipe
from zoo.registry import MODELS
from zoo.results import Result, headline
from zoo.rundir import RUN_DIR_ENV, available_cores, launched_rank, make_run_dir


def fit(
    model: str,
    *,
    config: Config | Sequence[Config] | None = None,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
    callbacks: Sequence[Any] = (),
    run_dir: str | Path | None = None,
    resume: str | Path | None = None,
    quiet: bool = False,
    imports: Sequence[str] = (),
    test: bool = True,
    live_plot: bool = False,
    model_summary: Literal["line", "table"] | None = None,
    save: bool = True,
    data: Any = None,
    validation_split: float | None = None,
    validation_data: Any = None,
    test_data: Any = None,
    target: str | Sequence[str] | None = None,
) -> Result:
    """Train ``model`` with its recipe, test the best weights, and return a ``Result``.

    ``data``: what to train on, as you hold it, instead of the recipe's data set (``zoo/data/memory.py``):
    ``(x, y)`` arrays or tensors (feature rows, or images (N, H, W[, C]) for a model that takes them;
    labels for a classifier, numbers for a regression), a pandas DataFrame with ``target="column"``, a
    torch Dataset or DataLoader of ``(x, y)``, or text (a string, lines, token lists) for ``lstm`` and
    ``word2vec``; ``validation_split`` holds out its last fraction (Keras' meaning), ``validation_data``
    and ``test_data`` are more of the same kind (without ``test_data`` the run is not tested).

    ``config``: YAML files, shipped recipe names or dicts, applied after the model's own recipe;
    ``overrides``: ``{"optimizer.lr": 0.01, "seed_everything": 1}`` or ``["--optimizer.lr", "0.01"]``,
    applied last;
    ``callbacks``: Lightning callbacks attached to the Trainer after zoo's own;
    ``run_dir``: the directory to write into (default: a new ``runs/MODEL-DATA-TIMESTAMP``);
    ``resume``: a run directory or checkpoint to continue, started with the same options;
    ``quiet``: no progress, model summary, ``run_dir:`` line or text samples shown;
    ``imports``: modules or ``.py`` files to import first (they register your own models);
    ``test``: False leaves the test split alone (no ``test`` figures, no confusion matrix or other
    picture of test predictions; the decision boundary shows validation points): a search's trials are
    compared on validation, and the test split is for the options chosen in the end;
    ``live_plot``: the learning curves drawn again at every epoch's end (in a notebook, under the
    progress table; elsewhere into the run's ``learning_curves.png``);
    ``model_summary``: "table" (every layer) or "line" (parameters and FLOPs); by default a table on a
    terminal and a line in a notebook;
    ``save``: False writes nothing: no run directory, checkpoints (the best weights are kept in memory),
    pictures or CSV files; the ``Result`` holds the trained task and the figures (what a grid search's
    hundreds of fits want: ``zoo.sklearn``'s estimators).

    The run is seeded with ``seed_everything`` (an option like any other), and the caller's random
    streams (Python's, NumPy's, torch's) and torch's thread count (the ``threads`` option) are as they
    were when it returns. A mistake raises one of
    zoo's exceptions (``zoo.UsageError``, ``zoo.DataError``, ``zoo.Stopped``, whose ``run_dir`` a
    ``resume=`` takes), with a short traceback; ``fit`` never ends the process, not even on a second
    interrupt.
    """
    try:
        with _caller_state_kept():
            given = dict(validation_split=validation_split, validation_data=validation_data, test_data=test_data)
            cfg, held = recipe_and_data(model, config, overrides, imports, data, target=target, **given)
            datamodule, task = prepare(model, cfg, held)
            return train_and_test(
                model,
                cfg,
                datamodule,
                task,
                callbacks=callbacks,
                run_dir=run_dir,
                resume=resume,
                quiet=quiet,
                test=test,
                live_plot=live_plot,
                model_summary=model_summary,
                save=save,
            )
    except ZooError as err:
        # (the user's mistake, under the user's own frames; ZOO_DEBUG=1 shows zoo's)
        raise trimmed(err) from err.__cause__


@contextlib.contextmanager
def _caller_state_kept():
    """Seeding a run (``seed_everything``) resets the process's random streams, and ``threads`` sets
    torch's thread count; the caller's code goes on from where its streams were, as if no run had drawn
    from them, with the threads it had."""
    import random

    import numpy as np
    import torch

    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    threads = torch.get_num_threads()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    env = {k: os.environ.get(k) for k in ("PL_GLOBAL_SEED", "PL_SEED_WORKERS")}
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)
        for key, value in env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def build(
    model: str,
    *,
    config: Config | Sequence[Config] | None = None,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
    imports: Sequence[str] = (),
    data: Any = None,
    validation_split: float | None = None,
    validation_data: Any = None,
    test_data: Any = None,
    target: str | Sequence[str] | None = None,
):
    """``(datamodule, task)`` exactly as ``fit`` builds them (the data set up, the task sized by it,
    untrained), for code that trains or inspects them its own way; ``data`` and the rest as ``fit``
    takes them. (The process's random streams are left seeded with the run's seed, and torch's thread
    count set as the ``threads`` option says, as training needs.)"""
    try:
        given = dict(validation_split=validation_split, validation_data=validation_data, test_data=test_data)
        return prepare(model, *recipe_and_data(model, config, overrides, imports, data, target=target, **given))
    except ZooError as err:
        raise trimmed(err) from err.__cause__


# --- building the pieces ----------------------------------------------------------------------------


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
    out = dict(given)
    for key in accepted_params(fn):
        if key in described:
            if key in given and given[key] != described[key]:
                raise UsageError(f"{what}.{key} is {given[key]!r} but the data has {described[key]!r}")
            out[key] = described[key]
    return out


def link_image_size(model_class: Any, model_cfg: dict[str, Any], data_class: Any, data_cfg: dict[str, Any]) -> None:
    """A model with a fixed input size (LeNet: 28 or 32) decides the size images are resized to;
    ``--data.image_size`` alone picks the model's input size instead."""
    model_params, data_params = accepted_params(model_class), accepted_params(data_class)
    if "input_size" not in model_params or "image_size" not in data_params:
        return
    # (The resolved config always holds the model's default input size: only another one counts as given.)
    default, given = model_params["input_size"].default, model_cfg.get("input_size")
    size = given if given not in (None, default) else data_cfg.get("image_size") or default
    if data_cfg.get("image_size") not in (None, size):
        raise UsageError(f"data.image_size {data_cfg['image_size']} differs from model.input_size {size}")
    model_cfg["input_size"] = data_cfg["image_size"] = size


# A search runs many trials in one process on the same data. Within ``keeping_data()``, a run whose
# data options (and seed) are those of the run before it starts from a copy of that run's set-up data
# module: the tensors are shared, not read, split and standardised again (a second a trial on
# Fashion-MNIST, which is as much as a pruned trial's epoch). A set-up module is not changed by
# training (its loaders are made afresh for each run), so the copy is the module a fresh setup makes.
_kept_data: dict[str, Any] | None = None


@contextlib.contextmanager
def keeping_data():
    """Runs inside this block reuse the data of the run before them when their data options match."""
    global _kept_data
    before, _kept_data = _kept_data, {}
    try:
        yield
    finally:
        _kept_data = before


def set_up_data(
    data_name: str, data_class: type, data_cfg: dict[str, Any], targets: str | None, seed: Any, held: Any = None
):
    """The data module, set up for fitting (or the copy of the last one, in ``keeping_data()``); ``held``:
    the data ``zoo.fit`` was given in memory (its hash is in ``data_cfg``)."""
    key = json.dumps([data_name, data_cfg, targets, seed], sort_keys=True, default=repr)
    if _kept_data is not None and key in _kept_data:
        return copy.copy(_kept_data[key])
    datamodule = construct(f"data {data_name!r}", data_class, data_cfg)
    if held is not None:
        datamodule.hold(held)
    if targets and hasattr(datamodule, "choose_targets"):
        datamodule.choose_targets(targets)  # a table's column can be classes or numbers: the task says
    datamodule.prepare_data()
    datamodule.setup("fit")
    if _kept_data is not None:
        _kept_data.clear()  # one data set kept: a search's trials share theirs
        _kept_data[key] = copy.copy(datamodule)
    return datamodule


def recipe_and_data(model, config, overrides, imports, data, **given) -> tuple[dict[str, Any], Any]:
    """The checked recipe, and the data ``zoo.fit`` was given in memory, read (None without ``data``): a
    recipe layer after the configs names the data module that holds it (the model and the task, from
    the recipe as it stands, say what the data must be)."""
    if data is None:
        if any(value is not None for value in given.values()):
            raise UsageError(f"{', '.join(k for k, v in given.items() if v is not None)}: these go with data=")
        return resolve_recipe(model, config, overrides, imports), None
    from zoo.data.memory import from_memory
    from zoo.registry import TASKS

    base = resolve_recipe(model, config, overrides, imports)
    takes_images = "in_channels" in accepted_params(MODELS.get(model))
    section, held = from_memory(takes_images, TASKS.get(base["task"]["name"]).learns_from, data, **given)
    return resolve_recipe(model, [*config_list(config), {"data": section}], overrides, imports), held


def config_list(config: Config | Sequence[Config] | None) -> list[Config]:
    if config is None:
        return []
    return [config] if isinstance(config, (str, Path, Mapping)) else list(config)


def prepare(model_name: str, cfg: dict[str, Any], held: Any = None):
    """Seed, check the optimizer settings, load the data (``held``: data given in memory) and build the
    task sized by it, on the CPU threads ``choose_threads`` picks."""
    import lightning as L
    import torch

    from zoo._lightning import cheap_gpu_probe, quiet_lightning
    from zoo.optim import check_optimization
    from zoo.registry import DATASETS, TASKS

    quiet_lightning()
    cheap_gpu_probe()
    L.seed_everything(cfg.get("seed_everything", 0), workers=True, verbose=False)

    check_optimization(cfg["optimizer"], cfg["scheduler"])
    data_cfg, model_cfg, task_cfg = dict(cfg["data"]), dict(cfg["model"]), dict(cfg["task"])
    data_name, task_name = data_cfg.pop("name"), task_cfg.pop("name")
    data_class, model_class = DATASETS.get(data_name), MODELS.get(model_name)
    link_image_size(model_class, model_cfg, data_class, data_cfg)

    task_class = TASKS.get(task_name)
    datamodule = set_up_data(data_name, data_class, data_cfg, task_class.targets, cfg.get("seed_everything", 0), held)
    described = datamodule.describe()
    if task_class.targets and described.get("targets", task_class.targets) != task_class.targets:
        raise UsageError(
            task_class.wrong_data.format(
                data=data_name,
                task_regression=option("task.name", "regression"),
                task_classification=option("task.name", "classification"),
                data_target=option("data.target", "COLUMN", raw=True),
            )
        )
    model_kwargs = fill_from_data(model_class, model_cfg, described, "model")
    task_kwargs = {k: v for k, v in described.items() if k in task_class.filled_by_data}
    task = construct(
        f"task {task_name!r}",
        task_class,
        dict(
            model=model_name,
            model_kwargs=model_kwargs,
            optimizer=cfg["optimizer"],
            scheduler=cfg["scheduler"],
            **task_cfg,
            **task_kwargs,
        ),
    )
    filled = {k: v for k, v in model_kwargs.items() if k in described and k not in model_cfg}
    check_model_takes_data(task, datamodule, model_name, filled)
    torch.set_num_threads(choose_threads(cfg.get("threads"), task))
    # (zoo's choice, not the user's: the device line may say when another process makes fewer the better)
    task.threads_by_zoo = cfg.get("threads") is None and not os.environ.get("OMP_NUM_THREADS")
    return datamodule, task


# A network of fewer weights than this trains faster on one CPU thread than on more, even on an idle
# machine: its operations are too small to share (scripts/bench_threads.py, 2 cores: the recipes' MLPs of
# 1,400-2,300 weights ran 2-12% faster on 1 thread than on 2; LeNet's 62,000 ran 1.2-1.5x faster on 2).
SMALL_NETWORK = 10_000


def choose_threads(threads: int | None, task: Any) -> int:
    """torch's CPU threads for a run: ``threads`` when given; else what ``OMP_NUM_THREADS`` says when it
    is set (torch read it at import); else 1 for a small network and every core for a larger one, or
    for a task whose threads do not wait for one another (word2vec's kernel).

    The choice does not follow the machine's load, so that a recipe gives the same numbers whenever it
    runs (torch's sums differ in their last digits with the thread count). On a shared machine one
    thread is much faster: on the 2 cores of scripts/bench_threads.py, with one other process busy,
    each of torch's recipes ran 1.3-6.7x faster on 1 thread than on 2 (a step's threads wait for the one
    the other process holds up). The run's device line says so when it sees other processes busy."""
    import torch

    if threads is not None:
        return threads
    if os.environ.get("OMP_NUM_THREADS"):
        return torch.get_num_threads()
    if task.threads_in_lockstep and sum(p.numel() for p in task.model.parameters()) < SMALL_NETWORK:
        return 1
    return available_cores()


def check_model_takes_data(task: Any, datamodule: Any, model_name: str, filled: dict[str, Any]) -> None:
    """One sample of the data through the model, before any training: a model that does not take the
    data's inputs (it names its input size otherwise than zoo fills it: ``n_inputs`` for ``in_features``)
    or does not give one output per class or target is one line, not a traceback from inside Lightning.
    (For the tasks whose model takes input rows or images and gives a row of numbers: classification
    and regression.)"""
    import torch

    width = getattr(task, "num_classes", None) or len(getattr(task, "target_names", None) or [])
    example = task.example_input(datamodule) if width else None
    if example is None:
        return
    given = ", ".join(
        f"{k}={v}"
        for k, v in filled.items()
        if k in ("in_features", "in_channels", "num_classes", "num_outputs", "input_size")
    )
    fills = f"zoo filled its constructor's {given} from the data" if given else "zoo filled none of its arguments"
    if "in_features" not in filled and "in_channels" not in filled:
        fills += "; name its input size in_features (feature rows) or in_channels (images) for zoo to fill it"
    was_training = task.model.training
    task.model.eval()  # (batch normalisation takes one sample only in eval mode)
    try:
        with torch.no_grad():
            out = task.model(example)
    except (RuntimeError, ValueError, TypeError, IndexError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UsageError(
            f"model {model_name!r} does not take this data's inputs, {tuple(example.shape[1:])} a sample ({reason}); "
            f"{fills}"
        ) from None
    finally:
        task.model.train(was_training)
    if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[1] != width:
        shape = tuple(out.shape[1:]) if isinstance(out, torch.Tensor) else type(out).__name__
        one, many = ("class", "classes") if getattr(task, "num_classes", None) else ("target", "targets")
        raise UsageError(
            f"model {model_name!r} gives {shape} a sample, but the data has {width} {many}: its output must be "
            f"one number per {one}, (batch, {width}); {fills}"
        )


def resume_point(path: str | Path, task: Any, cfg: dict[str, Any] | None = None) -> tuple[Path, Path]:
    """``(run directory, checkpoint)`` for ``resume=PATH``: a checkpoint file, or a run directory whose
    last.ckpt is taken, or when that does not load the newest checkpoint that does (saying so). The
    checkpoint must come from a run with the same options as this one. (Not simply the newest: with
    ``val_check_interval`` best.ckpt can be written after an epoch's last batch but before its end, a
    point Lightning cannot resume from exactly, and last.ckpt follows it only at the epoch's end.)"""
    from zoo.checkpoint import safe_load

    given = Path(path).expanduser()
    if given.is_file():
        candidates = [given]
        run_dir = given.resolve().parent.parent if given.parent.name == "checkpoints" else given.resolve().parent
    elif given.is_dir():
        run_dir = given.resolve()
        candidates = sorted(
            (run_dir / "checkpoints").glob("*.ckpt"),
            key=lambda f: (f.name == "last.ckpt", f.stat().st_mtime),
            reverse=True,
        )
        if not candidates:
            raise DataError(f"{option('resume')}: no checkpoint in {run_dir / 'checkpoints'}")
    else:
        raise UsageError(f"{option('resume')}: no such run directory or checkpoint file: {path}")
    if cfg is not None:
        same_data_in_memory(run_dir, cfg)
    for newer, candidate in enumerate(candidates):
        try:
            checkpoint = safe_load(candidate)
        except DataError as err:
            if len(candidates) == 1:
                raise
            console.note(f"zoo: {err}; trying an older checkpoint")
            continue
        if newer:
            console.note(f"zoo: resuming from {candidate.name}, the newest checkpoint that loads")  # (after last.ckpt)
        saved, now = checkpoint.get("hyper_parameters", {}), dict(task.hparams)
        differ = differences(
            {k: v for k, v in saved.items() if k not in task.runtime_options},
            {k: v for k, v in now.items() if k not in task.runtime_options},
            option_defaults(task),
        )
        if differ:
            shown = "; ".join(f"{k}: {short(a)} then, {short(b)} now" for k, a, b in differ[:3])
            more = f" and {len(differ) - 3} more" if len(differ) > 3 else ""
            raise UsageError(
                f"{option('resume')}: {candidate} was trained with other options ({shown}{more}); "
                "give the options it was started with"
            )
        if cfg is not None:
            more_to_train(candidate, checkpoint, cfg["trainer"], finished=(run_dir / "summary.json").is_file())
        return run_dir, candidate
    raise DataError(f"{option('resume')}: no checkpoint in {run_dir / 'checkpoints'} loads")


def short(value: Any, most: int = 60) -> str:
    """A value's repr, cut to ``most`` characters (a table's 30 column means would fill the screen)."""
    text = repr(value)
    return text if len(text) <= most else text[: most - 5] + " ...]" if text.startswith("[") else text[:most] + " ..."


def more_to_train(path: Path, checkpoint: dict[str, Any], trainer_cfg: dict[str, Any], finished: bool) -> None:
    """A resumed run must have something left to do: a checkpoint past the run's ``max_epochs`` (or
    ``max_steps``), or one that reached them in a run that finished (its summary.json written), is
    refused, saying what it reached and what to give to train on. A run stopped after its last epoch's
    checkpoint but before its test and summary resumes to finish them."""
    progress = ((checkpoint.get("loops") or {}).get("fit_loop") or {}).get("epoch_progress") or {}
    epochs = (progress.get("current") or {}).get("processed", checkpoint.get("epoch", 0))
    steps = checkpoint.get("global_step", 0)
    max_epochs, max_steps = trainer_cfg.get("max_epochs"), trainer_cfg.get("max_steps")
    reached = f"{path.name} has trained {epochs} epoch{'s' if epochs != 1 else ''} ({steps} steps)"
    if max_steps not in (None, -1) and (max_steps < steps or max_steps == steps and finished):
        raise UsageError(
            f"{option('resume')}: {reached}; to train on, give {option('trainer.max_steps')} above {steps}"
        )
    if max_epochs not in (None, -1) and (max_epochs < epochs or max_epochs == epochs and finished):
        asked = (
            f"{'as many as' if max_epochs == epochs else 'more than'} {option('trainer.max_epochs')} {max_epochs} asks"
        )
        raise UsageError(
            f"{option('resume')}: {reached}, {asked}; to train on, give {option('trainer.max_epochs')} above {epochs}"
        )


def same_data_in_memory(run_dir: Path, cfg: dict[str, Any]) -> None:
    """A run trained on data given in memory resumes only with the same data (its hash in config.yaml)."""
    from zoo.config import load_yaml_file

    now = (cfg["data"].get("memory") or {}).get("sha256")
    saved = run_dir / "config.yaml"
    then = ((load_yaml_file(saved).get("data") or {}).get("memory") or {}).get("sha256") if saved.is_file() else None
    if now != then and (now or then):
        shown = {
            None: "data from a file or a data set",
            **{h: f"data in memory, sha256 {h[:12]}" for h in (now, then) if h},
        }
        raise UsageError(
            f"{option('resume')}: {run_dir} was trained on {shown[then]}, this call gives {shown[now]}: "
            "give the data it was started with"
        )


def option_defaults(task: Any) -> dict[str, Any]:
    """The task's options' defaults, its model's under ``model_kwargs``: what a checkpoint written
    before an option existed was trained with."""

    def defaults(fn: Any) -> dict[str, Any]:
        return {k: p.default for k, p in accepted_params(fn).items() if p.default is not inspect.Parameter.empty}

    return {**defaults(type(task)), "model_kwargs": defaults(type(task.model))}


def differences(
    then: dict[str, Any], now: dict[str, Any], defaults: dict[str, Any] | None = None, prefix: str = ""
) -> list[tuple[str, Any, Any]]:
    """``(dotted key, then, now)`` for every setting that differs, nested dicts compared key by key;
    tuples equal the lists YAML reads them back as. A key ``then`` lacks whose value ``now`` is its
    default in ``defaults`` (an option added since) is no difference."""
    out, defaults = [], defaults or {}
    for key in sorted(set(then) | set(now)):
        a, b = plain(then.get(key)), plain(now.get(key))
        if isinstance(a, dict) and isinstance(b, dict):
            nested = defaults.get(key)
            out += differences(a, b, nested if isinstance(nested, dict) else None, f"{prefix}{key}.")
        elif key not in then and key in defaults and b == plain(defaults[key]):
            continue
        elif a != b:
            out.append((f"{prefix}{key}", a, b))
    return out


def build_trainer(
    trainer_cfg: dict[str, Any],
    stopping_cfg: dict[str, Any],
    checkpoint_cfg: dict[str, Any],
    task: Any,
    run_dir: Path,
    callbacks: Sequence[Any] = (),
    validating: bool = True,
    title: str = "",
    live_plot: bool = False,
    model_summary: str | None = None,
    save: bool = True,
) -> Built:
    """The Trainer with zoo's callbacks: metrics CSVs, throughput, best/last checkpoints (also every
    N steps or M minutes if asked), clean stops on signals and non-finite losses, optional early
    stopping, progress (a bar on a terminal, a table in a notebook, nothing in a log) and the model's
    summary; then ``callbacks``. Without validation data, "best" and early stopping follow the
    training loss."""
    import lightning as L
    from lightning.fabric.utilities.exceptions import MisconfigurationException
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    from zoo.callbacks import (
        CheckpointsInMemory,
        DeviceLine,
        EpochCSVLogger,
        EpochRowBeforeCheckpoint,
        LayerSummary,
        NoProfiler,
        PeriodicCheckpoint,
        RunGuard,
        StepLog,
        ThrottledProgressBar,
        TrainThroughput,
        ValidationCheckpoint,
    )
    from zoo.checkpoint import AtomicCheckpointIO

    stopping = dict(stopping_cfg)
    stopping.pop("restore_best")
    enabled = stopping.pop("enabled")
    watched = task.monitor if validating or task.monitor is None else task.monitor.replace("val_", "train_", 1)
    monitor, mode = stopping.pop("monitor") or watched, stopping.pop("mode")
    # As Keras' mode="auto": the task that logs the metric says whether it is better higher or lower.
    mode = mode or (task.metric_mode(monitor) if monitor else None)
    if enabled and monitor is None:
        raise UsageError(f"early_stopping needs early_stopping.monitor: the {task.name} task has no validation loss")
    early_stop = (
        [construct("early_stopping", EarlyStopping, dict(stopping, monitor=monitor, mode=mode))] if enabled else []
    )
    # A separate callback for "last": Lightning 2.6's save_last only rewrites it when a best
    # checkpoint was written in the same step, so it would lag behind after the best epoch.
    # It saves at each training epoch's end, after that epoch's validation if any, and only there:
    # left to itself it saves at validations, so a run shorter than check_val_every_n_epoch would leave
    # no checkpoint, and with val_check_interval the epoch's last one would come after its last batch
    # but before its end, which Lightning cannot resume exactly (see zoo._lightning.ends_epoch).
    # Validations inside an epoch save it too (ValidationCheckpoint).
    last = ModelCheckpoint(
        dirpath=run_dir / "checkpoints",
        filename="last",
        save_top_k=1,
        enable_version_counter=False,
        save_on_train_epoch_end=True,
    )
    # A task without a "best" (word2vec: the last epoch is the result) keeps only "last".
    best = (
        last
        if monitor is None
        else ModelCheckpoint(
            dirpath=run_dir / "checkpoints",
            filename="best",
            monitor=monitor,
            mode=mode,
            save_top_k=1,
            auto_insert_metric_name=False,
            enable_version_counter=False,
        )
    )
    throughput = TrainThroughput()
    periodic = construct("checkpoint", PeriodicCheckpoint, dict(checkpoint_cfg))
    periodic.path = run_dir / "checkpoints" / "last.ckpt"
    # (Lightning calls every hook of every callback at every step, whether it does anything or not:
    # a periodic saver nobody asked for is left out.)
    zoo_callbacks = [
        RunGuard(run_dir / "checkpoints" / "last.ckpt", exit_at_once=at_command_line()),
        throughput,
        *([StepLog(run_dir), EpochRowBeforeCheckpoint()] if save else []),
        *([periodic] if periodic.enabled else []),
        *([ValidationCheckpoint(run_dir / "checkpoints" / "last.ckpt")] if save and validating else []),
        # (A run that keeps nothing and validates nothing has no epoch to choose: its result is the last
        # weights, as in memory, without a checkpoint serialised at every epoch's end.)
        *(dict.fromkeys([best, last]) if save or validating else []),
        *early_stop,
    ]
    notebook = console.in_notebook()
    if trainer_cfg.get("enable_progress_bar") is None:
        # a bar on a terminal, a display in a notebook, none in logs
        trainer_cfg["enable_progress_bar"] = sys.stdout.isatty() or notebook
    progress = None
    if trainer_cfg["enable_progress_bar"]:
        if notebook:
            from zoo.notebook import NotebookProgress

            progress = NotebookProgress(title, run_dir, live_plot=live_plot, monitor=monitor, mode=mode)
        else:
            progress = ThrottledProgressBar()
        zoo_callbacks.append(progress)
    if trainer_cfg.get("enable_model_summary", True) is not False:  # (quiet runs say nothing)
        # zoo's summary instead of Lightning's: the model's layers with sizes and FLOPs, not the task's
        # metric objects around them; in a notebook one line of it, unless a table is asked for
        style = model_summary or ("line" if notebook else "table")
        if style not in ("line", "table"):
            raise UsageError(f"model_summary must be 'line' or 'table', got {model_summary!r}")
        zoo_callbacks += [DeviceLine(), LayerSummary(style=style)]
        trainer_cfg["enable_model_summary"] = False
    if trainer_cfg.get("profiler") is None:
        trainer_cfg["profiler"] = NoProfiler()
    # (in a notebook the display draws the live curves; elsewhere the run's picture is redrawn each epoch)
    logger = EpochCSVLogger(
        run_dir,
        title=title or task.hparams.model,
        monitor=monitor,
        mode=mode,
        live_plot=live_plot and not notebook,
        write=save,
    )
    loggers = [logger, *([tensorboard_logger(run_dir)] if trainer_cfg.pop("logger", "csv") == "tensorboard" else [])]
    try:
        trainer = L.Trainer(
            **trainer_cfg,
            default_root_dir=run_dir,
            logger=loggers,
            callbacks=[*zoo_callbacks, *callbacks],
            # (else Lightning adds a checkpoint callback of its own where zoo left them out)
            enable_checkpointing=any(c is last for c in zoo_callbacks),
            plugins=[AtomicCheckpointIO() if save else CheckpointsInMemory()],
            use_distributed_sampler=False,
        )
    except (ValueError, TypeError, MisconfigurationException) as err:
        raise UsageError(f"trainer: {err}") from None
    return Built(trainer, best, last, throughput, logger, early_stop[0] if early_stop else None, monitor, progress)


def tensorboard_logger(run_dir: Path):
    """Lightning's TensorBoard logger, writing into RUN_DIR/tensorboard (``tensorboard --logdir runs``)."""
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        raise UsageError(f"{option('trainer.logger', 'tensorboard')} needs TensorBoard: pip install 'zoo[tensorboard]'")
    from lightning.pytorch.loggers import TensorBoardLogger

    return TensorBoardLogger(save_dir=run_dir, name="tensorboard", version="", default_hp_metric=False)


def finish_tensorboard(loggers: Sequence[Any], run_dir: Path, cfg: dict[str, Any], summary: dict[str, Any]) -> None:
    """The run's recipe with its test figures (TensorBoard's HPARAMS tab, to compare runs) and its
    pictures (learning curves, confusion matrix, ...) as images, in its TensorBoard log."""
    import numpy as np
    from lightning.pytorch.loggers import TensorBoardLogger
    from PIL import Image

    for logger in loggers:
        if not isinstance(logger, TensorBoardLogger):
            continue
        figures = {f"test/{k}": v for k, v in summary.get("test", {}).items() if v is not None}
        options = {
            f"{section}.{k}": v
            for section, values in cfg.items()
            if isinstance(values, dict)
            for k, v in values.items()
        }
        logger.log_hyperparams(options, metrics=figures)
        for picture in sorted(run_dir.glob("*.png")):
            with Image.open(picture) as image:
                pixels = np.asarray(image.convert("RGB"))
            logger.experiment.add_image(picture.stem, pixels, dataformats="HWC")
        logger.experiment.flush()


class Built(NamedTuple):
    """What ``build_trainer`` made, for ``train_and_test`` to read after fitting."""

    trainer: Any
    best: Any  # ModelCheckpoint keeping the best weights by ``monitor`` (the "last" one where there is none)
    last: Any  # ModelCheckpoint keeping the latest weights
    throughput: Any
    logger: Any  # EpochCSVLogger: metrics.csv and the learning curves
    early_stop: Any  # EarlyStopping, or None
    monitor: str | None  # what decided "best": val_loss, train_loss without validation data, None for word2vec
    progress: Any  # the progress bar or notebook display, or None


# --- one run ------------------------------------------------------------------------------------


def train_and_test(
    model_name: str,
    cfg: dict[str, Any],
    datamodule: Any,
    task: Any,
    *,
    callbacks: Sequence[Any] = (),
    run_dir: str | Path | None = None,
    resume: str | Path | None = None,
    quiet: bool = False,
    test: bool = True,
    live_plot: bool = False,
    model_summary: str | None = None,
    save: bool = True,
) -> Result:
    """Make the run directory (or take the one to resume), fit, evaluate the best checkpoint on
    validation and (unless ``test`` is False) test, summarise. ``save`` False: nothing is kept (a
    temporary directory stands in for the run's, and checkpoints stay in memory)."""
    trainer_cfg = dict(cfg["trainer"])
    root = trainer_cfg.pop("default_root_dir", None) or "runs"
    if quiet:
        trainer_cfg["enable_progress_bar"] = trainer_cfg["enable_model_summary"] = False
        task.echo = False
    validating = getattr(datamodule, "has_validation", True)
    test = test and getattr(datamodule, "has_test", True)  # (data in memory without test_data: no test)
    if not validating:  # (val_split 0: Keras' default, no validation at all)
        trainer_cfg["limit_val_batches"], trainer_cfg["num_sanity_val_steps"] = 0, 0
    from zoo.checkpoint import RunLock, cannot_write, is_write_error, remove_stale_temporaries

    try:
        run_dir, checkpoint, made = choose_run_dir(model_name, cfg, task, root, run_dir, resume, save)
    except OSError as err:
        if not is_write_error(err):
            raise
        where = option("trainer.default_root_dir", "DIR", raw=True)
        raise DataError(
            f"{cannot_write('the run directory', err)}; give a folder this process may write: {where}"
        ) from None
    lock = RunLock(run_dir)
    if launched_rank() == 0 and save:
        try:
            lock.take()  # (one process writes a run directory at a time: a second run, or a resume, is refused)
        except BaseException:
            if made:
                shutil.rmtree(run_dir, ignore_errors=True)
            raise
        # (a write a kill cut short leaves a temporary: gone once its writer is)
        for folder in (run_dir, run_dir / "checkpoints"):
            remove_stale_temporaries(folder)
    try:
        return build_and_run(
            model_name,
            cfg,
            datamodule,
            task,
            trainer_cfg,
            callbacks,
            run_dir,
            checkpoint,
            made,
            quiet=quiet,
            test=test,
            validating=validating,
            live_plot=live_plot,
            model_summary=model_summary,
            save=save,
        )
    finally:
        lock.release()
        if not save:
            shutil.rmtree(run_dir, ignore_errors=True)


def choose_run_dir(model_name, cfg, task, root, run_dir, resume, save) -> tuple[Path, Path | None, bool]:
    """``(the run directory, the checkpoint to resume from or None, whether this call made the folder)``:
    a temporary folder for a run that keeps nothing, the resumed run's, the one given, or a new one."""
    data_name = cfg["data"]["name"]
    if not save:
        if resume or run_dir is not None:
            raise UsageError("save=False keeps nothing: it takes no run_dir and cannot resume")
        import tempfile

        # (Lightning wants a folder; nothing of the run's is written into it, and it goes at the end)
        return Path(tempfile.mkdtemp(prefix="zoo-unsaved-")), None, True
    if resume:
        return (*resume_point(resume, task, cfg), False)
    if run_dir is not None:
        run_dir = Path(run_dir).expanduser().resolve()
        if run_dir.exists() and any(run_dir.iterdir()):
            raise UsageError(f"run_dir {run_dir} is not empty: give a new directory, or resume= to continue a run")
        made = not run_dir.exists()
        run_dir.mkdir(parents=True, exist_ok=True)
        return run_dir, None, made
    if os.environ.get(RUN_DIR_ENV):  # another process of this run made it (or the user named it)
        run_dir = Path(os.environ[RUN_DIR_ENV]).resolve()
        run_dir.mkdir(parents=True, exist_ok=True)
        return run_dir, None, False
    if launched_rank() > 0:
        raise UsageError(
            f"process {launched_rank()} of a multi-process run needs {RUN_DIR_ENV}=DIR: "
            "the run directory all processes share"
        )
    return make_run_dir(root, model_name, data_name), None, True


def build_and_run(
    model_name,
    cfg,
    datamodule,
    task,
    trainer_cfg,
    callbacks,
    run_dir,
    checkpoint,
    made,
    *,
    quiet,
    test,
    validating,
    live_plot,
    model_summary,
    save,
) -> Result:
    """The trainer built for the run directory chosen, the run, its evaluation and summary."""
    data_name = cfg["data"]["name"]
    try:
        built = build_trainer(
            trainer_cfg,
            cfg["early_stopping"],
            cfg["checkpoint"],
            task,
            run_dir,
            callbacks,
            validating=validating,
            title=f"{model_name} on {data_name} ({run_dir.name})",
            live_plot=live_plot,
            model_summary=model_summary,
            save=save,
        )
    except BaseException:
        if made:
            shutil.rmtree(run_dir, ignore_errors=True)  # a run that never started leaves nothing behind
        raise
    try:
        return shown_in_display(
            built.progress,
            lambda: run_built(built, model_name, cfg, datamodule, task, run_dir, checkpoint, made, quiet, test, save),
        )
    except Stopped as stop:
        if save:
            raise
        # (nothing to resume from: say what stopped, not where it was saved)
        raise Stopped(f"{str(stop).split('; ')[0]}; nothing was kept (save=False)", stop.exit_code) from None


def imports_warning(cfg: dict[str, Any]) -> str:
    """A recipe's header when it names code to import: reading it (``--config``, ``resume``, even
    ``--print_config``) runs that code, which whoever shares or receives the file should know."""
    if not cfg.get("imports"):
        return ""
    return (
        "# Reading this recipe (--config, --resume, --print_config, zoo.fit) imports and runs: "
        + ", ".join(cfg["imports"])
        + "\n# Only use it if you trust that code.\n"
    )


def shown_in_display(progress: Any, run: Any) -> Result:
    """``run()``; in a notebook, with what zoo has to say going into the fit's display, which ends saying
    how the run did."""
    if not hasattr(progress, "finish"):  # (not a notebook's display)
        return run()
    with console.notes_to(progress.note):
        try:
            result = run()
        except ZooError as err:
            progress.finish(f"stopped: {err}")
            raise
    figures = "; ".join(f"{split} {headline(values)}" for split, values in result.figures().items())
    epochs = result.summary["epochs"]
    progress.finish(f"done: {epochs} epoch{'s' if epochs != 1 else ''}; {figures}")
    return result


def run_built(built, model_name, cfg, datamodule, task, run_dir, checkpoint, made, quiet, test, saved) -> Result:
    """Fit with the trainer built, evaluate, write the summary (``train_and_test``'s second half);
    ``saved`` False: write nothing (``run_dir`` is a temporary folder)."""
    from zoo.checkpoint import atomic_write_text, cannot_write, is_write_error
    from zoo.config import dump_yaml

    data_name = cfg["data"]["name"]
    if launched_rank() == 0 and saved:
        if not quiet and not hasattr(built.progress, "finish"):  # (a notebook's display shows it)
            print(f"run_dir: {run_dir}", flush=True)
        try:
            atomic_write_text(run_dir / "config.yaml", imports_warning(cfg) + dump_yaml(cfg))
        except OSError as err:
            if not is_write_error(err):
                raise
            if made:
                shutil.rmtree(run_dir, ignore_errors=True)  # (nothing trained yet: nothing to keep)
            raise cannot_write("the recipe", err) from None

    trainer = built.trainer
    # Lightning's own launcher (--trainer.devices N) starts the other processes inside fit(), by
    # running this same command again: they find the run directory here.
    shared, os.environ[RUN_DIR_ENV] = os.environ.get(RUN_DIR_ENV), str(run_dir)
    try:
        fit_explained(trainer, task, datamodule, checkpoint, cfg, model_name, run_dir)
    except (UsageError, DataError):
        # An option found wrong only once training ran (a mistyped monitor): nothing worth keeping.
        if made and trainer.is_global_zero:
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    except OSError as err:  # (a full disk, a folder made read-only: what was written before stays whole)
        if not is_write_error(err):
            raise
        what = "the checkpoint" if str(err.filename or "").endswith(".ckpt") else "the run's record"
        kept = sorted(p.name for p in (run_dir / "checkpoints").glob("*.ckpt"))
        whole = f"{', '.join(kept)} in {run_dir / 'checkpoints'} whole" if kept else "no checkpoint written yet"
        raise DataError(
            f"{cannot_write(what, err)}; the run stopped ({whole}); when it can write again: "
            + resume_hint(model_name, run_dir)
        ) from None
    finally:
        if shared is None:
            os.environ.pop(RUN_DIR_ENV, None)
        else:
            os.environ[RUN_DIR_ENV] = shared
    if trainer.interrupted:
        raise Stopped(
            f"training interrupted; checkpoints so far are in {run_dir / 'checkpoints'}", 130, run_dir=run_dir
        )
    if trainer.num_training_batches == 0 and not trainer.global_step:
        if made and trainer.is_global_zero:
            shutil.rmtree(run_dir, ignore_errors=True)  # nothing was trained: nothing to keep
        raise DataError(
            f"no training batches: the training split is smaller than one batch per process "
            f"({trainer.world_size} processes), or {option('trainer.limit_train_batches')} is 0"
        )
    # Read these now: evaluating a checkpoint below restores the callbacks' state saved with it.
    throughput, early_stop = built.throughput, built.early_stop
    epochs, train_time_s, samples_per_s = trainer.current_epoch, throughput.seconds, throughput.samples_per_s()
    stopped_at = early_stop.stopped_epoch if early_stop is not None and early_stop.stopped_epoch else None
    if stopped_at is not None and not quiet and trainer.is_global_zero:
        console.note(f"zoo: early stopping after epoch {stopped_at}: {early_stop.stopping_reason_message}")
    history = built.logger.sorted_rows()
    loggers, trainer.loggers = trainer.loggers, []  # the history is written; the evaluations below go to the summary
    checkpointed = any(callback is built.last for callback in trainer.checkpoint_callbacks)
    last = built.last.best_model_path or None if checkpointed else None  # with no monitor, its "best" is the latest
    best = built.best.best_model_path or last if checkpointed else None  # (None: the weights as they are)
    if cfg["early_stopping"]["enabled"] and not cfg["early_stopping"]["restore_best"]:
        best = last
    try:
        val = trainer.validate(task, datamodule=datamodule, ckpt_path=best, verbose=False)
        tested = trainer.test(task, datamodule=datamodule, ckpt_path=best, verbose=False) if test else None
    except SystemExit as exit_:
        raise Stopped(
            f"interrupted during the evaluation; the trained checkpoints are in {run_dir / 'checkpoints'}",
            130,
            run_dir=run_dir,
            checkpoint=best,
        ) from exit_
    # What comes after a finished training (pictures, vectors, the summary's file) is skipped with a note
    # when the machine refuses to write it: the trained checkpoints are what the run is for.
    extras = after_training(run_dir, saved)
    summary = {
        "model": model_name,
        "data": data_name,
        "epochs": epochs,
        "train_time_s": round(train_time_s, 3),
        "train_samples_per_s": round(samples_per_s, 1),
        "sample_unit": task.sample_unit,
        "val": _strip_prefix(val[0] if val else {}, "val_"),
        **({"test": _strip_prefix(tested[0] if tested else {}, "test_")} if test else {}),
        **(
            extras("its pictures and files", lambda: task.write_artifacts(run_dir, held_out="test" if test else "val"))
            or {}
        ),
        "run_dir": str(run_dir) if saved else None,
        "checkpoint": str(best) if best and saved else None,
        # the metric that chose the tested checkpoint (train_loss without validation data); None: the last
        "best_by": built.monitor
        if best and best == built.best.best_model_path and built.best is not built.last
        else None,
    }
    if stopped_at is not None:
        summary["stopped_early_at_epoch"] = stopped_at
    if trainer.is_global_zero and saved:
        extras("its TensorBoard log", lambda: finish_tensorboard(loggers, run_dir, cfg, summary))
        text = json.dumps(summary, indent=2, ensure_ascii=False) + "\n"
        extras("summary.json", lambda: atomic_write_text(run_dir / "summary.json", text))
    return Result(summary=summary, run_dir=run_dir if saved else None, task=task.eval(), metrics=history, config=cfg)


def after_training(run_dir: Path, saved: bool):
    """A function that runs one of a finished run's extras (``what``, ``write()``) and returns its result,
    or, when the machine refuses the write (a full disk, a read-only folder), notes what was skipped and
    returns None. Nothing runs for a run that keeps nothing."""
    from zoo.checkpoint import cannot_write, is_write_error

    def extra(what: str, write: Any) -> Any:
        if not saved:
            return None
        try:
            return write()
        except OSError as err:
            if not is_write_error(err):
                raise
            console.note(
                f"zoo: {cannot_write(what, err)}; skipped (the trained checkpoints are in {run_dir / 'checkpoints'})"
            )
            return None

    return extra


def fit_explained(trainer, task, datamodule, checkpoint, cfg, model_name, run_dir) -> None:
    """``trainer.fit``, with what can only go wrong once training runs said in one line."""
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    try:
        trainer.fit(task, datamodule=datamodule, ckpt_path=checkpoint)
    except (RuntimeError, MisconfigurationException) as err:
        # A mistyped monitor is only found at the first validation's end.
        watchers = {
            "early_stopping.monitor": cfg["early_stopping"]["monitor"],
            "scheduler.monitor": cfg["scheduler"].get("monitor"),
        }
        for name, watched in watchers.items():
            if watched and watched not in trainer.callback_metrics and watched in str(err):
                logged = ", ".join(
                    sorted(
                        k for k in trainer.callback_metrics if k.startswith(("train_", "val_")) and k != "train_time_s"
                    )
                )
                raise UsageError(f"{name} {watched!r} is not a metric this run logs; it logs: {logged}") from None
        raise
    except ValueError as err:
        if "Expected more than 1 value per channel when training" in str(err):  # (BatchNorm1d)
            raise UsageError(
                "batch normalisation needs at least 2 samples in a training batch: "
                f"raise {option('data.batch_size')} or set {option('model.batch_norm', False)}"
            ) from None
        raise
    except Stopped as stop:
        if stop.exit_code > 128:  # a signal: say how to go on
            raise Stopped(
                f"{stop}; to continue: {resume_hint(model_name, run_dir)}", stop.exit_code, run_dir, stop.checkpoint
            ) from None
        raise
    except SystemExit as exit_:  # Lightning's answer to a KeyboardInterrupt outside zoo's signal handling
        saved = run_dir / "checkpoints" / "last.ckpt"
        raise Stopped(
            f"interrupted; checkpoints so far are in {run_dir / 'checkpoints'}; to continue: "
            f"{resume_hint(model_name, run_dir)}",
            130,
            run_dir=run_dir,
            checkpoint=saved if saved.is_file() else None,
        ) from exit_


def _strip_prefix(metrics: dict[str, Any], prefix: str) -> dict[str, float | None]:
    """``{"val_loss": 0.1234567891}`` -> ``{"loss": 0.123457}``; NaN (a benchmark with no known word) -> None."""
    out = {}
    for key, value in metrics.items():
        value = float(value)
        out[key.removeprefix(prefix)] = round(value, 6) if math.isfinite(value) else None
    return out
