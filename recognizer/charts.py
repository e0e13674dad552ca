"""Top-k bar chart drawn with matplotlib's object API on Agg (never pyplot: it is global state)."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from recognizer.labels import Prediction

BAR_COLOR = "#0d6efd"


def render_bar_chart_svg(predictions: Sequence[Prediction], *, title: str = "") -> bytes:
    """Horizontal bars, best on top, probabilities as percentages; an SVG document."""
    labels = [prediction.label for prediction in predictions][::-1]
    percents = [prediction.score * 100.0 for prediction in predictions][::-1]
    figure = Figure(figsize=(6.4, 0.45 * len(predictions) + 1.0), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    bars = axes.barh(labels, percents, color=BAR_COLOR)
    axes.bar_label(bars, labels=[f"{p:.1f}%" for p in percents], padding=3)
    axes.set_xlim(0, 100)
    axes.set_xlabel("probability (%)")
    axes.spines[["top", "right"]].set_visible(False)
    if title:
        axes.set_title(title)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg")
    return buffer.getvalue()


def svg_data_uri(svg: bytes) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


def chart_alt_text(predictions: Sequence[Prediction]) -> str:
    return "Bar chart of the top predictions: " + ", ".join(
        f"{prediction.label} {prediction.score:.1%}" for prediction in predictions
    )
