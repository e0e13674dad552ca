"""Micro-batching in front of a compiled model: one bounded queue and one supervised worker thread.

Requests wait in a bounded queue; the worker takes up to `max_batch` of them at once (waiting at most
`batch_wait_s` for company it expects), runs them as one batch of a bucket size and hands each request
its own row of the result. A model that may run several forward passes at once (`CompiledModel.concurrency`,
2 for EfficientNet-Lite0) has that many batches running, the next collected as soon as one place is free.

On a CPU a forward pass costs about the same per image at every batch size (ResNet50 here: 36 ms per
image at 8, 34 at 16), so a padded row is almost pure waste: 9 requests padded to 16 cost as much as
16. The worker pads only when at most a sixteenth of the bucket would be padding (15 of 16); otherwise
it runs the largest bucket that is full and carries the rest over to the next batch, where new arrivals
join them.

Supervision: an exception in a batch fails that batch's requests (`InferenceFailed`, 500) and the worker
goes on. If the worker thread dies anyway, every request it held or had queued is failed at once
(`ModelNotReady`, 503) instead of waiting out its deadline, new requests are refused, and `on_death`
tells the owner (the registry), which restarts the model.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from recognizer.inference.compiled import CompiledModel
from recognizer.inference.errors import InferenceFailed, InferenceTimeout, InvalidInput, ModelNotReady, Overloaded

logger = logging.getLogger(__name__)

# model name, requests in the batch, its forward pass in seconds
BatchObserver = Callable[[str, int, float], None]
_batch_observers: list[BatchObserver] = []


def observe_batches(observer: BatchObserver) -> None:
    """Call `observer` after every batch any engine runs (the web side's metrics; no Django here).

    It runs on the worker thread, so it must be quick and must not raise; one that raises is logged.
    """
    if observer not in _batch_observers:
        _batch_observers.append(observer)


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
_Queue = queue.Queue  # of _Request | _STOP


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


@dataclass
class _WorkerState:
    """What the worker thread shares with its engine; never the engine itself (so it can be collected)."""

    config: EngineConfig
    requests: _Queue
    arrivals: _Arrivals = field(default_factory=_Arrivals)
    stopping: threading.Event = field(default_factory=threading.Event)
    dead: threading.Event = field(default_factory=threading.Event)
    carried: list[_Request | object] = field(default_factory=list)  # taken from the queue, left for the next batch


class PendingInference:
    """One submitted image: `result()` waits for its row of a batch, up to a deadline."""

    def __init__(self, request: _Request, *, name: str, timeout_s: float) -> None:
        self._request = request
        self._name = name
        self._timeout_s = timeout_s

    def result(self, *, deadline: float | None = None) -> InferenceResult:
        timeout = self._timeout_s if deadline is None else max(0.0, deadline - time.perf_counter())
        try:
            return self._request.future.result(timeout=timeout)
        except (FutureTimeout, CancelledError):
            # Not started yet: the worker skips it. Already running: its late result is dropped.
            self._request.future.cancel()
            raise InferenceTimeout(
                f"Expected {self._name} to answer within {self._timeout_s:g} s. "
                "Received no result in time; the server is busy, try again"
            ) from None


class Admission:
    """A request let in before its upload is decoded; the worker may wait for it to join a batch."""

    def __init__(self, engine: BatchingEngine) -> None:
        self._engine = engine
        self._arriving = True
        engine._state.arrivals.change(+1)

    def enqueue(self, pixels: np.ndarray) -> PendingInference:
        try:
            return self._engine.enqueue(pixels)
        finally:
            self.leave()

    def submit(self, pixels: np.ndarray) -> InferenceResult:
        return self.enqueue(pixels).result()

    def leave(self) -> None:
        if self._arriving:
            self._arriving = False
            self._engine._state.arrivals.change(-1)


DeathCallback = Callable[[BaseException], None]


class BatchingEngine:
    """One model's bounded queue and the supervised worker thread that serves it in micro-batches."""

    def __init__(
        self, compiled: CompiledModel, *, config: EngineConfig, name: str, on_death: DeathCallback | None = None
    ) -> None:
        self.compiled = compiled
        self.config = config
        self.name = name
        self._state = _WorkerState(config=config, requests=queue.Queue(maxsize=config.queue_max))
        self._thread = threading.Thread(
            target=_supervise,
            args=(compiled, self._state, name, on_death),
            name=f"imgrec-engine-{name}",
            daemon=True,
        )
        # The worker holds no reference to the engine: when the engine is dropped, its thread ends.
        self._finalizer = weakref.finalize(self, _stop, self._state)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._finalizer()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self._state.dead.is_set()

    @property
    def queued(self) -> int:
        return self._state.requests.qsize()

    def check_capacity(self, *, refuse_when_full: bool = True) -> None:
        """Raise now if the worker is gone or (unless told not to) the queue is full, before the caller spends
        time decoding."""
        if self._state.dead.is_set():
            raise _worker_gone(self.name)
        if refuse_when_full and self._state.requests.full():
            raise self._overloaded()

    @contextmanager
    def admit(self, *, refuse_when_full: bool = True) -> Iterator[Admission]:
        """Let a request in (Overloaded at once if the queue is full, unless told not to) for the time it decodes.

        While admitted requests are on their way, the worker waits up to `batch_wait_s` for them to
        join its batch; with none on the way, a lone request runs at once and pays no batch window.
        """
        self.check_capacity(refuse_when_full=refuse_when_full)
        admission = Admission(self)
        try:
            yield admission
        finally:
            admission.leave()

    def submit(self, pixels: np.ndarray) -> InferenceResult:
        """One preprocessed (size, size, 3) image -> its probabilities, with queue and inference time.

        Raises Overloaded at once when the queue is full, InferenceTimeout past the deadline.
        """
        return self.enqueue(pixels).result()

    def enqueue(self, pixels: np.ndarray, *, wait_for_room_s: float = 0.0) -> PendingInference:
        """Queue one image. A full queue refuses it at once (Overloaded), unless `wait_for_room_s` lets it
        wait that long for a place (a collection's images: `enqueue_many`)."""
        size = self.compiled.input_size
        if pixels.shape != (size, size, 3):
            raise InvalidInput(f"Expected pixels of shape ({size}, {size}, 3) for {self.name}. Received {pixels.shape}")
        self.check_capacity(refuse_when_full=wait_for_room_s <= 0)
        request = _Request(pixels=pixels, future=Future(), enqueued=time.perf_counter())
        try:
            self._state.requests.put(request, block=wait_for_room_s > 0, timeout=wait_for_room_s or None)
        except queue.Full:
            raise self._overloaded() from None
        if self._state.dead.is_set():  # died while we queued: nobody else will answer it
            _fail_waiting(self._state, self.name)
        return PendingInference(request, name=self.name, timeout_s=self.config.timeout_s)

    def enqueue_many(self, images: Sequence[np.ndarray]) -> list[PendingInference]:
        """Several images queued back to back, to run as one batch (a collection's group, `inference.batch`).

        They are admitted first, so a worker woken by the first waits for the rest rather than running it
        alone. Where the queue is full they wait for room, up to the engine's timeout, instead of being
        refused: a collection is work to pace, not a visitor to turn away, and two collections on one engine
        (a batch worker running two chunks at once) may together hold more than the queue. Raises like
        `enqueue` past that wait; images queued before a refusal still run, their results unread.
        """
        deadline = time.perf_counter() + self.config.timeout_s
        with self.admit(refuse_when_full=False):
            return [
                self.enqueue(pixels, wait_for_room_s=max(1e-3, deadline - time.perf_counter())) for pixels in images
            ]

    def _overloaded(self) -> Overloaded:
        return Overloaded(
            f"Expected a free place in the {self.name} queue ({self.config.queue_max} requests). "
            "Received a request while it was full; try again in a moment"
        )


def _worker_gone(name: str) -> ModelNotReady:
    return ModelNotReady(f"Model {name!r} is restarting after its worker stopped; try again in a moment")


def _stop(state: _WorkerState) -> None:
    state.stopping.set()
    try:
        state.requests.put_nowait(_STOP)
    except queue.Full:
        pass  # the worker is busy and sees `stopping` after this batch


def _supervise(compiled: CompiledModel, state: _WorkerState, name: str, on_death: DeathCallback | None) -> None:
    try:
        _serve(compiled, state, name)
    except BaseException as error:  # whatever killed the loop, nobody may be left waiting
        logger.exception("the %s engine's worker died", name)
        state.dead.set()
        _fail_waiting(state, name)
        if on_death is not None:
            on_death(error)


def _fail_waiting(state: _WorkerState, name: str) -> None:
    """Fail every request the dead worker held or had queued, at once rather than at its deadline."""
    waiting, state.carried = state.carried, []
    while True:
        try:
            waiting.append(state.requests.get_nowait())
        except queue.Empty:
            break
    for item in waiting:
        if isinstance(item, _Request) and item.future.set_running_or_notify_cancel():
            item.future.set_exception(_worker_gone(name))


def _serve(compiled: CompiledModel, state: _WorkerState, name: str) -> None:
    """Collect batches on this thread and run them, up to `compiled.concurrency` at once: one runs here,
    several on a pool of as many threads. A batch is collected only once a place is free, so requests that
    arrive while every place is busy wait in the queue and join the next batch together."""
    config, requests = state.config, state.requests
    places = threading.BoundedSemaphore(compiled.concurrency)
    runners = ThreadPoolExecutor(max_workers=compiled.concurrency, thread_name_prefix=f"imgrec-batch-{name}")

    def start(batch: list[_Request]) -> None:
        if compiled.concurrency == 1:
            _run_then_free(compiled, config, batch, name, places)
        else:
            runners.submit(_run_then_free, compiled, config, batch, name, places)

    company_likely = False  # the last batch had company: more is probably on its way
    with runners:  # leaving waits for the batches still running
        while not state.stopping.is_set():
            places.acquire()
            # Everything taken from the queue stays in `state.carried` until it runs, so a worker that
            # dies here leaves nobody waiting (`_fail_waiting` answers them).
            if not state.carried:
                first = requests.get()
                if first is _STOP:
                    return
                state.carried = [first]
            batch = _collect_batch(state.carried, state, wait_anyway=company_likely)
            company_likely = len(batch) > 1
            if batch[-1] is _STOP:
                state.stopping.set()
                batch.pop()
            waiting = [item for item in batch if isinstance(item, _Request) and not item.future.cancelled()]
            stopping = state.stopping.is_set()
            run_now = len(waiting) if stopping or not waiting else batch_to_run(len(waiting), config.buckets)
            state.carried = waiting[run_now:]
            start(waiting[:run_now])
        if state.carried:  # stopped from outside between two batches: answer what was taken from the queue
            carried, state.carried = state.carried, []
            places.acquire()
            start(carried)


def _run_then_free(
    compiled: CompiledModel, config: EngineConfig, batch: list[_Request], name: str, places: threading.Semaphore
) -> None:
    try:
        _run_batch(compiled, config, batch, name)
    finally:
        places.release()


def _collect_batch(
    batch: list[_Request | object], state: _WorkerState, *, wait_anyway: bool
) -> list[_Request | object]:
    """`batch` (the carried requests, or the first), extended in place with whatever is queued and
    arrives in the window.

    The window is waited only when company is expected: admitted requests still decoding, or (under
    load, `wait_anyway`) a previous batch that had company. A lone request does not wait.
    """
    config, requests = state.config, state.requests
    give_up = time.perf_counter() + config.batch_wait_s
    while len(batch) < config.max_batch:
        try:
            item = requests.get_nowait()
        except queue.Empty:
            remaining = give_up - time.perf_counter()
            if remaining <= 0 or not (wait_anyway or state.arrivals.expected):
                break
            try:
                item = requests.get(timeout=remaining)
            except queue.Empty:
                continue
        batch.append(item)
        if item is _STOP:
            break
    return batch


def _run_batch(compiled: CompiledModel, config: EngineConfig, batch: list[_Request], name: str) -> None:
    # A request whose caller gave up (deadline passed) is cancelled: skip it.
    live = [request for request in batch if request.future.set_running_or_notify_cancel()]
    if not live:
        return
    started = time.perf_counter()
    try:
        bucket = next(size for size in config.buckets if size >= len(live))
        size = compiled.input_size
        padded = np.zeros((bucket, size, size, 3), dtype=np.float32)
        for row, request in enumerate(live):
            padded[row] = request.pixels
        scores = compiled.forward(padded)
    except Exception as error:  # the worker must outlive any one batch
        logger.exception("a batch of %d failed", len(live))
        failure = InferenceFailed(f"Expected the model to run this batch. Received {type(error).__name__}: {error}")
        for request in live:
            request.future.set_exception(failure)
        return
    inference_ms = (time.perf_counter() - started) * 1000.0
    for observer in _batch_observers:
        try:
            observer(name, len(live), inference_ms / 1000.0)
        except Exception:  # metrics must never fail a batch
            logger.exception("a batch observer failed")
    for row, request in enumerate(live):
        request.future.set_result(
            InferenceResult(
                scores=scores[row].copy(),
                queue_ms=(started - request.enqueued) * 1000.0,
                inference_ms=inference_ms,
                batch_size=len(live),
            )
        )
