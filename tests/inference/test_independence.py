from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]


def test_the_inference_modules_do_not_import_django() -> None:
    """The inference core is for any caller (CLI, batch jobs), so importing it must not pull in Django."""
    probe = (
        "import sys\n"
        "import recognizer.inference.gradcam, recognizer.inference.hierarchy\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'django'))\n"
    )

    completed = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPOSITORY, capture_output=True, text=True, check=True, timeout=120
    )

    assert completed.stdout.strip() == "[]"
