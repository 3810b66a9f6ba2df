"""Pages for casework: intake, the case lists (mine, supervised, due and overdue, all I may
see), the case page with its timeline and the step forms, the referral inbox, and the
system administrator's calendar and request types.

Every case read goes through ``Case.objects.visible_to`` (need-to-know): a case outside it
is a 404, whatever grant the user holds on its unit. The caseworker's and supervisor's lists
read through ``Case.objects.in_team_of``, the same rule narrowed to the user's role."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views import View

from qunli.core.actions import ActionError
from qunli.core.admin_views import KindRequiredMixin
from qunli.core.generic import (
    ActionFormView,
    BusinessRequiredMixin,
    Column,
    IdsFirstPaginator,
    ObjectDetailView,
    ObjectListView,
    form_action_error,
)
from qunli.core.models import User
from qunli.core.params import parse_id
from qunli.core.scoping import CHANGE, VIEW, can

from . import actions, queries
from .escalation import current_escalation
from .forms import (
    ALL_STATUSES,
    ApproveForm,
    AssignForm,
    CaseFilterForm,
    CloseForm,
    ConsentForm,
    DismissForm,
    DueFilterForm,
    HolidayForm,
    IntakeForm,
    MemberForm,
    NoteForm,
    ReasonForm,
    RequestTypeForm,
    SendForm,
    ServedPersonForm,
    ServiceForm,
    TeamCaseFilterForm,
)
from .models import Case, CaseMember, Holiday, Referral, RequestType, mask_name
from .workdays import years_without_calendar

S = Case.Status


# --- lists ------------------------------------------------------------------------------------

class CaseListView(ObjectListView):
    model = Case
    title = "个案"
    export_name = "个案"
    filter_form = CaseFilterForm
    select_related = ("request", "request__type", "unit", "caseworker", "supervisor")
    search_placeholder = "查询码，或诉求人完整手机号"
    default_sort = "-pk"
    paginator_class = IdsFirstPaginator  # need-to-know: find the team's cases once, sort their ids
    lookup_type = "request__type"
    lookup_channel = "request__channel"
    columns = [
        Column("code", "查询码", accessor="request.tracking_code", link=True),
        Column("type", "类型", accessor="request.type.name"),
        Column("channel", "渠道", accessor="request.channel", sort="request__channel"),
        Column("requester", "诉求人", accessor="request.requester_name_mask"),
        Column("phone", "联系电话", accessor="request.requester_phone_mask"),
        Column("status", "状态", sort="status"),
        Column("unit", "承办单位", accessor="unit.name"),
        Column("caseworker", "个案社工", accessor="caseworker"),
        # a case is opened at its request's 受理时间 (actions.receive_request sets created_at to
        # it): sorting on the case's own column spares the join to thousands of requests
        Column("received", "受理时间", accessor="request.received_at", sort="created_at"),
        Column("resolve_due", "办结时限", sort="resolve_due"),
        Column("overdue", "超期", accessor="is_overdue"),
    ]

    def scoped(self, qs):
        return qs

    def base_queryset(self):
        return self.scoped(super().base_queryset())

    def filtered_queryset(self):
        qs, form = super().filtered_queryset()
        return queries.search_cases(qs, self.request.GET.get("q", "")), form

    def get_context_data(self, **kwargs):
        kwargs["search_enabled"] = True
        return super().get_context_data(**kwargs)


class AllCasesView(CaseListView):
    """全部个案: every case the user may see. Unfiltered in id order (its default), the ids
    come from the need-to-know arms alone (``Case.objects.visible_ids``)."""

    def sorted_ids(self, sort):
        filtered = any(value for key, value in self.request.GET.items() if key not in ("sort", "page"))
        if filtered or sort.lstrip("-") != "pk":
            return None
        return Case.objects.visible_ids(self.request.user, VIEW, newest_first=sort.startswith("-"),
                                        limit=IdsFirstPaginator.CAP + 1)


class TeamCasesView(CaseListView):
    """A list of the cases the user works on in one role: ``Case.objects.in_team_of`` —
    the need-to-know rule narrowed to that role, served by the role's index. It opens on
    the open cases (a closed case due last month would otherwise top a list sorted by 办结时限)."""

    role = ""
    default_sort = "resolve_due"
    filter_form = TeamCaseFilterForm

    def apply_filters(self, qs, data):
        status = data.pop("status", "")
        if status == ALL_STATUSES:
            pass
        elif status:
            qs = qs.filter(status=status)
        else:
            qs = qs.exclude(status=S.CLOSED)
        return super().apply_filters(qs, data)

    def base_queryset(self):
        return Case.objects.in_team_of(self.request.user, self.role, VIEW).select_related(*self.select_related)


class MyCasesView(TeamCasesView):
    title = "我的个案"
    role = "worker"  # caseworker or added member


class SupervisedView(TeamCasesView):
    title = "督导个案"
    role = "supervisor"


class IntakeQueueView(CaseListView):
    title = "待分派"
    default_sort = "acknowledge_due"

    def scoped(self, qs):
        return qs.filter(caseworker__isnull=True, status=S.RECEIVED)


class DueView(CaseListView):
    """Overdue and due within three working days, the supervisor's escalation list included
    (an overdue case shows on its supervisor's list too), with the on-time rate."""

    title = "到期与超期"
    template_name = "casework/due_list.html"
    filter_form = DueFilterForm
    default_sort = "resolve_due"

    def apply_filters(self, qs, data):
        due = data.get("due")
        if due == "overdue":
            return qs.filter(queries.overdue_q())
        if due == "soon":
            return qs.filter(queries.due_soon_q())
        return qs.filter(queries.overdue_q() | queries.due_soon_q())

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["on_time"] = queries.on_time(Case.objects.visible_to(self.request.user, VIEW))
        today = timezone.localdate()
        ctx["calendar_missing"] = years_without_calendar([today.year, today.year + 1])
        return ctx


# --- intake -----------------------------------------------------------------------------------

class IntakeView(ActionFormView):
    form_class = IntakeForm
    template_name = "casework/intake.html"
    title = "受理登记"

    def perform(self, data):
        case = actions.receive_request(self.request.user, **data)
        messages.success(self.request, f"已受理，查询码 {case.request.tracking_code}。")
        return case


# --- the case page ----------------------------------------------------------------------------

CASE_TABS = [("detail", "个案"), ("history", "修改记录")]


def visible_case(user, pk, act=VIEW) -> Case:
    case = (Case.objects.visible_to(user, act)
            .select_related("request", "request__type", "unit", "unit__line", "caseworker", "supervisor",
                            "served_person", "served_person__person").filter(pk=pk).first())
    if case is None:
        raise Http404("个案不存在，或您不是该个案的承办、督导或成员。")
    return case


def available_steps(user, case: Case, is_member: bool, intake: bool = False,
                    referral_pending: bool = False) -> list[tuple[str, str]]:
    """The buttons the user may press now (the actions check again). ``intake``: the user is
    the unit's intake staff of an unassigned case (``queries.sending_side``) — not the
    receiving staff of a pending referral, who decide on it instead. While a referral is
    pending nobody assigns, dismisses or sends the case elsewhere (the actions refuse it):
    the sender may withdraw it, the receiver decide."""
    worker = user.pk == case.caseworker_id or is_member
    sup = user.pk == case.supervisor_id
    steps = []
    if case.status == S.RECEIVED and case.caseworker_id is None and intake and not referral_pending:
        steps.append(("assign", "分派"))
    elif case.is_open and sup:
        steps.append(("assign", "改派"))
    if case.status == S.ASSIGNED and worker:
        steps.append(("assess", "评估"))
    if case.status == S.ASSESSED and worker:
        steps.append(("submit_plan", "提交服务计划"))
    if case.status == S.PLANNED and sup:
        steps.append(("approve_plan", "审批服务计划"))
    if case.status == S.IN_SERVICE and worker:
        steps.append(("service", "记录服务"))
    if case.status in (S.IN_SERVICE, S.FOLLOW_UP) and worker:
        steps.append(("follow_up", "回访"))
    if case.status == S.FOLLOW_UP and (sup or user.pk == case.caseworker_id):
        steps.append(("close", "结案"))
    if case.status == S.CLOSED and (sup or user.pk == case.caseworker_id):
        steps.append(("reopen", "重新开启"))
    if case.is_open and not referral_pending and (sup or user.pk == case.caseworker_id or intake):
        steps += [("transfer", "转办"), ("refer", "转介")]
    if case.is_open and (sup or user.pk == case.caseworker_id):
        steps.append(("add_member", "增加成员"))
    if case.served_person_id and (worker or sup):
        steps += [("served", "服务对象信息"), ("consent", "登记知情同意")]
    # last: the first button is styled as the next step, and ending a request is never that
    if case.status in (S.RECEIVED, S.ASSIGNED) and not referral_pending and (sup or user.pk == case.caseworker_id
                                                                            or intake):
        steps.append(("dismiss", "不予受理"))
    return steps


class ReadableHistoryMixin:
    """The history tab without casework's internal columns (``queries.readable_history``)."""

    def history(self, obj):
        return queries.readable_history(super().history(obj))


class CaseDetailView(ReadableHistoryMixin, ObjectDetailView):
    model = Case
    template_name = "casework/case_detail.html"
    select_related = ("request", "request__type", "unit", "unit__line", "caseworker", "supervisor",
                      "served_person", "served_person__person")

    def get_object(self):
        return visible_case(self.request.user, self.kwargs["pk"])

    def extra_context_for(self, case) -> dict:
        user = self.request.user
        members = list(CaseMember.objects.filter(case=case).select_related("user"))
        is_member = any(m.user_id == user.pk for m in members)
        in_team = is_member or user.pk in (case.caseworker_id, case.supervisor_id)
        referrals = list(case.referrals.select_related("from_unit", "to_unit", "created_by", "decided_by"))
        pending = next((r for r in referrals if r.status == Referral.Status.PENDING), None)
        sender = queries.sending_side(user, case)
        events = list(case.events.select_related("actor"))
        reach = "team" if in_team else actions.may_reveal(user, case)
        actions.log_case_view(user, case, actions.case_page_fields(case, in_team),
                              "办理个案" if in_team else "受理、分派或接收个案")
        person = case.served_person.person if case.served_person_id and in_team else None
        return {
            "title": str(case), "tabs": CASE_TABS, "members": members, "events": events,
            "can_reveal": bool(reach), "reveal_request_only": reach == "request",
            # 一人一档: the team reaches the person's record when their grant shows it
            "person_url": person.get_absolute_url() if person is not None and can(user, VIEW, person) else "",
            # 结案 or 不予受理: the last step that ended the case (a reopened case may have both)
            "ended_by": next((e.step for e in reversed(events) if e.step in ("close", "dismiss")), ""),
            "referrals": referrals, "can_withdraw": pending is not None and sender,
            "can_remove_members": user.pk in (case.caseworker_id, case.supervisor_id),
            "consents": list(case.served_person.consents.all()) if case.served_person_id and in_team else [],
            "served_masked": served_masked(case) if case.served_person_id and not in_team else None,
            "steps": available_steps(user, case, is_member, intake=case.caseworker_id is None and sender,
                                     referral_pending=pending is not None),
            # the receiving staff of a pending referral decide on it from the case page too
            "can_decide": pending is not None and can(user, CHANGE, pending.to_unit),
            "pending_referral": pending,
            "in_team": in_team,
            "overdue": case.is_overdue(),
            # the sweep's escalation of a limit the case is still missing (a query only then)
            "escalation": current_escalation(case, pending),
        }


def served_masked(case: Case) -> dict:
    """The served person as shown to someone who may see the case but is not on its team
    (intake staff before assignment, the receiving unit of a pending referral): enough to
    tell the case apart, nothing that identifies a (often minor) person or their family."""
    served = case.served_person
    return {"name": mask_name(served.person.name), "guardian": mask_name(served.guardian_name)}


class CaseRevealView(BusinessRequiredMixin, View):
    """POST only: the case's sealed text for its team, written to the access log first."""

    def post(self, request, pk):
        case = visible_case(request.user, pk)
        purpose = (request.POST.get("purpose") or "").strip()[:200]
        values = actions.reveal_case(request.user, case, purpose=purpose)
        events = list(case.events.select_related("actor"))
        for e in events:
            e.revealed = values.get("notes", {}).get(e.pk, "")
        shown = "诉求内容" if values.get("request_only") else "完整信息"
        ctx = {"object": case, "values": values, "events": events, "title": f"{case}：{shown}"}
        if request.htmx:
            return render(request, "casework/_revealed.html", ctx)
        return render(request, "casework/case_revealed.html", ctx)


STEP_FORMS = {
    "assign": ("分派个案", AssignForm), "assess": ("评估", NoteForm), "submit_plan": ("提交服务计划", NoteForm),
    "approve_plan": ("审批服务计划", ApproveForm), "service": ("记录服务", ServiceForm),
    "follow_up": ("回访", ServiceForm), "close": ("结案", CloseForm), "reopen": ("重新开启", ReasonForm),
    "transfer": ("转办（本条线内）", SendForm), "refer": ("转介（其他条线）", SendForm),
    "add_member": ("增加个案成员", MemberForm), "served": ("服务对象信息", ServedPersonForm),
    "consent": ("登记知情同意", ConsentForm), "dismiss": ("不予受理", DismissForm),
}


class CaseStepView(ActionFormView):
    """One step of the lifecycle: a form, then the action. 404 outside need-to-know; the
    action refuses a wrong state or role with its Chinese message."""

    template_name = "casework/step_form.html"
    step = ""

    def case(self) -> Case:
        if not hasattr(self, "_case"):
            self._case = visible_case(self.request.user, self.kwargs["pk"])
        return self._case

    def form_kwargs(self) -> dict:
        kw = {"user": self.request.user}
        if self.step in ("assign", "add_member", "transfer", "refer"):
            kw["case"] = self.case()
        if self.step in ("transfer", "refer"):
            kw["same_line"] = self.step == "transfer"
        return kw

    def get_form(self, data=None):
        title, form_class = STEP_FORMS[self.step]
        initial = {}
        served = self.case().served_person
        # pre-filled for the team only: the page opens for anyone who may see the case
        if self.step == "served" and served is not None and self.case().in_team(self.request.user):
            initial = {k: getattr(served, k) for k in ("categories", "guardian_name", "guardian_relation",
                                                        "school_or_employer", "risk_flags")}
        if self.step == "follow_up":
            initial = {"visit_type": "phone"}
        return form_class(data, initial=initial, **self.form_kwargs())

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        if self.step == "served" and self.case().served_person_id and self.case().in_team(request.user):
            # the form opens pre-filled with the served person's guardian, school and risks
            actions.log_case_view(request.user, self.case(), actions.SERVED_FIELDS, "修改服务对象信息")
        return response

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["object"] = self.case()
        ctx["title"] = STEP_FORMS[self.step][0]
        ctx["cancel_url"] = self.case().get_absolute_url()
        return ctx

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        if response.status_code == 302:
            messages.success(request, f"{STEP_FORMS[self.step][0]}：已完成。")
        return response

    def perform(self, d):
        user, case = self.request.user, self.case()
        s = self.step
        if s == "assign":
            return actions.assign_case(user, case, caseworker=d["caseworker"], supervisor=d["supervisor"])
        if s == "assess":
            return actions.assess(user, case, note=d["note"])
        if s == "submit_plan":
            return actions.submit_plan(user, case, note=d["note"])
        if s == "approve_plan":
            return actions.approve_plan(user, case, approve=d["decision"] == "approve", note=d["note"])
        if s == "service":
            return actions.record_service(user, case, visit_type=d["visit_type"], note=d["note"])
        if s == "follow_up":
            return actions.follow_up(user, case, visit_type=d["visit_type"], note=d["note"])
        if s == "close":
            return actions.close_case(user, case, outcome=d["outcome"], satisfaction=d["satisfaction"], note=d["note"])
        if s == "reopen":
            return actions.reopen(user, case, reason=d["reason"])
        if s == "dismiss":
            return actions.dismiss(user, case, reason=d["reason"])
        if s in ("transfer", "refer"):
            getattr(actions, s)(user, case, to_unit=d["to_unit"], reason=d["reason"])
            return case
        if s == "add_member":
            actions.add_member(user, case, user=d["user_to_add"])
            return case
        if s == "served":
            actions.update_served_person(user, case, guardian_phone=d.pop("guardian_phone") or None, **d)
            return case
        if s == "consent":
            actions.add_consent(user, case, **d)
            return case
        raise Http404

    def success_url(self, result) -> str:
        case = self.case()
        # after a transfer is accepted elsewhere or a step removes the user's reach, the case
        # page would 404; the lists are always safe
        if Case.objects.visible_to(self.request.user).filter(pk=case.pk).exists():
            return case.get_absolute_url()
        return "/casework/mine/"


class CaseMemberRemoveView(BusinessRequiredMixin, View):
    """POST only (a button on each member of the case page): 移出成员."""

    def post(self, request, pk):
        case = visible_case(request.user, pk)
        user = User.objects.filter(pk=parse_id(request.POST.get("member"))).first()
        try:
            actions.remove_member(request.user, case, user=user)
        except ActionError as e:
            messages.error(request, "；".join(e.messages))
        else:
            messages.success(request, f"已将{user}移出本案团队。")
        return redirect(case.get_absolute_url())


# --- referrals ---------------------------------------------------------------------------------

inbox_queryset = queries.referral_inbox  # the receiving staff's pending referrals (the API's ?inbox=true too)


class ReferralInboxView(BusinessRequiredMixin, View):
    def get(self, request):
        return render(request, "casework/referral_inbox.html", {"title": "转办/转介收件箱",
                                                                "referrals": inbox_queryset(request.user)[:200]})


class ReferralDecideView(BusinessRequiredMixin, View):
    decision = ""

    def referral(self, request, pk) -> Referral:
        r = inbox_queryset(request.user).filter(pk=pk).first()
        if r is None:
            raise Http404("转办/转介不存在，或不在您的收件箱中。")
        return r

    def get(self, request, pk):
        r = self.referral(request, pk)
        return render(request, "casework/referral_decide.html",
                      {"title": "拒收转办/转介" if self.decision == "decline" else "接收转办/转介", "referral": r,
                       "decision": self.decision, "form": ReasonForm(user=request.user)})

    def post(self, request, pk):
        r = self.referral(request, pk)
        try:
            if self.decision == "accept":
                case = actions.accept_referral(request.user, r)
                messages.success(request, "已接收，请分派个案社工和督导。")
                return redirect(case.get_absolute_url())
            form = ReasonForm(request.POST, user=request.user)
            if form.is_valid():
                actions.decline_referral(request.user, r, reason=form.cleaned_data["reason"])
                messages.success(request, "已拒收，理由已告知转出单位。")
                return redirect("casework:referral_inbox")
        except ActionError as e:
            form = ReasonForm(request.POST, user=request.user)
            form.is_valid()
            form_action_error(form, e)
        return render(request, "casework/referral_decide.html",
                      {"title": "拒收转办/转介", "referral": r, "decision": self.decision, "form": form})


class ReferralWithdrawView(BusinessRequiredMixin, View):
    """POST only (a button on the case page): the sending side takes a pending referral back."""

    def post(self, request, pk):
        r = Referral.objects.visible_to(request.user, CHANGE).filter(pk=pk).first()
        if r is None:
            raise Http404("转办/转介不存在，或您不能查看该个案。")
        try:
            actions.withdraw_referral(request.user, r)
        except ActionError as e:
            messages.error(request, "；".join(e.messages))
        else:
            messages.success(request, f"已撤回{r.get_kind_display()}。")
        return redirect(r.case.get_absolute_url())


# --- configuration (system administrator) -------------------------------------------------------

class HolidayView(KindRequiredMixin, View):
    """The working-day calendar: public holidays and make-up working days, by year."""

    kinds = (User.Kind.SYSADMIN,)

    def get(self, request, form=None):
        year = request.GET.get("year", "")

        year = int(year) if year.isdecimal() and 2000 <= int(year) <= 2100 else timezone.localdate().year
        days = Holiday.objects.filter(date__year=year)
        return render(request, "casework/holidays.html", {"title": "节假日与调休", "days": days, "year": year,
                                                          "form": form or HolidayForm(),
                                                          "missing": years_without_calendar([year])})

    def post(self, request):
        op = request.POST.get("op", "save")
        if op == "seed":
            n = actions.seed_holidays(request.user)
            messages.success(request, f"已从 chinese-calendar 补充 {n} 天。")
            return redirect("casework:holidays")
        if op == "delete":
            h = Holiday.objects.filter(pk=parse_id(request.POST.get("id"))).first()
            if h is not None:
                actions.delete_holiday(request.user, h)
                messages.success(request, f"已删除 {h.date:%Y-%m-%d}。")
            return redirect("casework:holidays")
        form = HolidayForm(request.POST)
        if form.is_valid():
            h = actions.set_holiday(request.user, **form.cleaned_data)
            label = f"{h.date:%Y-%m-%d} {h.name}（{'调休上班' if h.is_workday else '放假'}）".replace(" （", "（")
            messages.success(request, f"已保存 {label}。")
            redundant = calendar_note(h.date, h.is_workday)
            if redundant:
                messages.warning(request, redundant)
            return redirect(f"{request.path}?year={h.date.year}")
        return self.get(request, form=form)


WEEKDAYS = "一二三四五六日"


def calendar_note(day, is_workday: bool) -> str:
    """A calendar entry that changes nothing — a 放假 on a weekend, a 调休上班 on a weekday —
    is allowed (a holiday week is often entered whole) but said to be so: it is usually a
    date typed wrong."""
    weekend = day.weekday() >= 5
    if weekend and not is_workday:
        return f"{day:%Y-%m-%d} 是星期{WEEKDAYS[day.weekday()]}，本来就是休息日：登记为放假不改变时限计算，请核对日期。"
    if not weekend and is_workday:
        return f"{day:%Y-%m-%d} 是星期{WEEKDAYS[day.weekday()]}，本来就是工作日：登记为调休上班不改变时限计算，请核对日期。"
    return ""


class RequestTypeView(KindRequiredMixin, View):
    kinds = (User.Kind.SYSADMIN,)

    def get(self, request, form=None):
        return render(request, "casework/request_types.html", {
            "title": "诉求类型与时限", "types": RequestType.objects.select_related("line"),
            "form": form or RequestTypeForm()})

    def post(self, request):
        form = RequestTypeForm(request.POST)
        if form.is_valid():
            try:
                t = actions.save_request_type(request.user, **form.cleaned_data)
            except ActionError as e:
                form_action_error(form, e)
            else:
                messages.success(request, f"已保存诉求类型“{t.name}”。")
                return redirect("casework:request_types")
        return self.get(request, form=form)
