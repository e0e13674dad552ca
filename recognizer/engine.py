"""Compiled inference and micro-batching.

`CompiledModel` is the bare forward pass: `model(x, training=False)` inside one `tf.function`, never
Keras' per-call predict loop. `BatchingEngine` puts one worker thread in front of it: requests wait in
a bounded queue, the worker takes up to `max_batch` of them at once (waiting at most `batch_wait_s`
for company it expects), runs them as one batch of a bucket size and hands each request its own row of
the result.

On a CPU a forward pass costs about the same per image at every batch size (ResNet50 here: 36 ms per
image at 8, 34 at 16), so a padded row is almost pure waste: 9 requests padded to 16 cost as much as
16. The worker pads only when at most a sixteenth of the bucket would be padding (15 of 16); otherwise
it runs the largest bucket that is full and carries the rest over to the next batch, where new arrivals
join them.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import weakref
from collections.abc import Iterator
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from recognizer.errors import InferenceTimeout, Overloaded

if TYPE_CHECKING:
    import keras

logger = logging.getLogger(__name__)


class CompiledModel:
    """A Keras model behind a traced forward pass, safe to call from many threads.

    The input signature has a free batch dimension so every batch size reuses one trace. Calls are
    serialised: on a small CPU machine two concurrent forward passes only fight for the same cores.
    """

    def __init__(self, model: keras.Model, *, input_size: int) -> None:
        import tensorflow as tf

        self.model = model
        self.input_size = input_size
        self.trace_count = 0
        self._lock = threading.Lock()

        def forward(batch: tf.Tensor) -> tf.Tensor:
            self.trace_count += 1
            return model(batch, training=False)

        signature = [tf.TensorSpec([None, input_size, input_size, 3], tf.float32)]
        self._forward = tf.function(forward, input_signature=signature)

    def forward(self, batch: np.ndarray) -> np.ndarray:
        """Preprocessed (n, size, size, 3) float32 -> (n, 1000) class probabilities."""
        with self._lock:
            return self._forward(np.asarray(batch, dtype=np.float32)).numpy()

    def warm_up(self, batch_sizes: tuple[int, ...] = (1,)) -> None:
        """Run each batch size once, so no request pays for the first call of a shape."""
        for size in batch_sizes:
            self.forward(np.zeros((size, self.input_size, self.input_size, 3), dtype=np.float32))


@dataclass(frozen=True)
class EngineConfig:
    max_batch: int = 16
    batch_wait_s: float = 0.002
    queue_max: int = 64
    timeout_s: float = 30.0

    @property
    def buckets(self) -> tuple[int, ...]:
        """Powers of two up to max_batch, and max_batch itself: 1, 2, 4, 8, 16."""
        sizes = [1]
        while sizes[-1] * 2 < self.max_batch:
            sizes.append(sizes[-1] * 2)
        if self.max_batch > 1:
            sizes.append(self.max_batch)
        return tuple(sizes)


MAX_PADDING_SHARE = 1 / 16


def batch_to_run(waiting: int, buckets: tuple[int, ...]) -> int:
    """How many of `waiting` requests to run now (the rest wait for the next batch).

    All of them, padded up to the next bucket, when at most `MAX_PADDING_SHARE` of it is padding
    (15 of 16). Otherwise the largest bucket that they fill: 8 of 14, 4 of 7, 2 of 3.
    """
    bucket = next(size for size in buckets if size >= waiting)
    if bucket - waiting <= bucket * MAX_PADDING_SHARE:
        return waiting
    return max(size for size in buckets if size <= waiting)


@dataclass(frozen=True)
class InferenceResult:
    scores: np.ndarray
    queue_ms: float
    inference_ms: float
    batch_size: int


@dataclass
class _Request:
    pixels: np.ndarray
    future: Future[InferenceResult]
    enqueued: float


_STOP = object()


class _Arrivals:
    """How many admitted requests are still being decoded: company the worker may wait for."""

    def __init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()

    def change(self, delta: int) -> None:
        with self._lock:
            self._count += delta

    @property
    def expected(self) -> bool:
        return self._count > 0


class Admission:
    """A request let in before its upload is decoded; the worker may wait for it to join a batch."""

    def __init__(self, engine: BatchingEngine) -> None:
        self._engine = engine
        self._arriving = True
        engine._arrivals.change(+1)

    def submit(self, pixels: np.ndarray) -> InferenceResult:
        request = self._engine._enqueue(pixels)
        self.leave()
        return self._engine._await(request)

    def leave(self) -> None:
        if self._arriving:
            self._arriving = False
            self._engine._arrivals.change(-1)


class BatchingEngine:
    """One model's bounded queue and the worker thread that serves it in micro-batches."""

    def __init__(self, compiled: CompiledModel, *, config: EngineConfig, name: str) -> None:
        self.compiled = compiled
        self.config = config
        self.name = name
        self._queue: queue.Queue[_Request | object] = queue.Queue(maxsize=config.queue_max)
        self._arrivals = _Arrivals()
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=_serve,
            args=(compiled, config, self._queue, self._arrivals, self._stopping),
            name=f"imgrec-engine-{name}",
            daemon=True,
        )
        # The worker holds no reference to the engine: when the engine is dropped, its thread ends.
        self._finalizer = weakref.finalize(self, _stop, self._queue, self._stopping)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._finalizer()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    def check_capacity(self) -> None:
        """Raise Overloaded now if the queue is full, before the caller spends time decoding."""
        if self._queue.full():
            raise self._overloaded()

    @contextmanager
    def admit(self) -> Iterator[Admission]:
        """Let a request in (Overloaded at once if the queue is full) for the time it decodes.

        While admitted requests are on their way, the worker waits up to `batch_wait_s` for them to
        join its batch; with none on the way, a lone request runs at once and pays no batch window.
        """
        self.check_capacity()
        admission = Admission(self)
        try:
            yield admission
        finally:
            admission.leave()

    def _overloaded(self) -> Overloaded:
        return Overloaded(
            f"Expected a free place in the {self.name} queue ({self.config.queue_max} requests). "
            "Received a request while it was full; try again in a moment"
        )

    def submit(self, pixels: np.ndarray) -> InferenceResult:
        """One preprocessed (size, size, 3) image -> its probabilities, with queue and inference time.

        Raises Overloaded at once when the queue is full, InferenceTimeout past the deadline.
        """
        return self._await(self._enqueue(pixels))

    def _enqueue(self, pixels: np.ndarray) -> _Request:
        request = _Request(pixels=pixels, future=Future(), enqueued=time.perf_counter())
        try:
            self._queue.put_nowait(request)
        except queue.Full:
            raise self._overloaded() from None
        return request

    def _await(self, request: _Request) -> InferenceResult:
        try:
            return request.future.result(timeout=self.config.timeout_s)
        except (FutureTimeout, CancelledError):
            # Not started yet: the worker skips it. Already running: its late result is dropped.
            request.future.cancel()
            raise InferenceTimeout(
                f"Expected {self.name} to answer within {self.config.timeout_s:g} s. "
                "Received no result in time; the server is busy, try again"
            ) from None


def _stop(requests: queue.Queue[_Request | object], stopping: threading.Event) -> None:
    stopping.set()
    try:
        requests.put_nowait(_STOP)
    except queue.Full:
        pass  # the worker is busy and sees `stopping` after this batch


def _serve(
    compiled: CompiledModel,
    config: EngineConfig,
    requests: queue.Queue[_Request | object],
    arrivals: _Arrivals,
    stopping: threading.Event,
) -> None:
    company_likely = False  # the last batch had company: more is probably on its way
    carried: list[_Request] = []  # taken from the queue, left for this batch by the last one
    while not stopping.is_set():
        batch: list[_Request | object] = [*carried] or [requests.get()]
        if batch[0] is _STOP:
            return
        batch = _collect_batch(batch, config, requests, arrivals, wait_anyway=company_likely)
        company_likely = len(batch) > 1
        if batch[-1] is _STOP:
            stopping.set()
            batch.pop()
        waiting = [item for item in batch if isinstance(item, _Request) and not item.future.cancelled()]
        run_now = len(waiting) if stopping.is_set() or not waiting else batch_to_run(len(waiting), config.buckets)
        carried = waiting[run_now:]
        _run_batch(compiled, config, waiting[:run_now])
    if carried:  # stopped from outside between two batches: answer what was taken from the queue
        _run_batch(compiled, config, carried)


def _collect_batch(
    batch: list[_Request | object],
    config: EngineConfig,
    requests: queue.Queue[_Request | object],
    arrivals: _Arrivals,
    *,
    wait_anyway: bool,
) -> list[_Request | object]:
    """`batch` (the carried requests, or the first) plus whatever is queued and arrives in the window.

    The window is waited only when company is expected: admitted requests still decoding, or (under
    load, `wait_anyway`) a previous batch that had company. A lone request does not wait.
    """
    give_up = time.perf_counter() + config.batch_wait_s
    while len(batch) < config.max_batch:
        try:
            item = requests.get_nowait()
        except queue.Empty:
            remaining = give_up - time.perf_counter()
            if remaining <= 0 or not (wait_anyway or arrivals.expected):
                break
            try:
                item = requests.get(timeout=remaining)
            except queue.Empty:
                continue
        batch.append(item)
        if item is _STOP:
            break
    return batch


def _run_batch(compiled: CompiledModel, config: EngineConfig, batch: list[_Request]) -> None:
    # A request whose caller gave up (deadline passed) is cancelled: skip it.
    live = [request for request in batch if request.future.set_running_or_notify_cancel()]
    if not live:
        return
    started = time.perf_counter()
    bucket = next(size for size in config.buckets if size >= len(live))
    size = compiled.input_size
    padded = np.zeros((bucket, size, size, 3), dtype=np.float32)
    for row, request in enumerate(live):
        padded[row] = request.pixels
    try:
        scores = compiled.forward(padded)
    except Exception as error:  # the worker must outlive any one batch
        logger.exception("batch of %d failed", len(live))
        for request in live:
            request.future.set_exception(error)
        return
    inference_ms = (time.perf_counter() - started) * 1000.0
    for row, request in enumerate(live):
        request.future.set_result(
            InferenceResult(
                scores=scores[row].copy(),
                queue_ms=(started - request.enqueued) * 1000.0,
                inference_ms=inference_ms,
                batch_size=len(live),
            )
        )
