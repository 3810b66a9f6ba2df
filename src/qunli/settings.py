"""Django settings for Qunli.

Everything that differs between one machine and many comes from the environment:
DATABASE_URL (default: SQLite under QUNLI_DATA_DIR), QUNLI_STORAGE, QUNLI_JOBS.
Secrets are generated once into QUNLI_DATA_DIR/secrets.json when not given.
"""

import json
import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parents[1]
DATA_DIR = Path(os.environ.get("QUNLI_DATA_DIR", PROJECT_DIR / "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _load_or_create_secrets() -> dict:
    path = DATA_DIR / "secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    values = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_KEY": secrets.token_hex(32),
        "INDEX_KEY": secrets.token_hex(32),
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(values))
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return values


_secrets = _load_or_create_secrets()
SECRET_KEY = os.environ.get("QUNLI_SECRET_KEY", _secrets["SECRET_KEY"])
# AES-256-GCM key for sensitive personal fields, and the HMAC key for their blind indexes.
QUNLI_FIELD_KEY = os.environ.get("QUNLI_FIELD_KEY", _secrets["FIELD_KEY"])
QUNLI_INDEX_KEY = os.environ.get("QUNLI_INDEX_KEY", _secrets["INDEX_KEY"])

DEBUG = os.environ.get("QUNLI_DEBUG", "0") == "1"
ALLOWED_HOSTS = os.environ.get("QUNLI_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "treebeard",
    "axes",
    "django_htmx",
    "qunli.core",
    "qunli.orgs",
    "qunli.people",
    "qunli.reports",
    "qunli.records",
    "qunli.casework",
    "qunli.portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "qunli.core.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "qunli.core.middleware.IdleTimeoutMiddleware",
    "qunli.core.middleware.PasswordChangeRequiredMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "qunli.urls"
WSGI_APPLICATION = "qunli.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "qunli.core.context_processors.navigation",
            ],
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{DATA_DIR / 'qunli.sqlite3'}"),
        conn_max_age=int(os.environ.get("QUNLI_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions serialize writers up front instead of failing on lock upgrade;
    # WAL lets readers run beside the single writer.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "core.User"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "qunli.core.passwords.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "qunli.core.passwords.UserAttributeSimilarityValidator"},
    {"NAME": "qunli.core.passwords.CommonPasswordValidator"},
    {"NAME": "qunli.core.passwords.ComplexityValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# 等保 2.0 level 3: lock after 5 failures for 15 minutes; 30-minute idle timeout.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "core/locked_out.html"
AXES_VERBOSE = False
# 等保 2.0 asks to lock the account; an IP-based lock would lock a whole intranet NAT out.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
QUNLI_IDLE_TIMEOUT = timedelta(minutes=30)
SESSION_COOKIE_AGE = 12 * 3600
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
CSRF_FAILURE_VIEW = "qunli.core.errors.csrf_failure"

LANGUAGE_CODE = "zh-hans"
FORMAT_MODULE_PATH = ["qunli.formats"]  # dates as 2025-09-24 everywhere (formats/zh_Hans)
LANGUAGES = [("zh-hans", "简体中文")]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
ASSETS_DIR = Path(os.environ.get("QUNLI_ASSETS_DIR", PROJECT_DIR / "node_modules"))
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "qunli.core.staticfinders.VendorFinder",  # the few files we use from node_modules, by name
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(DATA_DIR / "files")}},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = DATA_DIR / "files"
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# An import larger than this is refused before it is read.
QUNLI_IMPORT_MAX_BYTES = int(os.environ.get("QUNLI_IMPORT_MAX_BYTES", str(200 * 1024 * 1024)))
# 移交/接收 and 四性检测 (records.transfer, records.checks)
QUNLI_TRANSFER_MAX_BYTES = int(os.environ.get("QUNLI_TRANSFER_MAX_BYTES", str(20 * 1024 ** 3)))
QUNLI_TRANSFER_MAX_UNPACKED_BYTES = int(os.environ.get("QUNLI_TRANSFER_MAX_UNPACKED_BYTES", str(40 * 1024 ** 3)))
QUNLI_TRANSFER_LAYOUT = os.environ.get("QUNLI_TRANSFER_LAYOUT", "dir")
QUNLI_CHECK_WORKERS = int(os.environ.get("QUNLI_CHECK_WORKERS", str(min(4, os.cpu_count() or 1))))

# Search index updates (outbox rows) are drained right after each write's commit
# ("on_commit"), or left to `qunli reindex` / a scheduled drain ("deferred", for bulk work).
QUNLI_SEARCH_DRAIN = os.environ.get("QUNLI_SEARCH_DRAIN", "on_commit")

# Outbound staff notifications (SMS, WeChat template messages): a JSON list of backends, see
# qunli/core/notify_backends.py. Empty: the logging backend only (records, sends nothing).
QUNLI_NOTIFY_BACKENDS = os.environ.get("QUNLI_NOTIFY_BACKENDS", "")

MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"short_refusals": {"()": "qunli.core.logfilters.ShortRefusals"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["short_refusals"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("QUNLI_LOG_LEVEL", "WARNING")},
}

# Preservation (records.fixity / records.offsite): every stored file is re-hashed (SM3 and
# SHA-256) at least every QUNLI_FIXITY_INTERVAL_DAYS by `qunli records fixity --due`; the
# off-site copy (异地备份) is `file:///path` or `s3://bucket/prefix` (endpoint and keys from
# QUNLI_OFFSITE_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, QUNLI_OFFSITE_REGION).
QUNLI_FIXITY_INTERVAL_DAYS = int(os.environ.get("QUNLI_FIXITY_INTERVAL_DAYS", "90"))
QUNLI_OFFSITE = os.environ.get("QUNLI_OFFSITE", "")
# Archives opening (开放鉴定): items are due for opening this many years after formation
# (Archives Law 2020, art. 27: 25 years).
QUNLI_OPENING_YEARS = int(os.environ.get("QUNLI_OPENING_YEARS", "25"))
# A TrueType/OpenType font with CJK glyphs for the reading watermark; empty = the Noto CJK
# fonts of Debian's fonts-noto-cjk package (records/use.py FONT_CANDIDATES).
QUNLI_WATERMARK_FONT = os.environ.get("QUNLI_WATERMARK_FONT", "")
# Reverse proxies (nginx in front of gunicorn) whose X-Forwarded-For is believed: addresses or
# networks, comma-separated. Empty: the header is ignored and the direct peer is the client
# (core.clientip.client_ip, used by the portal's per-IP rate limits and the login log).
QUNLI_TRUSTED_PROXIES = [s.strip() for s in os.environ.get("QUNLI_TRUSTED_PROXIES", "").split(",") if s.strip()]
# Capture parses every file in a child process with these limits (records/extract.py); PDF
# output looks for one of these CJK font families (records/printing.py; empty = its defaults).
QUNLI_EXTRACT_SECONDS = int(os.environ.get("QUNLI_EXTRACT_SECONDS", "30"))
QUNLI_EXTRACT_MEMORY_BYTES = int(os.environ.get("QUNLI_EXTRACT_MEMORY_BYTES", str(2 * 1024 ** 3)))
if os.environ.get("QUNLI_PDF_CJK_FONTS"):
    QUNLI_PDF_CJK_FONTS = tuple(f.strip() for f in os.environ["QUNLI_PDF_CJK_FONTS"].split(",") if f.strip())
# A 归档文件目录 / 归档章 PDF of at most QUNLI_PRINT_SYNC_MAX_ITEMS items is rendered in the request;
# a larger class by `qunli worker` (records/printing.py), up to QUNLI_PRINT_JOB_MAX_ITEMS (weasyprint
# lays out ~60 rows/s and keeps the whole layout in memory, ~150 MB per 1,000 rows).
QUNLI_PRINT_SYNC_MAX_ITEMS = int(os.environ.get("QUNLI_PRINT_SYNC_MAX_ITEMS", "500"))
QUNLI_PRINT_JOB_MAX_ITEMS = int(os.environ.get("QUNLI_PRINT_JOB_MAX_ITEMS", "10000"))
# Background jobs (django-tasks): imports over QUNLI_IMPORT_SYNC_MAX_BYTES (2 MB) and every
# export run in `qunli worker` (small imports still run in the request, recorded the same way).
# QUNLI_JOBS=database (default) keeps the queue in the database (no extra service);
# QUNLI_JOBS=redis puts it in Redis (RQ workers, `QUNLI_REDIS_URL`) for many machines.
QUNLI_JOBS = os.environ.get("QUNLI_JOBS", "database")
QUNLI_IMPORT_SYNC_MAX_BYTES = int(os.environ.get("QUNLI_IMPORT_SYNC_MAX_BYTES", str(2 * 1024 * 1024)))
INSTALLED_APPS += ["django_tasks", "django_tasks_db"]
if QUNLI_JOBS == "redis":
    INSTALLED_APPS += ["django_rq"]
    RQ_QUEUES = {"default": {"URL": os.environ.get("QUNLI_REDIS_URL", "redis://127.0.0.1:6379/0"),
                             "DEFAULT_TIMEOUT": int(os.environ.get("QUNLI_JOB_TIMEOUT", "21600"))}}
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
else:
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
# A running job whose worker sent no heartbeat for this long is taken as dead (other machines;
# on the worker's own machine a dead process is seen at once).
QUNLI_JOB_STALE_SECONDS = int(os.environ.get("QUNLI_JOB_STALE_SECONDS", "300"))
