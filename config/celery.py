import os
from pathlib import Path

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("relay")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

for _folder in {*app.conf.broker_transport_options.get("data_folder_in", "").split()} - {""}:
    # kombu's filesystem transport expects its folders to exist.
    Path(_folder).mkdir(parents=True, exist_ok=True)
