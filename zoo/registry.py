"""Name -> constructor tables for models, data sets and tasks (torchvision/timm style).

One small class serves all three, so unknown names and duplicates fail the same way everywhere.
"""

from __future__ import annotations

import difflib
from typing import Any, Callable, Iterator, TypeVar

from zoo.errors import UsageError

T = TypeVar("T", bound=Callable[..., Any])


class Registry:
    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Callable[..., Any]] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@MODELS.register("lenet")`` on a class or a builder function."""

        def add(builder: T) -> T:
            if name in self._entries:
                raise ValueError(
                    f"{self.kind} {name!r} is already registered (by {self._entries[name].__qualname__})"
                )
            self._entries[name] = builder
            return builder

        return add

    def get(self, name: str) -> Callable[..., Any]:
        try:
            return self._entries[name]
        except KeyError:
            raise UsageError(unknown_name_message(self.kind, name, self.names())) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def unknown_name_message(kind: str, name: object, known: list[str]) -> str:
    close = difflib.get_close_matches(str(name), known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown {kind} {name!r}{hint} (known: {', '.join(known)})"


MODELS = Registry("model")


def register_model(name: str) -> Callable[[T], T]:
    """Register an ``nn.Module`` class (or a function returning one) under ``name``."""
    return MODELS.register(name)


def list_models() -> list[str]:
    return MODELS.names()


def get_model(name: str, **kwargs: Any):
    """Build the registered model ``name`` with keyword arguments, e.g. ``get_model("lenet", num_classes=10)``."""
    builder = MODELS.get(name)
    from zoo.config import check_kwargs  # the one place that knows how to explain a bad argument

    check_kwargs(builder, kwargs, where=f"model {name!r}")
    return builder(**kwargs)
