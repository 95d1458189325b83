import os
from pathlib import Path

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("relay")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

for _option, _folder in app.conf.broker_transport_options.items():
    # kombu's filesystem transport expects its folders to exist.
    if _option.endswith("_folder") or _option.startswith("data_folder"):
        Path(_folder).mkdir(parents=True, exist_ok=True)
