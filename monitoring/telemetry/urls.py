"""Portal routes of SLA monitoring (dashboards, alerts), mounted under /monitoring/sla/."""

from django.urls import path

from monitoring.telemetry import views

app_name = "telemetry"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("deployments/<id:pk>/", views.dashboard, name="dashboard"),
    path("deployments/<id:pk>/canary/", views.canary, name="canary"),
    path("alerts/", views.alert_list, name="alert-list"),
    path("alerts/<id:pk>/", views.alert_detail, name="alert-detail"),
    path("alerts/<id:pk>/acknowledge/", views.alert_acknowledge, name="alert-acknowledge"),
    path("alerts/<id:pk>/resolve/", views.alert_resolve, name="alert-resolve"),
]
