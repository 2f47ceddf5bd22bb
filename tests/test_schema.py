"""The shipped option schema (zoo/schema.json): it matches the code, it answers the commands' usage
questions without importing torch, and every option refuses a wrongly typed value in one line."""

import json
import subprocess
import sys

import pytest

import zoo
from conftest import checkout_env
from zoo import schema
from zoo.config import matches

ZOO_OWNED = ("data", "task", "scheduler", "checkpoint")  # sections whose signatures are zoo's alone


def test_the_shipped_schema_is_what_the_code_says():
    fresh, shipped = schema.build(), json.loads(schema.SCHEMA_FILE.read_text())
    hint = "zoo/schema.json is stale: run python -m zoo.schema --write"
    assert shipped["models"] == fresh["models"], hint
    for section in ZOO_OWNED:
        assert shipped["sections"][section] == fresh["sections"][section], hint
    if shipped["versions"] == fresh["versions"]:
        assert shipped == fresh, hint
    else:  # other torch/Lightning versions: their signatures may differ, so the live ones answer
        schema.load.cache_clear()
        assert schema.load() is None


def resolved_both_ways(model, recipe, monkeypatch):
    """A recipe resolved from the schema, and from the live signatures."""
    monkeypatch.setattr(schema, "complete", lambda registry: schema.load())
    from_schema = zoo.resolve_recipe(model, recipe)
    monkeypatch.setattr(schema, "complete", lambda registry: None)
    monkeypatch.setattr(schema, "load", lambda: None)
    return from_schema, zoo.resolve_recipe(model, recipe)


@pytest.mark.parametrize("recipe", zoo.list_recipes())
def test_every_recipe_resolves_the_same_from_the_schema_and_from_the_code(recipe, monkeypatch):
    assert schema.load() is not None, "the schema does not match the installed torch/Lightning"
    from_schema, live = resolved_both_ways(recipe.split("_")[0], recipe, monkeypatch)
    assert from_schema == live
    assert [list(s) if isinstance(s, dict) else s for s in from_schema.values()] == [
        list(s) if isinstance(s, dict) else s for s in live.values()
    ]  # the same order of keys, so config.yaml reads the same


PROBE = """
import sys, zoo.train
code = zoo.train.main(sys.argv[1:])
print("exit", code, "torch imported:", "torch" in sys.modules, "lightning imported:", "lightning" in sys.modules)
"""


@pytest.mark.parametrize(
    "args, code",
    [
        (["--help"], 0),
        (["lenet", "--print_config"], 0),
        (["lenet", "--data.batch_sise", "3"], 2),
        (["lenett"], 2),
        (["mlp", "--optimizer.lr", "fast"], 2),
        (["mlp", "--data.name", "cifar"], 2),
        ([], 2),
    ],
)
def test_help_print_config_and_usage_errors_answer_without_importing_torch(args, code, tmp_path):
    """What makes them answer in well under 2 s (python -m zoo.train ... takes ~0.4 s here): nothing
    imports torch, torchmetrics or Lightning (~10 s on 2 cores) before they answer."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=tmp_path,
        env=checkout_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.splitlines()[-1] == f"exit {code} torch imported: False lightning imported: False", (
        result.stdout[-2000:] + result.stderr[-2000:]
    )
    if code:
        assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("zoo.train: error: ")


WRONG = ["notanumber", "[1, 2]", "{a: 1}", "3.5", "true"]


def wrongly_typed_cases():
    """(model, section, choice, option, value): every option of every section and choice, with the first
    of WRONG that its type refuses (options that take anything are left out)."""
    from zoo.config import parse_scalar

    shipped = json.loads(schema.SCHEMA_FILE.read_text())
    tables = [("lenet", "model", None, shipped["models"]["lenet"]["params"])]
    tables += [(m, "model", None, e["params"]) for m, e in shipped["models"].items() if m != "lenet"]
    for section, choices in shipped["sections"].items():
        if section in schema.NAMED:
            tables += [("mlp", section, choice, table) for choice, table in choices.items()]
        else:
            tables.append(("mlp", section, None, choices))
    for model, section, choice, table in tables:
        for option, entry in table.items():
            annotation = schema.decode(entry["type"])
            wrong = next(
                (w for w in WRONG if not matches(parse_scalar(w), annotation) and not matches(w, annotation)), None
            )
            if wrong is not None:
                yield model, section, choice, option, wrong


def test_every_option_refuses_a_wrongly_typed_value_in_one_line(cli):
    cases = list(wrongly_typed_cases())
    assert len(cases) > 150  # every section's options, not a few
    for model, section, choice, option, value in cases:
        args = [model] + ([f"--{section}.name", choice] if choice else []) + [f"--{section}.{option}", value]
        if section == "task" and choice != "classification":  # (only mlp's recipe's task is classification)
            args[0] = {"language_model": "lstm", "skipgram": "word2vec"}[choice]
        status, out, err = cli(*args, "--print_config")
        lines = err.strip().splitlines()
        assert status == 2 and len(lines) == 1 and f"--{section}.{option} expects" in lines[0], (args, err)
