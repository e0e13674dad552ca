"""The custom-models API and custom models through classify, compare and the models list: whose they are,
one 404 for everyone else, name clashes, the download/upload round trip and hostile uploads."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from recognizer.custom.models import CustomModel
from recognizer.inference.registry import ModelRegistry
from tests.api.test_views import assert_error
from tests.custom.fixtures import MakeCustomModel, TrainedBrickGravel

MINE, THEIRS = "token-of-mine", "token-of-theirs"


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def classify(client: Client, photo: bytes, model: str, token: str = "", **fields: str):  # noqa: ANN201
    image = SimpleUploadedFile("photo.jpg", photo, content_type="image/jpeg")
    return client.post(
        "/api/v1/classify", {"image": image, "model": model, **fields}, **(bearer(token) if token else {})
    )


def upload(client: Client, data: bytes, name: str, **fields: str):  # noqa: ANN201
    file = SimpleUploadedFile("model.zip", data, content_type="application/zip")
    return client.post("/api/v1/custom-models/upload", {"file": file, "name": name, **fields})


def test_the_owner_sees_describes_and_classifies_with_a_private_model(
    client: Client, registry: ModelRegistry, make_custom_model: MakeCustomModel, brick_photo: bytes
) -> None:
    make_custom_model("walls", token=MINE)
    listed = client.get("/api/v1/custom-models", **bearer(MINE)).json()["custom_models"]
    assert [model["name"] for model in listed] == ["walls"]
    described = client.get("/api/v1/custom-models/walls", **bearer(MINE)).json()
    assert described["classes"] == ["brick", "gravel"] and described["backbone"] == "efficientnet_lite0"
    assert described["state"] == "ready" and described["public"] is False and described["owned"] is True
    assert set(described["validation"]) == {"accuracy", "per_class"} and set(described["class_balance"]) == {
        "brick",
        "gravel",
    }
    models = client.get("/api/v1/models", **bearer(MINE)).json()["models"]
    walls = [model for model in models if model["name"] == "walls"]
    assert walls and walls[0]["kind"] == "custom" and walls[0]["classes"] == ["brick", "gravel"]
    assert {model["kind"] for model in models if model["name"] != "walls"} == {"imagenet"}
    response = classify(client, brick_photo, "walls", MINE, top_k="5")
    assert response.status_code == 200
    body = response.json()
    assert body["model"] == "walls" and body["hedge"] is None
    assert [p["class_id"] for p in body["predictions"]] == ["brick", "gravel"]
    assert [p["index"] for p in body["predictions"]] == [0, 1]
    page = client.get(body["permalink"])
    assert page.status_code == 200 and b"brick" in page.content


def test_anyone_else_gets_the_404_of_a_name_that_does_not_exist(
    client: Client, registry: ModelRegistry, make_custom_model: MakeCustomModel, brick_photo: bytes
) -> None:
    make_custom_model("walls", token=THEIRS)
    for token in (MINE, ""):
        headers = bearer(token) if token else {}
        assert client.get("/api/v1/custom-models", **headers).json()["custom_models"] == []
        assert "walls" not in [m["name"] for m in client.get("/api/v1/models", **headers).json()["models"]]
        for method, path in (("get", ""), ("delete", ""), ("get", "/download")):
            hidden = getattr(client, method)(f"/api/v1/custom-models/walls{path}", **headers)
            absent = getattr(client, method)(f"/api/v1/custom-models/nowhere{path}", **headers)
            assert hidden.status_code == absent.status_code == 404
            assert hidden.json()["error"].replace("walls", "?") == absent.json()["error"].replace("nowhere", "?")
        hidden = classify(client, brick_photo, "walls", token)
        absent = classify(client, brick_photo, "nowhere", token)
        assert hidden.status_code == absent.status_code == 404
        assert hidden.json()["error"].replace("walls", "?") == absent.json()["error"].replace("nowhere", "?")
    assert CustomModel.objects.filter(name="walls").exists()


def test_a_public_model_is_listed_and_used_by_anyone_but_changed_only_by_its_owner(
    client: Client, registry: ModelRegistry, make_custom_model: MakeCustomModel, gravel_photo: bytes
) -> None:
    make_custom_model("walls", token=THEIRS)
    made_public = client.patch(
        "/api/v1/custom-models/walls",
        data=json.dumps({"public": True}),
        content_type="application/json",
        **bearer(THEIRS),
    )
    assert made_public.status_code == 200 and made_public.json()["public"] is True
    assert [m["name"] for m in client.get("/api/v1/custom-models", **bearer(MINE)).json()["custom_models"]] == ["walls"]
    assert client.get("/api/v1/custom-models/walls").json()["owned"] is False
    assert classify(client, gravel_photo, "walls").json()["predictions"][0]["label"] == "gravel"
    assert client.delete("/api/v1/custom-models/walls", **bearer(MINE)).status_code == 404
    assert client.get("/api/v1/custom-models/walls/download", **bearer(MINE)).status_code == 404
    unpublish = client.patch(
        "/api/v1/custom-models/walls",
        data=json.dumps({"public": False}),
        content_type="application/json",
        **bearer(MINE),
    )
    assert unpublish.status_code == 404
    assert client.delete("/api/v1/custom-models/walls", **bearer(THEIRS)).status_code == 204
    assert not CustomModel.objects.filter(name="walls").exists()
    assert_error(classify(client, gravel_photo, "walls", THEIRS), 404, "Unknown model")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [("not json", "not JSON"), ('{"public": "maybe"}', "true or false"), ('{"name": "x"}', '{"public": true}')],
)
def test_a_bad_change_is_a_400_naming_what_arrived(
    client: Client, make_custom_model: MakeCustomModel, body: str, fragment: str
) -> None:
    make_custom_model("walls", token=MINE)
    response = client.patch("/api/v1/custom-models/walls", data=body, content_type="application/json", **bearer(MINE))
    assert_error(response, 400, fragment)


def test_a_name_no_custom_model_could_have_is_a_404_without_asking_the_database(client: Client) -> None:
    assert_error(client.get("/api/v1/custom-models/nul%00byte"), 404, "Unknown custom model")
    response = client.post("/api/v1/classify", {"model": "nul\x00byte", "image": SimpleUploadedFile("a.png", b"x")})
    assert_error(response, 404, "Unknown model")


def test_a_malformed_authorization_header_is_a_400(client: Client) -> None:
    assert_error(client.get("/api/v1/custom-models", HTTP_AUTHORIZATION="Basic abc"), 400, "Bearer <token>")


def test_the_collection_creates_by_training_on_post_and_refuses_other_methods(client: Client) -> None:
    missing_archive = client.post("/api/v1/custom-models", {"name": "walls"})
    assert missing_archive.status_code == 400 and "archive" in missing_archive.json()["error"]
    response = client.put("/api/v1/custom-models")
    assert_error(response, 405, "Expected GET")
    assert "POST" in response["Allow"]


def test_download_then_upload_serves_the_same_predictions_under_a_new_token(
    client: Client, registry: ModelRegistry, make_custom_model: MakeCustomModel, brick_photo: bytes
) -> None:
    make_custom_model("walls", token=MINE)
    download = client.get("/api/v1/custom-models/walls/download", **bearer(MINE))
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        assert sorted(archive.namelist()) == ["backbone.json", "labels.json", "model.keras"]
        assert json.loads(archive.read("labels.json")) == ["brick", "gravel"]
        assert json.loads(archive.read("backbone.json"))["name"] == "efficientnet_lite0"
    uploaded = upload(client, download.content, "walls-again")
    assert uploaded.status_code == 201, uploaded.content
    token = uploaded.json()["token"]
    assert uploaded.json()["classes"] == ["brick", "gravel"] and uploaded["Location"].endswith("/walls-again")
    before = classify(client, brick_photo, "walls", MINE).json()["predictions"]
    after = classify(client, brick_photo, "walls-again", token).json()["predictions"]
    assert [p["label"] for p in after] == [p["label"] for p in before]
    assert [p["score"] for p in after] == pytest.approx([p["score"] for p in before], abs=1e-6)
    assert classify(client, brick_photo, "walls-again", MINE).status_code == 404  # the new token's, not mine


def zip_of(**members: bytes | str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name.replace("_", "."), data)
    return buffer.getvalue()


def good_members(trained: TrainedBrickGravel) -> dict[str, bytes | str]:
    return {
        "model_keras": trained.head,
        "labels_json": json.dumps(["brick", "gravel"]),
        "backbone_json": json.dumps({"name": "efficientnet_lite0", "fingerprint": trained.fingerprint}),
    }


def lambda_head() -> bytes:
    import keras

    from recognizer.custom.heads import head_bytes

    inputs = keras.Input((1280,))
    scaled = keras.layers.Lambda(lambda x: x * 2)(inputs)
    return head_bytes(keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(scaled)))


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"model_keras": None}, "Missing model.keras"),
        ({"labels_json": "[brick"}, "labels.json to be JSON"),
        ({"labels_json": json.dumps(["brick", "gravel", "sand"])}, "one output per class (3)"),
        ({"labels_json": json.dumps(["brick", "brick"])}, "distinct class names"),
        ({"backbone_json": json.dumps({"name": "alexnet", "fingerprint": "x"})}, "Expected a backbone among"),
        ({"backbone_json": json.dumps({"name": "efficientnet_lite0", "fingerprint": "f" * 16})}, "this server's"),
        ({"backbone_json": '"efficientnet_lite0"'}, '{"name": <model>'),
        ({"model_keras": b"PK not really"}, "Keras file"),
        ({"model_keras": "lambda"}, "Received a layer 'Lambda'"),
    ],
)
def test_a_hostile_upload_is_a_400_naming_what_is_wrong_and_nothing_is_stored(
    client: Client, registry: ModelRegistry, brick_gravel: TrainedBrickGravel, change: dict, fragment: str
) -> None:
    members = {**good_members(brick_gravel), **change}
    if members["model_keras"] == "lambda":
        members["model_keras"] = lambda_head()
    data = zip_of(**{name: value for name, value in members.items() if value is not None})
    assert_error(upload(client, data, "hostile"), 400, fragment)
    assert not CustomModel.objects.filter(name="hostile").exists()


def test_an_upload_that_is_no_zip_or_has_no_file_is_a_400(client: Client, registry: ModelRegistry) -> None:
    assert_error(upload(client, b"%PDF-1.4 not a zip", "hostile"), 400, "not a zip")
    assert_error(client.post("/api/v1/custom-models/upload", {"name": "x"}), 400, "'file'")


@pytest.mark.parametrize(
    ("name", "status", "fragment"),
    [("resnet50", 409, "catalogue model"), ("walls", 409, "another custom model"), ("upload", 409, "reserves")],
)
def test_a_name_clash_is_a_409(
    client: Client,
    registry: ModelRegistry,
    make_custom_model: MakeCustomModel,
    brick_gravel: TrainedBrickGravel,
    name: str,
    status: int,
    fragment: str,
) -> None:
    make_custom_model("walls", token=THEIRS)
    assert_error(upload(client, zip_of(**good_members(brick_gravel)), name), status, fragment)


def test_a_bad_name_is_a_400(client: Client, registry: ModelRegistry, brick_gravel: TrainedBrickGravel) -> None:
    assert_error(upload(client, zip_of(**good_members(brick_gravel)), "Not A Name!"), 400, "letters, digits")


def test_compare_sets_the_requesters_custom_model_beside_the_pretrained_ones(
    client: Client, registry: ModelRegistry, make_custom_model: MakeCustomModel, brick_photo: bytes
) -> None:
    make_custom_model("walls", token=MINE)
    make_custom_model("theirs", token=THEIRS)
    image = SimpleUploadedFile("photo.jpg", brick_photo, content_type="image/jpeg")
    body = client.post("/api/v1/compare", {"image": image, "top_k": "3"}, **bearer(MINE)).json()
    kinds = {model["model"]: model["kind"] for model in body["models"]}
    assert kinds == {"resnet50": "imagenet", "vgg19": "imagenet", "efficientnet_lite0": "imagenet", "walls": "custom"}
    walls = next(model for model in body["models"] if model["model"] == "walls")
    assert walls["predictions"][0]["label"] == "brick" and len(walls["predictions"]) == 2
    assert len(body["ensemble"]["predictions"]) == 3
    assert all(p["class_id"].startswith("n") for p in body["ensemble"]["predictions"])


def test_classify_explains_a_custom_model(
    client: Client, registry: ModelRegistry, make_custom_model: MakeCustomModel, brick_photo: bytes
) -> None:
    make_custom_model("walls", token=MINE)
    body = classify(client, brick_photo, "walls", MINE, explain="true", explain_class="1").json()
    assert body["explanation"]["class_index"] == 1 and body["explanation"]["overlay"].startswith("data:image/png")
