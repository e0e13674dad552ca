"""The per-process budget of decoded pixels in flight (recognizer/inference/budget.py)."""

from __future__ import annotations

import pytest

from recognizer.inference.budget import DecodeBudget
from recognizer.inference.errors import Overloaded
from recognizer.inference.imaging import decoded_pixel_count
from recognizer.inference.pipeline import Pipeline
from recognizer.inference.registry import ModelRegistry
from tests.images import encode, png_bytes, scene_rgb


def test_a_reservation_over_the_budget_is_refused_at_once_and_released_ones_come_back() -> None:
    budget = DecodeBudget(10_000_000)
    with budget.reserve(6_000_000):
        with budget.reserve(4_000_000):
            assert budget.in_flight_pixels == 10_000_000
        with pytest.raises(Overloaded, match=r"within 10 megapixels\. Received 5\.0 more while 6\.0"):
            with budget.reserve(5_000_000):
                pass
        assert budget.in_flight_pixels == 6_000_000
    assert budget.in_flight_pixels == 0


def test_one_image_larger_than_the_budget_is_admitted_when_nothing_else_is_in_flight() -> None:
    budget = DecodeBudget(1_000_000)
    with budget.reserve(3_000_000):
        with pytest.raises(Overloaded):
            with budget.reserve(1):
                pass
    assert budget.in_flight_pixels == 0


def test_a_failing_block_gives_its_pixels_back() -> None:
    budget = DecodeBudget(1_000_000)
    with pytest.raises(RuntimeError):
        with budget.reserve(500_000):
            raise RuntimeError("decoder failed")
    assert budget.in_flight_pixels == 0


def test_the_header_count_is_what_a_jpeg_draft_really_decodes() -> None:
    jpeg = encode(scene_rgb(2000, 1600), "JPEG")
    assert decoded_pixel_count(jpeg, max_pixels=10**8) == 2000 * 1600
    assert decoded_pixel_count(jpeg, max_pixels=10**8, target_size=224) == 250 * 200 * 4  # 1/4 scale: 500x400
    assert decoded_pixel_count(png_bytes(320, 240), max_pixels=10**8, target_size=224) == 320 * 240


def test_classify_and_compare_are_refused_503_while_the_budget_is_taken(registry: ModelRegistry) -> None:
    budget = DecodeBudget(1_000_000)
    pipeline = Pipeline(registry, max_pixels=10**8, decode_budget=budget)
    image = png_bytes(800, 600)
    with budget.reserve(600_000):
        with pytest.raises(Overloaded) as refused:
            pipeline.classify(image_bytes=image, model_name="resnet50", top_k=3)
        assert refused.value.status == 503 and refused.value.retry_after_s == 1
        with pytest.raises(Overloaded):
            pipeline.compare(image_bytes=image, top_k=3)
    assert pipeline.classify(image_bytes=image, model_name="resnet50", top_k=3).predictions
    assert len(pipeline.compare(image_bytes=image, top_k=3).results) == len(registry.names)
    assert budget.in_flight_pixels == 0
