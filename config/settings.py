"""Relay settings. Deploy values come from the environment (see README)."""

import os
from datetime import timedelta
from pathlib import Path

from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.utils.translation import gettext_lazy as _

from config.env import (
    cache_config,
    database_config,
    env_bool,
    env_currency,
    env_daily_window,
    env_float,
    env_int,
    env_list,
    env_networks,
    env_rate,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("RELAY_VAR_DIR", str(BASE_DIR / "var")))

DEV_SECRET_KEY = "relay-dev-only-secret-key-not-for-production"  # nosec B105
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", DEV_SECRET_KEY)
# The dev key is refused where it would matter, when serving with DEBUG off (config/wsgi.py, asgi.py);
# plain management commands such as makemigrations run without any environment.
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.forms",  # its widget templates, for FORM_RENDERER (config.forms.FormRenderer)
    "django.contrib.humanize",
    "rest_framework",
    "knox",  # before config: config/admin.py replaces knox's token admin
    "axes",
    "csp",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "simple_history",  # the audit log (config/audit.py)
    "config.apps.ConfigAppConfig",
    "customers",
    "leads",
    "feedback",
    "marketing",
    "okr",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "config.sessions.SessionIdleExpiryMiddleware",
    "config.audit.AuditContextMiddleware",  # who and through which entry point, for the audit log
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "config.api.middleware.ApiProblemMiddleware",
    "config.api.idempotency.IdempotencyKeyMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a lockout into the lockout page
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "config.context_processors.relay",
            ],
        },
    },
]
FORM_RENDERER = "config.forms.FormRenderer"  # selects and inputs without a template include per option

DATABASES = {
    "default": database_config(env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'relay.sqlite3'}")),
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not memory, so the worker processes tests start share the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": cache_config(env_str("CACHE_URL", "locmem://"))}  # Redis in production: shared

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Axes first: a locked-out (username, address) pair is refused before any password is checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
# Login throttling: the 10th failure for one username from one address locks that pair for a while. Keyed on
# both, so one office's shared address never locks out the team, and a guesser never locks out the user elsewhere.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = env_int("RELAY_LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("RELAY_LOGIN_LOCKOUT_MINUTES", 30))
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "config.security.client_ip"
AXES_VERBOSE = False  # no banner on every command; failures and lockouts are still logged
AXES_LOCKOUT_CALLABLE = "config.views.login_locked_out"
# A session ends after a working day without a request: config/sessions.py moves its expiry on every few
# minutes of use (SESSION_SAVE_EVERY_REQUEST would write on every request).
SESSION_COOKIE_AGE = env_int("RELAY_SESSION_IDLE_HOURS", 10) * 3600
RELAY_SESSION_REFRESH_SECONDS = 300

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True
# One date and one date-time format per language, numbers grouped in thousands in both (config/formats/); pages
# print ids with |unlocalize (12345, not 12,345), amounts with |money (config/money.py). The API and CSV exports
# are not localized: decimal strings and ISO 8601.
FORMAT_MODULE_PATH = ["config.formats"]
USE_THOUSAND_SEPARATOR = True
NUMBER_GROUPING = 3
# The currency of every amount (orders, won amounts, spend, budgets): an ISO 4217 code, refused at startup if not one.
RELAY_CURRENCY = env_currency("RELAY_CURRENCY", "CNY")

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or env_bool("RELAY_PLAIN_STATIC", False)
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media/"
# A request body over 10 MB (files aside) is a 413, more than 1,000 fields or query parameters a 400
# (config.api.problems; documented in the API schema's description below).
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "relay@localhost")

# Production hardening: on when DEBUG is off, so `check --deploy` is clean.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# The proxies in front of Relay (addresses or networks). Only then are X-Forwarded-Proto (https) and
# X-Forwarded-For (the client address for login lockout and API throttles, config/security.py) believed:
# without a proxy that overwrites them, any client could send them.
RELAY_TRUSTED_PROXIES = env_networks("RELAY_TRUSTED_PROXIES")
if RELAY_TRUSTED_PROXIES:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# No inline scripts or styles on our pages (static/js/relay.js); the API docs relax style-src on their own view.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "hid",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "serial",
        "usb",
    )
}

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate challenge makes a request without credentials a 401 (session auth has none).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "config.tokens.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["config.api.permissions.IsStaffMember"],
    "DEFAULT_FILTER_BACKENDS": [
        "config.filters.FilterBackend",
        "rest_framework.filters.SearchFilter",
        "config.filters.OrderingBackend",  # ?ordering= where a FilterSet has no SortFilter
    ],
    "DEFAULT_PAGINATION_CLASS": "config.api.pagination.StablePagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "config.api.problems.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "config.api.parsers.JSONParser",  # nesting depth bounded
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # Per address without credentials, per person across all their tokens and sessions, and per token.
    "DEFAULT_THROTTLE_CLASSES": [
        "config.api.throttles.AnonThrottle",
        "config.api.throttles.UserThrottle",
        "config.api.throttles.TokenThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_rate("RELAY_API_RATE_ANON", "60/minute"),
        "user": env_rate("RELAY_API_RATE_USER", "1200/minute"),
        "token": env_rate("RELAY_API_RATE_TOKEN", "600/minute"),
    },
}
# API tokens (django-rest-knox): only a SHA-512 digest is stored; the token is shown once, when made.
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=env_int("RELAY_API_TOKEN_DAYS", 30)),
    "TOKEN_PREFIX": "relay_",  # recognisable to secret scanners  # nosec B105
    "AUTO_REFRESH": False,
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append("rest_framework.renderers.BrowsableAPIRenderer")

SPECTACULAR_SETTINGS = {
    "TITLE": "Relay API",
    "DESCRIPTION": "Marketing, sales and service on one pipeline.\n\n"
    "Limits: a request body is at most 10 MB (uploaded files aside; larger is 413 `too_large`); JSON nests at "
    "most 64 levels (400 `too_deep`); at most 1,000 form fields or query parameters (400 `too_many_fields`); "
    "times are ISO 8601 with an offset within ±14:00 and a year from 1900 to 2200; ids are integers; each text "
    "field has the maxLength shown (notes, descriptions, comments and bodies: 10,000 characters); bulk "
    "endpoints take at most 1,000 items.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Schema and docs: staff only, unless RELAY_PUBLIC_API_DOCS (config.api.permissions.ApiDocsAccess).
    "SERVE_PERMISSIONS": ["config.api.permissions.ApiDocsAccess"],
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},  # no badge fetched from swagger.io
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api.schema.add_problem_responses",
        "config.api.schema.require_whole_object_on_put",
    ],
    # One schema name per choice set that several serializers share.
    "ENUM_NAME_OVERRIDES": {
        "LeadStageEnum": "leads.stages.Stage",
        "RejectReasonEnum": "leads.models.RejectReason",
        "LostReasonEnum": "leads.models.LostReason",
        "ActivityKindEnum": "leads.models.ActivityKind",
        "ComplaintStatusEnum": "feedback.models.ComplaintStatus",
        "ComplaintChangeKindEnum": "feedback.models.ChangeKind",
        "TaskKindEnum": "config.models.TaskKind",
        "InsightTagEnum": "feedback.models.InsightTag",
        "IdentityKindEnum": "customers.models.IdentityKind",
        "ImportKindEnum": "customers.models.ImportKind",
        "MergeKeepEnum": "customers.merging.KEEP_CHOICES",
        "LanguageEnum": LANGUAGES,  # not to be confused with a merge's `keep.language` (MergeKeepEnum)
        "TeamRoleEnum": "customers.models.TeamRole",
        "JobStatusEnum": "config.models.JobStatus",
        "ReviewNoteKindEnum": "okr.models.ReviewNoteKind",
        "JourneyStepKindEnum": "marketing.models.StepKind",
        "ExperimentStatusEnum": "marketing.models.ExperimentStatus",
        # A customer's lifecycle stage and the stage content is written for: one set of choices.
        "LifecycleStageEnum": "customers.models.LifecycleStage",
        "ExperimentGoalEnum": "marketing.models.ExperimentGoal",
        "TouchpointKindEnum": "marketing.models.TouchpointKind",
        "LoyaltyTierEnum": "customers.models.LoyaltyTierCode",  # a customer's tier, in the customer and points API
    },
}

# Celery: the embedded default is a filesystem transport (config/broker.py), so `make run` needs no server.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
# Queues in the order a worker takes them (`-Q interactive,maintenance`): a user's import never waits behind
# a backlog of segment refreshes.
CELERY_TASK_DEFAULT_QUEUE = "maintenance"
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = Path(env_str("RELAY_BROKER_DIR", str(VAR_DIR)))
    CELERY_BROKER_TRANSPORT = "config.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "broker"),
        "data_folder_out": str(_broker_dir / "broker"),
        "processed_folder": str(_broker_dir / "broker-processed"),
        "control_folder": str(_broker_dir / "broker-control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "queue_order_strategy": "priority",  # Redis: BRPOP in -Q order
        # A publish that cannot connect gives up at once (kombu waits 2 s before its first retry); the outbox
        # keeps the message for the sweep. Workers reconnect on their own schedule (broker_connection_*).
        "max_retries": 0,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.5,
    }
# A write never waits on the broker (config/outbox.py); these bound how long a publish may try.
CELERY_BROKER_CONNECTION_TIMEOUT = env_float("CELERY_BROKER_CONNECTION_TIMEOUT", 2.0)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Ctrl-C / SIGTERM: finish quick tasks, then stop within seconds; what was running goes back to the queue
# (acks_late + reject_on_worker_lost) and the outbox sweep reruns it.
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = env_float("CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT", 4.0)
CELERY_WORKER_ENABLE_SOFT_SHUTDOWN_ON_IDLE = False
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
RELAY_HEARTBEAT_SECONDS = 60
CELERY_BEAT_SCHEDULE = {
    "relay-heartbeat": {"task": "config.tasks.heartbeat", "schedule": timedelta(seconds=RELAY_HEARTBEAT_SECONDS)},
    "relay-notification-digest": {
        "task": "config.tasks.send_notification_digests",
        "schedule": crontab(minute=0, hour=8),
    },
    "relay-outbox-sweep": {"task": "config.tasks.sweep_outbox", "schedule": timedelta(seconds=15)},
    "relay-job-sweep": {"task": "config.tasks.sweep_stalled_jobs", "schedule": timedelta(minutes=5)},
    "relay-token-sweep": {"task": "config.tasks.sweep_expired_tokens", "schedule": timedelta(hours=1)},
    "relay-webhook-retries": {"task": "config.tasks.retry_due_webhooks", "schedule": timedelta(seconds=30)},
    "relay-bot-retries": {"task": "config.tasks.retry_due_bot_messages", "schedule": timedelta(seconds=30)},
    "relay-task-reminders": {"task": "config.tasks.remind_due_tasks", "schedule": timedelta(minutes=5)},
    "relay-task-overdue-alerts": {"task": "config.tasks.alert_overdue_tasks", "schedule": timedelta(minutes=5)},
    # customers schedule
    "customers-recompute-segments": {
        "task": "customers.tasks.recompute_segments",
        "schedule": timedelta(minutes=env_int("RELAY_SEGMENTS_REFRESH_MINUTES", 60)),
    },
    "customers-expire-points": {"task": "customers.tasks.expire_points", "schedule": crontab(minute=5, hour=2)},
    "customers-recompute-tiers": {"task": "customers.tasks.recompute_tiers", "schedule": crontab(minute=20, hour=2)},
    "customers-refresh-affinity": {"task": "customers.tasks.refresh_affinity", "schedule": crontab(minute=30, hour=2)},
    # leads schedule
    "leads-sla-check": {"task": "leads.tasks.check_lead_slas", "schedule": timedelta(minutes=10)},
    "leads-recycle": {"task": "leads.tasks.recycle_stale_leads", "schedule": crontab(minute=15)},
    # feedback schedule
    "feedback-sla-alerts": {"task": "feedback.tasks.check_service_slas", "schedule": timedelta(minutes=10)},
    # marketing schedule
    "marketing-activation-missed": {
        "task": "marketing.tasks.raise_missed_activations",
        "schedule": timedelta(minutes=5),
    },
    "marketing-run-due-enrolments": {  # journeys' waits that are over
        "task": "marketing.tasks.run_due_enrolments",
        "schedule": timedelta(minutes=1),
    },
    "marketing-release-queued": {  # messages held by the quiet hours, sent once they end
        "task": "marketing.tasks.release_queued_messages",
        "schedule": timedelta(minutes=1),
    },
    # okr schedule
    "okr-daily-snapshots": {"task": "okr.tasks.snapshot_key_results", "schedule": crontab(minute=50, hour=23)},
}

# Relay's own settings.
RELAY_JOB_STALL_MINUTES = env_int("RELAY_JOB_STALL_MINUTES", 15)
RELAY_HANDOFF_SLA_HOURS = env_int("RELAY_HANDOFF_SLA_HOURS", 24)
RELAY_CONTACT_SLA_HOURS = env_int("RELAY_CONTACT_SLA_HOURS", 72)
RELAY_LEAD_RECYCLE_DAYS = env_int("RELAY_LEAD_RECYCLE_DAYS", 14)
RELAY_LEAD_RECLAIM_COOLDOWN_HOURS = env_int("RELAY_LEAD_RECLAIM_COOLDOWN_HOURS", 72)
RELAY_COMPLAINT_FIRST_RESPONSE_HOURS = env_int("RELAY_COMPLAINT_FIRST_RESPONSE_HOURS", 24)
RELAY_COMPLAINT_RESOLUTION_HOURS = env_int("RELAY_COMPLAINT_RESOLUTION_HOURS", 72)
RELAY_DETRACTOR_FOLLOW_UP_HOURS = env_int("RELAY_DETRACTOR_FOLLOW_UP_HOURS", 48)
RELAY_MERGE_UNDO_DAYS = env_int("RELAY_MERGE_UNDO_DAYS", 30)
RELAY_PUBLIC_API_DOCS = env_bool("RELAY_PUBLIC_API_DOCS", False)  # /api/schema/ and /api/docs/ without a login
RELAY_TASK_REMIND_MINUTES = env_int("RELAY_TASK_REMIND_MINUTES", 60)  # a task's reminder, this long before due
# The audit log is read, never edited: the admin shows history without simple-history's revert form.
SIMPLE_HISTORY_REVERT_DISABLED = True
# customers settings
RELAY_SEGMENTS_DEBOUNCE_SECONDS = env_int("RELAY_SEGMENTS_DEBOUNCE_SECONDS", 30)
RELAY_LARGE_ORDER_AMOUNT = env_int("RELAY_LARGE_ORDER_AMOUNT", 10000)  # an order this large tells the account team
# Loyalty (customers/loyalty.py): an order earns floor(amount × this) points, which expire this many months after
# the order (0: never).
RELAY_POINTS_PER_UNIT = env_float("RELAY_POINTS_PER_UNIT", 1.0)
RELAY_POINTS_EXPIRE_MONTHS = env_int("RELAY_POINTS_EXPIRE_MONTHS", 12)
RELAY_AFFINITY_MIN_SUPPORT = env_int("RELAY_AFFINITY_MIN_SUPPORT", 5)  # a product pair needs this many customers
RELAY_IDEMPOTENCY_LEASE_SECONDS = env_int("RELAY_IDEMPOTENCY_LEASE_SECONDS", 60)  # a keyed request's hold
RELAY_NOTIFICATION_EMAIL_DELAY_SECONDS = env_int("RELAY_NOTIFICATION_EMAIL_DELAY_SECONDS", 60)  # batches per person
RELAY_HEALTH_MAX_INTERACTIVE_WAIT_SECONDS = env_int("RELAY_HEALTH_MAX_INTERACTIVE_WAIT_SECONDS", 60)
# webhooks: https to public addresses only; the two switches are for tests and a developer's local receiver
RELAY_WEBHOOKS_ALLOW_HTTP = env_bool("RELAY_WEBHOOKS_ALLOW_HTTP", False)
RELAY_WEBHOOKS_ALLOW_LOOPBACK = env_bool("RELAY_WEBHOOKS_ALLOW_LOOPBACK", False)
RELAY_WEBHOOK_SECRET_GRACE_HOURS = env_int("RELAY_WEBHOOK_SECRET_GRACE_HOURS", 24)  # old secret still signs
# leads settings
RELAY_BOARD_PAGE_SIZE = env_int("RELAY_BOARD_PAGE_SIZE", 20)
# feedback settings
RELAY_ONBOARDING_TASK_HOURS = env_int("RELAY_ONBOARDING_TASK_HOURS", 72)
RELAY_COMPLAINT_SLA_HOURS = {  # severity: (first response, resolution); medium uses the defaults above
    "low": (
        env_int("RELAY_COMPLAINT_LOW_FIRST_RESPONSE_HOURS", 48),
        env_int("RELAY_COMPLAINT_LOW_RESOLUTION_HOURS", 120),
    ),
    "medium": (RELAY_COMPLAINT_FIRST_RESPONSE_HOURS, RELAY_COMPLAINT_RESOLUTION_HOURS),
    "high": (
        env_int("RELAY_COMPLAINT_HIGH_FIRST_RESPONSE_HOURS", 8),
        env_int("RELAY_COMPLAINT_HIGH_RESOLUTION_HOURS", 24),
    ),
    "critical": (
        env_int("RELAY_COMPLAINT_CRITICAL_FIRST_RESPONSE_HOURS", 2),
        env_int("RELAY_COMPLAINT_CRITICAL_RESOLUTION_HOURS", 8),
    ),
}
RELAY_WORKING_HOURS = env_str("RELAY_WORKING_HOURS", "")  # e.g. "09:00-18:00"; empty: SLAs count plain hours
RELAY_WORKING_DAYS = env_list("RELAY_WORKING_DAYS", ["0", "1", "2", "3", "4"])  # Monday=0
RELAY_HOLIDAYS = env_list("RELAY_HOLIDAYS", [])  # ISO dates, e.g. "2025-10-01,2025-10-02"
RELAY_NPS_INVITATION_DAYS = env_int("RELAY_NPS_INVITATION_DAYS", 14)
RELAY_SURVEY_BASE_URL = env_str("RELAY_SURVEY_BASE_URL", "http://127.0.0.1:8000")  # public origin of survey links
# marketing settings
RELAY_ACTIVATION_WINDOW_HOURS = env_int("RELAY_ACTIVATION_WINDOW_HOURS", 72)  # sign-up to activated, else missed
# An event may be stamped this far ahead of Relay's clock (the sender's clock runs fast); further is refused.
RELAY_EVENT_CLOCK_SKEW_SECONDS = env_int("RELAY_EVENT_CLOCK_SKEW_SECONDS", 300)
# Sending (marketing/sending.py): at most this many messages reach a customer in any 7 days, across journeys; none
# during the quiet hours (local time, TIME_ZONE; "" for none), when a send waits for their end.
RELAY_MAX_MESSAGES_PER_WEEK = env_int("RELAY_MAX_MESSAGES_PER_WEEK", 3)
RELAY_QUIET_HOURS = env_daily_window("RELAY_QUIET_HOURS", "21:00-09:00")
RELAY_ATTRIBUTION_DAYS = env_int("RELAY_ATTRIBUTION_DAYS", 7)  # a lead, order or goal this soon after a message
# Experiments (marketing/experiments.py): a winner is declared only once every variant has this many sends.
RELAY_EXPERIMENT_MIN_SAMPLE = env_int("RELAY_EXPERIMENT_MIN_SAMPLE", 100)
# The public origin of the links in messages (open pixel, click redirect, unsubscribe): customers open them.
RELAY_TRACKING_BASE_URL = env_str("RELAY_TRACKING_BASE_URL", RELAY_SURVEY_BASE_URL)
# okr settings
RELAY_MIN_SAMPLE = env_int("RELAY_MIN_SAMPLE", 30)  # fewer observations: a report notes the value is unreliable
# The touch attribution models of channel_roi and cac read a won customer's touchpoints this many days before the win.
RELAY_ATTRIBUTION_LOOKBACK_DAYS = env_int("RELAY_ATTRIBUTION_LOOKBACK_DAYS", 90)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # Django's own loggers propagate to the root handler instead of printing every line twice.
    "loggers": {"django": {"handlers": [], "level": "INFO", "propagate": True}},
}
