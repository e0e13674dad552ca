"""Creating a custom model: its name and backbone checked, its rows stored together (or none at all),
training queued once they are committed; training again; who owns it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from recognizer.custom import lifecycle, services
from recognizer.custom.errors import CustomModelNotFound, ModelNameTaken, NotRestartable
from recognizer.custom.models import CustomModel, TrainingPhoto
from recognizer.inference.errors import InvalidInput
from tests.custom.helpers import texture_set


def create(name: str = "textures", **options: Any) -> CustomModel:
    return services.create_custom_model(
        name=name, backbone=options.pop("backbone", "efficientnet_lite0"), photos=texture_set(5), public=False,
        session_key=options.pop("session_key", "s1"), **options,
    )  # fmt: skip


@pytest.mark.parametrize("name", ["", "-lead", "with space", "dot.name", "a" * 65, "ünïcode"])
def test_a_name_of_other_characters_is_refused(name: str) -> None:
    with pytest.raises(InvalidInput, match="Expected a model name of 1 to 64 letters, digits"):
        lifecycle.check_new_name(name)


@pytest.mark.parametrize("name", ["resnet50", "VGG19", "efficientnet_lite0", "inception_v3", "densenet121", "vgg16"])
def test_a_pretrained_model_name_is_taken(name: str) -> None:
    with pytest.raises(ModelNameTaken, match="not a pretrained model's") as taken:
        lifecycle.check_new_name(name)
    assert taken.value.status == 409


def test_a_custom_model_name_is_taken_whatever_its_case() -> None:
    create("Fruit")
    with pytest.raises(ModelNameTaken, match="Received 'fruit', which is taken"):
        create("fruit")
    assert CustomModel.objects.count() == 1


def test_an_unknown_or_not_enabled_backbone_is_refused_naming_the_ready_ones() -> None:
    assert services.ready_backbones() == ["efficientnet_lite0", "resnet50", "vgg19"]
    ready = "among \\['efficientnet_lite0', 'resnet50', 'vgg19'\\]"
    with pytest.raises(InvalidInput, match=f"{ready}. Received an unknown backbone: 'alexnet'"):
        services.checked_backbone("alexnet")
    with pytest.raises(InvalidInput, match="Received an unknown backbone: 'densenet121'"):
        services.checked_backbone("densenet121")  # in the catalogue, not enabled here


def test_a_backbone_that_failed_to_load_is_not_ready(offline_registry: Callable[[list[str]], Any]) -> None:
    registry = offline_registry(["efficientnet_lite0", "resnet50"])
    registry.load("resnet50")  # no ImageNet weights offline: failed
    assert services.ready_backbones() == ["efficientnet_lite0"]
    with pytest.raises(InvalidInput, match="Received a backbone that is not ready: 'resnet50'"):
        services.checked_backbone("resnet50")


def test_a_model_is_stored_with_its_photos_and_queued_after_commit(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    # Queued once the rows are committed (the queueing itself is tested with a real broker in test_tasks.py).
    with django_capture_on_commit_callbacks() as queueing:
        model = create()
    assert len(queueing) == 1
    assert (model.state, model.stage, model.classes, model.facts) == (
        "training", "queued", ["brick", "gravel"], {"attempt": 1, "photos": 10},
    )  # fmt: skip
    assert list(TrainingPhoto.objects.filter(model=model).values_list("index", "label")) == [
        (i, "brick" if i < 5 else "gravel") for i in range(10)
    ]


def test_a_refused_model_leaves_no_row(django_capture_on_commit_callbacks: Callable[..., Any]) -> None:
    with django_capture_on_commit_callbacks() as queueing, pytest.raises(InvalidInput):
        create(backbone="alexnet")
    assert not CustomModel.objects.exists() and not TrainingPhoto.objects.exists() and queueing == []


def test_training_again_starts_a_new_attempt_from_the_photos_and_never_for_a_ready_model(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    model = create()
    CustomModel.objects.filter(id=model.id).update(state="failed", reason="Training failed: boom", stage="failed")
    model.refresh_from_db()
    with django_capture_on_commit_callbacks() as queueing:
        again = services.train_again(model)
    assert (again.state, again.stage, again.reason, again.facts["attempt"]) == ("training", "queued", "", 2)
    assert len(queueing) == 1

    CustomModel.objects.filter(id=model.id).update(state="ready")
    model.refresh_from_db()
    with pytest.raises(NotRestartable, match="which is ready") as refused:
        services.train_again(model)
    assert refused.value.status == 409


def test_only_the_owner_finds_a_model() -> None:
    model = create(session_key="owner-session", token_sha256=CustomModel.hash_token("secret-token"))
    assert services.owned_model(name="textures", session_key="owner-session", token=None).id == model.id
    assert services.owned_model(model_id=model.id, session_key=None, token="secret-token").id == model.id
    for session_key, token in (("other", None), (None, "wrong"), (None, None), ("", "")):
        with pytest.raises(CustomModelNotFound) as hidden:
            services.owned_model(name="textures", session_key=session_key, token=token)
        assert hidden.value.status == 404
    assert services.session_models(session_key="owner-session") == [model]
    assert services.session_models(session_key=None) == []
