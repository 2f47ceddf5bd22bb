"""python -m zoo.predict and python -m zoo.show on shipped weights: folders of images of any mode,
a folder laid out by class, unreadable files, prompts, words; tables, their rows numbered as the file's,
with the accuracy where the target is there; cells a spreadsheet would run as formulas; and the bad
input that gets one line."""

import csv

import numpy as np
import pytest
from PIL import Image
from test_pretrained import fashion_test_set

from zoo.predict import main as predict
from zoo.show import main as show


@pytest.fixture
def labelled_folder(tmp_path):
    """Fashion-MNIST test images as files laid out by class (two classes, 12 each, in several modes; the
    class with a slash in its name in a folder named with a dash), and one file that is not an image."""
    import zoo

    x, y = fashion_test_set()
    names = zoo.weight_card("lenet:fashion-mnist")["classes"]
    root = tmp_path / "clothes"
    for label in (0, 7):  # T-shirt/top (the folder T-shirt-top), Sneaker
        folder = root / names[label].replace("/", "-")
        folder.mkdir(parents=True)
        for n, i in enumerate((y == label).nonzero()[:12, 0].tolist()):
            image = Image.fromarray(x[i, 0].numpy())
            image = [image, image.convert("RGB"), image.convert("P"), image.convert("LA")][n % 4]
            image.save(folder / f"{n}.png")
    (root / "Sneaker" / "broken.png").write_bytes(b"this is not an image")
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
    # (T-shirts are the shipped LeNet's hardest class; 16 of 24 is far above chance, 1 in 10)
    assert f"accuracy {correct / 24:.4f} on 24 labelled images" in err and correct >= 16
    assert (tmp_path / "preds_confusion.png").is_file()


def test_nothing_predicted_is_an_error(tmp_path, capsys):
    (tmp_path / "broken.png").write_bytes(b"this is not an image")
    assert predict(["lenet:fashion-mnist", str(tmp_path), "--workers", "0"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0].startswith(f"zoo.predict: skipped {tmp_path / 'broken.png'}: cannot read image")
    assert lines[1:] == ["zoo.predict: error: nothing to predict: 1 image could not be read (named above)"]


def test_cells_that_start_like_a_formula_are_written_as_text():
    from zoo.records import spreadsheet_safe

    # OWASP's rule: a leading =, +, -, @, tab or carriage return gets a single quote before it
    for text in ('=HYPERLINK("http://x")', "+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx", "-"):
        assert spreadsheet_safe(text) == "'" + text
    # plain text, and plain numbers (a spreadsheet reads them as the numbers they are), as they are
    for text in ("Sneaker", "a=b", "-1", "+2.5", "-3e-05", "", "'quoted"):
        assert spreadsheet_safe(text) == text


def test_a_file_named_like_a_formula_is_escaped_in_the_predictions(tmp_path, capsys, monkeypatch):
    x, _ = fashion_test_set()
    monkeypatch.chdir(tmp_path)
    for name in ("=1+2.png", "@cmd.png", "plain.png"):
        Image.fromarray(x[0, 0].numpy()).save(tmp_path / name)
    assert predict(["lenet:fashion-mnist", "=1+2.png", "@cmd.png", "plain.png", "--workers", "0"]) == 0
    rows = list(csv.reader(capsys.readouterr().out.splitlines()))
    assert [r[0] for r in rows[1:]] == ["'=1+2.png", "'@cmd.png", "plain.png"]


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
    assert show(["mlp:fashion-mnist", "--out", str(tmp_path / "mlp")]) == 0
    assert {p.name for p in (tmp_path / "mlp").iterdir()} == {"first_layer.png", "class_images.png"}
    assert show(["lstm:tinyshakespeare"]) == 2
    assert "zoo draws pictures of CNNs, MLPs on images and word vectors" in capsys.readouterr().err


def test_filters_are_drawn_eight_to_a_row_each_in_its_own_place(tmp_path):
    """plot_filters lays the pictures out itself (one image, not a grid of axes): ten filters, each
    light on its left half and dark on its right, show as eight dark patches in a row, then two."""
    import matplotlib.image
    import torch

    from zoo.plots import plot_filters

    kernel = torch.ones(1, 6, 6)
    kernel[..., 3:] = -1.0
    plot_filters(kernel.expand(10, 1, 6, 6), tmp_path / "filters.png")
    dark = matplotlib.image.imread(tmp_path / "filters.png")[..., 0] < 0.1  # (H, W): the right halves (90 px high)
    rows_with_dark = dark.any(1).nonzero()[0]
    bands = np.split(rows_with_dark, np.nonzero(np.diff(rows_with_dark) > 1)[0] + 1)
    bands = [band for band in bands if len(band) > 40]  # (the title and labels: dark too, but a line of text high)
    patches = []
    for band in bands:
        line = dark[band[len(band) // 2]].astype(int)
        patches.append(int((np.diff(line) == 1).sum()))  # (each patch starts once along the line)
    assert patches == [8, 2]


def test_a_table_model_names_rows_as_the_file_and_measures_itself_on_labelled_rows(tmp_path, capsys):
    """One numbering for rows everywhere (the file's: the header is row 1): training's errors, task.predict's
    and zoo.predict's, and zoo.predict's row column. With the target in the file, the accuracy; a category
    never seen in training, counted; class names that start like a formula, escaped."""
    from test_tables import fit, messy_rows, write_csv

    import zoo

    header, rows = ["size", "kind", "label"], [[r[0], r[1], "=dear" if r[2] > 250 else "cheap"] for r in messy_rows()]
    labelled = write_csv(tmp_path / "labelled.csv", header, rows)
    run = fit(tmp_path, "--data.name", "csv", "--data.path", str(labelled), "--data.target", "label").run_dir
    new = write_csv(tmp_path / "new.csv", header, [*rows[:3], [2.0, "castle", "cheap"], [7.0, "flat", "Unheard"]])
    with open(new, "a") as f:  # a blank line (no row, but a line) and one more row: row 8
        f.write("\n" + ",".join(map(str, rows[5])) + "\n")
    out = tmp_path / "preds.csv"
    assert predict([str(run), str(new), "--out", str(out), "--topk", "2"]) == 0
    written = list(csv.DictReader(open(out)))
    assert [r["row"] for r in written] == ["2", "3", "4", "5", "6", "8"]
    assert {r["class_1"] for r in written} <= {"'=dear", "cheap"} and written[0]["true_class"] == rows[0][2].replace(
        "=", "'="
    )
    right = sum(r["class_1"] == r["true_class"] for r in written)
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == (
        "zoo.predict: 1 cell holds a category the model has no input for (never or too rarely seen in training; "
        "read as (unknown)): kind 'castle' (1)"
    )
    assert err[1].startswith(
        f"zoo.predict: 6 rows; accuracy {right / 5:.4f} on 5 labelled rows (1 row with a class the model does not "
        "know left out: 'Unheard'); confusion matrix: "
    )
    # a cell of text among numbers at row 5 of the file is row 5 wherever it is found
    rows[3][0] = "big"
    wrong = write_csv(tmp_path / "wrong.csv", header, rows)
    said = "column 'size' holds text where numbers belong: row 5 'big'"
    assert predict([str(run), str(wrong)]) == 1 and said in capsys.readouterr().err
    with pytest.raises(zoo.DataError, match=said):
        zoo.load_checkpoint(run).predict(str(wrong))
    with pytest.raises(zoo.DataError, match="column 'size' is data.numeric but holds text: row 5 'big'"):
        fit(
            tmp_path,
            "--data.name",
            "csv",
            "--data.path",
            str(wrong),
            "--data.target",
            "label",
            "--data.numeric",
            "size",
        )


@pytest.mark.slow
def test_a_table_model_predicts_a_csv_in_a_subprocess(tmp_path, capsys):
    """The real command on a classifier and a regression trained on a CSV: one output row per input
    row, the classifier's probabilities summing to at most 1, the numbers near the rule that made them;
    a table without a training column is one line (exit 1)."""
    import subprocess
    import sys

    from test_tables import fit, messy_rows, write_csv

    from conftest import checkout_env, run_command

    rows = messy_rows(300)
    homes = write_csv(tmp_path / "homes.csv", ["size", "kind", "price"], rows)
    labelled = write_csv(
        tmp_path / "labelled.csv",
        ["size", "kind", "label"],
        [[r[0], r[1], "dear" if r[2] > 250 else "cheap"] for r in rows],
    )
    new = write_csv(tmp_path / "new.csv", ["size", "kind"], [[5.0, "flat"], [5.0, "villa"], ["", "castle"]])
    classifier = fit(  # (the point is the command's output: a few epochs do)
        tmp_path,
        "--data.name",
        "csv",
        "--data.path",
        str(labelled),
        "--data.target",
        "label",
        "--trainer.max_epochs",
        "15",
    )
    regression = fit(
        tmp_path,
        *("--task.name", "regression", "--data.name", "csv", "--data.path", str(homes), "--data.target", "price"),
        *("--model.hidden", "[32]", "--model.activation", "relu", "--trainer.max_epochs", "60"),
    )
    done = run_command(["zoo.predict", str(classifier.run_dir), str(new), "--topk", "2"], tmp_path)
    assert done.returncode == 0, done.stderr
    out = list(csv.reader(done.stdout.splitlines()))
    assert out[0] == ["input", "row", "class_1", "prob_1", "class_2", "prob_2"] and len(out) == 4
    assert all({r[2], r[4]} == {"cheap", "dear"} and float(r[3]) >= float(r[5]) for r in out[1:])
    assert "3 rows" in done.stderr
    done = run_command(["zoo.predict", str(regression.run_dir), str(new)], tmp_path)
    assert done.returncode == 0, done.stderr
    out = list(csv.reader(done.stdout.splitlines()))
    assert out[0] == ["input", "row", "price"]
    assert [float(r[2]) for r in out[1:3]] == pytest.approx([150, 450], abs=40)  # 50 + 20 size + 0 / 300
    # (the rest in this process: the command's main, as the subprocesses above ran it)
    capsys.readouterr()
    wrong = write_csv(tmp_path / "wrong.csv", ["size", "colour"], [[1.0, "red"]])
    assert predict([str(regression.run_dir), str(wrong)]) == 1
    err = capsys.readouterr().err
    assert "kind" in err and len(err.strip().splitlines()) == 1, err
    # the prices there: how far the predictions are from them
    assert predict([str(regression.run_dir), str(homes)]) == 0
    done = capsys.readouterr()
    out = list(csv.DictReader(done.out.splitlines()))
    errors = np.array([float(r["price"]) - float(r["true_price"]) for r in out])
    rmse, mae = float(np.sqrt((errors**2).mean())), float(np.abs(errors).mean())
    assert f"300 rows; price: rmse {rmse:.6g}, mae {mae:.6g}, r2 0.9" in done.err, done.err

    # A reader that stops reading (| head): the command ends quietly, as Unix tools do
    many = write_csv(tmp_path / "many.csv", ["size", "kind"], [[i % 10, "flat"] for i in range(5000)])
    command = [sys.executable, "-m", "zoo.predict", str(classifier.run_dir), str(many)]
    with subprocess.Popen(
        command, cwd=tmp_path, env=checkout_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        assert process.stdout.readline().startswith(b"input,row,class_1")
        process.stdout.close()
        stderr = process.stderr.read().decode()
    assert process.returncode == 141 and "Traceback" not in stderr and "Error" not in stderr, stderr


def test_an_mlps_class_images_are_smooth_images_it_is_sure_of():
    """Gradient ascent from plain grey: each image is taken for its own class (with a wrong sign or
    no ascent, grey is one class for all ten), its pixels stay in [0, 1], and the smoothness penalty
    keeps neighbouring pixels close (unpenalised ascent leaves them 0.3-0.5 apart on average)."""
    import torch

    from zoo.pretrained import load_trained

    task = load_trained("mlp:fashion-mnist")
    images = task.class_images()
    assert images.shape == (10, 1, 28, 28) and 0 <= images.min() and images.max() <= 1
    sure = task(images).softmax(1).diagonal()
    assert bool((sure > 0.9).all()), sure
    rough = images.diff(dim=2).abs().mean() + images.diff(dim=3).abs().mean()
    assert rough < 0.1 and not torch.equal(images[0], images[1])
