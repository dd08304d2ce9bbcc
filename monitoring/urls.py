"""Portal (HTML) routes of the monitoring app."""

from django.urls import path

from monitoring import views

app_name = "monitoring"
urlpatterns: list = [
    path("reports/<id:pk>/", views.report_detail, name="report-detail"),
    path("model-cards/<id:version_id>/", views.modelcard_detail, name="modelcard-detail"),
]
