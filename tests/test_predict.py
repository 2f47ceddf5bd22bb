"""python -m zoo.predict and python -m zoo.show on shipped weights: folders of images of any mode,
a folder laid out by class, unreadable files, prompts, words; and the bad input that gets one line."""

import csv

import numpy as np
import pytest
from PIL import Image
from test_pretrained import fashion_test_set

from zoo.predict import main as predict
from zoo.show import main as show


@pytest.fixture
def labelled_folder(tmp_path):
    """Fashion-MNIST test images as files laid out by class (two classes, 12 each, in several modes),
    and one file that is not an image."""
    import zoo

    x, y = fashion_test_set()
    names = zoo.weight_card("lenet:fashion-mnist")["classes"]
    root = tmp_path / "clothes"
    for label in (1, 7):  # Trouser, Sneaker
        folder = root / names[label]
        folder.mkdir(parents=True)
        for n, i in enumerate((y == label).nonzero()[:12, 0].tolist()):
            image = Image.fromarray(x[i, 0].numpy())
            image = [image, image.convert("RGB"), image.convert("P"), image.convert("LA")][n % 4]
            image.save(folder / f"{n}.png")
    (root / names[1] / "broken.png").write_bytes(b"this is not an image")
    return root


def test_a_folder_laid_out_by_class_gets_predictions_accuracy_and_a_confusion_matrix(labelled_folder, tmp_path, capsys):
    out = tmp_path / "preds.csv"
    assert (
        predict(["lenet:fashion-mnist", str(labelled_folder), "--topk", "2", "--out", str(out), "--workers", "0"]) == 0
    )
    rows = list(csv.DictReader(open(out)))
    assert list(rows[0]) == ["input", "class_1", "prob_1", "class_2", "prob_2", "true_class"]
    assert len(rows) == 24 and all(float(r["prob_1"]) >= float(r["prob_2"]) for r in rows)
    correct = sum(r["class_1"] == r["true_class"] for r in rows)
    err = capsys.readouterr().err
    assert "broken.png: cannot read image" in err and "1 unreadable (skipped" in err
    assert f"accuracy {correct / 24:.4f} on 24 labelled images" in err and correct >= 20
    assert (tmp_path / "preds_confusion.png").is_file()


def test_images_anywhere_give_one_row_each_on_stdout(tmp_path, capsys):
    x, _ = fashion_test_set()
    Image.fromarray(x[0, 0].numpy()).resize((64, 64)).save(tmp_path / "big.png")
    Image.fromarray(x[1, 0].numpy().astype(np.uint16) * 257).save(tmp_path / "deep.png")
    assert (
        predict(["lenet:fashion-mnist", str(tmp_path / "big.png"), str(tmp_path / "deep.png"), "--workers", "0"]) == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("input,class_1,prob_1") and len(lines) == 3 and "true_class" not in lines[0]


def test_prompts_and_words_are_answered_as_generate_and_neighbors_do(capsys):
    assert predict(["lstm:tinyshakespeare", "ROMEO:", "--length", "50", "--seed", "1"]) == 0
    sample = capsys.readouterr().out
    assert sample.startswith("ROMEO:") and len(sample.rstrip("\n")) == 56
    assert predict(["word2vec:wikipedia-sample", "music", "--topk", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "music:" and len(lines) == 4


@pytest.mark.parametrize(
    "args, code, words",
    [
        (["lenet:imagenet", "x.png"], 2, ["unknown weights 'lenet:imagenet'", "lenet:fashion-mnist"]),
        (["lenet:fashion-mnist", "nowhere/"], 1, ["no such image file or folder: nowhere/"]),
        (["lenet:fashion-mnist", "x.png", "--topk", "0"], 2, ["--topk must be at least 1, got 0"]),
        (["runs/none"], 2, ["give MODEL_OR_RUN and at least one INPUT"]),
        (["no-such-run", "x.png"], 2, ["no such run directory, checkpoint or shipped weight: no-such-run"]),
    ],
)
def test_bad_input_is_one_line(args, code, words, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert predict(args) == code
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("zoo.predict: error: ")
    assert all(word in lines[0] for word in words), lines


def test_list_names_every_shipped_weight_with_its_figures(capsys):
    assert predict(["--list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("lenet:fashion-mnist", "word2vec:wikipedia-sample", "test_acc"))


def test_show_draws_what_a_cnn_and_word_vectors_learned(labelled_folder, tmp_path, capsys):
    images = sorted(str(p) for p in labelled_folder.rglob("[0-2].png"))[:3]
    assert show(["lenet:fashion-mnist", *images, "--out", str(tmp_path / "cnn")]) == 0
    assert {p.name for p in (tmp_path / "cnn").iterdir()} == {"filters.png", "feature_maps.png"}
    assert show(["word2vec:wikipedia-sample", "--out", str(tmp_path / "words")]) == 0
    words = tmp_path / "words"
    vocabulary = (words / "metadata.tsv").read_text().splitlines()
    rows = (words / "vectors.tsv").read_text().splitlines()
    assert len(vocabulary) == len(rows) and len(rows[0].split("\t")) == 100 and (words / "embedding_map.png").is_file()
    assert show(["lstm:tinyshakespeare"]) == 2
    assert "zoo draws pictures of CNNs, MLPs on images and word vectors" in capsys.readouterr().err
