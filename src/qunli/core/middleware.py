import time

from django.conf import settings
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse

from .clientip import log_ip
from .context import request_id_var


class RequestIdMiddleware:
    """Give every request an id (or accept the proxy's X-Request-ID) for the audit trail."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        import uuid

        rid = request.headers.get("X-Request-ID", "")[:36] or uuid.uuid4().hex
        token = request_id_var.set(rid)
        request.request_id = rid
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = rid
        if response.status_code == 405 and request.path.startswith("/api/") and \
                not response.get("Content-Type", "").startswith("application/json"):
            from .errors import api_method_not_allowed

            response = api_method_not_allowed(request, response)
            response["X-Request-ID"] = rid
        return response


class IdleTimeoutMiddleware:
    """等保 2.0: sign a session out after 30 minutes without activity."""

    KEY = "qunli_last_seen"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated and not getattr(request, "api_token", None):
            now = time.time()
            last = request.session.get(self.KEY)
            if last is not None and now - last > settings.QUNLI_IDLE_TIMEOUT.total_seconds():
                from .models import LoginEvent

                LoginEvent.objects.create(username=request.user.username, outcome=LoginEvent.Outcome.TIMEOUT,
                                          ip=log_ip(request))
                logout(request)
                return redirect(f"{reverse('login')}?timeout=1")
            request.session[self.KEY] = now
        return self.get_response(request)


class PasswordChangeRequiredMiddleware:
    """An initial password must be changed before anything else is used."""

    ALLOWED = ("password_change", "logout", "login")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated and user.must_change_password:
            path = request.path
            exempt = path in {reverse(n) for n in self.ALLOWED} or path == "/healthz" \
                or path.startswith((settings.STATIC_URL, "/api/"))
            if not exempt:
                return redirect("password_change")
        return self.get_response(request)
