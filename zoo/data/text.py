"""Text for language models: one token stream, split into contiguous parts, batched for truncated
back-propagation through time.

- Splits are contiguous, never shuffled across their boundaries: the first ``1 - val_split -
  test_split`` of the tokens train, the next ``val_split`` validate, the last ``test_split`` test
  (nanoGPT keeps the last 10% for validation; 0.05 + 0.05 covers the same text).
- Word level: ``tokenizer: words`` (default) splits punctuation from words, ``whitespace`` keeps every
  whitespace-separated string whole; each line ends with ``<eos>``, as in PyTorch's word_language_model.
  Case is kept unless ``lowercase: true`` (a model that writes should write capitals; lowercasing makes
  the vocabulary about 10% smaller on English text).
- The vocabulary is built from the training part only, most frequent token first (the order adaptive
  softmax needs), with ``min_count`` and ``max_vocab`` limits. Rarer tokens, and tokens that appear only
  in validation or test, map to ``<unk>``, which exists only when it is needed; how many did, per split,
  is in the ``vocab_report`` the task keeps (the run's summary, its checkpoint).
- ``stream: lanes`` (default, as in char-rnn and PyTorch's word_language_model): the training part is
  cut into ``batch_size`` contiguous lanes, and each batch is the next ``seq_len`` tokens of every
  lane, so a model can carry its state from one batch to the next. Each epoch starts the lanes at a
  new random offset, so the cut points move. ``stream: windows`` (nanoGPT): every batch is
  ``batch_size`` windows at random places. Validation and test always read their part once, in lanes.
"""

from __future__ import annotations

import gzip
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from zoo.data.base import ResumableLoader, ZooDataModule, feeds_gpu, quiet_loader
from zoo.errors import DataError, UsageError
from zoo.registry import register_dataset

UNK = "<unk>"
EOS = "<eos>"  # word level: the end of a line


# Texts shipped inside the package (zoo/data/files/), by the name --data.path or --data.name takes.
SHIPPED = {"tinyshakespeare": "tinyshakespeare.txt.gz"}


def shipped_text(name: str) -> Path:
    """The path of a text zoo ships (gzip-compressed in the package)."""
    return Path(__file__).resolve().parent / "files" / SHIPPED[name]


def default_corpus() -> Path:
    """gensim's bundled Lee news corpus (about 60,000 words): text that needs no download."""
    from gensim.test.utils import datapath

    return Path(datapath("lee_background.cor"))


def read_text(path: Path) -> str:
    """A UTF-8 file (``.gz`` ones decompressed), or every ``.txt`` file of a folder in name order;
    refuses binary and empty input."""
    files = sorted(p for p in path.rglob("*.txt") if p.is_file()) if path.is_dir() else [path]
    if path.is_dir() and not files:
        raise DataError(f"no .txt files in {path}")
    if not path.exists():
        raise DataError(f"text file not found: {path}")
    parts = []
    for file in files:
        raw = gzip.decompress(file.read_bytes()) if file.suffix == ".gz" else file.read_bytes()
        if b"\x00" in raw[:65536]:
            raise DataError(f"{file} looks binary (it contains NUL bytes), not text")
        try:
            parts.append(raw.decode("utf-8-sig"))  # (-sig: a byte-order mark is not part of the text)
        except UnicodeDecodeError as err:
            raise DataError(
                f"{file} is not UTF-8 text (byte 0x{raw[err.start]:02x} at offset {err.start}); re-encode it as UTF-8"
            ) from None
    text = "\n".join(parts)
    if not text.strip():
        raise DataError(f"{path} is empty")
    return text


# The word tokenizer ("words"): a word is a run of letters, digits and underscores, joined across an
# apostrophe or hyphen inside it (don't, over-all, rock'n'roll) or a point, comma or colon between
# digits (3.14, 1,000, 10:30); every other visible character is a token of its own, a run of the same
# one counting once (the "..." of an ellipsis, the "--" of a dash, the `` and '' of Penn-style quotes).
# "<unk>" as written in the Penn Treebank and WikiText stays one token: zoo's own <unk>.
WORD_TOKEN = re.compile(r"<unk>|\w+(?:(?:['’-]|(?<=\d)[.,:](?=\d))\w+)*|([^\w\s])\1*")
# What "words" decoding writes without a space before it (closing punctuation) or after it (opening).
CLOSING = set(".,;:!?)]}%")
OPENING = set("([{$")

TOKENIZERS = ("words", "whitespace")


def split_line(line: str, tokenizer: str) -> list[str]:
    if tokenizer == "whitespace":
        return line.split()
    return [m.group(0) for m in WORD_TOKEN.finditer(line)]


def tokenize(text: str, level: str, tokenizer: str = "words", lowercase: bool = False) -> list[str]:
    """Tokens of ``text``: its characters (``level="char"``), or its words with ``<eos>`` at the end of
    every line (``level="word"``), split by ``tokenizer``: "words" splits punctuation from words (see
    WORD_TOKEN), "whitespace" keeps every whitespace-separated string whole. ``lowercase`` first."""
    if lowercase:
        text = text.lower()
    if level == "char":
        return list(text)
    tokens = []
    for line in text.splitlines():
        tokens += split_line(line, tokenizer) + [EOS]
    return tokens


def attaches(token: str) -> bool:
    """Whether "words" decoding writes ``token`` right after what precedes it (closing punctuation)."""
    return bool(token) and set(token) <= CLOSING


def detokenize(tokens: list[str], level: str, tokenizer: str = "words") -> str:
    """Text from tokens: characters joined; words joined by spaces and lines by newlines, with
    "words" decoding writing closing punctuation against the word before it and opening punctuation
    against the word after it (``Hello , world ( sic ) .`` -> ``Hello, world (sic).``)."""
    if level == "char":
        return "".join(tokens)
    lines, line = [], ""  # (blank lines stay blank)
    glue = False  # the previous token was opening punctuation
    for token in tokens:
        if token == EOS:
            lines.append(line)
            line, glue = "", False
            continue
        words = tokenizer == "words"
        if line and not (words and (glue or attaches(token))):
            line += " "
        line += token
        glue = words and set(token) <= OPENING
    return "\n".join(lines + [line])


def count_tokens(parts: dict[str, list[str]], min_count: int, max_vocab: int | None, by_frequency: bool = True):
    """The vocabulary of the training part, most frequent first (ties in character order; or, with
    ``by_frequency`` false, in character order with ``<unk>`` last, as character-level vocabularies
    always were), its tokens' training counts, and what was left out.

    A token is kept when it occurs at least ``min_count`` times in the training part, and only the
    ``max_vocab`` most frequent entries are kept (``<unk>`` and ``<eos>`` among them). Every other
    token, and every validation or test token the training part lacks, reads as ``<unk>``, which is in
    the vocabulary only when something reads as it; its count is the training tokens it stands for.
    """
    counts = Counter(parts["train"])
    kept = sorted((t for t, c in counts.items() if c >= min_count and t != UNK), key=lambda t: (-counts[t], t))
    if max_vocab is not None and len(kept) > max_vocab:
        kept = kept[: max_vocab - 1]  # room for <unk>
    known = set(kept)
    needs_unk = len(known) < len(counts) or any(
        t not in known for split in ("val", "test") for t in parts.get(split, ())
    )
    if needs_unk and max_vocab is not None and len(kept) >= max_vocab:
        known.discard(kept.pop())  # (the validation or test text needs <unk> and the vocabulary is full)
    token_counts = {t: counts[t] for t in kept}
    if needs_unk:
        token_counts[UNK] = sum(c for t, c in counts.items() if t not in known)
    if by_frequency:
        vocab = sorted(token_counts, key=lambda t: (-token_counts[t], t))
    else:
        vocab = sorted(t for t in token_counts if t != UNK) + ([UNK] if needs_unk else [])
    unk = {split: sum(t not in known for t in part) for split, part in parts.items()}
    report = {
        "training_types": len(counts),
        "vocab_size": len(vocab),
        "min_count": min_count,
        "max_vocab": max_vocab,
        "tokens": {split: len(part) for split, part in parts.items()},
        "unk": unk,
        "unk_types": len(counts) - len(known) - (UNK in counts),
    }
    return vocab, [token_counts[t] for t in vocab], report


class LaneBatches(Dataset):
    """Item ``(step, offset)`` -> ``(x, y, continues)``: the ``step``-th chunk of every lane.

    With ``partial=True`` (evaluation) a shorter last chunk covers the end of the lanes, so every token
    but the first of each lane is predicted exactly once. Under multi-process training each process
    takes every ``world``-th lane.
    """

    def __init__(
        self, ids: torch.Tensor, lanes: int, seq_len: int, partial: bool = False, rank: int = 0, world: int = 1
    ):
        self.seq_len, self.partial = seq_len, partial
        length = len(ids) // (lanes * world)
        self.lanes = ids[: length * lanes * world].view(lanes * world, length)[rank::world]  # (lanes, length)

    def steps(self, offset: int) -> int:
        predictable = self.lanes.shape[1] - offset - 1
        return -(-predictable // self.seq_len) if self.partial else predictable // self.seq_len

    def __len__(self) -> int:
        return self.steps(0)

    def __getitem__(self, item: tuple[int, int]):
        step, offset = item
        start = offset + step * self.seq_len
        chunk = self.lanes[:, start : start + self.seq_len + 1]
        return chunk[:, :-1], chunk[:, 1:], step > 0  # x (B, T), y (B, T): the next tokens


class LaneOrder(Sampler[tuple[int, int]]):
    """Every chunk of the lanes in order; with ``shift``, each epoch starts at a seeded random offset."""

    def __init__(self, batches: LaneBatches, shift: bool, seed: int):
        self.batches, self.shift, self.seed, self.epoch = batches, shift, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _offsets(self) -> int:
        """How many start offsets there are to draw from: up to ``seq_len``, but no more than leave a
        short lane (a small text) one whole chunk."""
        return min(self.batches.seq_len, self.batches.lanes.shape[1] - self.batches.seq_len) if self.shift else 1

    def _offset(self) -> int:
        if not self.shift:
            return 0
        g = torch.Generator().manual_seed((self.seed * 1_000_003 + self.epoch) % 2**63)
        return int(torch.randint(self._offsets(), (1,), generator=g))

    def __iter__(self) -> Iterator[tuple[int, int]]:
        offset = self._offset()
        return iter([(step, offset) for step in range(self.batches.steps(offset))])

    def __len__(self) -> int:
        return self.batches.steps(self._offsets() - 1)


class WindowBatches(Dataset):
    """Item: a tensor of start positions -> ``(x, y, False)``, one window of ``seq_len`` per start."""

    def __init__(self, ids: torch.Tensor, seq_len: int):
        self.ids, self.seq_len = ids, seq_len
        self.span = torch.arange(seq_len + 1)

    def __getitem__(self, starts: torch.Tensor):
        chunk = self.ids[starts[:, None] + self.span]  # (B, T + 1)
        return chunk[:, :-1], chunk[:, 1:], False


class WindowOrder(Sampler[torch.Tensor]):
    """``steps`` batches of random window starts per epoch (as many tokens as one pass), seeded."""

    def __init__(self, n_tokens: int, batch_size: int, seq_len: int, seed: int):
        self.limit = n_tokens - seq_len - 1
        self.batch_size, self.seed, self.epoch = batch_size, seed, 0
        self.steps = max(1, n_tokens // (batch_size * seq_len))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[torch.Tensor]:
        g = torch.Generator().manual_seed((self.seed * 1_000_003 + self.epoch) % 2**63)
        return iter(torch.randint(self.limit + 1, (self.steps, self.batch_size), generator=g))

    def __len__(self) -> int:
        return self.steps


@register_dataset("text")
class TextDataModule(ZooDataModule):
    """A text file (or a folder of ``.txt`` files) as one token stream, character or word level."""

    def __init__(
        self,
        *,
        path: str | None = None,
        level: Literal["char", "word"] = "char",
        tokenizer: Literal["words", "whitespace"] = "words",
        lowercase: bool = False,
        min_count: int = 1,
        max_vocab: int | None = None,
        seq_len: int = 64,
        stream: Literal["lanes", "windows"] = "lanes",
        val_split: float = 0.05,
        test_split: float = 0.05,
        eval_batch_size: int = 32,
        **kwargs: Any,
    ):
        super().__init__(val_split=val_split, eval_batch_size=eval_batch_size, **kwargs)
        if seq_len < 1:
            raise UsageError(f"data.seq_len must be a positive integer, got {seq_len}")
        if not 0.0 < test_split < 1.0:
            raise UsageError(f"data.test_split must be between 0 and 1 (exclusive), got {test_split}")
        if val_split + test_split >= 1.0:
            raise UsageError(f"data.val_split + data.test_split must be below 1, got {val_split} + {test_split}")
        if min_count < 1:
            raise UsageError(f"data.min_count must be at least 1, got {min_count}")
        if max_vocab is not None and max_vocab < 2:
            raise UsageError(f"data.max_vocab must be at least 2 (or null: no limit), got {max_vocab}")
        if tokenizer not in TOKENIZERS:
            raise UsageError(f"data.tokenizer must be one of {', '.join(TOKENIZERS)}, got {tokenizer!r}")
        self.path = shipped_text(path) if path in SHIPPED else Path(path).expanduser() if path else None
        self.level, self.seq_len, self.stream, self.test_split = level, seq_len, stream, test_split
        self.tokenizer, self.lowercase, self.min_count, self.max_vocab = tokenizer, lowercase, min_count, max_vocab
        self.vocab: list[str] = []
        self.token_counts: list[int] = []
        self.report: dict[str, Any] = {}
        self.split_ids: dict[str, torch.Tensor] = {}

    def prepare_data(self) -> None:
        if self.path is not None and not self.path.exists():
            raise DataError(f"text file not found: {self.path}")

    def split_tokens(self) -> dict[str, list[str]]:
        """The text's tokens by split: the training part first, then validation, then test, each the
        share ``val_split`` and ``test_split`` say, in the text's order."""
        tokens = tokenize(read_text(self.path or default_corpus()), self.level, self.tokenizer, self.lowercase)
        n = len(tokens)
        n_test = int(n * self.test_split)
        n_val = int(n * self.val_split)
        bounds = {"train": (0, n - n_val - n_test), "val": (n - n_val - n_test, n - n_test), "test": (n - n_test, n)}
        return {split: tokens[a:b] for split, (a, b) in bounds.items()}

    def setup(self, stage: str | None = None) -> None:
        if self.split_ids:
            return
        self.prepare_data()
        parts = self.split_tokens()
        n = sum(len(part) for part in parts.values())
        for split, part in parts.items():
            if split == "val" and not self.has_validation:
                continue
            need = self.seq_len + 1 if split == "train" else 2
            if len(part) < need:
                raise DataError(
                    f"the text is too short: {n} {self.level} tokens leave {len(part)} for the {split} split, "
                    f"which needs at least {need} (data.seq_len is {self.seq_len})"
                )
        # (Word level, most frequent first: the order adaptive softmax needs. Characters keep the order
        # they always had, so a character model trained now maps ids to characters as before.)
        self.vocab, self.token_counts, self.report = count_tokens(
            parts, self.min_count, self.max_vocab, by_frequency=self.level == "word"
        )
        if len(self.vocab) < 2:
            raise DataError(
                f"the vocabulary has {len(self.vocab)} entry: no two training tokens reach data.min_count "
                f"{self.min_count} (the most frequent occurs {max(Counter(parts['train']).values())} times)"
            )
        index = {t: i for i, t in enumerate(self.vocab)}
        unk = index.get(UNK)
        self.split_ids = {
            split: torch.tensor([index.get(t, unk) for t in part], dtype=torch.long) for split, part in parts.items()
        }

    def describe(self) -> dict[str, Any]:
        described = {"vocab_size": len(self.vocab), "vocab": list(self.vocab), "level": self.level}
        if self.lowercase:
            described["lowercase"] = True
        if self.level == "word":
            # (Only word level: a character model's checkpoint holds what it always held, so runs
            # started before these options existed still resume.)
            described.update(
                tokenizer=self.tokenizer, token_counts=list(self.token_counts), vocab_report=dict(self.report)
            )
        return described

    def train_dataloader(self) -> DataLoader:
        ids = self.split_ids["train"]
        rank, world = self._rank_world()
        if self.stream == "windows":
            order = WindowOrder(len(ids), self.batch_size, self.seq_len, self.shuffle_seed + rank)
            return ResumableLoader(
                WindowBatches(ids, self.seq_len), order, self.trainer, pin_memory=feeds_gpu(self.trainer)
            )
        lanes = LaneBatches(
            ids, self._lanes(len(ids), self.batch_size * world) // world or 1, self.seq_len, rank=rank, world=world
        )
        order = LaneOrder(lanes, shift=True, seed=self.shuffle_seed)
        return ResumableLoader(lanes, order, self.trainer, pin_memory=feeds_gpu(self.trainer))

    def _eval_loader(self, ids: torch.Tensor) -> DataLoader:
        rank, world = self._rank_world()
        lanes = LaneBatches(
            ids,
            max(1, self._lanes(len(ids), self.eval_batch_size * world) // world),
            self.seq_len,
            partial=True,
            rank=rank,
            world=world,
        )
        return quiet_loader(
            lanes, sampler=LaneOrder(lanes, shift=False, seed=0), batch_size=None, pin_memory=feeds_gpu(self.trainer)
        )

    def _rank_world(self) -> tuple[int, int]:
        return (self.trainer.global_rank, self.trainer.world_size) if self.trainer is not None else (0, 1)

    def _lanes(self, n_tokens: int, wanted: int) -> int:
        """As many lanes as asked for, but no more than leave each lane one full chunk plus one token."""
        return max(1, min(wanted, (n_tokens - 1) // (self.seq_len + 1)))

    def val_dataloader(self) -> DataLoader:
        return self._eval_loader(self.split_ids["val"])

    def test_dataloader(self) -> DataLoader:
        return self._eval_loader(self.split_ids["test"])


@register_dataset("tinyshakespeare")
class TinyShakespeareDataModule(TextDataModule):
    """The "tiny shakespeare" corpus (char-rnn, nanoGPT; public domain), shipped inside zoo: 1.1M
    characters of Shakespeare's plays. Split as every text is: the last 10% held out (5% validation,
    5% test), nanoGPT's split."""

    def __init__(self, *, path: str = "tinyshakespeare", **kwargs: Any):
        super().__init__(path=path, **kwargs)
