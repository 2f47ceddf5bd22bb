"""The shared training loop against a hand-written PyTorch loop, model by model, on this machine.

    python scripts/bench_loop.py                 # all models, about 20 minutes on 2 CPU cores
    python scripts/bench_loop.py --only lenet mlp
    python scripts/bench_loop.py --step-cost      # the loop's fixed cost per step, on a near-empty model
    python scripts/bench_loop.py --options        # on a GPU: bf16 autocast, torch.compile, channels-last

For each model, zoo's real training path (``zoo.fit``, what ``python -m zoo.train`` runs, with
augmentation off) and a plain loop over the same ``nn.Module``
from ``zoo.get_model``, the same tensors, batch size, optimizer, learning rate and threads, one after
the other in this process, alternated ``--rounds`` times. This machine's speed drifts by 10-30% from
minute to minute, so a ratio is taken within each round (zoo's epoch against the plain loop's epochs
just before it) and the table gives the median of those and their range. The plain loop runs twice,
with torch's default Adam (what people write) and with the fused Adam zoo uses (so that what is left
is the cost of the loop itself). Samples/s are over
training batches only, for both. Then zoo's epoch time with the training data repeated 1x, 2x and
4x, which should grow linearly.

Both sides run on the GPU when there is one (``--device cpu`` to compare on the CPU anyway): the plain
loop copies each batch from pinned memory as zoo's loader does. ``--options`` measures the GPU knobs
on both sides: bf16 autocast (zoo: ``--trainer.precision bf16-mixed``), ``torch.compile``
(``--task.compile true``), and for LeNet channels-last memory (plain loop only: zoo has no such option).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import statistics
import time

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F

import zoo
from benchlib import SHARED_DATA, machine, table
from zoo.data import TensorBatches
from zoo.nn.skipgram import train_chunk_cpu

FASHION = "/usr/share/datasets/fashion-mnist"
COMMON = [
    "--scheduler.name",
    "constant",
    "--trainer.max_epochs",
    "1",
    "--trainer.enable_progress_bar",
    "false",
    "--trainer.enable_model_summary",
    "false",
    "--trainer.default_root_dir",
    "runs/bench_loop",
    "--trainer.limit_test_batches",
    "1",
]

# model -> (recipe, extra overrides): the shipped recipes, with augmentation off and a constant rate
CASES = {
    "lenet": ("lenet_fashion_mnist", ["--data.augment", "false", "--data.root", FASHION]),
    "mlp": ("mlp_fashion_mnist", ["--data.augment", "false", "--data.root", FASHION]),
    "lstm": (
        "lstm_tinyshakespeare",
        ["--trainer.max_time", "null"],
    ),
    "word2vec": ("word2vec", ["--data.path", str(SHARED_DATA / "brown.txt"), "--trainer.limit_val_batches", "0"]),
}


DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")  # main() may change it


def synchronize() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize(DEVICE)


def zoo_epoch(model: str, repeat: int = 1, more: tuple[str, ...] = ()) -> tuple[float, float]:
    """(samples/s, epoch seconds) of one epoch through zoo's own path (``more``: extra overrides)."""
    recipe, extra = CASES[model]
    accelerator = ["--trainer.accelerator", "gpu" if DEVICE.type == "cuda" else "cpu"]
    callbacks = [RepeatTrainingData(repeat)] if repeat > 1 else []
    result = zoo.fit(
        model, config=recipe, overrides=extra + COMMON + accelerator + list(more), callbacks=callbacks, quiet=True
    )
    summary = result.summary
    if len(result.metrics) > 1:  # the last epoch alone (after torch.compile's first-epoch compiling)
        times = [row["train_time_s"] for row in result.metrics]
        seconds = times[-1] - times[-2]
        return summary["train_samples_per_s"] * summary["train_time_s"] / len(times) / seconds, seconds
    return summary["train_samples_per_s"], summary["train_time_s"]


class RepeatTrainingData(L.Callback):
    """The training data ``times`` over, set up before the first epoch (for the scaling table)."""

    def __init__(self, times: int):
        self.times = times

    def setup(self, trainer, pl_module, stage):
        datamodule, times = trainer.datamodule, self.times
        if hasattr(datamodule, "split_ids"):  # text: a longer token stream
            datamodule.split_ids["train"] = datamodule.split_ids["train"].repeat(times)
        elif hasattr(datamodule, "chunks"):  # corpus: every chunk again
            datamodule.chunks = np.tile(datamodule.chunks, (times, 1))
        else:
            tensors = datamodule.train_set.tensors
            datamodule.train_set = TensorBatches(*(t.repeat(times, *[1] * (t.dim() - 1)) for t in tensors))


def autocast(bf16: bool):
    return torch.autocast(DEVICE.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def to_device(*tensors: torch.Tensor) -> list[torch.Tensor]:
    if DEVICE.type == "cpu":
        return list(tensors)
    return [t.pin_memory().to(DEVICE, non_blocking=True) for t in tensors]


def hand_classifier(
    model: str,
    fused: bool = False,
    more: tuple[str, ...] = (),
    bf16: bool = False,
    compile: bool = False,
    channels_last: bool = False,
    epochs: int = 1,
) -> float:
    """Samples/s of the plain loop: randperm batches, normalise, forward, loss, backward, Adam step
    (over the last of ``epochs`` epochs)."""
    recipe, extra = CASES[model]
    cfg = zoo.resolve_recipe(model, recipe, extra + COMMON + list(more))
    datamodule, task = zoo.build(model, config=cfg)  # the same tensors, sizes and normalisation statistics
    x, y = datamodule.train_set.tensors
    mean = torch.tensor(datamodule.mean, device=DEVICE).view(1, -1, 1, 1)
    std = torch.tensor(datamodule.std, device=DEVICE).view(1, -1, 1, 1)
    torch.manual_seed(0)
    net = zoo.get_model(model, **task.hparams.model_kwargs).train().to(DEVICE)
    memory = torch.channels_last if channels_last else torch.contiguous_format
    net = net.to(memory_format=memory)
    if compile:
        net.compile()
    opt = torch.optim.Adam(net.parameters(), lr=cfg["optimizer"]["lr"], fused=fused or None)
    batch = cfg["data"]["batch_size"]
    for _ in range(epochs):
        synchronize()
        start, seen = time.perf_counter(), 0
        for idx in torch.randperm(len(x)).split(batch):
            xb, yb = to_device(x[idx], y[idx])  # (from pinned copies on a GPU, as zoo's loader makes)
            xb = ((xb.float().div_(255) - mean) / std).contiguous(memory_format=memory)
            with autocast(bf16):
                loss = F.cross_entropy(net(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            seen += len(idx)
        synchronize()
    return seen / (time.perf_counter() - start)


def hand_lstm(fused: bool = False, bf16: bool = False, compile: bool = False, epochs: int = 1) -> float:
    """Tokens/s of the plain truncated-BPTT loop: the same lanes, carried state, clipping and Adam
    (over the last of ``epochs`` epochs)."""
    recipe, extra = CASES["lstm"]
    cfg = zoo.resolve_recipe("lstm", recipe, extra + COMMON)
    datamodule, task = zoo.build("lstm", config=cfg)
    loader = datamodule.train_dataloader()
    torch.manual_seed(0)
    net = zoo.get_model("lstm", **task.hparams.model_kwargs).train().to(DEVICE)
    forward = torch.compile(net.forward_with_state) if compile else net.forward_with_state
    opt = torch.optim.Adam(net.parameters(), lr=cfg["optimizer"]["lr"], fused=fused or None)
    clip = cfg["trainer"]["gradient_clip_val"]
    state = None
    for epoch in range(epochs):
        loader.sampler.set_epoch(epoch)
        synchronize()
        start, seen = time.perf_counter(), 0
        for x, y, continues in loader:
            x, y = to_device(x, y)
            with autocast(bf16):
                logits, state = forward(x, state if continues else None)
                state = tuple(s.detach() for s in state)
                loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
            opt.step()
            seen += x.numel()
        synchronize()
    return seen / (time.perf_counter() - start)


def hand_word2vec(fused: bool = False) -> float:
    """Corpus words/s of a plain loop over the same chunks, calling the same kernel with the same
    linearly decaying rate: what is left to compare is the loop around it."""
    recipe, extra = CASES["word2vec"]
    cfg = zoo.resolve_recipe("word2vec", recipe, extra + COMMON)
    datamodule, task = zoo.build("word2vec", config=cfg)
    torch.manual_seed(0)
    net = zoo.get_model("word2vec", **task.hparams.model_kwargs)
    chunks = datamodule.train_dataloader()  # read from the token cache inside the loop, as zoo does
    alphas = np.linspace(task.lr, task.min_lr, len(chunks) + 1)
    task.to(DEVICE)  # on a GPU, the task's own call of the tensor kernel (its tables on the device)
    synchronize()
    start, seen = time.perf_counter(), 0
    for step, (tokens, bounds) in enumerate(chunks):
        if DEVICE.type == "cuda":
            task._train_on_device(*to_device(tokens, bounds), alphas[step], alphas[step + 1])
        else:
            train_chunk_cpu(
                net.input.weight.data,
                net.output.weight.data,
                tokens.numpy(),
                bounds.numpy(),
                task.thresholds,
                task.table,
                window=task.window,
                negative=task.negative,
                alpha_start=alphas[step],
                alpha_end=alphas[step + 1],
                seed=step * 7919,
                threads=torch.get_num_threads(),
                share_negatives=task.share_negatives,
            )
        seen += task.count_samples((tokens, bounds))
    synchronize()
    return seen / (time.perf_counter() - start)


# Each takes ``fused``: torch's one-kernel Adam, which zoo uses by default. The plain loop with torch's
# default Adam is what people write; the fused one isolates the cost of the loop itself.
HAND = {
    "lenet": functools.partial(hand_classifier, "lenet"),
    "mlp": functools.partial(hand_classifier, "mlp"),
    "lstm": hand_lstm,
    "word2vec": hand_word2vec,
}


def step_cost(rounds: int) -> None:
    """ms per step of the Fashion-MNIST MLP shrunk to one hidden layer of 8 units, plain loop and zoo:
    with almost no arithmetic left, the difference is what the loop itself costs at every step."""
    tiny = ("--model.hidden", "[8]", "--model.batch_norm", "false", "--model.dropout", "0")
    recipe, extra = CASES["mlp"]
    batch = zoo.resolve_recipe("mlp", recipe, extra + COMMON)["data"]["batch_size"]
    hand_ms, zoo_ms = [], []
    warm_up("mlp")
    for _ in range(rounds):
        hand_ms.append(1000 * batch / hand_classifier("mlp", fused=True, more=tiny))
        zoo_ms.append(1000 * batch / zoo_epoch("mlp", more=tiny)[0])
    costs = sorted(z - h for z, h in zip(zoo_ms, hand_ms))
    print(f"\n{machine()}\n")
    print(
        table(
            [f"MLP with one hidden layer of 8 units ({rounds} rounds)", "ms per step, median", "range"],
            [
                [
                    "hand-written loop, fused Adam",
                    f"{statistics.median(hand_ms):.2f}",
                    f"{min(hand_ms):.2f}-{max(hand_ms):.2f}",
                ],
                ["zoo", f"{statistics.median(zoo_ms):.2f}", f"{min(zoo_ms):.2f}-{max(zoo_ms):.2f}"],
                [
                    "zoo's cost per step (each round's difference)",
                    f"{statistics.median(costs):.2f}",
                    f"{costs[0]:.2f}-{costs[-1]:.2f}",
                ],
            ],
        )
    )


def paired(ours: list[float], theirs: list[float]) -> str:
    """The median of the rounds' ratios (each zoo epoch against the plain loop's epoch of the same
    round) and their range."""
    ratios = sorted(o / t for o, t in zip(ours, theirs))
    return f"{statistics.median(ratios):.3f} ({ratios[0]:.2f}-{ratios[-1]:.2f})"


def warm_up(model: str) -> None:
    """On a GPU, one untimed epoch of the plain loop first: CUDA's start-up and cuDNN's choice of
    kernels for these shapes happen once per process, and would otherwise land in whichever side ran first."""
    if DEVICE.type == "cuda":
        HAND[model](True)


# variant -> (zoo overrides, plain-loop keyword arguments); None: that side has no such option
OPTIONS = {
    "fp32 (default)": ((), {}),
    "bf16 autocast": (("--trainer.precision", "bf16-mixed"), {"bf16": True}),
    # (two epochs, the second timed: the first one compiles)
    "torch.compile": (("--task.compile", "true", "--trainer.max_epochs", "2"), {"compile": True, "epochs": 2}),
    "channels-last": (None, {"channels_last": True}),
}


def options(models: list[str], rounds: int) -> None:
    """Samples/s of each GPU option, zoo and the plain loop (fused Adam on both), best of ``rounds``."""
    rows = []
    for model in models:
        warm_up(model)
        for name, (zoo_args, hand_kwargs) in OPTIONS.items():
            if name == "channels-last" and model != "lenet":
                continue
            hand, ours = [], []
            for _ in range(rounds):
                hand.append(HAND[model](fused=True, **hand_kwargs))
                if zoo_args is not None:
                    ours.append(zoo_epoch(model, more=zoo_args)[0])
            zoo_rate = f"{max(ours):,.0f}" if ours else "-"
            ratio = f"{max(ours) / max(hand):.3f}" if ours else "-"
            rows.append([model, name, f"{max(hand):,.0f}", zoo_rate, ratio])
            print(rows[-1], flush=True)
    print(f"\n{machine()}\n")
    print(table(["model", "option", "hand, fused Adam, samples/s", "zoo samples/s", "zoo / hand"], rows))


def main() -> None:
    global DEVICE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--no-scaling", action="store_true", help="skip the 1x/2x/4x epoch times")
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternate hand/zoo this many times; median of the rounds"
    )
    parser.add_argument("--step-cost", action="store_true", help="only the loop's fixed cost per step (see step_cost)")
    parser.add_argument("--options", action="store_true", help="bf16, torch.compile and channels-last, on both sides")
    parser.add_argument("--device", choices=["cpu", "cuda"], default=DEVICE.type)
    args = parser.parse_args()
    DEVICE = torch.device(args.device)
    if args.step_cost:
        return step_cost(args.rounds)
    if args.options:
        return options([m for m in args.only if m != "word2vec"], args.rounds)
    rows, scaling = [], []
    for model in args.only:
        # This machine's speed drifts by 10-30% from minute to minute: alternate the two and compare
        # within each round, so that a slow minute does not decide the ratio.
        hands, fused, ours_runs = [], [], []
        warm_up(model)
        for _ in range(args.rounds):
            hands.append(HAND[model](False))
            if model != "word2vec":  # (no optimizer: the kernel is the update)
                fused.append(HAND[model](True))
            ours_runs.append(zoo_epoch(model))
        fused = fused or hands
        ours = [rate for rate, _ in ours_runs]
        rows.append(
            [
                model,
                CASES[model][0],
                f"{statistics.median(hands):,.0f}",
                f"{statistics.median(fused):,.0f}",
                f"{statistics.median(ours):,.0f}",
                paired(ours, hands),
                paired(ours, fused),
            ]
        )
        seconds = max(ours_runs)[1]  # (the fastest zoo epoch's time, for the scaling table)
        if not args.no_scaling:
            times = [seconds] + [zoo_epoch(model, repeat)[1] for repeat in (2, 4)]
            scaling.append([model] + [f"{t:.1f}" for t in times] + [f"{times[2] / times[0]:.2f}"])
    print(f"\n{machine()}\n")
    print(
        table(
            [
                "model",
                "recipe (augmentation off)",
                "hand-written samples/s (median)",
                "hand, fused Adam",
                "zoo samples/s",
                "zoo / hand (median of rounds, range)",
                "zoo / hand fused",
            ],
            rows,
        )
    )
    if scaling:
        print()
        print(table(["model", "epoch s at 1x", "2x", "4x", "4x / 1x"], scaling))


if __name__ == "__main__":
    main()
