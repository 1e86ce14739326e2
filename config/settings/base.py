"""Settings shared by every environment. Everything that differs per install comes from the
environment (12-factor): DATABASE_URL, EMAIL_*, CAREHUB_* ."""

import os
from datetime import timedelta
from pathlib import Path
from typing import Literal

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("CAREHUB_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
DEBUG = False
ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "carehub.core",
    "carehub.accounts",
    "carehub.audit",
    "carehub.directory",
    "carehub.patients",
    "carehub.scheduling",
    "carehub.notifications",
    "carehub.triage",
    "carehub.records",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "django_tasks_db",
    "django_htmx",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "carehub.core.middleware.RequestContextMiddleware",
    "carehub.audit.middleware.AccessLogMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Before the accounts middlewares below: they add flash messages when they redirect.
    "django.contrib.messages.middleware.MessageMiddleware",
    "carehub.accounts.middleware.SessionLifetimeMiddleware",
    "allauth.usersessions.middleware.UserSessionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "carehub.accounts.middleware.StaffMfaRequiredMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
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
                "django.template.context_processors.csp",
                "carehub.core.context_processors.navigation",
            ],
        },
    }
]

# --- Database -------------------------------------------------------------------------------
# SQLite (WAL, IMMEDIATE transactions so writers queue instead of failing) is the embedded
# default; DATABASE_URL=postgres://... switches to PostgreSQL with persistent connections.
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(DATABASE_URL, conn_max_age=600, conn_health_checks=True)
    }
else:
    # SQLite cannot create the folder its file lives in: a fresh checkout has no var/ yet.
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "carehub.sqlite3"),
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
                    "PRAGMA busy_timeout=20000;"
                ),
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "allauth.account.auth_backends.AuthenticationBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "carehub.accounts.validators.RoleMinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "account_login"

ACCOUNT_ADAPTER = "carehub.accounts.adapters.AccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = False
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_SIGNUP_FORM_CLASS = "carehub.accounts.forms.PatientSignupForm"
ACCOUNT_FORMS = {"signup": "carehub.accounts.signup.SignupForm"}
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[CareHub] "
# Throttling: allauth's rate limits (per IP and per account); the hard lockout lives in
# carehub.accounts (LOGIN_LOCKOUT_*), so it also covers the token endpoint. False (allauth's
# "rate limiting off") is what settings.test uses.
ACCOUNT_RATE_LIMITS: dict[str, str] | Literal[False] = {
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
}
MFA_ADAPTER = "carehub.accounts.adapters.MFAAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "CareHub"
MFA_RECOVERY_CODE_COUNT = 10
USERSESSIONS_TRACK_ACTIVITY = False

LOGIN_LOCKOUT_THRESHOLD = env_int("CAREHUB_LOCKOUT_THRESHOLD", 10)
LOGIN_LOCKOUT_MINUTES = env_int("CAREHUB_LOCKOUT_MINUTES", 15)
SESSION_IDLE_TIMEOUT_STAFF = env_int("CAREHUB_IDLE_TIMEOUT_STAFF_MIN", 15) * 60
SESSION_IDLE_TIMEOUT_PATIENT = env_int("CAREHUB_IDLE_TIMEOUT_PATIENT_MIN", 30) * 60
SESSION_ABSOLUTE_LIFETIME = env_int("CAREHUB_SESSION_MAX_HOURS", 12) * 3600
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_LIFETIME
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
BREAK_GLASS_MINUTES = env_int("CAREHUB_BREAK_GLASS_MINUTES", 60)
# Scheduling: how long a freed slot is held for the next patient on the waitlist.
WAITLIST_OFFER_MINUTES = env_int("CAREHUB_WAITLIST_OFFER_MINUTES", 15)
# Anonymous symptom checks that led to no booking lose their words and answers after this many
# days (the usage counts stay).
# Largest document a patient or clinician may upload (PDF, JPEG or PNG).
RECORDS_MAX_UPLOAD_BYTES = env_int("CAREHUB_MAX_UPLOAD_BYTES", 10 * 1024 * 1024)
TRIAGE_ANONYMOUS_RETENTION_DAYS = env_int("CAREHUB_TRIAGE_RETENTION_DAYS", 30)

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "carehub.accounts.api.authentication.EpochJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "carehub.core.api.problem_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_RATES": {
        "token": "30/min",
        # The symptom checker is open to anonymous visitors: generous enough for a clinic's
        # shared waiting-room tablet or an evaluation run, low enough to stop scripted abuse.
        "triage_start": os.environ.get("CAREHUB_TRIAGE_START_RATE", "600/min"),
        "triage_answer": os.environ.get("CAREHUB_TRIAGE_ANSWER_RATE", "6000/min"),
        "triage_read": os.environ.get("CAREHUB_TRIAGE_READ_RATE", "600/min"),
    },
    # Throttle by REMOTE_ADDR, like the audit trail: an X-Forwarded-For header is client-controlled
    # unless a proxy rewrites it (set CAREHUB_NUM_PROXIES to the number of trusted proxies).
    "NUM_PROXIES": env_int("CAREHUB_NUM_PROXIES", 0),
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=15),
    "REFRESH_TOKEN_LIFETIME": timedelta(hours=12),
    "ROTATE_REFRESH_TOKENS": True,
    "USER_ID_FIELD": "public_id",
    "USER_ID_CLAIM": "sub",
    "UPDATE_LAST_LOGIN": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CareHub API",
    "DESCRIPTION": "REST API of CareHub. Errors are RFC 7807 problem JSON.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The symptom checker's sex (male/female, as its knowledge base needs) differs from the
    # patient record's (which also has other/unknown): name both enums explicitly.
    "ENUM_NAME_OVERRIDES": {
        "TriageSexEnum": "carehub.triage.choices.Sex",
        "PatientSexEnum": "carehub.patients.choices.Sex",
    },
    "SWAGGER_UI_DIST": "/static/vendor/swagger-ui",
    "SWAGGER_UI_FAVICON_HREF": "/static/favicon.svg",
}

# --- Background jobs ------------------------------------------------------------------------
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}

# --- Mail -----------------------------------------------------------------------------------
# Django 6.1 MAILERS, configured from the standard EMAIL_* environment variables. Without
# EMAIL_HOST, mail is written as files under var/mail/ (one .log file per message batch).
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "CareHub <no-reply@carehub.local>")
if os.environ.get("EMAIL_HOST"):
    MAILERS = {
        "default": {
            "BACKEND": os.environ.get(
                "EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend"
            ),
            "OPTIONS": {
                "host": os.environ["EMAIL_HOST"],
                "port": env_int("EMAIL_PORT", 25),
                "username": os.environ.get("EMAIL_HOST_USER", ""),
                "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
                "use_tls": env_bool("EMAIL_USE_TLS"),
                "use_ssl": env_bool("EMAIL_USE_SSL"),
                "timeout": env_int("EMAIL_TIMEOUT", 10),
            },
        }
    }
else:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "OPTIONS": {"file_path": str(VAR_DIR / "mail")},
        }
    }

# --- Encryption at rest ---------------------------------------------------------------------
CAREHUB_KEY_FILE = Path(os.environ.get("CAREHUB_KEY_FILE", VAR_DIR / "keys" / "carehub-keys.json"))

# --- Static and media -----------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
NODE_MODULES_DIR = BASE_DIR / "node_modules"
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "carehub.core.staticfiles.NpmFinder",
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
MEDIA_URL = "/media/"
MEDIA_ROOT = VAR_DIR / "media"

# --- Security -------------------------------------------------------------------------------
from django.utils.csp import CSP  # noqa: E402

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
