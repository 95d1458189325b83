import os
import subprocess
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import cache_config, database_config, env_bool, env_int, env_list
from tests import clock

ROOT = Path(__file__).resolve().parents[2]


def test_env_bool_reads_common_spellings(monkeypatch):
    monkeypatch.setenv("RELAY_FLAG", "Yes")
    assert env_bool("RELAY_FLAG", False) is True
    monkeypatch.setenv("RELAY_FLAG", "0")
    assert env_bool("RELAY_FLAG", True) is False
    monkeypatch.delenv("RELAY_FLAG")
    assert env_bool("RELAY_FLAG", True) is True


def test_env_bool_and_int_fail_loudly_naming_the_variable(monkeypatch):
    monkeypatch.setenv("RELAY_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="RELAY_FLAG"):
        env_bool("RELAY_FLAG", False)
    monkeypatch.setenv("RELAY_HOURS", "twelve")
    with pytest.raises(ImproperlyConfigured, match="RELAY_HOURS"):
        env_int("RELAY_HOURS", 1)


def test_env_list_splits_and_trims(monkeypatch):
    monkeypatch.setenv("ALLOWED_HOSTS", " relay.example , www.relay.example,")
    assert env_list("ALLOWED_HOSTS", []) == ["relay.example", "www.relay.example"]


def test_sqlite_url_gets_wal_immediate_and_busy_timeout():
    config = database_config("sqlite:////tmp/relay-test.sqlite3")
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]
    assert "busy_timeout" in config["OPTIONS"]["init_command"]


def test_postgres_url_gets_a_connection_pool():
    config = database_config("postgres://relay:secret@db.example:5433/relay")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db.example", 5433, "relay")
    assert config["OPTIONS"]["pool"]["max_size"] >= 1
    assert config["CONN_MAX_AGE"] == 0


def test_unsupported_database_url_is_refused():
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        database_config("mysql://root@localhost/relay")


def _clean_env() -> dict:
    overridden = {
        "DEBUG",
        "SECRET_KEY",
        "DATABASE_URL",
        "SECURE_SSL_REDIRECT",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_HSTS_SECONDS",
        "DJANGO_ALLOW_ASYNC_UNSAFE",
    }
    return {k: v for k, v in os.environ.items() if k not in overridden}


def _manage(*args, **env):
    clean = _clean_env()
    clean.update(env)
    return subprocess.run(
        clock.command("manage.py", *args),
        cwd=ROOT,
        env=clock.environment(clean),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_dev_secret_key_is_refused_when_serving_with_debug_off():
    result = subprocess.run(
        clock.command("-c", "import config.wsgi"),
        cwd=ROOT,
        env=clock.environment({**_clean_env(), "DEBUG": "0"}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_management_commands_run_without_any_environment():
    result = _manage("makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, result.stderr


def test_deploy_check_flags_the_dev_secret_key():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        ALLOWED_HOSTS="relay.example",
        RELAY_SURVEY_BASE_URL="https://relay.example",
    )
    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr


def test_deploy_check_warns_when_survey_links_point_at_localhost(tmp_path):
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY="x7!kQ2#pL9@vR4$wZ8^mN3&bT6*cY1(dF5)gH0_jK-uE+sA=oI",
        ALLOWED_HOSTS="relay.example",
        RELAY_SURVEY_BASE_URL="http://localhost:8000",
        RELAY_VAR_DIR=str(tmp_path),
    )
    assert result.returncode != 0
    assert "feedback.W001" in result.stdout + result.stderr


def test_production_settings_pass_check_deploy(tmp_path):
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY="x7!kQ2#pL9@vR4$wZ8^mN3&bT6*cY1(dF5)gH0_jK-uE+sA=oI",
        ALLOWED_HOSTS="relay.example",
        RELAY_SURVEY_BASE_URL="https://relay.example",
        RELAY_VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_cache_url_picks_a_shared_redis_cache_or_the_local_one():
    assert cache_config("redis://cache:6379/2") == {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://cache:6379/2",
        "KEY_PREFIX": "relay",
    }
    assert cache_config("locmem://")["BACKEND"].endswith("LocMemCache")
    with pytest.raises(ImproperlyConfigured, match="CACHE_URL"):
        cache_config("memcached://cache:11211")
