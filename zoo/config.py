"""Recipes: YAML files, ``--section.key value`` overrides, and checking every key and value.

A recipe has sections (``model``, ``data``, ``trainer``, ...). Each section is the keyword arguments of
one constructor, so the constructor's own signature is the schema: an unknown key or a value of the
wrong type is found here, before any work starts, and reported as one line that names the option.
"""

from __future__ import annotations

import collections.abc
import copy
import difflib
import functools
import inspect
import re
import types
import typing
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from zoo.errors import UsageError, option

# --- YAML ----------------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads ``1e-3`` as a float (YAML 1.1 insists on ``1.0e-3``), and refuses aliases.

    A recipe is plain data, written out: an alias (``*name``) re-uses a node, and nested aliases make a
    few hundred bytes stand for billions of values (the "billion laughs"), which copying or checking the
    recipe would then build. So an alias is refused where the file has it."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in a recipe: write the value out", mark
            )
        return super().compose_node(parent, index)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def parse_yaml(text: str, source: str = "<text>") -> Any:
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise UsageError(f"{source}{where}: not valid YAML ({getattr(err, 'problem', err)})") from None


def load_yaml_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"cannot read config file {path}: {err}") from None
    return copy.deepcopy(_parse_recipe(text, str(path)))


@functools.lru_cache(maxsize=64)
def _parse_recipe(text: str, source: str) -> dict[str, Any]:
    """A recipe file's text parsed once (PyYAML's pure-Python parser takes milliseconds; the Playground's
    page resolves the same recipe at every change). Callers get a copy."""
    data = parse_yaml(text, source) or {}
    if not isinstance(data, dict):
        raise UsageError(f"{source}: a config file must be a mapping of sections, got {type(data).__name__}")
    return data


def dump_yaml(cfg: dict[str, Any]) -> str:
    """A recipe as YAML, keys in their order, text as text (``µm``, not ``\\u00b5m``)."""
    return yaml.safe_dump(cfg, sort_keys=False, default_flow_style=False, width=100, allow_unicode=True)


# --- types -------------------------------------------------------------------------------------


def matches(value: Any, annotation: Any) -> bool:
    """Whether ``value`` (from YAML or the command line) fits a type annotation.

    Only the shapes that appear in constructor signatures are understood; a class must be the value's
    own (a recipe cannot hold a ``Tensor``), and anything more exotic (a Callable) accepts the value
    and leaves the check to the callee.
    """
    if annotation in (inspect.Parameter.empty, Any):
        return True
    if annotation is None or annotation is type(None):
        return value is None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (Union, types.UnionType):
        return any(matches(value, a) for a in args)
    if origin is Literal:
        return any(value == a and type(value) is type(a) for a in args)
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if origin in (list, tuple, collections.abc.Sequence, collections.abc.Iterable):
        if not isinstance(value, (list, tuple)):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(matches(v, a) for v, a in zip(value, args))
        return not args or all(matches(v, args[0]) for v in value)
    if origin in (dict, collections.abc.Mapping) or annotation is dict:
        return isinstance(value, dict) and plain_data(value)
    if annotation is list:
        return isinstance(value, (list, tuple)) and plain_data(value)
    if inspect.isclass(annotation):
        # A value from YAML or the command line is never an instance of a class such as torch.Tensor or
        # Lightning's Accelerator, so "float | Tensor" takes floats only (and "fast" is refused here,
        # not by torch with a traceback).
        return isinstance(value, annotation) or (annotation is Path and isinstance(value, str))
    return True


#: how large a dict- or list-typed option's value may be: its values' count, and its nesting
MOST_VALUES, MOST_DEPTH = 100_000, 20


def plain_data(value: Any) -> bool:
    """Whether ``value`` is plain data a recipe can hold (text keys; text, numbers, booleans, None, lists
    and dicts of them), of at most ``MOST_VALUES`` values nested at most ``MOST_DEPTH`` deep: an option
    typed ``dict`` or ``list`` takes what its constructor can use, not any object or any size."""
    count, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        count += 1
        if count > MOST_VALUES or depth > MOST_DEPTH:
            return False
        if isinstance(item, dict):
            if not all(isinstance(k, str) for k in item):
                return False
            stack += [(v, depth + 1) for v in item.values()]
        elif isinstance(item, (list, tuple)):
            stack += [(v, depth + 1) for v in item]
        elif not (item is None or isinstance(item, (str, int, float, bool))):
            return False
    return True


def describe(annotation: Any) -> str:
    """A short human name for a type annotation: ``int``, ``float or None``, ``one of 'max', 'avg'``."""
    if annotation is None or annotation is type(None):
        return "None"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (Union, types.UnionType):
        return " or ".join(dict.fromkeys(describe(a) for a in args))
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (list, tuple, collections.abc.Sequence):
        return f"a list of {describe(args[0])}" if args else "a list"
    return getattr(annotation, "__name__", str(annotation))


def parse_scalar(raw: str) -> Any:
    """A command-line value as YAML would read it: ``3`` -> 3, ``[64,32]`` -> [64, 32], ``true`` -> True."""
    try:
        return yaml.load(raw, Loader=_Loader)
    except yaml.YAMLError:
        return raw


def coerce_text(raw: str, annotation: Any, name: str) -> Any:
    """Read a command-line string as the type the option ``name`` wants, or say what it wanted."""
    parsed = parse_scalar(raw)
    if matches(parsed, annotation):
        return parsed
    if matches(raw, annotation):  # e.g. a column named "1" for a str option
        return raw
    raise UsageError(f"{name} expects {describe(annotation)}, got {raw!r}")


# --- signatures ---------------------------------------------------------------------------------


def accepted_params(fn: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    """Keyword parameters of a function or class; for a class whose ``__init__`` forwards ``**kwargs``
    to its base, the base's parameters too. Annotations are resolved to real types.

    Remembered per function or class (a signature does not change; a class defined again is another
    object): resolving a recipe asks for some 25 of them, and reading them took two thirds of its time,
    which the Playground's page pays at every change."""
    return dict(_accepted_params(fn))


@functools.lru_cache(maxsize=512)
def _accepted_params(fn: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    owners = [c for c in fn.__mro__ if "__init__" in vars(c)] if inspect.isclass(fn) else [fn]
    params: dict[str, inspect.Parameter] = {}
    for owner in owners:
        func = owner.__init__ if inspect.isclass(owner) else owner
        if func is object.__init__:
            break
        try:
            hints = typing.get_type_hints(func)
        except Exception:  # unresolvable forward references: fall back to unchecked values
            hints = {}
        forwards = False
        for name, p in inspect.signature(func).parameters.items():
            if p.kind is p.VAR_KEYWORD:
                forwards = True
            elif name != "self" and p.kind is not p.VAR_POSITIONAL and name not in params:
                params[name] = p.replace(annotation=hints.get(name, p.annotation))
        if not forwards:
            break
    return params


def unknown_key_message(where: str, key: str, valid: list[str], prefix: str = "") -> str:
    close = difflib.get_close_matches(key, valid, n=3)
    hint = f"; did you mean {' or '.join(prefix + c for c in close)}?" if close else ""
    return f"{where} has no option {prefix}{key}{hint} (valid: {', '.join(sorted(valid))})"


def check_kwargs(
    fn: Callable[..., Any], kwargs: dict[str, Any], where: str, prefix: str = "", complete: bool = True
) -> dict[str, Any]:
    """Check names and types of ``kwargs`` against ``fn``'s signature; raise one clear UsageError.
    ``complete=False`` allows required arguments to be missing (they are filled in later)."""
    return check_values(accepted_params(fn), kwargs, where, prefix, complete)


def check_values(
    params: dict[str, inspect.Parameter], values: dict[str, Any], where: str, prefix: str = "", complete: bool = True
) -> dict[str, Any]:
    for key, value in values.items():
        if key not in params:
            raise UsageError(unknown_key_message(where, key, list(params), prefix))
        annotation = params[key].annotation
        if not matches(value, annotation):
            raise UsageError(f"{prefix}{key} expects {describe(annotation)}, got {value!r}")
    missing = [k for k, p in params.items() if p.default is p.empty and k not in values]
    if complete and missing:
        raise UsageError(f"{where} needs {', '.join(prefix + m for m in missing)}")
    return values


# --- layering ----------------------------------------------------------------------------------


def parse_overrides(args: list[str], scalars: Collection[str] = ()) -> list[tuple[str, str, str]]:
    """``["--data.batch_size", "64", "--trainer.max_epochs=3"]`` -> [(section, key, raw text), ...]; a
    top-level option named in ``scalars`` (``--seed_everything 1``) -> ``(name, "", raw text)``."""
    out = []
    i = 0
    while i < len(args):
        arg = args[i]
        name = arg[2:].split("=", 1)[0]
        if arg.startswith("--") and name in scalars:
            value = arg.partition("=")[2] if "=" in arg else (args[i + 1] if i + 1 < len(args) else None)
            if value is None:
                raise UsageError(f"option --{name} needs a value")
            out.append((name, "", value))
            i += 1 if "=" in arg else 2
            continue
        if not arg.startswith("--") or "." not in arg.split("=", 1)[0]:
            raise UsageError(f"unexpected argument {arg!r}: options look like --section.key VALUE")
        name, eq, value = arg[2:].partition("=")
        if not eq:
            if i + 1 >= len(args):
                raise UsageError(f"option --{name} needs a value")
            value = args[i + 1]
            i += 1
        section, _, key = name.partition(".")
        if not key or "." in key:
            raise UsageError(f"option --{name} should be --section.key (e.g. --data.batch_size 64)")
        out.append((section, key, value))
        i += 1
    return out


def deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


# --- resolving a whole recipe --------------------------------------------------------------------


class Section(typing.NamedTuple):
    """How to check one section of a recipe.

    ``lookup(name)`` returns the constructor whose signature is the schema. A named section (data,
    optimizer, ...) picks its constructor with a ``name`` key; an unnamed one (model, trainer) has one.
    ``skip`` lists parameters that zoo sets itself and a recipe may not.
    """

    lookup: Callable[[str | None], Callable[..., Any]]
    named: bool = True
    skip: tuple[str, ...] = ()
    extra: dict[str, tuple[Any, Any]] = {}  # options zoo adds to every choice: name -> (type, default)

    def params(self, name: str | None) -> dict[str, inspect.Parameter]:
        params = {k: p for k, p in accepted_params(self.lookup(name)).items() if k not in self.skip}
        for key, (annotation, default) in self.extra.items():
            params[key] = inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
        return params


def resolve(
    layers: list[tuple[str, dict[str, Any]]],
    overrides: list[tuple[str, str, Any]],
    sections: dict[str, Section],
    scalars: dict[str, Any],
) -> dict[str, Any]:
    """Merge recipe layers (defaults first, each ``(source, mapping)``) and overrides ``(section, key,
    value)`` (a string value is read as the command line reads it), then check every key and value.
    ``scalars`` are top-level keys with a plain type (``seed_everything``). Tuples become lists, so a
    resolved recipe equals itself read back from YAML.

    Changing a section's ``name`` (``--data.name mnist``) keeps only the keys the new choice accepts,
    so a recipe's defaults for one data set do not leak into another; keys given in the same layer
    are kept and checked.
    """
    cfg: dict[str, Any] = {}
    for source, layer in layers:
        for key, value in layer.items():
            if key in scalars:
                cfg[key] = value
            elif key in sections:
                if not isinstance(value, dict):
                    raise UsageError(f"{source}: section {key!r} must be a mapping, got {value!r}")
                cfg[key] = _merge_section(sections[key], key, cfg.get(key, {}), value)
            else:
                raise UsageError(f"{source}: " + unknown_key_message("a recipe", key, [*sections, *scalars]))

    # Names first, so that every other override is read with the type its chosen constructor wants.
    for section, key, raw in sorted(overrides, key=lambda o: o[1] != "name"):
        if not key and section in scalars:  # a top-level option (seed_everything)
            name = option(section)
            cfg[section] = coerce_text(raw, scalars[section], name) if isinstance(raw, str) else raw
            continue
        name = option(f"{section}.{key}")
        if section not in sections:
            close = difflib.get_close_matches(section, list(sections), n=1)
            hint = f"; did you mean {option(f'{close[0]}.{key}')}?" if close else ""
            valid = ", ".join(option(f"{s}.*") for s in sections)
            raise UsageError(f"unknown option {name}{hint} (valid sections: {valid})")
        spec = sections[section]
        current = cfg.setdefault(section, {})
        if key == "name" and spec.named:
            cfg[section] = _merge_section(spec, section, current, {"name": raw})
            continue
        params = spec.params(current.get("name"))
        if key not in params:
            where = f"{section} {current['name']!r}" if spec.named else section
            raise UsageError(unknown_key_message(where, key, list(params), prefix=option(section) + "."))
        annotation = params[key].annotation
        if isinstance(raw, str):  # the command line's text, read as the option's type
            current[key] = coerce_text(raw, annotation, name)
        elif matches(raw, annotation):
            current[key] = raw
        else:
            raise UsageError(f"{name} expects {describe(annotation)}, got {raw!r}")

    for section, spec in sections.items():
        values = dict(cfg.setdefault(section, {}))
        name = values.pop("name", None) if spec.named else None
        if spec.named and name is None:
            raise UsageError(f"section {section!r} needs a name")
        where = f"{section} {name!r}" if spec.named else section
        params = spec.params(name)
        check_values(params, values, where, prefix=f"{section}.", complete=False)
        # The resolved recipe lists every option with its value, defaults included, so the copy saved
        # in a run directory shows all the knobs and reproduces the run by itself.
        defaults = {k: p.default for k, p in params.items() if p.default is not p.empty}
        cfg[section] = plain(({"name": name} if spec.named else {}) | defaults | values)
    for key, annotation in scalars.items():
        if key in cfg and not matches(cfg[key], annotation):
            raise UsageError(f"{key} expects {describe(annotation)}, got {cfg[key]!r}")
    return {key: cfg[key] for key in [*sections, *scalars] if key in cfg}


def plain(value: Any) -> Any:
    """Tuples as lists, all the way down: what YAML gives back, so a saved recipe compares equal."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def _merge_section(spec: Section, section: str, current: dict[str, Any], layer: dict[str, Any]) -> dict[str, Any]:
    new_name = layer.get("name")
    if spec.named and new_name is not None and new_name != current.get("name"):
        if not isinstance(new_name, str):
            raise UsageError(f"{section}.name expects a string, got {new_name!r}")
        accepted = spec.params(new_name)  # raises, listing the known names, if new_name is unknown
        current = {k: v for k, v in current.items() if k in accepted}
    return {**current, **layer}
