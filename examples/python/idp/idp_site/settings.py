"""An OpenID provider on django-allauth whose second factor is the backup-code
component. Everything it needs comes from the environment:

- `BACKUP_CODES_COMPONENT`: the component file (`backup-codes-shim component --out FILE`);
- `IDP_DATA_DIR`: SQLite database, OpenID signing key, secret key, wasmtime cache
  (default `./data`);
- `BACKUP_CODES_POLICY`: JSON overrides of the engine's default policy (optional);
- `BACKUP_CODES_PEPPER_HEX`: a pepper for argon2, hex (optional).
"""

import json
import os
import secrets
from pathlib import Path

DATA_DIR = Path(os.environ.get("IDP_DATA_DIR", Path(__file__).resolve().parent.parent / "data")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_file(name: str, make) -> str:  # type: ignore[no-untyped-def]
    path = DATA_DIR / name
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(make())
        tmp.chmod(0o600)
        os.replace(tmp, path)
    return path.read_text()


SECRET_KEY = _secret_file("django-secret-key", lambda: secrets.token_urlsafe(50))
DEBUG = False
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # Before allauth: its templates override mfa/authenticate.html and mfa/index.html.
    "backup_codes_allauth",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.idp.oidc",
    "idp_site",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "idp_site.urls"
WSGI_APPLICATION = "idp_site.wsgi.application"
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
            ]
        },
    }
]

# Several worker processes share one SQLite file: WAL, and write transactions
# that take the lock up front instead of failing when they upgrade.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA_DIR / "idp.sqlite3",
        "OPTIONS": {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
}
# allauth's rate limits live in the cache: one every worker shares.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "idp_cache"}}

AUTHENTICATION_BACKENDS = ["allauth.account.auth_backends.AuthenticationBackend"]
AUTH_PASSWORD_VALIDATORS = [{"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"}]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "/static/"
SESSION_COOKIE_NAME = "idp_session"
CSRF_COOKIE_NAME = "idp_csrftoken"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
LOGIN_REDIRECT_URL = "/accounts/2fa/backup-codes/"

ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"

# allauth.mfa with the backup-code component as its second factor.
MFA_ADAPTER = "backup_codes_allauth.adapter.BackupCodesMFAAdapter"
MFA_FORMS = {
    "authenticate": "backup_codes_allauth.forms.BackupCodeAuthenticateForm",
    "reauthenticate": "backup_codes_allauth.forms.BackupCodeReauthenticateForm",
}
# allauth's own (seed-based) recovery codes, TOTP and WebAuthn pages are off; the
# backup-code pages are backup_codes_allauth.urls.
MFA_SUPPORTED_TYPES: list[str] = []

_pepper = os.environ.get("BACKUP_CODES_PEPPER_HEX")
BACKUP_CODES = {
    "COMPONENT": os.environ.get("BACKUP_CODES_COMPONENT", str(DATA_DIR / "backup-codes.wasm")),
    "SHA256": os.environ.get("BACKUP_CODES_SHA256") or None,
    "CACHE_DIR": DATA_DIR / "wasmtime-cache",
    "POLICY": json.loads(os.environ.get("BACKUP_CODES_POLICY", "{}")),
    "PEPPER": bytes.fromhex(_pepper) if _pepper else None,
}

_key = DATA_DIR / "oidc-signing-key.pem"
IDP_OIDC_PRIVATE_KEY = _key.read_text() if _key.exists() else ""

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "backup_codes_allauth": {"handlers": ["console"], "level": "INFO"},
        "django.request": {"handlers": ["console"], "level": "WARNING"},
    },
}
