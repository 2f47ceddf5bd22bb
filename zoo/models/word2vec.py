"""Skip-gram word2vec with negative sampling: Mikolov, Sutskever, Chen, Corrado & Dean (2013),
"Distributed representations of words and phrases and their compositionality" (NeurIPS), and the
original C implementation's training procedure, which gensim follows.

Two tables of ``dim``-vectors: ``input`` (the word vectors people use; word2vec.c's syn0) and
``output`` (context vectors; syn1neg). ``forward`` scores candidate context words for centre words,
which is all a generic training loop or a test needs. Training at speed does not go through
autograd: ``zoo/nn/skipgram.py`` applies word2vec's closed-form updates to these two tables directly.
"""

from __future__ import annotations

import torch
from torch import nn

from zoo.registry import register_model


@register_model("word2vec", task="skipgram", data="corpus")
class SkipGram(nn.Module):
    def __init__(self, *, vocab_size: int, dim: int = 100):
        super().__init__()
        if vocab_size < 1:
            raise ValueError(f"vocab_size must be positive, got {vocab_size}")
        if not 1 <= dim <= 10_000:
            raise ValueError(f"dim must be between 1 and 10000, got {dim}")
        self.input = nn.Embedding(vocab_size, dim)
        self.output = nn.Embedding(vocab_size, dim)
        with torch.no_grad():  # small random word vectors, zero context vectors
            # U(-1/dim, 1/dim), as gensim 4 initialises them (word2vec.c used half that range)
            self.input.weight.uniform_(-1.0 / dim, 1.0 / dim)
            self.output.weight.zero_()

    def forward(self, centers: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        # centers: (B,) word ids; candidates: (B, K) context word ids
        v = self.input(centers)  # (B, dim)
        u = self.output(candidates)  # (B, K, dim)
        return torch.einsum("bd,bkd->bk", v, u)  # (B, K) logits: sigmoid gives P(context | center)
