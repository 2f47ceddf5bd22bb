"""How checkpoints and a run's other files reach the disk, and how a checkpoint is read back safely.
(Rebuilding a trained task from one is ``zoo/loading.py``'s job.)

- Writes are atomic: a temporary file in the same folder (``.NAME.tmp-PID``), fsync, then rename over
  the old file, so a kill in the middle of a save leaves the previous file whole. The kill leaves the
  temporary too: ``remove_stale_temporaries`` removes those whose process is gone.
- A write the machine refuses (a full disk, a read-only folder, no permission) is an ``OSError``
  naming the file it was writing, whatever wrote it (``cannot_write`` words it as one line); the
  temporary is removed and the previous file stays whole.
- A run directory is locked while a process writes it (``RunLock``): a second one is refused, naming
  the first; the lock of a process that died is taken over.
- Loads are weights-only (``torch.load(weights_only=True)``): zoo's checkpoints hold only tensors,
  numbers, strings, lists and dicts, and a file that carries pickled code is refused before any of
  that code can run.
"""

from __future__ import annotations

import errno
import os
import pickle
import re
import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from zoo.errors import DataError, UsageError

#: what zoo says of the errors with which a machine refuses a write
WRITE_ERRORS = {
    errno.ENOSPC: "no space left on the device (the disk is full)",
    errno.EDQUOT: "over the disk quota",
    errno.EROFS: "a read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "not permitted",
}


def is_write_error(err: BaseException) -> bool:
    return isinstance(err, OSError) and err.errno in WRITE_ERRORS


def cannot_write(what: str, err: OSError) -> DataError:
    """A refused write as one line: ``cannot write the checkpoint /r/last.ckpt: no space left ...``."""
    named = " ".join(part for part in (what, str(err.filename or "")) if part)
    return DataError(f"cannot write {named}: {WRITE_ERRORS.get(err.errno, err.strerror or str(err))}")


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> None:
    """``write(f)`` into a temporary beside ``path``, fsync, then rename it to ``path``. A failure leaves
    no temporary and ``path`` as it was; a refused write is an ``OSError`` naming ``path`` (a write's own
    error names no file; torch's writer reports a full disk as a ``RuntimeError``)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError) and err.errno is not None:
            raise OSError(err.errno, os.strerror(err.errno), str(path)) from err
        if isinstance(err, RuntimeError) and "unexpected pos" in str(err) and _disk_full(path):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path)) from err
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # make the rename itself durable
    finally:
        os.close(dir_fd)


def _disk_full(path: Path) -> bool:
    """Whether the folder of ``path`` has less than a megabyte free (torch's "unexpected pos" is a short
    write, which a full disk makes)."""
    try:
        return shutil.disk_usage(path.parent).free < 1 << 20
    except OSError:
        return False


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


TEMPORARY = re.compile(r"\..+\.tmp-(\d+)")  # (atomic_write's name for the file it is writing)


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Remove the temporaries ``atomic_write`` left in ``folder`` (``.NAME.tmp-PID``, not in subfolders)
    when its process was killed mid-write, and return them: only those whose process is gone, since a
    live process's temporary may be being written now (another run's, or this one's). Tidying up never
    stops a run: a folder or file it may not touch is left as it is."""
    try:
        entries = list(Path(folder).iterdir())
    except OSError:  # (no such folder, or not ours to read)
        return []
    removed = []
    for path in entries:
        match = TEMPORARY.fullmatch(path.name)
        if match and path.is_file() and not process_alive(int(match.group(1))):
            try:
                path.unlink()
            except OSError:  # (gone meanwhile, or another user's)
                continue
            removed.append(path)
    return removed


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (another user's counts; a zombie, killed and not yet
    reaped by its parent, does not)."""
    if os.name == "nt":
        return True  # (os.kill(pid, 0) sends Ctrl-C on Windows: leave every temporary)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OverflowError:  # (a number no PID can be)
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # (no /proc: macOS)


def check_device(device: Any) -> None:
    """A device this machine does not have is the user's error, not a corrupt checkpoint's."""
    if not isinstance(device, (str, torch.device)):
        return  # (a mapping function or dict: torch.load's business)
    try:
        kind = torch.device(device).type
    except RuntimeError:
        raise UsageError(f"unknown device {str(device)!r} (valid: cpu, cuda, cuda:N, mps)") from None
    available = {"cuda": torch.cuda.is_available, "mps": torch.backends.mps.is_available}.get(kind, lambda: True)
    if not available():
        raise UsageError(f"device {str(device)!r}: this machine has no {kind.upper()} device (use cpu)")


def safe_load(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """``torch.load(path, weights_only=True)`` with every failure turned into one line naming the file."""
    path = Path(path)
    if path.is_dir():
        raise DataError(f"{path} is a folder, not a checkpoint file")
    check_device(map_location)
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except FileNotFoundError:
        raise DataError(f"checkpoint not found: {path}") from None
    except OSError as err:
        raise DataError(f"cannot read {path}: {err.strerror or err}") from None
    # torch.save writes a zip archive (or, before torch 1.6, a pickle): anything else is some other
    # file of a run directory (config.yaml, metrics.csv), which the unpickler would call "code".
    if not (head.startswith(b"PK") or head.startswith(b"\x80")):
        raise DataError(f"{path} is not a checkpoint file (zoo's are the .ckpt files in a run's checkpoints/ folder)")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        # torch names the offending global, e.g. "Unsupported global: GLOBAL posix.system".
        detail = next((line.strip() for line in str(err).splitlines() if "GLOBAL" in line), "")
        if not detail:
            raise DataError(f"{path} is not a readable checkpoint (truncated or corrupt?): {first_line(err)}") from None
        raise DataError(
            f"refusing to load {path}: it carries pickled code ({detail}); "
            "zoo checkpoints hold only tensors and plain data"
        ) from None
    except Exception as err:
        # A garbled file fails anywhere in the unpickler and the zip reader (a KeyError for a memo entry,
        # a TypeError for an unhashable key, a MemoryError for a huge claimed size): all the file's fault.
        raise DataError(f"{path} is not a readable checkpoint (truncated or corrupt?): {first_line(err)}") from None
    if not isinstance(checkpoint, dict):
        raise DataError(f"{path} is not a zoo checkpoint (it holds a {type(checkpoint).__name__})")
    return checkpoint


def first_line(err: BaseException) -> str:
    """What went wrong, in one line: torch's own line where it wrote several (its weights-only unpickler
    leads with a paragraph about torch.load's defaults), the exception's name where the text alone says
    little (a KeyError's is the key)."""
    text = str(err).split("WeightsUnpickler error:", 1)[-1]
    line = next((x.strip() for x in text.splitlines() if x.strip()), "")
    if isinstance(err, (RuntimeError, OSError, DataError)) and line:
        return line
    return f"{type(err).__name__}: {line}" if line else type(err).__name__


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint I/O with atomic saves and weights-only loads (``--resume`` uses it too)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        atomic_write(path, lambda f: torch.save(checkpoint, f))

    def load_checkpoint(self, path: Any, map_location: Any = None, weights_only: bool | None = None) -> dict[str, Any]:
        return safe_load(path, map_location=map_location or "cpu")


def find_checkpoint(run_dir: Path, prefer: tuple[str, ...] = ("best.ckpt", "last.ckpt")) -> Path:
    for name in prefer:
        for folder in (run_dir / "checkpoints", run_dir):  # a run directory, or its checkpoints/ folder
            if (folder / name).is_file():
                return folder / name
    raise DataError(f"no checkpoint in {run_dir / 'checkpoints'} (looked for {', '.join(prefer)})")


class RunLock:
    """``RUN_DIR/.lock``, holding the pid and host of the process writing the run directory. Taking it
    fails, naming the holder, while that process lives; the lock of a process that died (on this
    machine) is taken over. A lock from another machine cannot be checked, and is refused with how to
    remove it. ``release`` removes it (only if it is still this process's)."""

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / ".lock"
        self.held = False

    def take(self) -> RunLock:
        mine = f"{os.getpid()} {socket.gethostname()}\n"
        for _ in range(3):  # (a stale lock removed by another process between our looks: look again)
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                holder = self.holder()
                if holder == (0, ""):  # (garbled: being written this instant, or its writer was killed)
                    time.sleep(0.2)
                    holder = self.holder()
                if holder is None:
                    continue
                pid, host = holder
                if pid == 0:  # (still garbled: its writer was killed between making it and writing it)
                    self.path.unlink(missing_ok=True)
                    continue
                if host != socket.gethostname():
                    raise DataError(
                        f"{self.path.parent} is being written by process {pid} on {host} (its lock {self.path}); "
                        "if no run is writing it there any more, remove the lock and start again"
                    ) from None
                if process_alive(pid) and pid != os.getpid():
                    raise DataError(
                        f"{self.path.parent} is being written by another run: process {pid} (its lock {self.path}); "
                        "wait for it to end, or stop it"
                    ) from None
                self.path.unlink(missing_ok=True)  # (its process is gone: take the lock over)
                continue
            with os.fdopen(fd, "w") as f:
                f.write(mine)
            self.held = True
            return self
        raise DataError(f"could not take the lock {self.path}: other processes keep taking it")

    def holder(self) -> tuple[int, str] | None:
        try:
            pid, host = self.path.read_text().split()[:2]
            return int(pid), host
        except FileNotFoundError:
            return None
        except (OSError, ValueError):  # (a lock not written yet, or half written by a killed process)
            return 0, ""

    def release(self) -> None:
        if self.held and self.holder() == (os.getpid(), socket.gethostname()):
            self.path.unlink(missing_ok=True)
        self.held = False
