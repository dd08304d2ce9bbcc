"""Portal (HTML) routes of the governance app."""

from django.urls import path

from governance import views
from governance.modelrisk import views as modelrisk_views

app_name = "governance"
urlpatterns = [
    path("requests/", views.request_list, name="request-list"),
    path("requests/<id:pk>/", views.request_detail, name="request-detail"),
    path("requests/<id:pk>/status/", views.request_status, name="request-status"),
    path("requests/<id:pk>/evidence.<str:file_format>", views.request_evidence, name="request-evidence"),
    path("audit/", views.audit_trail, name="audit"),
    path("audit/verify/", views.audit_verify, name="audit-verify"),
    path("access-log/", views.access_log, name="access-log"),
    path("access-review/", views.access_review, name="access-review"),
    path("access-log/<str:log>.csv", views.access_log_export, name="access-log-export"),
]
urlpatterns += [
    path("requests/<id:pk>/decide/", views.request_decide, name="request-decide"),
]
urlpatterns += [
    path("requests/<id:pk>/override/", views.request_override, name="request-override"),
    path("requests/<id:pk>/<str:action>/", views.request_action, name="request-action"),
    path("versions/<id:pk>/promote/", views.version_promote, name="version-promote"),
    path("versions/<id:pk>/deploy/", views.version_deploy, name="version-deploy"),
]
urlpatterns += [
    path("deployments/<id:pk>/rollback/", views.deployment_rollback, name="deployment-rollback"),
]

# Model risk management (governance.modelrisk).
urlpatterns += [
    path("model-risk/", modelrisk_views.dashboard, name="model-risk-dashboard"),
    path("model-risk/models/<str:name>/", modelrisk_views.model_risk, name="model-risk"),
    path("model-risk/models/<str:name>/<str:action>/", modelrisk_views.model_risk_action, name="model-risk-action"),
    path("model-risk/validations/<id:pk>/", modelrisk_views.validation_detail, name="validation-detail"),
    path("model-risk/validations/<id:pk>/<str:action>/", modelrisk_views.validation_action, name="validation-action"),
    path("model-risk/findings/<id:pk>/<str:action>/", modelrisk_views.finding_action, name="finding-action"),
    path("model-risk/documents/<id:pk>/", modelrisk_views.document_detail, name="document-detail"),
    path("model-risk/documents/<id:pk>/save/", modelrisk_views.document_save, name="document-save"),
    path("model-risk/documents/<id:pk>/export/", modelrisk_views.document_export, name="document-export"),
]
