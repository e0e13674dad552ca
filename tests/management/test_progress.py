from __future__ import annotations

from recognizer.management.progress import ProgressBar, format_progress


def test_progress_shows_done_of_total_rate_and_time_left() -> None:
    line = format_progress(250, 1000, 10.0)
    assert line == "[#######.......................]  250/1000  25.0 images/s  ETA 0:30"


def test_finished_progress_shows_the_time_taken() -> None:
    assert format_progress(1000, 1000, 3725.0).endswith("1000/1000  0.3 images/s  in 1:02:05")


def test_a_message_clears_the_bar_and_draws_it_again_below() -> None:
    written: list[str] = []
    bar = ProgressBar(written.append, 4)
    bar.advance()
    bar.message("x.png: broken")
    bar.close()
    text = "".join(written)
    assert "\r\x1b[Kx.png: broken\n\r[" in text
    assert text.count("\r[") == 3 and text.endswith(" 1/4  " + text.rsplit(" 1/4  ", 1)[1])
    assert text.endswith("\n")
