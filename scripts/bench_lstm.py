"""Character-level Shakespeare in 90 seconds on this machine: zoo's LSTM recipe beside a hand-written
PyTorch LSTM loop (the reference measured here), both scored the same way.

    python scripts/bench_lstm.py [--seconds 90]
    python scripts/bench_lstm.py --steps 2500 3750 5000    # the recipe for fixed numbers of steps
    python scripts/bench_lstm.py --config lstm_tinyshakespeare_gpu --no-reference   # on a GPU
    python scripts/bench_lstm.py --kernel     # the recipe's LSTM alone: how many chars/s this CPU allows

Score: mean cross-entropy in nats per character over the last 10% of tinyshakespeare (nanoGPT's
validation split), every character predicted once, the 10% read as 16 contiguous streams with the state
carried through each (one single stream scores the same to 0.001 and takes three times as long).
nanoGPT's small CPU config reached 1.886 with the same 90 s here (PERF-NOTES.md); it is quoted, not re-run.

With ``--steps``, the recipe trains for fixed numbers of optimizer steps instead (cosine over the steps):
those scores are the same on any machine and at any load, so they show how much text the 90 s goal
needs apart from how fast this machine happens to be.
"""

from __future__ import annotations

import argparse
import math
import time

import torch
import torch.nn.functional as F

import zoo
from benchlib import machine, run_zoo, table
from zoo.data.text import read_text, shipped_text
from zoo.tasks.language_model import stream_loss

CORPUS = shipped_text("tinyshakespeare")
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")  # where zoo's "auto" trains too
RECIPE = "lstm_tinyshakespeare"  # main() may change it


def hand_written(text: str, seconds: float) -> tuple[float, float]:
    """The PERF-NOTES reference: 1x256 LSTM, seq 64, batch 32, Adam 3e-3 constant, clip 1.0, random
    windows from the first 90%; returns (loss on the last 10%, characters per second)."""
    torch.manual_seed(0)
    vocab = sorted(set(text))  # as nanoGPT does
    index = {c: i for i, c in enumerate(vocab)}
    ids = torch.tensor([index[c] for c in text], dtype=torch.long)
    split = int(len(ids) * 0.9)
    train, held = ids[:split], ids[split:]
    model = zoo.get_model("lstm", vocab_size=len(vocab), embed_dim=64, hidden_size=256).to(DEVICE)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    train, span = train.to(DEVICE), torch.arange(65, device=DEVICE)
    chars, start = 0, time.perf_counter()
    model.train()
    while time.perf_counter() - start < seconds:
        chunk = train[torch.randint(len(train) - 65, (32, 1), device=DEVICE) + span]
        logits = model(chunk[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, len(vocab)), chunk[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        chars += chunk[:, :-1].numel()
    if DEVICE.type == "cuda":
        torch.cuda.synchronize(DEVICE)
    rate = chars / (time.perf_counter() - start)
    return stream_loss(model.to(DEVICE), held), rate


def zoo_recipe(text: str, *overrides: str) -> tuple[float, dict]:
    """``python -m zoo.train lstm --config RECIPE OVERRIDES``; its run's summary, and the
    score of the checkpoint it reports (the best validation loss)."""
    summary = run_zoo("lstm", "--config", RECIPE, *overrides)
    task = zoo.load_checkpoint(summary["checkpoint"])
    return task.nats_per_token(text[int(len(text) * 0.9) :]), summary


def by_steps(text: str, steps: list[int]) -> None:
    """The recipe for fixed numbers of steps: loss on the last 10% against the text it trained on."""
    rows = []
    for n in steps:
        loss, summary = zoo_recipe(
            text, "--trainer.max_time", "null", "--trainer.max_steps", str(n), "--scheduler.over", "steps"
        )
        best_step = torch.load(summary["checkpoint"], map_location="cpu", weights_only=True)["global_step"]
        seconds = summary["train_time_s"]
        rows.append(
            [
                n,
                round(summary["train_samples_per_s"] * seconds),
                best_step,
                loss,
                seconds,
                summary["train_samples_per_s"],
            ]
        )
    print(f"\n{machine()}\n")
    print(
        table(
            [
                "steps",
                "characters trained",
                "best checkpoint at step",
                "nats/char on the last 10%",
                "seconds here",
                "chars/s here",
            ],
            rows,
        )
    )


def kernel(rounds: int = 3, steps: int = 20) -> None:
    """Characters/s of the recipe's LSTM layer alone (forward and backward through ``nn.LSTM`` and the
    output layer, no optimizer, no loop), at batch 16 and 32, with torch's oneDNN RNN kernel (what it
    uses on a CPU) and without, on all threads and on one: the ceiling for any training loop here."""
    vocab, embed, hidden, seq_len = 65, 64, 256, 64
    rows = []
    threads = torch.get_num_threads()
    for batch, onednn, n in [(16, True, threads), (32, True, threads), (16, True, 1), (16, False, threads)]:
        torch.set_num_threads(n)
        with torch.backends.mkldnn.flags(enabled=onednn):
            lstm, head = torch.nn.LSTM(embed, hidden, batch_first=True), torch.nn.Linear(hidden, vocab)
            x = torch.randn(batch, seq_len, embed, requires_grad=True)
            best = math.inf
            for _ in range(rounds + 1):  # (the first round warms up: oneDNN builds its kernels for the shape)
                start = time.perf_counter()
                for _ in range(steps):
                    head(lstm(x)[0]).sum().backward()
                best = min(best, (time.perf_counter() - start) / steps)
        rows.append([batch, "yes" if onednn else "no", n, round(best * 1000, 1), round(batch * seq_len / best)])
    torch.set_num_threads(threads)
    print(f"\n{machine()}\n")
    print(
        table(["batch (x 64 characters)", "oneDNN", "threads", "ms per forward+backward (best round)", "chars/s"], rows)
    )
    print("\n5,000 steps of the recipe (batch 16) in 90 s need 57k characters/s for the whole step.")


def main() -> None:
    global RECIPE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--steps", type=int, nargs="+", help="fixed step counts instead of the time budget")
    parser.add_argument("--config", default=RECIPE, help="the recipe to train (default %(default)s)")
    parser.add_argument("--no-reference", action="store_true", help="skip the hand-written loop")
    parser.add_argument("--kernel", action="store_true", help="only time the LSTM layer itself (see kernel)")
    args = parser.parse_args()
    if args.kernel:
        return kernel()
    RECIPE = args.config
    text = read_text(CORPUS)  # (the copy zoo ships: --data.name tinyshakespeare)
    if args.steps:
        return by_steps(text, args.steps)
    seconds = int(args.seconds)
    max_time = f"00:00:{seconds // 60:02d}:{seconds % 60:02d}"
    zoo_loss, summary = zoo_recipe(text, "--trainer.max_time", max_time)
    rows = [[f"zoo {RECIPE}", zoo_loss, zoo_loss / math.log(2), summary["train_samples_per_s"], summary["epochs"]]]
    if not args.no_reference:
        ref_loss, ref_rate = hand_written(text, args.seconds)
        rows.append(["hand-written LSTM loop (PERF-NOTES setup)", ref_loss, ref_loss / math.log(2), ref_rate, "-"])
    rows.append(["nanoGPT small CPU config (quoted from PERF-NOTES)", 1.886, 1.886 / math.log(2), "-", "-"])
    print(f"\n{machine()}\n")
    print(table(["", "nats/char on the last 10%", "bits/char", "chars/s trained", "epochs"], rows))
    print(f"\nzoo summary: val {summary['val']}, test {summary['test']}")


if __name__ == "__main__":
    main()
