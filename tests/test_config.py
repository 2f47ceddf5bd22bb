"""Recipes: YAML reading, override typing, unknown keys, and switching a section's choice."""

from typing import Literal

import pytest

from zoo import list_recipes, resolve_recipe
from zoo.config import coerce_text, matches, parse_overrides, parse_yaml
from zoo.errors import UsageError, speaking


def test_yaml_reads_exponent_floats_as_numbers():
    assert parse_yaml("lr: 1e-3\nwd: 5E-4\nx: 1.5") == {"lr": 0.001, "wd": 0.0005, "x": 1.5}


@pytest.mark.parametrize(
    "raw, annotation, expected",
    [
        ("3", int, 3),
        ("0.5", float, 0.5),
        ("2", float, 2),
        ("1e-4", float, 1e-4),
        ("true", bool, True),
        ("[64,32]", list[int], [64, 32]),
        ("00:00:01:30", str | None, "00:00:01:30"),
        ("1", str, "1"),  # a column called "1" stays a string
        ("max", Literal["max", "avg"], "max"),
        ("null", int | None, None),
    ],
)
def test_command_line_values_are_read_as_the_option_type(raw, annotation, expected):
    value = coerce_text(raw, annotation, "--x.y")
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    "raw, annotation", [("abc", int), ("1.5", int), ("yes please", bool), ("min", Literal["max", "avg"])]
)
def test_values_of_the_wrong_type_are_refused_naming_the_option(raw, annotation):
    with pytest.raises(UsageError, match=r"--x\.y expects"):
        coerce_text(raw, annotation, "--x.y")


def test_bool_is_not_an_int():
    assert not matches(True, int) and matches(3, float) and not matches(True, float)


def test_overrides_accept_space_and_equals_forms():
    assert parse_overrides(["--data.batch_size", "64", "--trainer.max_epochs=3"]) == [
        ("data", "batch_size", "64"),
        ("trainer", "max_epochs", "3"),
    ]
    with pytest.raises(UsageError, match="needs a value"):
        parse_overrides(["--data.batch_size"])


def test_recipe_resolves_with_every_default_listed():
    cfg = resolve_recipe("lenet", overrides=[])
    assert cfg["data"]["name"] == "digits"
    assert cfg["data"]["val_split"] == 0.1 and cfg["trainer"]["max_epochs"] > 0
    assert "num_classes" not in cfg["model"]  # the data decides it


def test_overrides_win_over_the_recipe():
    cfg = resolve_recipe(
        "lenet", overrides=["--data.batch_size", "32", "--optimizer.lr", "1e-2", "--model.pooling", "avg"]
    )
    assert (cfg["data"]["batch_size"], cfg["optimizer"]["lr"], cfg["model"]["pooling"]) == (32, 0.01, "avg")


def test_unknown_option_names_the_nearest_valid_ones():
    with pytest.raises(UsageError) as err:  # (from Python, options are named as Python gives them)
        resolve_recipe("lenet", overrides=["--trainer.max_epoch", "3"])
    assert str(err.value).startswith("trainer has no option trainer.max_epoch; did you mean trainer.max_epochs")
    with speaking("cli"), pytest.raises(UsageError) as err:  # (as the commands name them)
        resolve_recipe("lenet", overrides=["--trainer.max_epoch", "3"])
    assert "--trainer.max_epoch" in str(err.value) and "did you mean --trainer.max_epochs" in str(err.value)


def test_unknown_section_is_refused():
    with pytest.raises(UsageError, match=r"unknown option trainr\.max_epochs; did you mean trainer\.max_epochs"):
        resolve_recipe("lenet", overrides=["--trainr.max_epochs", "3"])
    with (
        speaking("cli"),
        pytest.raises(UsageError, match=r"unknown option --trainr\.max_epochs; did you mean --trainer"),
    ):
        resolve_recipe("lenet", overrides=["--trainr.max_epochs", "3"])


def test_unknown_key_in_a_config_file_is_refused(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("data:\n  batch_sise: 3\n")
    with pytest.raises(UsageError, match="no option data.batch_sise; did you mean data.batch_size"):
        resolve_recipe("lenet", [str(path)])
    path.write_text("dta:\n  batch_size: 3\n")
    with pytest.raises(UsageError, match="has no option dta"):
        resolve_recipe("lenet", [str(path)])


def test_switching_data_set_drops_options_the_new_one_does_not_take():
    cfg = resolve_recipe("lenet", overrides=["--data.name", "fashion-mnist"])
    assert cfg["data"]["name"] == "fashion-mnist"
    assert "test_split" not in cfg["data"]  # a digits option; Fashion-MNIST has its own test set
    assert cfg["data"]["batch_size"] == 64  # shared options carry over from the recipe


def test_an_option_the_chosen_data_set_lacks_is_refused():
    with pytest.raises(UsageError, match="data 'fashion-mnist' has no option data.test_split"):
        resolve_recipe("lenet", overrides=["--data.name", "fashion-mnist", "--data.test_split", "0.3"])


def test_unknown_choice_lists_the_known_ones():
    with pytest.raises(UsageError, match=r"unknown data set 'fashion'; did you mean 'fashion-mnist'\?"):
        resolve_recipe("lenet", overrides=["--data.name", "fashion"])
    with pytest.raises(UsageError, match="unknown optimizer 'sgdd'"):
        resolve_recipe("lenet", overrides=["--optimizer.name", "sgdd"])


def test_shipped_recipes_resolve_and_config_accepts_a_recipe_name():
    assert "lenet" in list_recipes()
    for recipe in list_recipes():
        model = recipe.split("_")[0]
        cfg = resolve_recipe(model, [recipe])
        assert cfg["task"]["name"]


def test_missing_config_file_is_a_usage_error():
    with pytest.raises(UsageError, match="config file not found: nowhere.yaml"):
        resolve_recipe("lenet", ["nowhere.yaml"])


@pytest.mark.parametrize(
    "args, size",
    [
        ([], 28),
        (["--data.image_size", "32"], 32),
        (["--model.input_size", "32"], 32),
        (["--model.input_size", "32", "--data.image_size", "32"], 32),
    ],
)
def test_image_size_alone_picks_lenets_input_size(args, size):
    from zoo.training import prepare

    cfg = resolve_recipe("lenet", overrides=args)
    datamodule, task = prepare("lenet", cfg)
    assert task.model.input_size == size and datamodule.train_set.tensors[0].shape[-1] == size


def test_contradicting_image_and_input_sizes_are_refused():
    from zoo.errors import UsageError
    from zoo.training import prepare

    with pytest.raises(UsageError, match="data.image_size 28 differs from model.input_size 32"):
        prepare("lenet", resolve_recipe("lenet", overrides=["--model.input_size", "32", "--data.image_size", "28"]))


def test_recipes_and_summaries_write_text_as_text(tmp_path):
    from zoo.config import dump_yaml, load_yaml_file

    text = dump_yaml({"data": {"name": "csv", "drop": ["Länge µm"]}})
    assert "Länge µm" in text and "\\u" not in text
    path = tmp_path / "r.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_yaml_file(path)["data"]["drop"] == ["Länge µm"]
