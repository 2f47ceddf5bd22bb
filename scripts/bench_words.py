"""Word-level language models on the Brown corpus: zoo's word recipe (configs/lstm_words.yaml) beside
pytorch/examples' word_language_model, each trained for the same wall-clock budget in this one run.

    python scripts/bench_words.py                    # 10 minutes a side, then the speed check (~25 min)
    python scripts/bench_words.py --minutes 2        # a trial with a smaller budget
    python scripts/bench_words.py --speed-only       # only tokens/s: zoo's adaptive softmax against its full one

The reference is written here from the published description of pytorch/examples'
word_language_model (its README and defaults: an LSTM of 2 layers x 200 units, embeddings of 200,
dropout 0.2, untied, a full softmax; BPTT 35 over 20 contiguous lanes with the hidden state carried
between batches and detached; plain SGD at lr 20 with the gradient norm clipped at 0.25; the learning
rate divided by 4 after an epoch that does not improve the validation loss; the best model by
validation loss tested), not copied from its code.

Both sides read the same tokens: zoo's data module, built from the recipe's data options (the
``words`` tokenizer, ``<eos>`` at every line's end, words seen once in training as ``<unk>``), split
90/5/5 contiguously; the reference gets its id tensors, so the two vocabularies are the same and the
perplexities compare. Both are scored the same way on the test split: 10 lanes (the reference's
evaluation batch size), 35 tokens at a time, the state carried through, every token's exact
log-probability under the whole vocabulary. Each side's budget counts its validations (zoo's
at its epochs' ends and when time runs out, the reference's at its epochs' ends); the evaluation after
the budget does not count (the reference validates then only if it has an earlier epoch's model to
choose between: a full softmax over the validation split takes minutes here).

Speed: tokens/s of zoo's recipe with its adaptive softmax against the same recipe with
``--model.softmax full``, each trained ``--speed-minutes`` (goal: 3x).
"""

from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

import zoo
from benchlib import SHARED_DATA, machine, run_zoo, table

RECIPE = "lstm_words"


class ReferenceModel(nn.Module):
    """word_language_model's RNNModel (LSTM): encoder, dropout, LSTM, dropout, decoder."""

    def __init__(self, vocab_size: int, emsize: int = 200, nhid: int = 200, nlayers: int = 2, dropout: float = 0.2):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(vocab_size, emsize)
        self.rnn = nn.LSTM(emsize, nhid, nlayers, dropout=dropout, batch_first=True)
        self.decoder = nn.Linear(nhid, vocab_size)
        # (its init: embeddings and output weights uniform in +-0.1, output bias 0)
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)

    def forward(self, ids, state=None):
        out, state = self.rnn(self.drop(self.encoder(ids)), state)  # (B, T, nhid)
        return self.decoder(self.drop(out)), state  # (B, T, vocab_size)


def lanes(ids: torch.Tensor, n: int) -> torch.Tensor:
    """``n`` contiguous lanes (n, len // n), the tail that does not fill a lane dropped (batchify)."""
    width = len(ids) // n
    return ids[: n * width].view(n, width)


def chunks(data: torch.Tensor, bptt: int = 35):
    """(inputs, targets) of ``bptt`` tokens of every lane, left to right (get_batch)."""
    for i in range(0, data.shape[1] - 1, bptt):
        n = min(bptt, data.shape[1] - 1 - i)
        yield data[:, i : i + n], data[:, i + 1 : i + 1 + n]


@torch.no_grad()
def score(loss_fn, ids: torch.Tensor, n_lanes: int = 10) -> float:
    """Mean cross-entropy (nats per token) over ``ids`` read as ``n_lanes`` lanes, 35 tokens at a time,
    the state carried through. ``loss_fn(x, y, state) -> (mean loss, state)``."""
    total, count, state = 0.0, 0, None
    for x, y in chunks(lanes(ids, n_lanes)):
        loss, state = loss_fn(x, y, state)
        total, count = total + float(loss) * y.numel(), count + y.numel()
    return total / count


def reference_loss(model: ReferenceModel):
    def loss_fn(x, y, state):
        logits, state = model(x, state)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)), state

    return loss_fn


def zoo_loss(net):
    def loss_fn(x, y, state):
        loss, _, state = net.loss_with_state(x, y, state)  # exact over the whole vocabulary (see lstm.py)
        return loss, state

    return loss_fn


def reference(split_ids: dict[str, torch.Tensor], vocab_size: int, seconds: float) -> dict:
    """Train the reference for ``seconds`` (its epoch-end validations included); test its best model."""
    torch.manual_seed(1111)  # (its default seed)
    model = ReferenceModel(vocab_size)
    train, lr, best, best_state = lanes(split_ids["train"], 20), 20.0, math.inf, None
    tokens, train_seconds, start = 0, 0.0, time.perf_counter()
    out_of_time = False
    while not out_of_time:
        model.train()
        state, mark = None, time.perf_counter()
        for x, y in chunks(train):
            if time.perf_counter() - start >= seconds:
                out_of_time = True
                break
            state = None if state is None else tuple(s.detach() for s in state)  # repackage_hidden
            model.zero_grad()
            logits, state = model(x, state)
            loss = F.cross_entropy(logits.reshape(-1, vocab_size), y.reshape(-1))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(p.grad, alpha=-lr)
            tokens += y.numel()
        train_seconds += time.perf_counter() - mark
        model.eval()
        if out_of_time and best_state is None:
            break  # stopped in its first epoch: the only model there is, no validation to choose by
        val = score(reference_loss(model), split_ids["val"])  # (at the budget's end too: to pick the best)
        if val < best:
            best, best_state = val, {k: v.clone() for k, v in model.state_dict().items()}
        else:
            lr /= 4.0
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    test = score(reference_loss(model), split_ids["test"])
    return {
        "parameters": sum(p.numel() for p in model.parameters()),
        "tokens": tokens,
        "epochs": tokens / len(split_ids["train"]),
        "tokens_per_s": tokens / train_seconds,
        "val_ppl": math.exp(best) if best_state is not None else "-",
        "test_ppl": math.exp(test),
        "seconds": time.perf_counter() - start,
    }


def zoo_side(corpus: Path, seconds: int, split_ids: dict[str, torch.Tensor]) -> dict:
    """``python -m zoo.train lstm --config lstm_words`` for ``seconds``; its best checkpoint scored."""
    max_time = f"00:00:{seconds // 60:02d}:{seconds % 60:02d}"
    start = time.perf_counter()
    summary = run_zoo("lstm", "--config", RECIPE, "--data.path", str(corpus), "--trainer.max_time", max_time)
    task = zoo.load_checkpoint(summary["checkpoint"])
    test = score(zoo_loss(task.model), split_ids["test"])
    return {
        "parameters": sum(p.numel() for p in task.model.parameters()),
        "tokens": round(summary["train_samples_per_s"] * summary["train_time_s"]),
        "epochs": summary["train_samples_per_s"] * summary["train_time_s"] / len(split_ids["train"]),
        "tokens_per_s": summary["train_samples_per_s"],
        "val_ppl": summary["val"]["ppl"],
        "test_ppl": math.exp(test),
        "zoo_test_ppl": summary["test"]["ppl"],
        "seconds": time.perf_counter() - start,
        "run_dir": summary["run_dir"],
    }


def speed(corpus: Path, seconds: int) -> list[list[object]]:
    """Tokens/s of the recipe with each output layer, trained ``seconds`` without validation."""
    max_time = f"00:00:{seconds // 60:02d}:{seconds % 60:02d}"
    rows, rates = [], {}
    for softmax in ("adaptive", "full"):
        summary = run_zoo(
            "lstm",
            "--config",
            RECIPE,
            "--data.path",
            str(corpus),
            "--model.softmax",
            softmax,
            "--trainer.max_time",
            max_time,
            "--trainer.limit_val_batches",
            "0",
            "--trainer.limit_test_batches",
            "1",
        )
        rates[softmax] = summary["train_samples_per_s"]
        rows.append([f"zoo {RECIPE}, softmax {softmax}", rates[softmax], round(summary["train_time_s"])])
    rows.append(["adaptive / full", f"{rates['adaptive'] / rates['full']:.2f}x", ""])
    return rows


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget of each side (default 10)")
    parser.add_argument("--speed-minutes", type=float, default=2.0, help="training time of each speed run")
    parser.add_argument("--corpus", type=Path, default=SHARED_DATA / "brown.txt")
    parser.add_argument("--speed-only", action="store_true")
    parser.add_argument("--no-speed", action="store_true")
    args = parser.parse_args()
    if not args.corpus.is_file():
        raise SystemExit(f"bench_words: no corpus at {args.corpus}")
    seconds = round(args.minutes * 60)
    datamodule, task = zoo.build("lstm", config=RECIPE, overrides=["--data.path", str(args.corpus)])
    split_ids, vocab = (
        {k: v.long() for k, v in datamodule.split_ids.items()},
        datamodule.vocab,
    )  # (held in 2 or 4 bytes)
    report = datamodule.report
    print(
        f"{args.corpus.name}: {sum(report['tokens'].values()):,} tokens, a vocabulary of {len(vocab):,} "
        f"(unk: {report['unk']})",
        flush=True,
    )
    rows, loads = [], [f"start {load()}"]
    if not args.speed_only:
        ours = zoo_side(args.corpus, seconds, split_ids)
        loads.append(f"after zoo {load()}")
        ref = reference(split_ids, len(vocab), seconds)
        loads.append(f"after the reference {load()}")
        for name, r in [(f"zoo {RECIPE}", ours), ("pytorch/examples word_language_model (written here)", ref)]:
            rows.append(
                [
                    name,
                    f"{r['parameters']:,}",
                    f"{r['tokens']:,}",
                    f"{r['epochs']:.2f}",
                    r["tokens_per_s"],
                    r["val_ppl"],
                    r["test_ppl"],
                ]
            )
    speed_rows = [] if args.no_speed else speed(args.corpus, round(args.speed_minutes * 60))
    loads.append(f"end {load()}")
    print(f"\n{machine()}; load average (1/5/15 min) {'; '.join(loads)}\n")
    if rows:
        print(f"Budget: {args.minutes:g} minutes of training a side, same vocabulary ({len(vocab):,} words)\n")
        headers = ["", "parameters", "tokens trained", "epochs", "tokens/s", "val ppl", "test ppl"]
        print(table(headers, rows))
        print(
            f"\nzoo's own test perplexity (its run's summary, its lanes): {ours['zoo_test_ppl']:.1f}; "
            f"run {ours['run_dir']}"
        )
    if speed_rows:
        print(f"\nTokens/s, {args.speed_minutes:g} minute(s) of training each, no validation\n")
        print(table(["", "tokens/s", "seconds"], speed_rows))


if __name__ == "__main__":
    main()
