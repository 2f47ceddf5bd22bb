"""Where a run's messages go: the notes zoo makes while it works (the device it trains on, an early
stop, a checkpoint it skipped, a language model's samples).

- On a terminal or in a log, notes go to stderr, as diagnostics do, and stdout keeps the run's own
  lines (``run_dir:``, the summary JSON) for whoever reads them with a program.
- In a Jupyter notebook, stderr shows as an error (a red box), so notes go to the display of the fit
  that is running (``zoo/notebook.py`` opens one per fit) or, outside a fit, to stdout.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

# Where notes go while a fit's display is open (None: the streams, as above).
_sink: Callable[[str], None] | None = None


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (Jupyter, JupyterLab, VS Code's and Colab's notebooks):
    its output is shown by a front end that renders HTML and updates a display in place. IPython in a
    terminal is not one: it has a terminal, and a terminal's progress bar."""
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def note(text: str) -> None:
    """Tell the person running something they may want to know, without it being the output."""
    if _sink is not None:
        _sink(text)
    else:
        print(text, file=sys.stdout if in_notebook() else sys.stderr, flush=True)


@contextlib.contextmanager
def notes_to(sink: Callable[[str], None]) -> Iterator[None]:
    """Send notes to ``sink`` inside this block (a fit's notebook display)."""
    global _sink
    before, _sink = _sink, sink
    try:
        yield
    finally:
        _sink = before
