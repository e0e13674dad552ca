"""Many images through one model, in order: decoding runs ahead in a small thread pool while the model runs.

`classify_many` is the path for collections (the CLI, the batch-jobs worker). At most `window` images
are in flight (being read, decoded, or queued in the model's engine), so memory stays bounded however
many images come in, and the window is larger than a batch, so a full batch is queued by the time the
model finishes the previous one. Results come back in the order the images went in; an image that
cannot be read, decoded or run is an error result and the others go on.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from recognizer.inference.batching import PendingInference
from recognizer.inference.errors import RecognizerError
from recognizer.inference.imaging import decode_image, encode_thumbnail, resize_to_array
from recognizer.inference.pipeline import DEFAULT_TOP_K, Classification, Pipeline, timed
from recognizer.inference.registry import LoadedModel

# The image itself, or a function that reads it (called in the pool, so reading overlaps the model too).
ImageSource = bytes | Callable[[], bytes]

DECODER_THREADS = 2
SERVER_FAULT = 500


@dataclass(frozen=True)
class ItemResult:
    """One image's answer: a classification, or an error saying what was expected and what arrived."""

    name: str
    classification: Classification | None = None
    error: str | None = None
    batch_size: int = 0  # how many images the model ran together with this one

    def as_dict(self) -> dict[str, object]:
        if self.classification is None:
            return {"name": self.name, "error": self.error}
        return {"name": self.name, **self.classification.as_dict()}


@dataclass
class _Decoded:
    pixels: np.ndarray  # preprocessed, ready for the model
    thumbnail: bytes
    timings: dict[str, float]
    started: float


@dataclass
class _InFlight:
    """One image between its source and its result: decoding in the pool, then queued in the engine."""

    name: str
    decoding: Future[_Decoded]
    decoded: _Decoded | None = None
    pending: PendingInference | None = None
    error: Exception | None = None  # why it never reached the engine


def classify_many(
    pipeline: Pipeline,
    items: Iterable[tuple[str, ImageSource]],
    *,
    model_name: str,
    top_k: int = DEFAULT_TOP_K,
    thumbnails: bool = False,
    decoders: int = DECODER_THREADS,
    raise_server_faults: bool = False,
) -> Iterator[ItemResult]:
    """(name, bytes or reader) in -> one ItemResult per item, in the same order.

    Images reach the model's engine a full batch at a time (`BatchingEngine.enqueue_many`), never one by one
    as each finishes decoding: the engine would start on the first few alone (a lone request does not wait),
    and a chunk of 32 ran as batches of 2, 16, 8, 4 and 2 instead of two of 16. While the engine runs one
    group (or two, for a model with two places: `CompiledModel.concurrency`), the next waits queued behind
    it and one more is decoding.

    Raises ModelNotFound / ModelNotReady before the first result when the model cannot run at all.
    `thumbnails` adds the re-encoded JPEG thumbnail a gallery shows (the CLI needs none).
    `raise_server_faults`: a fault of the server's (a RecognizerError of status 5xx: a failed batch, a
    timeout) ends the iteration with that error, for a caller that retries the rest later (a batch worker);
    otherwise it is that image's error, like an image's own fault, and the others go on (the CLI).
    """
    model = pipeline.registry.get(model_name)
    config = model.engine.config
    queued_groups = model.compiled.concurrency + 1  # groups in the engine at once: those running and the next
    group = max(1, min(config.max_batch, config.queue_max // queued_groups))
    window = (queued_groups + 1) * group
    sources = iter(items)
    decoding: deque[_InFlight] = deque()
    queued: deque[list[_InFlight]] = deque()  # groups in the engine, oldest first
    with ThreadPoolExecutor(max_workers=decoders, thread_name_prefix="imgrec-decode") as pool:
        try:
            while True:
                in_flight = len(decoding) + sum(len(flights) for flights in queued)
                for name, source in itertools.islice(sources, max(0, window - in_flight)):
                    decoding.append(_InFlight(name, pool.submit(_decode, pipeline, model, source, thumbnails)))
                if decoding and len(queued) < queued_groups:
                    queued.append(_enqueue_group(model, [decoding.popleft() for _ in range(min(group, len(decoding)))]))
                    continue
                if not queued:
                    return
                for flight in queued.popleft():
                    yield _finish(model, top_k, flight, raise_server_faults=raise_server_faults)
        finally:
            # A consumer that stops early (or fails) leaves queued decodes unstarted.
            for flight in decoding:
                flight.decoding.cancel()


def _decode(pipeline: Pipeline, model: LoadedModel, source: ImageSource, thumbnails: bool) -> _Decoded:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    image_bytes = source() if callable(source) else source
    with timed(timings, "decode"):
        image = decode_image(image_bytes, max_pixels=pipeline.max_pixels, target_size=model.spec.input_size)
    with timed(timings, "preprocess"):
        pixels = model.preprocess(resize_to_array(image, model.spec.input_size))
    thumbnail = encode_thumbnail(image) if thumbnails else b""
    return _Decoded(pixels=pixels, thumbnail=thumbnail, timings=timings, started=started)


def _enqueue_group(model: LoadedModel, flights: list[_InFlight]) -> list[_InFlight]:
    """Wait for the group's decodes, then queue the decoded images in the engine together."""
    for flight in flights:
        try:
            flight.decoded = flight.decoding.result()
        except (RecognizerError, OSError, ValueError) as error:  # the image's own fault, or its file's
            flight.error = error
    ready = [flight for flight in flights if flight.decoded is not None]
    try:
        pendings = model.engine.enqueue_many([flight.decoded.pixels for flight in ready if flight.decoded])
    except RecognizerError as error:  # the engine's: full, or its worker gone
        for flight in ready:
            flight.error = error
    else:
        for flight, pending in zip(ready, pendings, strict=True):
            flight.pending = pending
    return flights


def _finish(model: LoadedModel, top_k: int, flight: _InFlight, *, raise_server_faults: bool) -> ItemResult:
    name = flight.name
    try:
        if flight.error is not None:
            raise flight.error
        assert flight.pending is not None and flight.decoded is not None
        inferred = flight.pending.result()
    except RecognizerError as error:
        if raise_server_faults and error.status >= SERVER_FAULT:
            raise
        return ItemResult(name=name, error=str(error))
    except OSError as error:
        return ItemResult(name=name, error=f"Expected a readable file. Received {error.strerror or error}")
    except ValueError as error:  # a path with a NUL byte
        return ItemResult(name=name, error=f"Expected a readable file. Received {error}")
    done = flight.decoded
    timings = {**done.timings, "queue": inferred.queue_ms, "inference": inferred.inference_ms}
    timings["total"] = (time.perf_counter() - done.started) * 1000.0
    classification = Classification.of_scores(
        model, inferred.scores, top_k=top_k, thumbnail=done.thumbnail, timings_ms=timings
    )
    return ItemResult(name=name, classification=classification, batch_size=inferred.batch_size)
