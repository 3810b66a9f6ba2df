"""Staff pages for opening (开放鉴定队列, batch decisions) and use (利用登记: register, desk
registration, a request with its items, leader approval, certificates, statistics).

Reads go through ``visible_to``; writes call ``records.opening`` / ``records.use``."""

import datetime as dt

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView

from qunli.core.actions import ActionError
from qunli.core.exports import stream_xlsx
from qunli.core.generic import (
    ActionFormView,
    BusinessRequiredMixin,
    Column,
    ObjectListView,
    message_action_error,
)
from qunli.core.params import parse_id, parse_ids
from qunli.core.scoping import CHANGE, VIEW, can
from qunli.orgs.filters import _FilterForm
from qunli.orgs.views import ObjectActionView, get_visible
from qunli.people.forms import UserForm

from . import opening, use
from .models import Fonds, Item, OpeningReview, Purpose, UseLine, UseRequest
from .views import KeptItemMixin

# --- opening -------------------------------------------------------------------------------------


class OpeningFilterForm(_FilterForm):
    fonds = forms.ModelChoiceField(label="全宗", queryset=Fonds.objects.none(), empty_label="全部")
    decision = forms.ChoiceField(label="状态", choices=[("", "全部"), *OpeningReview.Decision.choices])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["fonds"].queryset = use.fonds_for_use(self.user, VIEW)  # held fonds too


class OpeningQueueView(ObjectListView):
    """The appraisal-for-opening queue with the batch decision form above it."""

    model = OpeningReview
    title = "开放鉴定"
    template_name = "records/opening_queue.html"
    export_name = "开放鉴定"
    filter_form = OpeningFilterForm
    select_related = ("item__fonds", "decided_by")
    search_fields = ("item__title__icontains", "item__archival_code__startswith")
    search_placeholder = "题名或档号"
    default_sort = "due_on"
    lookup_fonds = "item__fonds"
    columns = [
        Column("archival_code", "档号", accessor="item.archival_code", sort="item__archival_code"),
        Column("title", "题名", accessor="item.title", wrap=True),
        Column("date", "形成日期", accessor="item.date", sort="item__date"),
        Column("classification", "密级", accessor="item.classification"),
        Column("due_on", "应开放日期", sort="due_on"),
        Column("decision", "鉴定结论", sort="decision"),
        Column("reason", "理由", wrap=True),
        Column("defer_until", "延期至"),
        Column("decided_by", "鉴定人", accessor="decided_by.display_name"),
        Column("decided_at", "鉴定时间", sort="decided_at"),
    ]

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["decisions"] = [c for c in OpeningReview.Decision.choices if c[0] != OpeningReview.Decision.QUEUED]
        ctx["fonds_choices"] = use.fonds_for_use(self.request.user, CHANGE)  # held fonds too
        ctx["years"] = opening.opening_years()
        return ctx


class OpeningEnqueueView(BusinessRequiredMixin, View):
    def post(self, request):
        raw = request.POST.get("fonds", "")
        if not raw:  # an empty 全宗 list: nothing this account may enqueue
            messages.warning(request, "请先选择全宗；没有可选的全宗时，您既不管理全宗也不保管移交的档案。")
            return redirect(reverse("records:opening_queue"))
        # an archives enqueues the fonds whose items it holds, as well as its own
        fonds = use.fonds_for_use(request.user, CHANGE).filter(pk=parse_id(raw) or 0).select_related("unit").first()
        if fonds is None:
            raise Http404("全宗不存在，或您既不管理该全宗也不保管其档案。")
        n = opening.enqueue_due(request.user, fonds)
        messages.success(request, f"已将 {n} 件到期档案列入开放鉴定队列。" if n else "没有新的到期档案。")
        return redirect(reverse("records:opening_queue") + "?decision=queued")


def _checked_reviews(request) -> list[int]:
    """The queue page's checked review ids, every one within the user's reach (else a 404)."""
    ids = parse_ids(request.POST.getlist("pk"))
    visible = set(OpeningReview.objects.visible_to(request.user).filter(pk__in=ids).values_list("pk", flat=True))
    if len(visible) != len(set(ids)):
        raise Http404("部分条目不存在或不在您的数据范围内。")
    return ids


def _batch(request, run, nothing_done: str) -> int | None:
    """Run a batch action of the queue page; its refusals become messages (None returned)."""
    try:
        return run()
    except ActionError as e:
        message_action_error(request, e)
        messages.error(request, nothing_done)
    except PermissionDenied as e:
        messages.error(request, str(e))
    return None


class OpeningDecideView(BusinessRequiredMixin, View):
    """The batch decision: the checked reviews, one decision, one reason."""

    def post(self, request):
        ids = _checked_reviews(request)
        back = reverse("records:opening_queue") + "?decision=queued"
        defer = None
        raw = request.POST.get("defer_until", "").strip()
        if raw:
            try:
                defer = dt.date.fromisoformat(raw)
            except ValueError:
                messages.error(request, "延期日期格式应为 YYYY-MM-DD。")
                return redirect(back)
        n = _batch(request, lambda: opening.decide_opening(
            request.user, ids, decision=request.POST.get("decision", ""), reason=request.POST.get("reason", ""),
            defer_until=defer), "以上问题未解决前，所选条目均未作出鉴定。")
        if n is not None:
            messages.success(request, f"已对 {n} 件档案作出鉴定，开放标识已更新。")
        return redirect(back)


class ReappraiseForm(UserForm):
    reason = forms.CharField(label="重新鉴定的理由", max_length=opening.REASON_MAX - len(opening.REQUEUE_PREFIX),
                             widget=forms.Textarea(attrs={"rows": 3}),
                             help_text="如：经复查，该件涉及个人隐私，开放有误。提交后开放标识即改为“待定”（不在公众目录中出现），"
                                       "条目回到开放鉴定队列，由鉴定人员重新作出开放、控制使用或延期开放的结论。")


class ReappraiseItemView(KeptItemMixin, ObjectActionView):
    """重新鉴定 of one filed item (its detail page's button): back into the queue, 待定 at once."""

    model = Item
    select_related = ("fonds__unit",)
    form_class = ReappraiseForm
    title = "重新鉴定（开放）"
    success_message = "已列入开放鉴定队列，开放标识改为“待定”；请重新作出鉴定结论。"

    def perform(self, data):
        return opening.requeue(self.request.user, self.get_object(), reason=data["reason"])

    def success_url(self, result) -> str:
        return reverse("records:opening_queue") + "?decision=queued"


class OpeningRequeueView(BusinessRequiredMixin, View):
    """重新鉴定 of the checked (decided) rows of the queue page, with one reason."""

    def post(self, request):
        ids = _checked_reviews(request)
        back = reverse("records:opening_queue")
        n = _batch(request, lambda: opening.requeue_reviews(request.user, ids, reason=request.POST.get("reason", "")),
                   "以上问题未解决前，所选条目均未列入重新鉴定。")
        if n is None:
            return redirect(back)
        messages.success(request, f"已将 {n} 件档案列入重新鉴定，开放标识改为“待定”。")
        return redirect(back + "?decision=queued")


# --- use: register, desk registration, detail -------------------------------------------------------


class UseFilterForm(_FilterForm):
    fonds = forms.ModelChoiceField(label="全宗", queryset=Fonds.objects.none(), empty_label="全部")
    channel = forms.ChoiceField(label="方式", choices=[("", "全部"), *UseRequest.Channel.choices])
    purpose = forms.ChoiceField(label="利用目的", choices=[("", "全部"), *Purpose.choices])
    year = forms.IntegerField(label="年度", min_value=1900, max_value=2100)
    waiting = forms.ChoiceField(label="审批", choices=[("", "全部"), ("1", "有待审批条目")])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["fonds"].queryset = use.fonds_for_use(self.user, VIEW)  # received fonds too


class UseRegisterView(ObjectListView):
    """利用登记: every request, newest first; xlsx export of the current filter."""

    model = UseRequest
    title = "利用登记"
    export_name = "利用登记"
    add_url_name = "records:use_add"
    filter_form = UseFilterForm
    select_related = ("fonds",)
    search_fields = ("code__iexact", "reader_name__icontains")
    search_placeholder = "利用单号或利用者"
    default_sort = "-created_at"
    lookup_year = "created_at__year"
    columns = [
        Column("code", "利用单号", link=True, sort="code"),
        Column("created_at", "登记时间", sort="created_at"),
        Column("channel", "方式", sort="channel"),
        Column("reader_name", "利用者", sort="reader_name"),
        Column("reader_phone_mask", "联系电话"),
        Column("organization", "工作单位"),
        Column("purpose", "利用目的", sort="purpose"),
        Column("fonds", "全宗", accessor="fonds.code", sort="fonds__code"),
        Column("n_items", "件数"),
        Column("n_approved", "已批准"),
    ]

    def apply_filters(self, qs, data: dict):
        waiting = data.pop("waiting", "")
        qs = super().apply_filters(qs, data)
        if waiting == "1":  # the leader's queue: requests with a controlled item waiting
            qs = use.waiting(qs)
        return qs

    def base_queryset(self):
        from django.db.models import Count, Q

        return super().base_queryset().annotate(
            n_items=Count("lines"), n_approved=Count("lines", filter=Q(lines__status=UseLine.Status.APPROVED)))


def _codes(raw: str) -> list[str]:
    return [c.strip() for c in (raw or "").replace(",", "\n").replace("，", "\n").splitlines() if c.strip()]


class UseDeskForm(UserForm):
    fonds = forms.ModelChoiceField(label="全宗", queryset=Fonds.objects.none())
    reader_name = forms.CharField(label="利用者姓名", max_length=50)
    phone = forms.RegexField(label="手机号码", regex=r"^1[3-9]\d{9}$", max_length=11, required=False,
                             help_text="在线阅览时凭利用单号和手机号后四位进入；号码加密保存。",
                             error_messages={"invalid": "请填写11位手机号码。"})
    organization = forms.CharField(label="工作单位", max_length=100, required=False)
    purpose = forms.ChoiceField(label="利用目的", choices=Purpose.choices)
    description = forms.CharField(label="需求说明", max_length=500, required=False,
                                  widget=forms.Textarea(attrs={"rows": 3}))
    codes = forms.CharField(label="调阅档号", required=False, widget=forms.Textarea(attrs={"rows": 3}),
                            help_text="每行一个档号。开放档案自动批准；控制使用的档案须档案部门领导审批。")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # an archives provides the fonds it received (Custody) as well as its own
        self.fields["fonds"].queryset = use.fonds_for_use(self.user, CHANGE)


class UseAddView(ActionFormView):
    form_class = UseDeskForm
    title = "窗口利用登记"

    def perform(self, data):
        items = use.items_by_code(self.request.user, data["fonds"], _codes(data["codes"]))
        req = use.register_use(self.request.user, fonds=data["fonds"], reader_name=data["reader_name"],
                               purpose=data["purpose"], phone=data["phone"], organization=data["organization"],
                               description=data["description"], items=items)
        messages.success(self.request, f"已登记，利用单号 {req.code}。")
        return req


class UseDetailView(BusinessRequiredMixin, TemplateView):
    template_name = "records/use_detail.html"

    def get(self, request, pk):
        req = get_visible(UseRequest, request.user, pk, select_related=("fonds", "holder", "registered_by"))
        lines = list(req.lines.select_related("item", "decided_by").prefetch_related("certificates"))
        # link the items this user may open: through their fonds, or as the archives holding
        # them (use.kept_item's rule; one query for the request)
        openable = set(use.reachable_items(request.user).filter(pk__in=[ln.item_id for ln in lines])
                       .values_list("pk", flat=True))
        for ln in lines:
            ln.item_openable = ln.item_id in openable
        return self.render_to_response(self.get_context_data(
            object=req, title=str(req), lines=lines, can_change=can(request.user, CHANGE, req),
            is_leader=use.is_archives_leader(request.user, req.holder)))


class UseAddItemsView(BusinessRequiredMixin, View):
    def post(self, request, pk):
        req = get_visible(UseRequest, request.user, pk, select_related=("fonds", "holder"), action=CHANGE)
        try:
            items = use.items_by_code(request.user, req.fonds, _codes(request.POST.get("codes", "")))
            lines = use.add_items(request.user, req, items)
        except ActionError as e:
            message_action_error(request, e)
        else:
            messages.success(request, f"已加入 {len(lines)} 件。")
        return redirect(req.get_absolute_url())


class UseDecideView(BusinessRequiredMixin, View):
    approve = True

    def post(self, request, pk):
        line = get_visible(UseLine, request.user, pk, select_related=("request__holder", "item"))
        try:
            use.decide_line(request.user, line, approve=self.approve, reason=request.POST.get("reason", ""))
        except ActionError as e:
            message_action_error(request, e)
        else:
            messages.success(request, "已批准。" if self.approve else "已决定不予提供。")
        return redirect(line.request.get_absolute_url())


class CertifyView(BusinessRequiredMixin, View):
    def post(self, request, pk):
        line = get_visible(UseLine, request.user, pk, select_related=("request__holder", "item"),
                           action=CHANGE)
        try:
            cert = use.issue_certificate(request.user, line)
        except ActionError as e:
            message_action_error(request, e)
        else:
            messages.success(request, f"已出具利用证明，验证码 {cert.code}。")
        return redirect(line.request.get_absolute_url())


class CertificatePdfView(BusinessRequiredMixin, View):
    def get(self, request, pk):
        from qunli.records.models import Certificate

        return use.certificate_response(get_visible(Certificate, request.user, pk))


# --- statistics ---------------------------------------------------------------------------------------


class UseStatsView(BusinessRequiredMixin, TemplateView):
    """人次, 件次, by purpose and by month, for the account's reach; ?export=xlsx."""

    template_name = "records/use_stats.html"

    def get(self, request):
        raw = request.GET.get("year", "")
        year = int(raw) if raw.isdecimal() and 1900 <= int(raw) <= 2100 else timezone.localdate().year
        figures = use.access_figures(year, user=request.user)
        if request.GET.get("export") == "xlsx":
            rows = [["合计", figures["persons"], figures["items"]]]
            rows += [[label, v["persons"], v["items"]] for label, v in figures["by_purpose"].items()]
            rows += [[f"{m}月", v["persons"], v["items"]] for m, v in figures["by_month"].items()]
            return stream_xlsx(f"档案利用统计-{year}", ["项目", "人次", "件次"], rows)
        return self.render_to_response(self.get_context_data(title=f"档案利用统计（{year}年）", year=year,
                                                             figures=figures))

