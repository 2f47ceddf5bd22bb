"""The kinds of error a user can cause. Commands print them as one line and exit with ``exit_code``;
library callers catch them as exceptions. Anything else is a bug and keeps its traceback."""


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
