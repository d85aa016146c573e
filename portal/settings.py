"""Settings for csp-portal, read from the environment in this one place.

With nothing set the portal runs on embedded defaults (SQLite, a file-system Celery broker and a
captured mailbox under ``var/``) so that one command starts it on a fresh machine. ``DJANGO_ENV=production``
switches the defaults off: it refuses to start without its secrets and services. ``DEBUG`` is off
everywhere unless ``DEBUG=true`` asks for it (never in production).
"""

import re
from pathlib import Path
from urllib.parse import urlsplit

import environ
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("PORTAL_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
if DJANGO_ENV not in {"development", "production", "test"}:
    raise environ.ImproperlyConfigured(
        f"DJANGO_ENV must be development, production or test, not {DJANGO_ENV!r}"
    )
PRODUCTION = DJANGO_ENV == "production"

# --- Core ------------------------------------------------------------------------------------
if PRODUCTION:
    SECRET_KEY = env.str("SECRET_KEY")  # no default: production never runs on a known key
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
    if not ALLOWED_HOSTS:
        raise environ.ImproperlyConfigured("Set the ALLOWED_HOSTS environment variable")
    DEBUG = False
else:
    SECRET_KEY = env.str("SECRET_KEY", default="development-only-key-never-used-in-production-3f9a7c2e1b")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
    # Off unless asked for: what a newcomer runs shows the portal's own (translated) error pages.
    DEBUG = env.bool("DEBUG", default=False)

SITE_URL = env.str("SITE_URL", default="https://portal.example.com" if PRODUCTION else "").rstrip("/")
if not SITE_URL:
    SITE_URL = f"http://127.0.0.1:{env.int('PORT', default=8000)}"
# Empty: the default name, translated ("Cloud Solution Provider program" / its Japanese name).
PROGRAM_NAME = env.str("PROGRAM_NAME", default="")
PROGRAM_NAME_ASCII = PROGRAM_NAME or "Cloud Solution Provider program"  # for headers and authenticator apps

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "csp",
    "django_countries",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "portal",
    "portal.mail",
    "portal.audit",
    "accounts",
    "enrollment",
    "providers",
    "customers",
    "commerce",
]

MIDDLEWARE = [
    "portal.middleware.RequestIdMiddleware",
    # The security headers go on every response, including the ones that a middleware below answers by
    # itself (SecurityMiddleware's HTTPS redirect, the 400 of CommonMiddleware's host check): so the
    # middleware that add them come first.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "accounts.authentication.AuthenticationMiddleware",
    "portal.middleware.UserLanguageMiddleware",
    "accounts.middleware.StaffMfaRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "portal.middleware.SessionActivityMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.portal",
                "accounts.context_processors.navigation",
            ],
        },
    },
]

# The template fragments a worker keeps ({% memo %}, portal/memo.py): at most this many, the least
# recently used dropped first (a list row is 1-3 KB of HTML). 0 turns the memo off.
TEMPLATE_MEMO_ENTRIES = env.int("TEMPLATE_MEMO_ENTRIES", default=4000)

# --- Database --------------------------------------------------------------------------------
VAR_DIR.mkdir(parents=True, exist_ok=True)
if PRODUCTION:
    DATABASES = {"default": env.db("DATABASE_URL")}  # no embedded default in production
else:
    DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + IMMEDIATE lets the web server and the worker share the embedded database.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # An unreachable database fails the request fast (a 503 page), not after the OS's connect timeout.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT_SECONDS", default=3)
    )
    # No JIT compilation: a plan whose estimate passes jit_above_cost (a page or an export over a table of
    # millions) spent 0.5-1 s compiling before its first row (bench/scale.py); the portal's queries are
    # short. Behind PgBouncer, set it on the server or the role instead (PgBouncer refuses "options").
    # Behind PgBouncer in transaction mode (README, "Scale-out"): a connection is the pooler's, not ours,
    # between transactions. So no server-side cursor outlives a transaction (the CSV exports read theirs
    # inside one), no prepared statement is kept, no startup "options" (set jit on the role instead),
    # and the pooler, not Django, keeps connections open.
    DATABASE_BEHIND_PGBOUNCER = env.bool("DATABASE_BEHIND_PGBOUNCER", default=False)
    PREPARE_NEVER_BY_COUNT = 2**31 - 1
    if DATABASE_BEHIND_PGBOUNCER:
        DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"]["OPTIONS"]["prepare_threshold"] = None
    else:
        if env.bool("DATABASE_JIT_OFF", default=True):
            options = DATABASES["default"]["OPTIONS"]
            options["options"] = f"{options.get('options', '')} -c jit=off".strip()
        # Prepared statements: parameters bound on the server, and the queries every page runs
        # (portal.prepared: the membership, the switcher, the dashboard's figures) prepared on each
        # connection, so PostgreSQL plans them once: planning was most of their time (0.3-0.6 ms of
        # 0.4-0.7; 0.1-0.15 ms prepared). Those are lookups by key, whose generic plan is the plan.
        # DATABASE_PREPARE_THRESHOLD=n also prepares any statement a connection has run n times: every
        # list page's query then runs on a generic plan, which PostgreSQL may choose badly for a tenant
        # far larger or smaller than the average; measure bench/scale.py before turning it on. (Django
        # prepares nothing unless "prepare_threshold" is set: binding alone is not enough, and psycopg
        # prepares nothing at all with a threshold of None, so "never by count" is a threshold no query
        # reaches.)
        DATABASE_PREPARED_STATEMENTS = env.bool("DATABASE_PREPARED_STATEMENTS", default=True)
        if DATABASE_PREPARED_STATEMENTS:
            DATABASES["default"]["OPTIONS"]["server_side_binding"] = True
            threshold = env.int("DATABASE_PREPARE_THRESHOLD", default=0)
            DATABASES["default"]["OPTIONS"]["prepare_threshold"] = threshold or PREPARE_NEVER_BY_COUNT
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (rate limits and used TOTP codes live here) ----------------------------------------
REDIS_URL = env.str("REDIS_URL") if PRODUCTION else env.str("REDIS_URL", default="")
if REDIS_URL:
    # A Redis outage makes reads miss and writes no-ops (logged), never a 500: the rate limits fail open
    # for its duration (portal/cache.py says why that is the choice).
    CACHES = {
        "default": {
            "BACKEND": "portal.cache.ResilientRedisCache",
            "LOCATION": env.str("CACHE_URL", default=REDIS_URL),
            "KEY_PREFIX": "portal",
            "OPTIONS": {
                "socket_connect_timeout": env.float("CACHE_SOCKET_TIMEOUT_SECONDS", default=0.5),
                "socket_timeout": env.float("CACHE_SOCKET_TIMEOUT_SECONDS", default=0.5),
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Authentication --------------------------------------------------------------------------
# Selects are written in Python (portal/forms_renderer.py): the same HTML, without a template per option.
FORM_RENDERER = "portal.forms_renderer.PortalFormRenderer"

AUTH_USER_MODEL = "accounts.User"
# allauth's backend is a ModelBackend that also signs in by email: one backend, so that a failed sign-in
# costs one password hash, not two.
# allauth's, reading an organization page's membership with the user (accounts/authentication.py)
AUTHENTICATION_BACKENDS = ["accounts.authentication.AuthenticationBackend"]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"
PASSWORD_HASHERS = [
    "portal.hashers.PortalArgon2PasswordHasher",  # Argon2id, m=12 MiB, t=3, p=1 (OWASP)
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = 3600

ACCOUNT_ADAPTER = "accounts.adapter.PortalAccountAdapter"
# Sign-up costs the same for new and registered addresses; sign-in can prefill the invited address.
ACCOUNT_FORMS = {"signup": "accounts.signup.SignupForm", "login": "accounts.forms.LoginForm"}
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED = True
ACCOUNT_EMAIL_VERIFICATION_SUPPORTS_RESEND = True
ACCOUNT_EMAIL_NOTIFICATIONS = True
ACCOUNT_CHANGE_EMAIL = True  # one address per user; a change is verified before it replaces the old one
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_RATE_LIMITS = {"signup": "10/h/ip"}  # merged over allauth's defaults
ACCOUNT_EMAIL_SUBJECT_PREFIX = ""
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_FORMS = {"activate_totp": "accounts.mfa_forms.ActivateTOTPForm"}
MFA_TOTP_ISSUER = PROGRAM_NAME_ASCII
USERSESSIONS_TRACK_ACTIVITY = True  # "last seen" on the Sessions page, written by portal.middleware
USERSESSIONS_ACTIVITY_INTERVAL_SECONDS = env.int("USERSESSIONS_ACTIVITY_INTERVAL_SECONDS", default=300)
INVITATIONS_PER_HOUR = env.int("INVITATIONS_PER_HOUR", default=50)  # per organization
# Reviewers decide an enrollment within this many business days (portal/business_days.py: weekends and
# the program country's public holidays do not count).
ENROLLMENT_REVIEW_SLA_BUSINESS_DAYS = env.int("ENROLLMENT_REVIEW_SLA_BUSINESS_DAYS", default=3)
# The program's home: whose public holidays and which time zone the review SLA counts business days in.
PROGRAM_COUNTRY = env.str("PROGRAM_COUNTRY", default="JP").upper()
PROGRAM_TIME_ZONE = env.str("PROGRAM_TIME_ZONE", default="Asia/Tokyo")
# The primary contact's confirmation link: how long one link lives, when the one reminder goes out (a
# new link), how long after "Enroll now" an unconfirmed application expires, and the resend cool-down.
ENROLLMENT_CONTACT_LINK_HOURS = env.int("ENROLLMENT_CONTACT_LINK_HOURS", default=72)
ENROLLMENT_CONTACT_REMINDER_HOURS = env.int("ENROLLMENT_CONTACT_REMINDER_HOURS", default=48)
ENROLLMENT_CONFIRMATION_DAYS = env.int("ENROLLMENT_CONFIRMATION_DAYS", default=14)
ENROLLMENT_RESEND_COOLDOWN_SECONDS = env.int("ENROLLMENT_RESEND_COOLDOWN_SECONDS", default=120)
# A draft nobody touched for this long, or a request for information left unanswered, expires.
ENROLLMENT_DRAFT_DAYS = env.int("ENROLLMENT_DRAFT_DAYS", default=30)
ENROLLMENT_INFORMATION_DAYS = env.int("ENROLLMENT_INFORMATION_DAYS", default=30)
# The sweep restarts the automated checks of an application left unfinished this long (a lost task).
ENROLLMENT_CHECKS_STALE_SECONDS = env.int("ENROLLMENT_CHECKS_STALE_SECONDS", default=120)
# Documents an applicant uploads when a reviewer asks: PDF, PNG or JPEG, at most this size.
ENROLLMENT_DOCUMENT_MAX_BYTES = env.int("ENROLLMENT_DOCUMENT_MAX_BYTES", default=5 * 1024 * 1024)
# Partnership invitations (providers): how long a link lives and how many days before its end the one
# reminder goes out; a bulk CSV file has at most this many rows.
PARTNERSHIP_INVITATION_DAYS = env.int("PARTNERSHIP_INVITATION_DAYS", default=30)
PARTNERSHIP_REMINDER_DAYS = env.int("PARTNERSHIP_REMINDER_DAYS", default=3)
PARTNERSHIP_BULK_MAX_ROWS = env.int("PARTNERSHIP_BULK_MAX_ROWS", default=10_000)
# Customer invitations (customers): how long a link lives and when its one reminder goes out; how long a
# request for new delegated admin roles waits for the customer's answer.
CUSTOMER_INVITATION_DAYS = env.int("CUSTOMER_INVITATION_DAYS", default=30)
CUSTOMER_REMINDER_DAYS = env.int("CUSTOMER_REMINDER_DAYS", default=3)
DELEGATED_ADMIN_REQUEST_DAYS = env.int("DELEGATED_ADMIN_REQUEST_DAYS", default=30)

# --- Internationalisation --------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("ja", _("Japanese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_COOKIE_NAME = "portal_language"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"

# --- Static files ----------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise expects it; collectstatic fills it
# Outside production whitenoise serves straight from the sources (no collectstatic step, DEBUG or not);
# production serves the collected, hashed and compressed files (Dockerfile, bin/run).
WHITENOISE_USE_FINDERS = not PRODUCTION
# Uploaded files (enrollment documents) are never served from a public URL: views check who asks first.
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "/media-not-served/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- Email -----------------------------------------------------------------------------------
# Without EMAIL_URL (development only) nothing leaves the machine: the capture backend keeps each
# delivered message under var/mailbox/ and the staff-only dev mailbox shows it. Production sends for real.
EMAIL_URL = env.str("EMAIL_URL") if PRODUCTION else env.str("EMAIL_URL", default="")
if EMAIL_URL:
    vars().update(env.email_url_config(EMAIL_URL))
else:
    EMAIL_BACKEND = "portal.mail.backends.CaptureBackend"
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
DEFAULT_FROM_EMAIL = env.str(
    "DEFAULT_FROM_EMAIL",
    default=f"{PROGRAM_NAME or 'Cloud Solution Provider program'} <no-reply@portal.example.com>",
)
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Development only: in production the dev mailbox's routes do not exist, whatever the environment says.
DEV_MAILBOX_ENABLED = not PRODUCTION and env.bool("DEV_MAILBOX_ENABLED", default=True)
DEV_MAILBOX_DIR = VAR_DIR / "mailbox"
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=6)
OUTBOX_BACKOFF_SECONDS = env.int("OUTBOX_BACKOFF_SECONDS", default=30)
# An order still "submitted" this long after its submission is published again by the provisioning sweep.
ORDER_PROVISION_SWEEP_AFTER_SECONDS = env.int("ORDER_PROVISION_SWEEP_AFTER_SECONDS", default=60)
OUTBOX_SWEEP_GRACE_SECONDS = env.int("OUTBOX_SWEEP_GRACE_SECONDS", default=60)
OUTBOX_SENDING_TIMEOUT_SECONDS = env.int("OUTBOX_SENDING_TIMEOUT_SECONDS", default=600)
# The worker's reused SMTP connection is closed after this long unused (servers drop idle ones anyway).
OUTBOX_SMTP_IDLE_SECONDS = env.float("OUTBOX_SMTP_IDLE_SECONDS", default=30.0)
# A delivery task sends up to this many emails (the sweep publishes tasks of this many ids; a task for one
# email takes other due emails along); it hands the rest back after OUTBOX_BATCH_SECONDS.
OUTBOX_BATCH_SIZE = env.int("OUTBOX_BATCH_SIZE", default=50)
OUTBOX_BATCH_SECONDS = env.float("OUTBOX_BATCH_SECONDS", default=60.0)
# A worker claims (and marks sent) this many emails at a time: a killed worker strands at most these.
OUTBOX_CLAIM_SIZE = env.int("OUTBOX_CLAIM_SIZE", default=10)
OUTBOX_SWEEP_PAGE_SIZE = env.int("OUTBOX_SWEEP_PAGE_SIZE", default=1000)
# A swept email still pending this long after it was queued lost its task: the sweep publishes it again.
OUTBOX_REQUEUE_AFTER_SECONDS = env.int("OUTBOX_REQUEUE_AFTER_SECONDS", default=900)
OUTBOX_PURGE_BATCH_SIZE = env.int("OUTBOX_PURGE_BATCH_SIZE", default=5000)

# --- Celery ----------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    (_broker_dir / "processed").mkdir(parents=True, exist_ok=True)
    (_broker_dir / "control").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    # The web tier must never hang on a sick broker: fail fast, the outbox sweep catches up.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": 3600,
        "socket_timeout": 3,
        "socket_connect_timeout": 3,
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
# One queue per kind of work, so that each can get its own workers (docker-compose.yml: worker-mail,
# worker-checks, worker-provisioning): a burst of one (a backlog of mail after an outage) never delays
# another (an enrollment's checks, a customer's order). A worker started without -Q consumes them all
# (bin/run, the tests); beat jobs and everything else use the default queue.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = [Queue(name) for name in ("celery", "mail", "checks", "provisioning")]
CELERY_TASK_ROUTES = {
    "portal.mail.tasks.deliver_outbox_email": {"queue": "mail"},
    "portal.mail.tasks.deliver_outbox_emails": {"queue": "mail"},
    "enrollment.tasks.application_checks_run": {"queue": "checks"},
    "commerce.tasks.order_provision": {"queue": "provisioning"},
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "outbox-sweep": {
        "task": "portal.mail.tasks.outbox_sweep",
        "schedule": env.float("OUTBOX_SWEEP_INTERVAL_SECONDS", default=30.0),
    },
    "membership-invitations-expire": {
        "task": "accounts.tasks.membership_invitations_expire",
        "schedule": crontab(minute="*/10"),
    },
    "enrollment-checks-sweep": {
        "task": "enrollment.tasks.application_checks_sweep",
        "schedule": env.float("ENROLLMENT_CHECKS_SWEEP_SECONDS", default=60.0),
    },
    "enrollment-deadlines": {
        "task": "enrollment.tasks.application_deadlines",
        "schedule": crontab(minute="*/10"),
    },
    "partnership-invitations-deadlines": {
        "task": "providers.tasks.partnership_invitation_deadlines",
        "schedule": crontab(minute="*/10"),
    },
    "customer-deadlines": {
        "task": "customers.tasks.customer_deadlines",
        "schedule": crontab(minute="*/10"),
    },
    "orders-provision-sweep": {
        "task": "commerce.tasks.orders_provision_sweep",
        "schedule": env.float("ORDERS_PROVISION_SWEEP_SECONDS", default=30.0),
    },
    "commerce-deadlines": {
        "task": "commerce.tasks.commerce_deadlines",
        "schedule": crontab(minute="*/5"),
    },
    "outbox-purge": {
        "task": "portal.mail.tasks.outbox_purge",
        "schedule": crontab(hour=3, minute=17),
    },
    # The audit trail's monthly partitions: the coming months created ahead, then retention.
    "audit-partitions-ensure": {
        "task": "portal.audit.tasks.audit_partitions_ensure",
        "schedule": crontab(hour=2, minute=7),
    },
    "audit-retention": {
        "task": "portal.audit.tasks.audit_retention_apply",
        "schedule": crontab(hour=2, minute=37),
    },
}

# --- Audit trail (on PostgreSQL partitioned by month: portal/audit/migrations/0005) -------------
# Whole months older than this are dropped by the daily retention task; 0 keeps every month. The
# database refuses anything below 12 months, whoever asks.
AUDIT_RETENTION_MONTHS = env.int("AUDIT_RETENTION_MONTHS", default=84)
if 0 < AUDIT_RETENTION_MONTHS < 12:
    raise environ.ImproperlyConfigured("AUDIT_RETENTION_MONTHS is 0 (keep forever) or at least 12")
AUDIT_PARTITION_MONTHS_AHEAD = env.int("AUDIT_PARTITION_MONTHS_AHEAD", default=3)

# --- Directory (Microsoft Entra ID); empty means the built-in directory --------------------------
# enrollment/directory/entra.py: a multi-tenant app registration; /organizations refuses personal accounts.
ENTRA_CLIENT_ID = env.str("ENTRA_CLIENT_ID", default="")
ENTRA_CLIENT_SECRET = env.str("ENTRA_CLIENT_SECRET", default="")
ENTRA_AUTHORITY = env.str("ENTRA_AUTHORITY", default="https://login.microsoftonline.com/organizations")
ENTRA_GRAPH_URL = env.str("ENTRA_GRAPH_URL", default="https://graph.microsoft.com/v1.0")
ENTRA_ENABLED = bool(ENTRA_CLIENT_ID and ENTRA_CLIENT_SECRET and ENTRA_AUTHORITY)
# The built-in directory (the default): a new tenant's initial domain is <label>.<this suffix>.
BUILTIN_DIRECTORY_DOMAIN_SUFFIX = (
    env.str("BUILTIN_DIRECTORY_DOMAIN_SUFFIX", default="onportal.example").strip(".").lower()
)
if not re.fullmatch(
    r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*", BUILTIN_DIRECTORY_DOMAIN_SUFFIX
):
    raise environ.ImproperlyConfigured("BUILTIN_DIRECTORY_DOMAIN_SUFFIX must be a domain name")

# --- Security --------------------------------------------------------------------------------
# How many reverse proxies of our own stand in front of gunicorn (docker-compose.yml: one, nginx, which
# overwrites X-Forwarded-For and X-Forwarded-Proto). Only then are those headers believed, by the audit
# context, allauth's rate limits (one client-IP function: portal.middleware.client_ip) and HTTPS
# detection. 0, the default, believes nobody: gunicorn serving clients directly must not let them pick
# their own address or scheme.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if TRUSTED_PROXY_COUNT < 0:
    raise environ.ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 0 or more")
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT
if TRUSTED_PROXY_COUNT:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
CSRF_COOKIE_SAMESITE = "Lax"
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000
CSRF_FAILURE_VIEW = "portal.views.csrf_failure"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}
if PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Plain HTTP goes to the canonical host, never to one the request names (nor does the redirect read
    # the Host header, which would turn a disallowed host into a 400 without the security headers).
    SECURE_SSL_HOST = urlsplit(SITE_URL).netloc
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_SECURE = True
    CSRF_COOKIE_NAME = "__Host-csrftoken"
    LANGUAGE_COOKIE_SECURE = True
    CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[SITE_URL])
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# --- Logging ---------------------------------------------------------------------------------
LOG_FORMAT = env.str("LOG_FORMAT", default="json" if PRODUCTION else "text")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_context": {"()": "portal.logging.RequestContextFilter"}},
    "formatters": {
        "json": {"()": "portal.logging.JsonFormatter"},
        "text": {
            "()": "portal.logging.TextFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_context"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "WARNING"},
        "celery": {"level": "INFO"},
    },
}
