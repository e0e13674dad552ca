"""A view written the way the original project did it: `model.predict` per request, a pyplot chart.

Bench only: it is the baseline the engine is measured against, never served by imgrec itself.
"""

from __future__ import annotations

import base64
import io

import keras
import matplotlib
import numpy as np
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from PIL import Image

from recognizer.inference.labels import top_k_predictions

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

MODEL = keras.applications.ResNet50(weights=None)  # loaded at import, as the original did


@csrf_exempt
def original_classify(request: HttpRequest) -> HttpResponse:
    image = Image.open(request.FILES["image"]).convert("RGB").resize((224, 224))
    x = keras.applications.resnet50.preprocess_input(np.expand_dims(keras.utils.img_to_array(image), axis=0))
    scores = MODEL.predict(x)[0]
    predictions = top_k_predictions(scores, 5)
    plt.figure(figsize=(6.4, 3.25))
    plt.barh([p.label for p in predictions][::-1], [p.score * 100 for p in predictions][::-1])
    plt.xlabel("probability (%)")
    plt.tight_layout()
    buffer = io.BytesIO()
    plt.savefig(buffer, format="png")
    plt.close()
    chart = base64.b64encode(buffer.getvalue()).decode()
    rows = "".join(f"<li>{p.label}: {p.score:.2%}</li>" for p in predictions)
    return HttpResponse(f'<img src="data:image/png;base64,{chart}"><ol>{rows}</ol>')


urlpatterns = [
    path("original/", original_classify),
    path("", include("recognizer.urls")),
]
