"""The LSTM language model: text data, splits, carried state, learning, generation, bad input."""

import math
import os

import pytest
import torch

import zoo
from conftest import run_command, run_python
from zoo import resolve_recipe
from zoo.data import DATASETS
from zoo.data.text import EOS, UNK, LaneBatches, LaneOrder, detokenize, tokenize
from zoo.errors import DataError, UsageError


def text_module(tmp_path, text, **options):
    path = tmp_path / "corpus.txt"
    path.write_text(text, encoding="utf-8")
    dm = DATASETS.get("text")(path=str(path), **options)
    dm.setup("fit")
    return dm


def test_splits_are_contiguous_cover_the_text_and_do_not_overlap(tmp_path):
    text = "".join(chr(ord("a") + i % 26) for i in range(1000))
    dm = text_module(tmp_path, text, val_split=0.1, test_split=0.05, seq_len=8)
    parts = [dm.split_ids[s] for s in ("train", "val", "test")]
    assert [len(p) for p in parts] == [850, 100, 50]
    decoded = "".join(dm.vocab[i] for i in torch.cat(parts).tolist())
    assert decoded == text  # train, then validation, then test, in the text's own order


def test_vocabulary_comes_from_training_text_with_unk_only_when_needed(tmp_path):
    dm = text_module(tmp_path, "ab" * 200, seq_len=4)
    assert dm.vocab == ["a", "b"]
    dm = text_module(tmp_path, "ab" * 200 + "zz" * 20, val_split=0.05, test_split=0.05, seq_len=4)
    assert dm.vocab == ["a", "b", UNK] and dm.split_ids["test"].eq(2).all()


def test_char_and_word_tokens_round_trip():
    text = "To be, or not to be:\nthat is the question.\n"
    assert detokenize(tokenize(text, "char"), "char") == text
    words = tokenize(text, "word", tokenizer="whitespace")
    assert words[:4] == ["To", "be,", "or", "not"] and words.count(EOS) == 2
    assert detokenize(words, "word", tokenizer="whitespace") == text
    assert detokenize(tokenize(text, "word"), "word") == text  # the words tokenizer's punctuation joins back
    stanzas = "one line\n\nafter a blank line\n\n\nafter two\n"  # (a blank line came back as " ")
    assert detokenize(tokenize(stanzas, "word"), "word") == stanzas


def test_training_lanes_visit_each_chunk_once_and_continue_across_batches():
    ids = torch.arange(1001)
    lanes = LaneBatches(ids, lanes=4, seq_len=10)
    order = LaneOrder(lanes, shift=False, seed=0)
    batches = [lanes[item] for item in order]
    x = torch.cat([b[0] for b in batches], dim=1)  # (4, steps * 10): each lane read left to right
    assert torch.equal(x, lanes.lanes[:, : x.shape[1]])
    assert all(torch.equal(b[1], b[0] + 1) for b in batches)  # targets are the next tokens
    assert [b[2] for b in batches] == [False] + [True] * (len(batches) - 1)
    order.shift = True
    offsets = set()
    for epoch in range(6):
        order.set_epoch(epoch)
        offsets.add(next(iter(order))[1])
    assert len(offsets) > 1 and max(offsets) < 10  # each epoch cuts the lanes at a new place


def test_short_lanes_still_give_every_epoch_whole_chunks():
    """A small text makes lanes of little more than one chunk (here 15 tokens for chunks of 10): each
    epoch's random start must leave at least one whole chunk (a 3,000-character text trained nothing)."""
    lanes = LaneBatches(torch.arange(60), lanes=4, seq_len=10)
    order = LaneOrder(lanes, shift=True, seed=0)
    assert lanes.lanes.shape[1] == 15 and len(order) >= 1
    for epoch in range(20):
        order.set_epoch(epoch)
        items = list(order)
        assert len(items) >= len(order) and all(lanes[item][0].shape == (4, 10) for item in items)


def test_evaluation_lanes_predict_every_token_once(tmp_path):
    ids = torch.arange(999)
    lanes = LaneBatches(ids, lanes=4, seq_len=10, partial=True)
    targets = torch.cat([lanes[item][1] for item in LaneOrder(lanes, shift=False, seed=0)], dim=1)
    # every token of every lane but its first is a target exactly once
    assert torch.equal(targets, lanes.lanes[:, 1:])


def test_model_maps_ids_to_next_token_logits_and_carries_state():
    net = zoo.get_model("lstm", vocab_size=11, hidden_size=16, embed_dim=8, num_layers=2)
    ids = torch.randint(11, (3, 7))
    assert net(ids).shape == (3, 7, 11)
    whole, _ = net.forward_with_state(ids)
    first, state = net.forward_with_state(ids[:, :4])
    rest, _ = net.forward_with_state(ids[:, 4:], state)
    torch.testing.assert_close(torch.cat([first, rest], 1), whole)  # carrying state = one long sequence


def test_weight_tying_shares_the_matrix():
    net = zoo.get_model("lstm", vocab_size=20, embed_dim=16, hidden_size=16, tie_weights=True)
    assert net.head.weight is net.embed.weight
    with pytest.raises(ValueError, match="tie_weights needs embed_dim == hidden_size"):
        zoo.get_model("lstm", vocab_size=20, embed_dim=8, hidden_size=16, tie_weights=True)


TINY = [
    "--model.hidden_size",
    "48",
    "--model.embed_dim",
    "16",
    "--data.seq_len",
    "16",
    "--data.batch_size",
    "4",
    "--optimizer.lr",
    "0.02",
    "--task.sample_temperatures",
    "[]",
    "--trainer.enable_model_summary",
    "false",
]


@pytest.fixture(scope="module")
def learned(tmp_path_factory):
    """A tiny text learned by heart; the run's summary."""
    tmp = tmp_path_factory.mktemp("lm")
    corpus = tmp / "tiny.txt"
    corpus.write_text("the cat sat on the mat.\n" * 60, encoding="utf-8")
    cfg = resolve_recipe(
        "lstm",
        overrides=TINY
        + ["--data.path", str(corpus), "--trainer.max_epochs", "25", "--trainer.default_root_dir", str(tmp)],
    )
    return zoo.fit("lstm", config=cfg).summary


@pytest.mark.slow
@pytest.mark.xdist_group("language_model")  # (one worker builds the module fixture once)
def test_a_tiny_text_is_learned_to_near_zero_loss(learned):
    import csv

    rows = list(csv.DictReader(open(os.path.join(learned["run_dir"], "metrics.csv"))))
    assert float(rows[-1]["train_loss"]) < 0.02
    # Held-out text from the same repetition is predicted too; only the first characters of each
    # evaluation lane, which have no context yet, are uncertain.
    assert learned["test"]["loss"] < 0.15 and learned["test"]["acc"] > 0.95
    assert learned["test"]["ppl"] == pytest.approx(math.exp(learned["test"]["loss"]), rel=1e-4)
    assert learned["test"]["bpc"] == pytest.approx(learned["test"]["loss"] / math.log(2), rel=1e-4)
    assert learned["sample_unit"] == "tokens"


@pytest.mark.slow
@pytest.mark.xdist_group("language_model")  # (one worker builds the module fixture once)
def test_encode_decode_and_seeded_generation_survive_the_checkpoint(learned):
    task = zoo.load_checkpoint(learned["checkpoint"])
    assert task.decode(task.encode("the mat.")) == "the mat."
    text = task.generate("the c", 40, temperature=0.5, generator=torch.Generator().manual_seed(3))
    again = zoo.load_checkpoint(learned["run_dir"]).generate(
        "the c", 40, temperature=0.5, generator=torch.Generator().manual_seed(3)
    )
    assert text == again and text.startswith("the cat sat on the mat.")
    greedy = task.generate("the ", 19, temperature=1.0, top_k=1)
    assert greedy == "the cat sat on the mat."  # top_k=1 is greedy: it recites what it learned
    with pytest.raises(UsageError, match="not in the model's vocabulary: 'Z'"):
        task.encode("Zebra")
    with pytest.raises(UsageError, match="temperature must be > 0, got nan"):
        task.generate("the ", 5, temperature=float("nan"))
    assert task(torch.zeros(2, 5, dtype=torch.long)).shape == (2, 5, len(task.vocab))


@pytest.mark.slow
@pytest.mark.xdist_group("language_model")  # (one worker builds the module fixture once)
def test_a_sample_without_a_prompt_starts_at_a_line_break(learned):
    """Not from a random token (often a rare symbol): as if the text began after a line break."""
    task = zoo.load_checkpoint(learned["checkpoint"])
    assert "\n" in task.index
    seeded = [torch.Generator().manual_seed(5) for _ in range(2)]
    assert task.generate("", 40, generator=seeded[0]) == task.generate("\n", 40, generator=seeded[1])[1:]


def test_a_byte_order_mark_is_not_part_of_the_text(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes(("\ufeff" + "the cat sat on the mat.\n" * 40).encode("utf-8"))
    dm = DATASETS.get("text")(path=str(path), seq_len=8)
    dm.setup("fit")
    assert "\ufeff" not in dm.vocab


@pytest.mark.slow
@pytest.mark.xdist_group("language_model")  # (one worker builds the module fixture once)
def test_generate_command_is_repeatable_with_a_seed(learned, tmp_path):
    args = [
        "zoo.generate",
        learned["run_dir"],
        "--prompt",
        "the",
        "--length",
        "30",
        "--seed",
        "7",
        "--temperature",
        "1.5",
    ]
    first, second = run_command(args, cwd=tmp_path), run_command(args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout and first.stdout.startswith("the")
    bad = run_command(["zoo.generate", learned["run_dir"], "--prompt", "Qx"], cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [
        "zoo.generate: error: not in the model's vocabulary: 'Q', 'x' (it was built from the training text)"
    ]


def test_word_level_vocabulary_and_unknown_words(tmp_path):
    text = "a b c\n" * 100 + "a b d\n" * 10
    dm = text_module(tmp_path, text, level="word", seq_len=4, val_split=0.05, test_split=0.05)
    assert dm.vocab == [EOS, "a", "b", "c", UNK]
    assert dm.describe()["vocab_size"] == 5


@pytest.mark.parametrize(
    "content, message",
    [
        (b"caf\xe9 au lait " * 20, "is not UTF-8 text (byte 0xe9 at offset 3)"),
        (b"\x00\x01\x02binary" * 30, "looks binary"),
        (b"   \n\n", "is empty"),
        (b"short", "the text is too short"),
    ],
)
def test_bad_text_gets_one_line(tmp_path, cli, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    status, out, err = cli("lstm", "--data.path", str(path), "--trainer.default_root_dir", str(tmp_path / "runs"))
    assert status == 1 and len(err.strip().splitlines()) == 1 and message in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_missing_text_and_empty_folder(tmp_path, cli):
    status, _, err = cli("lstm", "--data.path", str(tmp_path / "none.txt"))
    assert status == 1 and "text file not found" in err
    with pytest.raises(DataError, match="no .txt files"):
        DATASETS.get("text")(path=str(tmp_path)).setup("fit")


def test_samples_after_each_epoch_go_to_the_run_directory(tmp_path):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("the cat sat on the mat.\n" * 30, encoding="utf-8")
    cfg = resolve_recipe(
        "lstm",
        overrides=TINY
        + [
            "--data.path",
            str(corpus),
            "--trainer.max_epochs",
            "2",
            "--trainer.default_root_dir",
            str(tmp_path),
            "--task.sample_temperatures",
            "[0.5,1.0]",
            "--task.sample_length",
            "12",
            "--task.sample_prompt",
            "the",
        ],
    )
    summary = zoo.fit("lstm", config=cfg).summary
    text = open(os.path.join(summary["run_dir"], "samples.txt"), encoding="utf-8").read()
    headers = [line for line in text.splitlines() if line.startswith("--- epoch")]
    assert headers == [f"--- epoch {e}, temperature {t} ---" for e in (0, 1) for t in (0.5, 1.0)]
    lines = text.splitlines()
    assert all(lines[lines.index(h) + 1].startswith("the") for h in headers)  # each continues the prompt


@pytest.mark.parametrize("weight_init", ["torch", "keras"])
def test_forget_gate_starts_open_and_keras_init_matches_keras(weight_init):
    hidden, embed = 32, 8
    net = zoo.get_model("lstm", vocab_size=11, hidden_size=hidden, embed_dim=embed, weight_init=weight_init)
    lstm = net.lstm
    forget = slice(hidden, 2 * hidden)  # torch stacks the gates (input, forget, cell, output)
    total_bias = lstm.bias_ih_l0 + lstm.bias_hh_l0
    assert torch.allclose(total_bias[forget], torch.ones(hidden))
    if weight_init == "keras":
        others = torch.cat([total_bias[:hidden], total_bias[2 * hidden :]])
        assert torch.equal(others, torch.zeros(3 * hidden))
        recurrent = lstm.weight_hh_l0.detach()  # (4H, H): Keras' (H, 4H) kernel, transposed
        torch.testing.assert_close(recurrent.T @ recurrent, torch.eye(hidden), atol=1e-5, rtol=0)
        glorot = math.sqrt(6 / (embed + 4 * hidden))
        assert lstm.weight_ih_l0.abs().max() <= glorot
        assert lstm.weight_ih_l0.abs().max() > 0.5 * glorot
    else:
        bound = 1 / math.sqrt(hidden)
        assert lstm.weight_hh_l0.abs().max() <= bound
        assert not torch.allclose(lstm.weight_hh_l0.T @ lstm.weight_hh_l0, torch.eye(hidden), atol=0.1)
    with pytest.raises(UsageError, match="weight_init expects one of"):
        zoo.get_model("lstm", vocab_size=11, weight_init="glorot")


def test_impossible_sampling_prompt_and_splits_fail_before_training(tmp_path, cli):
    path = tmp_path / "t.txt"
    path.write_text("the cat sat on the mat.\n" * 200)
    root = tmp_path / "runs"
    status, _, err = cli(
        "lstm",
        "--data.path",
        str(path),
        "--task.sample_temperatures",
        "[1.0]",
        "--task.sample_prompt",
        "Zebra",
        "--trainer.default_root_dir",
        str(root),
    )
    assert status == 2 and err.strip().splitlines() == [
        "zoo.train: error: task 'language_model': not in the model's vocabulary: 'Z', 'b', 'r' "
        "(it was built from the training text)"
    ]
    assert not (root.exists() and any(root.glob("*/checkpoints/*")))  # nothing was trained
    status, _, err = cli(
        "lstm", "--data.path", str(path), "--data.test_split", "0", "--trainer.default_root_dir", str(root)
    )
    assert status == 2 and "data.test_split must be between 0 and 1 (exclusive), got 0" in err


def test_a_file_read_a_piece_at_a_time_is_the_text_read_whole(tmp_path, monkeypatch):
    """Pieces of 50 characters (a megabyte in a run) cut at line ends, or at a space in a longer line:
    the same tokens, vocabulary and splits as the whole text tokenised at once, at both levels, with
    CRLF line ends, a byte-order mark, a line separator, Greek capitals lowercased, a .gz file and
    a folder of files."""
    import gzip

    from zoo.data import text as text_module

    long_line = " ".join(f"w{k % 37}" for k in range(400))  # (no line end for 1,600 characters)
    first = 'ΟΔΟΣ ΣΟΦΟΣ said: "Don\'t," he said.\r\n' * 30 + long_line + "\u2028after\x0cform feed\n\n"
    second = "\ufeffThe second file's text, ending without a line end." + " more" * 60
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.txt").write_text(first, encoding="utf-8", newline="")
    (folder / "b.txt").write_text(second, encoding="utf-8")
    whole_texts = {folder: first + "\n" + second[1:]}  # (files joined by a line end; no byte-order mark)
    with gzip.open(tmp_path / "c.txt.gz", "wt", encoding="utf-8", newline="") as f:
        f.write(first)
    whole_texts[tmp_path / "c.txt.gz"] = first
    monkeypatch.setattr(text_module, "BLOCK_CHARS", 50)
    monkeypatch.setattr(text_module, "BLOCK_BYTES", 64)
    for path, whole in whole_texts.items():
        for options in (
            dict(level="char"),
            dict(level="char", lowercase=True),
            dict(level="word", min_count=1),
            dict(level="word", tokenizer="whitespace", lowercase=True, min_count=2),
        ):
            dm = DATASETS.get("text")(path=str(path), seq_len=4, **options)
            dm.setup("fit")
            level = options["level"]
            tokens = tokenize(whole, level, options.get("tokenizer", "words"), options.get("lowercase", False))
            n_val, n_test = int(len(tokens) * 0.05), int(len(tokens) * 0.05)
            train = tokens[: len(tokens) - n_val - n_test]
            kept = {t for t in train if train.count(t) >= options.get("min_count", 1)}
            assert set(dm.vocab) - {UNK} == kept, (path, options)
            ids = torch.cat([dm.split_ids[s] for s in ("train", "val", "test")])
            assert [dm.vocab[i] for i in ids.tolist()] == [t if t in kept else UNK for t in tokens], (path, options)
            assert [len(dm.split_ids[s]) for s in ("val", "test")] == [n_val, n_test]


MEASURE_TEXT = """
import resource, sys
from zoo.data.text import TextDataModule
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
dm = TextDataModule(path=sys.argv[1], level=sys.argv[2])
dm.setup("fit")
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(sum(len(ids) for ids in dm.split_ids.values()), grown * 1024, dm.split_ids["train"].element_size())
"""


@pytest.mark.slow
@pytest.mark.parametrize("level, end", [("char", "\n"), ("word", " ")])
def test_a_large_compressed_text_or_one_long_line_is_read_in_bounded_memory(tmp_path, level, end):
    """20 MB of text in a 0.1 MB .gz file, as lines (characters) or as one line (words): memory grows by
    the token ids the model trains on (2 bytes a token) and at most 64 MB besides, whatever the size of
    the text, not by copies of it (it took 400 MB for the characters, 250 for the words)."""
    import gzip
    import random

    random.seed(0)
    words = ["".join(random.choice("abcdefghij") for _ in range(random.randint(2, 8))) for _ in range(300)]
    line = " ".join(random.choice(words) for _ in range(2000))
    path = tmp_path / "big.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as f:
        for _ in range(1500):
            f.write(line + end)
    done = run_python(["-c", MEASURE_TEXT, str(path), level], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    tokens, grown, size = map(int, done.stdout.split())
    assert tokens > (3_000_000 if level == "word" else 17_000_000) and size == 2
    assert grown < tokens * size + (64 << 20), (grown / 2**20, tokens)
