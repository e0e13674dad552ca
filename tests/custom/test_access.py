"""Who may see, use and own a custom model: the session, the bearer token, public models, and one 404."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from recognizer.custom.access import CustomModelNotFound, Requester, find_owned, find_visible, owned, visible
from recognizer.custom.models import CustomModel
from recognizer.inference.errors import InvalidInput


def row(name: str, **owner: object) -> CustomModel:
    return CustomModel.objects.create(name=name, backbone="efficientnet_lite0", classes=["a", "b"], **owner)


def test_the_bearer_token_is_read_as_its_sha256() -> None:
    request = RequestFactory().get("/api/v1/custom-models", HTTP_AUTHORIZATION="Bearer s3cret-Token_1")
    requester = Requester.from_request(request, session=False)
    assert requester == Requester(token_sha256=CustomModel.hash_token("s3cret-Token_1"))
    assert requester.owner_fields == {"session_key": "", "token_sha256": CustomModel.hash_token("s3cret-Token_1")}


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer two words", "token abc"])
def test_an_authorization_header_that_is_no_bearer_token_is_refused_naming_it(header: str) -> None:
    request = RequestFactory().get("/api/v1/custom-models", HTTP_AUTHORIZATION=header)
    with pytest.raises(InvalidInput, match="Bearer <token>"):
        Requester.from_request(request, session=False)


def test_owners_see_their_own_and_public_models_and_own_only_theirs() -> None:
    row("by-token", token_sha256=CustomModel.hash_token("t1"))
    row("by-session", session_key="s1")
    row("public-other", token_sha256=CustomModel.hash_token("t2"), public=True)
    row("private-other", token_sha256=CustomModel.hash_token("t2"))
    by_token = Requester(token_sha256=CustomModel.hash_token("t1"))
    by_session = Requester(session_key="s1")
    both = Requester(session_key="s1", token_sha256=CustomModel.hash_token("t1"))
    stranger = Requester()
    assert sorted(visible(by_token).values_list("name", flat=True)) == ["by-token", "public-other"]
    assert sorted(visible(by_session).values_list("name", flat=True)) == ["by-session", "public-other"]
    assert sorted(visible(both).values_list("name", flat=True)) == ["by-session", "by-token", "public-other"]
    assert sorted(visible(stranger).values_list("name", flat=True)) == ["public-other"]
    assert list(owned(stranger)) == []
    assert find_visible("public-other", stranger).name == "public-other"
    assert find_owned("by-token", by_token).name == "by-token"


def test_someone_elses_model_is_as_unknown_as_a_name_that_does_not_exist() -> None:
    row("private-other", token_sha256=CustomModel.hash_token("t2"))
    row("public-other", token_sha256=CustomModel.hash_token("t2"), public=True)
    me = Requester(token_sha256=CustomModel.hash_token("t1"))
    messages = []
    for name, find in (("private-other", find_visible), ("public-other", find_owned), ("no-such", find_visible)):
        with pytest.raises(CustomModelNotFound) as raised:
            find(name, me)
        assert raised.value.status == 404
        messages.append(str(raised.value).replace(repr(name), "<name>"))
    assert len(set(messages)) == 1


def test_an_empty_owner_never_matches_an_empty_owner_field() -> None:
    row("orphan")  # neither session nor token: nobody's
    with pytest.raises(CustomModelNotFound):
        find_owned("orphan", Requester())
