"""Read deploy settings from the environment, failing loudly on bad values."""

import ipaddress
import os
import re
from datetime import time

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def _env_number(name: str, default, parse, kind: str):
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return parse(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be {kind}, got {raw!r}") from None


def env_int(name: str, default: int) -> int:
    return _env_number(name, default, int, "an integer")


def env_float(name: str, default: float) -> float:
    return _env_number(name, default, float, "a number")


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_networks(name: str) -> list[str]:
    """Comma-separated IP addresses or networks (`10.0.0.5,10.1.0.0/16`); empty by default."""
    networks = env_list(name, [])
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ImproperlyConfigured(f"{name} must list IP addresses or networks, got {network!r}") from None
    return networks


_RATE = re.compile(r"^\d+/(s|sec|second|m|min|minute|h|hour|d|day)$")


def env_rate(name: str, default: str) -> str:
    """A DRF throttle rate such as `600/minute`."""
    raw = os.environ.get(name, default).strip()
    if not _RATE.match(raw):
        raise ImproperlyConfigured(f"{name} must be a rate such as 600/minute, got {raw!r}")
    return raw


# ISO 4217 currencies in circulation (funds units, precious metals and test codes left out), for
# settings.RELAY_CURRENCY. Recently withdrawn codes (ANG, BGN, SLL, ZWL) still count: books may be kept in them.
_ISO_4217 = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF
    CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD
    HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD
    MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN
    PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP
    TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL
    """
CURRENCY_CODES = frozenset(_ISO_4217.split())


def env_currency(name: str, default: str) -> str:
    """An ISO 4217 currency code such as CNY (CURRENCY_CODES); lower case is read too."""
    raw = os.environ.get(name, default)
    code = raw.strip().upper()
    if code not in CURRENCY_CODES:
        raise ImproperlyConfigured(f"{name} must be an ISO 4217 currency code such as CNY, got {raw!r}")
    return code


def env_daily_window(name: str, default: str) -> tuple[time, time] | None:
    """A daily window of local time, "HH:MM-HH:MM" (`21:00-09:00` runs past midnight); empty: none. The start and
    the end must differ."""
    raw = os.environ.get(name, default).strip()
    if not raw:
        return None
    try:
        start, end = (time.fromisoformat(part.strip()) for part in raw.split("-"))
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a daily window such as 21:00-09:00, got {raw!r}") from None
    if start == end:
        raise ImproperlyConfigured(f"{name} must start and end at different times, got {raw!r}")
    return start, end


def database_config(url: str) -> dict:
    import dj_database_url

    try:
        config = dj_database_url.parse(url)
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}") from None
    engine = config["ENGINE"]
    if engine == "django.db.backends.sqlite3":
        # WAL lets readers run beside the writer; IMMEDIATE takes the write lock at BEGIN
        # so web, worker and beat queue on busy_timeout instead of failing "database is locked".
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
        }
    elif engine == "django.db.backends.postgresql":
        config["CONN_MAX_AGE"] = 0
        # JIT compilation costs ~250 ms per metric query and never pays off for OLTP-sized scans.
        config["OPTIONS"] = {
            "pool": {"min_size": 1, "max_size": env_int("DATABASE_POOL_MAX", 10)},
            "options": "-c jit=off",
        }
    else:
        raise ImproperlyConfigured(f"DATABASE_URL must be sqlite or postgres, got {engine}")
    return config


def refuse_dev_secret_key() -> None:
    """Called where the site is served: with DEBUG off, the development SECRET_KEY is refused."""
    from django.conf import settings

    if not settings.DEBUG and settings.SECRET_KEY == settings.DEV_SECRET_KEY:
        raise ImproperlyConfigured("Set SECRET_KEY: the development key is refused when DEBUG is off.")


def cache_config(url: str) -> dict:
    """CACHE_URL → Django's CACHES["default"]: `redis://host:6379/2` (shared by every process: throttles,
    login lockouts' cache, the webhook "no endpoints" flag) or `locmem://` (one process, the default)."""
    scheme = url.split("://", 1)[0]
    if scheme in ("redis", "rediss"):
        return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url, "KEY_PREFIX": "relay"}
    if scheme == "locmem":
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    raise ImproperlyConfigured(f"CACHE_URL must start with redis://, rediss:// or locmem://, got {url!r}")
