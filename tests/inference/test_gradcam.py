from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image, ImageOps

from recognizer.inference.gradcam import GradCam, heatmaps_from, last_conv_layer
from recognizer.inference.registry import ModelRegistry
from recognizer.inference.zoo.efficientnet_lite import build_efficientnet_lite0_architecture
from tests.inference.photos import CHELSEA, COFFEE, model_batch, open_rgb

TABBY, TIGER_CAT, EGYPTIAN_CAT = 281, 282, 285
ESPRESSO = 967

# (left, top, right, bottom) in pixels of the photo, drawn generously around the object by looking at it.
Box = tuple[int, int, int, int]
CHELSEA_CAT: Box = (30, 0, 390, 300)  # the cat's head; not the blurred room on the right (451 x 300 photo)
COFFEE_CUP: Box = (165, 10, 425, 310)  # cup, handle and spoon; not the saucer's rim or the table (600 x 400)


@pytest.fixture(scope="module")
def tiny_cam_model() -> keras.Model:
    """4 x 4 x 2 input -> identity 1x1 conv (the maps are the input) -> global average -> Dense(3, softmax)."""
    inputs = keras.Input((4, 4, 2))
    maps = keras.layers.Conv2D(2, 1, use_bias=False, name="maps")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(maps)
    outputs = keras.layers.Dense(3, activation="softmax", name="predictions")(pooled)
    model = keras.Model(inputs, outputs)
    model.get_layer("maps").set_weights([np.eye(2, dtype=np.float32).reshape(1, 1, 2, 2)])
    dense = np.array([[2.0, -1.0, 0.5], [1.0, 3.0, -0.5]], dtype=np.float32)
    model.get_layer("predictions").set_weights([dense, np.zeros(3, dtype=np.float32)])
    return model


def test_a_global_average_model_gets_the_class_activation_map_of_its_logit(tiny_cam_model: keras.Model) -> None:
    """With global average pooling, Grad-CAM of the logit is CAM: ReLU(sum_k w_kc A_k), here by hand.
    The probability's gradient would weigh the channels differently (by p_c (w_kc - sum_j p_j w_kj))."""
    image = np.random.default_rng(3).normal(size=(4, 4, 2)).astype(np.float32)
    dense = tiny_cam_model.get_layer("predictions").get_weights()[0]

    for class_index in range(3):
        expected = np.maximum(image @ dense[:, class_index], 0)
        expected = expected / expected.max()

        heatmap = GradCam(tiny_cam_model).explain(image, class_index)

        np.testing.assert_allclose(heatmap, expected, atol=1e-5)


@pytest.mark.parametrize(
    ("build", "layer_name"),
    [
        (lambda: keras.applications.ResNet50(weights=None), "conv5_block3_out"),
        (lambda: keras.applications.VGG19(weights=None), "block5_pool"),
        (build_efficientnet_lite0_architecture, "head_activation"),
    ],
    ids=["resnet50", "vgg19", "efficientnet_lite0"],
)
def test_the_last_conv_block_is_found_and_heatmaps_are_a_7x7_grid_in_0_1(
    build: Callable[[], keras.Model], layer_name: str
) -> None:
    model = build()
    batch = np.random.default_rng(0).uniform(-1, 1, (2, 224, 224, 3)).astype(np.float32)

    cam = GradCam(model)
    heatmaps = cam.explain(batch, [1, 2])

    assert last_conv_layer(model).name == layer_name
    assert cam.layer.name == layer_name
    assert heatmaps.shape == (2, 7, 7)
    assert heatmaps.dtype == np.float32
    assert np.isfinite(heatmaps).all()
    assert heatmaps.min() >= 0.0
    for heatmap in heatmaps:
        assert heatmap.max() == 0.0 or heatmap.max() == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("name", "layer_name", "grid"),
    [("inception_v3", "mixed10", 8), ("densenet121", "relu", 7)],
)
def test_the_optional_models_are_explained_too(
    three_models: ModelRegistry, name: str, layer_name: str, grid: int
) -> None:
    """InceptionV3 and DenseNet121 (random weights, the session's loaded models); VGG16 is VGG19's family."""
    model = three_models.get(name)
    size = model.spec.input_size
    pixels = np.random.default_rng(1).uniform(0, 255, (size, size, 3)).astype(np.float32)
    class_index, heatmap = model.explain(pixels, None)
    assert GradCam(model.compiled.model).layer.name == layer_name
    assert 0 <= class_index < 1000
    assert heatmap.shape == (grid, grid) and np.isfinite(heatmap).all()
    assert heatmap.min() >= 0.0 and (heatmap.max() == 0.0 or heatmap.max() == pytest.approx(1.0))


def test_a_batch_explains_each_image_as_if_alone(tiny_cam_model: keras.Model) -> None:
    batch = np.random.default_rng(1).normal(size=(3, 4, 4, 2)).astype(np.float32)
    cam = GradCam(tiny_cam_model)

    together = cam.run(batch, [0, 1, 2])

    for index, image in enumerate(batch):
        np.testing.assert_allclose(together.heatmaps[index], cam.explain(image, index), atol=1e-6)
    np.testing.assert_array_equal(together.class_indices, [0, 1, 2])
    np.testing.assert_allclose(together.probabilities, keras.ops.convert_to_numpy(tiny_cam_model(batch)), atol=1e-6)


def test_without_a_class_the_top1_class_is_explained(tiny_cam_model: keras.Model) -> None:
    batch = np.random.default_rng(2).normal(size=(4, 4, 4, 2)).astype(np.float32)
    cam = GradCam(tiny_cam_model)

    result = cam.run(batch)

    top = result.probabilities.argmax(axis=1)
    np.testing.assert_array_equal(result.class_indices, top)
    np.testing.assert_allclose(result.heatmaps, cam.run(batch, top.tolist()).heatmaps, atol=1e-6)


@pytest.mark.parametrize("class_index", [3, -1, [0, 1]], ids=["too-high", "negative", "two-for-one-image"])
def test_class_indices_out_of_range_or_miscounted_are_refused(
    tiny_cam_model: keras.Model, class_index: int | list[int]
) -> None:
    with pytest.raises(ValueError, match="one class index in 0..2 per image"):
        GradCam(tiny_cam_model).explain(np.zeros((4, 4, 2), dtype=np.float32), class_index)


def test_no_positive_evidence_gives_an_all_zero_map_without_nan() -> None:
    maps = np.ones((1, 7, 7, 4), dtype=np.float32)

    heatmaps = heatmaps_from(maps, np.full_like(maps, -0.5))

    np.testing.assert_array_equal(heatmaps, np.zeros((1, 7, 7), dtype=np.float32))


@pytest.fixture(scope="module")
def lite0_cam(efficientnet_lite0: keras.Model) -> GradCam:
    return GradCam(efficientnet_lite0)


def _as_is(photo: Image.Image, box: Box) -> tuple[Image.Image, Box]:
    return photo, box


def _on_a_square_canvas_at_the_top(photo: Image.Image, box: Box) -> tuple[Image.Image, Box]:
    """Letterboxed with white below: an upside-down heatmap would point at the white."""
    canvas = Image.new("RGB", (photo.width, photo.width), "white")
    canvas.paste(photo, (0, 0))
    return canvas, box


def _on_a_wider_canvas_at_the_right(photo: Image.Image, box: Box) -> tuple[Image.Image, Box]:
    margin = photo.width // 4
    canvas = Image.new("RGB", (photo.width + margin, photo.height), "white")
    canvas.paste(photo, (margin, 0))
    left, top, right, bottom = box
    return canvas, (left + margin, top, right + margin, bottom)


def _flipped(
    place: Callable[[Image.Image, Box], tuple[Image.Image, Box]],
) -> Callable[[Image.Image, Box], tuple[Image.Image, Box]]:
    def place_and_flip(photo: Image.Image, box: Box) -> tuple[Image.Image, Box]:
        canvas, (left, top, right, bottom) = place(photo, box)
        return ImageOps.mirror(canvas), (canvas.width - right, top, canvas.width - left, bottom)

    return place_and_flip


def _hottest_cell_centre(heatmap: np.ndarray, frame: Image.Image) -> tuple[float, float]:
    rows, columns = heatmap.shape
    row, column = np.unravel_index(heatmap.argmax(), heatmap.shape)
    return (column + 0.5) * frame.width / columns, (row + 0.5) * frame.height / rows


@pytest.mark.slow
@pytest.mark.parametrize(
    "place",
    [
        _as_is,
        _flipped(_as_is),
        _on_a_square_canvas_at_the_top,
        _flipped(_on_a_square_canvas_at_the_top),
        _on_a_wider_canvas_at_the_right,
        _flipped(_on_a_wider_canvas_at_the_right),
    ],
    ids=["as-is", "flipped", "square-canvas", "square-canvas-flipped", "wider-canvas", "wider-canvas-flipped"],
)
@pytest.mark.parametrize(
    ("photo_path", "classes", "box"),
    [(CHELSEA, {TABBY, TIGER_CAT, EGYPTIAN_CAT}, CHELSEA_CAT), (COFFEE, {ESPRESSO}, COFFEE_CUP)],
    ids=["chelsea-cat", "coffee-cup"],
)
def test_the_top1_class_is_seen_on_the_object(
    lite0_cam: GradCam,
    place: Callable[[Image.Image, Box], tuple[Image.Image, Box]],
    photo_path: Path,
    classes: set[int],
    box: Box,
) -> None:
    frame, (left, top, right, bottom) = place(open_rgb(photo_path), box)

    result = lite0_cam.run(model_batch(frame))
    x, y = _hottest_cell_centre(result.heatmaps[0], frame)

    assert int(result.class_indices[0]) in classes
    assert left <= x <= right and top <= y <= bottom, (
        f"hottest cell centre {(x, y)} outside {(left, top, right, bottom)}"
    )
