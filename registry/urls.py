"""Portal (HTML) routes of the registry app, plus the version-page routes other
apps register (``registry.extensions.register_version_routes``, e.g. monitoring's
report requests); URL confs load after every app's ``ready()``."""

from django.urls import include, path

from registry import extensions, views

app_name = "registry"
urlpatterns = [
    path("models/", views.model_list, name="model-list"),
    path("models/<str:name>/", views.model_detail, name="model-detail"),
    path("models/<str:name>/versions/<id:version>/", views.version_detail, name="version-detail"),
    path("models/<str:name>/versions/<id:version>/training-run/resolve/", views.training_run_resolve, name="training-run-resolve"),
]
urlpatterns += [path("models/<str:name>/versions/<id:version>/", include(routes)) for routes in extensions.VERSION_ROUTES]
