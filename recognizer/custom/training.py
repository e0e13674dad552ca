"""Teach a model new classes: a small softmax head on a frozen backbone's pooled features.

The backbone (EfficientNet-Lite0, ResNet50 or VGG19) is not trained: each photo goes through it once
(and each augmented copy: the photo flipped, and crops of it), and its pooled features, the input of
its ImageNet classifier, are kept, keyed by the photo's content hash, the copy and the backbone's weights,
so a photo in several trainings is run once. On those features a Keras head (dropout, one Dense layer
with a softmax) trains in seconds. The split is stratified: every class keeps the same share for
validation, and the copies of a validation photo never reach training (they would only measure how
well the head remembers). Training stops when the validation loss has not improved for `patience`
epochs, and keeps the best weights.

No Django here: the web side and the Celery jobs call `train_head` with photos they have read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from recognizer.custom.photos import LabelledPhoto
from recognizer.inference.imaging import decode_image, resize_to_array
from recognizer.inference.registry import LoadedModel

FEATURE_BATCH = 16
# The original, its mirror, and a centred and two corner crops keeping 80% of each side (and their mirrors).
CROP_SIDES = (0.8,)
# Few steps per epoch: the head is one Dense layer, and each Keras step has a fixed cost.
TRAINING_BATCH = 128
# A validation loss that improves by less than this is not improving: no epochs spent polishing 100%.
MIN_IMPROVEMENT = 1e-3
# keras.utils.set_random_seed seeds process-wide generators (Python's, NumPy's, TensorFlow's, Keras'). A batch
# worker runs two tasks at once (settings.py, CELERY_WORKER_POOL), so two trainings may share a process: each
# builds and fits its head under this lock, from its own seed, and gets the head it would get alone. Feature
# extraction, the long part, runs outside it.
_SEEDED_FIT = threading.Lock()

EpochReport = Callable[[int, float, float], None]  # epoch (from 1), training loss, validation accuracy


@dataclass(frozen=True)
class TrainingOptions:
    validation_share: float = 0.2
    max_epochs: int = 100
    patience: int = 10
    learning_rate: float = 1e-2
    dropout: float = 0.2
    seed: int = 0
    max_pixels: int = 40_000_000


@dataclass
class Validation:
    accuracy: float
    per_class: dict[str, dict[str, float]]  # label -> precision, recall, support
    confusion: list[list[int]]  # rows: true class, columns: predicted, in `classes` order
    classes: list[str]

    def as_dict(self) -> dict[str, object]:
        return {"accuracy": self.accuracy, "per_class": self.per_class, "confusion": self.confusion}


@dataclass
class TrainedHead:
    head: keras.Model
    classes: list[str]
    validation: Validation
    class_balance: dict[str, int]
    history: list[dict[str, float]] = field(default_factory=list)  # per epoch: loss, val_loss, val_accuracy
    seconds: dict[str, float] = field(default_factory=dict)  # features, training


def augmented_inputs(image: Image.Image, size: int) -> list[np.ndarray]:
    """The photo and its mirror, and centred and corner crops of it with their mirrors, each resized to `size`."""
    width, height = image.size
    views = [image]
    for side in CROP_SIDES:
        crop_w, crop_h = round(width * side), round(height * side)
        for left, top in ((width - crop_w) // 2, (height - crop_h) // 2), (0, 0), (width - crop_w, height - crop_h):
            views.append(image.crop((left, top, left + crop_w, top + crop_h)))
    arrays = []
    for view in views:
        pixels = resize_to_array(view, size)
        arrays += [pixels, pixels[:, ::-1, :]]
    return arrays


def feature_model(model: keras.Model) -> keras.Model:
    """The backbone up to its pooled features: the input of its last Dense (ImageNet) layer."""
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    if not dense:
        raise ValueError(f"Expected a classifier ending in a Dense layer. Received {model.name} without one")
    return keras.Model(model.input, dense[-1].input)


class FeatureExtractor:
    """Pooled features of a ready backbone, traced once, cached by photo content and backbone weights."""

    def __init__(self, backbone: LoadedModel, cache: MutableMapping[str, np.ndarray] | None = None) -> None:
        self.backbone = backbone
        self.cache = cache if cache is not None else {}
        pooled = feature_model(backbone.compiled.model)
        size = backbone.spec.input_size
        signature = [tf.TensorSpec([None, size, size, 3], tf.float32)]
        self._features = tf.function(lambda batch: pooled(batch, training=False), input_signature=signature)

    def of_photo(self, photo: LabelledPhoto, *, max_pixels: int) -> np.ndarray:
        """(copies, features) for one photo: every augmented view of it."""
        key = f"{self.backbone.fingerprint}:{photo.sha256}"
        if key not in self.cache:
            image = decode_image(photo.data, max_pixels=max_pixels, target_size=self.backbone.spec.input_size)
            views = np.stack(augmented_inputs(image, self.backbone.spec.input_size))
            preprocessed = self.backbone.preprocess(views)
            parts = [
                self._features(preprocessed[start : start + FEATURE_BATCH]).numpy()
                for start in range(0, len(preprocessed), FEATURE_BATCH)
            ]
            self.cache[key] = np.concatenate(parts)
        return self.cache[key]


def stratified_split(labels: Sequence[int], *, share: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices for training and validation: each class gives `share` of its photos (at least one) to validation."""
    rng = np.random.default_rng(seed)
    train, validate = [], []
    for label in sorted(set(labels)):
        members = [i for i, value in enumerate(labels) if value == label]
        rng.shuffle(members)
        cut = max(1, round(len(members) * share))
        validate += members[:cut]
        train += members[cut:]
    return sorted(train), sorted(validate)


def build_head(feature_size: int, class_count: int, *, dropout: float) -> keras.Model:
    inputs = keras.Input((feature_size,))
    hidden = keras.layers.Dropout(dropout)(inputs)
    return keras.Model(inputs, keras.layers.Dense(class_count, activation="softmax", name="classes")(hidden))


class _ReportEpochs(keras.callbacks.Callback):
    def __init__(self, history: list[dict[str, float]], on_epoch: EpochReport | None) -> None:
        super().__init__()
        self.history = history
        self.on_epoch = on_epoch

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        logs = logs or {}
        row = {name: float(logs[name]) for name in ("loss", "val_loss", "val_accuracy")}
        self.history.append(row)
        if self.on_epoch is not None:
            self.on_epoch(epoch + 1, row["loss"], row["val_accuracy"])


def train_head(
    photos: Sequence[LabelledPhoto],
    *,
    backbone: LoadedModel,
    options: TrainingOptions = TrainingOptions(),
    feature_cache: MutableMapping[str, np.ndarray] | None = None,
    on_epoch: EpochReport | None = None,
) -> TrainedHead:
    """Features of every photo and its copies, a stratified split, the head trained with early stopping."""
    classes = sorted({photo.label for photo in photos})
    labels = [classes.index(photo.label) for photo in photos]
    started = time.perf_counter()
    extractor = FeatureExtractor(backbone, feature_cache)
    per_photo = [extractor.of_photo(photo, max_pixels=options.max_pixels) for photo in photos]
    features_s = time.perf_counter() - started

    train_ids, val_ids = stratified_split(labels, share=options.validation_share, seed=options.seed)
    x_train = np.concatenate([per_photo[i] for i in train_ids])
    y_train = np.concatenate([[labels[i]] * len(per_photo[i]) for i in train_ids])
    x_val = np.stack([per_photo[i][0] for i in val_ids])  # validation sees each photo once, as it is
    y_val = np.array([labels[i] for i in val_ids])

    history: list[dict[str, float]] = []
    with _SEEDED_FIT:
        keras.utils.set_random_seed(options.seed)
        head = build_head(x_train.shape[1], len(classes), dropout=options.dropout)
        head.compile(
            optimizer=keras.optimizers.Adam(options.learning_rate),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        stop = keras.callbacks.EarlyStopping(
            monitor="val_loss", min_delta=MIN_IMPROVEMENT, patience=options.patience, restore_best_weights=True
        )
        started = time.perf_counter()
        head.fit(
            x_train,
            y_train,
            validation_data=(x_val, y_val),
            epochs=options.max_epochs,
            batch_size=TRAINING_BATCH,
            shuffle=True,
            verbose=0,
            callbacks=[stop, _ReportEpochs(history, on_epoch)],
        )
        training_s = time.perf_counter() - started
    predicted = np.argmax(np.asarray(head(x_val, training=False)), axis=1)
    return TrainedHead(
        head=head,
        classes=classes,
        validation=validation_report(y_val, predicted, classes),
        class_balance={label: labels.count(index) for index, label in enumerate(classes)},
        history=history,
        seconds={"features": features_s, "training": training_s},
    )


def validation_report(truth: np.ndarray, predicted: np.ndarray, classes: list[str]) -> Validation:
    count = len(classes)
    confusion = np.zeros((count, count), dtype=int)
    for true, guess in zip(truth, predicted, strict=True):
        confusion[true, guess] += 1
    per_class = {}
    for index, label in enumerate(classes):
        hits = int(confusion[index, index])
        called = int(confusion[:, index].sum())
        actual = int(confusion[index, :].sum())
        per_class[label] = {
            "precision": hits / called if called else 0.0,
            "recall": hits / actual if actual else 0.0,
            "support": actual,
        }
    accuracy = float(np.trace(confusion) / max(1, confusion.sum()))
    return Validation(accuracy=accuracy, per_class=per_class, confusion=confusion.tolist(), classes=classes)


def classifier(backbone: keras.Model, head: keras.Model) -> keras.Model:
    """The servable model: the backbone's pooled features into the trained head (preprocessing stays outside)."""
    pooled = feature_model(backbone)
    return keras.Model(pooled.input, head(pooled.output))
