"""Recurrent language model: embedding -> LSTM -> linear, predicting the next token at every position.

LSTM: Hochreiter & Schmidhuber (1997), "Long short-term memory". The language-model layout and the
dropout between layers follow Zaremba, Sutskever & Vinyals (2014), "Recurrent neural network
regularization" (PyTorch's word_language_model example); character level as in Karpathy's char-rnn.
Weight tying (the output layer reuses the embedding matrix): Press & Wolf (2017), Inan et al. (2017).
The forget gate's bias starts at 1 (Gers, Schmidhuber & Cummins 2000; Jozefowicz, Zaremba & Sutskever
2015), as Keras does by default (``unit_forget_bias=True``): the cell remembers until it learns to forget.
``weight_init="keras"`` starts the other weights as Keras' LSTM layer does (glorot-uniform input kernel,
orthogonal recurrent kernel after Saxe, McClelland & Ganguli 2014, zero biases) instead of torch's
uniform(+-1/sqrt(hidden_size)); in 2,500-step runs of the Shakespeare recipe the two score the same
(1.538 and 1.539 nats/char, each at its best checkpoint, the end of the second epoch).

A large vocabulary (words) makes the output layer the model's cost: every position scores every word.
``softmax="adaptive"`` uses torch's ``nn.AdaptiveLogSoftmaxWithLoss`` (Grave, Joulin, Cissé, Grangier &
Jégou 2017, "Efficient softmax approximation for GPUs"): a head scores the most frequent words and one
entry per cluster of rarer ones, and a cluster's own, narrower layer (``hidden_size / div_value**k``)
runs only for the positions whose target is in it. It is an exact distribution over the whole
vocabulary, not a sampled approximation: ``forward_with_state`` returns its log-probabilities over
every word (for generation); training and evaluation call ``loss_with_state``, which scores only the
head and the target's cluster and still gives the target's exact log-probability under the whole
vocabulary's distribution (a cluster's probabilities are normalised within it), so validation and
test perplexities are exact full-vocabulary perplexities (tests/test_words.py checks). Ids must be in
order of decreasing frequency (the data's vocabulary is); the cut-offs come from the training counts
(``frequency_cutoffs``) unless given. ``softmax="auto"`` (default) is adaptive from
``ADAPTIVE_FROM`` words up when the counts are known, full below.
With ``tie_weights`` and adaptive softmax the input embeddings are the output layer's own vectors
(adaptive input, Baevski & Auli 2019, "Adaptive input representations for neural language modeling"):
a frequent word's embedding is its row of the head, a rarer word's is its row of its cluster's output
matrix, projected up by that cluster's input projection (transposed). The embedding table then costs
no parameters of its own, and rare words get the narrow vectors their few occurrences can train.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from zoo.registry import register_model

State = tuple[torch.Tensor, torch.Tensor]  # (h, c), each (num_layers, B, hidden_size)

# softmax="auto" turns adaptive from this vocabulary size up. Below it a full output layer costs about
# what the LSTM itself does (5,000 x 256 multiply-adds a position against 4 x 256 x 512 for a 1x256
# LSTM), so there is little to save; at Brown's 28,593 words it is most of a step (scripts/bench_words.py).
ADAPTIVE_FROM = 5000


def frequency_cutoffs(counts: Sequence[int], coverage: Sequence[float] = (0.8, 0.95)) -> list[int]:
    """Adaptive softmax's cut-offs from token counts in decreasing order: the head holds the most
    frequent words that together make ``coverage[0]`` of the text, the first cluster the next ones up
    to ``coverage[1]``, the last cluster the rest (Grave et al. put most of the text in the head and
    the long tail of rare words in small, cheap clusters)."""
    total, running, cutoffs, goals = sum(counts), 0, [], list(coverage)
    for i, count in enumerate(counts):
        running += count
        while goals and running >= goals[0] * total:
            goals.pop(0)
            if 0 < i + 1 < len(counts) and (not cutoffs or cutoffs[-1] < i + 1):
                cutoffs.append(i + 1)
    return cutoffs or [max(1, len(counts) // 2)]


@register_model("lstm", task="language_model", data="text")
class LSTMLanguageModel(nn.Module):
    def __init__(
        self,
        *,
        vocab_size: int,
        embed_dim: int = 64,
        hidden_size: int = 256,
        num_layers: int = 1,
        dropout: float = 0.0,
        tie_weights: bool = False,
        forget_bias: float = 1.0,
        weight_init: Literal["torch", "keras"] = "torch",
        softmax: Literal["auto", "full", "adaptive"] = "auto",
        cutoffs: list[int] | None = None,
        div_value: float = 4.0,
        token_counts: list[int] | None = None,
    ):
        super().__init__()
        if vocab_size < 2:
            raise ValueError(f"vocab_size must be at least 2, got {vocab_size}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if num_layers < 1 or hidden_size < 1 or embed_dim < 1:
            raise ValueError("num_layers, hidden_size and embed_dim must be positive")
        if weight_init not in ("torch", "keras"):
            raise ValueError(f"weight_init must be 'torch' or 'keras', got {weight_init!r}")
        if softmax not in ("auto", "full", "adaptive"):
            raise ValueError(f"softmax must be 'auto', 'full' or 'adaptive', got {softmax!r}")
        if tie_weights and embed_dim != hidden_size:
            raise ValueError(f"tie_weights needs embed_dim == hidden_size, got {embed_dim} and {hidden_size}")
        if token_counts is not None and len(token_counts) != vocab_size:
            raise ValueError(f"token_counts has {len(token_counts)} entries for a vocabulary of {vocab_size}")
        known = token_counts is not None
        self.adaptive = softmax == "adaptive" or (
            softmax == "auto" and (cutoffs is not None or (known and vocab_size >= ADAPTIVE_FROM))
        )
        if self.adaptive and cutoffs is None:
            if not known:
                raise ValueError("softmax 'adaptive' needs cutoffs, or the tokens' counts to choose them from")
            if any(a < b for a, b in zip(token_counts, token_counts[1:])):
                raise ValueError("adaptive softmax needs token ids in order of decreasing frequency")
            cutoffs = frequency_cutoffs(token_counts)
        # (tied adaptive softmax: no table of its own, see embed_ids)
        self.embed = None if self.adaptive and tie_weights else nn.Embedding(vocab_size, embed_dim)
        self.drop = nn.Dropout(dropout)
        self.lstm = nn.LSTM(
            embed_dim, hidden_size, num_layers, batch_first=True, dropout=dropout if num_layers > 1 else 0.0
        )
        if self.adaptive:
            for k in range(1, len(cutoffs) + 1):  # (torch would build a cluster of width 0)
                if hidden_size // div_value**k < 1:
                    raise ValueError(
                        f"hidden_size {hidden_size} / div_value {div_value}**{k} leaves cluster {k} no "
                        f"dimensions: use fewer cutoffs ({list(cutoffs)}) or a smaller div_value"
                    )
            self.head = nn.AdaptiveLogSoftmaxWithLoss(hidden_size, vocab_size, list(cutoffs), div_value=div_value)
        else:
            self.head = nn.Linear(hidden_size, vocab_size)
            if tie_weights:
                self.head.weight = self.embed.weight
        with torch.no_grad():  # gates are stacked (input, forget, cell, output) in each bias vector
            for name, param in self.lstm.named_parameters():
                if weight_init == "keras" and name.startswith("weight_ih"):
                    nn.init.xavier_uniform_(param)  # Keras' glorot_uniform input kernel
                elif weight_init == "keras" and name.startswith("weight_hh"):
                    nn.init.orthogonal_(param)  # Keras' orthogonal recurrent kernel
                elif name.startswith("bias_"):
                    if weight_init == "keras":
                        param.zero_()
                    param[hidden_size : 2 * hidden_size] = forget_bias / 2  # bias_ih + bias_hh = forget_bias

    def embed_ids(self, ids: torch.Tensor) -> torch.Tensor:
        """Input vectors (B, T, embed_dim): the embedding table's rows, or with tied adaptive softmax the
        output layer's own vectors (adaptive input)."""
        if self.embed is not None:
            return self.embed(ids)
        asm = self.head
        # Frequent words: their rows of the head (ids past the shortlist take a stand-in row, replaced below).
        x = F.embedding(ids.clamp(max=asm.shortlist_size - 1), asm.head.weight)  # (B, T, H)
        for k, (project, output) in enumerate(asm.tail):
            low, high = asm.cutoffs[k], asm.cutoffs[k + 1]
            rows = (ids >= low) & (ids < high)
            if rows.any():
                # a word of cluster k: its row of the cluster's output matrix (d_k), back up to H
                vectors = F.embedding(ids[rows] - low, output.weight) @ project.weight  # (n, H)
                x = x.index_put((rows,), vectors)
        return x

    def features_with_state(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """The LSTM's output at every position (what the output layer reads) and the state after the last."""
        # ids: (B, T) token ids
        x = self.drop(self.embed_ids(ids))  # (B, T, embed_dim)
        out, state = self.lstm(x, state)  # (B, T, hidden_size)
        return self.drop(out), state

    def forward_with_state(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """Scores over the whole vocabulary (logits; adaptive softmax: log-probabilities) and the LSTM
        state after the last position, to continue from in the next call."""
        out, state = self.features_with_state(ids, state)  # (B, T, hidden_size)
        if self.adaptive:
            B, T, H = out.shape
            return self.head.log_prob(out.reshape(B * T, H)).view(B, T, -1), state  # (B, T, vocab_size)
        return self.head(out), state  # (B, T, vocab_size)

    def loss_with_state(
        self, ids: torch.Tensor, targets: torch.Tensor, state: State | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None, State]:
        """Mean cross-entropy of ``targets`` (B, T) in nats, the logits (None with adaptive softmax,
        which scores only each target's cluster) and the state: what training calls."""
        out, state = self.features_with_state(ids, state)  # (B, T, hidden_size)
        if self.adaptive:
            return self.head(out.reshape(-1, out.shape[-1]), targets.reshape(-1)).loss, None, state
        logits = self.head(out)  # (B, T, vocab_size)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)), logits, state

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.forward_with_state(ids)[0]  # (B, T, vocab_size) next-token logits
