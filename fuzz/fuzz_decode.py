"""atheris harness over imaging.decode_image: only our own RecognizerError subclasses may escape.

Run from the project root: `make fuzz` (FUZZ_SECONDS=60), or
`python -m fuzz.fuzz_decode -max_total_time=60 [libFuzzer options]`. The seed corpus (a small
valid file of each accepted format) is generated into var/fuzz-corpus on every run; crashing
inputs are written to the current directory as crash-<hash>.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["PIL", "recognizer"]):
    # Pillow imports its format plugins lazily; import the allowed ones here so they are instrumented.
    from PIL import BmpImagePlugin, GifImagePlugin, JpegImagePlugin, PngImagePlugin, WebPImagePlugin  # noqa: F401

    from recognizer.inference.errors import RecognizerError
    from recognizer.inference.imaging import decode_image, resize_to_array

from fuzz.seeds import write_seeds

CORPUS_DIR = Path(__file__).resolve().parent.parent / "var" / "fuzz-corpus"
# Small enough that a fuzzed header cannot make one input allocate much; the limit logic is the same.
MAX_PIXELS = 1_000_000


def test_one_input(data: bytes) -> None:
    try:
        image = decode_image(data, max_pixels=MAX_PIXELS)
    except RecognizerError:
        return
    resize_to_array(image, 32)
    if image.mode != "RGB":
        raise AssertionError(f"decode_image returned mode {image.mode}, expected RGB")


def main() -> None:
    # Pillow warns about every corrupt EXIF block it skips; the bomb warning stays an error in decode_image.
    warnings.simplefilter("ignore", UserWarning)
    write_seeds(CORPUS_DIR)
    atheris.Setup([*sys.argv, str(CORPUS_DIR)], test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
