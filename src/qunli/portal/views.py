"""The public portal (no login) and the staff's notice screens (/portal/manage/).

Public pages read nothing but published notices, the list of units and request types, and —
through ``actions.track`` with a tracking code and the phone's last four digits — one
request's public status. Floods get HTTP 429, oversize bodies HTTP 413, a filled honeypot
HTTP 400, each with a Chinese page."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.views import View
from django.views.decorators.http import require_GET, require_http_methods

from qunli.casework import attachments as request_files
from qunli.casework.models import RequestType
from qunli.core.actions import ActionError
from qunli.core.generic import ActionFormView, BusinessRequiredMixin, Column, ObjectListView
from qunli.core.scoping import CHANGE, VIEW, can

from . import actions, ratelimit
from .forms import NoticeEditForm, NoticeForm, SubmitForm, TrackForm
from .models import Notice

MAX_BODY_BYTES = 32 * 1024  # a form's text is ≤ 2000 characters; anything bigger is not a citizen
# the submit form with its attachments: every allowed file at its largest, plus the text and
# the multipart framing
MAX_SUBMIT_BODY_BYTES = request_files.ATTACHMENT_MAX_COUNT * request_files.ATTACHMENT_MAX_BYTES + 64 * 1024
HOTLINES = [("12351", "职工服务热线（工会）"), ("12338", "妇女维权热线（妇联）"), ("12355", "青少年服务热线（共青团）")]
SESSION_CODE = "portal_tracking_code"


def _refuse(request, status: int, title: str, message: str):
    response = render(request, "portal/refused.html", {"title": title, "message": message}, status=status)
    add_never_cache_headers(response)
    return response


def _flooded(request):
    return _refuse(request, 429, "操作过于频繁", "您的操作过于频繁，请稍后再试。紧急情况请直接拨打热线电话。")


def _too_big(request):
    return _refuse(request, 413, "提交内容过大", f"提交的内容过大，请精简后重试（诉求内容不超过{actions.DESCRIPTION_MAX}字）。")


def _submit_too_big(request):
    """A body over the submit form's limit: with files, it is the files that are too big."""
    if request.content_type == "multipart/form-data":
        return _refuse(request, 413, "附件过大", f"上传的附件过大，请压缩或减少附件后重试（{request_files.ATTACHMENT_LIMITS}）。")
    return _too_big(request)


def _body_too_big(request, limit: int = MAX_BODY_BYTES) -> bool:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > limit
    except ValueError:
        return True


def guarded_form(request, *, form_class, template, context, ip_limit: str, phone_limit: str, posts_limit: str,
                 perform, too_big=None, max_body: int = MAX_BODY_BYTES):
    """The portal's one way to take a public form: an oversize body is refused before it is read,
    then the per-IP limits, the honeypot, validation and the per-phone limit; ``perform(data)``
    calls the action and returns the response (a redirect). Its ActionError / PermissionDenied
    messages go back onto the form. ``context()`` gives the page's objects (read again after a
    refusal, so the page shows the current state).

    Two things are counted per IP: ``posts_limit`` every POST (generous: it only stops a
    script), ``ip_limit`` accepted submissions only, like ``phone_limit`` per phone: a hit
    whose submission is then refused (the other limit, the action) is refunded, and invalid
    or honeypot posts never reach them — a citizen who gets the phone number wrong twice must
    not be locked out for an hour."""
    if request.method == "POST" and _body_too_big(request, max_body):
        return (too_big or _too_big)(request)
    if request.method == "GET":
        return render(request, template, {**context(), "form": form_class()})
    ip = ratelimit.client_ip(request)
    if not ratelimit.hit(posts_limit, ip):
        return _flooded(request)
    form = form_class(request.POST, request.FILES)
    if form.is_bot:
        return _refuse(request, 400, "提交未能完成", "提交未能完成，请刷新页面后重新填写。")
    if form.is_valid():
        taken = [(ip_limit, ip), (phone_limit, form.cleaned_data["phone"])]

        def give_back():
            for name, subject in taken:
                ratelimit.refund(name, subject)

        ip_ok, phone_ok = [ratelimit.hit(name, subject) for name, subject in taken]  # both counted, then refunded
        if not ip_ok:
            give_back()
            return _flooded(request)
        if not phone_ok:  # the citizen is told which limit, on the form they filled
            give_back()
            count, window = ratelimit.limit(phone_limit)
            per, later = ("今天", "请明天再试") if window >= 86400 else ("一小时内", "请稍后再试")
            form.add_error("phone", f"该手机号{per}已提交{count}次，已达上限，{later}；紧急情况请直接拨打热线电话。")
            return render(request, template, {**context(), "form": form}, status=429)
        try:
            return perform(form.cleaned_data)
        except (ActionError, PermissionDenied) as e:
            give_back()
            for msg in getattr(e, "messages", [str(e)]):
                form.add_error(None, msg)
    return render(request, template, {**context(), "form": form})


def _too_big_plain(request):
    return _refuse(request, 413, "提交内容过大", "提交的内容过大，请精简后重试。")


@require_GET
def home(request):
    notices = actions.published_notices()[:5]
    return render(request, "portal/home.html", {"hotlines": HOTLINES, "notices": notices})


@require_http_methods(["GET", "POST"])
def submit(request):
    def perform(data):
        case = actions.submit_request(unit=data["unit"], type=data["type"], name=data["name"], phone=data["phone"],
                                      description=data["description"], files=data["attachments"])
        request.session[SESSION_CODE] = case.request.tracking_code
        return redirect("portal:submitted")

    def context():  # each type's line, which the page narrows the unit list to
        return {"type_lines": {str(pk): line for pk, line in RequestType.objects.filter(is_active=True)
                               .values_list("pk", "line_id") if line}}

    # a multipart body may carry the attachments; any other body is text only
    multipart = request.content_type == "multipart/form-data"
    return guarded_form(request, form_class=SubmitForm, template="portal/submit.html", context=context,
                        ip_limit="submit_ip", phone_limit="submit_phone", posts_limit="submit_posts_ip",
                        perform=perform, too_big=_submit_too_big,
                        max_body=MAX_SUBMIT_BODY_BYTES if multipart else MAX_BODY_BYTES)


@require_GET
def submitted(request):
    """Shows the tracking code once: it is taken out of the session as it is shown."""
    code = request.session.pop(SESSION_CODE, None)
    response = render(request, "portal/submitted.html", {"code": code})
    add_never_cache_headers(response)
    return response


@require_http_methods(["GET", "POST"])
def track(request):
    result, failed = None, False
    if request.method == "POST":
        if _body_too_big(request):
            return _too_big(request)
        if not ratelimit.hit("track_ip", ratelimit.client_ip(request)):
            return _flooded(request)
        form = TrackForm(request.POST)
        if form.is_valid():
            code = actions.normalize_code(form.cleaned_data["code"])
            if not ratelimit.hit("track_code", code):
                return _flooded(request)
            result = actions.track(code, form.cleaned_data["last4"])
            failed = result is None
    else:
        form = TrackForm()
    response = render(request, "portal/track.html", {"form": form, "result": result, "failed": failed})
    add_never_cache_headers(response)
    return response


@require_GET
def notices(request):
    return render(request, "portal/notices.html", {"notices": actions.published_notices()[:100]})


# --- staff: notices ----------------------------------------------------------------------------

class NoticeListView(ObjectListView):
    model = Notice
    title = "网上群团通知公告"
    export_name = "通知公告"
    add_url_name = "portal:notice_add"
    search_fields = ("title__icontains",)
    search_placeholder = "标题"
    select_related = ("unit",)
    columns = [
        Column("title", "标题", link=True, sort="title"),
        Column("unit", "发布单位", accessor="unit.name"),
        Column("is_published", "已发布"),
        Column("published_at", "发布时间", sort="published_at"),
        Column("created_at", "创建时间", sort="created_at"),
    ]


class NoticeAddView(ActionFormView):
    form_class = NoticeForm
    title = "新建通知公告"

    def perform(self, data):
        notice = actions.create_notice(self.request.user, **data)
        messages.success(self.request, "已保存（尚未发布）。")
        return notice


def _visible_notice(user, pk, act=VIEW) -> Notice:
    notice = Notice.objects.visible_to(user, VIEW).select_related("unit").filter(pk=pk).first()
    if notice is None:
        raise Http404("通知不存在或不在您的数据范围内。")
    if act == CHANGE and not can(user, CHANGE, notice):
        raise PermissionDenied("您没有修改该通知的权限。")
    return notice


class NoticeEditView(ActionFormView):
    form_class = NoticeEditForm
    template_name = "portal/notice_form.html"
    title = "编辑通知公告"

    def notice(self) -> Notice:
        if not hasattr(self, "_notice"):
            self._notice = _visible_notice(self.request.user, self.kwargs["pk"], CHANGE)
        return self._notice

    def get_form(self, data=None):
        n = self.notice()
        return self.form_class(data, initial={"title": n.title, "body": n.body}, **self.form_kwargs())

    def get_context_data(self, **kwargs):
        return super().get_context_data(notice=self.notice(), **kwargs)

    def perform(self, data):
        notice = actions.update_notice(self.request.user, self.notice(), **data)
        messages.success(self.request, "已保存。")
        return notice


class NoticePublishView(BusinessRequiredMixin, View):
    publish = True

    def post(self, request, pk):
        notice = _visible_notice(request.user, pk, CHANGE)
        actions.publish_notice(request.user, notice, publish=self.publish)
        messages.success(request, "已发布，公众可在网上群团看到。" if self.publish else "已撤回，公众不再看到。")
        return redirect("portal:notice_edit", pk=notice.pk)
