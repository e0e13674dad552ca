from __future__ import annotations

import threading

from recognizer.inference.labels import Prediction
from recognizer.pages.charts import render_bar_chart_svg


def predictions(*pairs: tuple[str, float]) -> list[Prediction]:
    return [
        Prediction(index=i, class_id=f"n{i:08d}", label=label, score=score) for i, (label, score) in enumerate(pairs)
    ]


def test_a_reused_chart_shows_only_the_current_predictions() -> None:
    first = render_bar_chart_svg(predictions(("tabby", 0.6), ("tiger cat", 0.3)), title="ResNet50: top 2").decode()
    second = render_bar_chart_svg(predictions(("goldfish", 0.9), ("axolotl", 0.05)), title="VGG19: top 2").decode()
    assert "tabby" in first and "60.0%" in first and "ResNet50: top 2" in first
    assert "goldfish" in second and "90.0%" in second and "VGG19: top 2" in second
    assert "tabby" not in second and "ResNet50" not in second


def test_threads_drawing_at_once_each_get_their_own_chart() -> None:
    charts: dict[int, str] = {}

    def draw(index: int) -> None:
        for _ in range(5):
            charts[index] = render_bar_chart_svg(predictions((f"label-{index}", 0.5)), title=f"t{index}").decode()

    threads = [threading.Thread(target=draw, args=(index,)) for index in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(charts) == list(range(6))  # every thread drew
    for index, svg in charts.items():
        assert f"label-{index}" in svg
        assert not any(f"label-{other}<" in svg for other in charts if other != index)
