"""Casework API: cases (need-to-know), their timeline, and the lifecycle verbs — through the
same actions and the same ``Case.objects.visible_to`` as the pages. A case outside
need-to-know is a 404 like a missing id, even for a colleague with a grant on its unit. The
requester's name and phone are masked here, always; the timeline shows whether a step has a
note, never the note (plaintext only through the case page's reveal, access-logged).

Referrals (转办/转介) follow their case's need-to-know (``Referral.objects.visible_to``): the
sending team and, while one is pending, the receiving unit's staff (who accept or decline it;
the sending side may withdraw it). Wishes (微心愿) and
practical projects (我为群众办实事) are unit-grant scoped like their pages; a wish shows the
person served by the masked name only and the donor's phone by its mask (plaintext only
through the page's access-logged reveal)."""

import datetime as dt
from decimal import Decimal
from typing import Literal

from django.db.models import Q
from ninja import Field, File, Form, Query, Router, Schema, Status, UploadedFile
from ninja.pagination import paginate

from qunli.core.actions import ActionError
from qunli.core.api import (
    Id,
    Pagination,
    business_auth,
    choice,
    get_referenced,
    get_visible,
    patch_fields,
    under_unit,
)
from qunli.core.models import User
from qunli.core.scoping import CHANGE, can
from qunli.orgs.models import Unit
from qunli.people.models import Person

from . import actions, queries
from . import wish_actions as wishes
from .models import (
    Case,
    CaseEvent,
    CaseMember,
    Channel,
    PracticalProject,
    Referral,
    RequestType,
    VisitType,
    Wish,
    WishCategory,
)

router = Router(tags=["casework"], auth=business_auth)


class CaseOut(Schema):
    """The requester's name and phone are masked (已脱敏)."""

    id: int
    tracking_code: str = Field(..., alias="request.tracking_code")
    type: str = Field(..., alias="request.type.code")
    type_name: str = Field(..., alias="request.type.name")
    channel: str = Field(..., alias="request.channel")
    requester: str = Field(..., alias="request.requester_name_mask", description="已脱敏")
    requester_phone: str = Field(..., alias="request.requester_phone_mask", description="已脱敏")
    status: str
    status_display: str = Field(..., alias="get_status_display")
    unit_id: int
    unit_name: str = Field(..., alias="unit.name")
    caseworker_id: int | None
    supervisor_id: int | None
    served_person_id: int | None
    received_at: dt.datetime = Field(..., alias="request.received_at")
    acknowledge_due: dt.date
    resolve_due: dt.date
    overdue: bool = Field(..., alias="is_overdue")
    closed_at: dt.datetime | None
    outcome: str
    satisfaction: int | None


class CaseIn(Schema):
    unit_id: int = Field(..., description="受理单位编号")
    type: str = Field(..., description="诉求类型代码，如 domestic_violence")
    channel: choice(Channel)
    requester_name: str = Field(..., min_length=1, max_length=50)
    requester_phone: str = Field("", max_length=20)
    description: str = Field(..., min_length=1, max_length=5000)


class CaseFilters(Schema):
    status: choice(Case.Status) | None = None
    role: Literal["caseworker", "supervisor", "member"] | None = Field(None, description="我在本案中的角色")
    due: Literal["overdue", "soon"] | None = Field(None, description="超期 / 三个工作日内到期")
    q: str | None = Field(None, description="查询码，或诉求人完整手机号")


class AssignIn(Schema):
    caseworker_id: int
    supervisor_id: int


class StepIn(Schema):
    step: Literal["assess", "submit_plan", "approve_plan", "return_plan", "service", "follow_up"]
    note: str = Field("", max_length=5000)
    visit_type: VisitType | None = Field(None, description="service / follow_up：home、phone、online")


class CloseIn(Schema):
    outcome: str = Field(..., min_length=1, max_length=200)
    satisfaction: int | None = Field(None, ge=1, le=5, description="1–5；不填或 null：未评价（无法联系诉求人）")
    note: str = Field("", max_length=5000)


class DismissIn(Schema):
    reason: str = Field(..., min_length=1, max_length=195, description="不予受理理由（诉求人在网上群团查询进度时可见）")


class MemberIn(Schema):
    user_id: Id = Field(..., description="要加入本案团队的账户编号")


class MemberOut(Schema):
    user_id: int
    name: str
    added_by_id: int
    added_at: dt.datetime

    @staticmethod
    def resolve_name(obj) -> str:
        return str(obj.user)


class EventOut(Schema):
    id: int
    step: str
    step_label: str
    actor_id: int | None
    at: dt.datetime
    visit_type: str
    has_note: bool


def _cases(user, action: str = "view"):
    return Case.objects.visible_to(user, action).select_related("request", "request__type", "unit")


def _staff(case: Case, pk: int, label: str) -> User:
    """A caseworker or supervisor named by id: refused alike whether the id is missing or the
    account cannot act on the case's unit (no name is echoed back)."""
    user = User.objects.filter(pk=pk, is_active=True, kind=User.Kind.BUSINESS).first()
    if user is None or not can(user, CHANGE, case.unit):
        raise ActionError(f"所选{label}（编号 {pk}）不存在或没有该单位的业务权限。")
    return user


@router.get("/cases", response=list[CaseOut], summary="个案列表（需知范围内；诉求人信息脱敏）")
@paginate(Pagination)
def list_cases(request, filters: Query[CaseFilters]):
    me = request.auth
    qs = _cases(me)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.role == "caseworker":
        qs = qs.filter(caseworker=me)
    elif filters.role == "supervisor":
        qs = qs.filter(supervisor=me)
    elif filters.role == "member":
        qs = qs.filter(pk__in=CaseMember.objects.filter(user=me).values("case_id"))
    if filters.due == "overdue":
        qs = qs.filter(queries.overdue_q())
    elif filters.due == "soon":
        qs = qs.filter(queries.due_soon_q())
    if filters.q:
        qs = queries.search_cases(qs, filters.q)
    return qs.order_by("-pk")


@router.get("/cases/{int:case_id}", response=CaseOut, summary="个案详情（诉求人信息脱敏）")
def get_case(request, case_id: int):
    case = get_visible(_cases(request.auth), request.auth, case_id)
    # as the case page: every open of a case is access-logged, not only the reveal
    actions.log_case_view(request.auth, case, actions.CASE_API_FIELDS, "办理个案（接口）")
    return case


@router.post("/cases", response={201: CaseOut}, summary="受理诉求（登记个案）")
def create_case(request, payload: CaseIn):
    unit = get_referenced(Unit, request.auth, payload.unit_id, "受理单位")
    rtype = RequestType.objects.filter(code=payload.type).first()
    if rtype is None:
        raise ActionError(f"诉求类型“{payload.type}”不存在。")
    case = actions.receive_request(request.auth, unit=unit, type=rtype, channel=payload.channel,
                                   requester_name=payload.requester_name, requester_phone=payload.requester_phone,
                                   description=payload.description)
    return Status(201, get_visible(_cases(request.auth), request.auth, case.pk))


@router.post("/cases/{int:case_id}/assign", response=CaseOut, summary="分派（或督导改派）")
def assign(request, case_id: int, payload: AssignIn):
    case = get_visible(_cases(request.auth, CHANGE), request.auth, case_id, CHANGE)
    actions.assign_case(request.auth, case, caseworker=_staff(case, payload.caseworker_id, "个案社工"),
                        supervisor=_staff(case, payload.supervisor_id, "督导"))
    # intake staff leave the case's need-to-know once it is assigned: they get the answer to
    # their own action (masked, as always), and 404 from then on
    return Case.objects.select_related("request", "request__type", "unit").get(pk=case.pk)


@router.post("/cases/{int:case_id}/steps", response=CaseOut, summary="办理环节：评估、服务计划、审批、服务记录、回访")
def add_step(request, case_id: int, payload: StepIn):
    me = request.auth
    case = get_visible(_cases(me, CHANGE), me, case_id, CHANGE)
    if payload.step == "assess":
        actions.assess(me, case, note=payload.note)
    elif payload.step == "submit_plan":
        actions.submit_plan(me, case, note=payload.note)
    elif payload.step in ("approve_plan", "return_plan"):
        actions.approve_plan(me, case, approve=payload.step == "approve_plan", note=payload.note)
    elif payload.step == "service":
        actions.record_service(me, case, visit_type=payload.visit_type or "", note=payload.note)
    else:
        actions.follow_up(me, case, note=payload.note, visit_type=payload.visit_type or VisitType.PHONE)
    return get_visible(_cases(me), me, case.pk)


@router.post("/cases/{int:case_id}/close", response=CaseOut, summary="结案")
def close(request, case_id: int, payload: CloseIn):
    me = request.auth
    case = get_visible(_cases(me, CHANGE), me, case_id, CHANGE)
    actions.close_case(me, case, outcome=payload.outcome, satisfaction=payload.satisfaction, note=payload.note)
    return get_visible(_cases(me), me, case.pk)


def _answer(case: Case) -> Case:
    """The answer to the actor's own step, even when the step took the case out of their
    need-to-know (intake staff dismissing an unassigned case): masked, as always."""
    return Case.objects.select_related("request", "request__type", "unit").get(pk=case.pk)


@router.post("/cases/{int:case_id}/dismiss", response=CaseOut, summary="不予受理（仅受理、分派阶段；须填写理由）")
def dismiss(request, case_id: int, payload: DismissIn):
    me = request.auth
    case = get_visible(_cases(me, CHANGE), me, case_id, CHANGE)
    actions.dismiss(me, case, reason=payload.reason)
    return _answer(case)


@router.get("/cases/{int:case_id}/members", response=list[MemberOut], summary="个案成员（个案社工、督导以外）")
def list_members(request, case_id: int):
    case = get_visible(_cases(request.auth), request.auth, case_id)
    return list(CaseMember.objects.filter(case=case).select_related("user").order_by("added_at", "pk"))


@router.post("/cases/{int:case_id}/members", response={201: list[MemberOut]}, summary="增加个案成员")
def add_member(request, case_id: int, payload: MemberIn):
    me = request.auth
    case = get_visible(_cases(me, CHANGE), me, case_id, CHANGE)
    # an id that is no business account is refused like one without a grant: no oracle
    user = User.objects.filter(pk=payload.user_id, is_active=True, kind=User.Kind.BUSINESS).first()
    actions.add_member(me, case, user=user)
    return Status(201, list(CaseMember.objects.filter(case=case).select_related("user").order_by("added_at", "pk")))


@router.delete("/cases/{int:case_id}/members/{int:user_id}", response={204: None},
              summary="移出个案成员（个案社工、督导不能移出）")
def remove_member(request, case_id: int, user_id: int):
    me = request.auth
    case = get_visible(_cases(me, CHANGE), me, case_id, CHANGE)
    # the action answers alike for any account that is not a member (no oracle for ids)
    actions.remove_member(me, case, user=User.objects.filter(pk=user_id).first())
    return Status(204, None)


@router.get("/cases/{int:case_id}/events", response=list[EventOut], summary="个案办理过程（不含记录内容）",
            url_name="list_case_events")
def list_events(request, case_id: int):
    case = get_visible(_cases(request.auth), request.auth, case_id)
    return list(CaseEvent.objects.filter(case=case).filter(~Q(step="")).order_by("at", "pk"))


# --- referrals (转办 / 转介): the case's need-to-know ------------------------------------------------

class ReferralOut(Schema):
    id: int
    case_id: int
    tracking_code: str = Field(..., alias="case.request.tracking_code")
    kind: Referral.Kind
    kind_display: str = Field(..., alias="get_kind_display")
    from_unit_id: int
    from_unit_name: str = Field(..., alias="from_unit.name")
    to_unit_id: int
    to_unit_name: str = Field(..., alias="to_unit.name")
    reason: str
    status: choice(Referral.Status)
    status_display: str = Field(..., alias="get_status_display")
    created_by_id: int
    created_at: dt.datetime
    decided_by_id: int | None
    decided_at: dt.datetime | None
    decline_reason: str
    decide_due: dt.date | None = Field(None, description="接收时限：接收单位须在此日前接收或拒收")


class ReferralFilters(Schema):
    status: choice(Referral.Status) | None = None
    kind: Referral.Kind | None = None
    unit: Id | None = Field(None, description="转出或接收单位编号（含其下级）")
    inbox: bool = Field(False, description="只看待本人所在单位接收或拒收的（收件箱）")


class ReferralIn(Schema):
    kind: Referral.Kind = Field(..., description="transfer：转办（本条线内）；referral：转介（其他条线）")
    to_unit_id: int = Field(..., description="接收单位编号（本县其他条线单位或本条线单位）")
    reason: str = Field(..., min_length=1, max_length=300)


class DeclineIn(Schema):
    reason: str = Field(..., min_length=1, max_length=300, description="拒收理由")


def _referrals(user, action: str = "view"):
    return Referral.objects.visible_to(user, action).select_related("case__request", "from_unit", "to_unit")


def _referral_answer(pk: int) -> Referral:
    """The answer to the actor's own decision: after accepting, the sending side's view of
    the referral is gone for them, but the actor gets what they just did."""
    return Referral.objects.select_related("case__request", "from_unit", "to_unit").get(pk=pk)


@router.get("/referrals", response=list[ReferralOut], summary="转办/转介列表（随个案需知范围）")
@paginate(Pagination)
def list_referrals(request, filters: Query[ReferralFilters]):
    me = request.auth
    qs = queries.referral_inbox(me) if filters.inbox else _referrals(me)
    qs = under_unit(qs, filters.unit, "from_unit", "to_unit")
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    return qs.select_related("case__request").order_by("-pk")


@router.get("/referrals/{int:referral_id}", response=ReferralOut, summary="转办/转介详情")
def get_referral(request, referral_id: int):
    return get_visible(_referrals(request.auth), request.auth, referral_id)


@router.post("/cases/{int:case_id}/referrals", response={201: ReferralOut}, summary="转办或转介个案")
def create_referral(request, case_id: int, payload: ReferralIn):
    me = request.auth
    case = get_visible(_cases(me, CHANGE), me, case_id, CHANGE)
    # the receiving unit may be another line's, outside the sender's own grant: it is named
    # from the units the case may go to, and anything else is refused alike
    to_unit = actions.referral_targets(case).filter(pk=payload.to_unit_id).first()
    if to_unit is None:
        raise ActionError(f"接收单位（编号 {payload.to_unit_id}）不在可转出的范围内。")
    verb = actions.transfer if payload.kind == Referral.Kind.TRANSFER else actions.refer
    r = verb(me, case, to_unit=to_unit, reason=payload.reason)
    return Status(201, _referral_answer(r.pk))


@router.post("/referrals/{int:referral_id}/accept", response=ReferralOut, summary="接收转办/转介（个案移交本单位待分派）")
def accept_referral(request, referral_id: int):
    me = request.auth
    r = get_visible(_referrals(me), me, referral_id)  # the action refuses anyone but the receiver
    actions.accept_referral(me, r)
    return _referral_answer(r.pk)


@router.post("/referrals/{int:referral_id}/withdraw", response=ReferralOut, summary="撤回待接收的转办/转介（转出方）")
def withdraw_referral(request, referral_id: int):
    me = request.auth
    r = get_visible(_referrals(me, CHANGE), me, referral_id, CHANGE)  # the action refuses the receiving side
    actions.withdraw_referral(me, r)
    return _referral_answer(r.pk)


@router.post("/referrals/{int:referral_id}/decline", response=ReferralOut, summary="拒收转办/转介（须填写理由）")
def decline_referral(request, referral_id: int, payload: DeclineIn):
    me = request.auth
    r = get_visible(_referrals(me), me, referral_id)  # the action refuses anyone but the receiver
    actions.decline_referral(me, r, reason=payload.reason)
    return _referral_answer(r.pk)


# --- wishes (微心愿): unit-grant scoped ----------------------------------------------------------------

class WishOut(Schema):
    """The person served by the masked name only; the donor's phone by its mask."""

    id: int
    unit_id: int
    unit_name: str = Field(..., alias="unit.name")
    served: str = Field(..., alias="served_name_mask", description="服务对象（已脱敏）")
    category: WishCategory
    category_display: str = Field(..., alias="get_category_display")
    text: str
    amount: Decimal = Field(..., description="预计金额（元）")
    status: choice(Wish.Status)
    status_display: str = Field(..., alias="get_status_display")
    reject_reason: str
    public_name: str = Field(..., description="心愿墙上的称呼（发布时确定）")
    age_range: str
    donor_name: str
    donor_org: str
    donor_phone: str = Field(..., alias="donor_phone_mask", description="认领人电话（已脱敏）")
    has_photo: bool = Field(..., description="是否已上传圆梦照片")
    created_at: dt.datetime
    reviewed_at: dt.datetime | None
    published_at: dt.datetime | None
    claimed_at: dt.datetime | None
    fulfilled_at: dt.datetime | None
    fulfilled_amount: Decimal | None = Field(None, description="实际金额（元）；未填写则统计按预计金额")
    fulfil_note: str = Field("", description="圆梦说明")

    @staticmethod
    def resolve_has_photo(obj) -> bool:
        return bool(obj.photo_name)


class WishFilters(Schema):
    status: choice(Wish.Status) | None = None
    category: WishCategory | None = None
    unit: Id | None = Field(None, description="负责单位编号（含其下级）")


class WishIn(Schema):
    unit_id: int = Field(..., description="负责单位编号")
    person_id: int = Field(..., description="服务对象的人员编号（一人一档）")
    category: WishCategory
    text: str = Field(..., min_length=1, max_length=200, description="心愿内容（将公开，请勿填写可识别个人的信息）")
    amount: Decimal = Field(..., description="预计金额（元），大于0且不超过100000")


class WishPatch(Schema):
    category: WishCategory | None = None
    text: str | None = Field(None, min_length=1, max_length=200, description="心愿内容（将公开，请勿填写可识别个人的信息）")
    amount: Decimal | None = Field(None, description="预计金额（元），大于0且不超过100000")


class ReasonIn(Schema):
    reason: str = Field(..., min_length=1, max_length=200)


class ClaimIn(Schema):
    name: str = Field(..., min_length=1, max_length=50, description="认领人姓名")
    phone: str = Field(..., description="认领人联系电话（加密保存）")
    org: str = Field("", max_length=100, description="单位或组织")


def _wishes(user):
    return Wish.objects.visible_to(user).select_related("unit")


@router.get("/wishes", response=list[WishOut], summary="微心愿列表（服务对象脱敏）")
@paginate(Pagination)
def list_wishes(request, filters: Query[WishFilters]):
    qs = under_unit(_wishes(request.auth), filters.unit)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.category:
        qs = qs.filter(category=filters.category)
    return qs.order_by("-pk")


@router.get("/wishes/{int:wish_id}", response=WishOut, summary="微心愿详情（服务对象脱敏）")
def get_wish(request, wish_id: int):
    return get_visible(_wishes(request.auth), request.auth, wish_id)


@router.post("/wishes", response={201: WishOut}, summary="登记微心愿（待审核）")
def create_wish(request, payload: WishIn):
    me = request.auth
    unit = get_referenced(Unit, me, payload.unit_id, "负责单位")
    person = get_referenced(Person, me, payload.person_id, "服务对象")
    w = wishes.collect_wish(me, served=person, unit=unit, category=payload.category, text=payload.text,
                            amount=payload.amount)
    return Status(201, get_visible(_wishes(me), me, w.pk))


def _wish_verb(request, wish_id: int, verb, **kwargs):
    me = request.auth
    w = get_visible(_wishes(me), me, wish_id, CHANGE)
    verb(me, w, **kwargs)
    return get_visible(_wishes(me), me, w.pk)


@router.patch("/wishes/{int:wish_id}", response=WishOut, summary="修改未发布的微心愿（回到待审核）")
def edit_wish(request, wish_id: int, payload: WishPatch):
    return _wish_verb(request, wish_id, wishes.edit_wish, **patch_fields(payload, Wish))


@router.post("/wishes/{int:wish_id}/approve", response=WishOut,
             summary="审核通过微心愿（待审核 → 已审核待发布；须由登记人、修改人以外的工作人员审核）")
def approve_wish(request, wish_id: int):
    return _wish_verb(request, wish_id, wishes.approve_wish)


@router.post("/wishes/{int:wish_id}/reject", response=WishOut, summary="审核不通过微心愿（须填写原因）")
def reject_wish(request, wish_id: int, payload: ReasonIn):
    return _wish_verb(request, wish_id, wishes.reject_wish, reason=payload.reason)


@router.post("/wishes/{int:wish_id}/publish", response=WishOut, summary="发布微心愿到网上心愿墙")
def publish_wish(request, wish_id: int):
    return _wish_verb(request, wish_id, wishes.publish_wish)


@router.post("/wishes/{int:wish_id}/unpublish", response=WishOut, summary="从心愿墙撤回（未被认领的）微心愿")
def unpublish_wish(request, wish_id: int):
    return _wish_verb(request, wish_id, wishes.unpublish_wish)


@router.post("/wishes/{int:wish_id}/claim", response=WishOut, summary="登记认领（电话、来访或结对认领；已发布 → 已认领）")
def record_claim(request, wish_id: int, payload: ClaimIn):
    return _wish_verb(request, wish_id, wishes.record_claim, name=payload.name, phone=payload.phone, org=payload.org)


@router.post("/wishes/{int:wish_id}/cancel-claim", response=WishOut, summary="取消认领（须填写原因；心愿重回心愿墙）")
def cancel_claim(request, wish_id: int, payload: ReasonIn):
    return _wish_verb(request, wish_id, wishes.cancel_claim, reason=payload.reason)


class FulfilIn(Schema):
    amount: Decimal | None = Field(None, description="实际金额（元，可选）")
    note: str = Field("", max_length=200, description="圆梦说明（可选）")


@router.post("/wishes/{int:wish_id}/fulfil", response=WishOut, summary="确认圆梦（上传圆梦照片）",
             description="multipart/form-data，字段 photo：JPG 或 PNG，不超过 5 MB；可选 amount（实际金额）、note（圆梦说明）。")
def fulfil_wish(request, wish_id: int, photo: File[UploadedFile], payload: Form[FulfilIn] = None):
    payload = payload or FulfilIn()
    return _wish_verb(request, wish_id, wishes.fulfil_wish, photo=photo, amount=payload.amount, note=payload.note)


# --- practical projects (我为群众办实事): unit-grant scoped ----------------------------------------------

class ProjectOut(Schema):
    id: int
    title: str
    description: str
    unit_id: int
    unit_name: str = Field(..., alias="unit.name")
    deadline: dt.date
    status: choice(PracticalProject.Status)
    status_display: str = Field(..., alias="get_status_display")
    overdue: bool = Field(..., description="已逾期：过了完成时限且未完成")
    result: str
    is_published: bool
    published_at: dt.datetime | None
    completed_at: dt.datetime | None
    created_at: dt.datetime


class ProjectFilters(Schema):
    status: choice(PracticalProject.Status) | None = None
    unit: Id | None = Field(None, description="责任单位编号（含其下级）")
    overdue: bool | None = Field(None, description="true 只看已逾期；false 只看未逾期")
    is_published: bool | None = Field(None, description="是否已向公众公开")
    q: str | None = Field(None, max_length=100, description="项目名称（包含）")


class ProjectIn(Schema):
    unit_id: int = Field(..., description="责任单位编号")
    title: str = Field(..., min_length=1, max_length=100)
    description: str = Field(..., min_length=1, max_length=2000, description="项目内容（公开后向公众展示）")
    deadline: dt.date = Field(..., description="完成时限（不早于今天）")


class ProjectStatusIn(Schema):
    status: Literal["planned", "in_progress", "delayed"] = Field(
        ..., description="planned 计划；in_progress 推进中；delayed 已延期（完成请用 /complete）")
    deadline: dt.date | None = Field(None, description="新的完成时限（延期时必填，须晚于原完成时限和今天）")
    reason: str = Field("", max_length=200, description="原因（延期时说明；记入修改记录）")


class ProjectPatch(Schema):
    unit_id: Id | None = Field(None, description="责任单位编号")
    title: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, min_length=1, max_length=2000, description="项目内容（公开后向公众展示）")
    deadline: dt.date | None = Field(None, description="完成时限（不早于今天；已开始推进的项目推迟请用 /status 延期）")


class ProjectCompleteIn(Schema):
    result: str = Field(..., min_length=1, max_length=2000, description="完成情况（公开后向公众展示）")


class PublishIn(Schema):
    publish: bool = Field(True, description="true 公开；false 撤回公开")


def _projects(user):
    return queries.with_overdue(PracticalProject.objects.visible_to(user).select_related("unit"))


@router.get("/projects", response=list[ProjectOut], summary="办实事项目列表")
@paginate(Pagination)
def list_projects(request, filters: Query[ProjectFilters]):
    qs = under_unit(_projects(request.auth), filters.unit)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.overdue is not None:
        qs = qs.filter(overdue=filters.overdue)
    if filters.is_published is not None:
        qs = qs.filter(is_published=filters.is_published)
    if filters.q and filters.q.strip():
        qs = qs.filter(title__icontains=filters.q.strip())
    return qs.order_by("deadline", "pk")


@router.get("/projects/{int:project_id}", response=ProjectOut, summary="办实事项目详情")
def get_project(request, project_id: int):
    return get_visible(_projects(request.auth), request.auth, project_id)


@router.post("/projects", response={201: ProjectOut}, summary="新建办实事项目（尚未公开）")
def create_project(request, payload: ProjectIn):
    me = request.auth
    unit = get_referenced(Unit, me, payload.unit_id, "责任单位")
    p = wishes.create_project(me, unit=unit, title=payload.title, description=payload.description,
                              deadline=payload.deadline)
    return Status(201, get_visible(_projects(me), me, p.pk))


@router.post("/projects/{int:project_id}/status", response=ProjectOut, summary="更新办实事项目状态（计划/推进中/已延期）")
def set_project_status(request, project_id: int, payload: ProjectStatusIn):
    me = request.auth
    p = get_visible(_projects(me), me, project_id, CHANGE)
    wishes.set_project_status(me, p, status=payload.status, deadline=payload.deadline, reason=payload.reason)
    return get_visible(_projects(me), me, p.pk)


@router.patch("/projects/{int:project_id}", response=ProjectOut, summary="编辑办实事项目")
def edit_project(request, project_id: int, payload: ProjectPatch):
    me = request.auth
    p = get_visible(_projects(me), me, project_id, CHANGE)
    data = patch_fields(payload, PracticalProject)
    if data.get("unit_id") is not None:
        data["unit"] = get_referenced(Unit, me, data["unit_id"], "责任单位")
    data.pop("unit_id", None)
    wishes.edit_project(me, p, **data)
    return get_visible(_projects(me), me, p.pk)


@router.post("/projects/{int:project_id}/complete", response=ProjectOut, summary="完成办实事项目（填写完成情况）")
def complete_project(request, project_id: int, payload: ProjectCompleteIn):
    me = request.auth
    p = get_visible(_projects(me), me, project_id, CHANGE)
    wishes.complete_project(me, p, result=payload.result)
    return get_visible(_projects(me), me, p.pk)


@router.post("/projects/{int:project_id}/publish", response=ProjectOut, summary="公开或撤回公开办实事项目")
def publish_project(request, project_id: int, payload: PublishIn):
    me = request.auth
    p = get_visible(_projects(me), me, project_id, CHANGE)
    wishes.publish_project(me, p, publish=payload.publish)
    return get_visible(_projects(me), me, p.pk)
