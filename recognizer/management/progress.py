"""A one-line progress bar for a terminal: done/total, images per second and time left."""

from __future__ import annotations

import time
from collections.abc import Callable

BAR_WIDTH = 30
REDRAW_EVERY_S = 0.2


def format_progress(done: int, total: int, elapsed_s: float) -> str:
    """`[#########.....]  120/1000  41.3 images/s  ETA 0:21`."""
    filled = BAR_WIDTH * done // total if total else BAR_WIDTH
    rate = done / elapsed_s if elapsed_s > 0 else 0.0
    eta = f"ETA {_clock((total - done) / rate)}" if rate > 0 and done < total else f"in {_clock(elapsed_s)}"
    bar = "#" * filled + "." * (BAR_WIDTH - filled)
    return f"[{bar}] {done:>{len(str(total))}}/{total}  {rate:.1f} images/s  {eta}"


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressBar:
    """Redrawn in place with a carriage return, at most every REDRAW_EVERY_S; `close` ends the line."""

    def __init__(self, write: Callable[[str], None], total: int) -> None:
        self.write = write  # writes and flushes, adding no newline
        self.total = total
        self.done = 0
        self.started = time.perf_counter()
        self._drawn_at = 0.0

    def advance(self, *, redraw: bool = False) -> None:
        """One more done; drawn now if `redraw` (the bar was cleared), else at most every REDRAW_EVERY_S."""
        self.done += 1
        now = time.perf_counter()
        if redraw or now - self._drawn_at >= REDRAW_EVERY_S or self.done == self.total:
            self._drawn_at = now
            self._draw(now)

    def clear(self) -> None:
        """Wipe the bar's line, before something else is written to the same terminal."""
        self.write("\r\x1b[K")

    def message(self, text: str) -> None:
        """A line above the bar: clear the bar, write the line, draw the bar again."""
        self.write(f"\r\x1b[K{text}\n")
        self._draw(time.perf_counter())

    def close(self) -> None:
        self._draw(time.perf_counter())
        self.write("\n")

    def _draw(self, now: float) -> None:
        self.write("\r" + format_progress(self.done, self.total, now - self.started))
