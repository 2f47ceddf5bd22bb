"""Table models out of zoo (issue 32): the ONNX file of a model trained on a CSV takes the raw row, one
input per column (NaN for a missing number, text as the file writes it), and encodes it inside the graph
as zoo does: onnxruntime gives what ``task.predict``/``predict_proba`` give, on real rows with missing
cells, rare categories and categories never seen in training. Regressions are exported too, their
numbers in the targets' units, from a table and from plain feature vectors; .pt2 programs still export.

The table is scikit-learn's wine, written to CSV here as a user's file would hold it: two text columns
(one whose every category is common, one with missing cells and rare values) and missing numbers."""

import json
import shutil
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import pytest
import torch
from test_export import readme_block

import zoo
from conftest import ROOT
from zoo.data.tables import encode, feature_names
from zoo.errors import UsageError
from zoo.export import main
from zoo.exporting import export_model

# The models the fixtures train are shared by the tests here: keep them on one worker.
pytestmark = pytest.mark.xdist_group("export_tables")

TINY = {
    "trainer.max_epochs": 2,
    "trainer.limit_train_batches": 4,
    "trainer.enable_model_summary": False,
    "model.hidden": [16],
}
NUMERIC = [
    "alcohol",
    "malic_acid",
    "ash",
    "alcalinity_of_ash",
    "magnesium",
    "total_phenols",
    "flavanoids",
    "nonflavanoid_phenols",
    "proanthocyanins",
    "color_intensity",
    "hue",
    "od280/od315_of_diluted_wines",
    "proline",
]


def wine_csv(path):
    """Wine as a user's CSV: the cultivar by name (``cultivar``); ``region``, text whose categories are
    all common but for six one-off values (so its (unknown) input trains); ``cellar``, text with empty
    and ``NA`` cells and no rare value (its (unknown) input never trains); alcohol and magnesium with
    missing cells (``''``, ``NA``, ``?``); proline complete."""
    import sklearn.datasets

    frame = sklearn.datasets.load_wine(as_frame=True).frame
    rng = np.random.default_rng(0)
    n = len(frame)
    table = frame[NUMERIC].astype(object)
    table.insert(2, "region", rng.choice(["north", "south", "coast"], n).astype(object))
    table.loc[rng.choice(n, 6, replace=False), "region"] = [f"island {i}" for i in range(6)]
    table.insert(6, "cellar", rng.choice(["oak", "steel", "", "NA"], n, p=[0.45, 0.45, 0.05, 0.05]))
    for name, marker in (("alcohol", ""), ("magnesium", "NA"), ("magnesium", "?")):
        table.loc[rng.random(n) < 0.06, name] = marker
    table["cultivar"] = frame["target"].map({0: "Barolo", 1: "Grignolino", 2: "Barbera"})
    table.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def wine(tmp_path_factory):
    return wine_csv(tmp_path_factory.mktemp("wine") / "wine.csv")


def trained(wine, tmp_path_factory, **overrides):
    run_dir = tmp_path_factory.mktemp("run") / "run"
    overrides = {**TINY, "data.name": "csv", "data.path": str(wine), **overrides}
    return zoo.fit("mlp", overrides=overrides, run_dir=run_dir, quiet=True).task, run_dir


@pytest.fixture(scope="module")
def classifier(wine, tmp_path_factory):
    task, run_dir = trained(wine, tmp_path_factory, **{"data.target": "cultivar"})
    return task, run_dir, export_model(task, "onnx", run_dir / "mlp.onnx")


@pytest.fixture(scope="module")
def regression(wine, tmp_path_factory):
    # proline (278 to 1680 in its units) from the other columns, the cultivar's name among them
    task, run_dir = trained(wine, tmp_path_factory, **{"task.name": "regression", "data.target": "proline"})
    return task, run_dir, export_model(task, "onnx", run_dir / "mlp.onnx")


def column(task, name):
    return next(c for c in task.table["columns"] if c["name"] == name)


def raw_rows(wine, task):
    """Rows of the file as a user has them (cells as text), the model's target left out, each made to
    hold what the graph must treat as zoo does. Returns (rows as text, what each row holds)."""
    rows = pd.read_csv(wine, dtype=str, keep_default_na=False).iloc[:12].reset_index(drop=True)
    rows = rows.drop(columns=task.table["targets"])
    cases = {
        0: ("alcohol", ""),  # missing, as in training: the median and the was-missing input
        1: ("proline", "NA") if "proline" in rows else ("hue", "NA"),  # missing, never in training: the median
        2: ("region", "volcano"),  # never seen: (unknown)
        3: ("region", "island 0"),  # seen once at most in training: (unknown)
        4: ("cellar", "cave"),  # never seen, where (unknown) never trained: none of cellar's inputs
        5: ("cellar", ""),  # the category (missing)
        6: ("cellar", "NA"),  # another missing marker: the same
        7: ("region", ""),  # missing where training had no missing region: not a category, (unknown)
        8: ("magnesium", "?"),
    }
    for i, (name, cell) in cases.items():
        rows.loc[i, name] = cell
    rows.loc[9, :] = ""  # every cell missing
    return rows, cases


def feeds_of(rows, session):
    """The onnxruntime inputs of rows read as text: numbers as float32 (NaN where the cell is not a
    number: empty, NA, ?), text as it is."""
    feeds = {}
    for graph_input in session.get_inputs():
        cells = rows[graph_input.name]
        if graph_input.type == "tensor(float)":
            feeds[graph_input.name] = pd.to_numeric(cells, errors="coerce").to_numpy(np.float32)
        else:
            feeds[graph_input.name] = cells.to_numpy(dtype=object)
    return feeds


def session(path):
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def encoded_by_the_graph(path, feeds):
    """What the graph hands the network, the encoded row (batch, F): the file with that value made an
    output of its own."""
    model = onnx.load(str(path))
    (features,) = [n.output[0] for n in model.graph.node if n.op_type == "Concat" and n.output[0].endswith("features")]
    model.graph.output.append(onnx.helper.make_tensor_value_info(features, onnx.TensorProto.FLOAT, None))
    s = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return s.run([features], feeds)[0]


def predicted(task, rows):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the categories never seen, said by predict)
        if task.name == "regression":
            return task.predict(rows).numpy(), None
        return task.predict_proba(rows).numpy(), task.predict(rows)


# --- the raw row in, as zoo encodes it ----------------------------------------------------------------


def test_the_table_models_onnx_file_takes_one_input_per_column_named_as_the_columns(classifier, wine):
    task, _, done = classifier
    s = session(done.path)
    header = [c for c in pd.read_csv(wine, nrows=0).columns if c != "cultivar"]
    assert [i.name for i in s.get_inputs()] == header  # the file's order
    types = {i.name: (i.type, i.shape) for i in s.get_inputs()}
    assert types["region"] == types["cellar"] == ("tensor(string)", ["batch"])
    assert all(types[name] == ("tensor(float)", ["batch"]) for name in NUMERIC)
    meta = s.get_modelmeta().custom_metadata_map
    assert json.loads(meta["zoo.columns"]) == [
        {"name": name, "type": "string" if name in ("region", "cellar") else "float32"} for name in header
    ]
    assert json.loads(meta["zoo.class_names"]) == ["Barbera", "Barolo", "Grignolino"]
    assert json.loads(meta["zoo.table"])["columns"] == task.table["columns"]
    assert meta["zoo.inputs"].startswith("15 inputs, one per column, named as the columns")
    assert done.checked_on.startswith("raw rows") and done.max_abs_diff < 1e-4
    onnx.checker.check_model(onnx.load(str(done.path)), full_check=True)  # for runtimes stricter than onnxruntime


def test_onnxruntime_encodes_raw_rows_as_zoo_does_missing_and_unseen_cells_included(classifier, wine):
    task, _, done = classifier
    # (what the rows test: region's (unknown) input trained, cellar's did not; missing alcohol in training)
    assert column(task, "region")["unknown_trained"] and not column(task, "cellar")["unknown_trained"]
    assert column(task, "cellar")["categories"] == ["(missing)", "oak", "steel"]
    assert column(task, "alcohol")["missing_input"] and not column(task, "proline")["missing_input"]
    rows, _ = raw_rows(wine, task)
    feeds = feeds_of(rows, session(done.path))
    got = encoded_by_the_graph(done.path, feeds)
    np.testing.assert_array_equal(got, encode(task.table, rows, unseen={}))  # the very numbers
    names = feature_names(task.table["columns"])
    one_hot = {name: [j for j, f in enumerate(names) if f.startswith(f"{name}=")] for name in ("region", "cellar")}
    assert got[2, names.index("region=(unknown)")] == got[3, names.index("region=(unknown)")] == 1
    assert got[7, names.index("region=(unknown)")] == 1
    assert got[4, one_hot["cellar"]].tolist() == [0, 0, 0, 0]  # no input set: (unknown) never trained
    assert got[5, names.index("cellar=(missing)")] == got[6, names.index("cellar=(missing)")] == 1
    assert got[0, names.index("alcohol (missing)")] == 1 and got[0, names.index("alcohol")] == np.float32(
        column(task, "alcohol")["median"]
    )
    assert got[1, names.index("proline")] == np.float32(column(task, "proline")["median"])
    assert np.isfinite(got).all()


def test_onnxruntime_predicts_raw_rows_as_task_predict_does(classifier, wine):
    task, _, done = classifier
    rows, _ = raw_rows(wine, task)
    (logits,) = session(done.path).run(["logits"], feeds_of(rows, session(done.path)))
    assert np.isfinite(logits).all()  # a row of missing cells included (NaN logits were class 0 before)
    probabilities = np.exp(logits - logits.max(1, keepdims=True))
    probabilities /= probabilities.sum(1, keepdims=True)
    want, classes = predicted(task, rows)
    np.testing.assert_allclose(probabilities, want, atol=1e-5)
    assert [task.class_names[i] for i in logits.argmax(1)] == classes


def test_a_regression_on_a_table_gives_numbers_in_the_targets_units(regression, wine):
    task, _, done = regression
    s = session(done.path)
    assert [o.name for o in s.get_outputs()] == ["predictions"] and "proline" not in [i.name for i in s.get_inputs()]
    assert json.loads(s.get_modelmeta().custom_metadata_map["zoo.target_names"]) == ["proline"]
    rows, _ = raw_rows(wine, task)
    (values,) = s.run(None, feeds_of(rows, s))
    want, _ = predicted(task, rows)
    assert values.shape == (len(rows), 1)
    np.testing.assert_allclose(values[:, 0], want, rtol=1e-5)
    # in proline's units (278 to 1680 in the file), not standardised (a few units either side of 0)
    assert task.hparams.target_mean[0] > 500 and np.abs(values).min() > 50


def test_the_export_command_says_what_a_table_models_file_takes(classifier, capsys):
    _, run_dir, _ = classifier
    assert main([str(run_dir), "--format", "onnx", "--out", str(run_dir / "again.onnx")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("  takes    15 inputs, one per column, named as the columns (zoo.columns lists them")
    assert "2 text columns (region, cellar): string (batch,) each" in lines[1]
    assert lines[3].startswith("  checked  onnxruntime matches PyTorch to") and "on raw rows" in lines[3]


def test_a_number_in_a_text_column_reads_as_zoo_reads_it_in_a_table_with_decimal_commas(tmp_path):
    # (zoo reads 1,5 in such a table as 1.5, in a text column as well: both cells are the category 1.5)
    rng = np.random.default_rng(2)
    lines = ["size;grade;y"] + [
        f"{rng.normal():.3f};{['1,5', '2,5'][i % 2]};{'ab'[i % 3 == 0]}".replace(".", ",") for i in range(60)
    ]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    overrides = {**TINY, "data.name": "csv", "data.path": str(tmp_path / "t.csv"), "data.target": "y"}
    task = zoo.fit("mlp", overrides={**overrides, "data.categorical": "grade"}, run_dir=tmp_path / "run", quiet=True)
    task = task.task
    assert task.table["decimal"] == "," and column(task, "grade")["categories"] == ["1.5", "2.5"]
    path = export_model(task, "onnx", tmp_path / "m.onnx").path
    rows = pd.DataFrame({"size": [0.5, -1.25, 2.0, 0.0], "grade": ["1,5", "2.5", "2,5", "3,5"]})
    feeds = {"size": rows["size"].to_numpy(np.float32), "grade": rows["grade"].to_numpy(dtype=object)}
    got = encoded_by_the_graph(path, feeds)
    np.testing.assert_array_equal(got, encode(task.table, rows, unseen={}))
    assert got[:, 1:3].tolist() == [[1, 0], [0, 1], [0, 1], [0, 0]]  # grade=1.5, grade=2.5


# --- .pt2: the same models, on encoded rows ----------------------------------------------------------


def test_a_table_model_still_exports_to_pt2_taking_the_rows_as_zoo_encodes_them(classifier, regression, wine, tmp_path):
    for task, *_ in (classifier, regression):
        done = export_model(task, "pt2", tmp_path / f"{task.name}.pt2")
        extra = {"zoo.json": ""}
        program = torch.export.load(done.path, extra_files=extra).module()
        meta = json.loads(extra["zoo.json"])
        assert meta["feature_names"] == feature_names(task.table["columns"])
        assert meta["inputs"].startswith(f"features: float32 (batch, {len(meta['feature_names'])}), the table's rows")
        rows, _ = raw_rows(wine, task)
        with torch.no_grad():
            out = program(torch.from_numpy(encode(task.table, rows, unseen={}))).numpy()
        want, _ = predicted(task, rows)
        if task.name == "regression":
            np.testing.assert_allclose(out[:, 0], want, rtol=1e-5)
        else:
            np.testing.assert_allclose(torch.softmax(torch.from_numpy(out), 1).numpy(), want, atol=1e-5)


# --- regression on feature vectors --------------------------------------------------------------------


@pytest.mark.parametrize("data", ["linnerud", "diabetes"])
def test_a_regression_on_feature_vectors_exports_its_numbers_in_the_targets_units(data, tmp_path):
    overrides = {**TINY, "task.name": "regression", "data.name": data}
    task = zoo.fit("mlp", overrides=overrides, run_dir=tmp_path / "run", quiet=True).task
    loaded, _ = zoo.build("mlp", overrides=overrides)
    loaded.setup("fit")
    x = loaded.test_set.tensors[0][:7]  # raw, unscaled features
    want = task.predict(x).numpy().reshape(len(x), -1)
    onnx_file = export_model(task, "onnx", tmp_path / "r.onnx")
    s = session(onnx_file.path)
    assert [(i.name, i.shape) for i in s.get_inputs()] == [("features", ["batch", x.shape[1]])]
    for batch in (x[:1], x):
        (got,) = s.run(["predictions"], {"features": batch.numpy()})
        np.testing.assert_allclose(got, want[: len(batch)], rtol=1e-5, atol=1e-4)
    program = torch.export.load(export_model(task, "pt2", tmp_path / "r.pt2").path).module()
    with torch.no_grad():
        np.testing.assert_allclose(program(x).numpy(), want, rtol=1e-5, atol=1e-4)
    meta = s.get_modelmeta().custom_metadata_map
    assert json.loads(meta["zoo.target_names"]) == task.target_names and meta["zoo.task"] == "regression"
    assert meta["zoo.outputs"].startswith(f"predictions: float32 (batch, {len(task.target_names)}), one number per")


# --- column names ---------------------------------------------------------------------------------------


def small_frame(names):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({name: rng.normal(size=60) for name in names})
    frame["kind"] = rng.choice(["a", "b"], 60)
    frame["y"] = (frame[names[0]] > 0).map({True: "up", False: "down"})
    return frame


def test_columns_named_as_values_inside_the_network_do_not_collide_with_them(tmp_path):
    # (the exported network's own values are named sub, div, linear, ...: a column may be named so too)
    frame = small_frame(["sub", "div", "linear", "zoo/net/features"])
    task = zoo.fit("mlp", data=frame, target="y", overrides=TINY, run_dir=tmp_path / "run", quiet=True).task
    done = export_model(task, "onnx", tmp_path / "m.onnx")
    s = session(done.path)
    assert [i.name for i in s.get_inputs()] == ["sub", "div", "linear", "zoo/net/features", "kind"]
    rows = frame.drop(columns="y").head(9)
    (logits,) = s.run(None, {c: rows[c].to_numpy(np.float32 if c != "kind" else object) for c in rows})
    want, _ = predicted(task, rows)
    np.testing.assert_allclose(torch.softmax(torch.from_numpy(logits), 1).numpy(), want, atol=1e-5)


def test_a_column_named_as_the_graphs_output_is_refused_in_one_line(tmp_path):
    frame = small_frame(["logits", "b"])
    task = zoo.fit("mlp", data=frame, target="y", overrides=TINY, run_dir=tmp_path / "run", quiet=True).task
    with pytest.raises(UsageError, match=r"^column 'logits' has the name of the graph's output") as caught:
        export_model(task, "onnx", tmp_path / "m.onnx")
    assert "\n" not in str(caught.value)
    assert export_model(task, "pt2", tmp_path / "m.pt2").path.exists()  # (.pt2 takes the encoded rows)


# --- the export guide's example ---------------------------------------------------------------------


def test_the_readme_example_runs_a_table_models_onnx_file(tmp_path, monkeypatch, capsys):
    table = ROOT / "examples" / "tumours.csv"
    overrides = {**TINY, "data.name": "csv", "data.path": str(table), "data.target": "diagnosis"}
    task = zoo.fit("mlp", overrides=overrides, run_dir=tmp_path / "run", quiet=True).task
    monkeypatch.chdir(tmp_path)
    (tmp_path / "examples").mkdir()
    shutil.copy(table, tmp_path / "examples")
    export_model(task, "onnx", tmp_path / "runs" / "mlp-csv-20261129-063659" / "mlp.onnx")
    exec(readme_block("<!-- example: onnxruntime table -->"), {})
    rows = pd.read_csv(table, dtype=str, keep_default_na=False).head(3)
    rows.loc[0, ["radius", "size", "clinic"]] = ["", "huge", "?"]
    _, want = predicted(task, rows)
    assert capsys.readouterr().out.strip() == str(want)
