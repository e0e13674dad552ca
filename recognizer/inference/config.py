"""What the inference core needs to know, as one object: built from Django settings by the web side
(`recognizer/serving.py`), or directly by a worker, a benchmark or a test."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from recognizer.inference.batching import EngineConfig

DEFAULT_MODELS = ("resnet50", "vgg19", "efficientnet_lite0")


@dataclass(frozen=True)
class InferenceConfig:
    models: tuple[str, ...] = DEFAULT_MODELS
    weights_mode: str = "imagenet"  # or "random": ImageNet architectures with random weights
    weights_dir: str = ""  # looked in before the Keras cache
    cache_dir: Path = Path("var/cache")  # derived files, such as converted weights
    max_pixels: int = 40_000_000
    decode_budget_pixels: int = 64_000_000  # decoded pixels in flight per process (inference/budget.py)
    engine: EngineConfig = field(default_factory=EngineConfig)
    precision: str = "fp32"  # or "fast": int8 forward passes (inference/precision.py)
