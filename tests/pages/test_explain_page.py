"""The result page explains its answer: the heatmap, what the model saw, the hedge, any class on request."""

from __future__ import annotations

import re

import keras
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from recognizer.history.models import HistoryEntry
from recognizer.inference.registry import ModelRegistry
from tests.conftest import ServeRegistry
from tests.images import png_bytes
from tests.inference.test_registry import TINY_INPUT, tiny_spec


def classify(client: Client, *, model: str = "efficientnet_lite0", data: bytes | None = None) -> str:
    file = SimpleUploadedFile("photo.png", data or png_bytes(), content_type="image/png")
    response = client.post("/", {"image": file, "model": model})
    assert response.status_code == 303
    return response["Location"]


def heatmap_class(html: str) -> int:
    found = re.search(r'id="heatmap-image" data-class-index="(\d+)"', html)
    assert found, "no heatmap on the page"
    return int(found.group(1))


def test_the_permalink_shows_the_top1_heatmap_the_model_input_and_the_photo(
    client: Client, registry: ModelRegistry
) -> None:
    location = classify(client)
    html = client.get(location).content.decode()
    entry = HistoryEntry.objects.get()
    assert heatmap_class(html) == entry.predictions[0]["index"]
    assert re.search(r'src="data:image/png;base64,[^"]+" class="img-fluid" id="heatmap-image"', html)
    assert "What the model saw: the photo upright, in RGB, squashed to 224 x 224 pixels" in html
    assert 'src="data:image/jpeg;base64,' in html  # the photo
    timings = html.split('id="timings"')[1].split("</table>")[0]
    assert ">explain<" in timings and ">overlay<" in timings


def test_a_class_link_shows_that_class_heatmap(client: Client, registry: ModelRegistry) -> None:
    location = classify(client)
    html = client.get(location).content.decode()
    links = re.findall(r'href="([^"]+\?class=(\d+)#explanation)"', html)
    assert len(links) == 5
    href, index = links[2]
    other = client.get(href).content.decode()
    assert heatmap_class(other) == int(index)
    assert '<tr class="table-active" aria-current="true"><td>3</td>' in other


@pytest.mark.parametrize("value", ["1000", "-1", "cat", "1e3"])
def test_a_bad_class_is_a_400_naming_what_was_expected(client: Client, registry: ModelRegistry, value: str) -> None:
    location = classify(client)
    response = client.get(location, {"class": value})
    assert response.status_code == 400
    assert "Expected class to be a class index from 0 to 999" in response.content.decode()


def test_the_fragment_is_the_result_without_the_page(client: Client, registry: ModelRegistry) -> None:
    location = classify(client)
    html = client.get(location, {"fragment": "1"}).content.decode()
    assert html.lstrip().startswith('<h2 class="h4" id="live-result-title">')
    assert "<html" not in html and 'id="upload-form"' not in html
    assert 'id="top-k-chart"' in html and 'id="heatmap-image"' in html and 'id="predictions"' in html


def set_scores(entry: HistoryEntry, scores: list[float]) -> None:
    """Store a result as a model that answered `scores` for its top classes would have."""
    for prediction, score in zip(entry.predictions, scores, strict=False):
        prediction["score"] = score
    entry.save()


def test_a_hedge_shows_beside_an_uncertain_top1(client: Client, registry: ModelRegistry) -> None:
    location = classify(client)
    entry = HistoryEntry.objects.get()
    entry.hedge = {"label": "domestic cat", "class_id": "n02121808", "score": 0.97}
    entry.confidence = "high"
    set_scores(entry, [0.45, 0.3, 0.2, 0.03, 0.01])
    html = client.get(location).content.decode()
    hedge = html.split('id="hedge"')[1].split("</p>")[0]
    assert "Probably domestic cat (97.00%)" in hedge
    assert f"{entry.predictions[0]['label']} (45.00%)" in hedge
    assert 'id="low-confidence"' not in html

    set_scores(entry, [0.6, 0.3, 0.05, 0.03, 0.01])
    assert 'id="hedge"' not in client.get(location).content.decode()  # a sure top-1 needs no hedge


def test_low_confidence_says_it_looks_like_none_of_the_classes(client: Client, serve_registry: ServeRegistry) -> None:
    # A classifier whose weights are all zero: every class 1/1000, as sure as a model can be of nothing.
    def uniform(weights_path: object, **_: object) -> keras.Model:
        inputs = keras.Input((TINY_INPUT, TINY_INPUT, 3))
        pooled = keras.layers.GlobalAveragePooling2D()(inputs)
        return keras.Model(inputs, keras.layers.Dense(1000, activation="softmax", kernel_initializer="zeros")(pooled))

    serve_registry(ModelRegistry([tiny_spec("uniform", uniform)], weights_mode="random"))
    location = classify(client, model="uniform")
    entry = HistoryEntry.objects.get()
    assert entry.confidence == "low" and entry.hedge is None
    html = client.get(location).content.decode()
    assert "This does not look like any of the 1000 ImageNet classes" in html


def test_an_entry_without_a_model_input_still_shows_unexplained(client: Client, registry: ModelRegistry) -> None:
    location = classify(client)
    entry = HistoryEntry.objects.get()
    entry.model_input = b""  # as an entry stored before model inputs were kept
    entry.save()
    response = client.get(location)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="heatmap-unavailable"' in html and "Expected a result that kept its model input" in html
    assert 'id="predictions"' in html


def test_the_compare_page_shows_a_heatmap_per_model(client: Client, registry: ModelRegistry) -> None:
    file = SimpleUploadedFile("photo.png", png_bytes(), content_type="image/png")
    html = client.post("/compare/", {"image": file}).content.decode()
    for model in ("resnet50", "vgg19", "efficientnet_lite0"):
        card = html.split(f'id="model-{model}"')[1].split('class="col-')[0]
        assert re.search(r'<img src="data:image/png;base64,[^"]+" class="img-fluid heatmap"', card)
        assert "explain" in card  # its time, as the other stages'
