"""Hyperparameter search over a recipe's options, with Optuna: ``zoo.search.tune``, and its command
``python -m zoo.tune`` (``zoo/tune.py``).

A search space is a YAML file in zoo's own dotted option names (``configs/search/*.yaml`` ship)::

    metric: val_acc                        # a validation metric the runs log; its task says which way is better
    space:
      optimizer.lr: {float: [1.0e-4, 1.0e-1], log: true}
      model.dropout: {float: [0.0, 0.5]}     # (step: 0.1 makes it a grid of 6)
      data.batch_size: {int: [16, 128], step: 16}
      model.activation: {choice: [relu, tanh]}
      model.hidden: {layers: {depth: {int: [1, 3]}, width: {choice: [16, 64, 256]}}}   # [width] * depth
    config: mlp_fashion_mnist              # recipes the trials start from (then --config, then overrides)
    overrides: {trainer.max_epochs: 20}    # every trial's recipe (the command line's options win)
    sampler: tpe                           # defaults for this space (the command line's win):
    pruner: median                         #   median | hyperband | asha | none, or {name: ..., and the
                                           #   Optuna class's arguments}
    n_trials: 20

Every trial is an ordinary zoo run: ``zoo.fit`` into ``STUDY_DIR/trial-NNN`` with one extra callback,
``zoo.callbacks.OptunaPruning``, that reports the metric to Optuna at each validation's end and stops
the run when the pruner says so; and with ``test=False``: trials are compared on validation, and
the test split is left for the chosen options. A study lives in an Optuna storage: by default a
SQLite file in the study directory (one machine, any number of processes), or a database URL that
many machines share; the same command run again continues it. Each process asks the storage for its
next trial, so no trial runs twice, and runs trials until the study holds ``n_trials`` that ended:
a trial whose process died (found by its pid on this machine, by Optuna's heartbeat elsewhere) is
failed and runs again in a process that is still there, and a search reports itself done only when
the study holds them all.

What a trial leaves in the storage (its options, curves, verdict, run directory) is enough to write
the study's report on any machine: ``trials.csv``, ``best.yaml`` and the pictures.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import signal
import socket
import sys
import textwrap
import threading
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from zoo.config import load_yaml_file, plain
from zoo.errors import Stopped, UsageError, ZooError, argument, at_command_line
from zoo.recipes import Config, recipe_dir, resolve_recipe
from zoo.rundir import available_cores
from zoo.training import differences, fit, keeping_data

# Optuna imports tqdm.auto, which in a notebook without ipywidgets warns (on stderr, a red box there)
# that it cannot draw widgets; zoo draws no tqdm bar of Optuna's.
warnings.filterwarnings("ignore", message="IProgress not found")

KINDS = ("float", "int", "choice", "layers")
SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "hyperband", "asha", "none")
# Optuna's heartbeat on database storages: every process running a trial writes a beat every
# HEARTBEAT[0] seconds; a trial without one for HEARTBEAT[1] seconds (its process or machine died) is
# failed by the next process of the study that looks (``fail_lost_trials``). (A process killed on this
# machine is found at once, by its pid.)
HEARTBEAT = (10, 60)
HOST = socket.gethostname()
# How often a process whose study's last trials run elsewhere looks whether they ended or died.
POLL_S = 2.0

# The verdict's margins (README, "Tuning"): an accuracy (a metric better higher, between 0 and 1)
# counts as behind by more than 0.05; any other metric by more than 10% of the value it is compared
# with, and a loss by more than 0.01 as well (near zero, 10% is nothing: losses of 0.001 and 0.004
# are both a fit). Training accuracy less than a third of the way from chance (the commonest class's
# share of the training data) to 1 is near chance: below 0.67 on two even classes, 0.4 on ten. Validation
# loss "rising" means more than 10% (and 0.01) above its lowest, with training loss lower than it was then.
ACC_MARGIN, RELATIVE_MARGIN, LOSS_MARGIN = 0.05, 0.10, 0.01
NEAR_CHANCE = 1 / 3
RISE_RELATIVE = 0.10


# --- the search space ----------------------------------------------------------------------------


@dataclass
class Option:
    """One searched option: ``key`` (``optimizer.lr``) and how to draw it. ``layers`` draws two
    parameters, ``KEY.depth`` and ``KEY.width``, and gives ``[width] * depth``."""

    key: str
    kind: str
    low: Any = None
    high: Any = None
    log: bool = False
    step: Any = None
    values: list[Any] = field(default_factory=list)
    depth: Option | None = None
    width: Option | None = None

    @property
    def encoded(self) -> bool:
        # Optuna's categorical values are None, bools, numbers and strings: lists ([32, 32]) go in as JSON.
        return any(not isinstance(v, (type(None), bool, int, float, str)) for v in self.values)

    def choices(self) -> list[Any]:
        return [json.dumps(v) for v in self.values] if self.encoded else list(self.values)

    def draw(self, trial: Any, name: str | None = None) -> Any:
        name = name or self.key
        if self.kind == "float":
            return trial.suggest_float(name, self.low, self.high, log=self.log, step=self.step)
        if self.kind == "int":
            return trial.suggest_int(name, self.low, self.high, step=self.step or 1, log=self.log)
        if self.kind == "choice":
            value = trial.suggest_categorical(name, self.choices())
            return json.loads(value) if self.encoded else value
        return [self.width.draw(trial, f"{name}.width")] * self.depth.draw(trial, f"{name}.depth")

    def grid(self, name: str | None = None) -> dict[str, list[Any]]:
        """The values ``--sampler grid`` tries, by Optuna parameter name."""
        name = name or self.key
        if self.kind == "layers":
            return {**self.depth.grid(f"{name}.depth"), **self.width.grid(f"{name}.width")}
        if self.kind == "choice":
            return {name: self.choices()}
        if self.kind == "int":
            return {name: list(range(self.low, self.high + 1, self.step or 1))}
        if self.step is None:
            raise UsageError(
                f"--sampler grid needs a finite set of values: {name} is a continuous range; "
                "give it a step ({float: [lo, hi], step: 0.1}) or make it a choice"
            )
        count = int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1
        return {name: [round(self.low + i * self.step, 12) for i in range(count)]}

    def corners(self) -> list[Any]:
        """Values that, if the recipe accepts them, show that the option accepts the whole range."""
        if self.kind == "layers":
            return [[w] * d for d in self.depth.corners() for w in self.width.corners()]
        return list(self.values) if self.kind == "choice" else [self.low, self.high]


@dataclass
class Space:
    source: str
    metric: str
    options: dict[str, Option]
    overrides: dict[str, Any] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)  # sampler, pruner, n_trials
    raw: dict[str, Any] = field(default_factory=dict)
    configs: list[str] = field(default_factory=list)  # recipes the trials start from (before --config)

    @property
    def name(self) -> str:
        return Path(self.source).stem

    def draw(self, trial: Any) -> dict[str, Any]:
        """The trial's options, ``{"optimizer.lr": 0.003, "model.hidden": [64, 64]}``."""
        return {key: option.draw(trial) for key, option in self.options.items()}

    def grid(self) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        for option in self.options.values():
            out.update(option.grid())
        return out


def search_dir() -> Path:
    """Shipped search spaces: ``configs/search/`` (``zoo/configs/search`` inside a wheel)."""
    return recipe_dir() / "search"


def list_spaces() -> list[str]:
    return sorted(p.stem for p in search_dir().glob("*.yaml"))


def load_space(name_or_path: str | Path) -> Space:
    """A search space from a YAML file, or a shipped one by name (``capacity_spiral``)."""
    path = Path(name_or_path)
    if not path.is_file() and (search_dir() / f"{name_or_path}.yaml").is_file():
        path = search_dir() / f"{name_or_path}.yaml"
    if not path.is_file():
        shipped = ", ".join(list_spaces())
        raise UsageError(f"--search: no such file or shipped search space: {name_or_path} (shipped: {shipped})")
    return parse_space(load_yaml_file(path), str(path))


def parse_space(raw: Mapping[str, Any], source: str = "search space") -> Space:
    known = ("metric", "config", "space", "overrides", "sampler", "pruner", "n_trials")
    for key in raw:
        if key not in known:
            raise UsageError(f"{source}: unknown key {key!r} (valid: {', '.join(known)})")
    metric = raw.get("metric", "val_loss")
    if not isinstance(metric, str) or not metric.startswith("val_"):
        raise UsageError(
            f"{source}: metric {metric!r} is not a validation metric (val_acc, val_loss, ...): "
            "a search chooses by how the runs do on data they did not train on"
        )
    space = raw.get("space")
    if not isinstance(space, Mapping) or not space:
        raise UsageError(
            f"{source}: 'space' must map options to ranges, e.g. optimizer.lr: {{float: [1.0e-4, 0.1], log: true}}"
        )
    options = {dotted(key, source): parse_option(str(key), spec, source) for key, spec in space.items()}
    overrides = raw.get("overrides") or {}
    if not isinstance(overrides, Mapping):
        raise UsageError(f"{source}: 'overrides' must map options to values, e.g. trainer.max_epochs: 20")
    overrides = {dotted(key, source): value for key, value in overrides.items()}
    both = sorted(set(options) & set(overrides))
    if both:
        raise UsageError(f"{source}: {both[0]} is both searched and fixed in 'overrides'")
    defaults = {k: raw[k] for k in ("sampler", "pruner", "n_trials") if raw.get(k) is not None}
    configs = raw.get("config") or []
    configs = [configs] if isinstance(configs, str) else configs
    if not isinstance(configs, list) or not all(isinstance(c, str) for c in configs):
        raise UsageError(f"{source}: 'config' names a recipe (a shipped name or a file), or a list of them")
    return Space(source, metric, options, dict(overrides), defaults, plain(dict(raw)), configs)


def dotted(key: Any, source: str) -> str:
    key = str(key)
    section, _, name = key.partition(".")
    if not section or not name or "." in name:
        raise UsageError(f"{source}: {key!r} should be section.key, e.g. optimizer.lr")
    return key


def parse_option(key: str, spec: Any, source: str, within: str = "") -> Option:
    where = f"{source}: {within or key}"
    if not isinstance(spec, Mapping):
        raise UsageError(
            f"{where}: expected one of {{float: [lo, hi]}}, {{int: [lo, hi]}}, {{choice: [...]}}, {{layers: ...}}"
        )
    kinds = [k for k in spec if k in KINDS]
    if len(kinds) != 1:
        got = ", ".join(map(str, spec)) or "nothing"
        raise UsageError(f"{where}: give exactly one of {', '.join(KINDS)}, got {got}")
    kind = kinds[0]
    allowed = {"float": ("log", "step"), "int": ("log", "step"), "choice": (), "layers": ()}[kind]
    for extra in spec:
        if extra != kind and extra not in allowed:
            raise UsageError(f"{where}: unknown setting {extra!r} for {kind} (valid: {', '.join(allowed) or 'none'})")
    value = spec[kind]
    if kind == "choice":
        if not isinstance(value, list) or not value:
            raise UsageError(f"{where}: choice needs a non-empty list of values")
        return Option(key, kind, values=list(value))
    if kind == "layers":
        if not isinstance(value, Mapping) or set(value) != {"depth", "width"}:
            raise UsageError(
                f"{where}: layers needs depth and width, e.g. {{depth: {{int: [1, 3]}}, width: {{choice: [16, 64]}}}}"
            )
        parts = {}
        for part in ("depth", "width"):
            option = parse_option(key, value[part], source, f"{key} {part}")
            if option.kind not in ("int", "choice") or any(
                not isinstance(v, int) or isinstance(v, bool) or v < 1 for v in option.corners()
            ):
                raise UsageError(
                    f"{where} {part}: expected positive whole numbers ({{int: [lo, hi]}} or {{choice: [...]}})"
                )
            parts[part] = option
        return Option(key, kind, **parts)
    if not (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        raise UsageError(f"{where}: {kind} needs [low, high], got {value!r}")
    low, high = value
    log, step = bool(spec.get("log", False)), spec.get("step")
    if kind == "int" and not all(isinstance(v, int) for v in (low, high, step or 1)):
        raise UsageError(f"{where}: int needs whole numbers, got {value!r}" + (f" step {step!r}" if step else ""))
    if high < low:
        raise UsageError(f"{where}: empty range [{low}, {high}]: low must not exceed high")
    if log and low <= 0:
        raise UsageError(f"{where}: a log range must start above 0, got {low}")
    if step is not None and (not isinstance(step, (int, float)) or step <= 0):
        raise UsageError(f"{where}: step must be a positive number, got {step!r}")
    if log and step is not None and kind == "float":
        raise UsageError(f"{where}: give log or step, not both")
    if kind == "float":
        low, high, step = float(low), float(high), None if step is None else float(step)
    return Option(key, kind, low=low, high=high, log=log, step=step)


def nested(flat: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{"data.noise": 0.3}`` -> ``{"data": {"noise": 0.3}}``: a recipe layer."""
    out: dict[str, dict[str, Any]] = {}
    for key, value in flat.items():
        section, _, name = key.partition(".")
        out.setdefault(section, {})[name] = value
    return out


# --- the search, checked -----------------------------------------------------------------------


@dataclass
class Search:
    """Everything a process of a search needs (it is handed to worker processes as it is)."""

    model: str
    space: Space
    recipe: dict[str, Any]  # the resolved recipe every trial starts from (with the space's and command's options)
    fixed: dict[str, Any]  # options every trial sets on top (which checkpoint counts as best)
    direction: str  # "maximize" or "minimize"
    study: str
    study_dir: Path
    storage: str | None
    sampler: str | dict[str, Any] = "tpe"
    pruner: str | dict[str, Any] = "median"
    n_trials: int = 20
    workers: int = 1
    retries: int = 1
    timeout_s: float | None = None
    echo: bool = True

    @property
    def mode(self) -> str:
        return "max" if self.direction == "maximize" else "min"


def prepare(
    model: str,
    space: str | Path | Space,
    *,
    config: Config | Sequence[Config] | None = None,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
    imports: Sequence[str] = (),
    n_trials: int | None = None,
    timeout: float | None = None,
    sampler: str | None = None,
    pruner: str | None = None,
    storage: str | None = None,
    study: str | None = None,
    study_dir: str | Path | None = None,
    workers: int = 1,
    retries: int = 1,
    echo: bool = True,
) -> Search:
    """Check everything a search needs before any trial starts: the space, every searched option
    against the recipe (its lowest and highest value, every choice), the metric, sampler and pruner.

    The checks that need only the recipe's schema run first, so that a mistyped key or value is one
    line in a fraction of a second; building the network at each corner of the space (the model's own
    checks) and reading the task's metric direction import torch, and come last."""
    space = space if isinstance(space, Space) else load_space(space)
    configs = [] if config is None else [config] if isinstance(config, (str, Path, Mapping)) else list(config)
    layers = [*space.configs, *configs, *([nested(space.overrides)] if space.overrides else [])]
    recipe = resolve_recipe(model, layers, overrides, imports)
    given = override_keys(overrides)
    corners: list[tuple[str, Any, dict[str, Any]]] = []  # (key, value, the recipe with it)
    for key, option in space.options.items():
        if key in given:
            where = "on the command line" if at_command_line() else "in overrides"
            raise UsageError(f"{key} is searched ({space.source}) and also set {where}; give one")
        for value in option.corners():
            try:
                corners.append((key, value, resolve_recipe(model, [recipe, nested({key: value})])))
            except UsageError as err:
                what = key if "has no option" in str(err) else f"{key} = {value!r}"  # (a mistyped key: no value)
                raise UsageError(f"{space.source}: {what}: {err}") from None

    sampler = sampler or space.defaults.get("sampler", "tpe")
    pruner = pruner or space.defaults.get("pruner", "median")
    check_choice("sampler", sampler, SAMPLERS)
    check_choice("pruner", pruner, PRUNERS)
    if n_trials is None:
        n_trials = space.defaults.get("n_trials") or (grid_size(space) if name_of(sampler) == "grid" else 20)
    if name_of(sampler) == "grid":
        n_trials = min(n_trials, grid_size(space))
    if not isinstance(n_trials, int) or n_trials < 1:
        raise UsageError(f"{argument('n_trials')} must be at least 1, got {n_trials!r}")
    if not isinstance(workers, int) or workers < 1:
        raise UsageError(f"{argument('workers')} must be at least 1, got {workers!r}")
    if retries < 0:
        raise UsageError(f"{argument('retries')} must be 0 or more, got {retries}")
    name = study or f"{model}-{space.name}"
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise UsageError(f"{argument('study')} {name!r}: use letters, digits, '.', '_' and '-'")

    try:
        import optuna  # noqa: F401
    except ImportError:
        raise ZooError("a search needs optuna: pip install 'zoo[tune]'") from None
    from zoo.registry import TASKS  # (from here on, torch is imported)

    for key, value, resolved in corners:
        if key.startswith("model."):
            try:
                build_model(model, resolved["model"])
            except UsageError as err:
                raise UsageError(f"{space.source}: {key} = {value!r}: {err}") from None
    task = TASKS.get(recipe["task"]["name"])
    direction = "maximize" if task.metric_mode(space.metric) == "max" else "minimize"
    # Each trial keeps its best checkpoint by the search's metric, unless the recipe names another.
    fixed = {} if recipe["early_stopping"]["monitor"] else {"early_stopping.monitor": space.metric}
    return Search(
        model=model,
        space=space,
        recipe=recipe,
        fixed=fixed,
        direction=direction,
        study=name,
        study_dir=Path(study_dir or Path("studies") / name).expanduser().resolve(),
        storage=storage,
        sampler=sampler,
        pruner=pruner,
        n_trials=n_trials,
        workers=workers,
        retries=retries,
        timeout_s=timeout,
        echo=echo,
    )


def build_model(model: str, options: dict[str, Any]) -> None:
    """Build the network with these options (sizes the data decides set to 2): the model's own checks
    (an activation's name, a dropout outside [0, 1)) run before any trial, not in the first one that
    draws the value."""
    from zoo.config import accepted_params
    from zoo.data import DESCRIBED
    from zoo.registry import MODELS
    from zoo.training import construct

    builder = MODELS.get(model)
    sizes = {k: 2 for k in accepted_params(builder) if k in DESCRIBED and k not in options}
    construct("model", builder, {**options, **sizes})


def override_keys(overrides: Mapping[str, Any] | Sequence[str] | None) -> set[str]:
    if not overrides:
        return set()
    if isinstance(overrides, Mapping):
        return {str(k).removeprefix("--") for k in overrides}
    return {a[2:].split("=", 1)[0] for a in overrides if isinstance(a, str) and a.startswith("--") and "." in a}


def name_of(choice: str | Mapping[str, Any]) -> str:
    return choice.get("name", "") if isinstance(choice, Mapping) else choice


def check_choice(what: str, choice: Any, valid: Sequence[str]) -> None:
    if name_of(choice) not in valid:
        raise UsageError(
            f"--{what} {name_of(choice)!r}: valid: {', '.join(valid)} (or, in a search space, {{name: ..., arguments}})"
        )


def grid_size(space: Space) -> int:
    return math.prod(len(values) for values in space.grid().values())


# --- storage -------------------------------------------------------------------------------------


def storage_url(search: Search) -> str:
    """What ``--storage`` names, as a URL (``sqlite:///...``) or a journal file's path."""
    where = search.storage or str(search.study_dir / "study.db")
    if "://" in where:
        return where
    path = Path(where).expanduser().resolve()
    return f"sqlite:///{path}" if path.suffix in (".db", ".sqlite", ".sqlite3") else str(path)


def shown(url: str) -> str:
    """The storage as it may be printed: without its password."""
    if "://" not in url:
        return url
    try:
        from urllib.parse import unquote

        from sqlalchemy.engine import make_url

        # (Unquoted again: SQLAlchemy writes a path's é as %C3%A9.)
        return unquote(make_url(url).render_as_string(hide_password=True))
    except Exception:
        return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


def open_storage(search: Search) -> Any:
    """An Optuna storage for this process: a database (SQLite by default) with a heartbeat, or a
    journal file. A driver that is not installed or a server that does not answer is one line."""
    import optuna
    from optuna.storages import JournalStorage, RDBStorage
    from optuna.storages.journal import JournalFileBackend

    url = storage_url(search)
    search.study_dir.mkdir(parents=True, exist_ok=True)
    try:
        if "://" not in url:  # a journal file: many processes of one machine (no heartbeat; see fail_dead_trials)
            return JournalStorage(JournalFileBackend(url))
        connect_args = {}
        if url.startswith("sqlite"):
            connect_args = {"timeout": 60}  # processes take turns writing; wait rather than fail
        elif url.startswith(("postgresql", "mysql")):
            connect_args = {"connect_timeout": 10}  # a host that does not answer: say so within seconds
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return RDBStorage(
                url,
                heartbeat_interval=HEARTBEAT[0],
                grace_period=HEARTBEAT[1],
                heartbeat_stale_trial_callback=Retry(search.retries),
                engine_kwargs={"pool_pre_ping": True, "connect_args": connect_args},
            )
    except Exception as err:
        raise storage_error(url, err) from None


def storage_error(url: str, err: BaseException) -> ZooError:
    """One line for what went wrong with a storage (the password left out)."""
    import sqlalchemy.exc as sx

    where = f"--storage {shown(url)}"
    if isinstance(err, ImportError):
        return ZooError(
            f"{where}: its database driver is not installed ({err.__cause__ or err}); "
            "e.g. pip install 'psycopg[binary]' for postgresql+psycopg://"
        )
    if isinstance(err, sx.NoSuchModuleError):
        return UsageError(
            f"{where}: unknown database type ({err}); e.g. postgresql+psycopg://USER:PASSWORD@HOST/DB or a file path"
        )
    if isinstance(err, sx.ArgumentError):
        return UsageError(f"{where}: not a storage URL or file path")
    if isinstance(err, (sx.OperationalError, sx.InterfaceError)):
        reason = str(getattr(err, "orig", err)).strip().splitlines()[0]
        return ZooError(f"{where}: cannot reach the database: {reason}")
    if isinstance(err, OSError):
        return ZooError(f"{where}: {err.strerror or err}")
    return ZooError(f"{where}: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")


class Retry:
    """What happens to a trial whose process died (or whose heartbeat stopped): its options are run
    again, at most ``retries`` times in a row, as a new trial (``retry_of`` names the one it repeats)."""

    def __init__(self, retries: int):
        self.retries = retries

    def __call__(self, study: Any, trial: Any, counts: bool = True) -> None:
        done = trial.user_attrs.get("retries", 0) + (1 if counts else 0)
        if done <= self.retries:
            study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number, "retries": done})


def alive(pid: int) -> bool:
    """Whether a worker's process runs on this machine (a zombie, killed and not reaped, does not)."""
    from zoo.checkpoint import process_alive

    return process_alive(pid)


def worker_of(trial: Any) -> tuple[str, int | None]:
    """``(host, pid)`` of the process that runs (or ran) a trial, as ``Trials`` records it."""
    host, _, rest = str(trial.user_attrs.get("worker", "")).partition(":")
    pid, _, number = rest.partition(":")
    return host, int(pid) if pid.isdigit() and number == str(trial.number) else None


def fail_dead_trials(study: Any, retries: int) -> list[int]:
    """Fail the running trials whose process, on this machine, is gone (SIGKILL, a crash), and queue
    their retries. (Optuna's heartbeat finds the dead on other machines: ``fail_lost_trials``.)"""
    import optuna
    from optuna.trial import TrialState

    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        host, pid = worker_of(trial)
        if host != HOST or pid is None or pid == os.getpid() or alive(pid):
            continue
        try:
            study.tell(trial.number, state=TrialState.FAIL)
        except (ValueError, RuntimeError, optuna.exceptions.UpdateFinishedTrialError):
            continue  # another process got there first
        Retry(retries)(study, trial)
        failed.append(trial.number)
    return failed


def fail_lost_trials(study: Any, search: Search) -> list[int]:
    """Fail the running trials whose process is gone, and queue their retries: on this machine found
    by its pid, at once; on another, by Optuna's heartbeat (a database storage; a trial silent for
    ``HEARTBEAT[1]`` s). A journal file has no heartbeat: there only this machine's are found."""
    import optuna
    from optuna.trial import TrialState

    before = {t.number for t in running_trials(study)}
    failed = fail_dead_trials(study, search.retries)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)  # (its callback, Retry, queues them again)
    # (A trial that ended in between is not lost: those failed by a signal say so in a note.)
    stale = [
        t.number
        for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
        if t.number in before and not t.user_attrs.get("note")
    ]
    return sorted(set(failed) | set(stale))


def running_trials(study: Any) -> list[Any]:
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))


def watched(trial: Any, search: Search) -> bool:
    """Whether this process would see the death of the one running ``trial``: on this machine by its
    pid, on another only through a database's heartbeat (a journal file has none)."""
    return "://" in storage_url(search) or worker_of(trial)[0] == HOST


def where(trial: Any) -> str:
    host, pid = worker_of(trial)
    return f"trial {trial.number} (on {host or 'an unknown machine'}{f', pid {pid}' if pid else ''})"


class StartLock:
    """Held while a process counts the study's trials and starts the next one, so that the processes
    of this machine (a command's workers, or commands run twice on one study directory) never start
    more than ``n_trials`` between them; ``Trials`` lets go of it as soon as its trial is running. A
    file lock (flock): the kernel lets go of it for a process that dies holding it."""

    def __init__(self, search: Search):
        self.path = search.study_dir / ".start.lock"
        self.file: Any = None

    def __enter__(self) -> StartLock:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(self.path, "a")  # (closed by release: the lock goes with it)
        fcntl.flock(self.file, fcntl.LOCK_EX)
        return self

    def release(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None

    def __exit__(self, *exc: Any) -> None:
        self.release()


# --- running ---------------------------------------------------------------------------------------


def make_sampler(search: Search, seed: int) -> Any:
    import optuna

    spec = search.sampler if isinstance(search.sampler, Mapping) else {"name": search.sampler}
    kwargs = {k: v for k, v in spec.items() if k != "name"}
    kind = {"tpe": optuna.samplers.TPESampler, "random": optuna.samplers.RandomSampler}.get(spec["name"])
    if spec["name"] == "grid":  # the grid's points are queued in the study (queue_grid): nothing is drawn
        return optuna.samplers.RandomSampler(seed=seed)
    try:
        return kind(seed=seed, **kwargs)
    except TypeError as err:
        raise UsageError(f"sampler {spec['name']}: {err}") from None


def make_pruner(search: Search) -> Any:
    import optuna

    spec = search.pruner if isinstance(search.pruner, Mapping) else {"name": search.pruner}
    kwargs = {k: v for k, v in spec.items() if k != "name"}
    validations = validations_per_run(search.recipe)
    if spec["name"] == "median":
        # The first 5 trials run to the end; later ones are compared with them after a fifth of the
        # run's validations (early epochs are noisy, and every trial is slow there).
        defaults = {"n_startup_trials": 5, "n_warmup_steps": max(1, validations // 5)}
        kind = optuna.pruners.MedianPruner
    elif spec["name"] == "hyperband":
        # Successive halving in brackets that start comparing at different epochs (Li et al., 2018):
        # a trial goes on past a rung (1, 3, 9, ... validations in the first bracket) only while it is
        # in the best third of those of its bracket that reached it. The run's length is the most.
        # (A quarter, reduction_factor 4, is faster and lost the best trial by 0.009 once: README, "Tuning".)
        defaults = {"min_resource": max(1, validations // 10), "max_resource": validations, "reduction_factor": 3}
        kind = optuna.pruners.HyperbandPruner
    elif spec["name"] == "asha":
        # Asynchronous successive halving (Li et al., 2020): hyperband's first, most eager bracket alone;
        # every trial is first compared after the first rung (the same rungs, the same best third).
        defaults = {"min_resource": max(1, validations // 10), "reduction_factor": 3}
        kind = optuna.pruners.SuccessiveHalvingPruner
    else:
        defaults, kind = {}, optuna.pruners.NopPruner
    try:
        return kind(**{**defaults, **kwargs})
    except (TypeError, ValueError) as err:
        raise UsageError(f"pruner {spec['name']}: {err}") from None


def validations_per_run(recipe: dict[str, Any]) -> int:
    """How many validations a trial makes (the pruner's unit), as far as the recipe says."""
    trainer = recipe["trainer"]
    epochs = trainer.get("max_epochs") or 1000
    every = trainer.get("check_val_every_n_epoch") or 1
    per_epoch = trainer.get("val_check_interval")
    several = int(1 / per_epoch) if isinstance(per_epoch, float) and 0 < per_epoch < 1 else 1
    return max(1, epochs // every * several)


def open_study(search: Search, worker: int = 0, create: bool = False) -> Any:
    """The study in its storage, with this process's sampler (seeded from the recipe's seed, the worker
    and how many trials came before, so that no two processes draw alike) and pruner."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # zoo prints a line per trial itself
    storage = open_storage(search)
    url = storage_url(search)
    try:
        if create:
            study = optuna.create_study(
                study_name=search.study, storage=storage, direction=search.direction, load_if_exists=True
            )
            check_same_study(study, search, url)
        else:
            study = optuna.load_study(study_name=search.study, storage=storage)
        seed = search.recipe.get("seed_everything", 0) + 1000 * worker + len(study.get_trials(deepcopy=False))
        study.sampler = make_sampler(search, seed)
        study.pruner = make_pruner(search)
    except ZooError:
        raise
    except Exception as err:
        raise storage_error(url, err) from None
    return study


def queue_grid(study: Any, search: Search) -> None:
    """``--sampler grid``: every point of the grid queued in the study once, in a seeded random order.
    Each process takes the next queued trial from the storage, which hands each to one process only
    (Optuna's GridSampler draws points itself, and two processes drawing at once can run one twice)."""
    import itertools
    import random

    if study.user_attrs.get("zoo_grid_queued"):
        return
    study.set_user_attr("zoo_grid_queued", True)
    grid = search.space.grid()
    points = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    random.Random(search.recipe.get("seed_everything", 0)).shuffle(points)
    for point in points:
        study.enqueue_trial(point, skip_if_exists=True)


def check_same_study(study: Any, search: Search, url: str) -> None:
    """A study continues only with the settings it started with; the first process records them."""
    settings = {
        "zoo_model": search.model,
        "zoo_metric": search.space.metric,
        "zoo_space": plain({k: v for k, v in search.space.raw.items() if k in ("metric", "space")}),
        "zoo_recipe": plain({**search.recipe, "fixed": search.fixed}),
    }
    saved = study.user_attrs
    if "zoo_model" not in saved:
        for key, value in settings.items():
            study.set_user_attr(key, value)
        return
    differ = differences({k: saved.get(k) for k in settings}, settings)
    if differ:
        key, then, now = differ[0]
        more = f" and {len(differ) - 1} more" if len(differ) > 1 else ""
        raise UsageError(
            f"study {search.study} in {shown(url)} was started with other settings "
            f"({key.removeprefix('zoo_')}: {then!r} then, {now!r} now{more}); "
            f"run it with those to continue it, or give {argument('study')} another name"
        )


def counts(study: Any) -> dict[str, int]:
    from collections import Counter

    return dict(Counter(t.state.name.lower() for t in study.get_trials(deepcopy=False)))


def finished(study: Any) -> int:
    """What ``n_trials`` counts: trials that ran to their end or were pruned. A failed trial (its
    process killed or interrupted) does not count; its options run again (``Retry``)."""
    c = counts(study)
    return c.get("complete", 0) + c.get("pruned", 0)


def finished_and_running(study: Any) -> tuple[int, list[Any]]:
    """``finished`` and ``running_trials`` from one read of the storage. (Read one after the other, a
    trial that ends in between is in neither count, and a worker started one trial too many.)"""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    done = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    return done, [t for t in trials if t.state == TrialState.RUNNING]


class Trials:
    """The objective Optuna calls: one zoo run per trial."""

    def __init__(self, search: Search, study: Any):
        self.search, self.study = search, study
        self.starting: StartLock | None = None  # held by ``work`` until this trial is running

    def __call__(self, trial: Any) -> float:
        import optuna

        from zoo.callbacks import OptunaPruning

        # Set first: who runs this trial, so that its death on this machine is noticed (fail_dead_trials).
        trial.set_user_attr("worker", f"{HOST}:{os.getpid()}:{trial.number}")
        if self.starting is not None:  # the trial is in the storage, running: the others count it now
            self.starting.release()
            self.starting = None
        search = self.search
        for stale in ("note", "curves", "final", "size", "epochs", "verdict"):  # (a retry inherits its predecessor's)
            if stale in trial.user_attrs:
                trial.set_user_attr(stale, None)
        options = search.space.draw(trial)
        trial.set_user_attr("options", options)
        resume = self.resumable(trial)
        run_dir = resume or self.fresh_dir(trial.number)
        trial.set_user_attr("run_dir", str(run_dir))
        pruning = OptunaPruning(trial, search.space.metric)
        level = chance_level()
        result = None
        try:
            result = fit(
                search.model,
                config=search.recipe,
                overrides={**search.fixed, **options},
                callbacks=[pruning, level],
                run_dir=None if resume else run_dir,
                resume=resume,
                quiet=True,
                test=False,  # trials are compared on validation; the test split is for best.yaml's replay
            )
        except optuna.TrialPruned:
            self.record(trial, run_dir, chance=level.chance)
            raise
        except Stopped as stop:
            self.record(trial, run_dir, chance=level.chance)
            if stop.exit_code <= 128:  # a loss that became NaN: these options diverge; the trial is over
                trial.set_user_attr("note", "diverged: " + str(stop).split(";")[0])
                raise optuna.TrialPruned("diverged") from None
            self.interrupted(trial, stop.exit_code)
            raise
        except KeyboardInterrupt:
            self.record(trial, run_dir)
            self.interrupted(trial, 130)
            raise
        value = result.summary["val"].get(search.space.metric.removeprefix("val_"))
        self.record(trial, run_dir, result, value, level.chance)
        if value is None:
            trial.set_user_attr("note", f"{search.space.metric} is not a finite number")
            raise optuna.TrialPruned("no finite value")
        return value

    def interrupted(self, trial: Any, code: int) -> None:
        name = signal.Signals(code - 128).name if 128 < code < 128 + 65 else "a signal"
        trial.set_user_attr("note", f"interrupted by {name}")
        # Not the options' fault: they run again (continuing from this run's checkpoint, on this machine).
        frozen = self.study.get_trials(deepcopy=False)[trial.number]
        Retry(self.search.retries)(self.study, frozen, counts=False)

    def resumable(self, trial: Any) -> Path | None:
        """A retry on the machine where its predecessor ran goes on from that run's last checkpoint."""
        before = trial.user_attrs.get("retry_of")
        if before is None:
            return None
        previous = self.study.get_trials(deepcopy=False)[before]
        run_dir = previous.user_attrs.get("run_dir")
        host = str(previous.user_attrs.get("worker", "")).partition(":")[0]
        if host == HOST and run_dir and (Path(run_dir) / "checkpoints" / "last.ckpt").is_file():
            return Path(run_dir)
        return None

    def fresh_dir(self, number: int) -> Path:
        base = self.search.study_dir / f"trial-{number:03d}"
        for attempt in range(1, 100):
            candidate = base if attempt == 1 else base.with_name(f"{base.name}-{attempt}")
            try:
                candidate.mkdir(parents=True)
                return candidate
            except FileExistsError:  # left by an earlier study of the same name whose storage was deleted
                continue
        raise ZooError(f"could not create a directory for trial {number} in {self.search.study_dir}")

    def record(
        self, trial: Any, run_dir: Path, result: Any = None, value: float | None = None, chance: float | None = None
    ) -> None:
        """What the report needs, kept in the storage: the trial's curves and final figures, its size,
        and its verdict (decided now, once: ``verdict_at_end``)."""
        from zoo.records import read_csv

        if result is not None:
            rows = result.metrics
            trial.set_user_attr("size", sum(p.numel() for p in result.task.model.parameters()))
        elif (run_dir / "metrics.csv").is_file():
            rows = read_csv(run_dir / "metrics.csv")
        else:
            rows = []
        name = self.search.space.metric.removeprefix("val_")
        # (Accuracy too, whatever the search ranks by: the verdict's "near chance" reads it.)
        keep = ("epoch", "step", "train_loss", "val_loss", f"train_{name}", f"val_{name}", "train_acc", "val_acc")
        curves = [{k: round(float(row[k]), 6) for k in keep if row.get(k) is not None} for row in rows]
        trial.set_user_attr("curves", curves)
        trial.set_user_attr("epochs", int(rows[-1]["epoch"]) + 1 if rows else 0)
        trial.set_user_attr("verdict", verdict_at_end(self.study, self.search, curves, value, chance))


def chance_level() -> Any:
    """A Lightning callback that reads, as the run starts, the commonest class's share of the training
    data (``.chance``): the accuracy of a network that has learnt nothing but the commonest answer. One
    count, before training: nothing per step, no wait for a GPU. None for a task without classes; a
    data module without the usual tensors: one class in ``num_classes``."""
    import lightning as L
    import torch

    class ChanceLevel(L.Callback):
        chance: float | None = None

        def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
            classes = getattr(pl_module, "num_classes", None)
            if not classes:
                return
            tensors = getattr(getattr(trainer.datamodule, "train_set", None), "tensors", ())
            labels = tensors[1] if len(tensors) == 2 else None
            if labels is None or labels.dim() != 1 or labels.is_floating_point() or not len(labels):
                self.chance = 1.0 / classes
                return
            counts = torch.bincount(labels, minlength=classes)
            self.chance = float(counts.max() / counts.sum())

    return ChanceLevel()


def work(search: Search, worker: int, deadline: float | None, start: Any = None) -> None:
    """One process's part of the search: a trial at a time until the study holds ``n_trials`` (trials
    of other processes and machines count) or the deadline passes. When every trial left is running
    elsewhere it waits for them: one whose process dies is failed (``fail_lost_trials``) and runs again
    here. It does not wait for a trial whose process it cannot watch (``watched``): the study stays
    short, and ``tune`` says so. ``start``: a barrier the workers of one command pass together, so
    that each starts a trial (one that is up first does not take the cheap first trials alone)."""
    import logging

    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)  # the progress line says it all
    study = open_study(search, worker)
    objective = Trials(search, study)
    progress = Progress(search, worker)
    url = storage_url(search)
    awaited: list[int] = []
    if start is not None:
        with contextlib.suppress(threading.BrokenBarrierError):  # (broken: a worker died before it)
            start.wait()
    with keeping_data():  # every trial reads the same data: once per process
        while deadline is None or time.time() <= deadline:
            try:
                with StartLock(search) as lock:
                    for number in fail_lost_trials(study, search):
                        say(search, progress.prefix + lost_line(study, number))
                    done, running = finished_and_running(study)
                    if done >= search.n_trials:
                        return
                    if done + len(running) < search.n_trials:
                        objective.starting = lock  # (let go of once the trial is running)
                        study.optimize(objective, n_trials=1, callbacks=[progress], catch=())
                        continue
            except (ZooError, KeyboardInterrupt):
                raise
            except Exception as err:
                if type(err).__module__.startswith("sqlalchemy"):
                    raise storage_error(url, err) from None
                raise
            if not all(watched(t, search) for t in running):
                return
            if [t.number for t in running] != awaited:
                awaited = [t.number for t in running]
                say(
                    search,
                    f"{progress.prefix}waiting for trial {', '.join(map(str, awaited))} to end "
                    "(running in another process; if it dies, it runs again here)",
                )
            time.sleep(POLL_S)


def lost_line(study: Any, number: int) -> str:
    again = "queued to run again" if queued_again(study, number) else "not run again (its retries are used up)"
    return f"trial {number} was running in a process that is gone: failed, and {again}"


def queued_again(study: Any, number: int) -> bool:
    return any(t.user_attrs.get("retry_of") == number for t in study.get_trials(deepcopy=False))


class Progress:
    """A line per trial when it ends."""

    def __init__(self, search: Search, worker: int):
        self.search = search
        self.prefix = f"[worker {worker}] " if search.workers > 1 else ""

    def __call__(self, study: Any, trial: Any) -> None:
        rows = report_rows(study, self.search)
        if self.search.echo:
            row = next(r for r in rows if r["number"] == trial.number)
            print(self.prefix + progress_line(row, study, self.search, finished(study)), flush=True)
        write_trials_csv(rows, self.search)


def option_text(key: str, value: Any) -> str:
    return f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}"


def progress_line(row: dict[str, Any], study: Any, search: Search, done: int) -> str:
    metric = search.space.metric
    parts = [f"[{done}/{search.n_trials}] trial {row['number']} {row['state']}"]
    if row.get("pruned_at"):
        parts[0] += f" at epoch {row['pruned_at']}"
    if row.get("value") is not None:
        parts.append(f"{metric} {row['value']:.4f}")
    with contextlib.suppress(ValueError):
        best = study.best_trial
        parts.append(f"(best {best.value:.4f}, trial {best.number})")
    name = metric.removeprefix("val_")
    if row.get(f"train_{name}") is not None:
        parts.append(f"train_{name} {row[f'train_{name}']:.4f}")
    if row.get("gap") is not None:
        parts.append(f"gap {row['gap']:+.4f}")
    if row.get("verdict"):
        parts.append(row["verdict"])
    if row.get("duration_s") is not None:
        parts.append(f"{row['duration_s']:.1f} s")
    parts += [option_text(key, row.get(key)) for key in search.space.options]
    if row.get("note"):
        parts.append(f"({row['note']})")
    return "  ".join(parts)


def tune(search: Search) -> dict[str, Any]:
    """Run the search: its remaining trials, in ``search.workers`` processes on this machine, then
    write the report. Returns a summary once the study holds ``n_trials`` (or the timeout passed);
    raises ``Stopped`` when a signal stopped it (the study is left consistent: the trials that were
    running are failed and queued to run again), ``ZooError`` when it ended short of ``n_trials``."""
    study = open_study(search, create=True)
    url = storage_url(search)
    if name_of(search.sampler) == "grid":
        queue_grid(study, search)
    with StartLock(search):
        for number in fail_lost_trials(study, search):
            say(search, lost_line(study, number))
    done, running_now = finished_and_running(study)
    running = len(running_now)
    todo = max(0, search.n_trials - done - running)
    elsewhere = f", {running} running in other processes" if running else ""
    say(
        search,
        f"study {search.study} in {shown(url)}: {done} of {search.n_trials} trials done, {todo} to run{elsewhere}",
    )
    deadline = time.time() + search.timeout_s if search.timeout_s else None
    processes = min(search.workers, max(todo, 1))  # (none to start: one waits for those running elsewhere)
    stopped: Stopped | None = None
    killed = 0
    try:
        if done < search.n_trials and processes == 1:
            try:
                work(search, 0, deadline)
            except KeyboardInterrupt:
                raise Stopped("interrupted", 130) from None
        elif done < search.n_trials:
            killed = run_workers(search, processes, deadline, study)
    except Stopped as stop:
        stopped = stop
    finally:
        study = open_study(search)
        summary = write_report(study, search)
    if stopped is not None:
        if stopped.exit_code > 128:  # a signal: the trials it stopped are queued to run again
            name = signal.Signals(stopped.exit_code - 128).name if stopped.exit_code < 128 + 65 else "a signal"
            raise Stopped(
                f"interrupted by {name}: {summary['finished']} of {search.n_trials} trials done; the same command "
                "run again goes on where the study stopped (an interrupted trial from its last checkpoint)",
                stopped.exit_code,
            ) from None
        raise stopped
    if summary["finished"] < search.n_trials and (deadline is None or time.time() <= deadline):
        raise ZooError(short_study(study, search, summary["finished"], killed))
    return summary


def short_study(study: Any, search: Search, done: int, killed: int) -> str:
    """Why a search ended with fewer than ``n_trials`` (no timeout), and what to do."""
    head = f"the study holds {done} of {search.n_trials} trials"
    unwatched = [t for t in running_trials(study) if not watched(t, search)]
    if unwatched:
        return (
            f"{head}: {', '.join(map(where, unwatched))} is still running in a process this one cannot watch "
            "(a journal file has no heartbeat); the study is complete if it ends; if that process is gone, "
            "the same command run again on its machine runs it again"
        )
    who = "every worker was killed (above)" if killed else "the search stopped early"
    return f"{head}: {who}; the same command run again finishes it"


def say(search: Search, line: str) -> None:
    if search.echo:
        print(line, flush=True)


def worker_main(search: Search, worker: int, deadline: float | None, threads: int, start: Any) -> None:
    """A worker process (``--workers K``): in a session of its own, so that a Ctrl-C reaches it once,
    through the parent, and its exit status says how it ended. It stops when the parent is gone,
    however that ended (a kill -9 too), as on SIGTERM: its trial stops after the step, failed and
    queued to run again."""
    import multiprocessing
    from multiprocessing.connection import wait

    import torch

    os.setsid()
    parent = multiprocessing.parent_process()

    def stop_with_parent() -> None:
        wait([parent.sentinel])  # (ready when the parent's end of the pipe closes: it is gone)
        os.kill(os.getpid(), signal.SIGTERM)

    def interrupted(signum: int, frame: Any) -> None:
        # Outside a run (a run's own handler stops it after the step), wherever the worker is: a trial
        # being set up is failed and queued to run again (Trials), as one in training is.
        raise Stopped(f"interrupted by {signal.Signals(signum).name}", 128 + signum)

    signal.signal(signal.SIGTERM, interrupted)
    threading.Thread(target=stop_with_parent, name="zoo.tune parent watch", daemon=True).start()
    torch.set_num_threads(threads)
    code = 0
    try:
        work(search, worker, deadline, start)
    except Stopped as stop:
        code = stop.exit_code
        if code <= 128:
            print(f"zoo.tune: worker {worker}: error: {stop}", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        code = 130
    except ZooError as err:
        print(f"zoo.tune: worker {worker}: error: {err}", file=sys.stderr, flush=True)
        code = err.exit_code
    sys.stdout.flush()
    os._exit(code)  # (no interpreter shutdown: Lightning's and torch's atexit hooks have nothing to save)


def run_workers(search: Search, count: int, deadline: float | None, study: Any) -> int:
    """Start ``count`` worker processes and wait for them; returns how many were killed. A signal to
    this process is passed on to each of them once (they stop after their current step); a worker
    that dies leaves its trial failed and queued to run again, and the others make up for it: each
    runs trials until the study holds ``n_trials`` (``work``)."""
    import multiprocessing
    from multiprocessing.connection import wait

    cores = available_cores()
    threads = max(1, cores // count)
    context = multiprocessing.get_context("spawn")  # fresh interpreters: no forked torch or database state
    previous_omp = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = str(threads)
    start = context.Barrier(count)
    try:
        processes = [
            context.Process(target=worker_main, args=(search, k, deadline, threads, start), name=f"zoo.tune worker {k}")
            for k in range(count)
        ]
        for process in processes:
            process.start()
    finally:
        if previous_omp is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = previous_omp
    received: list[int] = []

    def forward(signum: int, frame: Any) -> None:
        received.append(signum)
        for process in processes:
            if process.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signum)

    handlers = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    errors: list[int] = []
    killed = 0
    try:
        waiting = {p.sentinel: p for p in processes}
        while waiting:
            for sentinel in wait(list(waiting)):
                process = waiting.pop(sentinel)
                process.join()
                start.abort()  # (one that ended before the others passed it: they go on without it)
                code = process.exitcode or 0
                if code < 0 or (code > 128 and not received):  # killed (SIGKILL), or stopped by a signal of its own
                    with StartLock(search):
                        fail_dead_trials(study, search.retries)
                    how = "killed" if code < 0 else "stopped"
                    print(
                        f"zoo.tune: worker {processes.index(process)} (pid {process.pid}) was {how} by "
                        f"{signal.Signals(abs(code) % 128).name}{trial_lost_by(study, process.pid)}",
                        file=sys.stderr,
                        flush=True,
                    )
                    killed += 1
                elif code:
                    errors.append(code)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    if received:
        raise Stopped(f"interrupted by {signal.Signals(received[0]).name}", 128 + received[0])
    if errors:
        if 2 in errors:
            raise UsageError("a worker stopped on a usage error (above)")
        raise Stopped(
            f"{len(errors)} of {count} workers stopped on an error (above); run the same command again to finish "
            "the study",
            max(errors),
        )
    return killed


def trial_lost_by(study: Any, pid: int) -> str:
    """``; its trial N failed and ...`` for a worker that died in the middle of a trial, else nothing."""
    mine = [t for t in study.get_trials(deepcopy=False) if worker_of(t) == (HOST, pid)]
    if not mine or mine[-1].state.name != "FAIL":
        return ""
    number = mine[-1].number
    again = "is queued to run again" if queued_again(study, number) else "is not run again (its retries are used up)"
    return f"; its trial {number} failed and {again}"


# --- the report --------------------------------------------------------------------------------------


def final(curves: list[dict[str, Any]], name: str) -> tuple[float, float] | None:
    """``(train, val)`` of metric ``name`` at the last validation that has both."""
    both = [(r[f"train_{name}"], r[f"val_{name}"]) for r in curves if f"train_{name}" in r and f"val_{name}" in r]
    return both[-1] if both else None


def verdict_metric(curves: list[dict[str, Any]], search: Search) -> str:
    name = search.space.metric.removeprefix("val_")
    return name if final(curves, name) is not None else "loss"


def margin(value: float, name: str, mode: str) -> float:
    if mode == "max" and 0.0 <= value <= 1.0:
        return ACC_MARGIN
    return max(RELATIVE_MARGIN * abs(value), LOSS_MARGIN if name == "loss" else 0.0)


def judge(
    curves: list[dict[str, Any]], best: list[dict[str, Any]], name: str, mode: str, chance: float | None = None
) -> str:
    """under-fitting, over-fitting or fine, from a trial's own curves at its last epoch, the commonest
    class's share of its training data (``chance``; None without classes) and the best trial's curves
    (how far training could get). The rule is written out in the README ("Tuning")."""
    last = final(curves, name)
    if last is None:
        return ""
    train, val = last
    # Near chance a network has learnt (almost) nothing, whatever the other trials did; its gap, if
    # any, is noise: under-fitting.
    accuracy = final(curves, "acc")
    if chance is not None and accuracy is not None and accuracy[0] < chance + NEAR_CHANCE * (1.0 - chance):
        return "under-fitting"
    # Validation far behind training: over-fitting, whatever the best trial did.
    behind = train - val if mode == "max" else val - train
    if behind > margin(train, name, mode):
        return "over-fitting"
    # Training behind what the best trial's training reached at the same point (a pruned trial: at the
    # epoch it was stopped): too weak, or trained too briefly.
    reference = [r[f"train_{name}"] for r in best if f"train_{name}" in r]
    trains = [r[f"train_{name}"] for r in curves if f"train_{name}" in r]
    if reference and trains:
        ref = reference[min(len(trains), len(reference)) - 1]
        short = ref - train if mode == "max" else train - ref
        if short > margin(ref, name, mode):
            return "under-fitting"
    losses = [(r["train_loss"], r["val_loss"]) for r in curves if "train_loss" in r and "val_loss" in r]
    if losses:
        low = min(range(len(losses)), key=lambda i: losses[i][1])
        rise = losses[-1][1] - losses[low][1]
        if rise > max(RISE_RELATIVE * losses[low][1], LOSS_MARGIN) and losses[-1][0] < losses[low][0]:
            return "over-fitting"
    return "fine"


def verdict_at_end(
    study: Any, search: Search, curves: list[dict[str, Any]], value: float | None, chance: float | None
) -> str:
    """A trial's verdict, decided once, as it ends: against the best complete trial so far, or itself
    if it is better (``value``: its figure, None unless it completed). Its progress line and
    ``trials.csv`` both show this one: a better trial later does not change it."""
    name = verdict_metric(curves, search)
    mode = search.mode if name != "loss" else "min"
    best = None
    with contextlib.suppress(ValueError):
        best = study.best_trial
    reference = (best.user_attrs.get("curves") or []) if best is not None else []
    if value is not None and (best is None or (value > best.value if search.mode == "max" else value < best.value)):
        reference = curves
    return judge(curves, reference, name, mode, chance)


def report_rows(study: Any, search: Search) -> list[dict[str, Any]]:
    """One row per trial, as ``trials.csv`` has them: ``value`` is the metric the search ranks by (at
    the trial's best checkpoint); the train and validation figures and their gap are the last epoch's."""
    try:
        best = study.best_trial
    except ValueError:
        best = None
    best_curves = (best.user_attrs.get("curves") or []) if best else []
    rows = []
    for t in study.get_trials(deepcopy=False):
        curves = t.user_attrs.get("curves") or []
        name = verdict_metric(curves, search)
        mode = search.mode if name != "loss" else "min"
        options = t.user_attrs.get("options") or {}
        state = t.state.name.lower()
        row: dict[str, Any] = {"number": t.number, "state": state}
        # (Decided as the trial ended; a study from before that was kept is judged against its best now.)
        verdict = t.user_attrs["verdict"] if "verdict" in t.user_attrs else judge(curves, best_curves, name, mode)
        row["verdict"] = verdict if state in ("complete", "pruned") else ""
        row["value"] = t.value if state == "complete" else None
        for key in search.space.options:
            row[key] = json.dumps(options[key]) if isinstance(options.get(key), list) else options.get(key)
        row["epochs"] = t.user_attrs.get("epochs")
        note = t.user_attrs.get("note") or ""
        row["pruned_at"] = row["epochs"] if state == "pruned" and not note else None
        last = final(curves, name)
        # How far validation is behind training (positive: behind), in the metric's own direction.
        gap = None if last is None else round(last[0] - last[1] if mode == "max" else last[1] - last[0], 6)
        for figure in dict.fromkeys([search.space.metric.removeprefix("val_"), "loss"]):
            # (A trial pruned at its first validation has no training figures yet: Lightning ends the
            # training epoch after validating. Its validation figures still get their columns.)
            vals = [r[f"val_{figure}"] for r in curves if f"val_{figure}" in r]
            row[f"train_{figure}"], row[f"val_{figure}"] = final(curves, figure) or (None, vals[-1] if vals else None)
            row.setdefault("gap", gap)  # (after the search's metric)
        row["weights"] = t.user_attrs.get("size")
        start, end = t.datetime_start, t.datetime_complete
        row["duration_s"] = round((end - start).total_seconds(), 1) if start and end else None
        row["retry_of"] = t.user_attrs.get("retry_of")
        if not note and state == "fail":
            note = "its process ended in the middle (killed?)"
        row["note"] = note or {"running": "running", "waiting": "queued"}.get(state, "")
        row["run_dir"] = t.user_attrs.get("run_dir")
        rows.append(row)
    return rows


def write_trials_csv(rows: list[dict[str, Any]], search: Search) -> None:
    import csv
    import io

    from zoo.checkpoint import atomic_write_text
    from zoo.records import spreadsheet_safe

    columns = list(dict.fromkeys(key for row in rows for key in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    # (cells from the search space's choices and the user's paths: escaped against formula injection)
    writer.writerows({k: "" if v is None else spreadsheet_safe(v) for k, v in row.items()} for row in rows)
    atomic_write_text(search.study_dir / "trials.csv", out.getvalue())


def best_recipe(search: Search, options: Mapping[str, Any]) -> dict[str, Any]:
    return resolve_recipe(search.model, [search.recipe, nested({**search.fixed, **options})])


def write_report(study: Any, search: Search) -> dict[str, Any]:
    """``trials.csv``, ``best.yaml`` and the pictures, from what the storage holds; returns a summary."""
    from zoo.checkpoint import atomic_write_text

    rows = report_rows(study, search)
    write_trials_csv(rows, search)
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    summary: dict[str, Any] = {
        "study": search.study,
        "study_dir": str(search.study_dir),
        "storage": shown(storage_url(search)),
        "metric": search.space.metric,
        "n_trials": search.n_trials,
        "finished": finished(study),
        **{state: n for state, n in sorted(counts(study).items())},
        "best": None,
    }
    if complete:
        best = study.best_trial
        options = best.user_attrs.get("options") or {}
        recipe = best_recipe(search, options)
        named = f" (here: {', '.join(recipe['imports'])})" if recipe.get("imports") else ""
        header = (
            f"# The best trial of study {search.study}: trial {best.number}, {search.space.metric} {best.value:.4f}\n"
            f"# ({search.space.source}; {len(complete)} complete trials). Replay it:\n"
            f"#   python -m zoo.train {search.model} --config best.yaml\n"
            f"# Loading a recipe runs the Python code its imports: name{named}, even with\n"
            "# --print_config: read a recipe you were sent, and what it imports, before you load it.\n"
        )
        # (As text: a column named size_µm stays that, not "size_\xB5m".)
        text = yaml.safe_dump(recipe, sort_keys=False, default_flow_style=False, width=100, allow_unicode=True)
        atomic_write_text(search.study_dir / "best.yaml", header + text)
        summary["best"] = {
            "number": best.number,
            "value": best.value,
            "options": options,
            "run_dir": best.user_attrs.get("run_dir"),
        }
    write_pictures(study, search, rows)
    return summary


def write_pictures(study: Any, search: Search, rows: list[dict[str, Any]]) -> None:
    import matplotlib.pyplot as plt
    import optuna
    from optuna.visualization.matplotlib import plot_optimization_history, plot_param_importances

    from zoo import plots

    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if not complete:
        return
    title = f"{search.model} on {search.recipe['data']['name']}, study {search.study}"
    # (Optuna's plots switch matplotlib to its ggplot style for good: rc_context puts zoo's back after.)
    with warnings.catch_warnings(), plt.rc_context():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.simplefilter("ignore", UserWarning)
        ax = plot_optimization_history(study, target_name=search.space.metric)
        ax.set_title(f"{title}: {search.space.metric} per trial")
        ax.figure.set_size_inches(8, 4.5)
        ax.figure.tight_layout()
        plots.save(ax.figure, search.study_dir / "history.png", dpi=100)
        plt.close(ax.figure)
        if len(complete) >= 2 and any(len({str(t.params.get(p)) for t in complete}) > 1 for p in complete[0].params):
            ax = plot_param_importances(study, target_name=search.space.metric)
            ax.set_title("", loc="left")
            ax.set_title(f"{title}\nwhich options mattered for {search.space.metric}")
            ax.figure.set_size_inches(8, 1.5 + 0.5 * len(complete[0].params))
            ax.figure.tight_layout()
            plots.save(ax.figure, search.study_dir / "importances.png", dpi=100)
            plt.close(ax.figure)
    ordered = sorted(complete, key=lambda t: t.value, reverse=search.mode == "max")
    by_number = {r["number"]: r for r in rows}
    panels = []
    for label, t in (("best", ordered[0]), ("worst", ordered[-1])):
        row = by_number[t.number]
        # The options wrapped to the panel's width: on one line they ran into the next panel's title.
        options = textwrap.fill(", ".join(option_text(k, row.get(k)) for k in search.space.options), 70)
        heading = f"{label}: trial {t.number}, {search.space.metric} {t.value:.4f} ({row['verdict']})\n{options}"
        panels.append((heading, t.user_attrs.get("curves") or []))
    name = verdict_metric(ordered[0].user_attrs.get("curves") or [], search)
    metrics = ["loss", name] if name != "loss" else ["loss"]
    plots.plot_curves_side_by_side(panels, metrics, search.study_dir / "best_vs_worst.png", title)
    sized = [r for r in rows if r["state"] == "complete" and r.get("weights") and r.get(f"train_{name}") is not None]
    if name != "loss" and len({r["weights"] for r in sized}) >= 3:
        plots.plot_capacity(
            [(r["weights"], r[f"train_{name}"], r[f"val_{name}"], r["train_loss"], r["val_loss"]) for r in sized],
            name,
            search.study_dir / "capacity.png",
            title,
        )


__all__ = ["Search", "Space", "load_space", "parse_space", "prepare", "tune", "list_spaces"]
