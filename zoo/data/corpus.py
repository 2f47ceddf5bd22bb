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
import multiprocessing
import os
import re
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

from zoo import console
from zoo.data.base import ResumableLoader, quiet_loader
from zoo.data.text import default_corpus
from zoo.errors import DataError, UsageError
from zoo.registry import register_dataset
from zoo.rundir import available_cores

TOKENIZERS = ("simple_preprocess", "whitespace", "lowercase")


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


# gensim's simple_preprocess (lowercase, runs of letters without digits, 2-15 characters, none starting
# with "_"), written so one regular-expression call covers a whole block of lines: per line, Python's
# per-call overhead took two thirds of the time. "\n" matches are the line ends. (Equal to gensim's
# output word for word: tests/test_word2vec.py compares them.)
WORDS_AND_LINE_ENDS = re.compile(r"[^\W\d]+|\n")


def tokenize_block(text: str, tokenizer_name: str) -> list[list[str]]:
    """The words of each line of ``text`` (whole lines, ending with "\n" but perhaps the last)."""
    if tokenizer_name == "simple_preprocess":
        lines, line = [], []
        for token in WORDS_AND_LINE_ENDS.findall(text.lower()):
            if token == "\n":
                lines.append(line)
                line = []
            elif 2 <= len(token) <= 15 and token[0] != "_":
                line.append(token)
        return lines + [line] if line or not text.endswith("\n") else lines
    if tokenizer_name == "lowercase":
        text = text.lower()
    return [line.split() for line in text.split("\n")[: -1 if text.endswith("\n") else None]]


def next_line_start(f, size: int) -> int:
    """Where the line after ``f``'s position starts (``size`` past the last one), read 64 KB at a time:
    a corpus may be one line of a gigabyte."""
    while block := f.read(1 << 16):
        if (end := block.find(b"\n")) >= 0:
            return f.tell() - len(block) + end + 1
    return size


def segments(files: list[Path], parts: int) -> list[list[tuple[Path, int, int]]]:
    """The corpus cut into ``parts`` runs of whole lines, in order: [(file, start byte, end byte), ...] each."""
    total = sum(f.stat().st_size for f in files)
    cuts = [total * k // parts for k in range(1, parts)]
    out: list[list[tuple[Path, int, int]]] = [[] for _ in range(parts)]
    offset, part = 0, 0
    for file in files:
        size, start = file.stat().st_size, 0
        with open(file, "rb") as f:
            while part < parts - 1 and cuts[part] < offset + size:
                f.seek(max(start, cuts[part] - offset))
                end = next_line_start(f, size)
                out[part].append((file, start, end))
                start, part = end, part + 1
        out[part].append((file, start, size))
        offset += size
    return out


# Text is read this many bytes at a time: memory stays bounded whatever the length of a line.
BLOCK_BYTES = 1 << 20
WHITESPACE = (b" ", b"\t", b"\r", b"\x0b", b"\x0c")


def cut_point(data: bytes) -> int:
    """Where to end a block of text read from a file: after its last line end; in a line longer than a
    block, after its last white space (no word spans a space); in a block without either (a megabyte
    without a space), at a character boundary."""
    if (end := data.rfind(b"\n")) >= 0:
        return end + 1
    if (space := max(data.rfind(c) for c in WHITESPACE)) >= 0:
        return space + 1
    end = len(data) - 1  # before the last character's first byte: it may not be whole yet (UTF-8)
    while end > len(data) - 4 and end > 0 and data[end] & 0xC0 == 0x80:
        end -= 1
    return end if end > 0 else len(data)


def tokenize_part(job: tuple[list[tuple[Path, int, int]], str, int, Path]) -> tuple[list[str], np.ndarray, int]:
    """One worker's share: its lines' words as ids of its own (first seen, first numbered) into
    ``PREFIX.i32``, each sentence's length into ``PREFIX.len``; returns its words and their counts.

    The text is read ``BLOCK_BYTES`` at a time, each block ending at a line end, or, in a longer line, at
    a space: a line's words may come from several blocks, and its sentences (``max_sentence_length``
    words each, then the rest) are cut as they come."""
    part, tokenizer_name, max_sentence_length, prefix = job
    ids: dict[str, int] = {}
    counts = np.zeros(0, dtype=np.int64)
    with open(f"{prefix}.i32", "wb") as raw, open(f"{prefix}.len", "wb") as lengths:
        for file, start, end in part:
            with open(file, "rb") as f:
                f.seek(start)
                position, carry = start, b""  # carry: the start of a line the last block cut
                open_sentence = 0  # words of the line's current sentence already written
                while position < end:
                    block = f.read(min(BLOCK_BYTES, end - position))
                    position += len(block)
                    data = carry + block
                    cut = cut_point(data) if position < end else len(data)
                    text = decode_block(file, data[:cut], position - len(data))
                    carry = data[cut:]
                    lines = tokenize_block(text, tokenizer_name)
                    continues = position < end and not text.endswith("\n")  # (its last line goes on)
                    tokens, sentence_lengths = array("i"), array("q")
                    for k, words in enumerate(lines):
                        tokens.extend([ids.setdefault(word, len(ids)) for word in words])  # new word: next id
                        open_sentence += len(words)
                        while open_sentence >= max_sentence_length:
                            sentence_lengths.append(max_sentence_length)
                            open_sentence -= max_sentence_length
                        if open_sentence and not (continues and k == len(lines) - 1):
                            sentence_lengths.append(open_sentence)
                            open_sentence = 0
                    block_ids = np.frombuffer(tokens, dtype=np.int32)
                    block_ids.tofile(raw)
                    added = np.bincount(block_ids, minlength=len(ids))  # counted per block, not per word
                    added[: len(counts)] += counts
                    counts = added
                    sentence_lengths.tofile(lengths)
    return list(ids), counts, int(counts.sum())


def default_signals() -> None:
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


# How long the tokenising processes may take beyond ~1 s a MB before they count as stalled (see below).
STALL_SECONDS = 120


def tokenize_parts(jobs: list, workers: int, size: int) -> list[tuple[list[str], np.ndarray, int]]:
    """``tokenize_part`` of every job, by ``workers`` forked processes at once (spawn would import torch
    again in each). A process forked from one that runs other threads can inherit a lock one of them
    held at that moment and wait on it for ever (seen once in a test worker, among pytest-xdist's
    threads): a pool that has not finished well after the time tokenising takes (~1 MB a second at the
    slowest, plus two minutes) is stopped, and the parts are tokenised here instead, one after another."""
    if workers <= 1:
        return [tokenize_part(job) for job in jobs]
    # (each child takes the default SIGTERM/SIGINT actions: a handler inherited from the parent, such as
    # Lightning's, only logs, and would keep a child alive through the pool's terminate())
    pool = multiprocessing.get_context("fork").Pool(workers, initializer=default_signals)
    try:
        return pool.map_async(tokenize_part, jobs).get(timeout=STALL_SECONDS + size / 1e6)
    except multiprocessing.TimeoutError:
        console.note("zoo: the tokenising processes stalled; tokenising in this process instead")
        return [tokenize_part(job) for job in jobs]
    finally:
        pool.terminate()
        pool.join()


def decode_block(file: Path, block: bytes, position: int) -> str:
    """UTF-8 text of a block of whole lines; binary or non-UTF-8 input named with its line number."""
    bad, reason = block.find(b"\x00"), "looks binary (NUL bytes on line {line}), not text"
    if bad < 0:
        try:
            # (a byte-order mark at a file's start is not part of its first word)
            return block.decode("utf-8-sig" if position == 0 else "utf-8")
        except UnicodeDecodeError as err:
            bad = err.start
            reason = f"line {{line}} is not UTF-8 (byte 0x{block[bad]:02x}); re-encode the corpus as UTF-8"
    line = block[:bad].count(b"\n") + 1
    with open(file, "rb") as f:
        for start in range(0, position, BLOCK_BYTES):  # (the lines before, a block at a time)
            line += f.read(min(BLOCK_BYTES, position - start)).count(b"\n")
    raise DataError(f"{file} " + reason.format(line=line))


def build_cache(
    files: list[Path], folder: Path, tokenizer_name: str, max_sentence_length: int, workers: int | None = None
) -> None:
    """Tokenise ``files`` into ``folder`` (written to a temporary folder, renamed into place at the end).

    The corpus is cut into one run of lines per core (unless it is small), tokenised by that many
    processes at once, each numbering the words it meets; the runs are then joined in order, the ids
    renumbered by frequency, so the cache is the same however many worked on it. Memory stays bounded
    by the vocabulary: the ids go through files, a block at a time.
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=folder.parent))
    try:
        size = sum(f.stat().st_size for f in files)
        if workers is None:  # (a process costs ~0.1 s to start: worth it from a few MB of text)
            cores = available_cores()
            workers = max(1, min(cores, size // (4 << 20)))
        jobs = [
            (part, tokenizer_name, max_sentence_length, work / f"part{k}")
            for k, part in enumerate(segments(files, workers))
        ]
        results = tokenize_parts(jobs, workers, size)
        # One numbering for the whole corpus: each part's words take the next free ids in the order the
        # part met them, as one process reading the corpus in order would have numbered them.
        ids: dict[str, int] = {}
        local_to_global = [
            np.array([ids.setdefault(w, len(ids)) for w in words], dtype=np.int32) for words, _, _ in results
        ]
        counts = np.zeros(len(ids), dtype=np.int64)
        for mapping, (_, part_counts, _) in zip(local_to_global, results):
            np.add.at(counts, mapping, part_counts)
        if not counts.sum():
            raise DataError(f"the corpus has no words ({', '.join(str(f) for f in files[:3])})")
        # Renumber by frequency (stable: ties keep first-seen order), so vocabularies are id prefixes.
        order = np.argsort(-counts, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        rank = rank.astype(np.int32)
        written = 0
        with open(work / "tokens.i32", "wb") as out, open(work / "sentences.i64", "wb") as sentences:
            np.zeros(1, dtype=np.int64).tofile(sentences)
            for (_, _, _, prefix), mapping in zip(jobs, local_to_global):
                final = rank[mapping]  # this part's ids -> frequency ranks
                with open(f"{prefix}.i32", "rb") as raw:
                    for block in iter(lambda: raw.read(4 << 20), b""):
                        final[np.frombuffer(block, dtype=np.int32)].tofile(out)
                with open(f"{prefix}.len", "rb") as part_lengths:
                    for block in iter(lambda: part_lengths.read(4 << 20), b""):
                        ends = written + np.cumsum(np.frombuffer(block, dtype=np.int64))
                        ends.tofile(sentences)  # where each sentence ends
                        written = int(ends[-1])
                Path(f"{prefix}.i32").unlink()
                Path(f"{prefix}.len").unlink()
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


WIKIPEDIA_SAMPLE = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"


def wikipedia_sample(cache_root: Path) -> Path:
    """The English Wikipedia sample that ships inside gensim (106 articles of the 2017 dump, 453,000
    words; CC BY-SA 3.0), as plain text, one article a line, in the words gensim's WikiCorpus extracts
    (lowercase, markup removed). Extracted once into the cache (about 10 s), atomically."""
    from gensim.corpora.wikicorpus import WikiCorpus
    from gensim.test.utils import datapath

    path = cache_root / "wikipedia-sample.txt"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        work = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            wiki = WikiCorpus(datapath(WIKIPEDIA_SAMPLE), dictionary={}, processes=1)
            with open(work, "w", encoding="utf-8") as f:
                for words in wiki.get_texts():
                    f.write(" ".join(words) + "\n")
            os.replace(work, path)
        finally:
            work.unlink(missing_ok=True)
    return path


@register_dataset("wikipedia_sample")
class WikipediaSampleDataModule(CorpusDataModule):
    """Word vectors from the English Wikipedia sample gensim ships (``wikipedia_sample``): about 453,000
    words, enough for vectors that say something (the shipped ``word2vec:wikipedia-sample`` weights),
    and, like all Wikipedia text, CC BY-SA 3.0: the vectors may be shared with attribution."""

    def __init__(self, *, tokenizer: Literal["simple_preprocess", "whitespace", "lowercase"] = "whitespace", **kwargs):
        super().__init__(tokenizer=tokenizer, **kwargs)  # (the text is tokenised already: whitespace keeps it)

    def prepare_data(self) -> None:
        if self.path is None:
            self.path = wikipedia_sample(self.cache_root)
        super().prepare_data()
