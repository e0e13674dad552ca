"""Build a Keras model whose initial weights come from NumPy, not from TensorFlow ops.

Keras draws each variable's initial value with TensorFlow ops, and for a large kernel each step of the draw
is a tensor of the kernel's size (VGG19's first dense kernel is 411 MB: a uniform draw, then its scaling).
Where TensorFlow runs on oneDNN (it does by default on CPUs with AVX-512 VNNI or BF16), its allocator is a
pool that never gives memory back, so those temporaries stay in the process for good: about 780 MB after
building VGG19. Here the model is built with its variables deferred (`keras.StatelessScope`), and each
variable whose initializer is one of Keras' common ones (variance scaling, zeros, ones) is filled from NumPy,
whose large arrays go back to the system when freed; any other initializer keeps Keras' own draw.

The values follow the same distributions as Keras' (the same fan and scale rules), from NumPy's generator
instead of TensorFlow's. `zeros=True` fills every such variable with zeros instead, for a model whose
weights are read from a file right after (a draw would be thrown away).

This relies on one private attribute of Keras' variables (`_initializer`, the deferred initializer);
requirements.txt pins Keras, and tests/inference/zoo/test_numpy_init.py checks the result.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import keras

# Keras' constant that turns a truncated normal's stddev into the untruncated one's (truncation at 2 sigma).
TRUNCATED_NORMAL_STDDEV = 0.87962566103423978
NUMPY_FLOATS = ("float16", "float32", "float64")
Fill = Callable[[tuple[int, ...], Any], np.ndarray]


def build_with_numpy_init(
    constructor: Callable[[], keras.Model], *, zeros: bool = False, seed: int | None = None
) -> keras.Model:
    """`constructor()` (which must build the model without loading weights), its initial weights drawn by
    NumPy wherever Keras' initializer is a common one; `seed` makes those draws repeatable."""
    import keras

    generator = np.random.default_rng(seed)
    with keras.StatelessScope():  # variables are created uninitialized; leaving the scope initializes them
        model = constructor()
        for variable in model.variables:
            pending = getattr(variable, "_initializer", None)
            if pending is None or variable.dtype not in NUMPY_FLOATS:
                continue
            fill = numpy_fill(pending, generator, zeros=zeros)
            if fill is not None:
                variable._initializer = fill
    return model


def numpy_fill(initializer: object, generator: np.random.Generator, *, zeros: bool = False) -> Fill | None:
    """A function (shape, dtype) -> array with `initializer`'s distribution (zeros with `zeros`), or None for an
    initializer it does not know."""
    from keras import initializers

    constant = isinstance(initializer, (initializers.Zeros, initializers.Ones))
    if not constant and not (isinstance(initializer, initializers.VarianceScaling) and _default_axes(initializer)):
        return None
    if zeros or isinstance(initializer, initializers.Zeros):
        return lambda shape, dtype=None: np.zeros(shape, dtype=_numpy_dtype(dtype))
    if constant:
        return lambda shape, dtype=None: np.ones(shape, dtype=_numpy_dtype(dtype))
    return lambda shape, dtype=None: _variance_scaling(initializer, generator, tuple(shape), _numpy_dtype(dtype))


def _default_axes(initializer: keras.initializers.VarianceScaling) -> bool:
    return getattr(initializer, "input_axes", None) is None and getattr(initializer, "output_axes", None) is None


def _variance_scaling(
    initializer: keras.initializers.VarianceScaling,
    generator: np.random.Generator,
    shape: tuple[int, ...],
    dtype: np.dtype,
) -> np.ndarray:
    """Keras' `VarianceScaling.__call__`, drawn by NumPy, in place to hold one array of the variable's size."""
    fan_in, fan_out = fans(shape)
    fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[initializer.mode]
    scale = initializer.scale / max(1.0, fan)
    if initializer.distribution == "uniform":
        limit = math.sqrt(3.0 * scale)
        values = generator.random(shape, dtype=np.float32)
        values *= 2.0 * limit
        values -= limit
    elif initializer.distribution == "truncated_normal":
        values = _truncated_standard_normal(generator, shape)
        values *= math.sqrt(scale) / TRUNCATED_NORMAL_STDDEV
    else:  # untruncated_normal
        values = generator.standard_normal(shape, dtype=np.float32)
        values *= math.sqrt(scale)
    return values.astype(dtype, copy=False)


def _truncated_standard_normal(generator: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """A standard normal redrawn wherever it falls beyond two standard deviations (as TensorFlow's)."""
    values = generator.standard_normal(shape, dtype=np.float32)
    outside = np.abs(values) > 2.0
    while outside.any():
        values[outside] = generator.standard_normal(int(outside.sum()), dtype=np.float32)
        outside = np.abs(values) > 2.0
    return values


def fans(shape: tuple[int, ...]) -> tuple[float, float]:
    """Keras' `compute_fans`: a kernel's last two axes are (in, out), the others its receptive field."""
    if len(shape) == 0:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    receptive_field = math.prod(shape[:-2])
    return float(shape[-2] * receptive_field), float(shape[-1] * receptive_field)


def _numpy_dtype(dtype: Any) -> np.dtype:
    return np.dtype(dtype or "float32")
