"""Language modelling: predict every next token of a text; generate text from a trained model.

Loss is the mean cross-entropy in nats per token; perplexity is exp(loss) and bits per character
loss / ln 2 (character level). With ``carry_state`` the LSTM state at the end of one batch starts the
next batch of the same lanes (truncated back-propagation through time: gradients stop at the batch
boundary, the information does not), so the model sees context longer than ``seq_len``.

The model's contract: ``forward_with_state(ids, state)`` takes token ids (B, T) and the state its
previous call returned (or None) and returns ``(scores (B, T, vocab_size), state)``, the state a tuple
of tensors whose dimension 1 is the batch; its constructor takes ``vocab_size`` (and, if it accepts
them, ``token_counts``: the training count of every id, most frequent first). The scores are logits or
log-probabilities over the whole vocabulary (cross-entropy and sampling read both the same);
``stream_loss`` and generation use them. Optionally ``loss_with_state(ids, targets, state) -> (mean
cross-entropy, logits or None, state)``, the exact cross-entropy under the distribution over the whole
vocabulary: training, validation and test call it when the model has it, so that an output layer that
need not score every word to know a target's probability (adaptive softmax: the target's cluster
only, its probabilities normalised within it) does not; with None for the logits no accuracy is kept.

Word level, the vocabulary and the tokenizer's options (``tokenizer``, ``lowercase``) come from the
data and are kept in every checkpoint, so ``encode``, ``decode`` and ``generate`` split and join text
as the training text was; ``vocab_report`` (how many tokens were read as ``<unk>``, per split) goes into
the run's summary and, when training starts, one line on stderr.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torchmetrics import Metric
from torchmetrics.classification import MulticlassAccuracy

from zoo.console import note
from zoo.data.text import EOS, UNK, attaches, detokenize, tokenize
from zoo.errors import UsageError
from zoo.registry import register_task
from zoo.tasks.base import require
from zoo.tasks.supervised import SupervisedTask


@torch.no_grad()
def stream_loss(model, ids: torch.Tensor, lanes: int = 16, seq_len: int = 256) -> float:
    """Mean cross-entropy (nats per token) of a language model over ``ids``, every token but the first of
    each stream predicted once, read as ``lanes`` contiguous streams with the state carried through each
    (as one single stream it scores the same to 0.001 and takes three times as long)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    ids = ids.to(device)
    length = (len(ids) - 1) // lanes
    x = ids[: lanes * length].view(lanes, length)
    y = ids[1 : lanes * length + 1].view(lanes, length)
    state, total, count = None, 0.0, 0
    for start in range(0, length, seq_len):
        logits, state = model.forward_with_state(x[:, start : start + seq_len], state)
        target = y[:, start : start + seq_len]
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), reduction="sum").item()
        count += target.numel()
    model.train(was_training)
    return total / count


class TokenAccuracy(MulticlassAccuracy):
    """Next-token accuracy over every position: logits (B, T, V) against targets (B, T)."""

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        super().update(preds.reshape(-1, preds.shape[-1]), target.reshape(-1))


def vocabulary_line(report: dict[str, Any], level: str) -> str:
    """One line saying what the vocabulary kept and what reads as ``<unk>``, per split."""
    unit = "words" if level == "word" else "characters"
    limits = [f"{k} {report[k]:,}" for k in ("min_count", "max_vocab") if report.get(k) not in (None, 1)]
    line = (
        f"zoo: vocabulary of {report['vocab_size']:,} {unit}{' (' + ', '.join(limits) + ')' if limits else ''} "
        f"from {report['tokens']['train']:,} training tokens of {report['training_types']:,} kinds"
    )
    unk = report["unk"]
    if not any(unk.values()):
        return line + "; no token reads as <unk>"
    tokens = report["tokens"]
    shares = [f"{100 * unk[s] / tokens[s]:.1f}% of {s}" for s in ("train", "val", "test") if tokens[s]]
    return line + f"; {report['unk_types']:,} rarer ones read as <unk>: " + ", ".join(shares)


@register_task("language_model")
class LanguageModelTask(SupervisedTask):
    higher_is_better = ("acc",)
    sample_unit = "tokens"
    learns_from = "text"
    filled_by_data = ("vocab", "level", "tokenizer", "lowercase", "vocab_report")
    # (what the data held: a run may resume without it, from a checkpoint written before it was kept)
    runtime_options = (*SupervisedTask.runtime_options, "vocab_report")

    def __init__(
        self,
        *,
        vocab: list[str],
        level: Literal["char", "word"] = "char",
        tokenizer: Literal["words", "whitespace"] = "whitespace",
        lowercase: bool = False,
        vocab_report: dict[str, Any] | None = None,
        carry_state: bool = True,
        sample_temperatures: list[float] | None = None,
        sample_length: int = 200,
        sample_prompt: str = "",
        **kwargs: Any,
    ):
        # (tokenizer's default is "whitespace": checkpoints from before there was a choice split words so)
        self.vocab_size = len(vocab)
        super().__init__(**kwargs)
        self.vocab, self.level, self.carry_state = list(vocab), level, carry_state
        self.tokenizer, self.lowercase, self.vocab_report = tokenizer, lowercase, vocab_report
        self.index = {token: i for i, token in enumerate(self.vocab)}
        self.sample_temperatures = list(sample_temperatures or [])
        self.sample_length, self.sample_prompt = sample_length, sample_prompt
        self._named: set[str] = set()  # prompt tokens outside the vocabulary already named on stderr
        if self.sample_temperatures and sample_prompt:
            # a prompt the vocabulary cannot spell fails now, not after an epoch
            self.encode(sample_prompt, name_unknown=False)
        self._state: dict[str, Any] = {}  # per stage: the state to continue from
        # (The model is called through these, which the base class's compile does not reach.)
        compiled = torch.compile if self.hparams.compile else (lambda f: f)
        self._forward_with_state = compiled(self.model.forward_with_state)
        loss_with_state = getattr(self.model, "loss_with_state", None)
        self._loss_with_state = None if loss_with_state is None else compiled(loss_with_state)

    def check_model(self, model) -> None:
        require(model, self.name, "forward_with_state", call="forward_with_state(ids, state) -> (logits, state)")

    def example_input(self, datamodule: Any) -> torch.Tensor | None:
        ids = getattr(datamodule, "split_ids", {}).get("train")
        return None if ids is None else ids[: datamodule.seq_len][None].long()

    def make_metrics(self) -> dict[str, Metric]:
        return {"acc": TokenAccuracy(self.vocab_size, average="micro", validate_args=False)}

    def count_samples(self, batch: Any) -> int:
        return batch[0].numel()  # tokens

    def loss_and_outputs(self, batch):
        x, y, continues = batch
        stage = "train" if self.training else "eval"
        state = self._state.get(stage) if (self.carry_state and continues) else None
        if state is not None and state[0].device != x.device:  # restored from a checkpoint
            state = tuple(s.to(x.device) for s in state)
        if self._loss_with_state is not None:
            loss, logits, state = self._loss_with_state(x, y, state)  # (logits None: adaptive softmax)
        else:
            logits, state = self._forward_with_state(x, state)  # scores over the whole vocabulary
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        # Keep the values, drop the graph: the next batch starts from here without back-propagating
        # into this one.
        self._state[stage] = tuple(s.detach() for s in state)
        return loss, logits, y

    def epoch_extras(self, stage: str, values: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        loss = values[f"{stage}_loss"]
        extras = {f"{stage}_ppl": torch.exp(loss)}
        if self.level == "char":
            extras[f"{stage}_bpc"] = loss / math.log(2)
        return extras

    # --- text in, text out -------------------------------------------------------------------
    def encode(self, text: str, name_unknown: bool = True) -> torch.Tensor:
        """Token ids (1-D LongTensor), split as the training text was. Unknown tokens map to ``<unk>`` if
        the vocabulary has it (each named once, in one line on stderr, unless ``name_unknown`` is
        false), else fail."""
        tokens = tokenize(text, self.level, self.tokenizer, self.lowercase)
        if self.level == "word" and tokens and not text.endswith("\n"):
            tokens = tokens[:-1]  # tokenize() ends every line; an unfinished prompt line has no end yet
        unknown = [t for t in dict.fromkeys(tokens) if t not in self.index]
        if unknown and UNK not in self.index:
            shown = ", ".join(repr(t) for t in sorted(unknown)[:10])
            raise UsageError(f"not in the model's vocabulary: {shown} (it was built from the training text)")
        new = [t for t in unknown if t not in self._named]
        if new and name_unknown:
            self._named.update(new)
            more = f" and {len(new) - 10} more" if len(new) > 10 else ""
            shown = ", ".join(repr(t) for t in new[:10])
            note(f"zoo: not in the model's vocabulary, read as {UNK}: {shown}{more}")
        unk = self.index.get(UNK)
        return torch.tensor([self.index.get(t, unk) for t in tokens], dtype=torch.long)

    def nats_per_token(self, text: str, lanes: int = 16) -> float:
        """Mean cross-entropy on ``text`` in nats per token (``stream_loss``): per character at char level."""
        return stream_loss(self.model, self.encode(text, name_unknown=False), lanes=lanes)

    def decode(self, ids: torch.Tensor | list[int]) -> str:
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        return detokenize([self.vocab[i] for i in ids], self.level, self.tokenizer)

    @torch.no_grad()
    def generate(
        self,
        prompt: str = "",
        length: int = 200,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
    ) -> str:
        """Continue ``prompt`` by ``length`` tokens, sampling from softmax(logits / temperature), only
        among the ``top_k`` likeliest if given. Pass a seeded ``torch.Generator`` to repeat a sample."""
        if not temperature > 0:  # (NaN too)
            raise UsageError(f"temperature must be > 0, got {temperature}")
        if top_k is not None and top_k < 1:
            raise UsageError(f"top_k must be >= 1, got {top_k}")
        was_training = self.training
        self.eval()
        ids = self.encode(prompt, name_unknown=self.echo)
        if len(ids) == 0:
            # No prompt: start as if at a line's start (after a line break, or <eos> at word level), where
            # the model has seen texts begin; a random first token is often a rare symbol.
            start = self.index.get(EOS if self.level == "word" else "\n")
            if start is None:  # (a text without line breaks)
                ids = torch.randint(self.vocab_size, (1,), generator=generator)
            else:
                ids = torch.tensor([start])
        device = next(self.parameters()).device
        logits, state = self.model.forward_with_state(ids.to(device)[None], None)
        out = []
        for _ in range(length):
            scores = logits[0, -1].float().cpu() / temperature
            if top_k is not None and top_k < len(scores):
                cutoff = torch.topk(scores, top_k).values[-1]
                scores = scores.masked_fill(scores < cutoff, -math.inf)
            token = torch.multinomial(torch.softmax(scores, dim=0), 1, generator=generator)
            out.append(int(token))
            logits, state = self.model.forward_with_state(token.to(device)[None], state)
        self.train(was_training)
        text = self.decode(out)
        if self.level == "char" or not prompt or prompt.endswith((" ", "\n")):
            return prompt + text
        opened = prompt.endswith(("(", "[", "{", "$"))
        if self.tokenizer == "words" and out and (attaches(self.vocab[out[0]]) or opened):
            return prompt + text  # "Hello" + "," reads "Hello,"
        return prompt + " " + text

    def on_fit_start(self) -> None:
        if self.echo and self.vocab_report and self.trainer.is_global_zero:
            report = self.vocab_report
            if self.level == "word" or any(report["unk"].values()):
                note(vocabulary_line(report, self.level))

    def write_artifacts(self, run_dir: Path, held_out: str = "test") -> dict[str, Any]:
        return {"vocabulary": self.vocab_report} if self.vocab_report else {}

    def on_train_epoch_end(self) -> None:
        super().on_train_epoch_end()
        if self.sample_temperatures and self.trainer.is_global_zero:
            # As Keras' lstm_text_generation example does: watch the model learn to write.
            # Shown as it comes to watch it live (stderr on a terminal, the fit's display in a notebook),
            # and into samples.txt in the run directory to read later.
            log_dir = self.trainer.log_dir
            for temperature in self.sample_temperatures:
                # A stream of its own: sampling must not move the one dropout draws from, or a
                # resumed run would diverge from the uninterrupted one.
                generator = torch.Generator().manual_seed(self.current_epoch)
                text = self.generate(self.sample_prompt, self.sample_length, temperature, generator=generator)
                block = f"--- epoch {self.current_epoch}, temperature {temperature} ---\n{text}\n"
                if self.echo:
                    note(block)
                if log_dir is not None:
                    with open(Path(log_dir) / "samples.txt", "a", encoding="utf-8") as f:
                        f.write(block + "\n")

    def on_train_epoch_start(self) -> None:
        super().on_train_epoch_start()
        self._state.pop("train", None)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_save_checkpoint(checkpoint)
        if "train" in self._state:
            checkpoint["zoo_carried_state"] = [t.cpu() for t in self._state["train"]]

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        if self.resuming_fit and "zoo_carried_state" in checkpoint:  # resumed mid-epoch: the lanes go on from here
            self._state["train"] = tuple(checkpoint["zoo_carried_state"])

    def on_validation_epoch_start(self) -> None:
        self._state.pop("eval", None)

    def on_test_epoch_start(self) -> None:
        self._state.pop("eval", None)
