"""The front-end files Qunli serves from ``node_modules`` (installed from the npm registry at
set-up; no CDN), named one by one. A package's whole ``dist`` folder would be collected and
compressed at every start — ECharts' alone is 61 MB of builds we never load, which made
``qunli serve`` take one to two minutes before it listened."""

from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles.finders import BaseFinder
from django.core.checks import Error
from django.core.files.storage import FileSystemStorage

# static path → path inside node_modules
VENDOR_FILES = {
    "vendor/bootstrap/css/bootstrap.min.css": "bootstrap/dist/css/bootstrap.min.css",
    "vendor/bootstrap/js/bootstrap.bundle.min.js": "bootstrap/dist/js/bootstrap.bundle.min.js",
    "vendor/bootstrap-icons/bootstrap-icons.min.css": "bootstrap-icons/font/bootstrap-icons.min.css",
    "vendor/bootstrap-icons/fonts/bootstrap-icons.woff2": "bootstrap-icons/font/fonts/bootstrap-icons.woff2",
    "vendor/bootstrap-icons/fonts/bootstrap-icons.woff": "bootstrap-icons/font/fonts/bootstrap-icons.woff",
    "vendor/htmx/htmx.min.js": "htmx.org/dist/htmx.min.js",
    "vendor/echarts/echarts.min.js": "echarts/dist/echarts.min.js",
}


class VendorFinder(BaseFinder):
    def _source(self, path: str) -> Path | None:
        rel = VENDOR_FILES.get(path)
        return Path(settings.ASSETS_DIR) / rel if rel else None

    def check(self, **kwargs):
        missing = [p for p in VENDOR_FILES if not self._source(p).is_file()]
        return [Error(f"前端文件缺失：{settings.ASSETS_DIR / VENDOR_FILES[p]}（请先运行 make install 安装 npm 依赖）",
                      id="qunli.E001") for p in missing]

    def find(self, path, find_all=False, **kwargs):
        source = self._source(path)
        if source is None or not source.is_file():
            return [] if find_all or kwargs.get("all") else None
        return [str(source)] if find_all or kwargs.get("all") else str(source)

    def list(self, ignore_patterns):
        for path in VENDOR_FILES:
            source = self._source(path)
            if source.is_file():
                storage = FileSystemStorage(location=str(source.parent))
                storage.prefix = str(Path(path).parent)  # collected under vendor/…, not at the root
                yield source.name, storage
