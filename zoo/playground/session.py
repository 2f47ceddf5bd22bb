"""One page's training session: zoo's MLP, classification task and Playground data, built by zoo and
stepped in a thread of its own, and the snapshots the page draws.

The page's settings are zoo options by their command-line names (``{"model.hidden": [8, 8],
"optimizer.lr": 0.03, ...}``), so zoo's own option checker validates them (``zoo.resolve_recipe``,
then the constructors, built as ``zoo.build`` builds them), and the same settings are the
``python -m zoo.train mlp`` command that trains the configuration again.

Why the task's own step in a loop, not Lightning's Trainer: a Playground frame is one epoch of 25
small batches, and the page needs ten or more frames a second. Lightning's loop costs about 1.5-2.4 ms
a step on this project's CPU (README: "Speed of the shared loop") on top of a step of about 1 ms here,
and starting ``Trainer.fit`` again after each change of the network takes longer than the whole
latency budget (150 ms). So the session calls what ``zoo.train``'s steps call: the data module's
seeded batch order (``train_dataloader``), the task's ``training_objective`` (zoo's loss plus the
model's L1/L2 penalty), zoo's optimizer and schedule built from the same recipe sections, in the same
order, so that a configuration trained from its start ends with the same weights as ``zoo.train``
trains (tested). What it leaves out is what a page does not need: metrics files, checkpoints, the
validation pass and per-batch metric accumulation (the page measures whole splits at each frame).
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import shlex
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

import zoo
from zoo.config import dump_yaml
from zoo.data.tabular import PLAYGROUND_FEATURES
from zoo.errors import UsageError, ZooError
from zoo.optim import build_optimizer, build_scheduler, check_optimization
from zoo.training import prepare

MODEL = "mlp"
PLAYGROUND_SETS = ("circle", "gauss", "spiral", "xor")
SECTIONS = ("model", "data", "task", "optimizer")  # what the page sets; scheduler and trainer are fixed here
# Settings that change while training goes on, from the next step, as in the Playground; changing
# anything else starts again (a new network, new data) and pauses.
LIVE = ("optimizer.lr", "model.l1", "model.l2")

# What one page may ask for, so that one tab cannot take the machine.
MAX_POINTS = 2000
MAX_LAYERS = 8
MAX_NEURONS = 32
MAX_EPOCHS_PER_FRAME = 20
MAX_STEPS_PER_FRAME = 2000  # a frame trains whole epochs, as many as fit (at least one epoch)
# Seconds of training a page's thread does before it lets a waiting page's thread take its turn (Turns).
# About one frame of the Playground's start (25 steps of about 0.7 ms): a playing page still draws a frame
# in a turn or two, and a turn ends within 20 ms of training plus a snapshot (8-15 ms), so with the
# default 4 pages a change waits for at most 3 others' turns, about 100 ms, within the 150 ms it may take.
TURN_SECONDS = 0.02
GRID = 64  # the decision surface: GRID x GRID cells over the plane
NEURON_GRID = 20  # each neuron's picture

# Where the page starts without a recipe: the TensorFlow Playground's own start (circle, 4-2 tanh,
# plain SGD at 0.03, batch 10, half the 500 points for testing), on zoo's MLP.
PLAYGROUND_START: dict[str, Any] = {
    "data.name": "circle",
    "data.n_samples": 500,
    "data.noise": 0.0,
    "data.test_split": 0.5,
    "data.batch_size": 10,
    "data.features": ["x1", "x2"],
    "model.hidden": [4, 2],
    "model.activation": "tanh",
    "model.l1": 0.0,
    "model.l2": 0.0,
    "optimizer.name": "sgd",
    "optimizer.lr": 0.03,
    "seed_everything": 0,
}

# Building seeds torch's global random stream and draws the initial weights from it: one build at a time.
BUILD_LOCK = threading.Lock()


def split_settings(settings: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The page's settings as ``(config layer, overrides)`` for ``zoo.resolve_recipe``: the seed is a
    top-level recipe key, the rest are ``section.key`` overrides; the rate is constant (as the
    Playground's), apart from Keras' ``optimizer.decay`` and a recipe's warm-up."""
    overrides: dict[str, Any] = {}
    layer: dict[str, Any] = {}
    for key, value in settings.items():
        section = key.partition(".")[0]
        if key == "seed_everything":
            layer["seed_everything"] = value
        elif section in ("scheduler", "trainer", "early_stopping", "checkpoint"):
            raise UsageError(
                f"{key}: the playground sets only model, data, task and optimizer options and the seed "
                "(it trains at a constant rate until you pause; zoo.train takes the rest)"
            )
        else:
            overrides[key] = value
    overrides["scheduler.name"] = "constant"
    return layer, overrides


def resolve(settings: dict[str, Any], base: Sequence[Any] = ()) -> dict[str, Any]:
    """The checked recipe for the page's settings on top of ``base`` (the ``--config`` recipes), or
    a UsageError naming the option: zoo's checker first, then the playground's own bounds."""
    layer, overrides = split_settings(settings)
    if overrides.get("data.name", PLAYGROUND_SETS[0]) not in PLAYGROUND_SETS:  # (before its options are checked)
        raise UsageError(not_a_playground_set(overrides["data.name"]))
    cfg = zoo.resolve_recipe(MODEL, [*base, layer] if layer else list(base), overrides)
    check_bounds(cfg)
    return cfg


def not_a_playground_set(name: Any) -> str:
    return f"data.name {name!r}: the playground trains on the Playground's sets, {', '.join(PLAYGROUND_SETS)}"


def check_bounds(cfg: dict[str, Any]) -> None:
    data, model, task = cfg["data"], cfg["model"], cfg["task"]
    if data["name"] not in PLAYGROUND_SETS:
        raise UsageError(not_a_playground_set(data["name"]))
    if task["name"] != "classification":
        raise UsageError(f"task.name {task['name']!r}: the playground's task is classification")
    if task.get("compile"):
        raise UsageError("task.compile: the playground does not compile its network (nothing to gain at this size)")
    if data["n_samples"] > MAX_POINTS:
        raise UsageError(f"data.n_samples {data['n_samples']}: the playground takes at most {MAX_POINTS} points")
    hidden = list(model["hidden"])
    if len(hidden) > MAX_LAYERS:
        raise UsageError(f"model.hidden has {len(hidden)} layers: the playground draws at most {MAX_LAYERS}")
    if any(width > MAX_NEURONS for width in hidden):
        raise UsageError(f"model.hidden {hidden}: the playground draws at most {MAX_NEURONS} neurons a layer")
    if model["batch_norm"] and data["batch_size"] < 2:
        raise UsageError(
            "batch normalisation needs at least 2 samples in a training batch: "
            "raise data.batch_size or turn model.batch_norm off"
        )


def device_for(cfg: dict[str, Any]) -> torch.device:
    """Where the recipe's ``trainer.accelerator`` would train: a GPU when there is one and the recipe
    allows it ("auto", as Lightning's default, or "gpu"/"cuda"), else the CPU."""
    accelerator = str(cfg["trainer"].get("accelerator") or "auto")
    if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        return torch.device("cuda")
    if accelerator in ("gpu", "cuda"):
        raise UsageError(f"trainer.accelerator {accelerator!r}: this machine has no GPU")
    return torch.device("cpu")


@dataclass
class Run:
    """What one configuration trains: zoo's pieces and where the training stands."""

    settings: dict[str, Any]
    cfg: dict[str, Any]
    datamodule: Any
    task: Any
    optimizer: Any
    scheduler: Any
    loader: Any
    device: torch.device
    batches: Any = None  # the current epoch's batches, None between epochs
    epoch: int = 0
    step: int = 0
    half: float = 6.0  # the plane shown: [-half, half]^2
    grids: tuple[torch.Tensor, torch.Tensor] | None = None  # its cells' features: surface, neuron pictures


def recipe_key(cfg: dict[str, Any]) -> dict[str, Any]:
    """The recipe without the settings that change live: equal keys train the same network on the same data."""
    key = {s: dict(cfg[s]) for s in SECTIONS} | {"seed_everything": cfg.get("seed_everything")}
    for option in LIVE:
        section, _, name = option.partition(".")
        key[section].pop(name, None)
    return key


def build(cfg: dict[str, Any], settings: dict[str, Any]) -> Run:
    """A checked recipe built as ``zoo.build`` and ``zoo.fit`` build it (seeded, the data set up, the task
    sized by it), then its optimizer and schedule as ``zoo.train``'s Trainer builds them."""
    device = device_for(cfg)
    with BUILD_LOCK:
        datamodule, task = prepare(MODEL, cfg)  # zoo.build's own step once the recipe is resolved
    task.to(device).train()
    optimizer, decay = build_optimizer(task.parameters(), cfg["optimizer"])
    loader = datamodule.train_dataloader()
    scheduler = build_scheduler(
        optimizer,
        cfg["scheduler"],
        decay=decay,
        total_steps=math.inf,
        steps_per_epoch=len(loader),
        mode_of=task.metric_mode,
    )["scheduler"]
    run = Run(dict(settings), cfg, datamodule, task, optimizer, scheduler, loader, device, half=extent(datamodule))
    run.grids = tuple(datamodule.featurize(plane_grid(size, run.half)).to(device) for size in (GRID, NEURON_GRID))
    return run


def check_live(run: Run, cfg: dict[str, Any]) -> None:
    """A new rate and penalties checked by the classes that take them (torch's optimizer, zoo's MLP),
    without touching the running network or torch's random stream."""
    check_optimization(cfg["optimizer"], cfg["scheduler"])
    kwargs = dict(run.task.hparams.model_kwargs) | {"l1": cfg["model"]["l1"], "l2": cfg["model"]["l2"]}
    with torch.random.fork_rng(devices=[]):
        try:
            zoo.get_model(MODEL, **kwargs)
        except ValueError as err:
            raise UsageError(f"model: {err}") from None


def train_step(run: Run) -> None:
    """One optimizer step on the next batch, or the end of an epoch: what Lightning's automatic
    optimization does with zoo's task for one batch (objective, backward, step, schedule)."""
    if run.batches is None:
        run.loader.sampler.set_epoch(run.epoch)  # the same seeded order as zoo.train's epoch
        run.batches = iter(run.loader)
    batch = next(run.batches, None)
    if batch is None:
        run.batches, run.epoch = None, run.epoch + 1
        return
    x, y = (t.to(run.device, non_blocking=True) for t in batch)
    objective = run.task.training_objective((x, y))[0]
    run.optimizer.zero_grad(set_to_none=True)
    objective.backward()
    run.optimizer.step()
    run.scheduler.step()
    run.step += 1


def set_live(run: Run, cfg: dict[str, Any]) -> None:
    """Apply the settings that change while training: the learning rate (through the schedule, whose
    warm-up and decay factors go on applying) and the L1/L2 rates the model's penalty reads."""
    lr = float(cfg["optimizer"]["lr"])
    run.scheduler.base_lrs = [lr] * len(run.optimizer.param_groups)
    for group, factor in zip(run.optimizer.param_groups, run.scheduler.lr_lambdas):
        group["lr"] = lr * factor(run.scheduler.last_epoch)
        group["initial_lr"] = lr
    run.task.model.l1, run.task.model.l2 = float(cfg["model"]["l1"]), float(cfg["model"]["l2"])
    run.cfg = cfg


# --- what the page draws -------------------------------------------------------------------------


def extent(datamodule: Any) -> float:
    """Half the width of the square of the plane the page shows: the Playground's [-6, 6], wider when
    points lie outside it."""
    points = torch.cat([s.tensors[0] for s in datamodule.plane.values()])
    return float(max(6.0, math.ceil(points.abs().max().item() * 1.05)))


def plane_grid(size: int, half: float) -> torch.Tensor:
    """Cell centres of a size x size grid over [-half, half]^2, row by row from the top (x2 = +half)."""
    step = 2 * half / size
    centres = torch.arange(size, dtype=torch.float32) * step - half + step / 2
    x1, x2 = torch.meshgrid(centres, centres.flip(0), indexing="xy")
    return torch.stack([x1.reshape(-1), x2.reshape(-1)], 1)


def activations(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The MLP's hidden activation modules, one per hidden layer (after its Dense and batch norm):
    what each neuron computes is their output."""
    found, after_dense = [], False
    for module in model.layers:
        if isinstance(module, torch.nn.Linear):
            after_dense = True
        elif after_dense and not isinstance(module, (torch.nn.BatchNorm1d, torch.nn.Dropout)):
            found.append(module)
            after_dense = False
    return found


def quantize(maps: torch.Tensor) -> tuple[bytes, list[float]]:
    """Maps (N, cells) as bytes, each scaled by its own largest magnitude: 0 is -scale, 255 is +scale."""
    scales = maps.abs().amax(1).clamp_min(1e-6)
    q = ((maps / scales[:, None] + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    return q.cpu().numpy().tobytes(), [round(float(s), 5) for s in scales]


def input_maps(run: Run) -> dict[str, Any]:
    """Every Playground feature over the plane, used or not, for the page's feature column (sent when a
    run starts), in ``PLAYGROUND_FEATURES``' order: NEURON_GRID^2 bytes each, base64."""
    grid = plane_grid(NEURON_GRID, run.half)
    maps = torch.stack([feature(grid) for feature in PLAYGROUND_FEATURES.values()])
    data, scales = quantize(maps)
    return {"grid": NEURON_GRID, "maps": base64.b64encode(data).decode(), "scales": scales}


def evaluate(run: Run, split: str) -> tuple[float, float]:
    """(loss, accuracy) of the current weights over a whole split, zoo's loss without the penalty."""
    x, y = (t.to(run.device) for t in getattr(run.datamodule, f"{split}_set").tensors)
    loss, logits, _ = run.task.loss_and_outputs((x, y))
    return float(loss), float((logits.argmax(1) == y).float().mean())


@torch.no_grad()
def snapshot(run: Run, **header: Any) -> tuple[dict[str, Any], bytes]:
    """One frame for the page, binary: a uint32 header length, the header (JSON: epoch, losses,
    learning rate, layer widths, each neuron map's scale), padding to 4 bytes, then float32 weights
    (each Dense layer's matrix row by row; the output as one node, class 1's logit minus class 0's),
    the decision surface (GRID x GRID bytes, P(class 1) x 255) and the neuron maps (NEURON_GRID^2
    bytes each)."""
    task, model = run.task, run.task.model
    model.eval()  # (the model alone: only its dropout and batch norm differ; the task holds many metric modules)
    try:
        train_loss, train_acc = evaluate(run, "train")
        test_loss, test_acc = evaluate(run, "test")
        surface = task(run.grids[0]).softmax(1)[:, 1]
        outputs: list[torch.Tensor] = []
        hooks = [m.register_forward_hook(lambda _m, _i, out: outputs.append(out)) for m in activations(model)]
        try:
            task(run.grids[1])
        finally:
            for hook in hooks:
                hook.remove()
    finally:
        model.train()
    maps = torch.cat([out.T for out in outputs]) if outputs else torch.zeros(0, NEURON_GRID**2)
    neuron_bytes, scales = quantize(maps) if len(maps) else (b"", [])
    dense = task.model.dense_layers()
    weights = [d.weight.reshape(-1) for d in dense[:-1]] + [dense[-1].weight[1] - dense[-1].weight[0]]
    weight_bytes = torch.cat(weights).float().cpu().numpy().tobytes()
    head = {
        "epoch": run.epoch,
        "step": run.step,
        "train_loss": train_loss,
        "test_loss": test_loss,
        "train_acc": train_acc,
        "test_acc": test_acc,
        "lr": run.optimizer.param_groups[0]["lr"],
        "widths": [dense[0].in_features, *(d.out_features for d in dense[:-1]), 1],
        "grid": GRID,
        "neuron_grid": NEURON_GRID,
        "scales": scales,
        **header,
    }
    text = json.dumps(head, allow_nan=True).encode()
    text += b" " * (-(4 + len(text)) % 4)
    surface_bytes = (surface * 255).round().to(torch.uint8).cpu().numpy().tobytes()
    return head, struct.pack("<I", len(text)) + text + weight_bytes + surface_bytes + neuron_bytes


def state(run: Run) -> dict[str, Any]:
    """What the page needs when a run starts: the settings in force, the recipe they resolve to, the
    points (in the plane) and the input features' pictures."""
    data = run.datamodule
    points = {
        split: [[round(a, 3), round(b, 3), int(c)] for (a, b), c in zip(s.tensors[0].tolist(), s.tensors[1].tolist())]
        for split, s in data.plane.items()
        if split in ("train", "test")
    }
    return {
        "type": "state",
        "settings": run.settings,
        "recipe": {s: run.cfg[s] for s in SECTIONS} | {"seed_everything": run.cfg.get("seed_everything")},
        "features": list(data.features),
        "extent": run.half,
        "points": points,
        "inputs": input_maps(run),
        "steps_per_epoch": len(run.loader),
        "device": str(run.device),
    }


# --- the command and recipe that train the same configuration ------------------------------------------


def cli_value(value: Any) -> str:
    """A value as zoo's command line writes it (YAML flow style): true, null, [8,8], 0.03."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(cli_value(v) for v in value) + "]"
    return repr(value) if isinstance(value, float) else str(value)


def command(cfg: dict[str, Any], base: Sequence[str], epochs: int) -> str:
    """``python -m zoo.train mlp ...`` with the options whose value differs from what the recipes
    (``mlp``'s own, then ``base``) give, for ``epochs`` epochs at a constant rate."""
    names = {f"{s}.name": cfg[s]["name"] for s in ("data", "task", "optimizer", "scheduler")}
    given = zoo.resolve_recipe(MODEL, list(base))
    chosen = {k: v for k, v in names.items() if given[k.split(".")[0]]["name"] != v}
    start = zoo.resolve_recipe(MODEL, list(base), chosen)
    options = dict(chosen)
    for section in (*SECTIONS, "scheduler"):
        for key, value in cfg[section].items():
            if key != "name" and start[section].get(key) != value:
                options[f"{section}.{key}"] = value
    parts = ["python", "-m", "zoo.train", MODEL]
    for recipe in base:
        parts += ["--config", str(recipe)]
    for key, value in options.items():
        parts += [f"--{key}", cli_value(value)]
    if cfg.get("seed_everything") != start.get("seed_everything"):
        parts += ["--seed_everything", str(cfg["seed_everything"])]
    parts += ["--trainer.max_epochs", str(max(1, epochs))]
    return shlex.join(parts)


def recipe_yaml(cfg: dict[str, Any], epochs: int) -> str:
    """A recipe file with the configuration's sections in full: ``python -m zoo.train mlp --config FILE``."""
    recipe = {s: cfg[s] for s in (*SECTIONS, "scheduler")}
    recipe |= {"trainer": {"max_epochs": max(1, epochs)}, "seed_everything": cfg.get("seed_everything", 0)}
    return f"# zoo.playground, after {epochs} epochs: python -m zoo.train mlp --config THIS_FILE\n" + dump_yaml(recipe)


# --- the session ----------------------------------------------------------------------------------


class Turns:
    """The sessions' threads take turns, first come first served: one works at a time (handles one
    message, or trains for ``seconds``, or draws a snapshot), then the next in line.

    Why: Python runs one thread's Python code at a time, and a thread that spends long stretches in
    Python (one page answering a flood of ``recipe`` messages, say) leaves another that calls torch a
    hundred times a step (each call gives the interpreter up and waits to get it back) waiting each
    time: one page flooding took another from 128 frames a second to 4 on 2 cores, and from 74 to 0.3
    on 16 (scripts/bench_playground.py --flood). In turns each page gets its share, whatever the others
    ask for, and nothing runs less in all: the threads could not run Python side by side anyway (1, 2
    and 4 pages training drew 69, 59 and 60 frames a second in all in turns, 63, 64 and 51 before).
    """

    def __init__(self, seconds: float = TURN_SECONDS):
        self.seconds = seconds
        self._cond = threading.Condition()
        self._line: deque[object] = deque()  # who works (the first), then who waits, in order
        self.taken: list[object] | None = None  # a test sets a list: who took each turn, in order

    @contextlib.contextmanager
    def turn(self, who: object) -> Iterator[None]:
        self._take(who)
        try:
            yield
        finally:
            self._give(who)

    def pass_on(self, who: object) -> None:
        """During a turn: to the back of the line, if anyone waits."""
        if len(self._line) > 1:  # (read without the lock: the worst is one pass late or early)
            self._give(who)
            self._take(who)

    def _take(self, who: object) -> None:
        with self._cond:
            self._line.append(who)
            while self._line[0] is not who:
                self._cond.wait()
            if self.taken is not None:
                self.taken.append(who)

    def _give(self, who: object) -> None:
        with self._cond:
            self._line.remove(who)  # the first: only the thread whose turn it is gives it
            self._cond.notify_all()


def explain(err: BaseException) -> str:
    """One line for the page."""
    if isinstance(err, ZooError):
        return str(err)
    if isinstance(err, ValueError) and "Expected more than 1 value per channel" in str(err):
        return "batch normalisation needs at least 2 samples in a training batch: raise data.batch_size"
    return f"{type(err).__name__}: {err}"[:500]


class Session:
    """One page's training, in a thread of its own that ends with ``close()``.

    ``send(message)`` takes a ``dict`` (sent as JSON text) or ``bytes`` (a snapshot, which a newer one
    may replace before it is sent), called from this thread. Messages arrive with ``post()`` from any
    thread; the newest settings replace ones not yet applied, and the thread looks for messages between
    steps, so that a change reaches a frame within a step. Every message to the page carries
    ``applied``: the number (``seq``) of the last message from the page handled before it. The thread
    takes ``turns`` with the other sessions' (one message, one snapshot, or ``TURN_SECONDS`` of training
    each); a session alone has them all.
    """

    def __init__(
        self,
        send: Callable[[Any], None],
        *,
        initial: dict[str, Any],
        base: Sequence[str] = (),
        turns: Turns | None = None,
        name: str = "zoo-playground-session",
    ):
        self.send, self.initial, self.base = send, dict(initial), list(base)
        self.turns = Turns() if turns is None else turns
        self.run: Run | None = None
        self.playing = False
        self.epochs_per_frame = 1
        self.applied: int | None = None
        self._cond = threading.Condition()
        self._settings: tuple[int | None, dict[str, Any]] | None = None
        self._actions: deque[tuple[str, int | None, Any]] = deque(maxlen=32)
        self._waiting = False  # something posted and not yet handled (read between steps without the lock)
        self._closed = False
        self.thread = threading.Thread(target=self._main, name=name, daemon=True)
        self.thread.start()

    # --- from any thread ---
    def post(self, kind: str, seq: int | None = None, value: Any = None) -> None:
        """``settings`` (value: the dict of options), ``play``, ``pause``, ``step``, ``reset``, ``speed``
        (value: epochs per frame), ``recipe``."""
        with self._cond:
            if kind == "settings":
                self._settings = (seq, value)
            else:
                self._actions.append((kind, seq, value))
            self._waiting = True
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = self._waiting = True
            self._cond.notify()

    # --- the session's thread ---
    def _main(self) -> None:
        torch.set_num_threads(1)  # tiny matrices: a second thread only waits (and the cores are shared)
        try:
            while True:
                with self._cond:
                    while not (self._waiting or (self.playing and self.run is not None)):
                        self._cond.wait()
                    if self._closed:
                        return
                    settings, self._settings = self._settings, None
                    actions, self._waiting = list(self._actions), False
                    self._actions.clear()
                try:
                    if settings is not None:
                        with self.turns.turn(self):
                            self._apply(*settings)
                    for kind, seq, value in actions:
                        if self._closed:
                            return
                        with self.turns.turn(self):
                            self._act(kind, seq, value)
                    if self.playing and self.run is not None and not self._waiting:
                        with self.turns.turn(self):
                            self._frame(self._epochs_in_frame())
                except Exception as err:  # noqa: BLE001 - a bug shows on the page; the session stays usable
                    self.playing = False
                    self._error(f"internal error: {explain(err)}")
        finally:
            self.run = None  # the network, data and optimizer go with the thread

    def _handled(self, seq: int | None) -> None:
        if seq is not None:
            self.applied = seq if self.applied is None else max(self.applied, seq)

    def _error(self, message: str, seq: int | None = None) -> None:
        self._handled(seq)
        settings = self.run.settings if self.run is not None else None
        self.send({"type": "error", "message": message, "applied": self.applied, "settings": settings})

    def _status(self) -> None:
        self.send(
            {
                "type": "status",
                "playing": self.playing,
                "epochs_per_frame": self.epochs_per_frame,
                "applied": self.applied,
            }
        )

    def _publish(self) -> dict[str, Any]:
        head, frame = snapshot(self.run, applied=self.applied, playing=self.playing)
        self.send(frame)
        return head

    def _start(self, run: Run) -> None:
        self.run, self.playing = run, False  # a new network or new data starts paused, as in the Playground
        self.send(state(run) | {"applied": self.applied})
        self._status()
        self._publish()

    def _apply(self, seq: int | None, settings: dict[str, Any]) -> None:
        run = self.run
        try:
            cfg = resolve(settings, self.base)
            if run is not None and recipe_key(cfg) == recipe_key(run.cfg):
                check_live(run, cfg)  # only the rate or the penalties changed: training goes on
                set_live(run, cfg)
                run.settings = dict(settings)
                self._handled(seq)
                self.send({"type": "applied", "settings": run.settings, "applied": self.applied})
                self._publish()
                return
            fresh = build(cfg, settings)
        except Exception as err:  # noqa: BLE001 - a wrong setting is one line on the page; the session goes on
            self._error(explain(err), seq)
            if self.run is None:  # the very first settings failed: start from the known good ones
                self._start(build(resolve(self.initial, self.base), self.initial))
            return
        self._handled(seq)
        self._start(fresh)

    def _act(self, kind: str, seq: int | None, value: Any) -> None:
        if kind == "speed":
            self.epochs_per_frame = int(value)
            self._handled(seq)
            self._status()
        elif self.run is None:
            self._error(f"{kind}: nothing to train yet (no settings have arrived)", seq)
        elif kind == "recipe":
            self._handled(seq)
            epochs = self.run.epoch
            command_line = command(self.run.cfg, self.base, epochs)
            text = recipe_yaml(self.run.cfg, epochs)
            self.send(
                {"type": "recipe", "epochs": epochs, "command": command_line, "yaml": text, "applied": self.applied}
            )
        elif kind == "reset":
            self._handled(seq)
            try:
                self._start(build(self.run.cfg, self.run.settings))
            except Exception as err:  # noqa: BLE001
                self._error(explain(err), seq)
        elif kind in ("play", "pause"):
            self._handled(seq)
            self.playing = kind == "play"
            self._status()
            if not self.playing:
                self._publish()  # where the training stands, to the step
        elif kind == "step":  # to the end of the current epoch, then pause (the Playground's step button)
            self._handled(seq)
            self.playing = False
            self._status()
            self._frame(1)

    def _epochs_in_frame(self) -> int:
        return max(1, min(self.epochs_per_frame, MAX_STEPS_PER_FRAME // max(1, len(self.run.loader))))

    def _frame(self, epochs: int) -> None:
        """Train to the end of ``epochs`` more epochs (the current one counts), then publish a snapshot,
        letting waiting sessions take turns meanwhile. A message that arrives meanwhile ends the frame
        early, without a snapshot: it is handled first."""
        run = self.run
        target = run.epoch + epochs
        turn_ends = time.monotonic() + self.turns.seconds
        try:
            while run.epoch < target:
                if self._waiting:
                    return
                if time.monotonic() > turn_ends:
                    self.turns.pass_on(self)  # (called in a turn: see _main)
                    turn_ends = time.monotonic() + self.turns.seconds
                train_step(run)
        except Exception as err:  # noqa: BLE001
            self.playing = False
            self._error(f"training stopped: {explain(err)}")
            self._status()
            return
        loss = self._publish()["train_loss"]
        if not math.isfinite(loss):
            self.playing = False
            lr = run.optimizer.param_groups[0]["lr"]
            self._error(
                f"the training loss is {loss} at epoch {run.epoch}: the learning rate {lr:g} "
                "is too high for this network; lower it and reset"
            )
            self._status()
