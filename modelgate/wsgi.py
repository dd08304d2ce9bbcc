import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "modelgate.settings")
application = get_wsgi_application()

# Import every URL module (and so every view) now, while the worker boots, rather
# than in the first request each worker serves: that request took ~0.8 s on the
# 2-CPU VM, a latency spike after every deploy or worker restart.
from django.urls import get_resolver  # noqa: E402

_warm = get_resolver().url_patterns
