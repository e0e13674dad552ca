"""The bare forward pass of one model: `model(x, training=False)` inside one `tf.function`, and its Grad-CAM."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import keras

    from recognizer.inference.gradcam import GradCam


class CompiledModel:
    """A Keras model behind a traced forward pass, safe to call from many threads.

    The input signature has a free batch dimension so every batch size reuses one trace. At most
    `concurrency` calls run at once (a traced function may be called from several threads): 1 for a
    large model, whose one forward pass already keeps every core busy, so that a second would only fight
    it for them; 2 for a small one that leaves cores idle between its many small operations
    (`ModelSpec.concurrent_batches`).
    """

    precision = "fp32"  # what the forward pass computes in (quantized.OnnxModel: int8, or fp32)
    runtime = "keras"  # what runs it (quantized.OnnxModel: onnxruntime)

    def __init__(self, model: keras.Model, *, input_size: int, concurrency: int = 1) -> None:
        import tensorflow as tf

        self.model = model
        self.input_size = input_size
        self.concurrency = concurrency
        self.trace_count = 0
        self._slots = threading.BoundedSemaphore(concurrency)
        self._grad_cam: GradCam | None = None
        self._grad_cam_lock = threading.Lock()

        def forward(batch: tf.Tensor) -> tf.Tensor:
            self.trace_count += 1
            return model(batch, training=False)

        signature = [tf.TensorSpec([None, input_size, input_size, 3], tf.float32)]
        self._forward = tf.function(forward, input_signature=signature)

    def forward(self, batch: np.ndarray) -> np.ndarray:
        """Preprocessed (n, size, size, 3) float32 -> (n, 1000) class probabilities."""
        with self._slots:
            return self._forward(np.asarray(batch, dtype=np.float32)).numpy()

    def prepare_explain(self) -> None:
        """Build the GradCam and trace its function (seconds for a large model), once. Outside the forward
        lock: batches keep running meanwhile; a concurrent caller waits here for the first one."""
        with self._grad_cam_lock:
            if self._grad_cam is None:
                from recognizer.inference.gradcam import GradCam

                grad_cam = GradCam(self.model)
                grad_cam.trace()
                self._grad_cam = grad_cam

    def explain(self, pixels: np.ndarray, class_index: int | None = None) -> tuple[int, np.ndarray]:
        """Grad-CAM of one preprocessed (size, size, 3) image: the class explained (None: the top-1) and its
        heatmap (grid rows x columns, 0..1, rows top to bottom). It takes one of the forward passes' places,
        so an explanation shares the cores with no more batches than a batch does.
        """
        self.prepare_explain()
        assert self._grad_cam is not None
        batch = np.asarray(pixels, dtype=np.float32)[np.newaxis]
        with self._slots:
            result = self._grad_cam.run(batch, None if class_index is None else [class_index])
        return int(result.class_indices[0]), result.heatmaps[0]

    def warm_up(self, batch_sizes: tuple[int, ...] = (1,)) -> None:
        """Run each batch size once, so no request pays for the first call of a shape."""
        for size in batch_sizes:
            self.forward(np.zeros((size, self.input_size, self.input_size, 3), dtype=np.float32))
