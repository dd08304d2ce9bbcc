"""Celery application, wired the standard way (Celery's "First steps with Django").

With no broker configured (the embedded default) settings turn on
``task_always_eager`` so tasks run in-process when their transaction commits.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "modelgate.settings")

app = Celery("modelgate")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
