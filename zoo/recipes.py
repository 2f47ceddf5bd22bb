"""Recipes: every option of a run, in layers, resolved and checked before any work starts.

Layers, later ones winning:

1. the model's shipped recipe, ``configs/MODEL.yaml``; a model without one (a model you registered)
   starts from the task and data set it declared (``@zoo.register_model("x", task=..., data=...)``)
   and ``BASE`` below;
2. each config: a YAML file, a shipped recipe's name, or a dict of sections;
3. overrides: ``--section.key VALUE`` strings (the command line) or a ``{"section.key": value}`` dict.

Sections: model, data, task, optimizer, scheduler, trainer, early_stopping, checkpoint; and three
top-level keys, ``seed_everything``, ``threads`` (torch's CPU threads; null, the default, is zoo's
choice: ``zoo.training.choose_threads``) and ``imports`` (modules or ``.py`` files to import first:
they register your own models, data sets or tasks). Each section's keys are the arguments of one
constructor, so the constructor's signature is the schema (``zoo/config.py`` checks them).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from zoo import schema
from zoo.config import load_yaml_file, parse_overrides, resolve
from zoo.errors import UsageError

SCALARS = {"seed_everything": int, "threads": int | None, "imports": list[str]}
# (imports are not an override: they must be imported before the recipe is read; give ``imports=``)
OVERRIDABLE_SCALARS = ("seed_everything", "threads")

# Where a model without a shipped recipe starts (its task and data set come from its registration).
BASE: dict[str, Any] = {
    "optimizer": {"name": "adam", "lr": 1e-3},
    "scheduler": {"name": "constant"},
    "trainer": {"max_epochs": 10},
    "seed_everything": 0,
}

Config = str | Path | Mapping[str, Any]


def recipe_dir() -> Path:
    """Shipped recipes: ``zoo/configs`` inside an installed wheel, the top-level ``configs/`` in a checkout."""
    package = Path(__file__).resolve().parent
    return package / "configs" if (package / "configs").is_dir() else package.parent / "configs"


def list_recipes() -> list[str]:
    return sorted(p.stem for p in recipe_dir().glob("*.yaml"))


def load_recipe(name_or_path: str | Path) -> tuple[str, dict[str, Any]]:
    """``(source, mapping)`` of a YAML file, or of a shipped recipe named without ``.yaml``."""
    path = Path(name_or_path)
    if not path.is_file() and (recipe_dir() / f"{name_or_path}.yaml").is_file():
        path = recipe_dir() / f"{name_or_path}.yaml"
    if not path.is_file():
        raise UsageError(f"config file not found: {name_or_path} (shipped recipes: {', '.join(list_recipes())})")
    return str(path), load_yaml_file(path)


def import_user_code(names: Sequence[str]) -> None:
    """Import modules (``my_models``) or files (``my_models.py``) that register models, data sets or tasks."""
    for name in names:
        if not isinstance(name, str) or not name:
            raise UsageError(f"imports: expected a module name or a .py file, got {name!r}")
        if name.endswith(".py"):
            path = Path(name).expanduser().resolve()
            if not path.is_file():
                raise UsageError(f"imports: no such file: {name}")
            module_name = f"zoo_user_{path.stem}"
            loaded = sys.modules.get(module_name)
            if loaded is not None and Path(getattr(loaded, "__file__", "")).resolve() == path:
                continue  # imported once already: its registrations stand
            spec = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[module_name]
                raise
        else:
            try:
                importlib.import_module(name)
            except ModuleNotFoundError as err:
                if err.name and name.startswith(err.name):
                    raise UsageError(
                        f"imports: cannot import {name!r} ({err}); give a module on sys.path or a .py file"
                    ) from None
                raise


def config_layers(config: Config | Sequence[Config] | None) -> list[tuple[str, dict[str, Any]]]:
    if config is None:
        return []
    if isinstance(config, (str, Path, Mapping)):
        config = [config]
    layers = []
    for i, item in enumerate(config):
        if isinstance(item, Mapping):
            layers.append((f"config #{i + 1}", dict(item)))
        elif isinstance(item, (str, Path)):
            layers.append(load_recipe(item))
        else:
            raise UsageError(f"config: expected a file, a recipe name or a dict, got {type(item).__name__}")
    return layers


def override_triples(overrides: Mapping[str, Any] | Sequence[str] | None) -> list[tuple[str, str, Any]]:
    """``["--data.batch_size", "64"]`` or ``{"data.batch_size": 64}`` -> ``[("data", "batch_size", value)]``;
    a top-level option (``{"seed_everything": 1}``) -> ``("seed_everything", "", 1)``. Strings are read
    as the command line reads them; other values must already have the option's type."""
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        out = []
        for dotted, value in overrides.items():
            section, _, key = str(dotted).removeprefix("--").partition(".")
            if section in OVERRIDABLE_SCALARS and not key:
                out.append((section, "", value))
                continue
            if not key or "." in key:
                raise UsageError(
                    f"override {dotted!r} should be 'section.key' (e.g. 'data.batch_size') or one of: "
                    + ", ".join(OVERRIDABLE_SCALARS)
                )
            out.append((section, key, value))
        return out
    if isinstance(overrides, str):
        raise UsageError("overrides: give a list of '--section.key VALUE' strings or a dict, not one string")
    return parse_overrides(list(overrides), scalars=OVERRIDABLE_SCALARS)


def resolve_recipe(
    model: str,
    config: Config | Sequence[Config] | None = None,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
    imports: Sequence[str] = (),
) -> dict[str, Any]:
    """The complete, checked recipe for training ``model``: every section with every option and its
    value, defaults included (what a run saves as ``config.yaml``). Raises a UsageError naming the
    first wrong option."""
    layers, triples = config_layers(config), override_triples(overrides)
    wanted = [*imports, *(name for _, layer in layers for name in (layer.get("imports") or []))]
    import_user_code(wanted)
    declared = schema.model_meta(model)  # an unknown model fails here, listing the known ones
    recipe = recipe_dir() / f"{model}.yaml"
    if recipe.is_file():
        base = [(str(recipe), load_yaml_file(recipe))]
    else:
        given = {
            s: layer[s].get("name") for _, layer in layers for s in ("task", "data") if isinstance(layer.get(s), dict)
        }
        given |= {s: v for s, k, v in triples if s in ("task", "data") and k == "name"}
        task, data = given.get("task") or declared.get("task"), given.get("data") or declared.get("data")
        if task is None or data is None:
            raise UsageError(
                f"model {model!r} has no shipped recipe and declares no task or data set: register it with "
                f"@zoo.register_model({model!r}, task=..., data=...) or give a config with task.name and data.name"
            )
        base = [("defaults", {**BASE, "task": {"name": task}, "data": {"name": data}})]
    cfg = resolve(base + layers, triples, schema.sections(model), SCALARS)
    if cfg.get("threads") is not None and cfg["threads"] < 1:
        raise UsageError(f"threads expects a whole number of at least 1 or null (zoo's choice), got {cfg['threads']}")
    if wanted:
        cfg["imports"] = list(dict.fromkeys(wanted))
    return cfg
