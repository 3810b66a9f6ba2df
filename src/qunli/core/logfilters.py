"""Logging filters. A refusal (403 outside the grant, 404) is an expected answer: Django logs
it with the whole traceback of the PermissionDenied, which buried the real faults (500s) of a
production log under dozens of tracebacks a day. It keeps its one-line warning."""

import logging


class ShortRefusals(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "django.request" and getattr(record, "status_code", 500) < 500:
            record.exc_info = None
            record.exc_text = None
        return True
