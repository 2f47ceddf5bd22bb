"""Every recipe option zoo ships, as data: the schema the commands check options against before they
import torch or Lightning.

A recipe's schema is the constructors' own signatures (``zoo/config.py``), but reading a signature
means importing its class, and importing torch, torchmetrics and Lightning takes ~10 s on a 2-core
machine: too long to wait for "unknown option". So ``zoo/schema.json`` (shipped in the package) holds
every section's choices with their options' types and defaults, written by ``python -m zoo.schema
--write`` from the live signatures; ``tests/test_schema.py`` rebuilds it and fails when it differs,
so it cannot drift from the code.

The schema answers only where it is complete: while a registry has not been imported in this process
(nothing of yours is registered in it yet), and while the installed torch, Lightning and torchmetrics
are the versions it was written with (their signatures are part of it). Otherwise the live
signatures answer, as before.
"""

from __future__ import annotations

import collections.abc
import functools
import importlib.metadata
import inspect
import json
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

from zoo.config import Section
from zoo.errors import UsageError
from zoo.registry import DATASETS, MODELS, OPTIMIZERS, SCHEDULERS, TASKS, Registry, unknown_name_message

SCHEMA_FILE = Path(__file__).with_name("schema.json")
# Whose signatures the schema holds besides zoo's own: another installed version means other options.
DEPENDENCIES = ("torch", "lightning", "torchmetrics")
# Named sections and the registry that holds their choices; the unnamed ones have one constructor.
NAMED = {"data": DATASETS, "task": TASKS, "optimizer": OPTIMIZERS, "scheduler": SCHEDULERS}
UNNAMED = ("trainer", "early_stopping", "checkpoint")


# Trainer arguments zoo sets itself: every run has its own callbacks, checkpoint I/O and data sharding.
TRAINER_MANAGED = (
    "callbacks",
    "logger",
    "plugins",
    "use_distributed_sampler",
    "enable_checkpointing",
    "barebones",
    "model_registry",
)

# zoo always writes metrics.csv; "tensorboard" adds TensorBoard's event files beside it (zoo[tensorboard]).
TRAINER_OPTIONS = {"logger": (Literal["csv", "tensorboard"], "csv")}

# Early stopping is off unless enabled; it watches the task's metric (val_loss) unless told otherwise,
# and "best" then means best by that metric. The final validation and test use the best weights
# (Keras' restore_best_weights=True) unless restore_best is false, when they use the last ones.
EARLY_STOPPING_OPTIONS = {
    "enabled": (bool, False),
    "monitor": (str | None, None),
    "mode": (Literal["min", "max"] | None, None),
    "restore_best": (bool, True),
}


def live_sections(model_name: str) -> dict[str, Section]:
    """The sections of a recipe from the live signatures (imports torch and Lightning)."""
    import lightning as L
    from lightning.pytorch.callbacks import EarlyStopping

    from zoo.callbacks import PeriodicCheckpoint
    from zoo.data import DATASETS, DESCRIBED
    from zoo.optim import COMMON_OPTIMIZER_OPTIONS, IMPLEMENTATION_OPTIONS, OPTIMIZERS, SCHEDULERS
    from zoo.tasks import TASKS, task_managed

    return {
        # Sizes the data decides (classes, channels, vocabulary) are not model options in a recipe.
        "model": Section(lambda _: MODELS.get(model_name), named=False, skip=DESCRIBED),
        "data": Section(DATASETS.get),
        "task": Section(TASKS.get, skip=task_managed()),
        "optimizer": Section(OPTIMIZERS.get, skip=IMPLEMENTATION_OPTIONS, extra=COMMON_OPTIMIZER_OPTIONS),
        "scheduler": Section(SCHEDULERS.get),
        "trainer": Section(lambda _: L.Trainer, named=False, skip=TRAINER_MANAGED, extra=TRAINER_OPTIONS),
        "early_stopping": Section(
            lambda _: EarlyStopping, named=False, skip=("monitor", "mode"), extra=EARLY_STOPPING_OPTIONS
        ),
        "checkpoint": Section(lambda _: PeriodicCheckpoint, named=False),
    }


# --- annotations as JSON --------------------------------------------------------------------------


def encode(annotation: Any) -> Any:
    """A type annotation as JSON: "int", {"union": [...]}, {"literal": [...]}, {"list": T}, {"class":
    "Tensor"}, ...; what zoo's checker does not look into (a callable, Any) is "any"."""
    if annotation in (inspect.Parameter.empty, Any):
        return "any"
    if annotation is None or annotation is type(None):
        return "None"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (Union, types.UnionType):
        return {"union": [encode(a) for a in args]}
    if origin is Literal:
        return {"literal": list(args)}
    if annotation in (bool, int, float, str):
        return annotation.__name__
    if annotation is Path:
        return "path"
    if origin is tuple and args and args[-1] is not Ellipsis:
        return {"tuple": [encode(a) for a in args]}
    if origin in (list, tuple, collections.abc.Sequence, collections.abc.Iterable) or annotation in (list, tuple):
        return {"list": encode(args[0]) if args else "any"}
    if origin in (dict, collections.abc.Mapping) or annotation is dict:
        return "dict"
    if inspect.isclass(annotation):
        return {"class": annotation.__name__}  # (a recipe's values are never instances of it)
    return "any"


def decode(node: Any) -> Any:
    """The annotation ``encode`` wrote, as a typing object ``config.matches`` and ``describe`` read."""
    if isinstance(node, str):
        return {
            "any": Any,
            "None": type(None),
            "bool": bool,
            "int": int,
            "float": float,
            "str": str,
            "path": Path,
            "dict": dict,
        }[node]
    if "union" in node:
        return Union[tuple(decode(a) for a in node["union"])]  # noqa: UP007 (built from a list)
    if "literal" in node:
        return Literal[tuple(node["literal"])]
    if "tuple" in node:
        return tuple[tuple(decode(a) for a in node["tuple"])]
    if "class" in node:
        return _stand_in(node["class"])
    return list[decode(node["list"])]


@functools.cache
def _stand_in(name: str) -> type:
    """A class named like the real one (for messages) that no recipe value is an instance of."""
    return type(name, (), {})


def encode_params(params: dict[str, inspect.Parameter]) -> dict[str, Any]:
    out = {}
    for name, p in params.items():
        entry = {"type": encode(p.annotation)}
        if p.default is not p.empty:
            entry["default"] = _plain(p.default, name)
        out[name] = entry
    return out


def decode_params(table: dict[str, Any]) -> dict[str, inspect.Parameter]:
    return {
        name: inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            annotation=decode(entry["type"]),
            default=entry.get("default", inspect.Parameter.empty),
        )
        for name, entry in table.items()
    }


def _plain(value: Any, name: str) -> Any:
    if isinstance(value, (list, tuple)):
        return [_plain(v, name) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"option {name}'s default {value!r} cannot go into the schema")


# --- writing it from the live signatures ------------------------------------------------------------


def build() -> dict[str, Any]:
    """The schema, from the signatures of everything registered (imports torch and Lightning)."""
    models = {}
    for name in MODELS.names():
        models[name] = {"meta": MODELS.meta(name), "params": encode_params(live_sections(name)["model"].params(None))}
    any_model = MODELS.names()[0]
    live = live_sections(any_model)
    sections: dict[str, Any] = {}
    for section, registry in NAMED.items():
        sections[section] = {name: encode_params(live[section].params(name)) for name in registry.names()}
    for section in UNNAMED:
        sections[section] = encode_params(live[section].params(None))
    return {"versions": installed_versions(), "models": models, "sections": sections}


def installed_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for package in DEPENDENCIES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return versions


@functools.cache
def load() -> dict[str, Any] | None:
    """The shipped schema, or None where it would not be the truth (other dependency versions, no file)."""
    try:
        schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return schema if schema.get("versions") == installed_versions() else None


# --- answering from it ------------------------------------------------------------------------------


class CatalogSection:
    """A recipe section (``config.Section``'s interface: ``named``, ``params(choice)``) answered by the
    schema where it can, by the live signatures where it cannot."""

    def __init__(self, name: str, named: bool, from_schema, live):
        self.name, self.named, self._from_schema, self._live = name, named, from_schema, live

    def params(self, choice: str | None) -> dict[str, inspect.Parameter]:
        answer = self._from_schema(choice)
        return answer if answer is not None else self._live()[self.name].params(choice)


def complete(registry: Registry) -> dict[str, Any] | None:
    """The schema, if it knows everything ``registry`` holds: no one has imported the registry's package
    in this process (a registration of yours imports it first) and the versions match."""
    return None if registry.loaded else load()


def names(registry: Registry, section: str | None = None) -> list[str]:
    """Registered names, without importing the registry's package where the schema can tell."""
    schema = complete(registry)
    if schema is None:
        return registry.names()
    return sorted(schema["models"]) if registry is MODELS else sorted(schema["sections"][section])


def model_meta(model: str) -> dict[str, Any]:
    """What a model declared at registration (its task and data set); unknown models raise, listing."""
    schema = complete(MODELS)
    if schema is None:
        return MODELS.meta(model)
    if model not in schema["models"]:
        raise UsageError(unknown_name_message(MODELS.kind, model, sorted(schema["models"])))
    return dict(schema["models"][model]["meta"])


def sections(model: str) -> dict[str, Section | CatalogSection]:
    """The sections of ``model``'s recipe, for ``config.resolve``."""
    live = functools.cache(lambda: live_sections(model))

    def model_params(_: str | None):
        schema = complete(MODELS)
        return (
            None
            if schema is None or model not in schema["models"]
            else decode_params(schema["models"][model]["params"])
        )

    def named(section: str, registry: Registry):
        def params(choice: str | None):
            schema = complete(registry)
            if schema is None:
                return None
            table = schema["sections"][section]
            if choice not in table:
                raise UsageError(unknown_name_message(registry.kind, choice, sorted(table)))
            return decode_params(table[choice])

        return params

    def unnamed(section: str):
        def params(_: str | None):
            schema = load()
            return None if schema is None else decode_params(schema["sections"][section])

        return params

    out: dict[str, Any] = {"model": CatalogSection("model", False, model_params, live)}
    out |= {s: CatalogSection(s, True, named(s, r), live) for s, r in NAMED.items()}
    out |= {s: CatalogSection(s, False, unnamed(s), live) for s in UNNAMED}
    order = ("model", "data", "task", "optimizer", "scheduler", "trainer", "early_stopping", "checkpoint")
    return {s: out[s] for s in order}


def main(argv: list[str] | None = None) -> int:
    """``python -m zoo.schema --write`` rewrites zoo/schema.json; ``--check`` says whether it is current."""
    argv = sys.argv[1:] if argv is None else argv
    fresh = build()
    if "--write" in argv:
        SCHEMA_FILE.write_text(json.dumps(fresh, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {SCHEMA_FILE}")
        return 0
    current = json.loads(SCHEMA_FILE.read_text(encoding="utf-8")) if SCHEMA_FILE.exists() else None
    if current == fresh:
        print(f"{SCHEMA_FILE} is current")
        return 0
    print(f"{SCHEMA_FILE} is stale: run python -m zoo.schema --write", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
