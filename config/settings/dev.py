"""`make run`: a single-machine install. DEBUG stays off so it behaves like production."""

import os

from .base import *  # noqa: F403
from .base import SECRET_KEY, VAR_DIR, env_bool

DEBUG = env_bool("DJANGO_DEBUG", False)
if not SECRET_KEY:
    # A per-install secret generated on first run, kept out of the repository.
    _secret_file = VAR_DIR / "secret_key"
    if _secret_file.exists():
        SECRET_KEY = _secret_file.read_text().strip()
    else:
        from django.core.management.utils import get_random_secret_key

        VAR_DIR.mkdir(parents=True, exist_ok=True)
        SECRET_KEY = get_random_secret_key()
        _secret_file.write_text(SECRET_KEY)
        os.chmod(_secret_file, 0o600)
