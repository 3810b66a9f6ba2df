"""Organization API: lines, units (the tree), leadership teams, base conditions, venues.

Reads go through ``visible_to``; writes call ``orgs.actions``; an object outside the grant
is a 404. See docs/API.md."""

import datetime as dt
from decimal import Decimal

from django.db.models import OuterRef, Q, Subquery
from django.db.models.functions import Length, Substr
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from qunli.core.actions import ActionError
from qunli.core.api import Id, Pagination, business_auth, get_referenced, get_visible, patch_fields
from qunli.core.scoping import CHANGE, can
from qunli.people.models import Person

from . import actions
from .models import (
    BaseCondition,
    Checklist,
    Level,
    Line,
    Position,
    Unit,
    UnitKind,
    UnitStatus,
    Venue,
    VenueKind,
)

router = Router(tags=["orgs"], auth=business_auth)


# --- schemas -------------------------------------------------------------------------------

class LineOut(Schema):
    id: int
    code: str
    name: str
    chair_title: str
    is_party_office: bool
    order: int
    is_active: bool


class UnitOut(Schema):
    id: int
    name: str
    short_name: str
    level: str
    level_display: str = Field(..., alias="get_level_display")
    line_id: int | None
    line_name: str | None = Field(None, alias="line.name")
    kind: str
    division_code: str
    uscc: str
    address: str
    status: str
    status_display: str = Field(..., alias="get_status_display")
    successor_id: int | None
    established_on: dt.date | None
    depth: int
    parent_id: int | None = Field(None, description="上级单位编号；上级不在您的数据范围内时为空")


class UnitIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    short_name: str = Field("", max_length=40)
    level: Level
    line_id: Id | None = None
    kind: UnitKind = UnitKind.GEOGRAPHIC
    division_code: str = ""
    uscc: str = ""
    address: str = Field("", max_length=200)
    established_on: dt.date | None = None


class UnitPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    short_name: str | None = Field(None, max_length=40)
    level: Level | None = None
    line_id: Id | None = None
    kind: UnitKind | None = None
    division_code: str | None = None
    uscc: str | None = None
    address: str | None = Field(None, max_length=200)
    established_on: dt.date | None = None


class UnitFilters(Schema):
    line: Id | None = Field(None, description="条线编号")
    level: Level | None = None
    status: UnitStatus | None = None
    parent: Id | None = Field(None, description="只列此单位的直接下级")
    q: str | None = Field(None, description="名称或行政区划代码")


class MergeIn(Schema):
    into: int = Field(..., description="并入的单位编号")
    on: dt.date | None = None
    note: str = Field("", max_length=300)
    document_no: str = Field("", max_length=60)


class DissolveIn(Schema):
    on: dt.date | None = None
    note: str = Field("", max_length=300)
    document_no: str = Field("", max_length=60)


class UnitEventOut(Schema):
    id: int
    kind: str
    kind_display: str = Field(..., alias="get_kind_display")
    on: dt.date
    note: str
    document_no: str


class PositionOut(Schema):
    id: int
    unit_id: int
    title: str
    display_title: str
    person_id: int
    person_name: str = Field(..., alias="person.name")
    is_parttime: bool
    started_on: dt.date
    term_ends_on: dt.date | None
    ended_on: dt.date | None
    end_reason: str
    ended_early: bool
    is_current: bool
    term_expired: bool

    @staticmethod
    def resolve_term_expired(obj):
        return obj.term_expired()


class AppointIn(Schema):
    person_id: int
    title: str = Field(..., description="chair 主要负责人 / exec_vice 常务副职 / vice 副职 / "
                                        "fulltime_vice 专职副职 / office_director 办公室主任 / member 委员")
    started_on: dt.date
    term_ends_on: dt.date | None = None
    title_label: str = Field("", max_length=30)
    is_parttime: bool = False


class EndPositionIn(Schema):
    on: dt.date | None = Field(None, description="离任日期，默认今天")
    reason: str = Field("", max_length=200)
    confirm_early: bool = Field(False, description="任期未满离任时须为 true，并填写原因")


class ConditionOut(Schema):
    unit_id: int
    lacks_staff: bool
    lacks_establishment: bool
    lacks_venue: bool
    lacks_funding: bool
    lack_count: int
    staff_count: int
    annual_funding: Decimal
    note: str
    updated_at: dt.datetime | None


class ConditionIn(Schema):
    lacks_staff: bool | None = None
    lacks_establishment: bool | None = None
    lacks_venue: bool | None = None
    lacks_funding: bool | None = None
    staff_count: int | None = Field(None, ge=0)
    annual_funding: Decimal | None = Field(None, ge=0, max_digits=12, decimal_places=2)
    note: str | None = Field(None, max_length=300)


class VenueOut(Schema):
    id: int
    unit_id: int
    unit_name: str = Field(..., alias="unit.name")
    name: str
    kind: str
    kind_display: str = Field(..., alias="get_kind_display")
    address: str
    area_m2: int | None
    opened_on: dt.date | None
    latest_score: int | None
    latest_passed: bool | None
    latest_inspected_on: dt.date | None


class VenueIn(Schema):
    unit_id: int
    name: str = Field(..., min_length=1, max_length=100)
    kind: VenueKind
    address: str = Field("", max_length=200)
    area_m2: int | None = Field(None, ge=0)
    opened_on: dt.date | None = None


class VenueFilters(Schema):
    unit: Id | None = Field(None, description="单位编号（含其下级）")
    kind: VenueKind | None = None
    passed: bool | None = Field(None, description="最近一次检查是否达标")
    q: str | None = Field(None, description="名称或地址")


class InspectionOut(Schema):
    id: int
    venue_id: int
    checklist_id: int
    checklist_name: str = Field(..., alias="checklist.name")
    on: dt.date
    inspector: str
    score: int
    passed: bool
    findings: str
    met_item_ids: list[Id]

    @staticmethod
    def resolve_met_item_ids(obj):
        return sorted(i.pk for i in obj.met_items.all())


class InspectionIn(Schema):
    checklist_id: int
    on: dt.date
    inspector: str = Field(..., min_length=1, max_length=50)
    met_item_ids: list[Id] = []
    findings: str = ""


class ChecklistItemOut(Schema):
    id: int
    order: int
    text: str
    points: int


class ChecklistOut(Schema):
    id: int
    name: str
    description: str
    venue_kinds: list[str]
    pass_score: int
    items: list[ChecklistItemOut]

    @staticmethod
    def resolve_items(obj):
        return list(obj.items.all())


# --- helpers ----------------------------------------------------------------------------------

def _units(user):
    """Visible units with their parent's id, when that parent is visible too."""
    visible = Unit.objects.visible_to(user)
    parent = visible.filter(path=Substr(OuterRef("path"), 1, Length(OuterRef("path")) - Unit.steplen)).values("pk")
    return visible.select_related("line").annotate(parent_id=Subquery(parent[:1]))


def _unit(request, unit_id: int) -> Unit:
    return get_visible(_units(request.auth), request.auth, unit_id)


def _line(line_id):
    if line_id is None:
        return None
    line = Line.objects.filter(pk=line_id, is_active=True).first()
    if line is None:
        raise ActionError(f"条线（编号 {line_id}）不存在或已停用。")
    return line


def _unit_data(data: dict) -> dict:
    if "line_id" in data:
        data["line"] = _line(data.pop("line_id"))
    return data


def _fresh(request, unit: Unit) -> Unit:
    """The unit re-read with its annotations after an action changed it."""
    return _unit(request, unit.pk)


# --- lines ---------------------------------------------------------------------------------

@router.get("/lines", response=list[LineOut], summary="条线")
def list_lines(request):
    return Line.objects.filter(is_active=True)


@router.get("/checklists", response=list[ChecklistOut], summary="阵地检查标准（含检查项）")
def list_checklists(request):
    return Checklist.objects.prefetch_related("items").order_by("name")


# --- units -----------------------------------------------------------------------------------

@router.get("/units", response=list[UnitOut], summary="单位列表")
@paginate(Pagination)
def list_units(request, filters: Query[UnitFilters]):
    qs = _units(request.auth)
    if filters.line is not None:
        qs = qs.filter(line_id=filters.line)
    if filters.level:
        qs = qs.filter(level=filters.level)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.parent is not None:
        parent = Unit.objects.filter(pk=filters.parent).values("path", "depth").first()
        if parent is None:
            return qs.none()
        qs = qs.filter(path__startswith=parent["path"], depth=parent["depth"] + 1)
    if filters.q:
        q = filters.q.strip()
        qs = qs.filter(Q(name__icontains=q) | Q(short_name__icontains=q) | Q(division_code__startswith=q))
    return qs.order_by("path")


@router.get("/units/{int:unit_id}", response=UnitOut, summary="单位详情")
def get_unit(request, unit_id: int):
    return _unit(request, unit_id)


@router.get("/units/{int:unit_id}/children", response=list[UnitOut], summary="直接下级单位")
@paginate(Pagination)
def list_children(request, unit_id: int):
    unit = _unit(request, unit_id)
    return _units(request.auth).filter(path__startswith=unit.path, depth=unit.depth + 1).order_by("path")


@router.get("/units/{int:unit_id}/events", response=list[UnitEventOut], summary="机构变动记录")
def list_events(request, unit_id: int):
    return _unit(request, unit_id).events.all()


@router.post("/units/{int:unit_id}/children", response={201: UnitOut}, summary="新增下级单位")
def create_child(request, unit_id: int, payload: UnitIn):
    parent = _unit(request, unit_id)
    unit = actions.create_unit(request.auth, parent=parent, **_unit_data(payload.dict()))
    return Status(201, _fresh(request, unit))


@router.patch("/units/{int:unit_id}", response=UnitOut, summary="修改单位")
def update_unit(request, unit_id: int, payload: UnitPatch):
    unit = _unit(request, unit_id)
    actions.update_unit(request.auth, unit, **_unit_data(patch_fields(payload, Unit)))
    return _fresh(request, unit)


@router.post("/units/{int:unit_id}/merge", response=UnitOut, summary="合并单位",
             description="把本单位并入另一单位；本单位保留记录，状态变为“已合并”。")
def merge_unit(request, unit_id: int, payload: MergeIn):
    unit = _unit(request, unit_id)
    into = get_referenced(Unit, request.auth, payload.into, "单位")
    actions.merge_unit(request.auth, unit, into, on=payload.on, note=payload.note, document_no=payload.document_no)
    return _fresh(request, unit)


@router.post("/units/{int:unit_id}/dissolve", response=UnitOut, summary="撤销单位")
def dissolve_unit(request, unit_id: int, payload: DissolveIn):
    unit = _unit(request, unit_id)
    actions.dissolve_unit(request.auth, unit, on=payload.on, note=payload.note, document_no=payload.document_no)
    return _fresh(request, unit)


# --- leadership teams (班子) -------------------------------------------------------------

@router.get("/units/{int:unit_id}/positions", response=list[PositionOut], summary="班子成员")
def list_positions(request, unit_id: int, current: bool = True):
    unit = _unit(request, unit_id)
    qs = Position.objects.visible_to(request.auth).filter(unit=unit).select_related("person")
    return qs.filter(ended_on__isnull=True) if current else qs


@router.post("/units/{int:unit_id}/positions", response={201: PositionOut}, summary="任职")
def appoint(request, unit_id: int, payload: AppointIn):
    unit = _unit(request, unit_id)
    person = get_referenced(Person, request.auth, payload.person_id, "人员")
    pos = actions.appoint(request.auth, unit=unit, person=person, title=payload.title, started_on=payload.started_on,
                          term_ends_on=payload.term_ends_on, title_label=payload.title_label,
                          is_parttime=payload.is_parttime)
    return Status(201, pos)


@router.get("/positions/{int:position_id}", response=PositionOut, summary="任职详情")
def get_position(request, position_id: int):
    return get_visible(Position.objects.select_related("person", "unit"), request.auth, position_id)


@router.post("/positions/{int:position_id}/end", response={200: PositionOut, 409: dict}, summary="离任",
             description="任期未满时先答 409 和提示；确需调整的，带上 confirm_early=true 和原因再提交。")
def end_position(request, position_id: int, payload: EndPositionIn):
    pos = get_visible(Position.objects.select_related("person", "unit"), request.auth, position_id)
    on = payload.on or dt.date.today()
    if can(request.auth, CHANGE, pos.unit) and pos.is_current and on >= pos.started_on:
        warning = actions.early_departure_warning(pos, on)
        if warning and not (payload.confirm_early and payload.reason.strip()):
            return Status(409, {"detail": [warning], "code": "early_term",
                                "hint": "确需调整的，请填写原因（reason）并以 confirm_early=true 重新提交。"})
    return actions.end_position(request.auth, pos, on=on, reason=payload.reason, confirm_early=payload.confirm_early)


# --- base conditions (四缺) --------------------------------------------------------------

@router.get("/units/{int:unit_id}/conditions", response=ConditionOut, summary="基础条件（四缺）")
def get_conditions(request, unit_id: int):
    unit = _unit(request, unit_id)
    cond = BaseCondition.objects.visible_to(request.auth).filter(unit=unit).first()
    if cond is None:
        cond = BaseCondition(unit=unit, updated_at=None)
    return cond


@router.put("/units/{int:unit_id}/conditions", response=ConditionOut, summary="填报基础条件")
def set_conditions(request, unit_id: int, payload: ConditionIn):
    unit = _unit(request, unit_id)
    return actions.set_conditions(request.auth, unit, **payload.dict(exclude_unset=True))


# --- venues (阵地) ------------------------------------------------------------------------

def _venues(user):
    return Venue.objects.visible_to(user).select_related("unit")


@router.get("/venues", response=list[VenueOut], summary="阵地列表")
@paginate(Pagination)
def list_venues(request, filters: Query[VenueFilters]):
    qs = _venues(request.auth)
    if filters.unit is not None:
        unit = Unit.objects.filter(pk=filters.unit).values("path").first()
        if unit is None:
            return qs.none()
        qs = qs.filter(unit__path__startswith=unit["path"])
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    if filters.passed is not None:
        qs = qs.filter(latest_passed=filters.passed)
    if filters.q:
        qs = qs.filter(Q(name__icontains=filters.q.strip()) | Q(address__icontains=filters.q.strip()))
    return qs.order_by("unit__path", "name", "pk")


@router.get("/venues/{int:venue_id}", response=VenueOut, summary="阵地详情")
def get_venue(request, venue_id: int):
    return get_visible(_venues(request.auth), request.auth, venue_id)


@router.post("/venues", response={201: VenueOut}, summary="登记阵地")
def create_venue(request, payload: VenueIn):
    data = payload.dict()
    unit = get_referenced(Unit, request.auth, data.pop("unit_id"), "单位")
    venue = actions.create_venue(request.auth, unit=unit, **data)
    return Status(201, get_visible(_venues(request.auth), request.auth, venue.pk))


@router.get("/venues/{int:venue_id}/inspections", response=list[InspectionOut], summary="阵地检查记录")
def list_inspections(request, venue_id: int):
    venue = get_visible(Venue, request.auth, venue_id)
    return venue.inspections.select_related("checklist").prefetch_related("met_items")


@router.post("/venues/{int:venue_id}/inspections", response={201: InspectionOut}, summary="记录阵地检查")
def record_inspection(request, venue_id: int, payload: InspectionIn):
    venue = get_visible(_venues(request.auth), request.auth, venue_id)
    checklist = Checklist.objects.filter(pk=payload.checklist_id).first()
    if checklist is None:
        raise ActionError(f"检查标准（编号 {payload.checklist_id}）不存在。")
    insp = actions.record_inspection(request.auth, venue, checklist=checklist, on=payload.on,
                                     inspector=payload.inspector, met_item_ids=payload.met_item_ids,
                                     findings=payload.findings)
    return Status(201, insp)

