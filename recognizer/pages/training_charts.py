"""The charts of a custom model's training, drawn with matplotlib's object API (never pyplot: global state)
as SVG with text kept as text (charts.py sets that): the progress (training loss and validation accuracy
per epoch, drawn again as each epoch comes) and the confusion matrix of the validation photos."""

from __future__ import annotations

import io
from collections.abc import Sequence

from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from recognizer.pages import charts  # noqa: F401  (sets svg.fonttype: text stays text)

LOSS_COLOR = "#b02a37"
ACCURACY_COLOR = "#0d6efd"
MAX_LABEL_CHARS = 18


def progress_chart_svg(epochs: Sequence[dict[str, float]]) -> bytes:
    """Loss (left axis) and validation accuracy in % (right axis) per epoch; an empty frame before the first."""
    figure = Figure(figsize=(6.4, 3.2), layout="constrained")
    FigureCanvasSVG(figure)
    loss_axes = figure.add_subplot()
    accuracy_axes = loss_axes.twinx()
    numbers = [row["epoch"] for row in epochs]
    loss_axes.plot(numbers, [row["loss"] for row in epochs], color=LOSS_COLOR, marker=".", label="training loss")
    accuracy_axes.plot(
        numbers, [100 * row["val_accuracy"] for row in epochs], color=ACCURACY_COLOR, marker=".",
        label="validation accuracy",
    )  # fmt: skip
    loss_axes.set_xlabel("epoch")
    loss_axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    loss_axes.set_ylabel("training loss", color=LOSS_COLOR)
    accuracy_axes.set_ylabel("validation accuracy (%)", color=ACCURACY_COLOR)
    accuracy_axes.set_ylim(0, 105)
    loss_axes.set_xlim(0.5, max(10, len(epochs)) + 0.5)
    loss_axes.set_ylim(bottom=0)
    loss_axes.set_title("Waiting for the first epoch" if not epochs else f"Epoch {numbers[-1]}")
    return _svg(figure)


def confusion_chart_svg(confusion: Sequence[Sequence[int]], classes: Sequence[str]) -> bytes:
    """Rows: the true class, columns: the class predicted; each cell's count written in it."""
    count = len(classes)
    side = min(9.0, 2.0 + 0.55 * count)
    figure = Figure(figsize=(side + 1.2, side), layout="constrained")
    FigureCanvasSVG(figure)
    axes = figure.add_subplot()
    image = axes.imshow(confusion, cmap="Blues", vmin=0)
    highest = max((max(row) for row in confusion), default=0)
    for row, values in enumerate(confusion):
        for column, value in enumerate(values):
            color = "white" if highest and value > highest / 2 else "black"
            axes.text(column, row, str(value), ha="center", va="center", color=color)
    labels = [_shorten(label) for label in classes]
    axes.set_xticks(range(count), labels, rotation=45 if count > 3 else 0, ha="right" if count > 3 else "center")
    axes.set_yticks(range(count), labels)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    figure.colorbar(image, ax=axes, shrink=0.8, ticks=MaxNLocator(integer=True))
    return _svg(figure)


def progress_alt_text(epochs: Sequence[dict[str, float]]) -> str:
    if not epochs:
        return "Training progress chart: no epoch finished yet"
    last = epochs[-1]
    return (
        f"Training progress chart over {len(epochs)} epoch{'s' if len(epochs) != 1 else ''}: training loss now "
        f"{last['loss']:.3f}, validation accuracy now {last['val_accuracy']:.0%}"
    )


def confusion_alt_text(confusion: Sequence[Sequence[int]], classes: Sequence[str]) -> str:
    rows = [
        f"{label}: " + ", ".join(f"{value} as {predicted}" for predicted, value in zip(classes, row, strict=True))
        for label, row in zip(classes, confusion, strict=True)
    ]
    return "Confusion matrix of the validation photos. " + "; ".join(rows)


def _shorten(label: str) -> str:
    return label if len(label) <= MAX_LABEL_CHARS else label[: MAX_LABEL_CHARS - 1] + "…"


def _svg(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg")
    return buffer.getvalue()
