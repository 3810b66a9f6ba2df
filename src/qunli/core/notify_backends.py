"""Outbound messages (SMS, WeChat template messages) behind one interface.

A backend has a ``name``, a ``channel`` and two methods: ``address(contact)`` — where it
would send for a staff member (None: skip them) — and ``send(to, text, kind, url)`` — deliver
one message and return the provider's reference, or raise ``SendError``. ``url`` is the
notification's own link (``/core/notifications/<id>/open/``: read, then on to the case or
batch if the reader may still see it); a backend that can carry a link (WeChat) prefixes
its ``base_url``. ``dispatch`` writes
one ``OutboundMessage`` per (inbox row × backend that has an address) with the outcome:
``logged`` (the logging backend), ``sent`` or ``failed`` with the error. A failure is
recorded, never raised: the business action has committed long before.

Configuration: ``QUNLI_NOTIFY_BACKENDS`` (environment or settings), a JSON list, e.g.::

    [{"backend": "logging"},
     {"backend": "sms", "url": "http://sms-gw.local/send", "token": "…", "sign": "群力"},
     {"backend": "wechat", "url": "http://wx-gw.local/template/send", "token": "…",
      "template_id": "TEMPLATE_ID", "base_url": "https://qunli.example.cn"}]

Default (unset or empty): the logging backend only. Both HTTP backends speak plain JSON over
HTTP(S) to a gateway (the deployment's SMS provider or its WeChat access-token proxy);
``timeout`` (seconds, default 5) bounds each call."""

import json
import logging
import os
import urllib.error
import urllib.request
from typing import Protocol

from django.conf import settings

from . import crypto
from .notification_models import NotificationKind, NotifyContact, OutboundMessage

log = logging.getLogger(__name__)

# What leaves the platform: the kind of event only. Details are behind the login.
GENERIC_TEXT = {
    NotificationKind.ASSIGNED: "您有新分派的个案，请登录群力查看。",
    NotificationKind.DUE_SOON: "您有个案即将到期，请登录群力查看。",
    NotificationKind.OVERDUE: "您有个案已超期，请尽快登录群力处理。",
    NotificationKind.ESCALATED: "您督导的个案已超期，请登录群力查看。",
    NotificationKind.REFERRAL_RECEIVED: "本单位收到转办/转介个案，请登录群力处理。",
    NotificationKind.NEW_REQUEST: "本单位收到新的网上诉求，请登录群力分派。",
    NotificationKind.WISH_CLAIMED: "本单位有微心愿已被认领，请登录群力跟进。",
    NotificationKind.DESTRUCTION_PENDING: "您有档案销毁清册待审批，请登录群力查看。",
}
DEFAULT_TEXT = "您有新的工作通知，请登录群力查看。"


class SendError(Exception):
    pass


class Backend(Protocol):
    name: str
    channel: str

    def address(self, contact: NotifyContact | None, user) -> str | None: ...

    def send(self, to: str, text: str, kind: str, url: str) -> str: ...


class LoggingBackend:
    """The default: sends nothing, records every message (for the administrator's screen)."""

    name = "logging"
    channel = OutboundMessage.Channel.LOG

    def __init__(self, **_):
        pass

    def address(self, contact, user):
        if contact is not None and contact.phone_enc:
            return crypto.decrypt(contact.phone_enc)
        return ""

    def send(self, to, text, kind, url):
        log.info("notification for %s: %s", crypto.mask_phone(to) if to else "-", text)
        return ""


class _HttpJsonBackend:
    channel = ""

    def __init__(self, *, url: str, token: str = "", timeout: float = 5, name: str = "", **options):
        if not url:
            raise ValueError(f"{type(self).__name__}: url is required")
        self.url, self.token, self.timeout = url, token, float(timeout)
        self.name = name or self.name
        self.options = options

    def _post(self, payload: dict) -> dict:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.url, data=json.dumps(payload, ensure_ascii=False).encode(), headers=headers,
                                     method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 — configured gateway
                body = resp.read(65536)
        except urllib.error.HTTPError as e:
            raise SendError(f"HTTP {e.code}") from e
        except (urllib.error.URLError, OSError) as e:
            raise SendError(f"连接失败：{getattr(e, 'reason', e)}") from e
        try:
            return json.loads(body or b"{}")
        except ValueError as e:
            raise SendError("网关应答不是 JSON") from e


class HttpSmsBackend(_HttpJsonBackend):
    """POST ``{"phone", "text", "sign"}``; success is a 2xx answer whose JSON has no
    ``ok: false`` and a ``code`` of 0 / "OK" when present; ``id`` is the reference."""

    name = "sms"
    channel = OutboundMessage.Channel.SMS

    def address(self, contact, user):
        if contact is None or not contact.sms_enabled or not contact.phone_enc:
            return None
        return crypto.decrypt(contact.phone_enc)

    def send(self, to, text, kind, url):
        answer = self._post({"phone": to, "text": text, "sign": self.options.get("sign", "")})
        code = answer.get("code", 0)
        if answer.get("ok") is False or code not in (0, "0", "OK", "ok"):
            raise SendError(f"网关拒绝：{answer.get('message') or answer.get('msg') or code}"[:300])
        return str(answer.get("id", ""))[:100]


class WeChatTemplateBackend(_HttpJsonBackend):
    """POST a WeChat template message (``touser``, ``template_id``, ``url``, ``data``);
    success is ``errcode`` 0, ``msgid`` the reference — the shape of the WeChat API itself."""

    name = "wechat"
    channel = OutboundMessage.Channel.WECHAT

    def address(self, contact, user):
        if contact is None or not contact.wechat_enabled or not contact.wechat_openid:
            return None
        return contact.wechat_openid

    def send(self, to, text, kind, url):
        base = self.options.get("base_url", "").rstrip("/")
        answer = self._post({
            "touser": to, "template_id": self.options.get("template_id", ""),
            "url": f"{base}{url}" if base and url else "",
            "data": {"first": {"value": dict(NotificationKind.choices).get(kind, "工作通知")},
                     "keyword1": {"value": text}, "remark": {"value": "群力平台"}},
        })
        if answer.get("errcode", 0) != 0:
            raise SendError(f"微信返回错误 {answer.get('errcode')}：{answer.get('errmsg', '')}"[:300])
        return str(answer.get("msgid", ""))[:100]


BACKENDS = {"logging": LoggingBackend, "sms": HttpSmsBackend, "wechat": WeChatTemplateBackend}


def configured() -> list:
    raw = getattr(settings, "QUNLI_NOTIFY_BACKENDS", None)
    if raw is None:
        raw = os.environ.get("QUNLI_NOTIFY_BACKENDS", "")
    if isinstance(raw, str):
        raw = json.loads(raw) if raw.strip() else [{"backend": "logging"}]
    out = []
    for entry in raw:
        entry = dict(entry)
        cls = BACKENDS[entry.pop("backend")]
        out.append(cls(**entry))
    return out


def _mask(channel: str, to: str) -> str:
    if not to:
        return ""
    if channel == OutboundMessage.Channel.WECHAT:
        return to[:4] + "****" + to[-2:] if len(to) > 8 else "****"
    return crypto.mask_phone(to)


def open_url(notification) -> str:
    """The path a message links to: the notification itself, which marks it read and opens its
    target after checking, at the click, that the reader may still see it."""
    from django.urls import reverse

    return reverse("core:notification_open", args=[notification.pk])


def dispatch(notifications, backends=None) -> list[OutboundMessage]:
    """Hand each inbox row to every backend that can reach its recipient; record each try."""
    notifications = list(notifications)
    if not notifications:
        return []
    backends = configured() if backends is None else backends
    contacts = {c.user_id: c for c in NotifyContact.objects.filter(
        user_id__in={n.recipient_id for n in notifications})}
    out = []
    for n in notifications:
        contact = contacts.get(n.recipient_id)
        text = GENERIC_TEXT.get(n.kind, DEFAULT_TEXT)
        for b in backends:
            to = b.address(contact, n.recipient_id)
            if to is None:
                continue
            msg = OutboundMessage(channel=b.channel, backend=b.name, recipient_id=n.recipient_id,
                                  notification_id=n.pk, kind=n.kind, text=text, to_enc=crypto.encrypt(to) if to else "", to_mask=_mask(b.channel, to))
            try:
                msg.provider_ref = b.send(to, text, n.kind, open_url(n))
                msg.status = (OutboundMessage.Status.LOGGED if b.channel == OutboundMessage.Channel.LOG
                              else OutboundMessage.Status.SENT)
            except SendError as e:
                msg.status, msg.error = OutboundMessage.Status.FAILED, str(e)[:300]
            except Exception as e:  # noqa: BLE001 — a broken backend must not stop the others
                log.exception("backend %s failed", b.name)
                msg.status, msg.error = OutboundMessage.Status.FAILED, f"{type(e).__name__}"[:300]
            out.append(msg)
    OutboundMessage.objects.bulk_create(out)
    return out
