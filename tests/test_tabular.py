"""Feature-vector data (scikit-learn tables, CSV files, the Playground's toy sets) and the MLP
training runs built on them: pictures, early stopping, the decay schedule through the Trainer."""

import csv
import math
import os

import numpy as np
import pytest
import torch

import zoo
from conftest import run_command, summary_of
from zoo import resolve_recipe
from zoo.data import DATASETS
from zoo.errors import DataError


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.mark.parametrize(
    "name, n, features, classes", [("iris", 150, 4, 3), ("wine", 178, 13, 3), ("breast_cancer", 569, 30, 2)]
)
def test_sklearn_tables(name, n, features, classes):
    dm = DATASETS.get(name)(val_split=0.1, test_split=0.2)
    dm.setup("fit")
    sizes = [len(s) for s in (dm.train_set, dm.val_set, dm.test_set)]
    assert sum(sizes) == n and abs(sizes[2] - 0.2 * n) <= 1
    info = dm.describe()
    assert (info["in_features"], info["num_classes"]) == (features, classes) and len(info["feature_names"]) == features


def test_csv_standardisation_uses_training_rows_only(tmp_path):
    rng = np.random.default_rng(0)
    rows = [[float(v), float(2 * v), "yes" if v > 0 else "no"] for v in rng.normal(0, 1, 200)]
    path = write_csv(tmp_path / "t.csv", ["a", "b", "label"], rows)
    dm = DATASETS.get("csv")(path=str(path), target="label", split_seed=3)
    dm.setup("fit")
    train_x = dm.train_set.tensors[0].double()
    assert dm.describe()["input_mean"] == pytest.approx(train_x.mean(0).tolist())
    assert dm.describe()["input_std"] == pytest.approx(train_x.std(0).tolist())
    everything = torch.tensor([[r[0], r[1]] for r in rows], dtype=torch.float64)
    assert dm.describe()["input_mean"] != pytest.approx(everything.mean(0).tolist())
    assert dm.class_names == ["no", "yes"] and dm.describe()["feature_names"] == ["a", "b"]
    # the labels follow the rows: "yes" exactly where a > 0
    x, y = dm.train_set.tensors
    assert torch.equal(y, (x[:, 0] > 0).long())


def test_csv_numeric_labels_sort_as_numbers(tmp_path):
    path = write_csv(tmp_path / "n.csv", ["f", "y"], [[i, [2, 10, 1][i % 3]] for i in range(30)])
    dm = DATASETS.get("csv")(path=str(path), target="y")
    dm.setup("fit")
    assert dm.class_names == ["1", "2", "10"]


def test_csv_without_the_target_column(tmp_path):
    path = write_csv(tmp_path / "t.csv", ["a", "b"], [[1, 2]] * 5)
    with pytest.raises(DataError, match=r"t.csv: no column 'label' for data.target \(columns: a, b\)"):
        DATASETS.get("csv")(path=str(path), target="label").setup("fit")


def test_csv_text_in_a_column_forced_numeric_names_row_and_column(tmp_path):
    path = write_csv(tmp_path / "t.csv", ["a", "b", "y"], [[1, 2, 0], [3, 4, 1], [5, "five", 0], [7, 8, 1]])
    with pytest.raises(DataError, match=r"t.csv: column 'b' is data.numeric but holds text: row 4 'five'"):
        DATASETS.get("csv")(path=str(path), target="y", numeric="b").setup("fit")


def test_csv_row_with_too_many_cells_and_missing_file(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("a,b,y\n1,2,0\n3,1,0,7\n")
    with pytest.raises(DataError, match="not a table with ',' between cells: row 3 has 4 cells, the header has 3"):
        DATASETS.get("csv")(path=str(path), target="y").setup("fit")
    with pytest.raises(DataError, match="table file not found"):
        DATASETS.get("csv")(path=str(tmp_path / "none.csv")).prepare_data()


def playground(name, **options):
    dm = DATASETS.get(name)(**options)
    x, y, _, _ = dm.load()
    return x.numpy().astype(np.float64), y.numpy()


def test_spiral_points_lie_on_two_interleaved_spirals():
    x, y = playground("spiral", n_samples=400)
    r = np.hypot(x[:, 0], x[:, 1])
    theta = np.arctan2(x[:, 0], x[:, 1])  # the Playground puts sin on x1 and cos on x2
    expected = 1.75 * 2 * np.pi * r / 5 + np.pi * y
    gap = np.angle(np.exp(1j * (theta - expected)))
    assert np.abs(gap[r > 1e-6]).max() < 1e-4
    assert np.bincount(y).tolist() == [200, 200] and r.max() < 5


def test_circle_xor_gauss_follow_their_definitions():
    x, y = playground("circle", n_samples=400)
    r = np.hypot(x[:, 0], x[:, 1])
    assert (r[y == 0] < 2.5).all() and (r[y == 1] >= 3.5).all()
    x, y = playground("xor", n_samples=400)
    assert ((x[:, 0] * x[:, 1] < 0) == (y == 1)).all() and (np.abs(x) >= 0.3).all()
    x, y = playground("gauss", n_samples=4000)
    assert x[y == 0].mean(0) == pytest.approx([2, 2], abs=0.1) and x[y == 1].mean(0) == pytest.approx([-2, -2], abs=0.1)
    assert x[y == 0].std(0) == pytest.approx([math.sqrt(0.5)] * 2, rel=0.1)


def test_playground_sets_are_seeded_and_noise_moves_points():
    a, _ = playground("spiral", n_samples=200, noise=0.3, split_seed=1)
    b, _ = playground("spiral", n_samples=200, noise=0.3, split_seed=1)
    c, _ = playground("spiral", n_samples=200, noise=0.3, split_seed=2)
    clean, _ = playground("spiral", n_samples=200)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert 0 < np.abs(a - clean).max() <= 0.3 + 1e-6


def test_playground_features_are_computed_from_the_points():
    names = ["x1_squared", "sin_x2", "x1_x2", "x2"]
    dm = DATASETS.get("spiral")(n_samples=200, noise=0.1, features=names)
    dm.setup("fit")
    for split in ("train", "val", "test"):
        points, labels = dm.plane[split].tensors
        features, same_labels = getattr(dm, f"{split}_set").tensors
        p = points.numpy().astype(np.float64)
        expected = np.stack([p[:, 0] ** 2, np.sin(p[:, 1]), p[:, 0] * p[:, 1], p[:, 1]], 1)
        np.testing.assert_allclose(features.numpy(), expected, rtol=1e-5, atol=1e-6)
        assert torch.equal(labels, same_labels)
    info = dm.describe()
    assert info["in_features"] == 4 and info["feature_names"] == names
    # normalised with the training split's statistics of the features, not of the points
    assert info["input_mean"] == pytest.approx(dm.train_set.tensors[0].double().mean(0).tolist())
    plain = DATASETS.get("spiral")(n_samples=200)  # the default: the point itself, as before features existed
    plain.setup("fit")
    assert torch.equal(plain.train_set.tensors[0], plain.plane["train"].tensors[0])
    assert resolve_recipe("mlp")["data"]["features"] == ["x1", "x2"]


def test_playground_features_mistakes_are_one_line():
    expected = r"(--)?data.features expects a list of one of 'x1', 'x2', .*got \['cos_x1'\]"
    with pytest.raises(zoo.UsageError, match=expected):
        resolve_recipe("mlp", overrides={"data.features": ["cos_x1"]})
    with pytest.raises(zoo.UsageError, match="^data.features must name each feature once"):
        DATASETS.get("xor")(features=["x1", "x1"])


def test_data_options_are_named_as_python_writes_them_from_python():
    # (test_cli_errors.py has the same mistakes at the command line: --data.path FILE.csv, --data.features)
    with pytest.raises(zoo.UsageError, match=r"^data 'csv' needs data.path=FILE.csv \(and data.target=COLUMN\)$"):
        DATASETS.get("csv")()
    with pytest.raises(zoo.UsageError, match=r"^data.max_categories must be at least 1, got 0$"):
        DATASETS.get("csv")(path="t.csv", max_categories=0)
    with pytest.raises(zoo.UsageError, match=r"^data.noise must be between 0 and 0.5"):
        DATASETS.get("xor")(noise=0.9)


@pytest.mark.slow
def test_with_features_the_decision_boundary_is_drawn_over_the_plane(tmp_path, monkeypatch):
    from zoo import plots

    drawn = {}
    monkeypatch.setattr(
        plots, "plot_decision_boundary", lambda predict, train, test, path, held_out: drawn.update(locals())
    )
    summary, _ = train(tmp_path, "--data.features", "[x1,x2,sin_x1]", "--trainer.max_epochs", "2")
    dm = DATASETS.get("spiral")(n_samples=1000)
    dm.setup("fit")
    assert torch.equal(drawn["train"][0], dm.plane["train"].tensors[0])  # the points, two coordinates each
    probabilities = drawn["predict"](torch.tensor([[0.0, 1.0], [2.0, -3.0]]))  # points in, features inside
    assert probabilities.shape == (2, 2) and torch.allclose(probabilities.sum(1), torch.ones(2))


@pytest.mark.slow
def test_default_mlp_command_learns_the_spiral_and_leaves_the_pictures(tmp_path):
    result = run_command(["zoo.train", "mlp", "--trainer.default_root_dir", str(tmp_path)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = summary_of(result.stdout)
    assert summary["data"] == "spiral" and summary["test"]["acc"] >= 0.99
    run_dir = tmp_path / os.path.basename(summary["run_dir"])
    for picture in ("learning_curves.png", "confusion_matrix.png", "decision_boundary.png"):
        assert (run_dir / picture).stat().st_size > 10_000, picture


def train(tmp_path, *args, model="mlp"):
    cfg = resolve_recipe(
        model, overrides=[*args, "--trainer.default_root_dir", str(tmp_path), "--trainer.enable_model_summary", "false"]
    )
    summary = zoo.fit(model, config=cfg).summary
    rows = list(csv.DictReader(open(os.path.join(summary["run_dir"], "metrics.csv"))))
    return summary, rows


def test_early_stopping_stops_and_restores_the_best_weights(tmp_path, capsys):
    # "Best" by the HIGHEST validation loss: the first epoch, since training lowers it. So early
    # stopping must stop after `patience` epochs without a new maximum, and the final evaluation must
    # use the first epoch's weights, not the last.
    summary, rows = train(
        tmp_path,
        "--data.name",
        "iris",
        "--model.hidden",
        "[16]",
        "--trainer.max_epochs",
        "40",
        "--early_stopping.enabled",
        "true",
        "--early_stopping.patience",
        "2",
        "--early_stopping.mode",
        "max",
    )
    val = [float(r["val_loss"]) for r in rows]
    assert len(rows) == summary["epochs"] == 3 and val[1] < val[0] and val[2] < val[0]
    assert summary["val"]["loss"] == pytest.approx(val[0], abs=1e-5)


def test_early_stopping_can_keep_the_last_weights(tmp_path, capsys):
    summary, rows = train(
        tmp_path,
        "--data.name",
        "iris",
        "--model.hidden",
        "[16]",
        "--trainer.max_epochs",
        "40",
        "--early_stopping.enabled",
        "true",
        "--early_stopping.patience",
        "2",
        "--early_stopping.mode",
        "max",
        "--early_stopping.restore_best",
        "false",
    )
    assert summary["val"]["loss"] == pytest.approx(float(rows[-1]["val_loss"]), abs=1e-5)


def test_decay_and_penalty_through_the_trainer(tmp_path, capsys):
    summary, rows = train(
        tmp_path,
        "--data.name",
        "wine",
        "--optimizer.name",
        "sgd",
        "--optimizer.lr",
        "0.1",
        "--optimizer.momentum",
        "0.9",
        "--optimizer.decay",
        "0.01",
        "--scheduler.name",
        "constant",
        "--model.l2",
        "0.001",
        "--trainer.max_epochs",
        "3",
    )
    for row in rows:  # the rate the next update will use, after `step` updates
        assert float(row["lr"]) == pytest.approx(0.1 / (1 + 0.01 * int(row["step"])))
    assert all(float(r["train_penalty"]) > 0 for r in rows)


def test_mlp_trains_on_flattened_images(tmp_path, capsys):
    summary, _ = train(tmp_path, "--data.name", "digits", "--trainer.max_epochs", "3", "--model.hidden", "[64]")
    assert summary["test"]["acc"] > 0.8
    from zoo import load_checkpoint

    assert load_checkpoint(summary["checkpoint"]).model.dense_layers()[0].in_features == 64  # 8x8 digits, flattened


def test_csv_saved_by_excel_with_a_byte_order_mark(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("label,rooms\n".encode("utf-8-sig") + b"".join(b"%d,%d\n" % (i % 2, i) for i in range(20)))
    dm = DATASETS.get("csv")(path=str(path), target="label")
    dm.setup("fit")
    assert dm.class_names == ["0", "1"] and dm.describe()["feature_names"] == ["rooms"]


def test_csv_with_one_class_is_refused_before_training(tmp_path):
    path = write_csv(tmp_path / "one.csv", ["f", "y"], [[i, "cat"] for i in range(10)])
    with pytest.raises(DataError, match="one class only"):
        DATASETS.get("csv")(path=str(path), target="y").setup("fit")


def test_keras_last_validation_fraction_is_the_last_rows_of_the_file(tmp_path):
    """With no test split of its own, the test rows are drawn at random first; the validation rows
    must still be the last ones of what is left, in the file's order, as Keras' validation_split takes."""
    path = write_csv(tmp_path / "t.csv", ["f", "y"], [[i, i % 2] for i in range(100)])
    dm = DATASETS.get("csv")(path=str(path), target="y", val_split=0.1, val_mode="last", test_split=0.2)
    dm.setup("fit")
    train_rows = sorted(dm.train_set.tensors[0][:, 0].tolist())
    val_rows = dm.val_set.tensors[0][:, 0].tolist()
    test_rows = dm.test_set.tensors[0][:, 0].tolist()
    assert len(val_rows) == 8 and val_rows == sorted(val_rows) and min(val_rows) > max(train_rows)
    assert sorted(train_rows + val_rows + test_rows) == [float(i) for i in range(100)]


def test_mistyped_early_stopping_monitor_is_named_with_what_the_run_logs(tmp_path, capsys):
    from zoo.errors import UsageError

    with pytest.raises(
        UsageError,
        match=r"early_stopping.monitor 'val_foo' is not a metric this run logs; it logs: .*val_acc, val_loss",
    ):
        train(
            tmp_path,
            "--data.name",
            "iris",
            "--trainer.max_epochs",
            "2",
            "--early_stopping.enabled",
            "true",
            "--early_stopping.monitor",
            "val_foo",
        )
    assert not list(tmp_path.iterdir())  # found only once training ran, and nothing of that run is kept


def test_mistyped_plateau_monitor_is_named_with_what_the_run_logs(tmp_path, capsys):
    from zoo.errors import UsageError

    with pytest.raises(
        UsageError,
        match=r"scheduler.monitor 'val_accuracy' is not a metric this run logs; it logs: .*val_acc, val_loss",
    ):
        train(
            tmp_path,
            "--data.name",
            "iris",
            "--trainer.max_epochs",
            "2",
            "--scheduler.name",
            "plateau",
            "--scheduler.monitor",
            "val_accuracy",
        )


def test_batch_norm_with_batches_of_one_sample_is_a_usage_error(tmp_path, capsys):
    from zoo.errors import UsageError

    with pytest.raises(UsageError, match=r"batch normalisation needs at least 2 samples in a training batch"):
        train(
            tmp_path,
            "--data.name",
            "iris",
            "--trainer.max_epochs",
            "1",
            "--data.batch_size",
            "1",
            "--model.batch_norm",
            "true",
        )


def test_early_stopping_on_accuracy_without_a_mode_keeps_the_most_accurate_weights(tmp_path, capsys):
    """Keras infers "max" for an accuracy; Lightning's default "min" kept the worst epoch."""
    summary, rows = train(
        tmp_path,
        "--data.name",
        "breast_cancer",
        "--model.hidden",
        "[4]",
        "--optimizer.lr",
        "0.002",
        "--trainer.max_epochs",
        "6",
        "--early_stopping.enabled",
        "true",
        "--early_stopping.patience",
        "10",
        "--early_stopping.monitor",
        "val_acc",
    )
    accuracies = [float(r["val_acc"]) for r in rows]
    assert max(accuracies) > min(accuracies)  # (otherwise this run could not tell the modes apart)
    assert summary["val"]["acc"] == pytest.approx(max(accuracies), abs=1e-6)


def test_without_a_validation_split_the_best_weights_and_early_stopping_follow_the_training_loss(tmp_path, capsys):
    """--data.val_split 0, Keras' default: no validation at all; the summary says what chose "best"."""
    summary, rows = train(
        tmp_path,
        "--data.name",
        "iris",
        "--data.val_split",
        "0",
        "--trainer.max_epochs",
        "30",
        "--early_stopping.enabled",
        "true",
        "--early_stopping.patience",
        "2",
    )
    assert summary["best_by"] == "train_loss" and summary["val"] == {} and 0.0 <= summary["test"]["acc"] <= 1.0
    assert all(row["val_loss"] == "" for row in rows) if "val_loss" in rows[0] else True
    losses = [float(row["train_loss"]) for row in rows]
    from zoo.checkpoint import safe_load

    best = safe_load(summary["checkpoint"])
    assert best["epoch"] == losses.index(min(losses))  # the checkpoint of the lowest training loss


def test_early_stopping_says_that_it_stopped_the_run(tmp_path, capsys):
    summary, rows = train(
        tmp_path,
        "--data.name",
        "iris",
        "--trainer.max_epochs",
        "200",
        "--optimizer.lr",
        "0.05",
        "--early_stopping.enabled",
        "true",
        "--early_stopping.patience",
        "1",
    )
    assert len(rows) < 200 and summary["stopped_early_at_epoch"] == len(rows) - 1
    err = capsys.readouterr().err
    assert f"zoo: early stopping after epoch {len(rows) - 1}: Monitored metric val_loss did not improve" in err
