"""Screens for the three administrators (三员分立): accounts (system administrator),
grants and account locks (security administrator), and the audit trails (auditor)."""

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View

from qunli.orgs.models import Line, Unit

from .actions import ActionError, add_grant, create_user, remove_grant, reset_password, update_user
from .exports import stream_xlsx
from .forms import BootstrapFormMixin
from .history import ACTION_LABELS, action_label, object_type_choices, object_type_label
from .models import AccessLog, ChangeLog, Grant, LoginEvent, User
from .params import parse_id


class KindRequiredMixin(LoginRequiredMixin):
    kinds: tuple[str, ...] = ()

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and request.user.kind not in self.kinds:
            raise PermissionDenied("您的账户类型不能使用此功能。")
        return super().dispatch(request, *args, **kwargs)


ADMINS = (User.Kind.SYSADMIN, User.Kind.SECADMIN)


class UserForm(BootstrapFormMixin, forms.Form):
    username = forms.RegexField(label="用户名", regex=r"^[A-Za-z0-9_.-]{3,30}$",
                                error_messages={"invalid": "用户名只能包含字母、数字、下划线、点和短横线，3到30位。"})
    display_name = forms.CharField(label="姓名", max_length=50)
    kind = forms.ChoiceField(label="账户类型", choices=User.Kind.choices)


class UserListView(KindRequiredMixin, View):
    kinds = ADMINS

    def get(self, request):
        q = request.GET.get("q", "").strip()
        users = User.objects.order_by("username").prefetch_related("grants__unit", "grants__lines")
        if q:
            users = users.filter(Q(username__icontains=q) | Q(display_name__icontains=q))
        page = Paginator(users, 50).get_page(request.GET.get("page"))
        return render(request, "core/user_list.html", {"page": page, "q": q, "title": "账户",
                                                       "form": UserForm() if request.user.is_sysadmin else None})

    def post(self, request):
        form = UserForm(request.POST)
        if form.is_valid():
            try:
                user, password = create_user(request.user, **form.cleaned_data)
            except ActionError as e:
                messages.error(request, "；".join(e.messages))
            else:
                messages.success(request, f"已创建账户 {user.username}，初始密码：{password}（首次登录须修改）")
        else:
            messages.error(request, "；".join(m for errs in form.errors.values() for m in errs))
        return redirect("core:user_list")


class GrantForm(BootstrapFormMixin, forms.Form):
    role = forms.ChoiceField(label="角色", choices=Grant.Role.choices)
    unit = forms.ModelChoiceField(label="单位", queryset=Unit.objects.all(), widget=forms.HiddenInput,
                                  error_messages={"invalid_choice": "单位不存在。", "required": "请选择单位。"})
    all_lines = forms.BooleanField(label="全部条线", required=False)
    lines = forms.ModelMultipleChoiceField(label="条线", queryset=Line.objects.filter(is_active=True), required=False)


class UserDetailView(KindRequiredMixin, View):
    kinds = ADMINS

    def get(self, request, pk):
        account = get_object_or_404(User, pk=pk)
        return render(request, "core/user_detail.html", {
            "account": account, "title": f"账户：{account.username}",
            "grants": account.grants.select_related("unit").prefetch_related("lines"),
            "grant_form": GrantForm() if request.user.is_secadmin else None})

    def post(self, request, pk):
        account = get_object_or_404(User, pk=pk)
        op = request.POST.get("op")
        try:
            if op == "grant":
                form = GrantForm(request.POST)
                if not form.is_valid():
                    raise ActionError([m for errs in form.errors.values() for m in errs])
                add_grant(request.user, account, **form.cleaned_data)
                messages.success(request, "已添加授权。")
            elif op == "revoke":
                remove_grant(request.user, get_object_or_404(Grant, pk=request.POST.get("grant"), user=account))
                messages.success(request, "已撤销授权。")
            elif op in ("activate", "deactivate"):
                update_user(request.user, account, is_active=(op == "activate"))
                messages.success(request, "已更新账户状态。")
            elif op == "reset_password":
                password = reset_password(request.user, account)
                messages.success(request, f"已重置密码，新的初始密码：{password}（首次登录须修改）")
            elif op == "unlock":
                from axes.utils import reset

                if not request.user.is_secadmin:
                    raise PermissionDenied
                reset(username=account.username)
                messages.success(request, "已解除锁定。")
        except ActionError as e:
            messages.error(request, "；".join(e.messages))
        return redirect("core:user_detail", pk=pk)


class GrantUnitSearchView(KindRequiredMixin, View):
    """The security administrator picks the unit of a grant by name or division code. Unit
    names and the tree are configuration, not business records: the security administrator
    sees them here and nowhere else, and sees no people, cases or files."""

    kinds = (User.Kind.SECADMIN,)
    LIMIT = 20

    def get(self, request):
        if request.GET.get("reset"):
            return render(request, "core/_grant_unit_search.html")
        pick = parse_id(request.GET.get("pick"))
        if pick is not None:
            unit = Unit.objects.filter(pk=pick).first()
            return render(request, "core/_grant_unit_chosen.html", {"unit": unit, "full_name": _full_name(unit)})
        q = request.GET.get("unit_q", "").strip()
        units = []
        if q:
            qs = Unit.objects.filter(status="active").select_related("line")
            qs = qs.filter(division_code__startswith=q) if q.isdecimal() else qs.filter(name__icontains=q)
            units = [(u, _full_name(u)) for u in qs.order_by("depth", "path")[: self.LIMIT]]
        return render(request, "core/_grant_unit_results.html", {"units": units, "q": q})


def _full_name(unit) -> str:
    if unit is None:
        return ""
    return " › ".join(a.name for a in unit.ancestors_and_self())


class LogFilterForm(BootstrapFormMixin, forms.Form):
    actor = forms.CharField(label="操作人", required=False, help_text="用户名或姓名")
    object_type = forms.ChoiceField(label="对象类型", required=False)
    action = forms.ChoiceField(label="操作", required=False)
    object_id = forms.CharField(label="对象编号", required=False)
    request_id = forms.CharField(label="请求编号", required=False)
    date_from = forms.DateField(label="起始日期", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="截止日期", required=False, widget=forms.DateInput(attrs={"type": "date"}))


def _log_filter_form(data, with_action: bool) -> LogFilterForm:
    form = LogFilterForm(data)
    form.fields["object_type"].choices = [("", "全部"), *object_type_choices()]
    if with_action:
        form.fields["action"].choices = [("", "全部"), *sorted((code, f"{label}（{code}）")
                                                             for code, label in ACTION_LABELS.items())]
    else:
        del form.fields["action"]
    return form


class AuditLogView(KindRequiredMixin, View):
    """The auditor's search over an audit trail; read-only by construction."""

    kinds = (User.Kind.AUDITOR,)
    model = ChangeLog
    title = "变更日志"
    columns = (("seq", "序号"), ("at", "时间"), ("actor_name", "操作人"), ("action", "操作"),
               ("object_type", "对象类型"), ("object_repr", "对象"), ("request_id", "请求编号"))

    def get(self, request):
        form = _log_filter_form(request.GET or None, with_action=self.model is ChangeLog)
        qs = self.model.objects.all()
        if form.is_valid():
            d = form.cleaned_data
            if d["actor"]:  # the account's user name, or the name people know it by
                names = User.objects.filter(Q(username=d["actor"]) | Q(display_name=d["actor"]))
                qs = qs.filter(actor_name__in=[d["actor"], *names.values_list("username", flat=True)])
            for key in ("object_type", "action", "object_id", "request_id"):
                if not d.get(key):
                    continue
                qs = qs.filter(**{key: d[key]})
            if d["date_from"]:
                qs = qs.filter(at__date__gte=d["date_from"])
            if d["date_to"]:
                qs = qs.filter(at__date__lte=d["date_to"])
        qs = qs.order_by("-seq")
        if request.GET.get("export") == "xlsx":
            return stream_xlsx(self.model.CHAIN if hasattr(self.model, "CHAIN") else "log",
                               [label for _, label in self.columns],
                               ([self.cell(r, f) for f, _ in self.columns] for r in qs.iterator()))
        page = Paginator(qs, 50).get_page(request.GET.get("page"))
        for row in page:
            row.type_label = object_type_label(row.object_type)
            if hasattr(row, "action"):
                row.action_label = action_label(row.action)
            if hasattr(row, "fields"):
                row.field_labels = sensitive_field_labels(row.fields)
        return render(request, "core/audit_log.html", {"page": page, "form": form, "title": self.title,
                                                       "columns": self.columns, "model_name": self.model.__name__})

    @staticmethod
    def cell(row, field: str):
        value = getattr(row, field)
        return sensitive_field_labels(value) if field == "fields" else value


# What an access-log row names, in the words an auditor reads. Rows keep the key the code
# logged (older rows, and the modules that log a key rather than a label); both read alike.
SENSITIVE_LABELS = {"id_number": "身份证号", "phone": "联系电话", "address": "住址", "guardian_phone": "监护人电话",
                    "description": "诉求内容", "requester_name": "诉求人姓名", "requester_phone": "诉求人电话",
                    "notes": "过程记录", "donor_phone": "认领人电话", "fulfil_photo": "圆梦照片",
                    "visit_notes": "走访记录", "visit_photo": "走访照片", "request_attachment": "诉求附件",
                    "reading": "档案原文（阅览）"}


def sensitive_field_labels(fields: str) -> str:
    return "、".join(SENSITIVE_LABELS.get(f, f) for f in fields.split(",") if f)


class AccessLogView(AuditLogView):
    model = AccessLog
    title = "敏感信息访问日志"
    columns = (("seq", "序号"), ("at", "时间"), ("actor_name", "访问人"), ("object_type", "对象类型"),
               ("object_repr", "对象"), ("fields", "字段"), ("purpose", "用途"), ("request_id", "请求编号"))


class LoginEventView(KindRequiredMixin, View):
    kinds = (User.Kind.AUDITOR, User.Kind.SECADMIN)

    def get(self, request):
        qs = LoginEvent.objects.all()
        if request.GET.get("username"):
            qs = qs.filter(username=request.GET["username"])
        if request.GET.get("outcome"):
            qs = qs.filter(outcome=request.GET["outcome"])
        page = Paginator(qs.order_by("-at"), 50).get_page(request.GET.get("page"))
        return render(request, "core/login_events.html", {"page": page, "title": "登录日志",
                                                          "outcomes": LoginEvent.Outcome.choices})
