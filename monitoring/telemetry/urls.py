"""Portal routes of SLA monitoring (dashboards, alerts), mounted under /monitoring/sla/."""

from django.urls import path

from monitoring.telemetry import views

app_name = "telemetry"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("deployments/<int:pk>/", views.dashboard, name="dashboard"),
    path("deployments/<int:pk>/canary/", views.canary, name="canary"),
    path("alerts/", views.alert_list, name="alert-list"),
    path("alerts/<int:pk>/acknowledge/", views.alert_acknowledge, name="alert-acknowledge"),
    path("alerts/<int:pk>/resolve/", views.alert_resolve, name="alert-resolve"),
]
