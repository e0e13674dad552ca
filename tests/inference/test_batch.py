from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image

from recognizer.inference.batch import ImageSource, classify_many
from recognizer.inference.errors import ModelNotFound
from recognizer.inference.pipeline import Pipeline
from recognizer.inference.registry import ModelRegistry
from tests.images import encode, scene_rgb


def distinct_jpegs(count: int) -> list[bytes]:
    """The same scene shifted sideways by a different amount each time."""
    scene = np.asarray(scene_rgb(200, 150))
    return [encode(Image.fromarray(np.roll(scene, index * 5, axis=1)), "JPEG") for index in range(count)]


def test_results_come_back_in_order_with_the_single_image_answers(registry: ModelRegistry) -> None:
    pipeline = Pipeline(registry, max_pixels=10**8)
    images = distinct_jpegs(20)
    results = list(
        classify_many(pipeline, ((f"img{i}", data) for i, data in enumerate(images)), model_name="resnet50", top_k=3)
    )
    assert [result.name for result in results] == [f"img{i}" for i in range(20)]
    for data, result in zip(images, results, strict=True):
        alone = pipeline.classify(image_bytes=data, model_name="resnet50", top_k=3)
        assert result.classification is not None
        assert [p.index for p in result.classification.predictions] == [p.index for p in alone.predictions]
        np.testing.assert_allclose(
            [p.score for p in result.classification.predictions], [p.score for p in alone.predictions], rtol=1e-4
        )


@pytest.mark.parametrize("count", [32, 64])
def test_a_collection_runs_in_full_batches(registry: ModelRegistry, count: int) -> None:
    # 32 is a job's chunk: fed one image at a time, the engine ran it as batches of 2, 16, 8, 4 and 2.
    pipeline = Pipeline(registry, max_pixels=10**8)
    results = list(classify_many(pipeline, enumerate(distinct_jpegs(count)), model_name="efficientnet_lite0"))
    assert [result.batch_size for result in results] == [registry.engine_config.max_batch] * count


def test_a_bad_image_or_unreadable_file_is_its_own_error_and_the_rest_go_on(registry: ModelRegistry) -> None:
    def unreadable() -> bytes:
        raise FileNotFoundError(2, "No such file or directory")

    good = distinct_jpegs(2)
    items: list[tuple[str, ImageSource]] = [
        ("a", good[0]),
        ("text", b"not an image"),
        ("gone", unreadable),
        ("b", good[1]),
    ]
    results = list(classify_many(Pipeline(registry, max_pixels=10**8), items, model_name="resnet50"))
    assert [result.name for result in results] == ["a", "text", "gone", "b"]
    assert results[0].classification is not None and results[3].classification is not None
    assert results[1].error is not None and results[1].error.startswith("Expected an image in one of JPEG")
    assert results[2].error == "Expected a readable file. Received No such file or directory"
    assert results[1].as_dict() == {"name": "text", "error": results[1].error}


def test_only_a_window_of_images_is_ever_in_flight(registry: ModelRegistry) -> None:
    image = distinct_jpegs(1)[0]
    taken = 0
    most_ahead = 0

    def items() -> Iterator[tuple[str, bytes]]:
        nonlocal taken
        for index in range(200):
            taken += 1
            yield str(index), image

    for finished, _ in enumerate(
        classify_many(Pipeline(registry, max_pixels=10**8), items(), model_name="efficientnet_lite0"), start=1
    ):
        most_ahead = max(most_ahead, taken - finished)
    # The groups running (one per place the model has), the next queued behind them, and one decoding.
    groups = registry.get("efficientnet_lite0").compiled.concurrency + 2
    window = min(groups * registry.engine_config.max_batch, registry.engine_config.queue_max)
    assert taken == 200
    assert most_ahead <= window


def test_an_unknown_model_fails_before_any_result(registry: ModelRegistry) -> None:
    with pytest.raises(ModelNotFound):
        next(classify_many(Pipeline(registry, max_pixels=10**8), [("a", b"")], model_name="alexnet"))


def test_a_consumer_may_stop_early(registry: ModelRegistry) -> None:
    image = distinct_jpegs(1)[0]
    results = classify_many(
        Pipeline(registry, max_pixels=10**8), ((str(i), image) for i in range(100)), model_name="efficientnet_lite0"
    )
    first = [next(results) for _ in range(3)]
    results.close()
    assert [result.name for result in first] == ["0", "1", "2"]
