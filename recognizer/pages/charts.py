"""Top-k bar chart drawn with matplotlib's object API (never pyplot: it is global state).

Building a Figure and laying out axes, ticks and a constrained layout costs about 60 ms, more than
the forward pass it illustrates. So each thread keeps one Figure per bar count with a fixed layout,
and a request only updates the bar widths and the texts before writing the SVG (about 5 ms). Text
is written as SVG text (the browser draws the glyphs) instead of as paths.
"""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.text import Text

from recognizer.inference.labels import Prediction

BAR_COLOR = "#0d6efd"
MAX_LABEL_CHARS = 28

# Read when an SVG is written; set once here, the only module of the app that draws.
matplotlib.rcParams["svg.fonttype"] = "none"


class _BarChart:
    """A Figure with n empty bars, their label and value texts, and a title, laid out once."""

    def __init__(self, bar_count: int) -> None:
        height_in = 0.45 * bar_count + 1.0
        self.figure = Figure(figsize=(6.4, height_in))
        FigureCanvasSVG(self.figure)
        title_space = 0.7 / height_in
        axes = self.figure.add_axes((0.38, 0.04, 0.5, 0.96 - title_space - 0.04))
        axes.set_xlim(0, 100)
        axes.set_ylim(-0.6, bar_count - 0.4)
        axes.set_axis_off()
        axes.axvline(0, color="black", linewidth=0.8)
        self.bars = list(axes.barh(range(bar_count), [0.0] * bar_count, color=BAR_COLOR))
        self.names: list[Text] = [axes.text(-2, row, "", ha="right", va="center") for row in range(bar_count)]
        self.values: list[Text] = [axes.text(0, row, "", ha="left", va="center") for row in range(bar_count)]
        self.title = self.figure.text(0.5, 1 - 0.15 / height_in, "", ha="center", va="top", fontsize="large")

    def render_svg(self, labels: Sequence[str], percents: Sequence[float], title: str) -> bytes:
        for bar, name, value, label, percent in zip(self.bars, self.names, self.values, labels, percents, strict=True):
            bar.set_width(percent)
            name.set_text(_shorten(label))
            value.set_text(f"{percent:.1f}%")
            value.set_x(percent + 1.5)
        self.title.set_text(title)
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="svg")
        return buffer.getvalue()


_charts = threading.local()


def render_bar_chart_svg(predictions: Sequence[Prediction], *, title: str = "") -> bytes:
    """Horizontal bars, best on top, probabilities as percentages; an SVG document."""
    labels = [prediction.label for prediction in predictions][::-1]
    percents = [prediction.score * 100.0 for prediction in predictions][::-1]
    charts: dict[int, _BarChart] = _charts.__dict__.setdefault("by_count", {})
    chart = charts.get(len(predictions))
    if chart is None:
        chart = charts[len(predictions)] = _BarChart(len(predictions))
    return chart.render_svg(labels, percents, title)


def _shorten(label: str) -> str:
    return label if len(label) <= MAX_LABEL_CHARS else label[: MAX_LABEL_CHARS - 1] + "…"


def data_uri(data: bytes, *, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class ChartImage:
    uri: str
    alt: str


def chart_image(predictions: Sequence[Prediction], *, title: str) -> ChartImage:
    """The chart as an inline SVG `data:` URI, with its text alternative."""
    svg = render_bar_chart_svg(predictions, title=title)
    return ChartImage(uri=data_uri(svg, mime="image/svg+xml"), alt=chart_alt_text(predictions))


def chart_alt_text(predictions: Sequence[Prediction]) -> str:
    return "Bar chart of the top predictions: " + ", ".join(
        f"{prediction.label} {prediction.score:.1%}" for prediction in predictions
    )
