"""The mixed load: gunicorn as `make serve` runs it, driven by wrk on loopback, beside the same load on floors.

gunicorn: `.venv/bin/gunicorn -c python:config.gunicorn config.wsgi` with WEB_CONCURRENCY=3, RELAY_WEB_THREADS=4,
DEBUG off, plain static files, DJANGO_SETTINGS_MODULE=demo.bench.settings (the floors mounted beside the
product), the API throttles raised (one user drives the whole load), a throwaway SECRET_KEY and var folder
(the embedded broker's messages land there). wrk runs demo/bench/mixed.lua: 80 % reads, 20 % writes with an API
token of one demo user; then the same script with the "/bench-floor" prefix. CPU per request is the gunicorn
processes' own (utime + stime from /proc, reaped workers included through the master's cutime/cstime) and the
whole machine's busy time (/proc/stat: wrk and PostgreSQL included), each divided by the requests.

gunicorn is stopped at the end, also when something fails. The load writes rows (activities, leads and their
customers): run it last.
"""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess  # nosec B404 - the benchmark starts the server and the load generator it measures
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from knox.models import AuthToken

from config import tokens
from customers.models import Channel, Customer
from leads.models import Lead
from leads.stages import Stage

LUA = Path(__file__).with_name("mixed.lua")
TARGETS = {"rps": 400, "p95_ms": 50, "p99_ms": 150, "errors": 0}
SAMPLE_IDS = 5000
UNTHROTTLED = "10000000/minute"  # one user makes every request of the benchmark: no throttle may answer 429
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class LoadError(RuntimeError):
    pass


# --- CPU accounting ------------------------------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat's fields after the command name (field 3, the state, is index 0)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def tree_ticks(master: int) -> int:
    """CPU ticks of a gunicorn master and its workers: the master's utime+stime+cutime+cstime (a worker it has
    reaped, e.g. after max_requests, is in cutime/cstime) plus every live child's utime+stime."""
    fields = _stat(master)
    if fields is None:
        return 0
    total = sum(int(fields[i]) for i in (11, 12, 13, 14))
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            child = _stat(int(entry.name))
            if child is not None and child[1] == str(master):
                total += int(child[11]) + int(child[12])
    return total


def machine_ticks() -> tuple[int, int]:
    """(busy, total) ticks of all CPUs from /proc/stat (busy: all but idle and iowait)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


# --- the server ----------------------------------------------------------------------------------------------


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Server:
    """gunicorn started as `make serve` does, on 127.0.0.1:<port>, with the benchmark's settings."""

    def __init__(self, *, port: int, database_url: str, var_dir: str, workers: int = 3, threads: int = 4):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = Path(var_dir) / "gunicorn.log"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "demo.bench.settings",
            "DATABASE_URL": database_url,
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),  # a throwaway key: the load signs in with an API token
            "RELAY_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": str(workers),
            "RELAY_WEB_THREADS": str(threads),
            "RELAY_PLAIN_STATIC": "1",
            "RELAY_API_RATE_USER": UNTHROTTLED,
            "RELAY_API_RATE_TOKEN": UNTHROTTLED,
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "0",
            "RELAY_VAR_DIR": var_dir,
            "CELERY_BROKER_URL": "filesystem://",
            "RELAY_BROKER_DIR": var_dir,
            "CACHE_URL": "locmem://",
        }
        self.command = [str(Path(settings.BASE_DIR) / ".venv/bin/gunicorn"), "-c", "python:config.gunicorn"]
        self.command.append("config.wsgi")
        self.process = None
        self.workers = workers
        self.threads = threads

    def start(self, timeout: float = 60.0) -> None:
        if not port_is_free(self.port):
            raise LoadError(f"port {self.port} is taken; stop what listens there or pass --port")
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(  # nosec B603 - our own gunicorn, fixed arguments
                self.command,
                cwd=settings.BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LoadError(f"gunicorn exited ({self.process.returncode}): {self.log_tail()}")
            try:
                urllib.request.urlopen(f"{self.url}/healthz", timeout=5)  # nosec B310 - our own loopback server
                return
            except urllib.error.HTTPError:
                return  # answering (healthz is 503 without a Celery worker, which the benchmark does not need)
            except OSError:
                time.sleep(0.3)
        raise LoadError(f"gunicorn did not answer within {timeout:.0f}s: {self.log_tail()}")

    def log_tail(self, size: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-size:]
        except OSError:
            return ""

    def last_traceback(self, size: int = 4000) -> str:
        """The last traceback in gunicorn's log, access-log lines left out ("" without one): why a request failed."""
        lines = [line for line in self.log_tail(5_000_000).splitlines() if not line.startswith("127.0.0.1 - - [")]
        starts = [i for i, line in enumerate(lines) if line.startswith("Traceback")]
        if not starts:
            return ""
        found = []
        for line in lines[starts[-1] :]:
            found.append(line)
            if len(found) > 1 and not line.startswith((" ", "Traceback", "During handling", "The above")) and line:
                break  # the exception's own line ends the traceback
        return "\n".join(found)[-size:]

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        except ProcessLookupError:
            pass

    def get(self, path: str, token: str) -> tuple[int, str]:
        request = urllib.request.Request(f"{self.url}{path}", headers={"Authorization": f"Token {token}"})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:  # nosec B310 - our own loopback server
                return answer.status, answer.read().decode()[:300]
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")[:300]


# --- wrk -----------------------------------------------------------------------------------------------------


def _lua_list(values) -> str:
    return "{" + ", ".join(json.dumps(str(v)) for v in values) + "}"


def write_lua_data(path: Path, *, token: str, prefix: str, run: str, leads, customers, channels) -> None:
    path.write_text(
        "return {\n"
        f"  token = {json.dumps(token)},\n"
        f"  prefix = {json.dumps(prefix)},\n"
        f"  run = {json.dumps(run)},\n"
        f"  seed = {secrets.randbelow(1_000_000)},\n"
        f"  leads = {_lua_list(leads)},\n"
        f"  customers = {_lua_list(customers)},\n"
        f"  stages = {_lua_list(Stage.values)},\n"
        f"  channels = {_lua_list(channels)},\n"
        "}\n",
        encoding="utf-8",
    )


def run_wrk(wrk: str, url: str, *, seconds: float, connections: int, threads: int, data_file: Path) -> dict:
    command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s"]
    command += ["-s", str(LUA), url]
    env = {**os.environ, "RELAY_BENCH_LUA_DATA": str(data_file)}
    done = subprocess.run(  # nosec B603 - Debian's wrk with fixed arguments
        command, env=env, capture_output=True, text=True, timeout=seconds + 120, check=False
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RELAY_BENCH_JSON ")]
    if done.returncode != 0 or not lines:
        raise LoadError(f"wrk failed ({done.returncode}): {done.stderr.strip()[-1500:]} {done.stdout[-1500:]}")
    return json.loads(lines[-1].removeprefix("RELAY_BENCH_JSON "))


def _figures(raw: dict, *, gunicorn_ticks: int, busy_ticks: int, total_ticks: int) -> dict:
    requests = raw["requests"]
    seconds = raw["duration_us"] / 1e6
    socket_errors = raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]
    tick_ms = 1000 / CLOCK_TICKS
    return {
        "requests": requests,
        "seconds": round(seconds, 2),
        "rps": round(requests / seconds, 1) if seconds else 0.0,
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p90_ms": round(raw["p90_us"] / 1000, 2),
        "p95_ms": round(raw["p95_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "max_ms": round(raw["max_us"] / 1000, 2),
        "mean_ms": round(raw["mean_us"] / 1000, 2),
        "errors": socket_errors + raw["non2xx"],
        "socket_errors": socket_errors,
        "non2xx": raw["non2xx"],
        "reads_sent": raw["reads_sent"],
        "writes_sent": raw["writes_sent"],
        "cpu_ms_per_request": round(gunicorn_ticks * tick_ms / requests, 2) if requests else None,
        "machine_cpu_ms_per_request": round(busy_ticks * tick_ms / requests, 2) if requests else None,
        "machine_cpu_busy": round(busy_ticks / total_ticks, 3) if total_ticks else None,
        "last_errors": raw["last_errors"],
    }


def measured_run(server: Server, wrk: str, **options) -> dict:
    """One wrk run against the server, with the CPU the server and the machine spent during it."""
    master = server.process.pid
    gunicorn_before, (busy_before, total_before) = tree_ticks(master), machine_ticks()
    raw = run_wrk(wrk, server.url, **options)
    gunicorn_after, (busy_after, total_after) = tree_ticks(master), machine_ticks()
    return _figures(
        raw,
        gunicorn_ticks=gunicorn_after - gunicorn_before,
        busy_ticks=busy_after - busy_before,
        total_ticks=total_after - total_before,
    )


def _met(figures: dict, warmup_errors: int) -> dict:
    """The targets, judged on the timed run; an error in the untimed warm-up misses the "0 errors" target too."""
    return {
        "rps": figures["rps"] >= TARGETS["rps"],
        "p95_ms": figures["p95_ms"] <= TARGETS["p95_ms"],
        "p99_ms": figures["p99_ms"] <= TARGETS["p99_ms"],
        "errors": figures["errors"] + warmup_errors <= TARGETS["errors"],
    }


def bench_load(
    *, user, database_url: str, seconds: float, connections: int, threads: int, port: int, warmup: float
) -> dict:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise LoadError("wrk is not installed: apt-get install -y wrk (make bench does)")
    leads = list(Lead.objects.order_by("?").values_list("pk", flat=True)[:SAMPLE_IDS])
    customers = list(
        Customer.objects.filter(merged_into__isnull=True).order_by("?").values_list("pk", flat=True)[:SAMPLE_IDS]
    )
    channels = list(Channel.objects.filter(is_active=True).order_by("code").values_list("code", flat=True))
    if not (leads and customers and channels):
        raise LoadError("the load needs leads, customers and an active channel: load bench_data first")
    previous = signal.signal(signal.SIGTERM, _interrupt)  # a TERM (CI, a supervisor) still stops gunicorn
    try:
        return _bench_load(
            wrk,
            user=user,
            database_url=database_url,
            seconds=seconds,
            connections=connections,
            threads=threads,
            port=port,
            warmup=warmup,
            leads=leads,
            customers=customers,
            channels=channels,
        )
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


@dataclass
class Workload:
    """What the Lua script draws from: the token, the ids and channel codes, and where the files go."""

    wrk: str
    token: str
    run: str
    leads: list
    customers: list
    channels: list
    folder: Path
    connections: int
    threads: int

    def data_file(self, prefix: str, stage: str) -> Path:
        """A data file per wrk run, with its own run id, so every contact the run creates is new."""
        path = self.folder / f"{prefix.strip('/') or 'app'}-{stage}.lua"
        write_lua_data(
            path,
            token=self.token,
            prefix=prefix,
            run=f"{self.run}-{prefix.strip('/') or 'app'}-{stage}",
            leads=self.leads,
            customers=self.customers,
            channels=self.channels,
        )
        return path

    def run_on(self, server: Server, prefix: str, *, seconds: float, warmup: float) -> tuple[dict | None, dict]:
        """(the untimed warm-up's requests and errors or None, the timed run's figures) for one prefix."""
        for path in (f"{prefix}/api/v1/leads/{self.leads[0]}/", f"{prefix}/api/v1/customers/{self.customers[0]}/"):
            status, body = server.get(path, self.token)
            if status != 200:
                raise LoadError(f"GET {path} answered {status} before the load: {body}")
        options = {"connections": self.connections, "threads": self.threads}
        warm = None
        if warmup > 0:  # untimed, but its errors are kept: a worker's first requests count too
            raw = run_wrk(self.wrk, server.url, seconds=warmup, data_file=self.data_file(prefix, "warmup"), **options)
            errors = raw["connect"] + raw["read"] + raw["write"] + raw["timeout"] + raw["non2xx"]
            warm = {"requests": raw["requests"], "errors": errors, "last_errors": raw["last_errors"]}
            if errors:
                warm["server_traceback"] = server.last_traceback()
        figures = measured_run(server, self.wrk, seconds=seconds, data_file=self.data_file(prefix, "run"), **options)
        if figures["errors"]:
            figures["server_traceback"] = server.last_traceback()
        if server.process.poll() is not None:
            raise LoadError(f"gunicorn died during the load: {server.log_tail()}")
        return warm, figures


def _bench_load(wrk, *, user, database_url, seconds, connections, threads, port, warmup, leads, customers, channels):
    token_row, token = tokens.issue_token(user=user, days=7)
    result = {
        "user": user.get_username(),
        "connections": connections,
        "wrk_threads": threads,
        "seconds": seconds,
        "warmup_seconds": warmup,
        "mix": "30% GET leads/<id>/, 30% GET customers/<id>/, 20% GET leads/?page_size=50&stage=, "
        "10% POST leads/<id>/activities/, 10% POST leads/ (fresh contact)",
        "ids": {"leads": len(leads), "customers": len(customers)},
        "targets": TARGETS,
    }
    try:
        with tempfile.TemporaryDirectory(prefix="relay-bench-load-") as tmp:
            workload = Workload(
                wrk, token, secrets.token_hex(4), leads, customers, channels, Path(tmp), connections, threads
            )
            server = Server(port=port, database_url=database_url, var_dir=tmp)
            result["server"] = {"workers": server.workers, "threads": server.threads, "port": port}
            try:
                server.start()
                for name, prefix in (("app", ""), ("floor", "/bench-floor")):
                    warm, result[name] = workload.run_on(server, prefix, seconds=seconds, warmup=warmup)
                    if warm is not None:
                        result[f"{name}_warmup"] = warm
            except LoadError as error:
                result["error"] = f"{error} | gunicorn log: {server.log_tail(1500)}"
            finally:
                server.stop()
    finally:
        AuthToken.objects.filter(pk=token_row.pk).delete()
    if "app" in result:
        result["met"] = _met(result["app"], result.get("app_warmup", {}).get("errors", 0))
    if "app" in result and "floor" in result and result["floor"]["rps"]:
        result["app_share_of_floor_rps"] = round(result["app"]["rps"] / result["floor"]["rps"], 3)
    return result
