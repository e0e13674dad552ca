from __future__ import annotations

from django.urls import path

from recognizer import health, views

app_name = "recognizer"

urlpatterns = [
    path("", views.upload, name="upload"),
    path("about/", views.about, name="about"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
]
