from __future__ import annotations

from django.urls import path

from recognizer import views

app_name = "recognizer"

urlpatterns = [
    path("", views.upload, name="upload"),
    path("about/", views.about, name="about"),
]
