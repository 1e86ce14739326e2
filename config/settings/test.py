"""Settings for the test suite: same code paths as production, fast hashing, temp dirs."""

import tempfile
from pathlib import Path

from .base import *  # noqa: F403

SECRET_KEY = "test-only-secret-key-not-used-anywhere-else-0123456789"
DEBUG = False
ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
_tmp = Path(tempfile.mkdtemp(prefix="carehub-test-"))
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
MEDIA_ROOT = _tmp / "media"
STATIC_ROOT = _tmp / "static"  # WhiteNoise expects it to exist
STATIC_ROOT.mkdir()
CAREHUB_KEY_FILE = _tmp / "keys.json"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    DATABASES["default"]["NAME"] = str(_tmp / "test.sqlite3")  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(_tmp / "test-db.sqlite3")}  # noqa: F405
ACCOUNT_RATE_LIMITS = False
