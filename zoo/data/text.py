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
  softmax needs), with ``min_count`` and ``max_vocab`` limits. ``min_count`` is 1 for characters (every
  character of the text) and, unless set, 2 for words (the word recipe's): a word seen once reads as
  ``<unk>``, so ``<unk>`` is trained on and means something when validation meets a new word. Rarer
  tokens, and tokens that appear only in validation or test, map to ``<unk>``, which exists only when it
  is needed; how many did, per split, is in the ``vocab_report`` the task keeps (the run's summary, its
  checkpoint).
- A file is read a block at a time (``.gz`` decompressed as it is read), each block cut at a line end
  or, in a longer line, at a space: memory does not grow with the length of a line or of the
  decompressed text, save for the token ids themselves, which training reads at random places and so
  are held: 2 bytes a token (4 past 32,767 vocabulary entries), one array whose views are the three
  splits. While reading, each token's provisional id goes to a temporary file (4 bytes a token, in
  ``$TMPDIR``), so that the ids are written once, by the final vocabulary, when the counts are known.
- ``stream: lanes`` (default, as in char-rnn and PyTorch's word_language_model): the training part is
  cut into ``batch_size`` contiguous lanes, and each batch is the next ``seq_len`` tokens of every
  lane, so a model can carry its state from one batch to the next. Each epoch starts the lanes at a
  new random offset, so the cut points move. ``stream: windows`` (nanoGPT): every batch is
  ``batch_size`` windows at random places. Validation and test always read their part once, in lanes.
"""

from __future__ import annotations

import codecs
import gzip
import re
import tempfile
import zlib
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
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


def text_files(path: Path) -> list[Path]:
    """A text file, or every ``.txt`` file of a folder in name order."""
    if not path.exists():
        raise DataError(f"text file not found: {path}")
    files = sorted(p for p in path.rglob("*.txt") if p.is_file()) if path.is_dir() else [path]
    if not files:
        raise DataError(f"no .txt files in {path}")
    return files


BLOCK_BYTES = 1 << 20  # read (and decompressed) at a time
BLOCK_CHARS = 1 << 20  # tokenised at a time


def decoded_blocks(file: Path) -> Iterator[str]:
    """The UTF-8 text of ``file`` (decompressed as it is read, for ``.gz``), a block at a time; a file
    that looks binary or is not UTF-8 is refused in one line."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0  # of the next block in the (decompressed) file
    try:
        with (gzip.open if file.suffix == ".gz" else open)(file, "rb") as f:
            while raw := f.read(BLOCK_BYTES):
                if offset < 65536 and b"\x00" in raw[: 65536 - offset]:
                    raise DataError(f"{file} looks binary (it contains NUL bytes), not text")
                start = 3 if offset == 0 and raw.startswith(codecs.BOM_UTF8) else 0  # (a byte-order mark is no text)
                pending = len(decoder.buffer)  # (the last block's unfinished character)
                try:
                    yield decoder.decode(raw[start:])
                except UnicodeDecodeError as err:
                    at = offset + start - pending + err.start
                    raise DataError(
                        f"{file} is not UTF-8 text (byte 0x{err.object[err.start]:02x} at offset {at}); "
                        "re-encode it as UTF-8"
                    ) from None
                offset += len(raw)
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                raise DataError(
                    f"{file} is not UTF-8 text (it ends inside a character); re-encode it as UTF-8"
                ) from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as err:
        raise DataError(f"{file} is not a whole gzip file ({err})") from None


# Where str.splitlines ends a line.
LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"


def cut_point(text: str) -> tuple[int, bool]:
    """Where to end a piece of ``text`` (not its end): after its last line break, or, in a line longer
    than a piece, after its last space (so no token spans two pieces, and lowercasing sees whole words);
    and whether the piece's last line goes on in the next. A run of a piece's length without either is
    cut where it is."""
    # (a "\r" as the last character may be the first half of a "\r\n": it is not searched)
    end = max(text.rfind(c, 0, len(text) - 1) for c in LINE_BREAKS)
    if end >= 0:
        return end + 1 + text.startswith("\r\n", end), False
    space = max(text.rfind(" "), text.rfind("\t"))
    return (space + 1 if space >= 0 else len(text)), True


def text_pieces(path: Path) -> Iterator[tuple[str, bool]]:
    """The text of ``path`` (a file, or a folder's ``.txt`` files joined by line ends) in pieces of about
    ``BLOCK_CHARS`` characters: (piece, whether its last line goes on in the next piece). Joined, the
    pieces are the text."""
    files, buffer = text_files(path), ""
    for k, file in enumerate(files):
        for block in decoded_blocks(file):
            buffer += block
            while len(buffer) >= BLOCK_CHARS:
                cut, continues = cut_point(buffer)
                yield buffer[:cut], continues
                buffer = buffer[cut:]
        if k < len(files) - 1:
            buffer += "\n"
    if buffer:
        yield buffer, False


def read_text(path: Path) -> str:
    """A UTF-8 file (``.gz`` ones decompressed), or every ``.txt`` file of a folder in name order;
    refuses binary and empty input."""
    text = "".join(piece for piece, _ in text_pieces(path))
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
    """``choose_vocabulary`` for token lists: the vocabulary, its training counts, the report."""
    numbered: dict[str, int] = {}
    ids = {split: [numbered.setdefault(t, len(numbered)) for t in part] for split, part in parts.items()}
    counts = {split: np.bincount(np.array(i, dtype=np.int64), minlength=len(numbered)) for split, i in ids.items()}
    vocab, token_counts, report, _ = choose_vocabulary(list(numbered), counts, min_count, max_vocab, by_frequency)
    return vocab, token_counts, report


def choose_vocabulary(
    tokens: list[str], counts: dict[str, np.ndarray], min_count: int, max_vocab: int | None, by_frequency: bool = True
) -> tuple[list[str], list[int], dict[str, Any], np.ndarray]:
    """The vocabulary of the training part, most frequent first (ties in character order; or, with
    ``by_frequency`` false, in character order with ``<unk>`` last, as character-level vocabularies
    always were), its tokens' training counts, what was left out, and each token's id in it.

    ``tokens[p]`` is the token numbered ``p`` while reading, ``counts[split][p]`` how often it occurs in
    that split. A token is kept when it occurs at least ``min_count`` times in the training part, and
    only the ``max_vocab`` most frequent entries are kept (``<unk>`` and ``<eos>`` among them). Every
    other token, and every validation or test token the training part lacks, reads as ``<unk>``, which
    is in the vocabulary only when something reads as it; its count is the training tokens it stands for.
    """
    train = counts["train"]
    literal_unk = next((p for p, t in enumerate(tokens) if t == UNK), None)  # "<unk>" as written in the text
    candidates = [p for p in np.flatnonzero(train >= min_count).tolist() if p != literal_unk]
    kept = sorted(candidates, key=lambda p: (-train[p], tokens[p]))
    if max_vocab is not None and len(kept) > max_vocab:
        kept = kept[: max_vocab - 1]  # room for <unk>
    known = np.zeros(len(tokens), dtype=bool)
    known[kept] = True
    training_types = int(np.count_nonzero(train))
    needs_unk = len(kept) < training_types or any(
        counts[split][~known].any() for split in ("val", "test") if split in counts
    )
    if needs_unk and max_vocab is not None and len(kept) >= max_vocab:
        known[kept.pop()] = False  # (the validation or test text needs <unk> and the vocabulary is full)
    token_counts = {tokens[p]: int(train[p]) for p in kept}
    if needs_unk:
        token_counts[UNK] = int(train[~known].sum())
    if by_frequency:
        vocab = sorted(token_counts, key=lambda t: (-token_counts[t], t))
    else:
        vocab = sorted(t for t in token_counts if t != UNK) + ([UNK] if needs_unk else [])
    index = {t: i for i, t in enumerate(vocab)}
    ids = np.full(len(tokens), index.get(UNK, -1), dtype=np.int32)
    ids[kept] = [index[tokens[p]] for p in kept]
    report = {
        "training_types": training_types,
        "vocab_size": len(vocab),
        "min_count": min_count,
        "max_vocab": max_vocab,
        "tokens": {split: int(c.sum()) for split, c in counts.items()},
        "unk": {split: int(c[~known].sum()) for split, c in counts.items()},
        "unk_types": training_types - len(kept) - int(literal_unk is not None and train[literal_unk] > 0),
    }
    return vocab, [token_counts[t] for t in vocab], report, ids


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
        chunk = self.lanes[:, start : start + self.seq_len + 1].long()  # (the ids are held in 2 or 4 bytes)
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
        chunk = self.ids[starts[:, None] + self.span].long()  # (B, T + 1)
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


def ids_in_blocks(spill: IO[bytes], count: int = 1 << 22) -> Iterator[np.ndarray]:
    """The int32 numbers written to ``spill``, ``count`` at a time."""
    spill.flush()
    spill.seek(0)
    while chunk := spill.read(4 * count):
        yield np.frombuffer(chunk, dtype=np.int32)


def blocks_at(blocks: Iterator[np.ndarray]) -> Iterator[tuple[int, np.ndarray]]:
    """Each block with where it starts in the stream of all of them."""
    start = 0
    for block in blocks:
        yield start, block
        start += len(block)


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
        min_count: int | None = None,
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
        if min_count is not None and min_count < 1:
            raise UsageError(f"data.min_count must be at least 1, got {min_count}")
        if min_count is None:  # (characters: every one; words: the word recipe's, so that <unk> is trained)
            min_count = 2 if level == "word" else 1
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

    def split_tokens(self) -> dict[str, list[str]] | None:
        """The tokens by split, for text held in memory (``zoo/data/memory.py``): the training part
        first, then validation, then test. None (a file): ``setup`` reads the file a block at a time."""
        return None

    def split_lengths(self, n: int) -> dict[str, int]:
        """How many of ``n`` tokens each split takes: the last ``test_split`` test, the ``val_split``
        before them validate, the rest (first) train."""
        n_test, n_val = int(n * self.test_split), int(n * self.val_split)
        return {"train": n - n_val - n_test, "val": n_val, "test": n_test}

    def read_ids(self, spill: IO[bytes]) -> tuple[list[str], int]:
        """Read the text a piece at a time, numbering each token as it is first met (characters by
        their code point's first appearance); the numbers go to ``spill`` (int32). Returns the tokens by
        number and how many were read."""
        path = self.path or default_corpus()
        numbered: dict[str, int] = {}
        by_code = np.full(0x110000 if self.level == "char" else 0, -1, dtype=np.int32)  # code point -> number
        n, seen_text = 0, False
        for piece, continues in text_pieces(path):
            seen_text = seen_text or not piece.isspace()
            if self.lowercase:
                piece = piece.lower()
            if self.level == "char":
                codes = np.frombuffer(piece.encode("utf-32-le"), dtype=np.uint32)
                if (by_code[codes] < 0).any():
                    for code in np.unique(codes[by_code[codes] < 0]).tolist():
                        by_code[code] = len(numbered)
                        numbered[chr(code)] = len(numbered)
                ids = by_code[codes]
            else:
                lines = piece.splitlines()
                ids = array("i")
                for k, line in enumerate(lines):
                    ids.extend([numbered.setdefault(t, len(numbered)) for t in split_line(line, self.tokenizer)])
                    if not (continues and k == len(lines) - 1):
                        ids.append(numbered.setdefault(EOS, len(numbered)))
                ids = np.frombuffer(ids, dtype=np.int32)
            ids.tofile(spill)
            n += len(ids)
        if not seen_text:
            raise DataError(f"{path} is empty")
        return list(numbered), n

    def setup(self, stage: str | None = None) -> None:
        if self.split_ids:
            return
        self.prepare_data()
        parts = self.split_tokens()
        with tempfile.TemporaryFile() as spill:
            if parts is None:  # a file
                tokens, n = self.read_ids(spill)
                lengths = self.split_lengths(n)
            else:  # lists of tokens, held in memory already
                numbered: dict[str, int] = {}
                for part in parts.values():
                    np.array([numbered.setdefault(t, len(numbered)) for t in part], dtype=np.int32).tofile(spill)
                tokens, lengths = list(numbered), {split: len(part) for split, part in parts.items()}
            self.check_lengths(lengths)
            bounds, start = {}, 0
            for split, length in lengths.items():
                bounds[split], start = (start, start + length), start + length
            counts = {split: np.zeros(len(tokens), dtype=np.int64) for split in lengths}
            for block_start, block in blocks_at(ids_in_blocks(spill)):
                for split, (a, b) in bounds.items():
                    part = block[max(a - block_start, 0) : max(b - block_start, 0)]
                    counts[split] += np.bincount(part, minlength=len(tokens))
            # (Word level, most frequent first: the order adaptive softmax needs. Characters keep the
            # order they always had, so a character model trained now maps ids to characters as before.)
            self.vocab, self.token_counts, self.report, final = choose_vocabulary(
                tokens, counts, self.min_count, self.max_vocab, by_frequency=self.level == "word"
            )
            if len(self.vocab) < 2:
                raise DataError(
                    f"the vocabulary has {len(self.vocab)} entry: no two training tokens reach data.min_count "
                    f"{self.min_count} (the most frequent occurs {counts['train'].max()} times)"
                )
            # The ids, held (training reads them at random places): 2 bytes a token, or 4 past 32,767 entries.
            ids = np.empty(start, dtype=np.int16 if len(self.vocab) <= 2**15 - 1 else np.int32)
            for block_start, block in blocks_at(ids_in_blocks(spill)):
                ids[block_start : block_start + len(block)] = final[block]
        held_ids = torch.from_numpy(ids)
        self.split_ids = {split: held_ids[a:b] for split, (a, b) in bounds.items()}

    def check_lengths(self, lengths: dict[str, int]) -> None:
        n = sum(lengths.values())
        for split, length in lengths.items():
            if split == "val" and not self.has_validation:
                continue
            need = self.seq_len + 1 if split == "train" else 2
            if length < need:
                raise DataError(
                    f"the text is too short: {n} {self.level} tokens leave {length} for the {split} split, "
                    f"which needs at least {need} (data.seq_len is {self.seq_len})"
                )

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
