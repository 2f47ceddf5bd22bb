"""Word-level language models: the tokenizer, the vocabulary's limits and <unk> counts, adaptive
softmax (exact perplexity, tied input vectors), and a word model learned, saved, loaded and prompted."""

import csv
import math
import os

import pytest
import torch
import torch.nn.functional as F

import zoo
from conftest import run_command, run_python
from zoo import resolve_recipe
from zoo.data import DATASETS
from zoo.data.text import EOS, UNK, count_tokens, detokenize, tokenize
from zoo.models.lstm import ADAPTIVE_FROM, frequency_cutoffs
from zoo.tasks.language_model import vocabulary_line


# --- the tokenizer ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "line, tokens",
    [
        ("Hello, world!", ["Hello", ",", "world", "!"]),
        ('He said: "Go."', ["He", "said", ":", '"', "Go", ".", '"']),
        ("Don't over-think rock'n'roll", ["Don't", "over-think", "rock'n'roll"]),
        (
            "It cost $3.14, 1,000 times at 10:30.",
            ["It", "cost", "$", "3.14", ",", "1,000", "times", "at", "10:30", "."],
        ),
        ("Wait... -- no (sic)", ["Wait", "...", "--", "no", "(", "sic", ")"]),
        ("`` quoted '' text", ["``", "quoted", "''", "text"]),  # Penn-style quotes (the Brown corpus)
        ("a <unk> b", ["a", "<unk>", "b"]),  # written <unk> (Penn Treebank, WikiText) stays one token
        ("end -", ["end", "-"]),
    ],
)
def test_words_tokenizer_splits_punctuation_from_words(line, tokens):
    assert tokenize(line, "word") == tokens + [EOS]


def test_lowercase_whitespace_and_line_ends():
    assert tokenize("The THE\nthe", "word", lowercase=True) == ["the", "the", EOS, "the", EOS]
    assert tokenize("The THE", "word") == ["The", "THE", EOS]  # case is kept by default
    assert tokenize('said: "Go."', "word", tokenizer="whitespace") == ["said:", '"Go."', EOS]
    assert tokenize("AbC", "char", lowercase=True) == ["a", "b", "c"]
    # decoding writes closing punctuation against the word before it, opening against the one after
    words = ["Hello", ",", "world", "(", "sic", ")", ".", EOS, "Next", "$", "5", "!", EOS]
    assert detokenize(words, "word") == "Hello, world (sic).\nNext $5!\n"
    assert detokenize(words, "word", tokenizer="whitespace") == "Hello , world ( sic ) .\nNext $ 5 !\n"


def test_min_count_max_vocab_and_unk_counts():
    parts = {
        "train": "a a a a b b b c c d e".split(),
        "val": "a b f".split(),  # f: only in validation
        "test": "c d".split(),
    }
    vocab, counts, report = count_tokens(parts, min_count=1, max_vocab=None)
    assert vocab == ["a", "b", "c", "d", "e", UNK] and counts == [4, 3, 2, 1, 1, 0]
    assert report["unk"] == {"train": 0, "val": 1, "test": 0} and report["unk_types"] == 0

    vocab, counts, report = count_tokens(parts, min_count=2, max_vocab=None)
    # <unk> stands for d and e; ties in character order ("<" before letters)
    assert vocab == ["a", "b", UNK, "c"] and counts == [4, 3, 2, 2]
    assert report["unk"] == {"train": 2, "val": 1, "test": 1} and report["unk_types"] == 2
    assert report["training_types"] == 5 and report["tokens"] == {"train": 11, "val": 3, "test": 2}

    vocab, counts, report = count_tokens(parts, min_count=1, max_vocab=3)  # <unk> takes one of the 3
    assert vocab == [UNK, "a", "b"] and counts == [4, 4, 3]
    assert report["unk"] == {"train": 4, "val": 1, "test": 2} and report["vocab_size"] == 3

    line = vocabulary_line(count_tokens(parts, 2, None)[2], "word")
    assert line == (
        "zoo: vocabulary of 4 words (min_count 2) from 11 training tokens of 5 kinds; "
        "2 rarer ones read as <unk>: 18.2% of train, 33.3% of val, 50.0% of test"
    )


def test_word_data_options_are_checked_and_kept(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("The cat sat.\n" * 50 + "A rare line!\n" + "The cat sat.\n" * 10, encoding="utf-8")
    dm = DATASETS.get("text")(path=str(path), level="word", min_count=2, lowercase=True, seq_len=4)
    dm.setup("fit")
    assert set(dm.vocab) == {"the", "cat", "sat", ".", EOS, UNK}  # "a rare line !" is read as <unk>
    described = dm.describe()
    assert described["tokenizer"] == "words" and described["lowercase"] is True
    assert described["token_counts"] == sorted(described["token_counts"], reverse=True)
    for option, value, message in [
        ("min_count", 0, "data.min_count must be at least 1, got 0"),
        ("max_vocab", 1, "data.max_vocab must be at least 2"),
    ]:
        with pytest.raises(zoo.UsageError, match=message):
            DATASETS.get("text")(path=str(path), level="word", **{option: value})
    with pytest.raises(zoo.UsageError, match="data.tokenizer"):
        resolve_recipe("lstm", overrides=["--data.tokenizer", "spaces"])


def test_word_level_reads_words_seen_once_as_unk_unless_told_otherwise(tmp_path):
    """At word level min_count is 2 unless set (the word recipe's): words seen once in the training text
    read as <unk>, so <unk> is trained on, and a validation word the training text lacks reads as a
    trained <unk>. Characters keep every one; an explicit min_count 1 keeps every word."""
    path = tmp_path / "t.txt"
    path.write_text("one rare line\n" + "the cat sat on the mat\n" * 30 + "the cat sat\n" * 5, encoding="utf-8")
    dm = DATASETS.get("text")(path=str(path), level="word", seq_len=4)
    dm.setup("fit")
    assert dm.report["min_count"] == 2 and dm.report["unk"]["train"] == 3 and UNK in dm.vocab
    assert dm.token_counts[dm.vocab.index(UNK)] == 3  # (its count: what it is trained on)
    told = DATASETS.get("text")(path=str(path), level="word", seq_len=4, min_count=1)
    told.setup("fit")
    assert told.report["unk"]["train"] == 0 and {"one", "rare", "line"} <= set(told.vocab)
    chars = DATASETS.get("text")(path=str(path), seq_len=4)
    chars.setup("fit")
    assert chars.min_count == 1 and chars.report["unk"]["train"] == 0 and set("one rare line") <= set(chars.vocab)


@pytest.mark.slow
def test_the_lstm_recipe_at_word_level_leaves_min_count_to_the_level(tmp_path):
    """python -m zoo.train lstm --data.level word: the recipe (its options as the commands read them,
    from zoo/schema.json) sets no min_count, so the level's is used."""
    import yaml

    done = run_python(["-m", "zoo.train", "lstm", "--data.level", "word", "--print_config"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert yaml.safe_load(done.stdout)["data"]["min_count"] is None


def test_character_vocabulary_keeps_its_order_and_checkpoint_keys(tmp_path):
    """Character level is as it was: characters in code-point order (not by frequency), <unk> last,
    and none of the word level's keys in what the data describes (old runs still resume)."""
    path = tmp_path / "t.txt"
    path.write_text("zzzzzzzz ab\n" * 40, encoding="utf-8")
    dm = DATASETS.get("text")(path=str(path), seq_len=4)
    dm.setup("fit")
    assert dm.vocab == ["\n", " ", "a", "b", "z"]
    assert set(dm.describe()) == {"vocab_size", "vocab", "level"}


# --- adaptive softmax ----------------------------------------------------------------------------
def adaptive_net(**kwargs):
    torch.manual_seed(0)
    options = dict(vocab_size=40, embed_dim=16, hidden_size=16, softmax="adaptive", cutoffs=[6, 20], div_value=2.0)
    return zoo.get_model("lstm", **{**options, **kwargs}).double().eval()


@pytest.mark.parametrize("tie_weights", [False, True])
def test_adaptive_softmax_perplexity_is_the_full_softmax_perplexity(tie_weights):
    """The loss training and evaluation use (the head and the target's cluster only) is the exact
    cross-entropy of a full softmax over every word built from the same weights by hand."""
    net = adaptive_net(tie_weights=tie_weights)
    ids, targets = torch.randint(40, (3, 9)), torch.randint(40, (3, 9))
    targets[0, :3] = torch.tensor([0, 10, 30])  # one target in the head and in each cluster
    loss, logits, _ = net.loss_with_state(ids, targets)
    assert logits is None

    # The whole vocabulary's log-probabilities from the weights: the head's log-softmax for the first
    # 6 words; for a word of cluster k, the head's log-probability of the cluster plus the word's
    # log-softmax within its cluster.
    h = net.features_with_state(ids)[0].reshape(-1, 16)
    head = F.log_softmax(h @ net.head.head.weight.T, dim=-1)  # (N, 6 + 2)
    parts = [head[:, :6]]
    for k, (project, output) in enumerate(net.head.tail):
        parts.append(head[:, 6 + k : 7 + k] + F.log_softmax(h @ project.weight.T @ output.weight.T, dim=-1))
    full = torch.cat(parts, dim=1)  # (N, 40)
    torch.testing.assert_close(full.exp().sum(-1), torch.ones(len(h), dtype=full.dtype))
    by_hand = F.cross_entropy(full, targets.reshape(-1))
    assert abs(math.exp(loss.item()) - math.exp(by_hand.item())) < 1e-5
    # forward_with_state's scores (generation's) are the same distribution
    scores = net.forward_with_state(ids)[0].reshape(-1, 40)
    torch.testing.assert_close(scores, full, atol=1e-10, rtol=0)


def test_tied_adaptive_softmax_reads_its_inputs_from_the_output_layer():
    net = adaptive_net(tie_weights=True)
    untied = adaptive_net(tie_weights=False)
    assert (
        net.embed is None
        and sum(p.numel() for p in untied.parameters()) - sum(p.numel() for p in net.parameters()) == 40 * 16
    )
    vectors = net.embed_ids(torch.tensor([[2, 10, 30]]))[0]
    torch.testing.assert_close(vectors[0], net.head.head.weight[2])  # a frequent word: its head row
    project, output = net.head.tail[0]
    torch.testing.assert_close(vectors[1], output.weight[10 - 6] @ project.weight)
    project, output = net.head.tail[1]
    torch.testing.assert_close(vectors[2], output.weight[30 - 20] @ project.weight)
    # the gradient of the loss reaches the output layer through the inputs too
    loss, _, _ = net.loss_with_state(torch.tensor([[30, 30]]), torch.tensor([[0, 0]]))
    loss.backward()
    assert net.head.tail[1][1].weight.grad[30 - 20].abs().sum() > 0


def test_softmax_auto_cutoffs_and_bad_settings():
    counts = [100] + [10] * 9 + [1] * (ADAPTIVE_FROM - 10)
    big = zoo.get_model("lstm", vocab_size=ADAPTIVE_FROM, token_counts=counts, embed_dim=32, hidden_size=32)
    assert big.adaptive and big.head.cutoffs[:-1] == frequency_cutoffs(counts)
    small = zoo.get_model("lstm", vocab_size=50, token_counts=[1] * 50, embed_dim=8, hidden_size=8)
    assert not small.adaptive  # below ADAPTIVE_FROM: a full softmax
    assert not zoo.get_model("lstm", vocab_size=ADAPTIVE_FROM, embed_dim=8, hidden_size=8).adaptive  # no counts
    # 60% of the text in the first word, 80% by the 3rd, 95% by the 6th
    assert frequency_cutoffs([60, 10, 10, 5, 5, 5, 2, 1, 1, 1]) == [3, 6]
    with pytest.raises(ValueError, match="decreasing frequency"):
        zoo.get_model("lstm", vocab_size=3, token_counts=[1, 5, 2], softmax="adaptive")
    with pytest.raises(ValueError, match="needs cutoffs"):
        zoo.get_model("lstm", vocab_size=30, softmax="adaptive")
    with pytest.raises(ValueError, match="leaves cluster 2 no dimensions"):
        zoo.get_model("lstm", vocab_size=30, hidden_size=8, embed_dim=8, softmax="adaptive", cutoffs=[5, 10])


# --- a word model learned, saved, loaded and prompted ------------------------------------------------
TINY = [
    "--data.level",
    "word",
    "--data.min_count",
    "2",
    "--model.hidden_size",
    "32",
    "--model.embed_dim",
    "32",
    "--model.tie_weights",
    "true",
    "--model.softmax",
    "adaptive",
    "--model.cutoffs",
    "[4,8]",
    "--data.seq_len",
    "8",
    "--data.batch_size",
    "4",
    "--optimizer.lr",
    "0.02",
    "--task.sample_temperatures",
    "[]",
    "--trainer.enable_model_summary",
    "false",
    "--trainer.max_epochs",
    "30",
]


@pytest.fixture(scope="module")
def learned(tmp_path_factory):
    """Two sentences learned by heart at word level (words seen once read as <unk>); the summary."""
    tmp = tmp_path_factory.mktemp("words")
    corpus = tmp / "tiny.txt"
    corpus.write_text("One unique opening line\n" + "the cat sat on the mat.\nthe dog ate my homework!\n" * 40)
    cfg = resolve_recipe("lstm", overrides=TINY + ["--data.path", str(corpus), "--trainer.default_root_dir", str(tmp)])
    return zoo.fit("lstm", config=cfg, quiet=True).summary


@pytest.mark.slow
@pytest.mark.xdist_group("words")  # (one worker builds the module fixture once)
def test_a_tiny_text_is_learned_to_near_zero_loss_at_word_level(learned):
    rows = list(csv.DictReader(open(os.path.join(learned["run_dir"], "metrics.csv"))))
    assert float(rows[-1]["train_loss"]) < 0.05
    assert learned["test"]["loss"] < 0.3 and learned["test"]["ppl"] < 1.35
    assert learned["vocabulary"]["unk"]["train"] == 4 and learned["vocabulary"]["unk_types"] == 4


@pytest.mark.slow
@pytest.mark.xdist_group("words")  # (one worker builds the module fixture once)
def test_the_checkpoint_keeps_the_vocabulary_and_seeded_generation_repeats(learned, capsys):
    task = zoo.load_checkpoint(learned["checkpoint"])
    assert task.model.adaptive and task.level == "word" and task.tokenizer == "words"
    assert task.vocab[0] == "the" and UNK in task.vocab and "unique" not in task.vocab
    assert task.vocab_report["unk_types"] == 4
    assert task.decode(task.encode("the dog ate my homework!")) == "the dog ate my homework!"
    seeded = [torch.Generator().manual_seed(3) for _ in range(2)]
    text = task.generate("the cat", 20, temperature=0.7, generator=seeded[0])
    again = zoo.load_checkpoint(learned["run_dir"]).generate("the cat", 20, temperature=0.7, generator=seeded[1])
    assert text == again and text.startswith("the cat sat on the mat.\n")
    assert task.generate("the cat", 5, top_k=1) == "the cat sat on the mat."  # greedy: what it learned
    assert capsys.readouterr().err == ""


@pytest.mark.slow
@pytest.mark.xdist_group("words")  # (one worker builds the module fixture once)
def test_an_out_of_vocabulary_prompt_word_is_named(learned, tmp_path, capsys):
    task = zoo.load_checkpoint(learned["checkpoint"])
    ids = task.encode("the zebra sat on the Zebra")
    assert ids.tolist().count(task.index[UNK]) == 2
    assert capsys.readouterr().err == "zoo: not in the model's vocabulary, read as <unk>: 'zebra', 'Zebra'\n"
    task.encode("the zebra")
    assert capsys.readouterr().err == ""  # named once
    done = run_command(["zoo.generate", learned["run_dir"], "--prompt", "the zebra", "--length", "3"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == ["zoo: not in the model's vocabulary, read as <unk>: 'zebra'"]
    assert done.stdout.startswith("the zebra")


@pytest.mark.slow
@pytest.mark.xdist_group("words")  # (one worker builds the module fixture once)
def test_a_word_checkpoint_from_before_the_tokenizer_option_still_loads(learned, tmp_path):
    """Checkpoints written before tokenizer/lowercase/vocab_report/token_counts existed split words
    at whitespace, as they were trained."""
    checkpoint = torch.load(learned["checkpoint"], map_location="cpu", weights_only=False)
    hparams = checkpoint["hyper_parameters"]
    for key in ("tokenizer", "lowercase", "vocab_report"):
        hparams.pop(key)
    hparams["model_kwargs"].pop("token_counts")
    old = tmp_path / "old.ckpt"
    torch.save(checkpoint, old)
    task = zoo.load_checkpoint(old)
    assert task.tokenizer == "whitespace" and task.model.adaptive  # (its cut-offs are in model_kwargs)
    assert task.encode("the mat.").tolist() == [task.index["the"], task.index[UNK]]  # "mat." is one word


def test_a_run_from_before_the_word_options_still_resumes(tmp_path):
    """A character run started before softmax/cutoffs/div_value/lowercase existed has none of them in
    its checkpoint: their defaults now are what it was trained with, so --resume takes it; a value
    other than the default is still a difference."""
    from zoo.training import differences, option_defaults

    corpus = tmp_path / "t.txt"
    corpus.write_text("the cat sat on the mat.\n" * 40, encoding="utf-8")
    _, task = zoo.build("lstm", overrides=["--data.path", str(corpus), "--model.hidden_size", "16"])
    now = dict(task.hparams)
    then = {k: v for k, v in now.items() if k != "lowercase"}
    then["model_kwargs"] = {
        k: v for k, v in now["model_kwargs"].items() if k not in ("softmax", "cutoffs", "div_value")
    }
    defaults = option_defaults(task)
    assert differences(then, now, defaults) == []
    now["model_kwargs"] = {**now["model_kwargs"], "softmax": "adaptive"}
    assert differences(then, now, defaults) == [("model_kwargs.softmax", None, "adaptive")]
