import os
import threading

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qunli.settings")
application = get_wsgi_application()


def _warm_pdf_renderer():
    # WeasyPrint (归档文件目录, 四性检测 reports, 利用 certificates) takes most of a second to
    # import: done in the background as the worker starts, not in the first reader's request.
    import weasyprint  # noqa: F401


threading.Thread(target=_warm_pdf_renderer, name="warm-pdf", daemon=True).start()
