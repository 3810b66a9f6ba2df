"""Login log (登录日志): every success, failure, lockout and logout."""

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from .clientip import log_ip
from .models import LoginEvent


def _record(request, username: str, outcome: str) -> None:
    meta = getattr(request, "META", {}) or {}
    LoginEvent.objects.create(username=(username or "")[:150], outcome=outcome, ip=log_ip(request) if meta else None,
                              user_agent=meta.get("HTTP_USER_AGENT", "")[:300])


@receiver(user_logged_in)
def on_login(sender, request, user, **kwargs):
    _record(request, user.username, LoginEvent.Outcome.SUCCESS)


@receiver(user_login_failed)
def on_login_failed(sender, credentials, request=None, **kwargs):
    _record(request, credentials.get("username", ""), LoginEvent.Outcome.FAILURE)


@receiver(user_locked_out)
def on_locked_out(sender, request, username=None, **kwargs):
    _record(request, username or "", LoginEvent.Outcome.LOCKED)


@receiver(user_logged_out)
def on_logout(sender, request, user, **kwargs):
    if user is not None:
        _record(request, user.username, LoginEvent.Outcome.LOGOUT)
