import logging

import pytest
from django.core.exceptions import PermissionDenied

from qunli.core.logfilters import ShortRefusals

pytestmark = pytest.mark.django_db  # the suite's autouse fixtures touch the database


def record(status: int) -> logging.LogRecord:
    try:
        raise PermissionDenied("x")
    except PermissionDenied:
        import sys

        rec = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "Forbidden", (), sys.exc_info())
    rec.status_code = status
    return rec


def test_a_refusal_is_logged_in_one_line_and_a_server_error_keeps_its_traceback():
    refusal, fault = record(403), record(500)
    assert ShortRefusals().filter(refusal) and refusal.exc_info is None
    assert ShortRefusals().filter(fault) and fault.exc_info is not None
