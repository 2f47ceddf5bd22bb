"""What every ``python -m zoo.*`` command shares: a bad argument or a user's error is one line on
stderr and an exit status (2 for usage, 1 for data), unless ``--debug`` or ``ZOO_DEBUG=1`` asks for
the traceback."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from zoo.errors import Stopped, UsageError, ZooError, speaking
from zoo.rundir import launched_rank


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad argument as a UsageError: one line and exit status 2."""

    def error(self, message: str) -> None:
        raise UsageError(message)


def add_import_option(parser: argparse.ArgumentParser) -> None:
    """``--import MODULE_OR_FILE`` (repeatable, into ``args.imports``): every command that trains or loads
    a run takes the modules that register a user's own models, as ``zoo.train`` did."""
    parser.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE_OR_FILE",
        help="a module or .py file that registers your own model (as zoo.train took it); repeatable",
    )


def debugging(argv: list[str]) -> bool:
    return "--debug" in argv or os.environ.get("ZOO_DEBUG") not in (None, "", "0")


def command_main(prog: str, argv: list[str] | None, body: Callable[[list[str]], int]) -> int:
    """Run a command's ``body(argv)``; a ZooError becomes ``PROG: error: MESSAGE`` and its exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        with speaking("cli"):  # messages name options as this command line takes them
            return body(argv)
    except OSError as err:  # (a write the machine refused, wherever it happened: one line, exit 1)
        from zoo.checkpoint import cannot_write, is_write_error

        if not is_write_error(err) or debugging(argv):
            raise
        print(f"{prog}: error: {cannot_write('', err)}", file=sys.stderr)
        return 1
    except ZooError as err:
        if debugging(argv):
            raise
        # Every process of a multi-process run stops together and for the same reason: one line, from rank 0.
        if not (isinstance(err, Stopped) and launched_rank() != 0):
            print(f"{prog}: error: {err}", file=sys.stderr)
        return err.exit_code
