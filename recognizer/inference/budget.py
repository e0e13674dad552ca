"""A per-process budget of decoded pixels in flight: memory bounded by design, not by luck.

A small compressed PNG can decode to 40 megapixels (160 MB as RGB, more on the way from other modes),
so the number of uploads in flight says nothing about memory. Each request reserves the pixels its
image will decode to (read from the header, after the pixel limit: `imaging.decoded_pixel_count`)
before decoding, and gives them back once its model inputs and thumbnail are made. A reservation that
would go over the budget is refused at once with `Overloaded` (503, Retry-After), like a full queue.
One image is always admitted when nothing else is in flight, so the bound is the larger of the budget
and one image at the pixel limit.

After a large image is released, glibc is asked to hand freed heap pages back to the system
(`malloc_trim`): otherwise the per-thread arenas of a burst keep the process's RSS near its peak.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from recognizer.inference.errors import Overloaded

# Releasing at least this many pixels (~16 MB as RGB) is worth a malloc_trim (about a millisecond).
TRIM_AFTER_PIXELS = 4_000_000


def _load_malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        return None


_malloc_trim = _load_malloc_trim()


def release_free_memory() -> None:
    """Return freed heap memory to the system where the C library can (glibc); else nothing."""
    if _malloc_trim is not None:
        _malloc_trim(0)


class DecodeBudget:
    """At most `capacity_pixels` decoded pixels in flight in this process, shared by every thread."""

    def __init__(self, capacity_pixels: int) -> None:
        if capacity_pixels < 1:
            raise ValueError(f"Expected a decode budget of at least 1 pixel. Received {capacity_pixels}")
        self.capacity_pixels = capacity_pixels
        self._in_flight = 0
        self._lock = threading.Lock()

    @property
    def in_flight_pixels(self) -> int:
        return self._in_flight

    @contextmanager
    def reserve(self, pixels: int) -> Iterator[None]:
        """Hold `pixels` of the budget for the block, or raise Overloaded (503) at once."""
        with self._lock:
            if self._in_flight and self._in_flight + pixels > self.capacity_pixels:
                in_flight = self._in_flight
                raise Overloaded(
                    f"Expected decoded images in flight to stay within {self.capacity_pixels / 1e6:,.0f} megapixels. "
                    f"Received {pixels / 1e6:,.1f} more while {in_flight / 1e6:,.1f} are being decoded; "
                    "try again in a moment"
                )
            self._in_flight += pixels
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= pixels
            if pixels >= TRIM_AFTER_PIXELS:
                release_free_memory()
