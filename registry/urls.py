"""Portal (HTML) routes of the registry app."""

from django.urls import path

from registry import views

app_name = "registry"
urlpatterns = [
    path("models/", views.model_list, name="model-list"),
    path("models/<str:name>/", views.model_detail, name="model-detail"),
    path("models/<str:name>/versions/<id:version>/", views.version_detail, name="version-detail"),
]
urlpatterns += [
    path("models/<str:name>/versions/<id:version>/reports/", views.report_request, name="report-request"),
    path("models/<str:name>/versions/<id:version>/reports/<id:pk>/progress/", views.report_progress, name="report-progress"),
]
urlpatterns += [
    path("models/<str:name>/versions/<id:version>/what-if/", views.whatif_request, name="whatif-request"),
    path("models/<str:name>/versions/<id:version>/what-if/<uuid:job_id>/", views.whatif_result, name="whatif-result"),
]
