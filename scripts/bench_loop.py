"""The shared training loop against a hand-written PyTorch loop, model by model, on this machine.

    python scripts/bench_loop.py                 # all models, about 15 minutes on 2 CPU cores
    python scripts/bench_loop.py --only lenet mlp
    python scripts/bench_loop.py --step-cost      # the loop's fixed cost per step, on a near-empty model

For each model, zoo's real training path (``zoo.cli.prepare`` + ``train_and_test``, what
``python -m zoo.train`` runs, with augmentation off) and a plain loop over the same ``nn.Module``
from ``zoo.get_model``, the same tensors, batch size, optimizer, learning rate and threads, one after
the other in this process, alternated ``--rounds`` times, best epoch of each. The plain loop runs twice,
with torch's default Adam (what people write) and with the fused Adam zoo uses (so that what is left
is the cost of the loop itself). Samples/s are over
training batches only, for both. Then zoo's epoch time with the training data repeated 1x, 2x and
4x, which should grow linearly.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

import zoo
from benchlib import SHARED_DATA, machine, table
from zoo.cli import prepare, resolve_config, train_and_test
from zoo.data import TensorBatches
from zoo.nn.skipgram import train_chunk_cpu

FASHION = "/usr/share/datasets/fashion-mnist"
COMMON = ["--scheduler.name", "constant", "--trainer.max_epochs", "1", "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary",
          "false", "--trainer.default_root_dir", "runs/bench_loop", "--trainer.limit_test_batches", "1"]

# model -> (recipe, extra overrides): the shipped recipes, with augmentation off and a constant rate
CASES = {
    "lenet": ("lenet_fashion_mnist", ["--data.augment", "false", "--data.root", FASHION]),
    "mlp": ("mlp_fashion_mnist", ["--data.augment", "false", "--data.root", FASHION]),
    "lstm": ("lstm_tinyshakespeare", ["--data.path", str(SHARED_DATA / "tinyshakespeare.txt"), "--trainer.max_time", "null"]),
    "word2vec": ("word2vec", ["--data.path", str(SHARED_DATA / "brown.txt"), "--trainer.limit_val_batches", "0"]),
}


def zoo_epoch(model: str, repeat: int = 1, more: tuple[str, ...] = ()) -> tuple[float, float]:
    """(samples/s, epoch seconds) of one epoch through zoo's own path (``more``: extra overrides)."""
    recipe, extra = CASES[model]
    cfg = resolve_config(model, [recipe], extra + COMMON + list(more))
    datamodule, task = prepare(model, cfg)
    if repeat > 1:
        repeat_training_data(datamodule, repeat)
    summary = train_and_test(model, cfg, datamodule, task)
    return summary["train_samples_per_s"], summary["train_time_s"]


def repeat_training_data(datamodule, times: int) -> None:
    if hasattr(datamodule, "split_ids"):  # text: a longer token stream
        datamodule.split_ids["train"] = datamodule.split_ids["train"].repeat(times)
    elif hasattr(datamodule, "chunks"):  # corpus: every chunk again
        datamodule.chunks = np.tile(datamodule.chunks, (times, 1))
    else:
        datamodule.train_set = TensorBatches(*(t.repeat(times, *[1] * (t.dim() - 1)) for t in datamodule.train_set.tensors))


def hand_classifier(model: str, fused: bool = False, more: tuple[str, ...] = ()) -> float:
    """Samples/s of the plain loop: randperm batches, normalise, forward, loss, backward, Adam step."""
    recipe, extra = CASES[model]
    cfg = resolve_config(model, [recipe], extra + COMMON + list(more))
    datamodule, task = prepare(model, cfg)  # the same tensors, sizes and normalisation statistics
    x, y = datamodule.train_set.tensors
    mean = torch.tensor(datamodule.mean).view(1, -1, 1, 1)
    std = torch.tensor(datamodule.std).view(1, -1, 1, 1)
    torch.manual_seed(0)
    net = zoo.get_model(model, **task.hparams.model_kwargs).train()
    opt = torch.optim.Adam(net.parameters(), lr=cfg["optimizer"]["lr"], fused=fused or None)
    batch = cfg["data"]["batch_size"]
    start, seen = time.perf_counter(), 0
    for idx in torch.randperm(len(x)).split(batch):
        xb = (x[idx].float().div_(255) - mean) / std
        loss = F.cross_entropy(net(xb), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        seen += len(idx)
    return seen / (time.perf_counter() - start)


def hand_lstm(fused: bool = False) -> float:
    """Tokens/s of the plain truncated-BPTT loop: the same lanes, carried state, clipping and Adam."""
    recipe, extra = CASES["lstm"]
    cfg = resolve_config("lstm", [recipe], extra + COMMON)
    datamodule, task = prepare("lstm", cfg)
    loader = datamodule.train_dataloader()
    torch.manual_seed(0)
    net = zoo.get_model("lstm", **task.hparams.model_kwargs).train()
    opt = torch.optim.Adam(net.parameters(), lr=cfg["optimizer"]["lr"], fused=fused or None)
    clip = cfg["trainer"]["gradient_clip_val"]
    state, start, seen = None, time.perf_counter(), 0
    for x, y, continues in loader:
        logits, state = net.forward_with_state(x, state if continues else None)
        state = tuple(s.detach() for s in state)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
        opt.step()
        seen += x.numel()
    return seen / (time.perf_counter() - start)


def hand_word2vec(fused: bool = False) -> float:
    """Corpus words/s of a plain loop over the same chunks, calling the same kernel with the same
    linearly decaying rate: what is left to compare is the loop around it."""
    recipe, extra = CASES["word2vec"]
    cfg = resolve_config("word2vec", [recipe], extra + COMMON)
    datamodule, task = prepare("word2vec", cfg)
    torch.manual_seed(0)
    net = zoo.get_model("word2vec", **task.hparams.model_kwargs)
    chunks = datamodule.train_dataloader()  # read from the token cache inside the loop, as zoo does
    alphas = np.linspace(task.lr, task.min_lr, len(chunks) + 1)
    start, seen = time.perf_counter(), 0
    for step, (tokens, bounds) in enumerate(chunks):
        train_chunk_cpu(
            net.input.weight.data, net.output.weight.data, tokens.numpy(), bounds.numpy(), task.thresholds, task.table,
            window=task.window, negative=task.negative, alpha_start=alphas[step], alpha_end=alphas[step + 1],
            seed=step * 7919, threads=torch.get_num_threads(), share_negatives=task.share_negatives,
        )
        seen += task.count_samples((tokens, bounds))
    return seen / (time.perf_counter() - start)


# Each takes ``fused``: torch's one-kernel Adam, which zoo uses by default. The plain loop with torch's
# default Adam is what people write; the fused one isolates the cost of the loop itself.
HAND = {"lenet": lambda fused: hand_classifier("lenet", fused), "mlp": lambda fused: hand_classifier("mlp", fused),
        "lstm": hand_lstm, "word2vec": hand_word2vec}


def step_cost(rounds: int) -> None:
    """ms per step of the Fashion-MNIST MLP shrunk to one hidden layer of 8 units, plain loop and zoo:
    with almost no arithmetic left, the difference is what the loop itself costs at every step."""
    tiny = ("--model.hidden", "[8]", "--model.batch_norm", "false", "--model.dropout", "0")
    hand, ours = [], []
    for _ in range(rounds):
        hand.append(hand_classifier("mlp", fused=True, more=tiny))
        ours.append(zoo_epoch("mlp", more=tiny)[0])
    recipe, extra = CASES["mlp"]
    batch = resolve_config("mlp", [recipe], extra + COMMON)["data"]["batch_size"]
    hand_ms, zoo_ms = 1000 * batch / max(hand), 1000 * batch / max(ours)
    print(f"\n{machine()}\n")
    print(table(["MLP with one hidden layer of 8 units", "ms per step (best epoch)"],
                [["hand-written loop, fused Adam", f"{hand_ms:.2f}"], ["zoo", f"{zoo_ms:.2f}"],
                 ["zoo's cost per step", f"{zoo_ms - hand_ms:.2f}"]]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--no-scaling", action="store_true", help="skip the 1x/2x/4x epoch times")
    parser.add_argument("--rounds", type=int, default=2, help="alternate hand/zoo this many times; best of each")
    parser.add_argument("--step-cost", action="store_true", help="only the loop's fixed cost per step (see step_cost)")
    args = parser.parse_args()
    if args.step_cost:
        return step_cost(args.rounds)
    rows, scaling = [], []
    for model in args.only:
        # This machine's speed drifts by 10-30% from minute to minute: alternate the two and keep
        # each one's best epoch, so that a slow minute does not decide the ratio.
        hands, fused, ours_runs = [], [], []
        for _ in range(args.rounds):
            hands.append(HAND[model](False))
            if model != "word2vec":  # (no optimizer: the kernel is the update)
                fused.append(HAND[model](True))
            ours_runs.append(zoo_epoch(model))
        hand, hand_fused = max(hands), max(fused, default=max(hands))
        ours, seconds = max(ours_runs)
        rows.append([model, CASES[model][0], f"{hand:,.0f}", f"{hand_fused:,.0f}", f"{ours:,.0f}",
                     f"{ours / hand:.3f}", f"{ours / hand_fused:.3f}"])
        if not args.no_scaling:
            times = [seconds] + [zoo_epoch(model, repeat)[1] for repeat in (2, 4)]
            scaling.append([model] + [f"{t:.1f}" for t in times] + [f"{times[2] / times[0]:.2f}"])
    print(f"\n{machine()}\n")
    print(table(["model", "recipe (augmentation off)", "hand-written samples/s", "hand, fused Adam", "zoo samples/s",
                 "zoo / hand", "zoo / hand fused"], rows))
    if scaling:
        print()
        print(table(["model", "epoch s at 1x", "2x", "4x", "4x / 1x"], scaling))


if __name__ == "__main__":
    main()
