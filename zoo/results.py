"""What a run gives back (``Result``), and runs compared side by side (``compare``).

Both are made to be looked at where learners work, in a notebook: a ``Result`` shows itself as a short
card (its figures, its run directory, its learning curves), ``result.history`` is a DataFrame of its
epochs, ``result.plot()`` and ``result.show("filters")`` are pictures that display where they are
returned; ``zoo.compare(r1, r2)`` is the course's "change the structure, compare" step: the options
that differ, the figures side by side and the learning curves on the same axes.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo.errors import DataError, UsageError


class Picture:
    """A PNG file a run wrote, shown as a picture in a notebook (``_repr_png_``) and as its path elsewhere."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def _repr_png_(self) -> bytes:
        return self.path.read_bytes()

    def __repr__(self) -> str:
        return f"Picture({str(self.path)!r})"


def headline(figures: Mapping[str, Any]) -> str:
    """``{"loss": 0.3123, "acc": 0.9}`` -> ``loss 0.3123, acc 0.9``."""
    return ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in figures.items())


@dataclass(repr=False)
class Result:
    """What a finished run gives back.

    - ``summary``: the same fields as ``python -m zoo.train``'s JSON line and ``summary.json``;
    - ``run_dir``: the run's directory (config.yaml, metrics.csv, checkpoints, pictures);
    - ``task``: the trained task (a LightningModule wrapping ``task.model``), in eval mode, holding the
      weights that were tested: the best checkpoint's, or the last ones where there is no "best";
    - ``metrics``: the rows of ``metrics.csv``, one per epoch (and per validation inside one);
      ``history``: the same as a pandas DataFrame;
    - ``config``: the resolved recipe, as saved in ``config.yaml``.
    """

    summary: dict[str, Any]
    run_dir: Path
    task: Any
    metrics: list[dict[str, Any]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def checkpoint(self) -> Path | None:
        return Path(self.summary["checkpoint"]) if self.summary.get("checkpoint") else None

    @property
    def history(self):
        """The epochs' rows (``metrics.csv``) as a DataFrame: ``result.history.plot(x="epoch", y=[...])``."""
        import pandas as pd

        return pd.DataFrame(self.metrics)

    @property
    def pictures(self) -> list[str]:
        """The pictures the run left, by the names ``show`` takes (``learning_curves``, ``filters``, ...)."""
        return sorted(p.stem for p in Path(self.run_dir).glob("*.png"))

    def show(self, name: str = "learning_curves") -> Picture:
        """One of the run's pictures (``pictures`` lists them), to display in a notebook."""
        path = Path(self.run_dir) / f"{name}.png"
        if not path.is_file():
            raise UsageError(f"this run has no picture {name!r} (it has: {', '.join(self.pictures) or 'none'})")
        return Picture(path)

    def plot(self, metrics: Sequence[str] | None = None, title: str | None = None):
        """The learning curves as a matplotlib figure (displayed where it is returned; ``.savefig`` to keep
        it): ``metrics`` picks the panels (``["loss", "acc"]``; default: the loss and up to three more)."""
        from zoo.plots import learning_curves_figure

        if not self.metrics:
            raise DataError(f"no epochs recorded in {self.run_dir / 'metrics.csv'}: nothing to plot")
        known = {k.split("_", 1)[1] for row in self.metrics for k in row if k.startswith(("train_", "val_"))}
        unknown = [m for m in metrics or () if m not in known]
        if unknown:
            raise UsageError(
                f"no metric {', '.join(map(repr, unknown))} in this run (it has: {', '.join(sorted(known))})"
            )
        monitor = self.summary.get("best_by")
        return learning_curves_figure(
            self.metrics, self.name if title is None else title, monitor, self.mode_of(monitor), metrics=metrics
        )

    def mode_of(self, metric: str | None) -> str | None:
        """Whether ``metric`` is better higher ("max") or lower ("min"), as the run's task says."""
        if metric is None:
            return None
        if self.task is not None:
            return self.task.metric_mode(metric)
        from zoo.registry import TASKS

        name = (self.config.get("task") or {}).get("name")
        return TASKS.get(name).metric_mode(metric) if name in TASKS else None

    @property
    def name(self) -> str:
        return f"{self.summary.get('model', '?')} on {self.summary.get('data', '?')}"

    def figures(self) -> dict[str, dict[str, Any]]:
        """The evaluated figures by split: ``{"val": {...}, "test": {...}}`` (test absent if not tested)."""
        return {split: self.summary[split] for split in ("val", "test") if isinstance(self.summary.get(split), dict)}

    def __repr__(self) -> str:
        figures = "; ".join(f"{split} {headline(values)}" for split, values in self.figures().items())
        epochs = self.summary.get("epochs")
        return f"<zoo.Result {self.name}, {epochs} epochs: {figures or 'no figures'}; run_dir {str(self.run_dir)!r}>"

    def _repr_html_(self) -> str:
        esc = html.escape
        figures = self.figures()
        names = list(dict.fromkeys(k for values in figures.values() for k in values))
        head = "".join(f"<th>{esc(n)}</th>" for n in ["", *names])
        body = "".join(
            f"<tr><th>{esc(split)}</th>" + "".join(f"<td>{esc(_cell(values.get(n)))}</td>" for n in names) + "</tr>"
            for split, values in figures.items()
        )
        seconds = self.summary.get("train_time_s")
        trained = f"{self.summary.get('epochs')} epochs" + (f", {seconds:.1f} s training" if seconds else "")
        curves = ""
        if self.metrics:
            png = self.plot(title="").png(dpi=60)
            curves = f"<img src='data:image/png;base64,{base64.b64encode(png).decode('ascii')}' alt='learning curves'>"
        pictures = ", ".join(f"<code>{esc(p)}</code>" for p in self.pictures)
        return (
            f"<div class='zoo-result'><b>{esc(self.name)}</b>: {esc(trained)}<br>"
            f"<table style='text-align:right'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            f"{curves}<div style='font-size:85%'>run_dir <code>{esc(str(self.run_dir))}</code>"
            + (f"<br>pictures ({esc('result.show(name)')}): {pictures}" if pictures else "")
            + "</div></div>"
        )


def _cell(value: Any) -> str:
    return "" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


def read_run(run_dir: str | Path) -> Result:
    """A finished run's ``Result`` from its directory (summary.json, metrics.csv, config.yaml), without
    its task: for comparing runs of an earlier session (``zoo.load_checkpoint`` loads the model)."""
    from zoo.config import load_yaml_file
    from zoo.records import read_csv

    run_dir = Path(run_dir).expanduser()
    if not (run_dir / "summary.json").is_file():
        raise DataError(f"{run_dir} is not a finished run's directory (no summary.json)")
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    metrics = read_csv(run_dir / "metrics.csv") if (run_dir / "metrics.csv").is_file() else []
    config = load_yaml_file(run_dir / "config.yaml") if (run_dir / "config.yaml").is_file() else {}
    return Result(summary=summary, run_dir=run_dir.resolve(), task=None, metrics=metrics, config=config)


def flat_options(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A recipe's options by dotted name: ``{"model": {"hidden": [64]}}`` -> ``{"model.hidden": [64]}``."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, Mapping):
            out.update(flat_options(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


#: options that differ between any two runs and say nothing about what was learned
NOT_COMPARED = ("trainer.default_root_dir", "trainer.enable_progress_bar", "trainer.enable_model_summary")


def differing(options: Sequence[Mapping[str, Any]]) -> list[str]:
    """The dotted options whose values are not the same in all of ``options`` (flat recipes). Options
    only some runs have (Adam's ``betas`` beside SGD's ``momentum``) are left out: the choice that
    brought them (``optimizer.name``) differs, and says it."""
    keys = sorted(set.intersection(*(set(o) for o in options)))
    return [k for k in keys if k not in NOT_COMPARED and len({json.dumps(o.get(k), default=str) for o in options}) > 1]


class Comparison:
    """Runs side by side (``zoo.compare``): ``table`` (a DataFrame, a row per run: the options that
    differ, epochs, training time, figures) and ``figure`` (their learning curves on the same axes)."""

    def __init__(self, runs: Mapping[str, Result], metrics: Sequence[str] | None = None):
        import pandas as pd

        from zoo.plots import comparison_figure, curve_panels

        self.runs = dict(runs)
        options = {label: flat_options(r.config) for label, r in self.runs.items()}
        differ = differing(list(options.values()))
        rows = {}
        for label, run in self.runs.items():
            row: dict[str, Any] = {k: options[label].get(k) for k in differ}
            row["epochs"] = run.summary.get("epochs")
            row["train_time_s"] = run.summary.get("train_time_s")
            for split, values in run.figures().items():
                row.update({f"{split}_{k}": v for k, v in values.items()})
            rows[label] = row
        self.differ = differ
        self.table = pd.DataFrame.from_dict(rows, orient="index")
        every = [row for run in self.runs.values() for row in run.metrics]
        self.metrics = list(metrics) if metrics else curve_panels(every, most=2)
        self.figure = comparison_figure([(label, run.metrics) for label, run in self.runs.items()], self.metrics)

    def __repr__(self) -> str:
        return self.table.to_string()

    def _repr_html_(self) -> str:
        png = base64.b64encode(self.figure.png(dpi=72)).decode("ascii")
        table = self.table.to_html(float_format=lambda v: f"{v:.4g}")
        return f"<div class='zoo-compare'>{table}<img src='data:image/png;base64,{png}' alt='learning curves'></div>"


def compare(
    *runs: Result | str | Path, metrics: Sequence[str] | None = None, **named: Result | str | Path
) -> Comparison:
    """Runs side by side: ``zoo.compare(r1, r2)``, or named ``zoo.compare(small=r1, wide=r2)``; a run is
    a ``Result`` or a finished run's directory. Each is labelled by the options that set it apart (up to
    two), else by its directory's name. ``metrics`` picks the curves (default: the loss and one more)."""
    given = [(None, r) for r in runs] + list(named.items())
    if len(given) < 2:
        raise UsageError(f"compare needs at least two runs, got {len(given)}")
    loaded = [(label, r if isinstance(r, Result) else read_run(r)) for label, r in given]
    options = [flat_options(r.config) for _, r in loaded]
    differ = differing(options)
    labelled: dict[str, Result] = {}
    for (label, run), opts in zip(loaded, options):
        if label is None:
            label = ", ".join(f"{k.split('.', 1)[-1]}={opts.get(k)}" for k in differ) if 0 < len(differ) <= 2 else ""
            label = label or Path(run.run_dir).name
        while label in labelled:
            label += "'"
        labelled[label] = run
    return Comparison(labelled, metrics)
