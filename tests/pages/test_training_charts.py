"""The training charts: the progress redrawn with each epoch, the confusion matrix with its counts, and the
text alternatives that say the same in words."""

from __future__ import annotations

import re

from recognizer.pages.training_charts import (
    confusion_alt_text,
    confusion_chart_svg,
    progress_alt_text,
    progress_chart_svg,
)

EPOCHS = [
    {"epoch": 1, "loss": 0.9, "val_accuracy": 0.5},
    {"epoch": 2, "loss": 0.4, "val_accuracy": 0.75},
    {"epoch": 3, "loss": 0.2, "val_accuracy": 1.0},
]


def test_the_progress_chart_shows_the_epochs_so_far() -> None:
    waiting = progress_chart_svg([]).decode()
    assert waiting.startswith("<?xml") and "Waiting for the first epoch" in waiting
    drawn = progress_chart_svg(EPOCHS).decode()
    assert "Epoch 3" in drawn and "training loss" in drawn and "validation accuracy (%)" in drawn
    assert "Epoch 2" not in drawn


def test_the_confusion_matrix_writes_each_count_and_class() -> None:
    svg = confusion_chart_svg([[7, 1], [0, 12]], ["ripe", "a very long class name indeed"]).decode()
    assert "true class" in svg and "predicted class" in svg and "ripe" in svg
    assert "a very long class…" in svg  # cut to fit beside the matrix
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert texts[texts.index("true class") + 1 :][:4] == ["7", "1", "0", "12"]  # the cells, row by row


def test_the_text_alternatives_say_what_the_charts_show() -> None:
    assert progress_alt_text([]) == "Training progress chart: no epoch finished yet"
    assert progress_alt_text(EPOCHS) == (
        "Training progress chart over 3 epochs: training loss now 0.200, validation accuracy now 100%"
    )
    assert confusion_alt_text([[7, 1], [0, 12]], ["ripe", "unripe"]) == (
        "Confusion matrix of the validation photos. ripe: 7 as ripe, 1 as unripe; unripe: 0 as ripe, 12 as unripe"
    )
