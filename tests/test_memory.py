"""``zoo.fit(model, data=...)``: data as a learner holds it (arrays, tensors, Datasets, strings), the Keras
way (``validation_split`` is the last fraction), with one line for each kind of bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml
from sklearn.datasets import load_breast_cancer, load_diabetes

import zoo
from conftest import FASHION_MNIST, require
from zoo.data.idx import read_idx

QUICK = {"trainer.max_epochs": 2, "model.hidden": [16]}


def quick(tmp_path, **more):
    return {**QUICK, "trainer.default_root_dir": str(tmp_path), **more}


@pytest.fixture(scope="module")
def cancer():
    return load_breast_cancer(return_X_y=True)


@pytest.mark.slow
def test_the_keras_afternoon_on_a_table_from_memory(cancer, tmp_path):
    x, y = cancer
    result = zoo.fit(
        "mlp",
        data=(x[:500], y[:500]),
        validation_split=0.2,
        overrides=quick(tmp_path, **{"trainer.max_epochs": 10}),
        quiet=True,
    )
    predicted = result.task.predict(x[500:])
    assert len(predicted) == 69 and all(isinstance(p, int) for p in predicted)  # ints, as the labels were
    assert (np.array(predicted) == y[500:]).mean() > 0.85
    assert result.summary["val"]["acc"] > 0.85 and "test" not in result.summary  # (no test_data: not tested)
    memory = yaml.safe_load((result.run_dir / "config.yaml").read_text())["data"]
    assert memory["name"] == "arrays" and memory["val_split"] == 0.2 and memory["val_mode"] == "last"
    assert memory["memory"]["x"] == {"shape": [500, 30], "dtype": "float64"} and len(memory["memory"]["sha256"]) == 64


def test_validation_split_holds_out_the_last_fraction_as_keras_does(cancer):
    x, y = cancer
    data, _ = zoo.build("mlp", data=(x[:100], y[:100]), validation_split=0.2, overrides=QUICK)
    val_x = data.val_set.tensors[0]
    assert torch.equal(val_x, torch.tensor(x[80:100], dtype=torch.float32))
    assert torch.equal(data.train_set.tensors[0], torch.tensor(x[:80], dtype=torch.float32))
    given, _ = zoo.build("mlp", data=(x[:80], y[:80]), validation_data=(x[80:100], y[80:100]), overrides=QUICK)
    assert torch.equal(given.val_set.tensors[0], val_x) and given.test_set is None


def test_labels_keep_their_kind_and_names(cancer):
    x, y = cancer
    names = np.where(y == 1, "benign", "malignant")
    data, task = zoo.build("mlp", data=(x[:60], names[:60]), overrides=QUICK)
    assert task.class_names == ["benign", "malignant"] and isinstance(task.predict(x[:3])[0], str)
    data, task = zoo.build("mlp", data=(x[:60], y[:60] * 3 + 2), overrides=QUICK)  # labels 2 and 5
    assert task.class_names == ["2", "5"] and set(task.predict(x[:20])) <= {2, 5}
    data, task = zoo.build("mlp", data=(x[:60], y[:60].astype(float)), overrides=QUICK)  # whole floats: classes
    assert task.class_names == ["0", "1"]


def test_regression_targets_of_one_or_several_columns():
    x, y = load_diabetes(return_X_y=True)
    regression = {**QUICK, "task.name": "regression"}
    data, task = zoo.build("mlp", data=(x, y), overrides=regression)
    assert task.hparams.target_names == ["y"] and data.train_set.tensors[1].shape[1] == 1
    data, task = zoo.build("mlp", data=(x, np.stack([y, y / 2], 1)), overrides=regression)
    assert task.hparams.target_names == ["y0", "y1"] and task.predict(x[:4]).shape == (4, 2)


@pytest.fixture(scope="module")
def fashion():
    folder = require(FASHION_MNIST, "Debian's dataset-fashion-mnist")
    x = read_idx(folder / "train-images-idx3-ubyte.gz")[:1200]
    y = read_idx(folder / "train-labels-idx1-ubyte.gz")[:1200]
    return x, y


@pytest.mark.slow
def test_lenet_on_keras_shaped_uint8_images_and_predict_gives_n_answers(fashion, tmp_path):
    x, y = fashion  # (N, 28, 28) uint8, as keras.datasets.fashion_mnist.load_data() gives them
    assert x.shape == (1200, 28, 28) and x.dtype == np.uint8
    result = zoo.fit(
        "lenet",
        data=(x[:1000], y[:1000]),
        validation_split=0.1,
        overrides={"trainer.max_epochs": 2, "trainer.default_root_dir": str(tmp_path)},
        quiet=True,
    )
    predicted = result.task.predict(x[1000:])
    assert len(predicted) == 200 and (np.array(predicted) == y[1000:]).mean() > 0.5  # (10 classes: chance is 0.1)
    assert {"filters", "feature_maps", "learning_curves"} <= set(result.pictures)


def test_images_in_every_layout_and_scale_read_alike(fashion):
    x, y = fashion
    x, y = x[:64], y[:64]
    reference, _ = zoo.build("lenet", data=(x, y))
    for layout in (x[..., None], x[:, None], x / 255.0, torch.from_numpy(x)):
        data, _ = zoo.build("lenet", data=(layout, y))
        assert torch.equal(data.train_set.tensors[0], reference.train_set.tensors[0])
    assert reference.train_set.tensors[0].dtype == torch.uint8 and reference.train_set.tensors[0].shape[1:] == (
        1,
        28,
        28,
    )


def test_a_torch_dataset_or_dataloader_trains_as_its_arrays_do(cancer):
    x, y = cancer
    tensors = torch.utils.data.TensorDataset(torch.tensor(x[:100]), torch.tensor(y[:100]))
    loader = torch.utils.data.DataLoader(tensors, batch_size=7)
    reference, _ = zoo.build("mlp", data=(x[:100], y[:100]), overrides=QUICK)
    for given in (tensors, loader):
        data, _ = zoo.build("mlp", data=given, overrides=QUICK)
        assert torch.equal(data.train_set.tensors[0], reference.train_set.tensors[0])
        assert torch.equal(data.train_set.tensors[1], reference.train_set.tensors[1])


@pytest.mark.parametrize(
    "x, y, expected",
    [
        (np.zeros((5, 3)), np.zeros(4), "data: x has 5 samples but y has 4"),
        (
            np.array([[1.0, np.nan], [2.0, 3.0]]),
            np.array([0, 1]),
            "x holds 1 NaN or infinite values (the first, NaN, at index (0, 1))",
        ),
        (np.array([[1.0, 2.0], [2.0, 3.0]]), np.array([0.5, 1.0]), "y holds fractional numbers (e.g. 0.5)"),
        (np.zeros((0, 3)), np.zeros(0), "x is empty"),
        (np.array([[1, "a"], [2, "b"]], dtype=object), np.array([0, 1]), "x has dtype object: give numbers"),
    ],
    ids=["lengths", "nan", "float labels", "empty", "object"],
)
def test_bad_input_is_one_line_and_leaves_no_run_directory(x, y, expected, tmp_path):
    with pytest.raises(zoo.UsageError) as caught:
        zoo.fit("mlp", data=(x, y), overrides=quick(tmp_path))
    assert expected in str(caught.value) and "\n" not in str(caught.value)
    assert not any(tmp_path.iterdir())  # nothing half-made


def test_images_need_images(tmp_path):
    with pytest.raises(zoo.UsageError, match=r"x has shape \(6,\), but this model takes images"):
        zoo.fit("lenet", data=(np.arange(6), np.arange(6) % 2), overrides={"trainer.default_root_dir": str(tmp_path)})
    with pytest.raises(zoo.UsageError, match="these go with data="):
        zoo.fit("mlp", validation_split=0.2)
    with pytest.raises(zoo.UsageError, match="validation_split must be a fraction"):
        zoo.fit("mlp", data=(np.zeros((4, 2)), np.arange(4) % 2), validation_split=20)
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_resume_goes_on_with_the_same_arrays_and_refuses_others(cancer, tmp_path):
    x, y = cancer
    first = zoo.fit("mlp", data=(x[:200], y[:200]), overrides=quick(tmp_path), quiet=True)
    more = quick(tmp_path, **{"trainer.max_epochs": 3})
    again = zoo.fit("mlp", data=(x[:200], y[:200]), overrides=more, resume=first.run_dir, quiet=True)
    assert again.summary["epochs"] == 3 and again.run_dir == first.run_dir
    with pytest.raises(zoo.UsageError, match="was trained on data in memory, sha256 .* this call gives data in memory"):
        zoo.fit("mlp", data=(x[1:201], y[1:201]), overrides=more, resume=first.run_dir, quiet=True)


@pytest.mark.slow
def test_text_trains_the_lstm_and_word2vec_from_memory(tmp_path):
    from gensim.test.utils import datapath

    text = open(datapath("lee_background.cor"), encoding="utf-8").read()
    tiny = {"trainer.max_epochs": 1, "trainer.limit_train_batches": 5, "trainer.default_root_dir": str(tmp_path)}
    lm = zoo.fit("lstm", data=text, validation_split=0.1, test_data=text[:3000], overrides=tiny, quiet=True)
    assert lm.summary["data"] == "texts" and set(lm.summary["test"]) >= {"loss", "ppl"}
    assert lm.task.decode(lm.task.encode("the news")) == "the news"
    lines = [line.split() for line in text.lower().splitlines()]
    vectors = zoo.fit("word2vec", data=lines, overrides={**tiny, "data.min_count": 2}, quiet=True)
    keyed = zoo.load_vectors(vectors.run_dir)
    assert "the" in keyed.key_to_index and keyed.vector_size == vectors.task.hparams.model_kwargs["dim"]
    words = zoo.fit("lstm", data=lines[:300], overrides={**tiny, "data.level": "word"}, quiet=True)
    assert "<eos>" in words.task.vocab


@pytest.mark.slow
def test_a_dataframe_with_text_and_missing_cells_trains_as_its_csv_file_does(tmp_path):
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame
    frame["colour"] = np.where(frame["alcohol"] > 13, "dark", "light")  # a text column: categories
    frame.loc[::7, "magnesium"] = np.nan  # missing cells
    frame.loc[::11, "colour"] = None
    frame["target"] = frame["target"].map({0: "barolo", 1: "grignolino", 2: "barbera"})
    path = tmp_path / "wine.csv"
    frame.to_csv(path, index=False)
    options = {"trainer.max_epochs": 3, "model.hidden": [16], "trainer.default_root_dir": str(tmp_path)}
    from_file, _ = zoo.build(
        "mlp", overrides={**options, "data.name": "csv", "data.path": str(path), "data.target": "target"}
    )
    rows = from_file.row_positions  # the file's rows each split took: the frame's run is given the same
    part = {split: frame.iloc[rows[split]] for split in ("train", "val", "test")}
    by_csv = zoo.fit(
        "mlp", overrides={**options, "data.name": "csv", "data.path": str(path), "data.target": "target"}, quiet=True
    )
    by_frame = zoo.fit(
        "mlp",
        data=part["train"],
        validation_data=part["val"],
        test_data=part["test"],
        target="target",
        overrides=options,
        quiet=True,
    )
    assert by_frame.task.table["columns"] == by_csv.task.table["columns"]  # the same encoding
    assert by_frame.summary["val"] == by_csv.summary["val"] and by_frame.summary["test"] == by_csv.summary["test"]
    assert by_frame.task.predict(frame.head(5)) == by_csv.task.predict(frame.head(5))
    with pytest.raises(zoo.UsageError, match="a DataFrame needs target='column'"):
        zoo.fit("mlp", data=frame, overrides=options)
