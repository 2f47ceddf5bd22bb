"""Hostile recipes and option values: a YAML alias bomb is refused where it stands (no expansion), and
an option typed ``dict`` or ``list`` takes plain data of bounded size only."""

from __future__ import annotations

import pytest

import zoo
from zoo.config import MOST_VALUES, plain_data

# 9 levels of 9: a few hundred bytes that stand for 9**9 (387 million) strings once expanded.
BOMB = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{x}: &{x} [{', '.join([f'*{p}'] * 9)}]\n" for p, x in zip("abcdefgh", "bcdefghi")
)


def test_a_yaml_alias_bomb_in_a_recipe_is_refused_without_expanding_it(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB + "model: {hidden: *i}\n", encoding="utf-8")
    assert len(BOMB) < 600
    with pytest.raises(zoo.UsageError, match=r"bomb.yaml line 2: not valid YAML \(aliases \(\*name\) are not allowed"):
        zoo.resolve_recipe("mlp", config=str(path))


def test_an_alias_in_one_option_value_is_refused_too():
    value = "[&a [lol, lol, lol], *a, *a]"
    with pytest.raises(zoo.UsageError, match="model.hidden expects a list of int, got"):
        zoo.resolve_recipe("mlp", overrides=["--model.hidden", value])


def test_dict_typed_options_take_plain_data_of_bounded_size():
    assert plain_data({"a": [1, 2.5, None, True, "x", {"b": []}]})
    assert not plain_data({"a": object()}) and not plain_data({1: "key not text"})
    assert not plain_data({"a": list(range(MOST_VALUES + 1))})
    deep: dict = {}
    node = deep
    for _ in range(30):
        node["n"] = {}
        node = node["n"]
    assert not plain_data(deep)
    with pytest.raises(zoo.UsageError, match=r"data.memory expects dict or None, got \{'x': <object"):
        zoo.resolve_recipe("mlp", overrides={"data.name": "arrays", "data.memory": {"x": object()}})
