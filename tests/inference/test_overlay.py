"""The Grad-CAM overlay drawn with NumPy and Pillow: the heatmap where it belongs, the photo under it, a colour bar."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest
from PIL import Image

from recognizer.inference.overlay import (
    BAR_GAP,
    BAR_MIN_HEIGHT,
    OVERLAY_ALPHA,
    OVERLAY_MAX_SIDE,
    blend,
    colour_bar,
    colour_table,
    render_overlay_png,
    upsample_heatmap,
)
from tests.inference.photos import CHELSEA, open_rgb

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def decoded(png: bytes) -> Image.Image:
    assert png.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        return image.convert("RGB")


def test_upsampling_keeps_rows_top_to_bottom_and_columns_left_to_right() -> None:
    heatmap = np.zeros((7, 7), dtype=np.float32)
    heatmap[1, 5] = 1.0

    frame = upsample_heatmap(heatmap, (700, 350))

    assert frame.shape == (350, 700)
    row, column = np.unravel_index(frame.argmax(), frame.shape)
    assert 50 <= row < 100 and 500 <= column < 600
    assert frame.min() >= 0.0 and frame.max() <= 1.0


def test_the_colour_table_runs_from_dark_blue_to_dark_red() -> None:
    table = colour_table()

    assert table.shape == (256, 3)
    low, high = table[0], table[-1]
    assert low[2] > 100 and low[0] < 10 and low[1] < 10  # jet starts dark blue
    assert high[0] > 100 and high[1] < 10 and high[2] < 10  # and ends dark red


def test_blending_keeps_the_photo_under_the_heatmap_colour() -> None:
    pixels = np.full((2, 2, 3), 200, dtype=np.uint8)
    relevance = np.array([[0.0, 1.0], [0.5, 0.5]], dtype=np.float32)

    mixed = blend(pixels, relevance).astype(np.float32)

    expected_hot = 200 * (1 - OVERLAY_ALPHA) + colour_table()[255] * OVERLAY_ALPHA
    assert np.allclose(mixed[0, 1], expected_hot, atol=1)
    assert mixed[0, 0, 2] > mixed[0, 0, 0]  # cold: bluer than red
    assert mixed[0, 1, 0] > mixed[0, 1, 2]  # hot: redder than blue
    assert (mixed >= 200 * (1 - OVERLAY_ALPHA) - 1).all()  # the photo still shows through everywhere


def test_the_overlay_is_the_photo_with_the_heatmap_over_it_and_a_colour_bar_beside() -> None:
    photo = Image.new("RGB", (300, 200), (128, 128, 128))
    heatmap = np.zeros((7, 7), dtype=np.float32)
    heatmap[0, 6] = 1.0  # all the evidence in the top right corner

    overlay = decoded(render_overlay_png(photo, heatmap))

    assert overlay.height == 200 and overlay.width > 300 + BAR_GAP
    pixels = np.asarray(overlay).astype(int)
    top_right, bottom_left = pixels[5, 295], pixels[195, 5]
    assert top_right[0] > top_right[2] + 50  # red where the evidence is
    assert bottom_left[2] > bottom_left[0] + 50  # blue where there is none
    bar = pixels[:, 300 + BAR_GAP + 2]  # a column inside the colour bar
    assert bar[15, 0] > bar[15, 2] and bar[-15, 2] > bar[-15, 0]  # relevance 1 at the top, 0 at the bottom
    assert (pixels[:, 300 + BAR_GAP + 60 :] < 128).any()  # its labels are drawn (dark text on white)


@pytest.mark.parametrize(
    ("size", "shown"),
    [((4000, 3000), (640, 480)), ((900, 1600), (360, 640)), ((2000, 100), (640, 32)), ((50, 40), (50, 40))],
    ids=["landscape", "portrait", "panorama", "tiny"],
)
def test_any_photo_shape_gives_a_bounded_overlay_with_a_readable_colour_bar(
    size: tuple[int, int], shown: tuple[int, int]
) -> None:
    heatmap = np.linspace(0, 1, 49, dtype=np.float32).reshape(7, 7)

    overlay = decoded(render_overlay_png(Image.new("RGB", size, "white"), heatmap))

    assert overlay.height == max(shown[1], BAR_MIN_HEIGHT)
    assert shown[0] + BAR_GAP < overlay.width <= OVERLAY_MAX_SIDE + BAR_GAP + colour_bar(overlay.height).width


def test_a_real_photo_keeps_its_content_under_the_overlay() -> None:
    photo = open_rgb(CHELSEA)
    flat = np.zeros((7, 7), dtype=np.float32)  # no evidence anywhere: the photo under one uniform colour

    overlay = np.asarray(decoded(render_overlay_png(photo, flat)))[:, : photo.width].astype(np.float32)

    original = np.asarray(photo).astype(np.float32)
    expected = original * (1 - OVERLAY_ALPHA) + colour_table()[0] * OVERLAY_ALPHA
    assert overlay.shape == original.shape
    assert np.abs(overlay - expected).max() <= 1.0


def test_threads_drawing_at_once_all_get_the_same_overlay() -> None:
    photo = Image.new("RGB", (321, 123), (90, 140, 60))
    heatmap = np.random.default_rng(0).uniform(0, 1, (7, 7)).astype(np.float32)
    colour_bar.cache_clear()
    results: list[bytes] = []

    def draw() -> None:
        results.append(render_overlay_png(photo, heatmap))

    threads = [threading.Thread(target=draw) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 8 and len(set(results)) == 1
