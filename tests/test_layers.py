"""The import graph keeps its layers: the inference core imports no Django and nothing outside itself,
and the web packages depend only downwards (docs/architecture.md, "Layers")."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
PACKAGE = PROJECT / "recognizer"

# Which of recognizer's packages each may import (besides itself and the standard library).
ALLOWED = {
    "inference": set(),
    "ops": {"inference", "serving"},
    "history": {"inference"},
    "serving": {"inference", "custom"},
    "pages": {"inference", "history", "ops", "serving", "jobs", "custom"},
    "api": {"inference", "history", "ops", "serving", "jobs", "custom"},
    "management": {"inference", "history", "serving", "custom"},
    # A job may name a custom model (checked at submit); a custom model trains on the jobs' Celery app.
    "jobs": {"inference", "history", "serving", "custom"},
    "custom": {"inference", "history", "serving", "jobs"},
}


def layer_of(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def recognizer_imports(path: Path) -> set[str]:
    """The recognizer packages a module imports: `from recognizer.history.store import x` -> history."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "recognizer" and len(parts) > 1:
                found.add(parts[1])
        if isinstance(node, ast.ImportFrom) and node.module == "recognizer":
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_each_layer_imports_only_the_layers_below_it(layer: str) -> None:
    modules = [PACKAGE / f"{layer}.py"] if (PACKAGE / f"{layer}.py").exists() else (PACKAGE / layer).rglob("*.py")
    wrong = {
        f"{module.relative_to(PROJECT)} imports recognizer.{target}"
        for module in modules
        for target in recognizer_imports(module) - ALLOWED[layer] - {layer}
    }
    assert not wrong


def test_the_inference_core_imports_no_django() -> None:
    modules = sorted(
        ".".join(path.relative_to(PROJECT).with_suffix("").parts).removesuffix(".__init__")
        for path in (PACKAGE / "inference").rglob("*.py")
    )
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=PROJECT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
