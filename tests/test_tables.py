"""Tables as they come (text columns, missing cells) and regression: every encoding rule, the bad
input a learner brings, checkpoints that predict from raw rows, and the regression task's numbers."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
from test_tabular import write_csv

import zoo
from zoo import resolve_recipe
from zoo.data import DATASETS
from zoo.data.tables import describe_columns
from zoo.errors import DataError, UsageError


def table(tmp_path, header, rows, targets="classes", **options):
    dm = DATASETS.get("csv")(path=str(write_csv(tmp_path / "t.csv", header, rows)), **options)
    dm.choose_targets(targets)
    dm.setup("fit")
    return dm


def column(dm, name):
    return next(c for c in dm.table["columns"] if c["name"] == name)


def fit(tmp_path, *args, model="mlp"):
    cfg = resolve_recipe(
        model,
        overrides=[
            *args,
            "--trainer.default_root_dir",
            str(tmp_path / "runs"),
            "--trainer.enable_model_summary",
            "false",
        ],
    )
    return zoo.fit(model, config=cfg, quiet=True)


# --- types ------------------------------------------------------------------------------------


def test_types_are_inferred_and_overridable(tmp_path):
    rows = [[i, ["red", "blue"][i % 2], i % 3, f"id{i}", i % 2] for i in range(20)]
    header = ["size", "colour", "grade", "ident", "y"]
    dm = table(tmp_path, header, rows, target="y", drop="ident")
    kinds = {c["name"]: c["kind"] for c in dm.table["columns"]}
    assert kinds == {"size": "numeric", "colour": "categorical", "grade": "numeric"}  # ident dropped
    dm = table(tmp_path, header, rows, target="y", drop=["ident"], categorical="grade")
    assert column(dm, "grade")["kind"] == "categorical" and column(dm, "grade")["categories"] == ["0", "1", "2"]
    # A number-looking column forced numeric stays numeric; text in it is an error (test_tabular.py).
    dm = table(tmp_path, header, rows, target="y", drop="ident,colour", numeric=["grade"])
    assert [c["name"] for c in dm.table["columns"]] == ["size", "grade"]
    assert dm.describe()["in_features"] == 2


def test_one_hot_categories_come_from_the_training_rows_and_rare_ones_are_unknown(tmp_path):
    # "rare" occurs once; "test_only" lands in the test split of this seeded split (checked below).
    colours = ["red", "blue", "green"] * 20
    colours[0] = "rare"
    rows = [[c, i % 2] for i, c in enumerate(colours)]
    dm = table(tmp_path, ["colour", "y"], rows, target="y")
    test_row = dm.row_positions["test"][0]
    rows[test_row][0] = "test_only"
    dm = table(tmp_path, ["colour", "y"], rows, target="y")
    encoding = column(dm, "colour")
    assert "test_only" not in encoding["categories"]
    assert dm.describe()["feature_names"][-1] == "colour=(unknown)"
    x_test = dm.test_set.tensors[0][dm.row_positions["test"].index(test_row)]
    if 0 in dm.row_positions["train"]:  # the rare value trained the unknown input, which the unseen one sets
        assert "rare" not in encoding["categories"] and encoding["unknown_trained"]
        assert x_test.tolist() == [0.0, 0.0, 0.0, 1.0]
    else:  # the unknown input never saw a training row: an unseen value sets no input at all
        assert x_test.tolist() == [0.0, 0.0, 0.0, 0.0]
    assert sorted(encoding["categories"]) == ["blue", "green", "red"]
    # one-hot rows hold exactly one 1 (or none: unseen, with an untrained unknown input)
    assert set(dm.train_set.tensors[0].sum(1).tolist()) == {1.0}


def test_unknown_input_is_set_only_when_training_had_rare_values():
    from zoo.data.tables import encode

    frame = pd.DataFrame({"c": ["a", "zzz", "", "b"]})
    trained = {"columns": [{"name": "c", "kind": "categorical", "categories": ["a", "b"], "unknown_trained": True}]}
    untrained = {"columns": [{**trained["columns"][0], "unknown_trained": False}]}
    for spec in (trained, untrained):
        spec["missing"] = [""]
    unseen = {}
    assert encode(trained, frame, unseen=unseen).tolist() == [[1, 0, 0], [0, 0, 1], [0, 0, 1], [0, 1, 0]]
    assert encode(untrained, frame, unseen=unseen).tolist() == [[1, 0, 0], [0, 0, 0], [0, 0, 0], [0, 1, 0]]
    assert unseen == {"c": {"zzz": 2}}  # counted, twice: the missing cell is not a category never seen
    # without a place to count them, a warning says so
    with pytest.warns(UserWarning, match=r"rows: 1 cell holds a category the model has no input for .*c 'zzz' \(1\)"):
        encode(trained, frame)


def test_too_many_categories_names_the_limit_and_how_to_raise_it(tmp_path):
    rows = [[f"name{i}", i % 2] for i in range(60)]
    with pytest.raises(DataError, match=r"column 'who' has 60 distinct values, more than data.max_categories=50"):
        table(tmp_path, ["who", "y"], rows, target="y")
    dm = table(tmp_path, ["who", "y"], rows, target="y", max_categories=60)
    assert column(dm, "who")["kind"] == "categorical"


# --- missing cells ------------------------------------------------------------------------------


def test_missing_numbers_get_the_training_median_and_a_was_missing_input(tmp_path):
    values = [float(i) for i in range(40)]
    markers = ["", "NA", "NaN", "?"]
    rows = [[markers[i % 4] if i % 5 == 0 else v, v, i % 2] for i, v in enumerate(values)]
    dm = table(tmp_path, ["a", "b", "y"], rows, target="y")
    a, b = column(dm, "a"), column(dm, "b")
    train = dm.row_positions["train"]
    present = [values[i] for i in train if i % 5]
    assert a["median"] == pytest.approx(float(np.median(present)))  # training rows only, missing left out
    assert a["median"] != pytest.approx(float(np.median([v for i, v in enumerate(values) if i % 5])))
    assert a["missing_input"] and not b["missing_input"]  # b had no missing cell: no indicator
    assert dm.describe()["feature_names"] == ["a", "a (missing)", "b"]
    x = dm.train_set.tensors[0]
    for row, i in zip(x.tolist(), train):
        expected = [a["median"], 1.0] if i % 5 == 0 else [values[i], 0.0]
        assert row[:2] == pytest.approx(expected) and row[2] == values[i]
    # the task standardises numbers with the filled training rows, and leaves the 0/1 input alone
    filled = [a["median"] if i % 5 == 0 else values[i] for i in train]
    mean, std = dm.describe()["input_mean"], dm.describe()["input_std"]
    assert mean[:2] == pytest.approx([np.mean(filled), 0.0]) and std[:2] == pytest.approx([np.std(filled, ddof=1), 1.0])


def test_missing_markers_are_configurable_and_missing_text_is_a_category(tmp_path):
    rows = [["-", "none" if i % 4 == 0 else ["x", "y"][i % 2], i % 2] for i in range(24)]
    for i in range(0, 24, 3):
        rows[i][0] = str(i)
    dm = table(tmp_path, ["n", "c", "y"], rows, target="y", missing=["-", "none"])
    assert column(dm, "n")["kind"] == "numeric" and column(dm, "n")["missing_input"]
    assert column(dm, "c")["categories"] == ["(missing)", "x", "y"]
    # with the default markers, "-" is text and "none" a category like any other
    dm = table(tmp_path, ["n", "c", "y"], rows, target="y")
    assert column(dm, "n")["kind"] == "categorical" and "none" in column(dm, "c")["categories"]


def test_rows_without_a_target_are_left_out_and_counted(tmp_path):
    rows = [[i, "" if i in (3, 7) else "NA" if i == 11 else i % 2] for i in range(30)]
    dm = table(tmp_path, ["a", "y"], rows, target="y")
    # 27 rows with a target: round(27 * 0.2) = 5 test rows, round(22 * 0.1) = 2 validation rows
    assert dm.table["rows"] == {"read": 30, "left_out_missing_target": 3, "train": 20, "val": 2, "test": 5}
    used = sorted(sum(dm.row_positions.values(), []))
    assert used == [i for i in range(30) if i not in (3, 7, 11)] and dm.class_names == ["0", "1"]


# --- bad input: several problems at once, targets ---------------------------------------------------


def test_every_problem_of_a_table_is_said_in_one_line(tmp_path):
    rows = [[i, "", f"n{i}", i % 2] for i in range(60)]
    with pytest.raises(DataError) as caught:
        table(tmp_path, ["a", "empty", "who", "y"], rows, target="label", categorical="nope")
    message = str(caught.value)
    assert "\n" not in message and message.count("(") >= 4
    for part in (
        "4 problems",
        "no column 'label' for data.target (columns: a, empty, who, y)",
        "no column 'nope' for data.categorical",
        "column 'empty' is empty",
        "column 'who' has 60 distinct values",
    ):
        assert part in message, message


def test_a_classifier_given_many_distinct_numbers_suggests_regression(tmp_path):
    rows = [[i, 1000 + 13 * i] for i in range(40)]
    with pytest.raises(
        UsageError, match=r"target 'price' holds 40 distinct numbers, more than 20.*task.name='regression'"
    ):
        table(tmp_path, ["a", "price"], rows, target="price")
    # 20 distinct numbers are classes; so are more when the column is declared categorical
    assert len(table(tmp_path, ["a", "k"], [[i, i % 20] for i in range(40)], target="k").class_names) == 20
    assert len(table(tmp_path, ["a", "price"], rows, target="price", categorical="price").class_names) == 40


def test_regression_targets_must_be_numbers(tmp_path):
    rows = [[i, "n/a!" if i == 4 else 2.5 * i, i] for i in range(10)]
    with pytest.raises(DataError, match=r"target 'v' holds text where numbers belong: row 6 'n/a!'"):
        table(tmp_path, ["a", "v", "w"], rows, targets="numbers", target="v,w")
    with pytest.raises(DataError, match=r"target 'c' holds one value only"):
        table(tmp_path, ["a", "c"], [[i, 3] for i in range(10)], targets="numbers", target="c")


def test_a_table_that_is_not_a_table(tmp_path):
    (tmp_path / "notes.csv").write_text("Notes\njust a line of prose\nand another, with a comma, or two\n")
    with pytest.raises(DataError, match=r"notes.csv is not a table with ',' between cells: row 3 has 3 cells, the h"):
        DATASETS.get("csv")(path=str(tmp_path / "notes.csv"), target="y").setup("fit")
    # A delimiter given that the file does not use: one column, and a hint
    (tmp_path / "semi.csv").write_text("a;b;y\n" + "".join(f"{i};{i};{i % 2}\n" for i in range(9)))
    with pytest.raises(DataError, match=r"one column only \('a;b;y'\).*data.delimiter=';'"):
        DATASETS.get("csv")(path=str(tmp_path / "semi.csv"), target="y", delimiter=",").setup("fit")
    for delimiter in ("auto", ";"):  # found from the file, or given
        dm = DATASETS.get("csv")(path=str(tmp_path / "semi.csv"), target="y", delimiter=delimiter)
        dm.setup("fit")
        assert dm.describe()["in_features"] == 2 and dm.table["delimiter"] == ";"


def test_a_table_without_data_rows_says_so(tmp_path):
    path = write_csv(tmp_path / "t.csv", ["a", "b", "y"], [])
    with pytest.raises(DataError, match=r"t.csv: no data rows, only the header \(3 columns\)$"):
        table(tmp_path, ["a", "b", "y"], [], target="y")
    (tmp_path / "blank.csv").write_text(path.read_text() + "\n\n")  # blank lines are no rows either
    with pytest.raises(DataError, match=r"no data rows"):
        DATASETS.get("csv")(path=str(tmp_path / "blank.csv"), target="y").setup("fit")
    # one row with a target is counted in words that fit one
    with pytest.raises(DataError, match=r"1 row with a target; at least 3 are needed"):
        table(tmp_path, ["a", "y"], [[1, 0], [2, ""], [3, ""]], target="y")


def test_a_header_that_names_a_column_twice_is_refused(tmp_path):
    # (pandas renames the second "a.1" without a word, which the model would then take as a column)
    for header in (["a", "b", "a", "y"], ["a", "b", " a ", "y"]):
        with pytest.raises(DataError, match=r"t.csv: the header names 'a' more than once"):
            table(tmp_path, header, [[1, 2, 3, 0]] * 5, target="y")


# --- files as spreadsheets write them -----------------------------------------------------------


def wine():
    import sklearn.datasets

    frame = sklearn.datasets.load_wine(as_frame=True).frame
    frame["target"] = frame["target"].map({0: "Barolo", 1: "Grignolino", 2: "Barbera"})
    return frame


def wine_module(path, targets="classes", **options):
    dm = DATASETS.get("csv")(path=str(path), target=options.pop("target", "target"), **options)
    dm.choose_targets(targets)
    dm.setup("fit")
    return dm


def test_a_european_csv_reads_its_decimal_commas_as_numbers(tmp_path):
    """Excel's CSV where the comma is the decimal mark (most of Europe): semicolons between cells and
    14,23 for 14.23. zoo reads the same numbers from it as from the file written with points."""
    frame = wine()
    frame.to_csv(tmp_path / "points.csv", index=False)
    frame.to_csv(tmp_path / "european.csv", sep=";", decimal=",", index=False)
    assert "14,23;1,71;" in (tmp_path / "european.csv").read_text()
    points, european = wine_module(tmp_path / "points.csv"), wine_module(tmp_path / "european.csv")
    assert {c["kind"] for c in european.table["columns"]} == {"numeric"} and len(european.table["columns"]) == 13
    assert european.table["delimiter"] == ";" and european.table["decimal"] == ","
    assert torch.equal(european.train_set.tensors[0], points.train_set.tensors[0])
    assert european.class_names == points.class_names == ["Barbera", "Barolo", "Grignolino"]
    # the summary says how the numbers were read
    assert describe_columns(european.table)["alcohol"].startswith("numeric, written with a decimal comma")
    assert "decimal comma" not in describe_columns(points.table)["alcohol"]
    # a number to predict, as well
    regression = wine_module(tmp_path / "european.csv", "numbers", target="alcohol", drop="target")
    expected = [float(frame["alcohol"][i]) for i in regression.row_positions["train"]]
    assert regression.train_set.tensors[1].view(-1).tolist() == pytest.approx(expected)
    # Told the decimal mark is a point, the numbers are text: one problem that names the decimal comma
    with pytest.raises(
        DataError,
        match=r"13 columns \('alcohol', .*\) hold numbers written with a decimal comma "
        r"\(such as '14,23' in row 2\).*data.decimal=',' reads them as numbers$",
    ):
        wine_module(tmp_path / "european.csv", decimal=".")
    with pytest.raises(
        DataError,
        match=r"target 'alcohol' holds text where numbers belong: row 2 '14,23'.*"
        r"\(numbers with a decimal comma: data.decimal=',' reads them\)",
    ):
        wine_module(tmp_path / "european.csv", "numbers", target="alcohol", drop="target", decimal=".")
    with pytest.raises(UsageError, match=r"a decimal comma needs another delimiter"):
        wine_module(tmp_path / "points.csv", decimal=",", delimiter=",")


def test_a_text_column_with_commas_stays_text_beside_decimal_commas(tmp_path):
    rows = [[f"{i},5", ["red, dry", "white"][i % 2], i % 2] for i in range(20)]
    path = tmp_path / "t.csv"
    path.write_text("size;wine;y\n" + "".join(";".join(map(str, r)) + "\n" for r in rows))
    dm = wine_module(path, target="y")
    assert dm.table["decimal"] == "," and column(dm, "size")["kind"] == "numeric"
    assert column(dm, "wine")["categories"] == ["red, dry", "white"]
    # a point in one column and a comma in another: the comma is not taken for a decimal mark
    path.write_text("size;weight;y\n" + "".join(f"{i},5;{i}.25;{i % 2}\n" for i in range(20)))
    assert wine_module(path, target="y", max_categories=30).table["decimal"] == "."


def test_a_byte_order_mark_and_excels_sep_line_are_not_part_of_the_header(tmp_path):
    frame = wine()
    frame.to_csv(tmp_path / "bom.csv", sep=";", decimal=",", index=False, encoding="utf-8-sig")
    assert (tmp_path / "bom.csv").read_bytes().startswith(b"\xef\xbb\xbfalcohol;")
    dm = wine_module(tmp_path / "bom.csv")
    assert dm.table["columns"][0]["name"] == "alcohol" and dm.describe()["in_features"] == 13
    # Excel's "sep=;" line names the delimiter; rows are still numbered as the file's lines
    frame["ash"] = frame["ash"].astype(object)
    frame.loc[4, "ash"] = "n/a!"
    with open(tmp_path / "sep.csv", "w", encoding="utf-8") as f:
        f.write("sep=;\n")
        frame.to_csv(f, sep=";", decimal=",", index=False)
    assert "n/a!" in (tmp_path / "sep.csv").read_text().splitlines()[6]  # line 7: sep line, header, fifth row
    with pytest.raises(DataError, match=r"column 'ash' is data.numeric but holds text: row 7 'n/a!'$"):
        wine_module(tmp_path / "sep.csv", numeric="ash")


@pytest.mark.parametrize("delimiter", ["\t", "|", ";"])
def test_the_delimiter_is_found_from_the_file(tmp_path, delimiter):
    frame = wine()
    frame.to_csv(tmp_path / "t.csv", sep=delimiter, index=False)
    dm = wine_module(tmp_path / "t.csv")
    assert dm.table["delimiter"] == delimiter and dm.describe()["in_features"] == 13 and dm.table["decimal"] == "."


def test_a_windows_file_is_refused_with_the_encoding_to_give(tmp_path):
    frame = wine()
    frame["target"] = frame["target"].map({"Barolo": "Barolo", "Grignolino": "Grignolino", "Barbera": "Barbéra"})
    frame.to_csv(tmp_path / "w.csv", sep=";", decimal=",", index=False, encoding="cp1252")
    first = 2 + next(i for i, t in enumerate(frame["target"]) if t == "Barbéra")
    with pytest.raises(
        DataError,
        match=rf"w.csv is not a text table: not UTF-8 \(line {first} has the byte 0xe9 \('é' in cp1252\)\); "
        r"Excel on Windows saves CSV as cp1252 in Western Europe: data.encoding='cp1252'$",
    ):
        wine_module(tmp_path / "w.csv")
    dm = wine_module(tmp_path / "w.csv", encoding="cp1252")
    assert dm.class_names == ["Barbéra", "Barolo", "Grignolino"] and dm.table["encoding"] == "cp1252"
    with pytest.raises(UsageError, match=r"data.encoding='klingon' is not an encoding Python knows"):
        wine_module(tmp_path / "w.csv", encoding="klingon")


# --- messages in the reader's words --------------------------------------------------------------


def free_text_table(tmp_path):
    """A table with a column of free text, named with a space: too many categories."""
    return write_csv(tmp_path / "t.csv", ["a", "free text", "y"], [[i, f"note {i}", i % 2] for i in range(60)])


def european_table(tmp_path):
    wine().to_csv(tmp_path / "t.csv", sep=";", decimal=",", index=False)
    return tmp_path / "t.csv"


def windows_table(tmp_path):
    frame = wine()
    frame["target"] = frame["target"].replace("Barbera", "Barbéra")
    frame.to_csv(tmp_path / "t.csv", sep=";", decimal=",", index=False, encoding="cp1252")
    return tmp_path / "t.csv"


# (the table, its options from Python, the same at the command line, how each reader's message ends)
VOICES = {
    "a value quoted": (
        free_text_table,
        {"target": "y"},
        ["--data.target", "y"],  # (after the default: the last one given counts)
        "leave it out with data.drop='free text', or raise data.max_categories",
        "leave it out with --data.drop 'free text', or raise --data.max_categories",
    ),
    "the decimal mark": (
        european_table,
        {"decimal": "."},
        ["--data.decimal", "."],
        "the decimal mark being '.': data.decimal=',' reads them as numbers",
        "the decimal mark being '.': --data.decimal ',' reads them as numbers",
    ),
    "the encoding": (
        windows_table,
        {},
        [],
        "Excel on Windows saves CSV as cp1252 in Western Europe: data.encoding='cp1252'",
        "Excel on Windows saves CSV as cp1252 in Western Europe: --data.encoding cp1252",
    ),
    "a delimiter": (
        european_table,
        {"delimiter": ",", "decimal": ","},
        ["--data.delimiter", ",", "--data.decimal", ","],
        "a decimal comma needs another delimiter between cells: data.delimiter=';'",
        "a decimal comma needs another delimiter between cells: --data.delimiter ';'",
    ),
}


@pytest.mark.parametrize("case", list(VOICES))
def test_a_tables_message_names_options_as_its_reader_gives_them(case, tmp_path, capsys):
    """From Python, options as Python writes them (``data.drop='free text'``); from the command, as the
    command line does, values quoted for a shell, so that the hint pasted into one gives the option."""
    from zoo.train import main

    make, options, args, from_python, from_the_command = VOICES[case]
    path = make(tmp_path)
    with pytest.raises((DataError, UsageError)) as caught:
        wine_module(path, **{"target": "target", **options})
    assert str(caught.value).endswith(from_python) and "--" not in str(caught.value), str(caught.value)
    args = ["mlp", "--data.name", "csv", "--data.path", str(path), "--data.target", "target", *args]
    assert main([*args, "--trainer.default_root_dir", str(tmp_path / "runs")]) in (1, 2)
    err = capsys.readouterr().err.strip()
    assert err.startswith("zoo.train: error: ") and err.endswith(from_the_command), err


def test_classes_that_differ_only_in_case_are_said_with_their_counts(tmp_path, capsys):
    rows = [[i, ["benign", "malignant"][i % 2]] for i in range(40)]
    for i in (2, 4, 6):
        rows[i][1] = "Benign"
    dm = table(tmp_path, ["a", "diagnosis"], rows, target="diagnosis")
    assert dm.class_names == ["Benign", "benign", "malignant"]  # as the file says: three classes
    said = "'Benign' (3 rows) and 'benign' (17 rows)"
    err = capsys.readouterr().err
    assert f"zoo: warning: {tmp_path / 't.csv'}: target 'diagnosis' has classes that differ only in case" in err
    assert said in err and len(err.strip().splitlines()) == 1
    assert said in dm.table["notes"]["diagnosis"]


# --- very wide tables ---------------------------------------------------------------------------


def test_repeated_header_names_are_found_in_linear_time():
    """Each name is compared with others only where their hashes meet (a Counter), not with every
    other name: 100,000 names, a few comparisons each (every other one, the first version's way, is
    10^10)."""
    from zoo.data.tables import _refuse_repeated_names

    compared = 0

    class Name(str):
        __hash__ = str.__hash__

        def __eq__(self, other):
            nonlocal compared
            compared += 1
            return str.__eq__(self, other)

    names = [Name(f"c{i}") for i in range(100_000)]
    _refuse_repeated_names("t.csv", names)
    assert compared < 3 * len(names)
    with pytest.raises(DataError, match=r"the header names 'c7' more than once"):
        _refuse_repeated_names("t.csv", [*names, Name("c7")])


def test_a_table_of_100000_columns_is_read_and_checked(tmp_path):
    """The whole of the early check (read, header, every column's kind) on a table 100,000 columns wide
    and 4 rows long: pandas' reader alone took 6-12 s on it (an array per column); zoo reads it into one."""
    from zoo.data.tables import check_table, read_table

    n = 100_000
    lines = [",".join(f"c{i}" for i in range(n)) + ",y"]
    lines += [",".join(str((i * r) % 7) for i in range(n)) + f",{r % 2}" for r in range(4)]
    lines[2] = lines[2].replace(",3,", ",three,", 1)  # a text cell: one categorical column
    path = tmp_path / "wide.csv"
    path.write_text("\n".join(lines) + "\n")
    frame = read_table(path)
    assert frame.shape == (4, n + 1) and frame.iloc[1].tolist().count("three") == 1
    check_table({"data": {"name": "csv", "path": str(path), "target": "y"}, "task": {"name": "classification"}})
    with pytest.raises(
        DataError, match=r"no column 'z' for data.target \(columns: c0, c1, .*, c49, \.\.\. \(100,001 in all\)\)$"
    ):
        check_table({"data": {"name": "csv", "path": str(path), "target": "z"}, "task": {"name": "classification"}})


# --- the command checks a table before the heavy imports -------------------------------------------


def test_the_train_command_checks_a_table_before_it_trains(tmp_path, monkeypatch, capsys):
    import zoo.training
    from zoo.train import main

    def fit(*args, **kwargs):
        raise AssertionError("the table's problems should come before training is set up")

    monkeypatch.setattr(zoo.training, "fit", fit)
    path = write_csv(tmp_path / "t.csv", ["a", "y"], [])
    assert main(["mlp", "--data.name", "csv", "--data.path", str(path), "--data.target", "y"]) == 1
    assert capsys.readouterr().err.strip() == f"zoo.train: error: {path}: no data rows, only the header (2 columns)"


@pytest.mark.slow
def test_a_tables_mistake_comes_before_torch_is_imported(tmp_path):
    """The command with torch unimportable: a table's mistake is still its one line, so it came first."""
    import subprocess
    import sys

    from conftest import checkout_env

    path = write_csv(tmp_path / "t.csv", ["a", "y"], [])
    code = (
        "import sys; sys.modules['torch'] = None; from zoo.train import main; "
        f"sys.exit(main(['mlp', '--data.name', 'csv', '--data.path', {str(path)!r}, '--data.target', 'y']))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=checkout_env(), timeout=300)
    assert done.returncode == 1 and done.stderr.strip().endswith("no data rows, only the header (2 columns)"), (
        done.stderr
    )


def test_parquet_reads_as_the_same_table(tmp_path):
    from conftest import ON_CI

    try:
        import pyarrow  # noqa: F401
    except ImportError:
        if ON_CI:
            pytest.fail("pyarrow is missing: the test extra carries zoo[parquet]")
        pytest.skip("pyarrow is not installed (pip install 'zoo[parquet]')")
    rows = [[float(i) if i % 7 else None, ["a", "b", None][i % 3], i % 2] for i in range(30)]
    pd.DataFrame(rows, columns=["x", "c", "y"]).to_parquet(tmp_path / "t.parquet")
    write_csv(tmp_path / "t.csv", ["x", "c", "y"], [["" if v is None else v for v in r] for r in rows])
    dms = []
    for name in ("t.parquet", "t.csv"):
        dm = DATASETS.get("csv")(path=str(tmp_path / name), target="y")
        dm.setup("fit")
        dms.append(dm)
    assert dms[0].table["columns"] == dms[1].table["columns"]
    assert torch.equal(dms[0].train_set.tensors[0], dms[1].train_set.tensors[0])


# --- checkpoints take raw rows ----------------------------------------------------------------------


def messy_rows(n=120, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        size = float(rng.uniform(0, 10))
        kind = ["flat", "house", "villa"][i % 3]
        price = 50 + 20 * size + {"flat": 0, "house": 100, "villa": 300}[kind] + float(rng.normal(0, 5))
        rows.append(["" if i % 9 == 0 else round(size, 3), "" if i % 11 == 0 else kind, round(price, 2)])
    return rows


def test_a_classifier_checkpoint_predicts_from_raw_rows(tmp_path):
    rows = [[r[0], r[1], "dear" if r[2] > 250 else "cheap"] for r in messy_rows()]
    path = write_csv(tmp_path / "homes.csv", ["size", "kind", "label"], rows)
    result = fit(
        tmp_path, "--data.name", "csv", "--data.path", str(path), "--data.target", "label", "--trainer.max_epochs", "2"
    )
    assert result.summary["rows"]["read"] == 120 and "one-hot" in result.summary["columns"]["kind"]
    task = zoo.load_checkpoint(result.run_dir)  # weights-only: the encoding is plain data
    assert task.table == result.task.table
    raw = [{"size": r[0], "kind": r[1]} for r in rows[:9]]
    encoded = result.task.inputs(raw)
    assert task.predict(raw) == [task.class_names[i] for i in task(encoded).argmax(1).tolist()]
    # the same rows as a DataFrame, as a CSV path (target column included), and with unseen values
    assert task.predict(pd.DataFrame(raw)) == task.predict(raw) == task.predict(str(path))[:9]
    with pytest.warns(UserWarning, match=r"rows: 1 cell holds a category the model has no input for .*: kind 'castle'"):
        assert len(task.predict({"size": "NA", "kind": "castle"})) == 1
    assert task.predict_proba(raw).shape == (9, 2)
    with pytest.raises(DataError, match=r"rows lack the columns 'kind'"):
        task.predict([{"size": 3}])
    with pytest.raises(DataError, match=r"rows: column 'size' holds text where numbers belong: row 1 'big'"):
        task.predict([{"size": 3, "kind": "flat"}, {"size": "big", "kind": "flat"}])


def test_a_regression_checkpoint_predicts_original_units_from_raw_rows(tmp_path):
    rows = messy_rows(300)
    path = write_csv(tmp_path / "homes.csv", ["size", "kind", "price"], rows)
    result = fit(
        tmp_path,
        *("--task.name", "regression", "--data.name", "csv", "--data.path", str(path), "--data.target", "price"),
        *("--model.hidden", "[32]", "--model.activation", "relu", "--trainer.max_epochs", "60"),
    )
    test = result.summary["test"]
    assert set(test) == {"loss", "mse", "rmse", "mae", "r2"} and test["rmse"] == pytest.approx(math.sqrt(test["mse"]))
    assert test["r2"] > 0.9
    task = zoo.load_checkpoint(result.checkpoint)
    complete = [{"size": 5.0, "kind": "flat"}, {"size": 5.0, "kind": "villa"}, {"size": 1.0, "kind": "house"}]
    predicted = task.predict(complete)
    assert predicted.shape == (3,)
    # in dollars, near the rule the prices were made by (50 + 20 size + 0/100/300)
    assert predicted.tolist() == pytest.approx([150, 450, 170], abs=25)
    assert len(task.predict([{"size": "", "kind": ""}])) == 1  # missing cells take the training fills


def test_regression_metrics_losses_and_directions(tmp_path):
    from zoo.registry import TASKS

    regression = TASKS.get("regression")
    assert regression.metric_mode("val_r2") == "max"
    assert [regression.metric_mode(m) for m in ("val_loss", "val_mse", "val_rmse", "val_mae")] == ["min"] * 4
    task = regression(
        model="mlp",
        model_kwargs={"in_features": 1, "num_outputs": 1, "hidden": [4]},
        target_names=["y"],
        target_mean=[100.0],
        target_std=[10.0],
        loss="mae",
    )
    x, y = torch.zeros(4, 1), torch.tensor([[90.0], [100.0], [110.0], [130.0]])
    with torch.no_grad():
        for p in task.model.parameters():
            p.zero_()
    loss, preds, target = task.loss_and_outputs((x, y))
    assert preds.view(-1).tolist() == [100.0] * 4  # a zero output is the training mean, in the target's units
    assert loss.item() == pytest.approx((1 + 0 + 1 + 3) / 4)  # mean |error| in standard deviations
    task.loss_name = "huber"
    assert task.loss_and_outputs((x, y))[0].item() == pytest.approx((0.5 + 0 + 0.5 + 2.5) / 4)


def test_linnerud_has_three_targets_and_diabetes_its_original_units():
    dm = DATASETS.get("linnerud")()
    dm.setup("fit")
    info = dm.describe()
    assert (
        info["targets"] == "numbers"
        and info["num_outputs"] == 3
        and info["target_names"] == ["Weight", "Waist", "Pulse"]
    )
    train_y = dm.train_set.tensors[1].double()
    assert info["target_mean"] == pytest.approx(train_y.mean(0).tolist())
    dm = DATASETS.get("diabetes")()
    dm.setup("fit")
    y = torch.cat([s.tensors[1] for s in (dm.train_set, dm.val_set, dm.test_set)])
    assert y.shape == (442, 1) and y.min() == 25 and y.max() == 346
    assert dm.describe()["feature_names"][:3] == ["age", "sex", "bmi"] and dm.train_set.tensors[0][:, 0].max() > 50


def test_mlp_output_width_is_num_outputs_when_given():
    assert zoo.get_model("mlp")(torch.zeros(3, 2)).shape == (3, 2)
    assert zoo.get_model("mlp", num_classes=4)(torch.zeros(3, 2)).shape == (3, 4)
    assert zoo.get_model("mlp", num_outputs=3, in_features=5)(torch.zeros(2, 5)).shape == (2, 3)


# --- the Playground's regression sets -------------------------------------------------------------------


def test_plane_and_multi_gaussian_follow_the_playground():
    dm = DATASETS.get("plane")(n_samples=500)
    x, y, _, _ = dm.load()
    assert (x.abs() <= 6).all() and torch.allclose(y[:, 0], (x[:, 0] + x[:, 1]) / 10)
    dm = DATASETS.get("multi_gaussian")(n_samples=500)
    x, y, _, _ = dm.load()
    centre = torch.tensor([[-4.0, 2.5], [0.0, 2.5], [4.0, 2.5], [-4.0, -2.5], [0.0, -2.5], [4.0, -2.5]])
    signs = torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
    bumps = signs * (1 - torch.cdist(x.double(), centre.double()).float() / 2).clamp(0, 1)
    expected = bumps.gather(1, bumps.abs().argmax(1, keepdim=True))[:, 0]
    assert torch.allclose(y[:, 0], expected, atol=1e-6) and y.abs().max() <= 1
    clean, noisy = (DATASETS.get("plane")(n_samples=500, noise=n).load() for n in (0.0, 0.5))
    assert torch.equal(clean[0], noisy[0]) and not torch.allclose(clean[1], noisy[1])  # same points, moved values


@pytest.mark.slow
def test_regression_command_leaves_its_pictures(tmp_path):
    from conftest import run_command, summary_of

    result = run_command(
        ["zoo.train", "mlp", "--task.name", "regression", "--data.name", "plane", "--trainer.max_epochs", "5"]
        + ["--trainer.default_root_dir", str(tmp_path)],
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    summary = summary_of(result.stdout)
    assert summary["test"]["r2"] > 0.9
    run_dir = tmp_path / summary["run_dir"].rsplit("/", 1)[-1]
    for picture in ("learning_curves.png", "predicted_vs_true.png", "residuals.png", "learned_surface.png"):
        assert (run_dir / picture).stat().st_size > 10_000, picture
