"""Pipeline.explain: Grad-CAM through the registry's compiled model, from the stored model input alone."""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image

from recognizer.inference.catalog import SPECS_BY_NAME
from recognizer.inference.errors import InvalidInput, NotExplainable
from recognizer.inference.imaging import decode_model_input
from recognizer.inference.pipeline import Pipeline
from recognizer.inference.registry import ModelRegistry
from tests.inference.conftest import MakeRegistry
from tests.inference.photos import CHELSEA, open_rgb
from tests.inference.test_gradcam import CHELSEA_CAT
from tests.inference.test_registry import tiny_spec

ORIENTATION = 0x0112


@pytest.fixture(scope="module")
def lite0_pipeline() -> Iterator[Pipeline]:
    registry = ModelRegistry([SPECS_BY_NAME["efficientnet_lite0"]], weights_mode="random")  # bundled: real
    yield Pipeline(registry, max_pixels=40_000_000)
    registry.close()


def sideways_jpeg(photo: Image.Image) -> bytes:
    """The photo stored rotated a quarter turn, with the EXIF orientation (6) that turns it upright."""
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    buffer = io.BytesIO()
    photo.transpose(Image.Transpose.ROTATE_90).save(buffer, format="JPEG", quality=95, exif=exif)
    return buffer.getvalue()


@pytest.mark.slow
def test_the_model_input_and_the_heatmap_are_in_the_upright_frame(lite0_pipeline: Pipeline) -> None:
    upright = open_rgb(CHELSEA)
    result = lite0_pipeline.classify(image_bytes=sideways_jpeg(upright), model_name="efficientnet_lite0")

    seen = decode_model_input(result.model_input, size=224)
    expected = np.asarray(upright.resize((224, 224), Image.Resampling.BILINEAR), dtype=np.float32)
    assert seen.shape == (224, 224, 3)
    assert np.abs(seen - expected).mean() < 8  # the same picture, upright (JPEG and resizing aside)

    explanation = lite0_pipeline.explain(
        model_name="efficientnet_lite0", model_input=result.model_input, photo=result.thumbnail
    )
    assert explanation.class_index == result.predictions[0].index
    grid = explanation.heatmap
    row, column = np.unravel_index(np.argmax(grid), grid.shape)
    x, y = (column + 0.5) * upright.width / grid.shape[1], (row + 0.5) * upright.height / grid.shape[0]
    left, top, right, bottom = CHELSEA_CAT
    assert left <= x <= right and top <= y <= bottom
    assert explanation.timings_ms["explain"] > 0 and explanation.overlay.startswith(b"\x89PNG")
    assert explanation.model_input.startswith(b"\x89PNG")  # shown as a picture


def test_classify_answers_hedge_and_confidence_from_the_full_scores(lite0_pipeline: Pipeline) -> None:
    buffer = io.BytesIO()
    open_rgb(CHELSEA).save(buffer, format="PNG")
    result = lite0_pipeline.classify(image_bytes=buffer.getvalue(), model_name="efficientnet_lite0")
    assert result.confidence in ("high", "low")
    assert result.as_dict()["hedge"] == result.hedge
    assert set(result.as_dict()) == {"model", "predictions", "hedge", "confidence", "timings_ms"}


def test_a_model_input_of_the_wrong_size_or_a_bad_class_is_refused(lite0_pipeline: Pipeline) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (100, 100)).save(buffer, format="PNG")
    with pytest.raises(InvalidInput, match="Expected a 224 x 224 RGB PNG model input. Received a 100 x 100"):
        lite0_pipeline.explain(model_name="efficientnet_lite0", model_input=buffer.getvalue(), photo=b"")
    with pytest.raises(InvalidInput, match="Expected a class index from 0 to 999. Received 1000"):
        lite0_pipeline.explain(model_name="efficientnet_lite0", model_input=b"", photo=b"", class_index=1000)


def test_a_model_without_a_feature_map_says_it_cannot_be_explained(make_registry: MakeRegistry) -> None:
    pipeline = Pipeline(make_registry([tiny_spec("tiny")], weights_mode="random"), max_pixels=1_000_000)
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), "white").save(buffer, format="PNG")
    with pytest.raises(NotExplainable, match="Expected a model with a convolutional feature map to explain"):
        pipeline.explain(model_name="tiny", model_input=buffer.getvalue(), photo=buffer.getvalue())
