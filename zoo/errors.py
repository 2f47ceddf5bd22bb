"""The kinds of error a user can cause. The commands print them as one line; anything else is a bug
and keeps its traceback."""

import argparse
import os
import sys
from typing import Callable


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
    is set per case (128 + the signal number for a signal, as shells report it)."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad argument as a UsageError: one line and exit status 2, as every
    zoo command does."""

    def error(self, message: str) -> None:
        raise UsageError(message)


def command_main(prog: str, argv: list[str] | None, body: Callable[[list[str]], int]) -> int:
    """Run a command's ``body(argv)``; a ZooError becomes ``PROG: error: MESSAGE`` on stderr and its
    exit status, unless ``--debug`` or ``ZOO_DEBUG=1`` asks for the traceback."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("ZOO_DEBUG") not in (None, "", "0")
    try:
        return body(argv)
    except ZooError as err:
        if debug:
            raise
        from zoo.cli import launched_rank

        # Every process of a multi-process run stops together and for the same reason: one line, from rank 0.
        if not (isinstance(err, Stopped) and launched_rank() != 0):
            print(f"{prog}: error: {err}", file=sys.stderr)
        return err.exit_code
