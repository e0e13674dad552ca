from __future__ import annotations

from django.urls import path

from recognizer import api, compare_views, health, history_views, views

app_name = "recognizer"

urlpatterns = [
    path("", views.upload, name="upload"),
    path("about/", views.about, name="about"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # --- JSON API, compare, history (issue 4) ---
    path("api/v1/models", api.models, name="api_models"),
    path("api/v1/classify", api.classify, name="api_classify"),
    path("api/v1/compare", api.compare, name="api_compare"),
    path("api/v1/openapi.json", api.openapi_json, name="api_openapi"),
    path("api/docs", api.docs, name="api_docs"),
    path("compare/", compare_views.compare, name="compare"),
    path("history/", history_views.history, name="history"),
    path("history/export.csv", history_views.export, {"fmt": "csv"}, name="history_csv"),
    path("history/export.json", history_views.export, {"fmt": "json"}, name="history_json"),
    path("history/<uuid:entry_id>/delete/", history_views.delete, name="history_delete"),
    path("r/<uuid:entry_id>/", history_views.permalink, name="permalink"),
    path("r/<uuid:entry_id>/thumbnail.jpg", history_views.thumbnail, name="thumbnail"),
]
