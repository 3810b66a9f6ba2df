"""Casework API: cases (need-to-know), their timeline, and the lifecycle verbs — through the
same actions and the same ``Case.objects.visible_to`` as the pages. A case outside
need-to-know is a 404 like a missing id, even for a colleague with a grant on its unit. The
requester's name and phone are masked here, always; the timeline shows whether a step has a
note, never the note (plaintext only through the case page's reveal, access-logged)."""

import datetime as dt
from typing import Literal

from django.db.models import Q
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from qunli.core.actions import ActionError
from qunli.core.api import Pagination, business_auth, get_referenced, get_visible
from qunli.core.models import User
from qunli.core.scoping import CHANGE, can
from qunli.orgs.models import Unit

from . import actions, queries
from .models import Case, CaseEvent, CaseMember, Channel, RequestType, VisitType

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
    channel: Channel
    requester_name: str = Field(..., min_length=1, max_length=50)
    requester_phone: str = Field("", max_length=20)
    description: str = Field(..., min_length=1, max_length=5000)


class CaseFilters(Schema):
    status: Case.Status | None = None
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
    satisfaction: int = Field(..., ge=1, le=5)
    note: str = Field("", max_length=5000)


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
    return get_visible(_cases(request.auth), request.auth, case_id)


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


@router.get("/cases/{int:case_id}/events", response=list[EventOut], summary="个案办理过程（不含记录内容）",
            url_name="list_case_events")
def list_events(request, case_id: int):
    case = get_visible(_cases(request.auth), request.auth, case_id)
    return list(CaseEvent.objects.filter(case=case).filter(~Q(step="")).order_by("at", "pk"))
