from __future__ import annotations

from django.urls import path

from recognizer.api import custom_models as api_custom
from recognizer.api import custom_training as api_custom_training
from recognizer.api import docs as api_docs
from recognizer.api import jobs as api_jobs
from recognizer.api import views as api
from recognizer.history import views as history
from recognizer.ops import health, metrics
from recognizer.pages import batch, compare, custom_models, train, views

app_name = "recognizer"

urlpatterns = [
    path("", views.upload, name="upload"),
    path("about/", views.about, name="about"),
    path("compare/", compare.compare, name="compare"),
    path("custom/<str:name>/download", custom_models.download, name="custom_download"),
    path("custom/<str:name>/delete/", custom_models.delete, name="custom_delete"),
    path("custom/<str:name>/public/", custom_models.publish, name="custom_public"),
    path("r/<uuid:entry_id>/", views.permalink, name="permalink"),
    path("batch/", batch.batch, name="batch"),
    path("batch/<uuid:job_id>/", batch.batch_job, name="batch_job"),
    path("batch/<uuid:job_id>/cancel/", batch.batch_cancel, name="batch_cancel"),
    path("batch/<uuid:job_id>/results.json", batch.batch_json, name="batch_json"),
    path("batch/<uuid:job_id>/<int:index>.jpg", batch.batch_thumbnail, name="batch_thumbnail"),
    path("train/", train.train, name="train"),
    path("train/<uuid:model_id>/", train.train_model, name="train_model"),
    path("train/<uuid:model_id>/status.json", train.train_status, name="train_status"),
    path("train/<uuid:model_id>/progress.svg", train.train_progress_chart, name="train_progress_chart"),
    path("train/<uuid:model_id>/confusion.svg", train.train_confusion_chart, name="train_confusion_chart"),
    path("train/<uuid:model_id>/again/", train.train_again, name="train_again"),
    path("history/", history.history, name="history"),
    path("history/export.csv", history.export, {"fmt": "csv"}, name="history_csv"),
    path("history/export.json", history.export, {"fmt": "json"}, name="history_json"),
    path("history/<uuid:entry_id>/delete/", history.delete, name="history_delete"),
    path("r/<uuid:entry_id>/thumbnail.jpg", history.thumbnail, name="thumbnail"),
    path("api/v1/models", api.models, name="api_models"),
    path("api/v1/classify", api.classify, name="api_classify"),
    path("api/v1/compare", api.compare, name="api_compare"),
    path("api/v1/jobs", api_jobs.submit, name="api_jobs"),
    path("api/v1/jobs/<str:job_id>", api_jobs.status, name="api_job"),
    path("api/v1/jobs/<str:job_id>/results", api_jobs.results, name="api_job_results"),
    path("api/v1/jobs/<str:job_id>/results.csv", api_jobs.results_as_csv, name="api_job_results_csv"),
    path("api/v1/jobs/<str:job_id>/cancel", api_jobs.cancel, name="api_job_cancel"),
    path("api/v1/custom-models", api_custom.collection, name="api_custom_models"),
    path("api/v1/custom-models/upload", api_custom.upload, name="api_custom_model_upload"),
    path("api/v1/custom-models/<str:name>", api_custom.detail, name="api_custom_model"),
    path("api/v1/custom-models/<str:name>/download", api_custom.download, name="api_custom_model_download"),
    path("api/v1/custom-models/<str:name>/train", api_custom_training.train_again, name="api_custom_model_train"),
    path("api/v1/openapi.json", api.openapi_json, name="api_openapi"),
    path("api/docs", api_docs.docs, name="api_docs"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
]
