"""The production command (`make serve`) serves a fresh checkout with DEBUG off: static files collected, the
database migrated, gunicorn answering pages and hashed static files."""

import os
import re
import signal
import socket
import subprocess
import urllib.error
import urllib.request

import pytest

from tests import worker

pytestmark = pytest.mark.worker  # starts real processes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)  # nosec B310
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, ""


def _up(url: str) -> bool:
    try:
        return _get(url)[0] == 200
    except OSError:
        return False


def test_make_serve_serves_pages_and_static_files_with_debug_off(tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "DEBUG": "0",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'relay.sqlite3'}",
        "RELAY_VAR_DIR": str(tmp_path),
        "RELAY_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "RELAY_WEB_THREADS": "2",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
    }
    env.pop("RELAY_PLAIN_STATIC", None)
    server = subprocess.Popen(
        ["make", "-s", "serve"],
        cwd=worker.ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        worker.wait_for(lambda: _up(f"{base}/login/"), timeout=120, what="make serve")
        status, page = _get(f"{base}/login/")
        assert status == 200
        stylesheet = re.search(r'href="(/static/[^"]+\.[0-9a-f]{12}\.css)"', page)
        assert stylesheet, "the login page links a hashed (collected) stylesheet"
        assert _get(base + stylesheet.group(1))[0] == 200
        assert _get(f"{base}/no-such-page/")[0] == 404  # DEBUG off: a plain 404, not a debug page or a 500
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
