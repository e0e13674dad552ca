from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from imgrec_site.env import envbool, envchoice, envint, envlist


def test_envbool_reads_true_and_false(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLAG", "true")
    assert envbool("FLAG", "false") is True
    monkeypatch.setenv("FLAG", "0")
    assert envbool("FLAG", "true") is False


def test_envbool_refuses_anything_else_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMGREC_PRELOAD", "yes")
    with pytest.raises(ImproperlyConfigured, match="IMGREC_PRELOAD='yes'"):
        envbool("IMGREC_PRELOAD", "false")


def test_envint_refuses_words_and_small_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMGREC_MAX_UPLOAD_MB", "ten")
    with pytest.raises(ImproperlyConfigured, match="IMGREC_MAX_UPLOAD_MB"):
        envint("IMGREC_MAX_UPLOAD_MB", "10", minimum=1)
    monkeypatch.setenv("IMGREC_MAX_UPLOAD_MB", "0")
    with pytest.raises(ImproperlyConfigured, match=">= 1"):
        envint("IMGREC_MAX_UPLOAD_MB", "10", minimum=1)


def test_envchoice_and_envlist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMGREC_WEIGHTS", "pretrained")
    with pytest.raises(ImproperlyConfigured, match="imagenet, random"):
        envchoice("IMGREC_WEIGHTS", "imagenet", ("imagenet", "random"))
    monkeypatch.setenv("IMGREC_MODELS", " resnet50, ,vgg19 ")
    assert envlist("IMGREC_MODELS", "") == ["resnet50", "vgg19"]
