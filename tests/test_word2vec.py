"""Skip-gram word2vec: pair generation, subsampling and negative sampling against their definitions,
learning planted co-occurrences (both update implementations), gensim interchange, bad input."""

import os

import numpy as np
import pytest
import torch
from scipy import stats

import zoo
from conftest import run_command, run_python
from zoo import resolve_recipe
from zoo.data import DATASETS
from zoo.nn.skipgram import draw_negatives, keep_thresholds, negative_table, subsample, window_pairs


def test_keep_probability_is_the_word2vec_formula():
    counts = np.array([100_000, 1_000, 10, 1])
    t = 1e-3 * counts.sum()
    expected = np.minimum(1.0, (np.sqrt(counts / t) + 1) * t / counts)
    np.testing.assert_allclose(keep_thresholds(counts, 1e-3) / 2**32, expected, rtol=1e-6)
    assert (keep_thresholds(counts, 0.0) == 2**32 - 1).all()  # sample=0: keep everything


def test_subsampling_keeps_each_word_with_its_probability():
    counts = np.array([50_000, 5_000, 500, 50])
    thresholds = keep_thresholds(counts, 1e-3)
    tokens = np.repeat(np.arange(4, dtype=np.int32), 50_000)
    out = np.empty(len(tokens), np.int32)
    n, _ = subsample(tokens, 0, len(tokens), thresholds, out, np.uint64(12345))
    kept = np.bincount(out[:n], minlength=4) / 50_000
    expected = thresholds / 2**32
    assert (np.abs(kept - expected) <= 4 * np.sqrt(expected * (1 - expected) / 50_000) + 1e-9).all(), (kept, expected)
    assert (np.diff(out[:n]) >= 0).all()  # kept occurrences stay in corpus order


def test_window_pairs_follow_the_dynamic_window():
    window, n = 5, 40
    centers = np.empty(n * 2 * window, np.int64)
    contexts = np.empty(n * 2 * window, np.int64)
    distance_counts = np.zeros(window + 1)
    rng = np.uint64(7)
    sentences = 4000
    for _ in range(sentences):
        count, rng = window_pairs(n, window, centers, contexts, rng)
        d = np.abs(centers[:count] - contexts[:count])
        assert d.min() >= 1 and d.max() <= window  # never the word itself, never past the window
        assert centers[:count].min() >= 0 and contexts[:count].max() < n  # within the sentence
        distance_counts += np.bincount(d, minlength=window + 1)
    # reach r ~ U{1..window}: a context at distance d is used when r >= d, probability (window-d+1)/window,
    # and a sentence of n words has 2(n-d) ordered pairs at distance d.
    expected = np.array([0] + [2 * (n - d) * (window - d + 1) / window * sentences for d in range(1, window + 1)])
    assert distance_counts[1:] == pytest.approx(expected[1:], rel=0.02)


def test_negatives_follow_count_to_the_three_quarters():
    counts = np.array([5000, 1200, 800, 300, 90, 40, 7, 1])
    table = negative_table(counts)
    draws = draw_negatives(table, 400_000, 99)
    observed = np.bincount(draws, minlength=len(counts))
    p = counts**0.75 / (counts**0.75).sum()
    chi2 = stats.chisquare(observed, p * len(draws))
    assert chi2.pvalue > 1e-3, chi2
    # the float table of the tensor path draws the same distribution
    torch.manual_seed(0)
    t = torch.tensor(table, dtype=torch.float64)
    torch_draws = torch.searchsorted(t, torch.rand(400_000, dtype=torch.float64) * t[-1])
    assert stats.chisquare(torch.bincount(torch_draws, minlength=len(counts)).numpy(), p * 400_000).pvalue > 1e-3


def name(prefix, k):
    """Letters only: gensim's simple_preprocess splits words at digits."""
    return prefix + "".join(chr(ord("a") + int(d)) for d in f"{k:03d}")


def planted_corpus(path, pairs=30, sentences=3000, seed=0):
    """Sentences of random filler words with one planted co-occurrence each: word a_i or word b_i next
    to c_i. a_i and b_i never meet, but share their context word, so skip-gram should make them similar."""
    rng = np.random.default_rng(seed)
    filler = [name("filler", k) for k in range(300)]
    with open(path, "w") as f:
        for _ in range(sentences):
            words = list(rng.choice(filler, 8))
            i = rng.integers(pairs)
            at = rng.integers(0, 8)
            words[at:at] = [name("aword" if rng.random() < 0.5 else "bword", i), name("cword", i)]
            f.write(" ".join(words) + "\n")
    return path


@pytest.fixture(scope="module", params=["numba", "torch"])
def planted(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"w2v-{request.param}")
    corpus = planted_corpus(tmp / "planted.txt")
    cfg = resolve_recipe(
        "word2vec",
        overrides=[
            "--data.path",
            str(corpus),
            "--data.cache_dir",
            str(tmp / "cache"),
            "--data.batch_words",
            "8000",
            "--model.dim",
            "32",
            "--task.sample",
            "0",
            "--task.backend",
            request.param,
            "--trainer.max_epochs",
            "8",
            "--trainer.default_root_dir",
            str(tmp / "runs"),
            "--data.min_count",
            "3",
            # (the numba kernel is the CPU's; on a machine with a GPU the torch one would train there)
            "--trainer.accelerator",
            "cpu" if request.param == "numba" else "auto",
        ],
    )
    return zoo.fit("word2vec", config=cfg).summary


@pytest.mark.slow
@pytest.mark.xdist_group("word2vec")  # (one worker builds the module fixture once)
def test_planted_pairs_end_up_nearer_than_random_pairs(planted):
    vectors = zoo.load_vectors(planted["run_dir"])
    planted_sims = [vectors.similarity(name("aword", i), name("bword", i)) for i in range(30)]
    random_sims = [vectors.similarity(name("aword", i), name("bword", (i + 7) % 30)) for i in range(30)]
    assert np.mean(planted_sims) > np.mean(random_sims) + 0.3
    assert np.mean(np.array(planted_sims) > np.median(random_sims)) >= 0.9


@pytest.mark.slow
@pytest.mark.xdist_group("word2vec")  # (one worker builds the module fixture once)
def test_run_writes_gensim_vectors_and_exact_loss(planted):
    from gensim.models import KeyedVectors

    run_dir = planted["run_dir"]
    vectors = KeyedVectors.load_word2vec_format(os.path.join(run_dir, "vectors.bin"), binary=True)
    task = zoo.load_checkpoint(os.path.join(run_dir, "checkpoints", "last.ckpt"))
    assert vectors.index_to_key == task.vocab
    np.testing.assert_allclose(vectors.vectors, task.model.input.weight.detach().numpy(), rtol=1e-6)
    # The made-up words answer no analogy question: no analogy score (it was 0.0), and a coverage of 0.
    assert set(planted["test"]) == {"wordsim353", "simlex999", "analogy_coverage"} and planted["sample_unit"] == "words"
    assert planted["test"]["analogy_coverage"] == 0.0
    import csv

    rows = list(csv.DictReader(open(os.path.join(run_dir, "metrics.csv"))))
    losses = [float(r["train_loss"]) for r in rows]
    assert losses[-1] < losses[0]  # it learns
    sums = [float(r["train_loss_sum"]) for r in rows]
    pairs = [float(r["train_pairs"]) for r in rows]
    assert sums[0] / pairs[0] == pytest.approx(losses[0], rel=1e-12)  # float64 throughout
    steps = list(csv.DictReader(open(os.path.join(run_dir, "steps.csv"))))
    assert len(steps) == len(rows) * (len(steps) // len(rows)) and len(steps) >= len(rows)


@pytest.mark.slow
@pytest.mark.xdist_group("word2vec")  # (one worker builds the module fixture once)
def test_neighbors_command_prints_nearest_words_and_analogies(planted, tmp_path):
    a3, b3, b4 = name("aword", 3), name("bword", 3), name("bword", 4)
    result = run_command(["zoo.neighbors", planted["run_dir"], a3, f"{a3}-{b3}+{b4}", "--topn", "3"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"{a3}:" and b3 in lines[1] and len(lines) == 8
    bad = run_command(["zoo.neighbors", planted["run_dir"], "zebra", a3.upper(), "+", "--topn", "0"], cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.strip() == "zoo.neighbors: error: --topn must be at least 1, got 0"
    bad = run_command(["zoo.neighbors", planted["run_dir"], f"zebra+{a3.upper()}"], cwd=tmp_path)
    assert bad.returncode == 2 and f"not in the vocabulary: zebra, {a3.upper()} (try {a3})" in bad.stderr
    bad = run_command(["zoo.neighbors", planted["run_dir"], "+"], cwd=tmp_path)
    assert bad.returncode == 2 and "'+' names no word" in bad.stderr and "Traceback" not in bad.stderr
    # A missing word no longer costs the other queries their answers; it is named at the end.
    some = run_command(["zoo.neighbors", planted["run_dir"], "zebra", a3, "--topn", "2"], cwd=tmp_path)
    assert some.returncode == 2 and some.stdout.splitlines()[0] == f"{a3}:" and len(some.stdout.splitlines()) == 3
    assert some.stderr.strip().startswith("zoo.neighbors: error: not in the vocabulary: zebra (")


def test_a_byte_order_mark_is_not_part_of_the_first_word(tmp_path):
    corpus = tmp_path / "bom.txt"
    corpus.write_bytes("\ufeffhello world\nhello there\n".encode("utf-8"))
    dm = DATASETS.get("corpus")(
        path=str(corpus), cache_dir=str(tmp_path / "cache"), min_count=1, tokenizer="whitespace"
    )
    dm.prepare_data()
    dm.setup("fit")
    assert sorted(dm.words) == ["hello", "there", "world"]  # not "\ufeffhello" beside "hello"


def test_corpus_cache_is_built_once_and_reused(tmp_path):
    corpus = planted_corpus(tmp_path / "c.txt", sentences=200)
    dm = DATASETS.get("corpus")(path=str(corpus), cache_dir=str(tmp_path / "cache"), min_count=1, batch_words=500)
    dm.prepare_data()
    dm.setup("fit")
    folder = dm.folder
    stamp = (folder / "tokens.i32").stat().st_mtime_ns
    tokens = np.concatenate([dm.train_dataloader().dataset[c][0].numpy() for c in range(len(dm.chunks))])
    assert len(tokens) == dm.corpus_words == 200 * 10
    words = [dm.words[i] for i in tokens[:10]]
    assert words == open(corpus).readline().split()  # ids decode back to the text
    again = DATASETS.get("corpus")(path=str(corpus), cache_dir=str(tmp_path / "cache"))
    again.prepare_data()
    assert again.folder == folder and (folder / "tokens.i32").stat().st_mtime_ns == stamp
    assert dm.counts == sorted(dm.counts, reverse=True)  # ids are numbered by frequency


STALLING: dict = {}


def stalls_in_a_child(job):
    """``tokenize_part`` that never returns in a forked process (module level: the pool pickles it by name)."""
    import os
    import time

    if os.getpid() != STALLING["parent"]:
        time.sleep(3600)
    return STALLING["real"](job)


def test_a_stalled_tokenising_process_is_replaced_by_this_one(tmp_path, monkeypatch, capsys):
    """A forked tokeniser that never finishes (a lock inherited at fork) costs a wait, not the run: the
    parts are tokenised in the parent instead, into the same cache a single process writes."""
    import os
    import signal

    from zoo.data import corpus

    before = signal.getsignal(signal.SIGTERM)
    (tmp_path / "a.txt").write_text("the cat sat\non the mat\n" * 200 + "a dog\n" * 100, encoding="utf-8")
    files = corpus.corpus_files(tmp_path / "a.txt")
    corpus.build_cache(files, tmp_path / "one", "simple_preprocess", 10_000, workers=1)
    STALLING.update(parent=os.getpid(), real=corpus.tokenize_part)
    # a SIGTERM handler that only logs, as Lightning's: the stalled children must still be stopped
    signal.signal(signal.SIGTERM, lambda *_: None)
    monkeypatch.setattr(corpus, "tokenize_part", stalls_in_a_child)
    monkeypatch.setattr(corpus, "STALL_SECONDS", 2)
    corpus.build_cache(files, tmp_path / "two", "simple_preprocess", 10_000, workers=2)
    signal.signal(signal.SIGTERM, before)
    assert "tokenising processes stalled" in capsys.readouterr().err
    for name in ("tokens.i32", "sentences.i64", "vocab.tsv"):
        assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()


def test_the_token_cache_is_the_same_from_any_number_of_workers_and_equals_gensims_tokens(tmp_path):
    """The cache is built by one process per core on a large corpus: each numbers the words of its own
    run of lines, and the runs are joined in order. The same files come out of 1, 2 or 3 workers, with
    gensim's simple_preprocess words, line by line, in one regular expression per block."""
    from gensim.test.utils import datapath
    from gensim.utils import simple_preprocess

    from zoo.data.corpus import build_cache, corpus_files

    lee = open(datapath("lee_background.cor"), encoding="utf-8").read()
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "a.txt").write_text(
        lee + "Zoo's 2nd line: __init__ and naïve café, ÉCOLE!\n\n", encoding="utf-8"
    )
    (tmp_path / "text" / "b.txt").write_text(lee[:5000] + "\nno newline at the end", encoding="utf-8")
    files = corpus_files(tmp_path / "text")
    built = {}
    for workers in (1, 2, 3):
        build_cache(files, tmp_path / f"cache{workers}", "simple_preprocess", 10_000, workers=workers)
        built[workers] = [
            (tmp_path / f"cache{workers}" / name).read_bytes() for name in ("tokens.i32", "sentences.i64", "vocab.tsv")
        ]
    assert built[1] == built[2] == built[3]
    vocab = [line.split("\t")[0] for line in built[1][2].decode("utf-8").splitlines()]
    tokens = np.frombuffer(built[1][0], dtype=np.int32)
    starts = np.frombuffer(built[1][1], dtype=np.int64)
    sentences = [[vocab[i] for i in tokens[a:b]] for a, b in zip(starts[:-1], starts[1:])]
    expected = [
        words for f in files for line in f.read_text(encoding="utf-8").split("\n") if (words := simple_preprocess(line))
    ]
    assert sentences == expected


def test_long_lines_read_a_block_at_a_time_give_the_cache_whole_lines_give(tmp_path, monkeypatch):
    """Lines of thousands of words read 64 bytes at a time (a megabyte in a run), by one to three
    processes: the same token cache as whole lines read at once (its sentences cut every
    max_sentence_length words of a line, as gensim does)."""
    import random

    from zoo.data import corpus

    random.seed(0)
    words = ["alpha", "beta", "déjà", "naïve", "x", "ΣΟΦΟΣ", "a_b", "__init__", "3rd", "zz"]
    lines = [
        " ".join(random.choice(words) + random.choice(["", ",", "  ", "\t", "\r"]) for _ in range(n))
        for n in (0, 5, 3000, 1, 2500, 0, 1000, 999)
    ]
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "a.txt").write_text("\n".join(lines) + "\nno line end " + "é" * 10, encoding="utf-8")
    (tmp_path / "text" / "b.txt").write_text("more words\n\nend ü", encoding="utf-8")
    files = corpus.corpus_files(tmp_path / "text")
    for tokenizer in ("simple_preprocess", "whitespace", "lowercase"):
        corpus.build_cache(files, tmp_path / f"{tokenizer}-whole", tokenizer, 1000, workers=1)
        whole = [
            (tmp_path / f"{tokenizer}-whole" / n).read_bytes() for n in ("tokens.i32", "sentences.i64", "vocab.tsv")
        ]
        monkeypatch.setattr(corpus, "BLOCK_BYTES", 64)
        for workers in (1, 2, 3):
            folder = tmp_path / f"{tokenizer}-{workers}"
            corpus.build_cache(files, folder, tokenizer, 1000, workers=workers)
            assert [(folder / n).read_bytes() for n in ("tokens.i32", "sentences.i64", "vocab.tsv")] == whole
        monkeypatch.undo()
    starts = np.frombuffer(whole[1], dtype=np.int64)
    assert 1000 in np.diff(starts)  # (the long lines were cut into sentences)


MEASURE_CORPUS = """
import resource, sys
from pathlib import Path
from zoo.data import corpus
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
corpus.build_cache(corpus.corpus_files(Path(sys.argv[1])), Path(sys.argv[2]), "simple_preprocess", 10_000, workers=1)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024)
"""


@pytest.mark.slow
def test_a_corpus_of_one_long_line_is_tokenised_in_bounded_memory(tmp_path):
    """A corpus that is one line of 17 MB (3 million words) is read a megabyte at a time: the token cache
    is built within 64 MB of memory, as for any corpus (whole, the line took 280 MB: a gigabyte, 5 GB)."""
    import random

    random.seed(0)
    words = ["".join(random.choice("abcdefghij") for _ in range(random.randint(2, 8))) for _ in range(500)]
    (tmp_path / "line.txt").write_text(" ".join(random.choice(words) for _ in range(3_000_000)), encoding="utf-8")
    done = run_python(["-c", MEASURE_CORPUS, str(tmp_path / "line.txt"), str(tmp_path / "cache")], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) < 64 << 20, int(done.stdout) / 2**20
    sentences = np.fromfile(tmp_path / "cache" / "sentences.i64", dtype=np.int64)
    assert sentences[-1] == 3_000_000 and (np.diff(sentences) == 10_000).all()  # gensim's sentences of 10,000


def test_two_processes_building_the_same_cache_both_succeed(tmp_path):
    """Two runs on a fresh machine (tests in parallel, DDP) may both find no cache and build it: the
    one that finishes second keeps the first one's folder instead of failing."""
    from zoo.data.corpus import build_cache, corpus_files

    corpus = planted_corpus(tmp_path / "c.txt", sentences=50)
    dm = DATASETS.get("corpus")(path=str(corpus), cache_dir=str(tmp_path / "cache"), min_count=1)
    dm.prepare_data()
    stamp = (dm.folder / "tokens.i32").stat().st_mtime_ns
    build_cache(corpus_files(corpus), dm.folder, dm.tokenizer, dm.max_sentence_length)  # the slower one ends now
    assert (dm.folder / "tokens.i32").stat().st_mtime_ns == stamp
    assert sorted(p.name for p in dm.folder.parent.iterdir()) == [dm.folder.name]  # no half-built leftovers


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "the corpus has no words"),
        (b"alpha beta gamma\n", "no word occurs data.min_count=5 times"),
        (b"caf\xe9 au lait\n", "line 1 is not UTF-8 (byte 0xe9)"),
        (b"one line\ntwo lines\ncaf\xe9 au lait\n", "bad.txt line 3 is not UTF-8 (byte 0xe9)"),
        (b"text\nmore text\n\x00\x01binary\n", "bad.txt looks binary (NUL bytes on line 3)"),
    ],
)
def test_bad_corpus_gets_one_line(tmp_path, cli, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    status, _, err = cli(
        "word2vec",
        "--data.path",
        str(path),
        "--data.cache_dir",
        str(tmp_path / "cache"),
        "--trainer.default_root_dir",
        str(tmp_path / "runs"),
    )
    assert status == 1 and len(err.strip().splitlines()) == 1 and message in err, err


def test_model_scores_candidates_and_starts_like_word2vec():
    net = zoo.get_model("word2vec", vocab_size=50, dim=20)
    assert net.input.weight.abs().max() <= 1 / 20 and net.input.weight.abs().max() > 0.9 / 20
    assert torch.count_nonzero(net.output.weight) == 0
    scores = net(torch.tensor([1, 2]), torch.tensor([[3, 4, 5], [6, 7, 8]]))
    assert scores.shape == (2, 3)


def test_analogies_are_gensims_answers_asked_all_at_once():
    """The run's analogy score asks every question in one matrix product a block; the answers are the
    ones gensim's evaluate_word_analogies gives one question at a time (its 3CosAdd, upper-case
    matching where a word's most frequent spelling stands for it, the 5 nearest words)."""
    from gensim.models import KeyedVectors
    from gensim.test.utils import datapath

    from zoo.tasks.skipgram import analogy_answers

    shipped = zoo.load_pretrained("word2vec:wikipedia-sample").keyed_vectors()
    rng = np.random.default_rng(0)
    cases = {}
    for name, words, vectors in [
        ("trained", shipped.index_to_key[:2500], shipped.vectors[:2500]),
        ("random", shipped.index_to_key[:2000], rng.standard_normal((2000, 16))),
        ("tiny", ["athens", "greece", "baghdad", "iraq", "paris", "france", "oslo"], rng.standard_normal((7, 4))),
    ]:
        words = list(words)
        if name == "random":  # other spellings of frequent words, some before them, some after
            for k, word in enumerate(words[:300:3]):
                words.insert(int(rng.integers(len(words))), word.capitalize() if k % 2 else word.upper())
            vectors = rng.standard_normal((len(words), 16))
        kv = KeyedVectors(vectors.shape[1])
        kv.add_vectors(words, np.asarray(vectors, dtype=np.float32))
        cases[name] = kv
    path = datapath("questions-words.txt")
    questions = [line.upper().split() for line in open(path) if line.strip() and not line.startswith(":")]
    for name, kv in cases.items():
        total = kv.evaluate_word_analogies(path)[1][-1]
        expected = (len(total["correct"]) + len(total["incorrect"]), len(total["correct"]))
        assert analogy_answers(kv.index_to_key, kv.vectors, questions, block_floats=50_000) == expected, name
    trained = cases["trained"]
    assert analogy_answers(trained.index_to_key, trained.vectors, questions)[1] > 20  # (asked, and answered)


def test_word_pair_scores_and_vectors_file_are_gensims_without_gensim(tmp_path):
    """A run scores wordsim353 and simlex999 and writes vectors.bin without importing gensim (a second of
    its start): the same correlations as gensim's evaluate_word_pairs, the same bytes as its
    save_word2vec_format."""
    from gensim.models import KeyedVectors

    from zoo.tasks.skipgram import gensim_benchmark, word_pair_correlation, write_word2vec_binary

    shipped = zoo.load_pretrained("word2vec:wikipedia-sample").keyed_vectors()
    rng = np.random.default_rng(1)
    words = list(shipped.index_to_key[:3000])
    for word in words[:200:4]:  # other spellings, as a whitespace tokenizer keeps them
        words.insert(int(rng.integers(len(words))), word.title())
    table = np.concatenate([shipped.vectors[:3000], rng.standard_normal((len(words) - 3000, 100))]).astype(np.float32)
    kv = KeyedVectors(100)
    kv.add_vectors(words, table)
    for file in ("wordsim353.tsv", "simlex999.txt"):
        expected = kv.evaluate_word_pairs(gensim_benchmark(file))[1][0]
        assert word_pair_correlation(words, table, gensim_benchmark(file)) == pytest.approx(expected, abs=1e-9), file
    assert np.isnan(word_pair_correlation(["zzz", "qqq"], table[:2], gensim_benchmark("wordsim353.tsv")))
    kv.save_word2vec_format(str(tmp_path / "gensim.bin"), binary=True)
    write_word2vec_binary(tmp_path / "zoo.bin", words, table)
    assert (tmp_path / "zoo.bin").read_bytes() == (tmp_path / "gensim.bin").read_bytes()


def test_a_one_word_vocabulary_trains_and_draws_no_map(tmp_path):
    corpus = tmp_path / "one.txt"
    corpus.write_text("hello hello hello\n" * 20 + "world\n", encoding="utf-8")
    result = zoo.fit(
        "word2vec",
        overrides=[
            "--data.path",
            str(corpus),
            "--data.cache_dir",
            str(tmp_path / "cache"),
            "--trainer.max_epochs",
            "1",
            "--trainer.default_root_dir",
            str(tmp_path / "runs"),
        ],
        quiet=True,
    )
    assert result.task.vocab == ["hello"]
    assert "a vocabulary of 1 word has no map" in result.summary["map_note"]
    assert "one word has no neighbours" in result.summary["vectors_note"]
    assert not (result.run_dir / "embedding_map.png").exists()
    assert (result.run_dir / "metadata.tsv").read_text(encoding="utf-8") == "hello\n"


def test_metadata_of_words_that_start_like_formulas_opens_as_text(tmp_path):
    """metadata.tsv holds the corpus's words: a word a spreadsheet would run as a formula gets OWASP's
    leading quote."""
    corpus = tmp_path / "formulas.txt"
    words = ["=HYPERLINK(x)", "+cmd", "-sum", "@risk", "plain", "-1"]
    corpus.write_text((" ".join(words) + "\n") * 10, encoding="utf-8")
    result = zoo.fit(
        "word2vec",
        overrides=[
            "--data.path",
            str(corpus),
            "--data.tokenizer",
            "whitespace",
            "--data.cache_dir",
            str(tmp_path / "cache"),
            "--trainer.max_epochs",
            "1",
            "--trainer.default_root_dir",
            str(tmp_path / "runs"),
        ],
        quiet=True,
        test=False,
    )
    assert sorted(result.task.vocab) == sorted(words)
    written = (result.run_dir / "metadata.tsv").read_text(encoding="utf-8").splitlines()
    expected = {"=HYPERLINK(x)": "'=HYPERLINK(x)", "+cmd": "'+cmd", "-sum": "'-sum", "@risk": "'@risk"}
    assert written == [expected.get(w, w) for w in result.task.vocab]
