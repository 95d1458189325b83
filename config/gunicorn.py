"""gunicorn settings for the production command (`make serve`, README "Deploy"); each is an environment variable.

Threads suit Relay's requests (mostly waiting on PostgreSQL); several processes use both cores.
"""

import os

bind = os.environ.get("RELAY_BIND", "0.0.0.0:8000")  # nosec B104 - a server behind the proxy listens on its host
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
threads = int(os.environ.get("RELAY_WEB_THREADS", "4"))
worker_class = "gthread"
timeout = int(os.environ.get("RELAY_WEB_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
max_requests = 5000  # a process is replaced now and then, so a slow leak never grows
max_requests_jitter = 500
accesslog = "-"
forwarded_allow_ips = os.environ.get("RELAY_TRUSTED_PROXIES", "127.0.0.1").replace(" ", "")
