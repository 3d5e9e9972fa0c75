"""One environment-driven settings file.

Every setting comes from a ``BUTTRESS_*`` variable (or ``DATABASE_URL``); a secret may instead be
read from the file named by the same variable with ``_FILE`` appended.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent


def env(name: str, default: str = "") -> str:
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        return Path(file_path).read_text(encoding="utf-8").strip()
    return os.environ.get(name, default)


def env_bool(name: str, *, default: bool = False) -> bool:
    value = env(name, "1" if default else "0").strip().lower()
    return value in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


DATA_DIR = Path(env("BUTTRESS_DATA_DIR", str(Path.cwd() / "var"))).resolve()


def _secret_key() -> str:
    configured = env("BUTTRESS_SECRET_KEY")
    if configured:
        return configured
    # An embedded install keeps a generated key beside its database so sessions and signed
    # links survive restarts without the operator having to invent one.
    key_file = DATA_DIR / "secret_key"
    try:
        return key_file.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(50)
        key_file.write_text(key, encoding="utf-8")
        key_file.chmod(0o600)
        return key


SECRET_KEY = _secret_key()
DEBUG = env_bool("BUTTRESS_DEBUG")
ALLOWED_HOSTS = env_list("BUTTRESS_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("BUTTRESS_CSRF_TRUSTED_ORIGINS")
BASE_URL = env("BUTTRESS_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # Ticket search's tsvector columns; harmless on SQLite, where they stay empty.
    "django.contrib.postgres",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_tasks_db",
    "buttress.audit",
    "buttress.tenancy",
    "buttress.accounts",
    "buttress.assets",
    "buttress.desk",
    "buttress.sla",
    "buttress.portal",
    "buttress.monitoring",
    "buttress.maintenance",
    "buttress.oncall",
    "buttress.alerts",
    "buttress.escalation",
    "buttress.catalogue",
    "buttress.response",
    "buttress.notify",
    "buttress.scheduler",
    "buttress.ops",
    "buttress.web",
    "buttress.api",
]

TASK_BACKEND = env("BUTTRESS_TASK_BACKEND", "db")
if TASK_BACKEND == "rq":
    INSTALLED_APPS.append("django_rq")

MIDDLEWARE = [
    "buttress.ops.middleware.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "buttress.accounts.middleware.FirstRunMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "buttress.accounts.middleware.SessionTrackingMiddleware",
    "buttress.accounts.middleware.TwoFactorEnforcementMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "buttress.urls"
WSGI_APPLICATION = "buttress.wsgi.application"
ASGI_APPLICATION = "buttress.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "buttress.web.context.navigation",
            ],
        },
    },
]


def _databases() -> dict[str, Any]:
    url = env("DATABASE_URL")
    if url:
        config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60))
    else:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        config = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(DATA_DIR / "buttress.db")}
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets the web, worker and scheduler processes read while one writes; IMMEDIATE
        # transactions take the write lock up front so concurrent writers wait instead of
        # failing with "database is locked" half-way through.
        config["OPTIONS"] = {
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            ),
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
        config.pop("CONN_MAX_AGE", None)
    elif config["ENGINE"] == "django.db.backends.postgresql":
        config.setdefault("CONN_HEALTH_CHECKS", True)
    test_name = env("BUTTRESS_TEST_DATABASE_NAME")
    if test_name:
        config["TEST"] = {"NAME": test_name}
    return {"default": config}


DATABASES = _databases()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "accounts:login"

SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = int(env("BUTTRESS_SESSION_AGE", str(14 * 24 * 3600)))
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("BUTTRESS_SECURE_COOKIES")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# Staff (provider admin, agent, viewer) must have a second factor when this is on.
REQUIRE_STAFF_2FA = env_bool("BUTTRESS_REQUIRE_STAFF_2FA")
OTP_TOTP_ISSUER = "buttress"
# Reverse proxies whose X-Forwarded-For is believed (client address for sign-in throttling).
TRUSTED_PROXIES = env_list("BUTTRESS_TRUSTED_PROXIES")

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
# WhiteNoise serves from here (collected by `buttress web`) and finds app files in development.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = DATA_DIR / "media"

# Bodies past this answer 413 rather than being read into memory.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(env("BUTTRESS_MAX_BODY_BYTES", str(5 * 1024 * 1024)))
FILE_UPLOAD_MAX_MEMORY_SIZE = DATA_UPLOAD_MAX_MEMORY_SIZE

_SMTP_HOST = env("BUTTRESS_SMTP_HOST")
_MAIL_BACKEND = env(
    "BUTTRESS_EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if _SMTP_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
_MAIL_OPTIONS: dict[str, Any] = {}
if _MAIL_BACKEND.endswith("smtp.EmailBackend"):
    _MAIL_OPTIONS = {
        "host": _SMTP_HOST or "localhost",
        "port": int(env("BUTTRESS_SMTP_PORT", "25")),
        "username": env("BUTTRESS_SMTP_USER"),
        "password": env("BUTTRESS_SMTP_PASSWORD"),
        "use_tls": env_bool("BUTTRESS_SMTP_STARTTLS"),
        "timeout": 30,
    }
MAILERS = {"default": {"BACKEND": _MAIL_BACKEND, "OPTIONS": _MAIL_OPTIONS}}
DEFAULT_FROM_EMAIL = env("BUTTRESS_FROM_EMAIL", "buttress@localhost")

REDIS_URL = env("BUTTRESS_REDIS_URL", "redis://127.0.0.1:6379/0")
TASK_QUEUES = ["default"]
if TASK_BACKEND == "rq":
    TASKS: dict[str, Any] = {
        "default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": TASK_QUEUES}
    }
    RQ_QUEUES = {name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 600} for name in TASK_QUEUES}
elif TASK_BACKEND == "db":
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": TASK_QUEUES}}
elif TASK_BACKEND == "immediate":
    TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
else:
    msg = f"BUTTRESS_TASK_BACKEND must be db, rq or immediate, not {TASK_BACKEND!r}"
    raise ValueError(msg)

# How often the scheduler loop wakes, and how stale its heartbeat may be before /readyz fails.
SCHEDULER_INTERVAL = float(env("BUTTRESS_SCHEDULER_INTERVAL", "1.0"))
# How long a claimed escalation step may take before another worker runs it (seconds).
ESCALATION_LEASE_SECONDS = float(env("BUTTRESS_ESCALATION_LEASE_SECONDS", "30"))
SCHEDULER_STALE_AFTER = int(env("BUTTRESS_SCHEDULER_STALE_AFTER", "60"))
# At most this many rows per timer per loop (0: each timer's own batch size).
SCHEDULER_MAX_BATCH = int(env("BUTTRESS_SCHEDULER_MAX_BATCH", "0"))
# Finished background-task results are kept this long, then pruned by housekeeping.
TASK_RESULT_RETENTION_DAYS = int(env("BUTTRESS_TASK_RESULT_RETENTION_DAYS", "14"))

# The service desk: mail to requesters (acknowledgements, public replies), where their
# answers go, attachments, and how long a satisfaction-survey link works.
DESK_MAIL_REQUESTERS = env_bool("BUTTRESS_DESK_MAIL_REQUESTERS", default=True)
DESK_REPLY_TO = env("BUTTRESS_DESK_REPLY_TO")
DESK_ATTACHMENT_MAX_BYTES = int(env("BUTTRESS_ATTACHMENT_MAX_BYTES", str(25 * 1024 * 1024)))
SURVEY_VALID_DAYS = int(env("BUTTRESS_SURVEY_VALID_DAYS", "30"))
# Mail into the desk: the largest message taken in (the SMTP listener answers 552 past it),
# messages per sender and hour before the rest is quarantined as a loop, and what becomes of
# mail from a sender no organisation claims ("quarantine", or an organisation's slug).
DESK_MAIL_MAX_BYTES = int(env("BUTTRESS_MAIL_MAX_BYTES", str(50 * 1024 * 1024)))
DESK_MAIL_SENDER_LIMIT_PER_HOUR = int(env("BUTTRESS_MAIL_SENDER_LIMIT_PER_HOUR", "60"))
DESK_MAIL_UNKNOWN_SENDER = env("BUTTRESS_MAIL_UNKNOWN_SENDER", "quarantine")
# The SMTP listener (`buttress smtpd`): where it listens when `buttress run` starts it (empty:
# it is not started), and the recipient domains and addresses it accepts mail for.
SMTPD_BIND = env("BUTTRESS_SMTPD_BIND")
SMTPD_DOMAINS = [d.strip().lower() for d in env("BUTTRESS_SMTPD_DOMAINS").split(",") if d.strip()]
# Alert integrations of kind email are addressed local+<key>@domain of this address.
ALERTS_MAIL_ADDRESS = env("BUTTRESS_ALERTS_MAIL_ADDRESS", "alerts@localhost")
# An integration that sent more deliveries than this since the previous minute began is
# flooding: its processing queues behind everyone else's (0: never).
ALERTS_BUSY_DELIVERIES = int(env("BUTTRESS_ALERTS_BUSY_DELIVERIES", "60"))
# How long the acknowledge and resolve links in notifications work.
NOTIFY_LINK_VALID_HOURS = int(env("BUTTRESS_NOTIFY_LINK_VALID_HOURS", "72"))

# Heartbeat pings: bytes of a ping's body kept, and pings kept per monitor (the newest).
MONITORING_PING_BODY_LIMIT = int(env("BUTTRESS_PING_BODY_LIMIT", "10000"))
MONITORING_PINGS_KEPT = int(env("BUTTRESS_PINGS_KEPT", "100"))
# The intake process (`buttress intake`) for /ping/, /hooks/ and /v2/enqueue: where it listens
# when `buttress run` starts it (empty: it is not started), how long a batch waits for more
# requests to join it (milliseconds) and how many it holds at most, and the largest ping body
# it reads (bytes; the first BUTTRESS_PING_BODY_LIMIT of them are kept).
INTAKE_BIND = env("BUTTRESS_INTAKE_BIND", "127.0.0.1:8001")
INTAKE_WINDOW_MS = float(env("BUTTRESS_INTAKE_WINDOW_MS", "2"))
INTAKE_MAX_BATCH = int(env("BUTTRESS_INTAKE_MAX_BATCH", "500"))
INTAKE_MAX_PING_BODY = int(env("BUTTRESS_INTAKE_MAX_PING_BODY", str(1024 * 1024)))
# The runner (`buttress runner`): checks at once (0: sized to the monitors held, enough for
# every target to hang to its time-out at once), seconds a resolved name is reused (0: never),
# seconds a lease on a monitor lasts (a dead runner's monitors move to the others within it),
# seconds between result batches, an optional reference target (URL or HOST:PORT) whose failure
# makes failed checks unknown, days raw results are kept, and whether recovery resolves the
# monitor's incident ticket.
MONITORING_RUNNER_CONCURRENCY = int(env("BUTTRESS_RUNNER_CONCURRENCY", "0"))
MONITORING_RUNNER_DNS_TTL = float(env("BUTTRESS_RUNNER_DNS_TTL", "5"))
MONITORING_RUNNER_LEASE = float(env("BUTTRESS_RUNNER_LEASE", "30"))
MONITORING_RUNNER_FLUSH = float(env("BUTTRESS_RUNNER_FLUSH", "1.0"))
MONITORING_REFERENCE_TARGET = env("BUTTRESS_REFERENCE_TARGET")
MONITORING_RESULTS_DAYS = int(env("BUTTRESS_RESULTS_DAYS", "7"))
# How long latency rollups are kept per level, in days; 0 keeps them for ever.
MONITORING_ROLLUP_MINUTE_DAYS = int(env("BUTTRESS_ROLLUP_MINUTE_DAYS", "3"))
MONITORING_ROLLUP_HOUR_DAYS = int(env("BUTTRESS_ROLLUP_HOUR_DAYS", "400"))
MONITORING_ROLLUP_DAY_DAYS = int(env("BUTTRESS_ROLLUP_DAY_DAYS", "0"))
MONITORING_RESOLVE_INCIDENTS = env_bool("BUTTRESS_RESOLVE_INCIDENTS", default=True)

PROMETHEUS_MULTIPROC_DIR = env("PROMETHEUS_MULTIPROC_DIR")
# When set, /metrics asks for `Authorization: Bearer <token>`.
METRICS_TOKEN = env("BUTTRESS_METRICS_TOKEN")

LOG_FORMAT = env("BUTTRESS_LOG_FORMAT", "text")
LOG_LEVEL = env("BUTTRESS_LOG_LEVEL", "INFO")
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "buttress.lib.logs.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "django.request": {"level": "ERROR"},
    },
}

NINJA_PAGINATION_PER_PAGE = 50
API_MAX_PAGE_SIZE = 200

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
