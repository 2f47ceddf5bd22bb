"""Word vectors: skip-gram with negative sampling, trained by word2vec's own update rule.

The Trainer drives it like any task (epochs, devices, DDP, checkpoints, logs), but each training step
applies word2vec's closed-form SGD update to a chunk of the corpus instead of autograd plus an
optimizer: ``zoo/nn/skipgram.py``, a numba kernel on CPU and tensor operations elsewhere. The learning
rate decays linearly from ``optimizer.lr`` to ``min_lr`` over all the words of all epochs, as in
word2vec.c and gensim. The loss is summed in float64, so it stays exact however long the run.

Validation reports the word-similarity benchmarks that ship with gensim (Spearman correlation with
human judgements: wordsim353, simlex999) after every epoch; the test adds the analogy questions
(questions-words.txt, accuracy).

The model's contract: two ``nn.Embedding`` tables of the same shape, ``input`` (the word vectors) and
``output`` (the context vectors), which the kernel updates in place; its constructor takes ``vocab_size``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torchmetrics import SumMetric

from zoo import console
from zoo.errors import UsageError, option
from zoo.nn.skipgram import keep_thresholds, negative_table, train_chunk_cpu, train_chunk_torch
from zoo.records import exact, spreadsheet_safe
from zoo.registry import register_task
from zoo.tasks.base import Task, require


def gensim_benchmark(name: str) -> str:
    """The path of a benchmark file that ships inside gensim, found without importing gensim (a second
    and more of a run's start, for a file name)."""
    import importlib.util
    import os

    return os.path.join(importlib.util.find_spec("gensim").submodule_search_locations[0], "test", "test_data", name)


BENCHMARK_VOCABULARY = 300_000  # gensim's restrict_vocab: pairs and questions with a rarer word are not asked


def upper_index(keys: list[str]) -> dict[str, int]:
    """gensim's case-insensitive lookup: a word in upper case -> the id of its first (most frequent) spelling."""
    return {key.upper(): i for i, key in reversed(list(enumerate(keys)))}


def unit_rows(table: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (float32, as gensim's); a zero row stays zero."""
    table = np.asarray(table, dtype=np.float32)
    norms = np.linalg.norm(table, axis=1, keepdims=True)
    return table / np.where(norms > 0, norms, 1)


def word_pair_correlation(keys: list[str], table: np.ndarray, path: str) -> float:
    """gensim's ``evaluate_word_pairs`` Spearman correlation (pairs of the first 300,000 words, upper
    case, cosine similarity against the human scores), NaN where no pair is in the vocabulary."""
    from scipy import stats

    index = upper_index(keys[:BENCHMARK_VOCABULARY])
    pairs, human = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#"):
                continue
            try:
                a, b, score = (word.upper() for word in line.split("\t"))
                score = float(score)
            except ValueError:
                continue
            if a in index and b in index:
                pairs.append((index[a], index[b]))
                human.append(score)
    if not pairs:
        return float("nan")
    unit = unit_rows(table)
    a, b = np.array(pairs).T
    return float(stats.spearmanr(human, np.einsum("ij,ij->i", unit[a], unit[b]))[0])


def write_word2vec_binary(path: Path, words: list[str], table: np.ndarray) -> None:
    """word2vec's C binary format, byte for byte what gensim's ``save_word2vec_format(binary=True)``
    writes for words numbered by frequency: "COUNT DIM\\n", then each word, a space and its float32s."""
    with open(path, "wb") as f:
        f.write(f"{len(words)} {table.shape[1]}\n".encode())
        for word, row in zip(words, np.asarray(table, dtype=np.float32)):
            f.write(f"{word} ".encode() + row.tobytes())


def analogy_answers(
    keys: list[str], table: np.ndarray, questions: list[list[str]], block_floats: int = 1 << 24
) -> tuple[int, int]:
    """(asked, correct): gensim's ``evaluate_word_analogies`` (3CosAdd, case-insensitive, the first
    300,000 words), all questions at once. gensim asks ``most_similar`` one question at a time, a pass
    over every vector each (10 s of a run's end on a 15,000-word vocabulary); here a block of questions
    is one matrix product. The rule is gensim's: words compare in upper case, a word's first (most
    frequent) spelling stands for it; the answer is the first of the 5 nearest words to b - a + c, the
    question's three word vectors left out, whose upper case is none of a, b, c (and is the last of the
    5 if every one is)."""
    keys = keys[:BENCHMARK_VOCABULARY]
    index = upper_index(keys)
    asked = [[index[w] for w in q] for q in questions if all(w in index for w in q)]
    if not asked:
        return 0, 0
    unit = unit_rows(table[: len(keys)])
    upper = [key.upper() for key in keys]
    ids = np.array(asked, dtype=np.int64)
    correct = 0
    step = max(1, block_floats // len(keys))
    for start in range(0, len(ids), step):
        block = ids[start : start + step]
        query = unit[block[:, 1]] + unit[block[:, 2]] - unit[block[:, 0]]
        query /= np.linalg.norm(query, axis=1, keepdims=True)
        scores = query @ unit.T  # (questions, words)
        rows = np.arange(len(block))[:, None]
        scores[rows, block[:, :3]] = -np.inf
        best = []  # the 5 nearest, nearest first (five passes of argmax: a tenth of argpartition's time)
        for _ in range(min(5, len(keys))):
            best.append(scores.argmax(axis=1))
            scores[rows[:, 0], best[-1]] = -np.inf
        for (a, b, c, expected), nearest in zip(block.tolist(), np.stack(best, axis=1).tolist()):
            candidates = [k for k in dict.fromkeys(nearest) if k not in (a, b, c)]  # (a tiny vocabulary: fewer)
            ignore = {upper[a], upper[b], upper[c]}
            predicted = next((k for k in candidates if upper[k] not in ignore), candidates[-1] if candidates else None)
            correct += predicted is not None and upper[predicted] == upper[expected]
    return len(asked), int(correct)


def analogy_scores(vectors) -> dict[str, float]:
    """``analogy``: accuracy on the questions of questions-words.txt whose four words are all in the
    vocabulary (gensim skips the others), left out where none is; ``analogy_coverage``: the share of
    all questions that were asked. ``vectors``: a gensim ``KeyedVectors`` (``index_to_key``, ``vectors``)."""
    with open(gensim_benchmark("questions-words.txt"), encoding="utf-8") as f:
        questions = [line.upper().split() for line in f if line.strip() and not line.startswith(":")]
    asked, correct = analogy_answers(vectors.index_to_key, vectors.vectors, [q for q in questions if len(q) == 4])
    scores = {"analogy_coverage": asked / len(questions)}
    if asked:
        scores["analogy"] = correct / asked
    return scores


@register_task("skipgram")
class SkipGramTask(Task):
    monitor = None  # the last epoch is the result: the learning rate has decayed to its floor there
    higher_is_better = ("wordsim353", "simlex999", "analogy")
    sample_unit = "words"
    learns_from = "sentences"
    filled_by_data = ("vocab", "counts", "corpus_words")
    # (the numba kernel's threads update the tables without locks or barriers: a busy core slows one of
    # them, not all; scripts/bench_threads.py measures every core a gain, idle or loaded)
    threads_in_lockstep = False

    def __init__(
        self,
        *,
        vocab: list[str],
        counts: list[int],
        corpus_words: int = 0,
        window: int = 5,
        negative: int = 5,
        sample: float = 1e-3,
        min_lr: float = 1e-4,
        ns_exponent: float = 0.75,
        share_negatives: bool = True,
        batch_pairs: int = 16384,
        backend: Literal["auto", "numba", "torch"] = "auto",
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if window < 1 or negative < 0:
            raise UsageError(f"task.window must be >= 1 and task.negative >= 0, got {window} and {negative}")
        if sample < 0 or min_lr < 0:
            raise UsageError("task.sample and task.min_lr must be >= 0")
        unsupported = {
            k: v for k, v in self.optimizer_cfg.items() if k not in ("name", "lr", "dampening", "fused") and v
        }
        if self.optimizer_cfg["name"] != "sgd" or unsupported:
            raise UsageError(
                "word2vec trains with word2vec's own SGD update: use optimizer.name sgd with only lr "
                f"(got {self.optimizer_cfg['name']!r}{', ' + ', '.join(unsupported) if unsupported else ''})"
            )
        if self.hparams.compile:
            raise UsageError(
                "task.compile does not apply to word2vec: its training step is one kernel, not a forward pass"
            )
        self.automatic_optimization = False  # the update below is the optimizer
        self.vocab, self.counts, self.corpus_words = list(vocab), list(counts), corpus_words
        self.window, self.negative, self.min_lr, self.batch_pairs = window, negative, min_lr, batch_pairs
        # auto: the numba kernel on CPU, tensor operations on any other device
        self.backend, self.share_negatives = backend, share_negatives
        self.lr = float(self.optimizer_cfg.get("lr", 0.025))
        self.thresholds = keep_thresholds(np.array(counts), sample)
        self.table = negative_table(np.array(counts), ns_exponent)
        # The epoch's loss, summed in float64 (gensim's float32 running sum stops growing once it
        # reaches 2^27), and its number of pairs; both reduced across processes under DDP.
        self.loss_sum = SumMetric(nan_strategy="disable").set_dtype(torch.float64)
        self.pair_count = SumMetric(nan_strategy="disable").set_dtype(torch.float64)
        self.mark_accumulators()  # a run resumed mid-epoch goes on summing

    def check_model(self, model) -> None:
        require(model, self.name, "input", "output", call="its input and output embedding tables")

    def count_samples(self, batch: Any) -> int:
        return self._raw_words(batch)

    def _raw_words(self, batch: Any) -> int:
        """Corpus words this chunk stands for, out-of-vocabulary ones included (gensim's raw words)."""
        tokens, _ = batch
        total_known = max(1, sum(self.counts))
        return round(len(tokens) * max(self.corpus_words, total_known) / total_known)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        # The update is the kernel's; this optimizer never sees a gradient. It carries the current
        # learning rate (for the logs) and counts steps for Lightning (checkpoints, logging).
        return torch.optim.SGD(self.parameters(), lr=self.lr)

    def _alpha_range(self, batch_idx: int) -> tuple[float, float]:
        """Linear decay over the whole run, by the chunk's place in it."""
        per_epoch = max(1, self.trainer.num_training_batches)
        epochs = self.trainer.max_epochs if self.trainer.max_epochs and self.trainer.max_epochs > 0 else 1
        done = (self.current_epoch * per_epoch + batch_idx) / (epochs * per_epoch)
        step = 1.0 / (epochs * per_epoch)
        span = self.lr - self.min_lr

        def at(p: float) -> float:
            return max(self.min_lr, self.lr - span * min(1.0, p))

        return at(done), at(done + step)

    def training_step(self, batch: Any, batch_idx: int) -> dict[str, torch.Tensor]:
        tokens, bounds = batch
        alpha_start, alpha_end = self._alpha_range(batch_idx)
        optimizer = self.optimizers()
        optimizer.param_groups[0]["lr"] = alpha_end  # what the next chunk starts from
        w_in, w_out = self.model.input.weight.data, self.model.output.weight.data
        if self.backend == "numba" or (self.backend == "auto" and w_in.device.type == "cpu"):
            if w_in.device.type != "cpu":
                raise UsageError("task.backend 'numba' runs on the CPU only; use 'torch' or 'auto' on a GPU")
            loss, pairs = train_chunk_cpu(
                w_in,
                w_out,
                tokens.numpy(),
                bounds.numpy(),
                self.thresholds,
                self.table,
                window=self.window,
                negative=self.negative,
                alpha_start=alpha_start,
                alpha_end=alpha_end,
                seed=self.global_step * 7919 + self.global_rank,
                threads=torch.get_num_threads(),
                share_negatives=self.share_negatives,
            )
        else:
            loss, pairs = self._train_on_device(tokens, bounds, alpha_start, alpha_end)
        if self.trainer.world_size > 1:
            # Each process updated its own copy from its own chunks: average them, as data-parallel
            # word2vec does, so all processes continue from the same tables.
            for table in (w_in, w_out):
                torch.distributed.all_reduce(table)
                table /= self.trainer.world_size
        optimizer.step()  # no gradients: only counts the step
        self.loss_sum.update(torch.tensor(loss, dtype=torch.float64))
        self.pair_count.update(torch.tensor(float(pairs), dtype=torch.float64))
        return {"loss": torch.tensor(loss / max(1, pairs), dtype=torch.float64)}  # nats per pair

    def _train_on_device(self, tokens, bounds, alpha_start, alpha_end) -> tuple[float, int]:
        device = tokens.device
        if not hasattr(self, "_device_tables") or self._device_tables[0].device != device:
            keep = torch.tensor(self.thresholds.astype(np.float64) / 2**32, dtype=torch.float32, device=device)
            table = torch.tensor(self.table, dtype=torch.float64, device=device)
            self._device_tables = (keep, table)
        sentence = torch.repeat_interleave(torch.arange(len(bounds) - 1, device=device), bounds[1:] - bounds[:-1])
        keep, table = self._device_tables
        return train_chunk_torch(
            self.model.input.weight.data,
            self.model.output.weight.data,
            tokens.long(),
            sentence,
            keep,
            table,
            window=self.window,
            negative=self.negative,
            alpha_start=alpha_start,
            alpha_end=alpha_end,
            generator=None,
            batch_pairs=self.batch_pairs,
        )

    def on_train_epoch_end(self) -> None:
        if self.loss_sum.update_count:
            loss_sum, pairs = self.loss_sum.compute(), self.pair_count.compute()
            values = {
                "train_loss": loss_sum / pairs.clamp_min(1),  # nats per pair
                "train_loss_sum": loss_sum,
                "train_pairs": pairs,
                "lr": self.current_lr(),
                **self.csv_axes(),  # a step is a corpus chunk
            }
            self.log_dict({k: exact(v) for k, v in values.items()})

    def train_accumulators(self) -> list:
        return [self.loss_sum, self.pair_count]

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # Checkpoints written before the tasks were split (2026-11-29) carry the supervised tasks' loss
        # and penalty sums, which skip-gram never used: dropped, so that those checkpoints still load.
        state = checkpoint.get("state_dict", {})
        for key in [k for k in state if k.startswith(("losses.", "penalty.", "metrics."))]:
            del state[key]
        super().on_load_checkpoint(checkpoint)

    # --- evaluation ---------------------------------------------------------------------------
    def keyed_vectors(self):
        """The word vectors as a gensim ``KeyedVectors``: most_similar, similarity, analogies..."""
        from gensim.models import KeyedVectors

        vectors = KeyedVectors(self.model.input.weight.shape[1])
        vectors.add_vectors(self.vocab, self.model.input.weight.detach().float().cpu().numpy())
        vectors.allocate_vecattrs(attrs=["count"], types=[np.int64])  # gensim's word counts, in one go
        vectors.expandos["count"][:] = self.counts
        return vectors

    def similarity_scores(self, analogies: bool) -> dict[str, float]:
        """Spearman correlation on wordsim353 and simlex999 (NaN where none of a benchmark's words are in
        the vocabulary) and, with ``analogies``, the analogy scores (``analogy_scores``): gensim's
        evaluation, computed here on the tables as they are (gensim is not imported for it)."""
        import types
        import warnings

        table = self.model.input.weight.detach().float().cpu().numpy()
        scores = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scipy warns on constant input (untrained vectors)
            for name, file in (("wordsim353", "wordsim353.tsv"), ("simlex999", "simlex999.txt")):
                scores[name] = word_pair_correlation(self.vocab, table, gensim_benchmark(file))
        if analogies:
            scores.update(analogy_scores(types.SimpleNamespace(index_to_key=self.vocab, vectors=table)))
        return scores

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        scores = {f"val_{k}": v for k, v in self.similarity_scores(analogies=False).items()}
        self.log_dict({k: exact(v) for k, v in {**scores, **self.csv_axes()}.items()}, prog_bar=True, batch_size=1)

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self.log_dict({f"test_{k}": exact(v) for k, v in self.similarity_scores(analogies=True).items()}, batch_size=1)

    def write_pictures(self, folder: Path, images: Any = None, title: str = "", words: int = 400) -> list[Path]:
        """A 2-D map of the ``words`` most frequent words (t-SNE; none for a vocabulary of one word, which
        has no neighbours to place it among), and the pair of files TensorFlow's Embedding Projector
        (projector.tensorflow.org) opens: ``vectors.tsv`` and ``metadata.tsv``."""
        from threadpoolctl import threadpool_limits

        from zoo import plots

        folder.mkdir(parents=True, exist_ok=True)
        table = self.model.input.weight.detach().float().cpu().numpy()
        n = min(words, len(self.vocab))
        written = []
        if n >= self.MIN_MAP_WORDS:
            # One thread: t-SNE's 1,000 iterations are each a few short OpenMP regions, and on a busy
            # machine every one waits for a descheduled thread (400 words, 2 cores under load: 37 s on two
            # threads, 3 s on one).
            with threadpool_limits(1):
                plots.plot_embedding_map(
                    self.vocab[:n],
                    table[:n],
                    folder / "embedding_map.png",
                    f"{title}: the {n} most frequent words, placed by t-SNE of their vectors".strip(": "),
                )
            written.append(folder / "embedding_map.png")
        np.savetxt(folder / "vectors.tsv", table, delimiter="\t", fmt="%.5f")
        # (the corpus's words: one that starts like a formula must not run as one in a spreadsheet)
        (folder / "metadata.tsv").write_text("".join(f"{spreadsheet_safe(w)}\n" for w in self.vocab), encoding="utf-8")
        return [*written, folder / "vectors.tsv", folder / "metadata.tsv"]

    #: t-SNE places a word among its neighbours: with fewer words there is no map to draw
    MIN_MAP_WORDS = 2

    def write_artifacts(self, run_dir: Path, held_out: str = "test") -> dict[str, Any]:
        if not self.trainer.is_global_zero:
            return {}
        path = run_dir / "vectors.bin"
        write_word2vec_binary(path, self.vocab, self.model.input.weight.detach().float().cpu().numpy())
        self.write_pictures(run_dir, title=run_dir.name)
        out = {"vectors": str(path)}
        notes = {"vectors_note": self.too_little_text(self.corpus_words * max(1, self.trainer.current_epoch))}
        if len(self.vocab) < self.MIN_MAP_WORDS:
            notes["map_note"] = (
                f"a vocabulary of {len(self.vocab)} word has no map: embedding_map.png is not drawn (t-SNE "
                f"places words among at least {self.MIN_MAP_WORDS}); a lower {option('data.min_count')} keeps more"
            )
        for key, note in notes.items():
            if note:
                out[key] = note
                if self.echo:
                    console.note(f"zoo: {note}")
        return out

    #: below this many training words (corpus words x epochs), word2vec's vectors have not yet spread
    #: apart: most words end up nearly parallel, and their nearest neighbours say nothing
    MIN_TRAINING_WORDS = 1_000_000

    def too_little_text(self, training_words: int) -> str | None:
        """A sentence saying the vectors are not useful yet, or None: the rule is MIN_TRAINING_WORDS."""
        if training_words >= self.MIN_TRAINING_WORDS:
            return None
        top = torch.nn.functional.normalize(self.model.input.weight[:100].detach().float(), dim=1)
        similarity = top @ top.T
        mean = (similarity.sum() - similarity.diagonal().sum()) / max(1, len(top) * (len(top) - 1))
        alike = (
            f"the {'100 most frequent words' if len(top) == 100 else f'{len(top)} words'} are {mean:.2f} "
            "cosine-similar to one another on average, so nearest neighbours say little"
            if len(top) > 1
            else "one word has no neighbours"
        )
        return (
            f"{training_words:,} training words (corpus words x epochs) are too few for useful vectors: "
            f"{alike}; train on 1M or more (a larger corpus, or more epochs), or use the shipped "
            f"word2vec:wikipedia-sample vectors"
        )
