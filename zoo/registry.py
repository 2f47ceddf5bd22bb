"""Name -> constructor tables for models, data sets, tasks, optimizers and schedules
(torchvision's ``get_model``/``list_models``, timm's registry).

Things register where they are defined (``@register_model("lenet")`` above the class), so adding one
is one file. A table imports its package the first time it is read, which registers what zoo ships;
until then ``import zoo`` stays light. Unknown names and duplicates fail the same way in every table:
one line listing what exists.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from zoo.errors import UsageError

T = TypeVar("T", bound=Callable[..., Any])


class Registry:
    def __init__(self, kind: str, package: str | None = None):
        self.kind = kind
        self.package = package  # imported before the first lookup: it registers the built-in entries
        self._loaded = package is None
        self._entries: dict[str, Callable[..., Any]] = {}
        self._meta: dict[str, dict[str, Any]] = {}

    @property
    def loaded(self) -> bool:
        """Whether the package of built-in entries has been imported (and so anything of a user's too)."""
        return self._loaded

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True  # (set first: the package's modules register while it imports)
            try:
                importlib.import_module(self.package)
            except BaseException:
                self._loaded = False
                raise

    def _is_builtin(self, builder: Any) -> bool:
        """Whether ``builder`` is defined in the package of built-in entries (``zoo.data`` for the
        registry that imports ``zoo.data.registered``)."""
        if self.package is None:
            return False
        home = self.package.removesuffix(".registered")
        module = getattr(builder, "__module__", "") or ""
        return module == home or module.startswith(home + ".")

    def register(self, name: str, **meta: Any) -> Callable[[T], T]:
        """Decorator: ``@MODELS.register("lenet", task="classification")`` on a class or a builder
        function; ``meta`` is kept beside it (``meta(name)``)."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {self.kind} name must be a non-empty string, got {name!r}")

        def add(builder: T) -> T:
            # A user's entry named like a built-in one must be found to be a duplicate: the built-in
            # entries are loaded first. (Not for a built-in entry itself: its module is being imported,
            # and loading the others now could import one that needs it, half made.)
            if not self._is_builtin(builder):
                self._load()
            taken = self._entries.get(name)
            # The same definition run again (a notebook cell re-run, a module reloaded) replaces itself.
            if taken is not None and _where(taken) != _where(builder):
                raise ValueError(f"{self.kind} {name!r} is already registered (by {_where(taken)})")
            self._entries[name] = builder
            self._meta[name] = dict(meta)
            return builder

        return add

    def unregister(self, name: str) -> None:
        """Remove ``name`` (a model you registered and no longer want listed)."""
        self.get(name)
        del self._entries[name], self._meta[name]

    def get(self, name: str) -> Callable[..., Any]:
        self._load()
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise UsageError(unknown_name_message(self.kind, name, self.names())) from None

    def meta(self, name: str) -> dict[str, Any]:
        self.get(name)
        return dict(self._meta[name])

    def names(self) -> list[str]:
        self._load()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def _where(builder: Any) -> str:
    return f"{getattr(builder, '__module__', '?')}.{getattr(builder, '__qualname__', repr(builder))}"


def unknown_name_message(kind: str, name: object, known: list[str]) -> str:
    close = difflib.get_close_matches(str(name), known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown {kind} {name!r}{hint} (known: {', '.join(known)})"


MODELS = Registry("model", "zoo.models")
DATASETS = Registry("data set", "zoo.data.registered")
TASKS = Registry("task", "zoo.tasks")
OPTIMIZERS = Registry("optimizer", "zoo.optim")
SCHEDULERS = Registry("scheduler", "zoo.optim")


def register_model(name: str, *, task: str | None = None, data: str | None = None) -> Callable[[T], T]:
    """Register an ``nn.Module`` class (or a function returning one) under ``name``.

    ``task`` and ``data`` name the task and data set it trains with when no recipe says otherwise,
    so that ``zoo.fit(name)`` and ``python -m zoo.train NAME`` work without a shipped recipe.
    """
    return MODELS.register(name, task=task, data=data)


def register_dataset(name: str) -> Callable[[T], T]:
    """Register a LightningDataModule class under ``name`` (``--data.name NAME``); the class's
    ``name`` attribute becomes ``name``."""
    return _named(DATASETS, name)


def register_task(name: str) -> Callable[[T], T]:
    """Register a task (a LightningModule class) under ``name`` (``--task.name NAME``); the class's
    ``name`` attribute becomes ``name``, which every checkpoint records."""
    return _named(TASKS, name)


def _named(registry: Registry, name: str) -> Callable[[T], T]:
    add = registry.register(name)

    def name_and_add(cls: T) -> T:
        cls.name = name
        return add(cls)

    return name_and_add


def list_models() -> list[str]:
    return MODELS.names()


def get_model(name: str, **kwargs: Any):
    """Build the registered model ``name`` with keyword arguments, e.g. ``get_model("lenet", num_classes=10)``."""
    builder = MODELS.get(name)
    from zoo.config import check_kwargs  # the one place that knows how to explain a bad argument

    check_kwargs(builder, kwargs, where=f"model {name!r}")
    return builder(**kwargs)
