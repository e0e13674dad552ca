from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from recognizer.inference.catalog import SPECS_BY_NAME
from recognizer.inference.registry import ModelRegistry
from tests.conftest import OfflineRegistry
from tests.images import png_bytes


def upload(client: Client, data: bytes, *, name: str = "photo.png", model: str = "resnet50", **extra: object):
    file = SimpleUploadedFile(name, data, content_type="image/png")
    return client.post("/", {"image": file, "model": model, **extra}, follow=True)


def test_a_classified_upload_redirects_to_its_permalink_so_a_reload_posts_nothing(
    client: Client, registry: ModelRegistry
) -> None:
    file = SimpleUploadedFile("photo.png", png_bytes(), content_type="image/png")
    posted = client.post("/", {"image": file, "model": "resnet50"})
    assert posted.status_code == 303
    assert re.fullmatch(r"/r/[0-9a-f-]{36}/", posted["Location"])
    result = client.get(posted["Location"])
    assert result.status_code == 200
    assert 'id="predictions"' in result.content.decode()


def error_text(response) -> str:  # noqa: ANN001
    return response.content.decode()


def test_home_lists_both_models_with_resnet50_preselected(client: Client, registry: ModelRegistry) -> None:
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r'<option value="resnet50"[^>]*selected', html)
    assert '<option value="vgg19"' in html
    assert 'type="file"' in html and 'name="image"' in html
    assert "/static/bootstrap/css/bootstrap.min.css" in html
    assert "predictions are meaningless" in html  # random-weights banner


@pytest.mark.parametrize("model", ["resnet50", "vgg19"])
def test_png_upload_shows_chart_and_five_rows_highest_first(
    client: Client, registry: ModelRegistry, model: str
) -> None:
    response = upload(client, png_bytes(), model=model)
    assert response.status_code == 200 and response.redirect_chain
    html = response.content.decode()
    assert 'src="data:image/svg+xml;base64,' in html
    assert 'src="data:image/jpeg;base64,' in html  # thumbnail
    table = html.split('id="predictions"')[1].split("</table>")[0]
    row = r"<tr[^>]*><td>(\d)</td><td><a [^>]+>([^<]+)</a></td><td><code>(n\d{8})</code></td><td[^>]*>([\d.]+)%</td>"
    rows = re.findall(row, table)
    assert [int(rank) for rank, *_ in rows] == [1, 2, 3, 4, 5]
    percents = [float(p) for *_, p in rows]
    assert percents == sorted(percents, reverse=True)
    for stage in ("decode", "preprocess", "inference", "chart", "total"):
        assert f'<th scope="row">{stage}</th>' in html


def test_about_describes_each_model(client: Client) -> None:
    response = client.get("/about/")
    assert response.status_code == 200
    html = response.content.decode()
    for name in ("resnet50", "vgg19", "efficientnet_lite0"):
        spec = SPECS_BY_NAME[name]
        assert spec.label in html
        assert f"{spec.params / 1e6:.1f} M" in html
        assert f"{spec.top1 * 100:.1f}%" in html
    assert "BGR" in html
    assert "(x - 127) / 128" in html
    assert html.count('<dd class="col-sm-7 model-precision">fp32</dd>') == 3


def test_missing_file_is_a_400_saying_what_was_expected(client: Client) -> None:
    response = client.post("/", {"model": "resnet50"})
    assert response.status_code == 400
    assert "Expected an image file in the &#x27;image&#x27; field. Received nothing" in error_text(response)


def test_too_many_pixels_is_a_413(client: Client, registry: ModelRegistry, settings) -> None:  # noqa: ANN001
    settings.IMGREC_MAX_PIXELS = 1000
    response = upload(client, png_bytes())
    assert response.status_code == 413
    assert "Expected at most 1,000 pixels" in error_text(response)


def test_unknown_model_is_a_400_naming_the_models(client: Client) -> None:
    response = upload(client, png_bytes(), model="alexnet")
    assert response.status_code == 400
    assert "Expected one of resnet50, vgg19, efficientnet_lite0. Received: &#x27;alexnet&#x27;" in error_text(response)


def test_a_model_without_weights_is_disabled_with_its_reason_and_refused_with_503(
    client: Client, registry: ModelRegistry, offline_registry: OfflineRegistry
) -> None:
    offline_registry(["resnet50", "vgg19"])
    response = upload(client, png_bytes(), model="vgg19")
    assert response.status_code == 503
    assert "weights not available offline" in error_text(response)
    html = client.get("/").content.decode()
    assert re.search(
        r'<option value="vgg19"[^>]*disabled[^>]*>VGG19 \(unavailable: no weights offline\)</option>', html
    )
    assert "fetch_weights" not in html  # the full advice is on the About page, once per model
    about = client.get("/about/").content.decode()
    assert "fetch_weights vgg19" in about and "vgg19_weights_tf_dim_ordering_tf_kernels.h5" in about


def test_without_imagenet_weights_efficientnet_lite0_is_preselected_and_the_page_says_why(
    client: Client, registry: ModelRegistry, offline_registry: OfflineRegistry
) -> None:
    offline_registry(list(registry.names))
    html = client.get("/").content.decode()
    assert re.search(r'<option value="efficientnet_lite0"[^>]*selected', html)
    assert re.search(r'<option value="resnet50"[^>]*disabled', html)
    assert "EfficientNet-Lite0 is preselected because ResNet50 is unavailable: no weights offline." in html
    assert html.count("no weights offline") == 5  # the note, two options and two lines of the model list


def test_long_values_are_echoed_cut_to_100_characters(client: Client) -> None:
    message = error_text(upload(client, png_bytes(), model="m" * 5000, top_k="7" * 3000))
    assert "Received: &#x27;" + "m" * 100 + "&#x27;… (5,000 characters)" in message
    assert "Received &#x27;" + "7" * 100 + "&#x27;… (3,000 characters)" in message
    assert "m" * 101 not in message and "7" * 101 not in message


def test_about_says_a_fast_model_runs_on_onnx_runtime(
    client: Client, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import keras

    from recognizer import serving

    def tiny(weights_path: Path | None, **_: object) -> keras.Model:
        inputs = keras.Input((32, 32, 3))
        return keras.Model(inputs, keras.layers.Dense(1000, activation="softmax")(keras.layers.Flatten()(inputs)))

    spec = dataclasses.replace(SPECS_BY_NAME["resnet50"], input_size=32, build=tiny)
    fast = ModelRegistry([spec], weights_mode="random", precision="fast", cache_dir=tmp_path)
    try:
        fast.get("resnet50")
        monkeypatch.setattr(serving, "get_registry", lambda: fast)
        html = client.get("/about/").content.decode()
    finally:
        fast.close()
    assert '<dd class="col-sm-7 model-precision">int8 on ONNX Runtime (explanations in fp32 on Keras)</dd>' in html
