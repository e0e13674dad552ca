"""decode_image against the inputs that attack the decoder: bombs, animations, EXIF, odd modes."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fuzz.seeds import seed_files
from recognizer.inference import imaging
from recognizer.inference.errors import ImageTooLarge, InvalidInput
from recognizer.inference.imaging import MAX_EXIF_BYTES, decode_image, resize_to_array
from tests.hostile_corpus import STORE_FOR_ORIENTATION, animated_gif, gif_bomb, header_only_png, oriented_png
from tests.images import encode, scene_rgb

MAX_PIXELS = 40_000_000


def decoded(data: bytes, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    return np.asarray(decode_image(data, max_pixels=max_pixels))


@pytest.mark.parametrize("orientation", list(STORE_FOR_ORIENTATION))
def test_every_exif_orientation_decodes_to_the_upright_pixels(orientation: int) -> None:
    np.testing.assert_array_equal(decoded(oriented_png(orientation)), np.asarray(scene_rgb()))


def test_our_limit_refuses_before_pillows_own() -> None:
    with pytest.raises(ImageTooLarge, match="Received 5000x5000 = 25,000,000 pixels"):
        decode_image(header_only_png(5000, 5000), max_pixels=1_000_000)


def test_pillows_bomb_warning_is_an_error_even_under_a_higher_limit() -> None:
    # 10000x10000 is over Pillow's warning threshold (~89 M pixels) but under this limit.
    with pytest.raises(ImageTooLarge, match="decompression bomb"):
        decode_image(header_only_png(10000, 10000), max_pixels=500_000_000)


def test_pillows_threshold_holds_even_when_the_warnings_filter_is_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    # Another thread's catch_warnings can restore a filter list without our "error" entry.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        monkeypatch.setattr(imaging.warnings, "simplefilter", lambda *args, **kwargs: None)
        with pytest.raises(ImageTooLarge, match="Received 10000x10000 = 100,000,000 pixels"):
            decode_image(header_only_png(10000, 10000), max_pixels=500_000_000)


@pytest.mark.parametrize("frame_side", [8000, 30000])
def test_gif_whose_frame_outgrows_its_screen_is_refused(frame_side: int) -> None:
    with pytest.raises(ImageTooLarge, match="Expected at most 40,000,000 pixels"):
        decode_image(gif_bomb(frame_side), max_pixels=MAX_PIXELS)


def test_an_animation_gives_its_first_frame() -> None:
    data = animated_gif(frames=500)
    first = Image.open(io.BytesIO(data)).convert("RGB")
    np.testing.assert_array_equal(decoded(data), np.asarray(first))


def test_animated_webp_gives_its_first_frame() -> None:
    frames = [Image.new("RGB", (32, 32), colour) for colour in ((200, 0, 0), (0, 200, 0), (0, 0, 200))]
    data = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    assert decoded(data)[0, 0].tolist() == [200, 0, 0]


def exif_of(size: int) -> bytes:
    exif = Image.Exif()
    exif[0x010E] = "x" * size
    return exif.tobytes()


def test_oversized_exif_is_refused_before_it_is_parsed() -> None:
    with pytest.raises(InvalidInput, match="Expected EXIF metadata of at most 64 KB. Received 195 KB"):
        decode_image(encode(scene_rgb(), "PNG", exif=exif_of(200_000)), max_pixels=MAX_PIXELS)


def test_exif_as_large_as_a_jpeg_can_hold_is_accepted() -> None:
    data = encode(scene_rgb(), "JPEG", exif=exif_of(MAX_EXIF_BYTES - 1024))
    assert decode_image(data, max_pixels=MAX_PIXELS).size == (320, 240)


@pytest.mark.parametrize(
    ("mode", "expected_corner"),
    [
        ("CMYK", (250, 250, 0)),
        ("RGBA", (250, 250, 0)),
        ("LA", (222, 222, 222)),  # luminance of (250, 250, 0)
        ("P", (250, 250, 0)),
    ],
)
def test_modes_give_sensible_rgb(mode: str, expected_corner: tuple[int, int, int]) -> None:
    image = scene_rgb().convert(mode)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    corner = decoded(encode(image, fmt, **({"quality": 100} if fmt == "JPEG" else {})))[5, 5]
    assert np.abs(corner.astype(int) - expected_corner).max() <= 6


def test_sixteen_bit_ramp_keeps_its_black_and_white_ends() -> None:
    ramp = (np.linspace(0, 65535, 240 * 320).reshape(240, 320)).astype(np.uint16)
    array = resize_to_array(decode_image(encode(Image.fromarray(ramp), "PNG"), max_pixels=MAX_PIXELS), 64)
    assert array[0, 0, 0] < 10 and array[-1, -1, 0] > 245


@pytest.mark.parametrize(("name", "data"), list(seed_files()), ids=[name for name, _ in seed_files()])
def test_every_fuzz_seed_is_a_valid_image_of_an_accepted_format(name: str, data: bytes) -> None:
    assert decode_image(data, max_pixels=MAX_PIXELS).mode == "RGB"


def test_the_fuzz_harness_runs_over_its_seeds_and_finds_nothing(tmp_path: Path) -> None:
    # libFuzzer's RSS limit reads the peak RSS, which a forked child inherits from this (large)
    # pytest process: it is off here and on in `make fuzz`.
    done = subprocess.run(
        [sys.executable, "-m", "fuzz.fuzz_decode", "-runs=300", "-timeout=10", "-rss_limit_mb=0"]
        + [f"-artifact_prefix={tmp_path}/"],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"^Done \d+ runs", done.stderr, re.MULTILINE)  # the seeds, then 300 mutations
