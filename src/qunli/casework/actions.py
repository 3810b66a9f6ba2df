"""The verbs of casework. Each runs in one transaction, checks the need-to-know rule (and
the grant behind it), refuses illegal transitions with a Chinese message, writes, and
appends its change-log row. Sensitive text is sealed before it is stored; plaintext comes
only from ``reveal_case``, which writes the access log first."""

import datetime as dt

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from qunli.core import crypto
from qunli.core.actions import ActionError, action, clean_text, require_kind
from qunli.core.audit import log_access, log_change, snapshot
from qunli.core.identifiers import InvalidIdentifier, validate_phone
from qunli.core.models import User
from qunli.core.notifications import Kind as NoticeKind
from qunli.core.notifications import notify, staff_of_unit
from qunli.core.scoping import CHANGE, VIEW, can

from .models import (
    Case,
    CaseEvent,
    CaseMember,
    Category,
    Channel,
    Consent,
    Holiday,
    Referral,
    Request,
    RequestType,
    RiskFlag,
    ServedPerson,
    VisitType,
    mask_name,
)
from .workdays import add_working_days, package_rows, time_limits

S = Case.Status
OPEN = [s for s in S.values if s != S.CLOSED]


# --- checks --------------------------------------------------------------------------------

def visible(actor, case: Case, act: str = VIEW) -> bool:
    return Case.objects.visible_to(actor, act).filter(pk=case.pk).exists()


def _lock(actor, case: Case, act: str = CHANGE) -> Case:
    """Reload the case locked for the rest of the transaction, refusing it outside the
    need-to-know rule (404-like: the caller cannot tell it exists)."""
    if not visible(actor, case, act):
        raise PermissionDenied("您不是该个案的承办、督导或成员，不能操作该个案。")
    return Case.objects.select_for_update().select_related("unit", "request", "request__type").get(pk=case.pk)


def _require_state(case: Case, allowed, verb: str) -> None:
    if case.status not in allowed:
        raise ActionError(f"个案当前状态为“{case.get_status_display()}”，不能{verb}。")


def _require_role(actor, case: Case, roles: tuple[str, ...], verb: str) -> None:
    ok = ("caseworker" in roles and actor.pk == case.caseworker_id) or \
         ("supervisor" in roles and actor.pk == case.supervisor_id) or \
         ("member" in roles and CaseMember.objects.filter(case=case, user=actor).exists())
    if not ok:
        names = {"caseworker": "个案社工", "supervisor": "督导", "member": "个案成员"}
        raise PermissionDenied(f"只有本案的{'或'.join(names[r] for r in roles)}可以{verb}。")


def _event(actor, case: Case, step: str, note: str = "", visit_type: str = "", at=None) -> CaseEvent:
    return CaseEvent.objects.create(case=case, step=step, actor=actor, at=at or timezone.now(),
                                    note_enc=crypto.encrypt(note.strip()) if note and note.strip() else "",
                                    visit_type=visit_type)


def _log(actor, name: str, case: Case, before: dict | None, extra: dict | None = None) -> None:
    after = snapshot(case)
    if extra:
        after.update(extra)
    log_change(actor, f"casework.{name}", case, before, after, unit_path=case.unit.path)




# --- intake ----------------------------------------------------------------------------------

@action
def receive_request(actor, *, unit, type: RequestType, channel: str, requester_name: str, requester_phone: str = "",
                    description: str, person=None, categories=(), received_at: dt.datetime | None = None) -> Case:
    """受理: record the request and open its case (unassigned, visible to the unit's intake
    staff until it is assigned)."""
    if not can(actor, CHANGE, unit):
        raise PermissionDenied("您没有在该单位受理诉求的权限。")
    return _receive(actor, unit=unit, type=type, channel=channel, requester_name=requester_name,
                    requester_phone=requester_phone, description=description, person=person,
                    categories=categories, received_at=received_at)


# The system account the public portal (网上群团) submits as: a business account with no
# grant and no usable password, created by ``portal.actions.portal_account``.
PORTAL_ACCOUNT = "wangshang-portal"


@action
def receive_public_request(actor, *, unit, type: RequestType, requester_name: str, requester_phone: str,
                           description: str) -> Case:
    """受理 of a request a citizen submitted on the public portal (channel 网上). The actor is
    the portal's system account, which holds no grant: the portal vouches for its own
    anti-abuse checks, and the unit must be an active line unit. Everything else is
    ``receive_request``'s own path (sealing, tracking code, time limits, change log). The
    unit's intake staff (``staff_of_unit`` on its line) are told after the commit: nobody
    else would notice a request that arrived from outside."""
    if actor.username != PORTAL_ACCOUNT or actor.has_usable_password() or not actor.is_business:
        raise PermissionDenied("只有网上群团系统账户可以登记网上诉求。")
    if unit is None or unit.line_id is None or not unit.is_active:
        raise ActionError("请选择受理单位。")
    if not requester_phone:
        raise ActionError("请填写手机号码。")
    case = _receive(actor, unit=unit, type=type, channel=Channel.ONLINE, requester_name=requester_name,
                    requester_phone=requester_phone, description=description)
    # the tracking code and the type name only: no name, phone or text of the request
    notify(staff_of_unit(unit, unit.line_id), NoticeKind.NEW_REQUEST,
           f"网上群团收到{case}（{type.name}），请及时分派", obj=case, exclude=actor)
    return case


def _receive(actor, *, unit, type: RequestType, channel: str, requester_name: str, requester_phone: str = "",
             description: str, person=None, categories=(), received_at: dt.datetime | None = None) -> Case:
    if channel not in Channel.values:
        raise ActionError("请选择受理渠道。")
    if not type.is_active:
        raise ActionError("该诉求类型已停用。")
    name = clean_text(requester_name, "诉求人姓名", limit=50)
    description = clean_text(description, "诉求内容", limit=5000)
    try:
        phone = validate_phone(requester_phone) if requester_phone else ""
    except InvalidIdentifier as e:
        raise ActionError(str(e)) from e
    received_at = received_at or timezone.now()
    served = None
    if person is not None:
        if not can(actor, VIEW, person):
            raise PermissionDenied("不能关联您数据范围以外的人员。")
        served = ServedPerson.objects.filter(person=person).first()
        if served is None:
            served = ServedPerson.objects.create(person=person, unit=unit, categories=_categories(categories))
    phone_cols = crypto.seal("phone", phone)
    req = Request(channel=channel, type=type, unit=unit, requester_name_enc=crypto.encrypt(name),
                  requester_name_mask=mask_name(name)[:20], requester_phone_enc=phone_cols["phone_enc"],
                  requester_phone_hash=phone_cols["phone_hash"], requester_phone_mask=phone_cols["phone_mask"],
                  description_enc=crypto.encrypt(description), served_person=served, received_at=received_at,
                  received_by=actor)
    for _ in range(5):  # a collision among 31^10 codes is all but impossible; retry anyway
        if not Request.objects.filter(tracking_code=req.tracking_code).exists():
            break
        req.tracking_code = Request._meta.get_field("tracking_code").default()
    req.save()
    acknowledge_due, resolve_due = time_limits(timezone.localdate(received_at), type.acknowledge_days,
                                               type.resolve_days)
    case = Case.objects.create(request=req, served_person=served, unit=unit, status=S.RECEIVED,
                               acknowledge_due=acknowledge_due, resolve_due=resolve_due, created_at=received_at)
    _event(actor, case, "receive", at=received_at)
    log_change(actor, "casework.receive_request", req, None, snapshot(req), unit_path=unit.path)
    _log(actor, "open_case", case, None)
    return case


def _categories(values) -> list[str]:
    bad = [v for v in values if v not in Category.values]
    if bad:
        raise ActionError("服务对象类别无效。")
    return sorted(set(values))


@action
def update_served_person(actor, case: Case, *, categories=(), guardian_name: str = "", guardian_relation: str = "",
                         guardian_phone: str | None = None, school_or_employer: str = "", risk_flags=()) -> ServedPerson:
    """Edit the served person's case data (categories, guardian, school or employer, risks):
    the case team only."""
    case = _lock(actor, case)
    _require_role(actor, case, ("caseworker", "supervisor", "member"), "修改服务对象信息")
    served = case.served_person
    if served is None:
        raise ActionError("该个案未关联服务对象（人员档案）。")
    before = snapshot(served)
    served.categories = _categories(categories)
    if [f for f in risk_flags if f not in RiskFlag.values]:
        raise ActionError("风险标记无效。")
    served.risk_flags = sorted(set(risk_flags))
    served.guardian_name = clean_text(guardian_name, "监护人姓名", required=False, limit=50)
    served.guardian_relation = clean_text(guardian_relation, "与本人关系", required=False, limit=20)
    served.school_or_employer = clean_text(school_or_employer, "学校或工作单位", required=False, limit=100)
    if guardian_phone is not None:
        try:
            phone = validate_phone(guardian_phone) if guardian_phone else ""
        except InvalidIdentifier as e:
            raise ActionError(str(e)) from e
        served.guardian_phone_enc = crypto.encrypt(phone) if phone else ""
        served.guardian_phone_mask = crypto.mask_phone(phone) if phone else ""
    served.save()
    log_change(actor, "casework.update_served_person", served, before, snapshot(served), unit_path=case.unit.path)
    return served


@action
def add_consent(actor, case: Case, *, given_on: dt.date, given_by: str, scope_text: str) -> Consent:
    case = _lock(actor, case)
    _require_role(actor, case, ("caseworker", "supervisor", "member"), "登记知情同意")
    if case.served_person is None:
        raise ActionError("该个案未关联服务对象（人员档案）。")
    if given_on > timezone.localdate():
        # a consent is evidence of what was agreed before data was shared: a date to come
        # would make it look given when it was not
        raise ActionError("同意日期不能晚于今天。")
    c = Consent.objects.create(served_person=case.served_person, given_on=given_on,
                               given_by=clean_text(given_by, "同意人", limit=50),
                               scope_text=clean_text(scope_text, "同意范围", limit=200), recorded_by=actor)
    log_change(actor, "casework.add_consent", c, None, snapshot(c), unit_path=case.unit.path,
               obj_repr=f"{case} 知情同意")
    return c


# --- assignment and the service steps ----------------------------------------------------------

def _check_staff(user, case: Case, label: str) -> None:
    if user is None or not isinstance(user, User) or not user.is_business or not user.is_active:
        raise ActionError(f"请选择{label}。")
    if not can(user, CHANGE, case.unit):
        raise ActionError(f"{user}没有该单位的业务权限，不能担任{label}。")


@action
def assign_case(actor, case: Case, *, caseworker, supervisor) -> Case:
    """分派: intake staff assign a new case; afterwards only its supervisor reassigns it."""
    case = _lock(actor, case)
    _require_state(case, OPEN, "分派")
    if case.caseworker_id is not None:
        _require_role(actor, case, ("supervisor",), "改派个案")
    elif not can(actor, CHANGE, case.unit):
        raise PermissionDenied("您没有分派该单位个案的权限。")
    if Referral.objects.filter(case=case, status=Referral.Status.PENDING).exists():
        raise ActionError("该个案有待接收的转办/转介，处理完毕后才能分派。")
    _check_staff(caseworker, case, "个案社工")
    _check_staff(supervisor, case, "督导")
    if caseworker.pk == supervisor.pk:
        raise ActionError("个案社工和督导不能是同一人。")
    before = snapshot(case)
    case.caseworker, case.supervisor = caseworker, supervisor
    if case.status == S.RECEIVED:
        case.status = S.ASSIGNED
        case.acknowledged_at = case.acknowledged_at or timezone.now()
    case.save()
    _event(actor, case, "assign", note=f"个案社工：{caseworker}；督导：{supervisor}")
    _log(actor, "assign_case", case, before)
    kind = f"（{case.request.type.name}）"
    notify([caseworker], NoticeKind.ASSIGNED, f"您被分派为{case}{kind}的个案社工", obj=case, exclude=actor)
    notify([supervisor], NoticeKind.ASSIGNED, f"您被指定为{case}{kind}的督导", obj=case, exclude=actor)
    return case


def _refuse_if_sent_away(case: Case, verb: str) -> None:
    """A case may not end while another unit may still accept it: the acceptance would bring
    it back to life at a unit that never saw it closed, with its old outcome and deadlines."""
    pending = Referral.objects.filter(case=case, status=Referral.Status.PENDING).first()
    if pending is not None:
        kind = pending.get_kind_display()
        raise ActionError(f"本个案有待对方处理的{kind}，请先撤回{kind}或等待对方处理后再{verb}。")


def _step(actor, case: Case, *, name: str, step: str, allowed, roles, verb: str, to: str | None, note: str,
          note_label: str, visit_type: str = "", ends: bool = False, **changes) -> Case:
    case = _lock(actor, case)
    _require_state(case, allowed, verb)
    _require_role(actor, case, roles, verb)
    if ends:
        _refuse_if_sent_away(case, verb)
    note = clean_text(note, note_label, limit=5000)
    before = snapshot(case)
    if to:
        case.status = to
    for k, v in changes.items():
        setattr(case, k, v)
    case.save()
    _event(actor, case, step, note=note, visit_type=visit_type)
    _log(actor, name, case, before, {"step": step})
    return case


WORKERS = ("caseworker", "member")


@action
def assess(actor, case: Case, *, note: str) -> Case:
    return _step(actor, case, name="assess", step="assess", allowed=[S.ASSIGNED], roles=WORKERS, verb="评估",
                 to=S.ASSESSED, note=note, note_label="评估意见")


@action
def submit_plan(actor, case: Case, *, note: str) -> Case:
    case = _step(actor, case, name="submit_plan", step="submit_plan", allowed=[S.ASSESSED], roles=WORKERS,
                 verb="提交服务计划", to=S.PLANNED, note=note, note_label="服务计划", plan_submitted_at=timezone.now(),
                 plan_approved_at=None, plan_approved_by=None)
    notify([case.supervisor_id], NoticeKind.PLAN_SUBMITTED, f"{case}的服务计划待您审批", obj=case, exclude=actor)
    return case


@action
def approve_plan(actor, case: Case, *, approve: bool = True, note: str = "") -> Case:
    """The supervisor approves the plan (service starts) or returns it for rework."""
    if approve:
        case = _step(actor, case, name="approve_plan", step="approve_plan", allowed=[S.PLANNED],
                     roles=("supervisor",), verb="批准服务计划", to=S.IN_SERVICE, note=note or "同意",
                     note_label="审批意见", plan_approved_at=timezone.now(), plan_approved_by=actor)
        notify([case.caseworker_id], NoticeKind.PLAN_APPROVED, f"{case}的服务计划已批准", obj=case, exclude=actor)
        return case
    case = _step(actor, case, name="return_plan", step="return_plan", allowed=[S.PLANNED], roles=("supervisor",),
                 verb="退回服务计划", to=S.ASSESSED, note=note, note_label="退回理由")
    notify([case.caseworker_id], NoticeKind.PLAN_RETURNED, f"{case}的服务计划被退回，请修改后重新提交", obj=case,
           exclude=actor)
    return case


@action
def record_service(actor, case: Case, *, visit_type: str, note: str) -> Case:
    if visit_type not in VisitType.values:
        raise ActionError("请选择服务方式（入户、电话或线上）。")
    return _step(actor, case, name="record_service", step="service", allowed=[S.IN_SERVICE], roles=WORKERS,
                 verb="记录服务", to=None, note=note, note_label="服务记录", visit_type=visit_type)


@action
def follow_up(actor, case: Case, *, note: str, visit_type: str = VisitType.PHONE) -> Case:
    if visit_type not in VisitType.values:
        raise ActionError("请选择回访方式。")
    if case.status == S.IN_SERVICE and not CaseEvent.objects.filter(case=case, step="service").exists():
        raise ActionError("还没有服务记录，不能进入回访。")
    return _step(actor, case, name="follow_up", step="follow_up", allowed=[S.IN_SERVICE, S.FOLLOW_UP], roles=WORKERS,
                 verb="回访", to=S.FOLLOW_UP, note=note, note_label="回访情况", visit_type=visit_type)


@action
def close_case(actor, case: Case, *, outcome: str, satisfaction: int | None = None, note: str = "") -> Case:
    """结案 with its outcome and the requester's satisfaction (1–5, or None: 未评价 when the
    requester could not be reached). After the transaction commits, the closed case is
    offered to the archives (``archive.capture_closed_case``)."""
    if satisfaction in (None, ""):
        satisfaction = None  # 未评价: counted nowhere, rather than as a made-up score
    else:
        try:
            satisfaction = int(satisfaction)
        except (TypeError, ValueError):
            satisfaction = 0
        if not 1 <= satisfaction <= 5:
            raise ActionError("满意度须为1到5分，或选择“未评价”。")
    outcome = clean_text(outcome, "结案结果", limit=200)
    case = _step(actor, case, name="close_case", step="close", allowed=[S.FOLLOW_UP], roles=("caseworker", "supervisor"),
                 verb="结案", to=S.CLOSED, note=note or outcome, note_label="结案说明", ends=True, outcome=outcome,
                 satisfaction=satisfaction, closed_at=timezone.now())
    _offer_to_archives(case)
    return case


def _offer_to_archives(case: Case) -> None:
    from .archive import capture_closed_case

    # robust: the archives must never cost the notifications and index drains queued after it
    transaction.on_commit(lambda: capture_closed_case(case), robust=True)


DISMISSED = "不予受理"
DISMISS_REASON_LIMIT = 200 - len(DISMISSED) - 1  # the outcome column holds "不予受理：<reason>"


@action
def dismiss(actor, case: Case, *, reason: str) -> Case:
    """不予受理: end a request that is no case for the unit (a prank call, advertising, a
    matter for no 群团 at all) before any service starts. The outcome reads
    "不予受理：<reason>", which is what the requester sees on the portal's tracking page;
    nobody outside is told. Intake staff dismiss an unassigned case; once assigned, its
    caseworker or supervisor."""
    case = _lock(actor, case)
    verb = DISMISSED
    _require_state(case, [S.RECEIVED, S.ASSIGNED], verb)
    if case.caseworker_id is not None:
        _require_role(actor, case, ("caseworker", "supervisor"), verb)
    elif not can(actor, CHANGE, case.unit):
        raise PermissionDenied("您没有处理该单位个案的权限。")
    _refuse_if_sent_away(case, verb)
    reason = clean_text(reason, "不予受理理由", limit=DISMISS_REASON_LIMIT)
    before = snapshot(case)
    now = timezone.now()
    if case.caseworker_id is None:
        # whoever dismisses an unassigned request answers for it: need-to-know shows intake
        # staff only the requests still waiting, so without an owner a dismissed case would
        # be seen by nobody again — not reviewed, not reopened
        case.caseworker = actor
    case.status, case.outcome, case.satisfaction, case.closed_at = S.CLOSED, f"{DISMISSED}：{reason}", None, now
    case.save()
    _event(actor, case, "dismiss", note=reason)
    _log(actor, "dismiss", case, before, {"step": "dismiss"})
    _offer_to_archives(case)
    return case


@action
def reopen(actor, case: Case, *, reason: str) -> Case:
    # a dismissed case never had a plan: it goes back to be assessed, not into service
    last = CaseEvent.objects.filter(case=case, step__in=["close", "dismiss"]).order_by("-at", "-id").first()
    to = S.ASSIGNED if last is not None and last.step == "dismiss" else S.IN_SERVICE
    c = _step(actor, case, name="reopen", step="reopen", allowed=[S.CLOSED], roles=("caseworker", "supervisor"),
              verb="重新开启", to=to, note=reason, note_label="重新开启理由", closed_at=None, outcome="",
              satisfaction=None)
    Case.objects.filter(pk=c.pk).update(reopen_count=c.reopen_count + 1)
    c.reopen_count += 1
    return c


@action
def add_member(actor, case: Case, *, user) -> CaseMember:
    case = _lock(actor, case)
    _require_state(case, OPEN, "增加成员")
    _require_role(actor, case, ("caseworker", "supervisor"), "增加个案成员")
    # write reach, as for the caseworker: a read-only account (a leader) added to the team
    # would see the step buttons and the served person but could neither act nor reveal
    if user is None or not user.is_business or not user.is_active or not can(user, CHANGE, case.unit):
        raise ActionError("该账户没有该单位的业务（办理）权限，不能加入个案。")
    if user.pk in (case.caseworker_id, case.supervisor_id) or CaseMember.objects.filter(case=case, user=user).exists():
        raise ActionError(f"{user}已在本案团队中。")
    m = CaseMember.objects.create(case=case, user=user, added_by=actor)
    _event(actor, case, "add_member", note=f"增加成员：{user}")
    _log(actor, "add_member", case, None, {"member": user.username})
    # nothing else would tell them a case is now theirs to work on (the tracking code and
    # type only, as for an assignment)
    notify([user], NoticeKind.ASSIGNED, f"您被增加为{case}（{case.request.type.name}）的个案成员", obj=case,
           exclude=actor)
    return m


@action
def remove_member(actor, case: Case, *, user) -> None:
    """移出成员: the person leaves the case's need-to-know (the case is a 404 for them from
    now on). Allowed on a closed case too: taking access away is always safe."""
    case = _lock(actor, case)
    _require_role(actor, case, ("caseworker", "supervisor"), "移出个案成员")
    if user is not None and user.pk in (case.caseworker_id, case.supervisor_id):
        raise ActionError("个案社工和督导不能移出；如需更换，请由督导改派。")
    m = CaseMember.objects.filter(case=case, user=user).first() if user is not None else None
    if m is None:
        raise ActionError("该账户不是本案成员。")
    m.delete()
    _event(actor, case, "remove_member", note=f"移出成员：{user}")
    _log(actor, "remove_member", case, None, {"member": user.username})


# --- transfer (转办) and referral (转介) ----------------------------------------------------------

def referral_area(unit):
    """The part of the tree a case at ``unit`` may be sent within: its county (the topmost
    ancestor at the county level — a county's organs are county-level too, and their 机关工会
    must reach the county's 总工会, not stay inside the organ), or, for a unit above county
    level, its own subtree (a city or province unit hands down to units under it)."""
    from qunli.orgs.models import LEVEL_ORDER, Level, Unit

    steplen = Unit.steplen
    prefixes = [unit.path[:i] for i in range(steplen, len(unit.path) + 1, steplen)]
    county = Unit.objects.filter(path__in=prefixes, level=Level.COUNTY).order_by("depth").first()
    if county is not None:
        return county
    if LEVEL_ORDER.get(unit.level, 0) < LEVEL_ORDER[Level.COUNTY]:
        return unit
    # a tree without a county level above this unit: its parent's subtree, as before
    return unit.get_parent() or unit


def referral_targets(case: Case):
    """Active line units of the case unit's county (``referral_area``), the case's own unit
    excepted: its own line's units above, beside and below it for 转办 (a township 妇联 hands
    up to the county 妇联), the other lines' for 转介 (the county 总工会)."""
    from qunli.orgs.models import Unit, UnitStatus

    area = referral_area(case.unit)
    return (Unit.objects.filter(path__startswith=area.path, line__isnull=False, status=UnitStatus.ACTIVE)
            .exclude(pk=case.unit_id).select_related("line"))


def _send(actor, case: Case, *, kind: str, to_unit, reason: str) -> Referral:
    verb = "转办" if kind == Referral.Kind.TRANSFER else "转介"
    case = _lock(actor, case)
    _require_state(case, OPEN, verb)
    if case.caseworker_id is not None:
        _require_role(actor, case, ("caseworker", "supervisor"), verb)
    reason = clean_text(reason, f"{verb}原因", limit=300)
    if to_unit is None or to_unit.pk == case.unit_id:
        raise ActionError("请选择另一个接收单位。")
    if not referral_targets(case).filter(pk=to_unit.pk).exists():
        raise ActionError("接收单位不在可转出的范围内。")
    same_line = to_unit.line_id == case.unit.line_id
    if kind == Referral.Kind.TRANSFER and not same_line:
        raise ActionError("转办只能在本条线内进行；转到其他条线请用“转介”。")
    if kind == Referral.Kind.REFERRAL and same_line:
        raise ActionError("转介是转到其他条线的单位；本条线内请用“转办”。")
    if Referral.objects.filter(case=case, status=Referral.Status.PENDING).exists():
        raise ActionError("该个案已有待接收的转办/转介。")
    decide_due = add_working_days(timezone.localdate(), case.request.type.acknowledge_days)
    r = Referral.objects.create(case=case, kind=kind, from_unit=case.unit, to_unit=to_unit, reason=reason,
                                created_by=actor, decide_due=decide_due)
    _event(actor, case, kind if kind == "transfer" else "refer",
           note=f"{verb}至{to_unit.name}：{reason}；接收时限{decide_due:%Y-%m-%d}")
    log_change(actor, f"casework.{'transfer' if kind == 'transfer' else 'refer'}", r, None, snapshot(r),
               unit_path=case.unit.path, obj_repr=f"{case} {verb}")
    notify(staff_of_unit(to_unit, to_unit.line_id), NoticeKind.REFERRAL_RECEIVED,
           f"{case.unit.name}{verb}来{case}，请于{decide_due:%Y-%m-%d}前接收或拒收", obj=case,
           url=reverse("casework:referral_inbox"),
           exclude=actor)
    return r


@action
def transfer(actor, case: Case, *, to_unit, reason: str) -> Referral:
    return _send(actor, case, kind=Referral.Kind.TRANSFER, to_unit=to_unit, reason=reason)


@action
def refer(actor, case: Case, *, to_unit, reason: str) -> Referral:
    return _send(actor, case, kind=Referral.Kind.REFERRAL, to_unit=to_unit, reason=reason)


def _decide(actor, referral: Referral, verb: str) -> tuple[Referral, Case]:
    referral = Referral.objects.select_for_update().select_related("to_unit", "from_unit").get(pk=referral.pk)
    if not can(actor, CHANGE, referral.to_unit):
        raise PermissionDenied("只有接收单位的工作人员可以处理该转办/转介。")
    if referral.status != Referral.Status.PENDING:
        raise ActionError(f"该转办/转介已{referral.get_status_display()[1:]}，不能再处理。")
    case = Case.objects.select_for_update().select_related("unit", "request", "request__type").get(pk=referral.case_id)
    # closing is refused while a referral is pending; this guards referrals left pending
    # before that rule (or written around it), which would otherwise reopen a closed case
    if not case.is_open:
        raise ActionError(f"个案已结案，不能再{verb}{referral.get_kind_display()}。")
    return referral, case


@action
def accept_referral(actor, referral: Referral) -> Case:
    """The receiving unit takes the case over: it moves to that unit, awaiting assignment;
    the sending team no longer sees it (need-to-know follows the case). The time limits
    start again from the acceptance, on the working-day calendar, as at intake: the
    receiver answers for its own handling, not for the days the case spent elsewhere (the
    old limits stay in the change log's before-image)."""
    referral, case = _decide(actor, referral, "接收")
    before = snapshot(case)
    now = timezone.now()
    referral.status, referral.decided_by, referral.decided_at = Referral.Status.ACCEPTED, actor, now
    referral.save()
    case.unit = referral.to_unit
    case.caseworker = case.supervisor = None
    case.status = S.RECEIVED
    case.acknowledged_at = None
    rtype = case.request.type
    case.acknowledge_due, case.resolve_due = time_limits(timezone.localdate(now), rtype.acknowledge_days,
                                                         rtype.resolve_days)
    case.save()
    CaseMember.objects.filter(case=case).delete()
    _event(actor, case, "accept_referral", note=f"{referral.to_unit.name}接收；受理时限{case.acknowledge_due:%Y-%m-%d}，"
                                                 f"办结时限{case.resolve_due:%Y-%m-%d}")
    _log(actor, "accept_referral", case, before, {"referral": referral.pk})
    # the sending side no longer sees the case: the notice carries no link
    notify([referral.created_by_id], NoticeKind.REFERRAL_ACCEPTED,
           f"{case}已由{referral.to_unit.name}接收（{referral.get_kind_display()}）", exclude=actor)
    return case


@action
def decline_referral(actor, referral: Referral, *, reason: str) -> Referral:
    referral, case = _decide(actor, referral, "拒收")
    reason = clean_text(reason, "拒收理由", limit=300)
    before = snapshot(referral)
    referral.status, referral.decided_by, referral.decided_at = Referral.Status.DECLINED, actor, timezone.now()
    referral.decline_reason = reason
    referral.save()
    _event(actor, case, "decline_referral", note=f"{referral.to_unit.name}拒收：{reason}")
    log_change(actor, "casework.decline_referral", referral, before, snapshot(referral), unit_path=case.unit.path,
               obj_repr=f"{case} 拒收")
    notify([referral.created_by_id, case.caseworker_id, case.supervisor_id], NoticeKind.REFERRAL_DECLINED,
           f"{referral.to_unit.name}拒收{case}的{referral.get_kind_display()}", obj=case, exclude=actor)
    return referral


@action
def withdraw_referral(actor, referral: Referral) -> Referral:
    """撤回 a pending 转办/转介 from the sending side: without it a case the receiver leaves
    undecided can be neither reassigned, closed nor sent elsewhere. The same people who may
    send it may take it back (the case team, or the unit's intake staff while unassigned).
    Allowed on a closed case too, to clear a referral left pending before closing was
    refused for it."""
    # the referral first, then the case: the order ``_decide`` locks them in
    referral = Referral.objects.select_for_update().select_related("to_unit").get(pk=referral.pk)
    kind = referral.get_kind_display()
    case = _lock(actor, referral.case)
    if case.caseworker_id is not None:
        _require_role(actor, case, ("caseworker", "supervisor"), f"撤回{kind}")
    elif not can(actor, CHANGE, case.unit):
        raise PermissionDenied(f"只有转出单位的工作人员可以撤回{kind}。")
    if referral.status != Referral.Status.PENDING:
        raise ActionError(f"该{kind}已{referral.get_status_display()[1:]}，不能撤回。")
    before = snapshot(referral)
    referral.status, referral.decided_by, referral.decided_at = Referral.Status.WITHDRAWN, actor, timezone.now()
    referral.save()
    _event(actor, case, "withdraw_referral", note=f"撤回{kind}（{referral.to_unit.name}）")
    log_change(actor, "casework.withdraw_referral", referral, before, snapshot(referral), unit_path=case.unit.path,
               obj_repr=f"{case} 撤回{kind}")
    # the receiving staff were told it arrived; they are told it is gone (the case is no
    # longer theirs to open: the notice carries no link)
    notify(staff_of_unit(referral.to_unit, referral.to_unit.line_id), NoticeKind.REFERRAL_WITHDRAWN,
           f"{case.unit.name}已撤回{kind}的{case}，无需再处理", exclude=actor)
    return referral


# --- sensitive data ------------------------------------------------------------------------------

CASE_SENSITIVE = {"requester_name": "诉求人姓名", "requester_phone": "联系电话", "description": "诉求内容",
                  "notes": "过程记录", "guardian_phone": "监护人电话"}

# What the case page shows, named as the auditor reads the access log. The team sees the
# served person in clear (a minor's guardian, school, risks): every open of it is a read of
# sensitive data, not only the explicit reveal.
CASE_PAGE_FIELDS = ["诉求人（脱敏）", "联系电话（脱敏）", "办理过程"]
SERVED_FIELDS = ["服务对象姓名", "服务对象类别", "监护人", "监护人电话（脱敏）", "学校或工作单位", "风险标记", "知情同意"]
SERVED_MASKED_FIELDS = ["服务对象姓名（脱敏）", "监护人（脱敏）"]
CASE_API_FIELDS = ["诉求人（脱敏）", "联系电话（脱敏）", "服务对象编号", "结案结果"]


def case_page_fields(case: Case, in_team: bool) -> list[str]:
    if case.served_person_id is None:
        return list(CASE_PAGE_FIELDS)
    return CASE_PAGE_FIELDS + (SERVED_FIELDS if in_team else SERVED_MASKED_FIELDS)


def log_case_view(actor, case: Case, fields: list[str], purpose: str = "办理个案") -> None:
    """An access-log row for opening a case (its page, a form pre-filled with the served
    person's data, the API's detail). The caller has already applied need-to-know."""
    log_access(actor, case, fields, purpose)


def may_reveal(actor, case: Case) -> str:
    """Who may unmask the case's text, and how much: "team" (all of it: the case team),
    "request" (the description only: the unit's intake staff while nobody is assigned — they
    decide 分派, 不予受理, 转办 or 转介 on it — and the receiving unit's staff while a
    转办/转介 is pending — they decide 接收 or 拒收 on it), or "" (nobody else)."""
    if not visible(actor, case, CHANGE):
        return ""
    if case.in_team(actor):
        return "team"
    if case.is_open and case.caseworker_id is None and can(actor, CHANGE, case.unit):
        return "request"
    pending = Referral.objects.filter(case=case, status=Referral.Status.PENDING).select_related("to_unit").first()
    if pending is not None and can(actor, CHANGE, pending.to_unit):
        return "request"
    return ""


def reveal_case(actor, case: Case, purpose: str = "") -> dict:
    """Plaintext of the case's sensitive text, access-logged first: everything for its team
    (write reach); the request's description alone for intake staff and a pending referral's
    receivers (``may_reveal``), who decide on the request but do not handle it."""
    reach = may_reveal(actor, case)
    if not reach:
        raise PermissionDenied("只有本案团队成员，或分派前的受理人员、待接收转办/转介的接收单位人员，可以查看诉求内容。")
    req = case.request
    if reach == "request":
        log_access(actor, case, [CASE_SENSITIVE["description"]], purpose or "决定受理、分派或接收")
        return {"description": crypto.decrypt(req.description_enc), "request_only": True}
    log_access(actor, case, list(CASE_SENSITIVE.values()), purpose or "办理个案")
    served = case.served_person
    return {
        "requester_name": crypto.decrypt(req.requester_name_enc),
        "requester_phone": crypto.decrypt(req.requester_phone_enc),
        "description": crypto.decrypt(req.description_enc),
        "guardian_phone": crypto.decrypt(served.guardian_phone_enc) if served else "",
        "notes": {e.pk: e.reveal_note() for e in case.events.all() if e.note_enc},
    }


# --- calendar and request types (system administrator) -------------------------------------------

@action
def set_holiday(actor, *, date: dt.date, is_workday: bool, name: str = "") -> Holiday:
    require_kind(actor, User.Kind.SYSADMIN)
    h = Holiday.objects.filter(date=date).first()
    before = snapshot(h) if h else None
    h = h or Holiday(date=date)
    h.is_workday, h.name = bool(is_workday), (name or "").strip()[:30]
    h.save()
    log_change(actor, "casework.set_holiday", h, before, snapshot(h))
    return h


@action
def delete_holiday(actor, holiday: Holiday) -> None:
    require_kind(actor, User.Kind.SYSADMIN)
    log_change(actor, "casework.delete_holiday", holiday, snapshot(holiday), None)
    holiday.delete()


@action
def seed_holidays(actor) -> int:
    """Add the days the chinese-calendar package knows and the table lacks (edits kept)."""
    require_kind(actor, User.Kind.SYSADMIN)
    have = set(Holiday.objects.values_list("date", flat=True))
    new = [Holiday(date=d, is_workday=w, name=n) for d, w, n in package_rows() if d not in have]
    Holiday.objects.bulk_create(new)
    log_change(actor, "casework.seed_holidays", "casework.holiday", None, {"added": len(new)},
               obj_type="casework.holiday", obj_id="", obj_repr="节假日")
    return len(new)


@action
def save_request_type(actor, *, code: str, name: str, line=None, acknowledge_days: int = 1, resolve_days: int = 15,
                      is_active: bool = True) -> RequestType:
    require_kind(actor, User.Kind.SYSADMIN)
    if acknowledge_days > resolve_days:
        raise ActionError("受理时限不能长于办结时限。")
    t = RequestType.objects.filter(code=code).first()
    before = snapshot(t) if t else None
    t = t or RequestType(code=code)
    t.name, t.line, t.acknowledge_days, t.resolve_days, t.is_active = name, line, acknowledge_days, resolve_days, is_active
    t.save()
    log_change(actor, "casework.save_request_type", t, before, snapshot(t))
    return t
