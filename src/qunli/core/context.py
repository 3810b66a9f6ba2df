"""Per-request context that the audit trail reads: the request id and the client address.
Set by RequestIdMiddleware for web and API calls, by ``run_as`` for CLI and jobs."""

import contextlib
import contextvars
import uuid

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("qunli_request_id", default="")


def current_request_id() -> str:
    return request_id_var.get()


@contextlib.contextmanager
def new_request_id(value: str | None = None):
    token = request_id_var.set(value or uuid.uuid4().hex)
    try:
        yield request_id_var.get()
    finally:
        request_id_var.reset(token)
