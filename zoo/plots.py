"""The pictures every run leaves: learning curves; for classifiers a confusion matrix (and the decision
boundary of two-feature data); for regressions predicted against true values, residuals (and the
learned surface of two-feature data); what a CNN or MLP learned (filters, feature maps); and a search's
(learning curves side by side, figures against capacity)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure as _Figure


class Figure(_Figure):
    """A matplotlib figure that shows itself in a notebook (``_repr_png_``) whatever the backend.

    zoo draws on figures of its own, never through ``pyplot``: pyplot's backend is global state, and
    choosing one (``matplotlib.use("Agg")``, as zoo once did for running without a display) silently
    stopped a notebook's own ``plt.show()`` from showing anything for the rest of the session. A figure
    made this way needs no backend to be saved, is not kept by pyplot (nothing to close, no stray
    picture at the end of a notebook cell), and displays where it is returned."""

    def png(self, dpi: float | None = None) -> bytes:
        """The figure as PNG bytes (for a notebook, or a page that embeds it)."""
        out = io.BytesIO()
        self.savefig(out, format="png", dpi=dpi or self.dpi, bbox_inches="tight")
        return out.getvalue()

    def _repr_png_(self) -> bytes:
        return self.png()


def save(fig: Any, path: Path, **kwargs: Any) -> None:
    """``fig`` as an image file (its format from the suffix), written atomically: a full disk or a kill
    leaves the previous picture, or none, never half of one."""
    from zoo.checkpoint import atomic_write

    atomic_write(path, lambda f: fig.savefig(f, format=Path(path).suffix.lstrip(".") or "png", **kwargs))


def subplots(*grid: int, figsize: tuple[float, float], **kwargs: Any) -> tuple[Figure, Any]:
    """``plt.subplots`` without pyplot: a new ``Figure`` and its axes."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(*grid, **kwargs)


def epoch_positions(rows: Sequence[dict[str, Any]]) -> list[float]:
    """Where each ``metrics.csv`` row sits on the epoch axis, counted from 0 as metrics.csv and the
    progress bar count: an epoch's last row at its number, a validation inside epoch e at the share of
    its steps done by then, between e - 1 and e."""
    ends: dict[int, int] = {}
    for row in rows:
        ends[row["epoch"]] = max(ends.get(row["epoch"], 0), row.get("step") or 0)
    positions = []
    for row in rows:
        epoch, step = row["epoch"], row.get("step") or 0
        start = max((s for e, s in ends.items() if e < epoch), default=0)
        length = ends[epoch] - start
        positions.append(float(epoch) if length <= 0 else epoch - 1 + (step - start) / length)
    return positions


def best_row(rows: Sequence[dict[str, Any]], monitor: str | None, mode: str | None) -> int | None:
    """The index of the row with the best ``monitor`` value (lowest for mode "min"), or None."""
    scored = [(row[monitor], i) for i, row in enumerate(rows) if monitor and row.get(monitor) not in (None, "")]
    if not scored:
        return None
    pick = max if mode == "max" else min
    return pick(scored, key=lambda value_index: value_index[0])[1]


def curve_panels(rows: Sequence[dict[str, Any]], most: int = 4) -> list[str]:
    """The loss, then the metrics that have a validation curve (those show over-fitting; word2vec's
    similarity scores), then training-only ones (word2vec's pair counts), ``most`` panels in all."""
    metrics = {
        k.split("_", 1)[1] for row in rows for k in row if k.startswith(("train_", "val_")) and k != "train_time_s"
    }
    validated = {m for m in metrics if any(row.get(f"val_{m}") not in (None, "") for row in rows)}
    others = sorted(metrics - {"loss", "penalty"}, key=lambda m: (m not in validated, m))
    return (["loss"] + others)[:most]


def learning_curves_figure(
    rows: Sequence[dict[str, Any]],
    title: str = "",
    monitor: str | None = None,
    mode: str | None = None,
    panel_size: tuple[float, float] = (5, 4),
    metrics: Sequence[str] | None = None,
) -> Figure:
    """Loss (left) and every other metric (right) per epoch, training solid and validation dashed, the
    epoch with the best ``monitor`` marked (the one the best checkpoint holds); ``metrics`` chooses the
    panels (default: the loss, then up to three others).

    A validation curve that turns up while training keeps falling is over-fitting; both flat and high
    is under-fitting. Validations inside an epoch (``val_check_interval``) sit where they happened.
    """
    epochs = epoch_positions(rows)
    panels = list(metrics) if metrics else curve_panels(rows)
    best = best_row(rows, monitor, mode)
    fig, axes = subplots(1, len(panels), figsize=(panel_size[0] * len(panels), panel_size[1]), squeeze=False)
    for ax, metric in zip(axes[0], panels):
        for stage, style in (("train", "-"), ("val", "--")):
            key = f"{stage}_{metric}"
            points = [(e, row[key]) for e, row in zip(epochs, rows) if row.get(key) not in (None, "")]
            if points:
                ax.plot(*zip(*points), style, marker="o", markersize=3, label=stage)
        if best is not None:
            label = f"best {monitor} (epoch {rows[best]['epoch']})"
            ax.axvline(epochs[best], color="grey", linestyle=":", linewidth=1.2, label=label)
        ax.set_xlabel("epoch (0 = the first, as in metrics.csv)")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_learning_curves(
    rows: Sequence[dict[str, Any]], path: Path, title: str = "", monitor: str | None = None, mode: str | None = None
) -> None:
    """``learning_curves_figure`` as a PNG file: the picture every run leaves."""
    save(learning_curves_figure(rows, title, monitor, mode), path, dpi=100)


def comparison_figure(
    runs: Sequence[tuple[str, Sequence[dict[str, Any]]]], metrics: Sequence[str], panel_size=(5.0, 3.8)
) -> Figure:
    """Several runs' learning curves on the same axes, a panel per metric: each run in a colour of its
    own, training solid and validation dashed, so that "change the structure, compare" is one look."""
    fig, axes = subplots(1, len(metrics), figsize=(panel_size[0] * len(metrics), panel_size[1]), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for colour, (label, rows) in enumerate(runs):
            epochs = epoch_positions(rows) if rows else []
            for stage, style in (("train", "-"), ("val", "--")):
                key = f"{stage}_{metric}"
                points = [(e, row[key]) for e, row in zip(epochs, rows) if row.get(key) not in (None, "")]
                if points:
                    ax.plot(
                        *zip(*points),
                        style,
                        color=f"C{colour % 10}",
                        marker="o",
                        markersize=2.5,
                        label=f"{label} ({stage})",
                    )
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_confusion_matrix(
    matrix: Any, class_names: Sequence[str], path: Path, title: str = "", measured: str = "test accuracy"
) -> None:
    """Counts of (true class, predicted class) on the test split (or the labelled images zoo.predict was
    given: ``measured="accuracy"``); the diagonal is what was right."""
    counts = [[int(v) for v in row] for row in matrix.tolist()]
    n = len(counts)
    size = max(4.0, 0.5 * n + 2)
    fig, ax = subplots(figsize=(size + 1, size))
    image = ax.imshow(counts, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046)
    ax.set_xticks(range(n), class_names, rotation=45, ha="right")
    ax.set_yticks(range(n), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    peak = max(max(row) for row in counts) or 1
    if n <= 20:
        for i, row in enumerate(counts):
            for j, value in enumerate(row):
                ax.text(
                    j, i, value, ha="center", va="center", fontsize=8, color="white" if value > peak / 2 else "black"
                )
    accuracy = sum(counts[i][i] for i in range(n)) / max(1, sum(map(sum, counts)))
    ax.set_title(f"{title} {measured} {accuracy:.4f}".strip())
    fig.tight_layout()
    save(fig, path, dpi=100)


def plot_decision_boundary(
    predict_proba: Any,
    train: tuple[Any, Any],
    test: tuple[Any, Any],
    path: Path,
    title: str = "",
    held_out: str = "test",
) -> None:
    """Two-feature data, as the TensorFlow Playground draws it: the model's probability of class 1 over
    the plane (orange to blue), training points ringed in white, test points (or the ``held_out``
    split's, so named in the legend) in black.

    ``predict_proba`` is one function, or a list of ``(title, function)`` drawn side by side (the same
    network at two epochs)."""
    import numpy as np
    import torch

    panels = [(title, predict_proba)] if callable(predict_proba) else list(predict_proba)
    xs = torch.cat([train[0], test[0]])
    lo, hi = xs.min(0).values, xs.max(0).values
    pad = (hi - lo) * 0.08
    g1 = torch.linspace(float(lo[0] - pad[0]), float(hi[0] + pad[0]), 200)
    g2 = torch.linspace(float(lo[1] - pad[1]), float(hi[1] + pad[1]), 200)
    mesh = torch.stack(torch.meshgrid(g1, g2, indexing="xy"), -1).reshape(-1, 2)
    fig, axes = subplots(1, len(panels), figsize=(6 * len(panels), 5.4), squeeze=False)
    for ax, (label, proba) in zip(axes[0], panels):
        probs = proba(mesh)[:, 1].reshape(200, 200).numpy()
        image = ax.contourf(g1.numpy(), g2.numpy(), probs, levels=np.linspace(0, 1, 21), cmap="RdYlBu", alpha=0.85)
        for (x, y), edge, name in ((train, "white", "train"), (test, "black", held_out)):
            ax.scatter(
                x[:, 0], x[:, 1], c=y, cmap="RdYlBu", vmin=0, vmax=1, s=14, edgecolors=edge, linewidths=0.6, label=name
            )
        ax.legend(loc="upper right", fontsize=8)
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
        if label:
            ax.set_title(label, fontsize=10 if len(panels) > 1 else None)
    fig.colorbar(image, ax=list(axes[0]), label="P(class 1)")
    if title and len(panels) > 1:
        fig.suptitle(title)
    save(fig, path, dpi=100, bbox_inches="tight")


def plot_curves_side_by_side(
    runs: Sequence[tuple[str, Sequence[dict[str, Any]]]], metrics: Sequence[str], path: Path, title: str = ""
) -> None:
    """The learning curves of several runs side by side (a search's best and worst trial): a column
    per run, a row per metric, each row on one scale so that the runs compare at a glance."""
    fig, axes = subplots(
        len(metrics), len(runs), figsize=(5.5 * len(runs), 3.4 * len(metrics) + 0.8), squeeze=False, sharey="row"
    )
    for column, (label, rows) in enumerate(runs):
        epochs = epoch_positions(rows) if rows else []
        for line, metric in enumerate(metrics):
            ax = axes[line][column]
            for stage, style in (("train", "-"), ("val", "--")):
                key = f"{stage}_{metric}"
                points = [(e, row[key]) for e, row in zip(epochs, rows) if row.get(key) not in (None, "")]
                if points:
                    ax.plot(*zip(*points), style, marker="o", markersize=2, label=stage)
            ax.set_xlabel("epoch")
            ax.set_ylabel(metric)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
            if line == 0:
                ax.set_title(label, fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    save(fig, path, dpi=100)


def plot_capacity(
    points: Sequence[tuple[int, float, float, float, float]], metric: str, path: Path, title: str = ""
) -> None:
    """Training and validation figures against the number of weights, one point per run
    ``(weights, train metric, val metric, train loss, val loss)``: under-fitting on the left (both
    poor), over-fitting on the right (training keeps improving, validation falls behind)."""
    points = sorted(points)
    sizes = [p[0] for p in points]
    fig, axes = subplots(1, 2, figsize=(11, 4.2))
    for ax, (name, train_at, val_at) in zip(axes, ((metric, 1, 2), ("loss", 3, 4))):
        ax.plot(sizes, [p[train_at] for p in points], "-o", markersize=4, label=f"train {name}")
        ax.plot(sizes, [p[val_at] for p in points], "--s", markersize=4, label=f"validation {name}")
        ax.set_xscale("log")
        ax.set_xlabel("weights in the model (capacity)")
        ax.set_ylabel(f"{name} at the last epoch")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    save(fig, path, dpi=100)


def _mosaic(
    tiles: Sequence[Any], labels: Sequence[str], path: Path, title: str, columns: int, inches: float = 0.9
) -> None:
    """Small pictures (each (H, W, 3) in [0, 1]), ``columns`` wide, each ``inches`` wide and labelled
    above, on white, as one image in one axes: a grid of axes, one per picture, took a matplotlib
    layout pass per axes (1.5 s for an MLP's 32 units; 0.1 s this way)."""
    import numpy as np

    h, w = tiles[0].shape[:2]
    rows = -(-len(tiles) // columns)
    # A picture's cell, in the picture's own pixels: itself, a gap beside it, room for its label above.
    gap, above = max(1, round(0.1 * w)), max(1, round(0.3 * h))
    cell_h, cell_w = h + above, w + gap
    canvas = np.ones((rows * cell_h, columns * cell_w, 3))
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        canvas[r * cell_h + above : (r + 1) * cell_h, c * cell_w : c * cell_w + w] = tile
    # The figure fits the canvas exactly (no letterbox), with a margin and room for the title's lines.
    scale = inches / w  # inches per picture pixel
    margin, head = 0.15, 0.1 + 0.22 * (title.count("\n") + 1)
    width, height = columns * cell_w * scale + 2 * margin, rows * cell_h * scale + margin + head
    fig = Figure(figsize=(width, height))
    ax = fig.add_axes((margin / width, margin / height, 1 - 2 * margin / width, 1 - (margin + head) / height))
    ax.imshow(canvas, interpolation="nearest", vmin=0, vmax=1, aspect="auto")
    for i, label in enumerate(labels[: len(tiles)]):
        r, c = divmod(i, columns)
        ax.text(c * cell_w + (w - 1) / 2, r * cell_h + above - 1, label, ha="center", va="bottom", fontsize=7)
    ax.axis("off")
    fig.suptitle(title, fontsize=10, y=1 - 0.08 / height, va="top")
    save(fig, path, dpi=100)


def _rgb(image: Any) -> Any:
    """(C, H, W) in [0, 1] as an (H, W, 3) array: in colour if C is 3, else the first channel in grey."""
    return (image if image.shape[0] == 3 else image[:1].expand(3, -1, -1)).permute(1, 2, 0).numpy()


def plot_filters(weight: Any, path: Path, title: str = "") -> None:
    """A convolution's filters (out, in, k, k), each as a small picture: in colour for RGB input (each
    filter scaled to its own range), grey for one channel (light: a positive weight, dark: negative)."""
    weight = weight.detach().float().cpu()
    tiles = []
    for kernel in weight:
        k = (kernel - kernel.min()) / (kernel.max() - kernel.min()).clamp_min(1e-8)
        tiles.append(_rgb(k))
    _mosaic(
        tiles,
        [str(i) for i in range(len(weight))],
        path,
        title or f"{len(weight)} filters of {tuple(weight.shape[-2:])} pixels",
        min(8, len(weight)),
    )


def plot_class_images(images: Any, labels: Sequence[str], path: Path, title: str = "") -> None:
    """Images (N, C, H, W) in [0, 1], each titled by its label and stretched to its own range of grey
    (but over no less than 0.2 of the scale: an image that is almost plain stays plain, not noise)."""
    images = images.detach().float().cpu()
    tiles = []
    for image in images:
        low, high = image.min().item(), image.max().item()
        span = max(high - low, 0.2)
        tiles.append(_rgb(((image - (low + high - span) / 2) / span).clamp(0, 1)))
    _mosaic(tiles, labels, path, title, min(5, len(images)), inches=1.0)


def plot_feature_maps(
    images: Any, stages: list[list[tuple[str, Any]]], path: Path, title: str = "", most: int = 16
) -> None:
    """For each image: the image, then what each stage made of it (a convolution's output, a pooling's),
    one small picture per channel (up to ``most``), each scaled to its own range. Pooling halves the
    maps and keeps the strongest responses: the lecture's "max pooling", made visible."""
    rows = [("input", image[None]) for image in images]
    layout = []
    for image_row, image_stages in zip(rows, stages):
        layout += [image_row, *image_stages]
    fig, axes = subplots(
        len(layout), most + 1, figsize=(0.75 * (most + 1) + 0.5, 0.8 * len(layout) + 0.8), squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    for r, (name, maps) in enumerate(layout):
        maps = maps.detach().float().cpu()
        axes[r][0].text(
            1.0,
            0.5,
            f"{name}\n{'x'.join(map(str, maps.shape[-2:]))}",
            ha="right",
            va="center",
            fontsize=7,
            transform=axes[r][0].transAxes,
        )
        if name == "input":
            image = maps[0]  # (C, H, W)
            colour = image.shape[0] == 3
            axes[r][1].imshow(
                image.permute(1, 2, 0).numpy() if colour else image[0].numpy(), cmap=None if colour else "gray"
            )
            continue
        for c, fmap in enumerate(maps[:most]):
            axes[r][c + 1].imshow(fmap.numpy(), cmap="viridis", interpolation="nearest")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save(fig, path, dpi=100)


def plot_embedding_map(words: list[str], vectors: Any, path: Path, title: str = "", labelled: int = 150) -> None:
    """The vectors of ``words`` (the most frequent first) laid out in 2-D by t-SNE (after PCA to 50
    dimensions), the first ``labelled`` words named: words used alike land near each other."""
    import numpy as np
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    x = np.asarray(vectors, dtype=np.float64)
    x = x / np.linalg.norm(x, axis=1, keepdims=True).clip(1e-12)  # cosine geometry, as most_similar
    if x.shape[1] > 50 and len(x) > 50:
        x = PCA(n_components=50, random_state=0).fit_transform(x)
    points = TSNE(n_components=2, perplexity=min(30, len(x) - 1), init="pca", random_state=0).fit_transform(x)
    fig, ax = subplots(figsize=(11, 9))
    ax.scatter(points[:, 0], points[:, 1], s=6, color="tab:blue", alpha=0.4)
    for word, (px, py) in zip(words[:labelled], points[:labelled]):
        ax.annotate(word, (px, py), fontsize=7, alpha=0.9, xytext=(2, 2), textcoords="offset points")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title or f"the {len(words)} most frequent words, t-SNE of their vectors ({labelled} named)")
    fig.tight_layout()
    save(fig, path, dpi=100)


def _regression_panels(count: int):
    fig, axes = subplots(1, count, figsize=(max(6.0, 4.8 * count), 4.8), squeeze=False)
    return fig, axes[0]


def plot_predictions(preds: Any, targets: Any, names: Sequence[str], path: Path, title: str = "") -> None:
    """Predicted against true values on the test split, one panel per target: points on the diagonal
    are exact; a cloud flatter than the diagonal is a model that predicts too close to the mean."""
    import numpy as np

    preds, targets = np.asarray(preds, dtype=float), np.asarray(targets, dtype=float)
    fig, axes = _regression_panels(len(names))
    for ax, name, p, t in zip(axes, names, preds.T, targets.T):
        r2 = 1 - ((t - p) ** 2).sum() / max(((t - t.mean()) ** 2).sum(), 1e-300)
        lo, hi = min(p.min(), t.min()), max(p.max(), t.max())
        ax.plot([lo, hi], [lo, hi], color="gray", linewidth=1, label="predicted = true")
        ax.scatter(t, p, s=14, alpha=0.7, edgecolors="none")
        ax.set_xlabel(f"true {name}")
        ax.set_ylabel(f"predicted {name}")
        ax.set_title(f"{name}: R² {r2:.3f}, RMSE {np.sqrt(((t - p) ** 2).mean()):.4g} ({len(t)} test rows)", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    if title:
        fig.suptitle(f"{title}\npredicted against true, test split", fontsize=10)
    fig.tight_layout()
    save(fig, path, dpi=100)


def plot_residuals(preds: Any, targets: Any, names: Sequence[str], path: Path, title: str = "") -> None:
    """Residuals (true - predicted) against the prediction on the test split, one panel per target: a
    good fit leaves a band around 0 with no shape; a curve or a funnel is what the model missed."""
    import numpy as np

    preds, targets = np.asarray(preds, dtype=float), np.asarray(targets, dtype=float)
    fig, axes = _regression_panels(len(names))
    for ax, name, p, t in zip(axes, names, preds.T, targets.T):
        residual = t - p
        ax.axhline(0, color="gray", linewidth=1)
        ax.scatter(p, residual, s=14, alpha=0.7, edgecolors="none")
        ax.set_xlabel(f"predicted {name}")
        ax.set_ylabel(f"true - predicted {name}")
        ax.set_title(f"{name}: mean residual {residual.mean():.3g}, MAE {np.abs(residual).mean():.4g}", fontsize=9)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(f"{title}\nresiduals, test split", fontsize=10)
    fig.tight_layout()
    save(fig, path, dpi=100)


def plot_learned_surface(
    predict: Any,
    train: tuple[Any, Any],
    test: tuple[Any, Any],
    path: Path,
    title: str = "",
    held_out: str = "test",
) -> None:
    """Two-feature regression, as the TensorFlow Playground draws it: the model's prediction over the
    plane, and the points coloured by their true value on the same scale (training points ringed in
    white, test points (or the ``held_out`` split's) in black): a point whose colour differs from the
    ground around it is missed."""
    import numpy as np
    import torch

    xs = torch.cat([train[0], test[0]])
    lo, hi = xs.min(0).values, xs.max(0).values
    pad = (hi - lo) * 0.05
    g1 = torch.linspace(float(lo[0] - pad[0]), float(hi[0] + pad[0]), 200)
    g2 = torch.linspace(float(lo[1] - pad[1]), float(hi[1] + pad[1]), 200)
    mesh = torch.stack(torch.meshgrid(g1, g2, indexing="xy"), -1).reshape(-1, 2)
    surface = predict(mesh).reshape(200, 200).numpy()
    values = torch.cat([train[1], test[1]]).reshape(-1).numpy()
    vmin, vmax = min(values.min(), surface.min()), max(values.max(), surface.max())
    fig, ax = subplots(figsize=(6, 5.4))
    image = ax.contourf(g1.numpy(), g2.numpy(), surface, levels=np.linspace(vmin, vmax, 21), cmap="RdYlBu", alpha=0.85)
    fig.colorbar(image, ax=ax, label="value (ground: predicted; points: true)")
    for (x, y), edge, label in ((train, "white", "train"), (test, "black", held_out)):
        ax.scatter(
            x[:, 0],
            x[:, 1],
            c=y.reshape(-1),
            cmap="RdYlBu",
            vmin=vmin,
            vmax=vmax,
            s=14,
            edgecolors=edge,
            linewidths=0.6,
            label=label,
        )
    ax.legend(loc="upper right", fontsize=8)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_title(f"{title}\nlearned surface" if title else "learned surface", fontsize=10)
    fig.tight_layout()
    save(fig, path, dpi=100)
