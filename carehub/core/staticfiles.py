"""Serve the few files we use from npm packages, not whole packages (swagger-ui-dist alone is
~100 MB with source maps; collecting and compressing all of it took minutes)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles.finders import BaseFinder
from django.core.checks import Error
from django.core.files.storage import FileSystemStorage

# static path -> path inside node_modules
NPM_FILES = {
    "vendor/htmx/htmx.min.js": "htmx.org/dist/htmx.min.js",
    "vendor/pico/pico.min.css": "@picocss/pico/css/pico.min.css",
    "vendor/swagger-ui/swagger-ui.css": "swagger-ui-dist/swagger-ui.css",
    # swagger-ui.css names its source map; the manifest storage needs the file to exist.
    "vendor/swagger-ui/swagger-ui.css.map": "swagger-ui-dist/swagger-ui.css.map",
    "vendor/swagger-ui/swagger-ui-bundle.js": "swagger-ui-dist/swagger-ui-bundle.js",
    "vendor/swagger-ui/swagger-ui-standalone-preset.js": (
        "swagger-ui-dist/swagger-ui-standalone-preset.js"
    ),
}


class NpmFinder(BaseFinder):
    """Finds the files listed in NPM_FILES under settings.NODE_MODULES_DIR."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.root = Path(settings.NODE_MODULES_DIR)

    def check(self, **kwargs):
        missing = [src for src in NPM_FILES.values() if not (self.root / src).exists()]
        if missing:
            return [
                Error(
                    f"npm files missing: {', '.join(missing)}",
                    hint="Run `npm ci` (make run does).",
                    id="carehub.E001",
                )
            ]
        return []

    def find(self, path, find_all=False, **kwargs):
        src = NPM_FILES.get(path)
        if src is None or not (self.root / src).exists():
            return [] if find_all else None
        found = str(self.root / src)
        return [found] if find_all else found

    def list(self, ignore_patterns):
        for dest, src in NPM_FILES.items():
            if (self.root / src).exists():
                storage = _SingleFileStorage(self.root / src, dest)
                yield dest, storage


class _SingleFileStorage(FileSystemStorage):
    """Storage that exposes one file under its static path (collectstatic copies from it)."""

    def __init__(self, source: Path, dest: str):
        super().__init__(location=str(source.parent))
        self._source = source
        self._dest = dest

    def path(self, name):
        return str(self._source)

    def open(self, name, mode="rb"):
        return super().open(self._source.name, mode)

    def get_modified_time(self, name):
        return super().get_modified_time(self._source.name)
