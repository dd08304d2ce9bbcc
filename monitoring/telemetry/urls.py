"""Portal routes of SLA monitoring (dashboards, alerts), mounted under /monitoring/sla/."""

app_name = "telemetry"
urlpatterns: list = []
