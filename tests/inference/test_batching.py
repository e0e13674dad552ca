from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import keras
import numpy as np
import pytest
import tensorflow as tf

from recognizer.inference import batching
from recognizer.inference.batching import BatchingEngine, EngineConfig, InferenceResult, batch_to_run
from recognizer.inference.compiled import CompiledModel
from recognizer.inference.errors import InferenceFailed, InferenceTimeout, InvalidInput, ModelNotReady, Overloaded
from recognizer.inference.registry import ModelRegistry, ModelState
from tests.inference.conftest import MakeRegistry
from tests.inference.test_registry import tiny_spec

GATED_INPUT = 8


def test_every_batch_size_reuses_one_trace(registry: ModelRegistry) -> None:
    compiled = registry.get("resnet50").compiled
    traces_before = compiled.trace_count
    for batch_size in (1, 3, 1, 2):
        probabilities = compiled.forward(np.zeros((batch_size, 224, 224, 3), dtype=np.float32))
        assert probabilities.shape == (batch_size, 1000)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-4)
    assert compiled.trace_count == traces_before


def test_loading_warms_every_bucket_with_a_single_trace(registry: ModelRegistry) -> None:
    loaded = registry.get("resnet50")
    assert loaded.engine.config.buckets == (1, 2, 4, 8, 16)
    assert loaded.compiled.trace_count == 1
    assert loaded.engine.alive


def test_forty_concurrent_requests_each_get_their_own_result(registry: ModelRegistry) -> None:
    loaded = registry.get("resnet50")
    traces_before = loaded.compiled.trace_count
    rng = np.random.default_rng(40)
    images = [rng.uniform(-120, 150, size=(224, 224, 3)).astype(np.float32) for _ in range(40)]
    sequential = [loaded.compiled.forward(image[None, ...])[0] for image in images]
    results: dict[int, InferenceResult] = {}
    start = threading.Barrier(len(images))

    def ask(index: int) -> None:
        start.wait()
        results[index] = loaded.engine.submit(images[index])

    threads = [threading.Thread(target=ask, args=(index,)) for index in range(len(images))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert sorted(results) == list(range(len(images)))
    for index, want in enumerate(sequential):
        got = results[index].scores
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-6)
        distances = [np.abs(got - other).sum() for other in sequential]
        assert int(np.argmin(distances)) == index  # its own answer, not a neighbour's
    assert max(result.batch_size for result in results.values()) > 1  # requests were batched
    assert loaded.compiled.trace_count == traces_before  # and no batch size retraced


class Gate:
    """A real layer whose forward pass waits until the test opens the gate."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()
        self.broken = False  # the next forward pass raises, as a failing model would
        self.inside = 0  # forward passes waiting at the gate now
        self._count_lock = threading.Lock()

    def wait(self, x: tf.Tensor) -> tf.Tensor:
        with self._count_lock:
            self.inside += 1
        self.entered.set()
        try:
            assert self.opened.wait(timeout=60)
        finally:
            with self._count_lock:
                self.inside -= 1
        if self.broken:
            raise RuntimeError("the model broke")
        return x

    def model(self) -> keras.Model:
        def gated(x: tf.Tensor) -> tf.Tensor:
            return tf.ensure_shape(tf.py_function(self.wait, [x], tf.float32), x.shape)

        inputs = keras.Input((GATED_INPUT, GATED_INPUT, 3))
        pooled = keras.layers.GlobalAveragePooling2D()(inputs)
        waited = keras.layers.Lambda(gated, output_shape=(3,))(pooled)
        return keras.Model(inputs, keras.layers.Dense(1000, activation="softmax")(waited))


@pytest.fixture
def gate() -> Gate:
    return Gate()


def gated_engine(gate: Gate, max_batch: int = 2, concurrency: int = 1, **config: float) -> Iterator[BatchingEngine]:
    gate.opened.set()  # the warm-up runs through the gate
    compiled = CompiledModel(gate.model(), input_size=GATED_INPUT, concurrency=concurrency)
    compiled.warm_up(EngineConfig(max_batch=max_batch).buckets)
    gate.opened.clear()
    gate.entered.clear()
    engine = BatchingEngine(compiled, config=EngineConfig(max_batch=max_batch, **config), name="gated")
    engine.start()
    yield engine
    gate.opened.set()
    engine.stop()
    assert not engine.alive


@pytest.fixture
def small_queue(gate: Gate) -> Iterator[BatchingEngine]:
    yield from gated_engine(gate, queue_max=2, timeout_s=60)


@pytest.fixture
def short_deadline(gate: Gate) -> Iterator[BatchingEngine]:
    yield from gated_engine(gate, queue_max=8, timeout_s=0.5)


def wait_until(condition: Callable[[], bool], timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def pixels(value: float) -> np.ndarray:
    return np.full((GATED_INPUT, GATED_INPUT, 3), value, dtype=np.float32)


def test_a_full_queue_refuses_at_once_with_503(small_queue: BatchingEngine, gate: Gate) -> None:
    answers: list[InferenceResult] = []
    running = threading.Thread(target=lambda: answers.append(small_queue.submit(pixels(1))))
    running.start()
    assert gate.entered.wait(timeout=30)  # the worker is busy with the first request
    waiting = [threading.Thread(target=lambda v=v: answers.append(small_queue.submit(pixels(v)))) for v in (2, 3)]
    for thread in waiting:
        thread.start()
    assert wait_until(lambda: small_queue.queued == 2)

    with pytest.raises(Overloaded, match="queue"):
        small_queue.check_capacity()  # what classify_image asks before decoding
    with pytest.raises(Overloaded, match="queue") as refused:
        small_queue.submit(pixels(4))
    assert refused.value.status == 503 and refused.value.retry_after_s >= 1

    gate.opened.set()
    for thread in [running, *waiting]:
        thread.join(timeout=60)
    assert len(answers) == 3  # the queued requests were served, not dropped
    small_queue.check_capacity()  # room again


def test_a_passed_deadline_gives_504_and_the_next_request_succeeds(short_deadline: BatchingEngine, gate: Gate) -> None:
    late: list[BaseException] = []

    def ask_and_time_out() -> None:
        try:
            short_deadline.submit(pixels(1))
        except InferenceTimeout as error:
            late.append(error)

    running = threading.Thread(target=ask_and_time_out)
    running.start()
    assert gate.entered.wait(timeout=30)
    with pytest.raises(InferenceTimeout, match="within 0.5 s") as timed_out:
        short_deadline.submit(pixels(2))  # waits in the queue behind the stuck batch
    assert timed_out.value.status == 504
    running.join(timeout=30)
    assert len(late) == 1

    gate.opened.set()
    result = short_deadline.submit(pixels(3))
    expected = short_deadline.compiled.forward(pixels(3)[None, ...])[0]
    np.testing.assert_allclose(result.scores, expected, rtol=1e-5)
    assert short_deadline.alive


def test_closing_a_registry_stops_its_worker_threads() -> None:
    registry = ModelRegistry([tiny_spec("tiny")], weights_mode="random")
    engine = registry.get("tiny").engine
    assert engine.alive
    registry.close()
    assert not engine.alive


@pytest.fixture
def long_batch_window(gate: Gate) -> Iterator[BatchingEngine]:
    engines = gated_engine(gate, queue_max=8, timeout_s=10, batch_wait_s=60)
    engine = next(engines)
    gate.opened.set()  # batches run freely: only the batch window is under test
    yield engine
    next(engines, None)


def test_a_lone_request_does_not_wait_out_the_batch_window(long_batch_window: BatchingEngine) -> None:
    # With a 60 s window and a 10 s deadline, waiting for company that cannot come would time out.
    with long_batch_window.admit() as admission:
        result = admission.submit(pixels(1))
    assert result.batch_size == 1


def test_the_worker_waits_for_an_admitted_request_still_decoding(long_batch_window: BatchingEngine) -> None:
    answers: list[InferenceResult] = []
    with long_batch_window.admit() as decoding:
        submitted = threading.Thread(target=lambda: answers.append(long_batch_window.submit(pixels(2))))
        submitted.start()
        assert wait_until(lambda: long_batch_window.queued == 0)  # taken by the worker, which now waits
        answers.append(decoding.submit(pixels(1)))
    submitted.join(timeout=30)
    assert [answer.batch_size for answer in answers] == [2, 2]


def test_leaving_without_submitting_stops_the_wait(long_batch_window: BatchingEngine) -> None:
    with pytest.raises(ValueError), long_batch_window.admit():
        raise ValueError("the upload could not be decoded")
    assert long_batch_window.submit(pixels(3)).batch_size == 1


def test_images_queued_together_run_as_one_batch(gate: Gate) -> None:
    # A lone request would run at once, alone: the group is admitted, so the worker waits for all of it.
    engines = gated_engine(gate, max_batch=8, queue_max=16, timeout_s=10, batch_wait_s=60)
    engine = next(engines)
    gate.opened.set()
    try:
        pendings = engine.enqueue_many([pixels(value) for value in range(8)])
        assert [pending.result().batch_size for pending in pendings] == [8] * 8
    finally:
        next(engines, None)


def test_a_group_waits_for_room_in_a_full_queue_where_a_request_is_refused(
    small_queue: BatchingEngine, gate: Gate
) -> None:
    answers: list[InferenceResult] = []
    running = threading.Thread(target=lambda: answers.append(small_queue.submit(pixels(1))))
    running.start()
    assert gate.entered.wait(timeout=30)  # the worker is busy; the queue has 2 places
    grouped: list[list[InferenceResult]] = []

    def queue_group() -> None:
        pendings = small_queue.enqueue_many([pixels(value) for value in (2, 3, 4, 5)])
        grouped.append([pending.result() for pending in pendings])

    group = threading.Thread(target=queue_group)
    group.start()
    assert wait_until(lambda: small_queue.queued == 2)  # two queued, the third waits for room
    time.sleep(0.2)
    assert group.is_alive() and not grouped
    with pytest.raises(Overloaded, match="queue"):
        small_queue.submit(pixels(6))  # a lone request is still refused at once

    gate.opened.set()
    group.join(timeout=60)
    running.join(timeout=60)
    assert len(answers) == 1 and len(grouped) == 1
    assert [round(float(result.scores.sum()), 3) for result in grouped[0]] == [1.0] * 4  # every image answered


@pytest.mark.parametrize(
    ("waiting", "run_now"),
    [(1, 1), (2, 2), (3, 2), (4, 4), (5, 4), (7, 4), (8, 8), (9, 8), (13, 8), (14, 8), (15, 15), (16, 16)],
)
def test_a_batch_is_padded_only_when_nearly_full(waiting: int, run_now: int) -> None:
    assert batch_to_run(waiting, (1, 2, 4, 8, 16)) == run_now


def test_a_bucket_that_is_not_a_power_of_two_is_used_as_it_is() -> None:
    buckets = EngineConfig(max_batch=12).buckets
    assert buckets == (1, 2, 4, 8, 12)
    assert [batch_to_run(waiting, buckets) for waiting in (11, 12)] == [8, 12]


def test_requests_left_over_from_a_batch_run_in_the_next_one(gate: Gate) -> None:
    engines = gated_engine(gate, max_batch=4, queue_max=8, timeout_s=30)
    engine = next(engines)
    answers: dict[float, InferenceResult] = {}

    def ask(value: float) -> None:
        answers[value] = engine.submit(pixels(value))

    first = threading.Thread(target=ask, args=(1.0,))
    first.start()
    assert gate.entered.wait(timeout=30)  # the worker is inside the first batch
    waiting = [threading.Thread(target=ask, args=(value,)) for value in (2.0, 3.0, 4.0)]
    for thread in waiting:
        thread.start()
    assert wait_until(lambda: engine.queued == 3)
    gate.opened.set()
    for thread in [first, *waiting]:
        thread.join(timeout=30)

    # Three queued requests: two run together (no padded row), the third in the batch after.
    assert sorted(answer.batch_size for value, answer in answers.items() if value > 1) == [1, 2, 2]
    for value, answer in answers.items():
        expected = engine.compiled.forward(pixels(value)[None, ...])[0]
        np.testing.assert_allclose(answer.scores, expected, rtol=1e-5)
    next(engines, None)


@pytest.mark.parametrize("concurrency", [1, 2])
def test_a_model_runs_as_many_batches_at_once_as_its_concurrency(gate: Gate, concurrency: int) -> None:
    engines = gated_engine(gate, max_batch=4, concurrency=concurrency, queue_max=8, timeout_s=30)
    engine = next(engines)
    answers: dict[float, InferenceResult] = {}

    def ask(value: float) -> None:
        answers[value] = engine.submit(pixels(value))

    threads = [threading.Thread(target=ask, args=(value,)) for value in (1.0, 2.0, 3.0)]
    try:
        for started, thread in enumerate(threads, start=1):
            thread.start()
            # Each request arrives alone, so each is a batch of its own as soon as a place is free; once
            # every place is busy, the rest wait in the queue for the next free one.
            running = min(started, concurrency)
            assert wait_until(
                lambda running=running, started=started: (gate.inside, engine.queued) == (running, started - running)
            )
    finally:
        gate.opened.set()
        for thread in threads:
            thread.join(timeout=30)
    for value, answer in answers.items():
        expected = engine.compiled.forward(pixels(value)[None, ...])[0]
        np.testing.assert_allclose(answer.scores, expected, rtol=1e-5)
    assert sorted(answers) == [1.0, 2.0, 3.0]
    next(engines, None)


def test_stopping_answers_every_batch_still_running(gate: Gate) -> None:
    engines = gated_engine(gate, max_batch=4, concurrency=2, queue_max=8, timeout_s=30)
    engine = next(engines)
    pendings = []
    for value in (1.0, 2.0):  # one at a time, so each is a batch of its own
        pendings.append(engine.enqueue(pixels(value)))
        assert wait_until(lambda: gate.inside == len(pendings))
    stopping = threading.Thread(target=engine.stop, kwargs={"timeout_s": 30})
    stopping.start()
    gate.opened.set()
    stopping.join(timeout=60)
    assert not engine.alive
    assert [pending.result().batch_size for pending in pendings] == [1, 1]
    next(engines, None)


def test_pixels_of_the_wrong_shape_are_refused_and_the_worker_keeps_serving(small_queue: BatchingEngine) -> None:
    with pytest.raises(InvalidInput, match=r"Expected pixels of shape \(8, 8, 3\).*Received \(9, 8, 3\)"):
        small_queue.submit(np.zeros((9, GATED_INPUT, 3), dtype=np.float32))
    assert small_queue.alive


def test_a_batch_that_raises_fails_its_requests_with_500_and_the_worker_goes_on(
    small_queue: BatchingEngine, gate: Gate
) -> None:
    gate.broken = True
    gate.opened.set()
    with pytest.raises(InferenceFailed, match="RuntimeError") as failed:
        small_queue.submit(pixels(1))
    assert failed.value.status == 500
    gate.broken = False
    assert small_queue.alive
    assert small_queue.submit(pixels(2)).batch_size == 1


def test_a_dead_worker_fails_its_waiting_requests_at_once_and_the_registry_restarts_it(
    monkeypatch: pytest.MonkeyPatch, make_registry: MakeRegistry
) -> None:
    registry = make_registry([tiny_spec("tiny")], weights_mode="random", engine_config=EngineConfig(timeout_s=60))
    first = registry.get("tiny")
    assert first.predict(np.zeros((32, 32, 3), dtype=np.float32)).batch_size == 1

    def collapse(*args: object, **kwargs: object) -> None:
        raise MemoryError("the worker ran out of memory")

    monkeypatch.setattr(batching, "_collect_batch", collapse)
    started = time.monotonic()
    with pytest.raises(ModelNotReady, match="restarting"):
        first.predict(np.zeros((32, 32, 3), dtype=np.float32))
    assert time.monotonic() - started < 30  # failed at once, not at its 60 s deadline
    assert not first.engine.alive
    monkeypatch.undo()

    assert wait_until(lambda: registry.status("tiny").state == ModelState.READY)
    status = registry.status("tiny")
    assert status.restarts == 1
    restarted = registry.get("tiny")
    assert restarted.engine is not first.engine and restarted.engine.alive
    assert restarted.predict(np.zeros((32, 32, 3), dtype=np.float32)).scores.shape == (1000,)


def test_while_a_dead_worker_waits_for_its_restart_the_model_is_failed_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, make_registry: MakeRegistry
) -> None:
    registry = make_registry([tiny_spec("tiny")], weights_mode="random")
    monkeypatch.setattr(registry, "_start_again", lambda name: None)  # hold the restart back
    kill_the_worker(registry, "tiny", monkeypatch)
    status = registry.status("tiny")
    assert status.state == ModelState.FAILED
    assert "MemoryError: the worker ran out of memory" in status.reason
    with pytest.raises(ModelNotReady, match="inference worker stopped"):
        registry.get("tiny")


def kill_the_worker(registry: ModelRegistry, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the model's worker thread die (as on a bug outside any batch) with a request waiting on it."""
    loaded = registry.get(name)
    collect = batching._collect_batch

    def collapse(*args: object, **kwargs: object) -> None:
        raise MemoryError("the worker ran out of memory")

    monkeypatch.setattr(batching, "_collect_batch", collapse)
    with pytest.raises(ModelNotReady):
        loaded.predict(np.zeros((loaded.spec.input_size,) * 2 + (3,), dtype=np.float32))
    monkeypatch.setattr(batching, "_collect_batch", collect)
