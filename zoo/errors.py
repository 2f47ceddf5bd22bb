"""The kinds of error a user can cause. Commands print them as one line and exit with ``exit_code``;
library callers catch them as exceptions. Anything else is a bug and keeps its traceback.

A message names options the way its reader gives them: ``--model.hidden`` and ``--resume DIR`` to
someone at the command line, ``model.hidden`` and ``resume=...`` to someone calling ``zoo.fit`` from
Python or a notebook. The commands say which (``speaking("cli")``); Python is the default.
"""

from __future__ import annotations

import contextlib
import contextvars
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

_voice: contextvars.ContextVar[str] = contextvars.ContextVar("zoo_voice", default="python")


@contextlib.contextmanager
def speaking(voice: Literal["cli", "python"]) -> Iterator[None]:
    """Messages made inside this block name options as ``voice`` writes them."""
    token = _voice.set(voice)
    try:
        yield
    finally:
        _voice.reset(token)


def at_command_line() -> bool:
    return _voice.get() == "cli"


def option(dotted: str, value: Any = ..., *, raw: bool = False) -> str:
    """An option as the reader writes it: ``--data.drop notes`` on the command line, ``data.drop='notes'``
    in Python (``value`` left out: the option's name alone). ``raw``: the value is text to show as it is
    (a placeholder such as ``COLUMN``)."""
    if at_command_line():
        if value is ...:
            return f"--{dotted}"
        shown = value if raw else _cli_value(value)
        return f"--{dotted} {shown}"
    if value is ...:
        return dotted
    return f"{dotted}={value if raw else repr(value)}"


def argument(name: str) -> str:
    """A command's option that is a keyword argument in Python: ``--study`` / ``study=``."""
    return f"--{name}" if at_command_line() else f"{name}="


def _cli_value(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    return shlex.quote(str(value)) if isinstance(value, (str, Path)) else str(value)


def resume_hint(model: str, run_dir: str | Path) -> str:
    """How to go on with a stopped run, pasteable where the reader is (paths quoted for a shell)."""
    if at_command_line():
        return f"python -m zoo.train {shlex.quote(model)} [the same options] --resume {shlex.quote(str(run_dir))}"
    return f"zoo.fit({model!r}, ..., resume={str(run_dir)!r})"


class ZooError(Exception):
    """Something outside the code is wrong (a file, the data, the environment). Exit status 1."""

    exit_code = 1


class UsageError(ZooError, ValueError):
    """An argument is wrong: unknown name, bad type, impossible value. Exit status 2.

    It is also a ValueError, so library callers can catch it the way they catch any bad argument.
    """

    exit_code = 2


class DataError(ZooError):
    """A data file or folder is missing, empty, corrupt or cannot be fetched."""


class Stopped(ZooError):
    """Training stopped before its end and said why (a signal, a non-finite loss); its exit status
    is set per case (128 + the signal number for a signal, as shells report it).

    ``run_dir`` and ``checkpoint`` say what was kept, where the run got far enough to keep anything:
    ``zoo.fit(model, ..., resume=err.run_dir)`` goes on from there."""

    def __init__(
        self, message: str, exit_code: int = 1, run_dir: str | Path | None = None, checkpoint: str | Path | None = None
    ):
        super().__init__(message)
        self.exit_code = exit_code
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None


def trimmed(err: ZooError) -> ZooError:
    """``err`` without the frames inside zoo and the exceptions it came from: raised again
    (``raise trimmed(err)``) in a public function, a user's mistake shows as one frame of zoo's under
    the caller's own, not thirty of Lightning's and zoo's. (``ZOO_DEBUG=1`` keeps them all.)"""
    import os

    if os.environ.get("ZOO_DEBUG") not in (None, "", "0"):
        return err
    err.__cause__, err.__suppress_context__ = None, True
    return err.with_traceback(None)
