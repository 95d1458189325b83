"""Settings of the benchmark's server: the project's own, plus the floor routes (demo/bench/urls.py).

`manage.py bench` starts gunicorn with DJANGO_SETTINGS_MODULE=demo.bench.settings and uses the same URLconf
in-process (override_settings(ROOT_URLCONF=...)); nothing else is changed, so the measured pages run exactly as
they do in production.
"""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "demo.bench.urls"
