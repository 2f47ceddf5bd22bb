"""A fit's progress in a Jupyter notebook: one display, updated in place.

A terminal redraws a progress bar with escape codes; a notebook stores every byte a cell prints, so
Lightning's bar there leaves either a trail of escape codes or a stale widget per validation. fastai
and Keras show what a learner needs instead, and so does zoo: one display per fit, holding the run's
notes (where it trains, the model's size), a bar for the epoch under way with the time per epoch and
the time left, and a table with a row per epoch (losses and metrics, training and validation).
Updates replace the display (Jupyter's ``update_display_data``), so the notebook keeps only the last
one: a 30-epoch fit stores a few kilobytes, whatever it printed on the way.

``live_plot``: the learning curves drawn again under the table at each epoch's end.
"""

from __future__ import annotations

import base64
import html
import time
from typing import Any

from lightning.pytorch.callbacks.progress.progress_bar import ProgressBar

#: the table keeps its first rows and its last ones: a long fit's display stays small (the whole
#: history is ``result.history`` and metrics.csv)
MOST_ROWS = 30
#: how often the bar may be redrawn: every redraw sends the whole display to the front end
MIN_INTERVAL_S = 0.5
#: the last notes shown (a language model's samples are notes too: each epoch writes new ones)
MOST_NOTES = 6
NOTE_CHARS = 600


def duration(seconds: float) -> str:
    """``75.2`` -> ``1:15``; ``4000`` -> ``1:06:40``; under ten seconds with a tenth: ``3.4s``; under one,
    in milliseconds: ``45ms``."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 10:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def figure(value: Any) -> str:
    """A table cell's number: four significant digits, as a glance needs."""
    if value is None or value == "":
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


class NotebookProgress(ProgressBar):
    """Lightning's progress bar slot, filled with one notebook display (see the module's docstring)."""

    def __init__(
        self,
        title: str,
        run_dir: Any = None,
        live_plot: bool = False,
        monitor: str | None = None,
        mode: str | None = None,
    ):
        super().__init__()
        self.title, self.run_dir, self.live_plot, self.monitor, self.mode = title, run_dir, live_plot, monitor, mode
        self._enabled = True
        self._handle: Any = None
        self._notes: list[str] = []
        self._status = "starting"
        self._bar: tuple[int, int] | None = None  # (done, total) batches of the stage under way
        self._last_draw = 0.0
        self._fit_start: float | None = None
        self._epoch_start: float | None = None
        self._epoch: int | None = None  # the epoch under way
        self._epoch_seconds: dict[int, float] = {}  # wall time of each epoch this process trained
        self._rows: list[dict[str, Any]] = []
        self._plot = ""

    # --- Lightning's ProgressBar interface ------------------------------------------------------
    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    @property
    def is_enabled(self) -> bool:
        return self._enabled

    def print(self, *args: Any, **kwargs: Any) -> None:
        self.note(" ".join(map(str, args)))

    # --- what the display shows -------------------------------------------------------------------
    def note(self, text: str) -> None:
        """A line for the notes above the bar (the latest ``MOST_NOTES``, each cut to ``NOTE_CHARS``)."""
        text = text.rstrip("\n").removeprefix("zoo: ")  # (all of them are zoo's)
        self._notes = [*self._notes, text if len(text) <= NOTE_CHARS else text[:NOTE_CHARS] + " ..."][-MOST_NOTES:]
        self.draw(force=True)

    def finish(self, line: str) -> None:
        """The last state: no bar, ``line`` in its place."""
        self._bar, self._status = None, line
        self.draw(force=True)

    def draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not self._enabled or (not force and now - self._last_draw < MIN_INTERVAL_S):
            return
        self._last_draw = now
        bundle = {"text/html": self.html(), "text/plain": self.text()}
        if self._handle is None:
            from IPython.display import display

            self._handle = display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)

    def columns(self) -> list[str]:
        """The epoch table's columns: the loss, then up to two more metrics, training and validation."""
        from zoo.plots import curve_panels

        metrics = curve_panels(self._rows, most=3)
        keys = [f"{stage}_{m}" for m in metrics for stage in ("train", "val")]
        return [k for k in keys if any(row.get(k) not in (None, "") for row in self._rows)]

    def shown_rows(self) -> list[dict[str, Any] | None]:
        """The rows in the table, None where some are left out between the first and the last ones."""
        rows = self._rows
        if len(rows) <= MOST_ROWS:
            return list(rows)
        return [*rows[:2], None, *rows[-(MOST_ROWS - 3) :]]

    def progress_line(self) -> str:
        if self._bar is None:
            return self._status
        done, total = self._bar
        parts = [self._status, f"{done}/{total} batches" if total else f"{done} batches"]
        if self._fit_start is not None:
            parts.append(f"{duration(time.monotonic() - self._fit_start)} so far")
        left = self.seconds_left()
        if left is not None:
            parts.append(f"about {duration(left)} left")
        return " · ".join(parts)

    def seconds_left(self) -> float | None:
        """Epochs to go times the time an epoch takes (the last three's mean, validation included; in the
        first epoch, its pace so far), less what the epoch under way has done."""
        trainer = self._trainer
        if trainer is None or self._bar is None or not self._bar[1] or trainer.max_epochs in (None, -1):
            return None
        done_in_epoch = self._bar[0] / self._bar[1]
        recent = list(self._epoch_seconds.values())[-3:]
        if recent:
            per_epoch = sum(recent) / len(recent)
        elif self._bar[0] and self._epoch_start is not None:
            per_epoch = (time.monotonic() - self._epoch_start) / done_in_epoch
        else:
            return None
        return max(0.0, (trainer.max_epochs - trainer.current_epoch - done_in_epoch) * per_epoch)

    def text(self) -> str:
        columns = self.columns()
        lines = [
            self.title,
            *([f"run_dir: {self.run_dir}"] if self.run_dir else []),
            *self._notes,
            self.progress_line(),
        ]
        if self._rows:
            header = ["epoch", *columns, "time"]
            table = [header]
            for row in self.shown_rows():
                if row is None:
                    table.append(["..."] + [""] * (len(header) - 1))
                    continue
                table.append([str(row["epoch"]), *(figure(row.get(c)) for c in columns), row.get("_time", "")])
            widths = [max(len(r[i]) for r in table) for i in range(len(header))]
            lines += ["  ".join(cell.rjust(w) for cell, w in zip(r, widths)) for r in table]
        return "\n".join(lines)

    def html(self) -> str:
        esc = html.escape
        parts = [f"<div class='zoo-fit'><div><b>{esc(self.title)}</b></div>"]
        if self.run_dir:
            parts.append(f"<div style='font-size:85%'>run_dir <code>{esc(str(self.run_dir))}</code></div>")
        if self._notes:
            notes = "<br>".join(esc(n).replace("\n", "<br>") for n in self._notes)
            parts.append(f"<div style='font-family:monospace;font-size:85%;color:#555'>{notes}</div>")
        bar = ""
        if self._bar is not None and self._bar[1]:
            bar = f"<progress value='{self._bar[0]}' max='{self._bar[1]}' style='width:240px'></progress> "
        parts.append(f"<div>{bar}{esc(self.progress_line())}</div>")
        if self._rows:
            columns = self.columns()
            head = "".join(f"<th>{esc(c)}</th>" for c in ["epoch", *columns, "time"])
            body = []
            best = self.best_epoch()
            for row in self.shown_rows():
                if row is None:
                    body.append(f"<tr><td colspan='{len(columns) + 2}'>...</td></tr>")
                    continue
                style = " style='font-weight:bold'" if row["epoch"] == best else ""
                cells = [str(row["epoch"]), *(figure(row.get(c)) for c in columns), row.get("_time", "")]
                body.append(f"<tr{style}>" + "".join(f"<td>{esc(c)}</td>" for c in cells) + "</tr>")
            parts.append(
                "<table style='font-size:90%;text-align:right'>"
                f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
            )
        if self._plot:
            parts.append(f"<img src='data:image/png;base64,{self._plot}' alt='learning curves'>")
        parts.append("</div>")
        return "".join(parts)

    def best_epoch(self) -> int | None:
        """The epoch with the best ``monitor`` so far (its row is bold: what the best checkpoint holds)."""
        from zoo.plots import best_row

        index = best_row(self._rows, self.monitor, self.mode)
        return None if index is None else self._rows[index]["epoch"]

    def take_rows(self, trainer: Any) -> None:
        """The epoch rows the run's CSV logger holds (metrics.csv's), with each epoch's wall time."""
        for logger in trainer.loggers:
            if hasattr(logger, "sorted_rows"):
                rows = [dict(row) for row in logger.sorted_rows()]
                for row, after in zip(rows, [*rows[1:], None]):
                    last_of_epoch = after is None or after["epoch"] != row["epoch"]
                    if last_of_epoch and row["epoch"] in self._epoch_seconds:
                        row["_time"] = duration(self._epoch_seconds[row["epoch"]])
                self._rows = rows
                break
        if self.live_plot and self._rows:
            self._plot = self.curves_png()

    def curves_png(self) -> str:
        from zoo.plots import learning_curves_figure

        fig = learning_curves_figure(self._rows, "", self.monitor, self.mode, panel_size=(3.6, 2.6))
        return base64.b64encode(fig.png(dpi=72)).decode("ascii")

    # --- Lightning's hooks ------------------------------------------------------------------------
    def on_fit_start(self, trainer, pl_module) -> None:
        self._fit_start = time.monotonic()

    def end_epoch(self) -> None:
        if self._epoch_start is not None and self._epoch is not None:
            self._epoch_seconds[self._epoch] = time.monotonic() - self._epoch_start
        self._epoch_start = None

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if self._epoch_start is not None:
            self.end_epoch()
            self.take_rows(trainer)
        self._epoch_start, self._epoch = time.monotonic(), trainer.current_epoch
        epochs = f"/{trainer.max_epochs}" if trainer.max_epochs not in (None, -1) else ""
        self._status = f"epoch {trainer.current_epoch}{epochs}"
        self._bar = (0, self.total_train_batches if self.total_train_batches != float("inf") else 0)
        self.draw(force=True)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self._bar is not None:
            self._bar = (batch_idx + 1, self._bar[1])
        self.draw()

    def on_validation_start(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        if trainer.state.fn != "fit":
            self._status, self._bar = "evaluating the tested weights on the validation split", None
            self.draw(force=True)

    def on_train_end(self, trainer, pl_module) -> None:
        self.end_epoch()
        self.take_rows(trainer)
        self._bar, self._status = None, "evaluating the tested weights"
        self.draw(force=True)

    def on_test_start(self, trainer, pl_module) -> None:
        self._status, self._bar = "evaluating the tested weights on the test split", None
        self.draw(force=True)
