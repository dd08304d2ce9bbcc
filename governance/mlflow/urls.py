"""MLflow's model-registry REST paths, mounted at /api/2.0/mlflow/ (no trailing slashes, as MLflow)."""

from django.urls import path

from governance.mlflow import views

app_name = "mlflow"

urlpatterns = [
    path("registered-models/create", views.registered_model_create, name="registered-model-create"),
    path("registered-models/get", views.registered_model_get, name="registered-model-get"),
    path("registered-models/rename", views.registered_model_rename, name="registered-model-rename"),
    path("registered-models/update", views.registered_model_update, name="registered-model-update"),
    path("registered-models/delete", views.registered_model_delete, name="registered-model-delete"),
    path("registered-models/search", views.registered_model_search, name="registered-model-search"),
    path("registered-models/get-latest-versions", views.registered_model_latest_versions, name="registered-model-latest-versions"),
    path("registered-models/set-tag", views.registered_model_set_tag, name="registered-model-set-tag"),
    path("registered-models/delete-tag", views.registered_model_delete_tag, name="registered-model-delete-tag"),
    path("registered-models/alias", views.registered_model_alias, name="registered-model-alias"),
    path("model-versions/create", views.model_version_create, name="model-version-create"),
    path("model-versions/get", views.model_version_get, name="model-version-get"),
    path("model-versions/update", views.model_version_update, name="model-version-update"),
    path("model-versions/delete", views.model_version_delete, name="model-version-delete"),
    path("model-versions/search", views.model_version_search, name="model-version-search"),
    path("model-versions/get-download-uri", views.model_version_download_uri, name="model-version-download-uri"),
    path("model-versions/set-tag", views.model_version_set_tag, name="model-version-set-tag"),
    path("model-versions/delete-tag", views.model_version_delete_tag, name="model-version-delete-tag"),
    path("model-versions/transition-stage", views.model_version_transition_stage, name="model-version-transition-stage"),
]
