"""The staff inbox (通知) and one's own contact settings; the administrator's outbound log.

The inbox is the signed-in business user's own (no object of anyone else's is reachable:
another user's notification id is a 404). A notification's link is shown only while its
target is visible to the reader (``notifications.visible_targets``); the target page checks
again anyway."""

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from . import notifications as service
from .actions import ActionError
from .admin_views import KindRequiredMixin
from .forms import BootstrapFormMixin
from .generic import BusinessRequiredMixin, form_action_error
from .models import User
from .notification_models import Notification, NotificationKind, NotifyContact, OutboundMessage


class InboxView(BusinessRequiredMixin, View):
    def get(self, request):
        unread = request.GET.get("unread") == "1"
        kind = request.GET.get("kind", "")
        qs = service.inbox(request.user, unread_only=unread)
        if kind in NotificationKind.values:
            qs = qs.filter(kind=kind)
        page = Paginator(qs, 30).get_page(request.GET.get("page"))
        rows = list(page.object_list)
        visible = service.visible_targets(request.user, rows)
        items = [(n, bool(n.url) and (not n.obj_type or (n.obj_type, n.obj_id) in visible)) for n in rows]
        return render(request, "core/notifications.html", {
            "title": "通知", "page": page, "items": items, "unread": unread, "kind": kind,
            "kinds": NotificationKind.choices})


def _own_notification(request, pk) -> Notification:
    n = Notification.objects.filter(pk=pk, recipient=request.user).first()
    if n is None:
        raise Http404("通知不存在。")
    return n


def _read_and_open(request, n: Notification, go_on: bool):
    """Mark ``n`` read; go on to its target while the reader may still see it, else the inbox."""
    service.mark_read(request.user, [n.pk])
    if go_on and n.url and url_has_allowed_host_and_scheme(n.url, allowed_hosts=None):
        if not n.obj_type or service.visible_targets(request.user, [n]):
            return redirect(n.url)
        messages.warning(request, "该通知关联的对象已不在您的办理范围内。")
    return redirect("core:notifications")


class MarkReadView(BusinessRequiredMixin, View):
    """POST: mark one of one's own notifications read; with ``open=1`` go on to its target."""

    def post(self, request, pk):
        return _read_and_open(request, _own_notification(request, pk), bool(request.POST.get("open")))


class OpenNotificationView(BusinessRequiredMixin, View):
    """GET: the link a WeChat template message carries. After the login it asks for, it marks
    the notification read and opens its target — need-to-know checked now, at the click, not
    when the message left — or the inbox when there is none (a leader told without a link)."""

    def get(self, request, pk):
        return _read_and_open(request, _own_notification(request, pk), True)


class MarkAllReadView(BusinessRequiredMixin, View):
    def post(self, request):
        n = service.mark_all_read(request.user)
        messages.success(request, f"已将 {n} 条通知标为已读。" if n else "没有未读通知。")
        return redirect("core:notifications")


class ContactForm(BootstrapFormMixin, forms.Form):
    phone = forms.CharField(label="手机号码", required=False, max_length=20)
    sms_enabled = forms.BooleanField(label="接收短信提醒", required=False)
    wechat_openid = forms.CharField(label="微信OpenID", required=False, max_length=64,
                                    help_text="关注单位公众号后由管理员提供")
    wechat_enabled = forms.BooleanField(label="接收微信模板消息", required=False)


class ContactView(BusinessRequiredMixin, View):
    def _render(self, request, form):
        return render(request, "core/notify_contact.html", {"title": "通知接收设置", "form": form})

    def get(self, request):
        c = NotifyContact.objects.filter(user=request.user).first()
        initial = {"phone": c.phone_mask, "sms_enabled": c.sms_enabled, "wechat_openid": c.wechat_openid,
                   "wechat_enabled": c.wechat_enabled} if c else {}
        return self._render(request, ContactForm(initial=initial))

    def post(self, request):
        form = ContactForm(request.POST)
        if form.is_valid():
            data = dict(form.cleaned_data)
            current = NotifyContact.objects.filter(user=request.user).first()
            if current and data["phone"] == current.phone_mask:  # the mask came back unchanged
                from . import crypto

                data["phone"] = crypto.decrypt(current.phone_enc) if current.phone_enc else ""
            try:
                service.set_contact(request.user, **data)
            except ActionError as e:
                form_action_error(form, e)
            else:
                messages.success(request, "已保存通知接收设置。")
                return redirect("core:notify_contact")
        return self._render(request, form)


class OutboundListView(KindRequiredMixin, View):
    """The system administrator's view of what was sent (or only logged), with failures.
    Addresses are masked; the texts are generic and carry no case data."""

    kinds = (User.Kind.SYSADMIN,)

    def get(self, request):
        qs = OutboundMessage.objects.select_related("recipient")
        status = request.GET.get("status", "")
        if status in OutboundMessage.Status.values:
            qs = qs.filter(status=status)
        channel = request.GET.get("channel", "")
        if channel in OutboundMessage.Channel.values:
            qs = qs.filter(channel=channel)
        page = Paginator(qs, 50).get_page(request.GET.get("page"))
        return render(request, "core/outbound_list.html", {
            "title": "外发消息（短信、微信）", "page": page, "statuses": OutboundMessage.Status.choices,
            "channels": OutboundMessage.Channel.choices})
