from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import keras
import numpy as np
import pytest

from recognizer.inference.batching import EngineConfig
from recognizer.inference.catalog import SPECS_BY_NAME, ModelSpec
from recognizer.inference.errors import ModelNotFound, ModelNotReady
from recognizer.inference.registry import ModelRegistry, ModelState
from tests.inference.conftest import MakeRegistry

TINY_INPUT = 32


def tiny_classifier(weights_path: Path | None, **_: object) -> keras.Model:
    inputs = keras.Input((TINY_INPUT, TINY_INPUT, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    return keras.Model(inputs, keras.layers.Dense(1000, activation="softmax")(pooled))


def tiny_spec(name: str, build=tiny_classifier) -> ModelSpec:  # noqa: ANN001
    return replace(SPECS_BY_NAME["resnet50"], name=name, label=name.upper(), input_size=TINY_INPUT, build=build)


def test_a_model_goes_from_pending_to_ready_and_is_reused(make_registry: MakeRegistry) -> None:
    registry = make_registry([tiny_spec("tiny")], weights_mode="random")
    assert registry.status("tiny").state == ModelState.PENDING
    first = registry.get("tiny")
    assert registry.status("tiny").state == ModelState.READY
    assert registry.get("tiny") is first


def test_a_model_with_its_own_batch_cap_runs_and_warms_no_larger_batch(make_registry: MakeRegistry) -> None:
    registry = make_registry(
        [replace(tiny_spec("capped"), max_batch=4), replace(tiny_spec("roomy"), max_batch=64)],
        weights_mode="random",
        engine_config=EngineConfig(max_batch=8, batch_wait_s=5),
    )
    capped, roomy = registry.get("capped"), registry.get("roomy")
    assert capped.engine.config.buckets == (1, 2, 4)
    assert roomy.engine.config.buckets == (1, 2, 4, 8)  # a cap above the engine's changes nothing
    images = [np.full((TINY_INPUT, TINY_INPUT, 3), value, dtype=np.float32) for value in range(8)]
    assert [pending.result().batch_size for pending in capped.engine.enqueue_many(images)] == [4] * 8
    assert [pending.result().batch_size for pending in roomy.engine.enqueue_many(images)] == [8] * 8


def test_state_is_loading_while_the_model_builds(make_registry: MakeRegistry) -> None:
    building, release = threading.Event(), threading.Event()

    def slow_build(weights_path: Path | None, **_: object) -> keras.Model:
        building.set()
        release.wait(timeout=30)
        return tiny_classifier(weights_path)

    registry = make_registry([tiny_spec("slow", slow_build)], weights_mode="random")
    loader = threading.Thread(target=registry.load, args=("slow",))
    loader.start()
    assert building.wait(timeout=30)
    assert registry.status("slow").state == ModelState.LOADING
    with pytest.raises(ModelNotReady, match="still loading"):
        registry.get("slow")
    release.set()
    loader.join(timeout=60)
    assert registry.status("slow").state == ModelState.READY


def test_two_threads_asking_at_once_load_the_model_once(make_registry: MakeRegistry) -> None:
    builds: list[int] = []
    start = threading.Barrier(2)

    def counting_build(weights_path: Path | None, **_: object) -> keras.Model:
        builds.append(1)
        return tiny_classifier(weights_path)

    registry = make_registry([tiny_spec("shared", counting_build)], weights_mode="random")

    def ask() -> None:
        start.wait()
        registry.load("shared")

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(builds) == 1
    assert registry.status("shared").state == ModelState.READY


def test_one_model_failing_leaves_the_other_ready(make_registry: MakeRegistry) -> None:
    def broken_build(weights_path: Path | None, **_: object) -> keras.Model:
        raise RuntimeError("graph construction exploded")

    registry = make_registry([tiny_spec("broken", broken_build), tiny_spec("fine")], weights_mode="random")
    registry.load_all(allow_download=False)
    assert registry.status("broken").state == ModelState.FAILED
    assert "graph construction exploded" in registry.status("broken").reason
    assert registry.status("fine").state == ModelState.READY
    with pytest.raises(ModelNotReady) as refused:
        registry.get("broken")
    assert refused.value.status == 503
    assert registry.default_model_name() == "fine"


def test_missing_imagenet_weights_fail_with_what_to_run_and_where_to_put_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_registry: MakeRegistry
) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    registry = make_registry([SPECS_BY_NAME["resnet50"]], weights_mode="imagenet", weights_dir=str(tmp_path))
    assert registry.load("resnet50") == ModelState.FAILED
    reason = registry.status("resnet50").reason
    assert reason.startswith("weights not available offline")
    assert "python manage.py fetch_weights resnet50" in reason
    assert "resnet50_weights_tf_dim_ordering_tf_kernels.h5 in IMGREC_WEIGHTS_DIR" in reason


def test_unknown_model_names_the_known_ones(make_registry: MakeRegistry) -> None:
    registry = make_registry([tiny_spec("tiny")], weights_mode="random")
    with pytest.raises(ModelNotFound, match=r"Expected one of tiny\. Received: 'alexnet'") as refused:
        registry.get("alexnet")
    assert refused.value.status == 404


def test_random_weights_give_the_real_architectures(registry: ModelRegistry) -> None:
    resnet = registry.get("resnet50").compiled.model
    vgg = registry.get("vgg19").compiled.model
    assert resnet.count_params() == SPECS_BY_NAME["resnet50"].params
    assert vgg.count_params() == SPECS_BY_NAME["vgg19"].params
    assert registry.status("resnet50").weights == "random"


def test_an_offline_model_is_summed_up_in_a_few_words_and_keeps_the_full_advice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_registry: MakeRegistry
) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    registry = make_registry([SPECS_BY_NAME["resnet50"]], weights_mode="imagenet")
    status = registry.status("resnet50")
    assert status.summary == "unavailable: no weights offline"
    assert status.as_dict()["summary"] == "unavailable: no weights offline"
    assert "fetch_weights resnet50" in status.as_dict()["reason"]


def test_summaries_of_the_other_states(make_registry: MakeRegistry) -> None:
    def explode(weights_path: Path | None, **_: object) -> keras.Model:
        raise RuntimeError("graph construction exploded " + "x" * 200)

    registry = make_registry([tiny_spec("tiny"), tiny_spec("broken", build=explode)], weights_mode="random")
    assert registry.status("tiny").summary == "loads on first use"
    registry.load("tiny")
    registry.load("broken")
    assert registry.status("tiny").summary == "ready"
    assert registry.status("broken").summary == "unavailable: failed to load"
    assert "graph construction exploded" in registry.status("broken").reason


def test_a_very_long_unknown_name_is_cut_in_the_message(make_registry: MakeRegistry) -> None:
    registry = make_registry([tiny_spec("tiny")], weights_mode="random")
    with pytest.raises(ModelNotFound) as refused:
        registry.get("a" * 5000)
    assert str(refused.value).endswith("Received: '" + "a" * 100 + "'… (5,000 characters)")


def test_load_all_builds_the_largest_model_first(make_registry: MakeRegistry) -> None:
    built: list[str] = []

    def recording(name: str):  # noqa: ANN202
        def build(weights_path: Path | None, **_: object) -> keras.Model:
            built.append(name)
            return tiny_classifier(weights_path)

        return build

    specs = [
        replace(tiny_spec(name, recording(name)), params=params)
        for name, params in (("small", 5_000_000), ("large", 143_000_000), ("medium", 25_000_000))
    ]
    registry = make_registry(specs, weights_mode="random")
    registry.load_all(allow_download=False)
    assert built == ["large", "medium", "small"]
    assert registry.names == ["small", "large", "medium"]  # the order shown to people is the catalogue's


def test_the_status_says_what_a_model_computes_in_and_on_what(make_registry: MakeRegistry, tmp_path: Path) -> None:
    """Before loading, what the setting asks for; once loaded, what serves (here int8: random weights keep it)."""
    fast = make_registry([tiny_spec("tiny")], weights_mode="random", precision="fast", cache_dir=tmp_path)
    pending = fast.status("tiny").as_dict()
    assert (pending["precision"], pending["runtime"]) == ("int8", "onnxruntime")
    fast.get("tiny")
    ready = fast.status("tiny").as_dict()
    assert (ready["state"], ready["precision"], ready["runtime"]) == ("ready", "int8", "onnxruntime")
    plain = make_registry([tiny_spec("tiny")], weights_mode="random", cache_dir=tmp_path)
    plain.get("tiny")
    assert (plain.status("tiny").precision, plain.status("tiny").runtime) == ("fp32", "keras")
