"""A corpus for word vectors, streamed from disk so memory does not grow with the corpus.

The text is read once and turned into token ids in a cache folder keyed by a hash of the files and the
tokenizer (``~/.cache/zoo/corpus/<key>/`` unless ``cache_dir`` says otherwise):

- ``tokens.i32``: every token's id, the ids numbered by frequency (0 = the most frequent word),
- ``sentences.i64``: where each sentence (a line, split at ``max_sentence_length`` words as gensim
  does) starts, and the end of the last one,
- ``vocab.tsv``: word and count per id.

Building it holds only the vocabulary in memory; training reads one chunk of about ``batch_words``
tokens at a time. Because ids follow frequency, ``min_count`` and ``max_vocab_size`` keep a prefix of
the ids, and out-of-vocabulary tokens are the ids past it (dropped from sentences before windowing,
as gensim drops them).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from zoo.data.base import ResumableLoader, quiet_loader
from zoo.data.text import default_corpus
from zoo.errors import DataError, UsageError
from zoo.registry import register_dataset

TOKENIZERS = ("simple_preprocess", "whitespace", "lowercase")


def tokenizer(name: str):
    if name == "simple_preprocess":
        from gensim.utils import simple_preprocess

        return simple_preprocess
    return str.split if name == "whitespace" else (lambda line: line.lower().split())


def corpus_files(path: Path) -> list[Path]:
    if not path.exists():
        raise DataError(f"corpus not found: {path}")
    files = sorted(p for p in path.rglob("*.txt") if p.is_file()) if path.is_dir() else [path]
    if not files:
        raise DataError(f"no .txt files in {path}")
    return files


def cache_key(files: list[Path], tokenizer_name: str, max_sentence_length: int) -> str:
    digest = hashlib.sha256(f"{tokenizer_name}:{max_sentence_length}".encode())
    for file in files:
        digest.update(file.name.encode())
        with open(file, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:20]


def build_cache(files: list[Path], folder: Path, tokenizer_name: str, max_sentence_length: int) -> None:
    """Tokenise ``files`` into ``folder`` (written to a temporary folder, renamed into place at the end)."""
    tokenize = tokenizer(tokenizer_name)
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=folder.parent))
    try:
        ids: dict[str, int] = {}
        counts = np.zeros(0, dtype=np.int64)
        tokens, starts = array("i"), array("q", [0])
        written = 0

        def flush_tokens(raw) -> np.ndarray:
            block = np.frombuffer(tokens, dtype=np.int32)
            block.tofile(raw)
            added = np.bincount(block, minlength=len(ids))  # counting per block, not per word in Python
            added[: len(counts)] += counts
            return added

        with open(work / "raw.i32", "wb") as raw, open(work / "sentences.i64", "wb") as sentences:
            for file in files:
                with open(file, "rb") as f:
                    for number, line in enumerate(f, start=1):
                        if b"\x00" in line:
                            raise DataError(f"{file} looks binary (NUL bytes on line {number}), not text")
                        try:
                            # (a byte-order mark at a file's start is not part of its first word)
                            text = line.decode("utf-8-sig" if number == 1 else "utf-8")
                        except UnicodeDecodeError as err:
                            raise DataError(
                                f"{file} line {number} is not UTF-8 (byte 0x{line[err.start]:02x}); "
                                "re-encode the corpus as UTF-8"
                            ) from None
                        words = tokenize(text)
                        for begin in range(0, len(words), max_sentence_length):
                            piece = words[begin : begin + max_sentence_length]
                            tokens.extend([ids.setdefault(word, len(ids)) for word in piece])  # new word: next id
                            written += len(piece)
                            starts.append(written)
                        if len(tokens) > 1 << 20:  # flush: memory stays bounded by the vocabulary
                            counts = flush_tokens(raw)
                            tokens = array("i")
                        if len(starts) > 1 << 16:
                            starts[:-1].tofile(sentences)
                            starts = array("q", [starts[-1]])
            counts = flush_tokens(raw)
            starts.tofile(sentences)
        if not len(counts):
            raise DataError(f"the corpus has no words ({', '.join(str(f) for f in files[:3])})")
        # Renumber by frequency (stable: ties keep first-seen order), so vocabularies are id prefixes.
        order = np.argsort(-counts, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        rank = rank.astype(np.int32)
        with open(work / "raw.i32", "rb") as raw, open(work / "tokens.i32", "wb") as out:
            for block in iter(lambda: raw.read(4 << 20), b""):
                rank[np.frombuffer(block, dtype=np.int32)].tofile(out)
        (work / "raw.i32").unlink()
        words = list(ids)
        with open(work / "vocab.tsv", "w", encoding="utf-8") as f:
            for i in order:
                f.write(f"{words[i]}\t{counts[i]}\n")
        try:
            os.replace(work, folder)  # atomic: a cache folder is complete or absent
        except OSError:
            if not folder.is_dir():
                raise
            shutil.rmtree(work, ignore_errors=True)  # another process built the same cache meanwhile
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


class CorpusChunks(Dataset):
    """Chunk ``c`` -> ``(tokens, bounds)``: in-vocabulary token ids (int32) of whole sentences, and
    where each sentence starts within them (int64, one more entry than sentences)."""

    def __init__(self, folder: Path, vocab_size: int, chunks: np.ndarray):
        self.folder, self.vocab_size, self.chunks = folder, vocab_size, chunks

    def __len__(self) -> int:
        return len(self.chunks)

    def __getitem__(self, c: int) -> tuple[torch.Tensor, torch.Tensor]:
        first_sentence, last_sentence = self.chunks[c]
        starts = np.fromfile(
            self.folder / "sentences.i64",
            dtype=np.int64,
            count=last_sentence - first_sentence + 1,
            offset=8 * first_sentence,
        )
        tokens = np.fromfile(
            self.folder / "tokens.i32", dtype=np.int32, count=starts[-1] - starts[0], offset=4 * starts[0]
        )
        known = tokens < self.vocab_size
        kept_before = np.concatenate([[0], np.cumsum(known)])
        bounds = kept_before[starts - starts[0]]
        return torch.from_numpy(tokens[known]), torch.from_numpy(bounds)


class ChunkOrder(Sampler[int]):
    """The chunks in corpus order (as gensim reads a corpus); under DDP each process takes every
    ``world_size``-th chunk."""

    def __init__(self, n: int, rank: int = 0, world_size: int = 1):
        self.n, self.rank, self.world_size = n, rank, world_size

    def __iter__(self) -> Iterator[int]:
        return iter(
            range(self.rank, self.n - (self.n % self.world_size if self.world_size > 1 else 0), self.world_size)
        )

    def __len__(self) -> int:
        return self.n // self.world_size


@register_dataset("corpus")
class CorpusDataModule(L.LightningDataModule):
    """A text file or a folder of ``.txt`` files, one sentence a line, for word vectors."""

    def __init__(
        self,
        *,
        path: str | None = None,
        tokenizer: Literal["simple_preprocess", "whitespace", "lowercase"] = "simple_preprocess",
        min_count: int = 5,
        max_vocab_size: int | None = None,
        batch_words: int = 100_000,
        max_sentence_length: int = 10_000,
        cache_dir: str | None = None,
    ):
        super().__init__()
        if min_count < 1:
            raise UsageError(f"data.min_count must be >= 1, got {min_count}")
        if max_vocab_size is not None and max_vocab_size < 1:
            raise UsageError(f"data.max_vocab_size must be >= 1, got {max_vocab_size}")
        if batch_words < 1 or max_sentence_length < 1:
            raise UsageError("data.batch_words and data.max_sentence_length must be positive")
        self.path = Path(path).expanduser() if path else None
        self.tokenizer, self.min_count, self.max_vocab_size = tokenizer, min_count, max_vocab_size
        self.batch_words, self.max_sentence_length = batch_words, max_sentence_length
        self.cache_root = Path(cache_dir).expanduser() if cache_dir else Path.home() / ".cache" / "zoo" / "corpus"
        self.folder: Path | None = None
        self.words: list[str] = []
        self.counts: list[int] = []

    def prepare_data(self) -> None:
        files = corpus_files(self.path or default_corpus())
        folder = self.cache_root / cache_key(files, self.tokenizer, self.max_sentence_length)
        if not folder.is_dir():
            build_cache(files, folder, self.tokenizer, self.max_sentence_length)
        self.folder = folder

    def setup(self, stage: str | None = None) -> None:
        if self.words:
            return
        if self.folder is None:
            self.prepare_data()
        words, counts = [], []
        with open(self.folder / "vocab.tsv", encoding="utf-8") as f:
            for line in f:
                word, count = line.rstrip("\n").rsplit("\t", 1)
                if int(count) < self.min_count or len(words) == (self.max_vocab_size or -1):
                    break  # ids follow frequency: the vocabulary is a prefix
                words.append(word)
                counts.append(int(count))
        if not words:
            with open(self.folder / "vocab.tsv", encoding="utf-8") as f:
                top = f.readline().rstrip("\n").rsplit("\t", 1)
            raise DataError(
                f"no word occurs data.min_count={self.min_count} times (the most frequent, {top[0]!r}, "
                f"occurs {top[1]} times); lower --data.min_count or use a larger corpus"
            )
        self.words, self.counts = words, counts
        self.chunks = self._chunk_table()

    def _chunk_table(self, batch_words: int | None = None) -> np.ndarray:
        """(first sentence, end sentence) of each chunk: whole sentences, at least ``batch_words``
        tokens (the last chunk may have fewer). Reads the sentence table in blocks, not whole."""
        batch_words = batch_words or self.batch_words
        path = self.folder / "sentences.i64"
        n_sentences = path.stat().st_size // 8 - 1
        edges, target, last_end = [0], batch_words, 0
        for block in range(0, n_sentences, 1 << 20):
            count = min(1 << 20, n_sentences - block)
            ends = np.fromfile(
                path, dtype=np.int64, count=count, offset=8 * (block + 1)
            )  # token offset after each sentence
            while (k := int(np.searchsorted(ends, target))) < count:
                edges.append(block + k + 1)
                target = int(ends[k]) + batch_words
            last_end = int(ends[-1])
        if edges[-1] < n_sentences:
            edges.append(n_sentences)
        self.corpus_words = last_end  # every token, in the vocabulary or not (gensim's "raw words")
        return np.stack([edges[:-1], edges[1:]], axis=1).astype(np.int64)

    def describe(self) -> dict[str, Any]:
        return {
            "vocab_size": len(self.words),
            "vocab": list(self.words),
            "counts": list(self.counts),
            "corpus_words": self.corpus_words,
        }

    def train_dataloader(self) -> DataLoader:
        rank, world = (self.trainer.global_rank, self.trainer.world_size) if self.trainer is not None else (0, 1)
        if len(self.chunks) < world:  # a small corpus: smaller chunks, so that every process gets one
            self.chunks = self._chunk_table(max(1, self.corpus_words // world))
        chunks = CorpusChunks(self.folder, len(self.words), self.chunks)
        return ResumableLoader(chunks, ChunkOrder(len(chunks), rank, world), self.trainer)

    def val_dataloader(self) -> DataLoader:
        return quiet_loader([0], batch_size=None)  # one step: the word-similarity benchmarks

    def test_dataloader(self) -> DataLoader:
        return quiet_loader([0], batch_size=None)
