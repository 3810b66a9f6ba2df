"""People API: persons (一人一档, sensitive fields masked), memberships, 五老 volunteers,
teams. Plaintext of a sensitive field comes only from ``POST /persons/{id}/reveal``, which
checks the permission and writes the access log (``people.actions.reveal_person``)."""

import datetime as dt
from decimal import Decimal

from django.db.models import Q
from ninja import Field, Query, Router, Schema, Status
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
from qunli.core.crypto import blind_index
from qunli.core.identifiers import halfwidth
from qunli.orgs.models import Line, Unit

from . import actions
from .models import (
    Gender,
    Membership,
    MembershipStatus,
    Person,
    PoliticalStatus,
    Team,
    TeamKind,
    TeamMember,
    VolunteerCategory,
    VolunteerProfile,
)

router = Router(tags=["people"], auth=business_auth)


# --- schemas -------------------------------------------------------------------------------

class PersonOut(Schema):
    """Sensitive fields are masked here, always; see ``/reveal``."""

    id: int
    name: str
    gender: str
    birth_date: dt.date | None
    age: int | None
    ethnicity: str
    political_status: str
    education: str
    workplace: str
    id_number: str = Field(..., alias="id_number_mask", description="已脱敏")
    phone: str = Field(..., alias="phone_mask", description="已脱敏")
    address: str = Field(..., alias="address_mask", description="已脱敏")
    unit_id: int
    unit_name: str = Field(..., alias="unit.name")
    merged_into_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime


class PersonIn(Schema):
    unit_id: int = Field(..., description="登记单位编号")
    name: str = Field(..., min_length=1, max_length=50)
    id_number: str = Field("", description="18位公民身份号码；填写后性别、出生日期由号码推出")
    phone: str = ""
    address: str = Field("", max_length=200)
    gender: Gender | None = None
    birth_date: dt.date | None = None
    ethnicity: str = Field("汉族", max_length=20)
    political_status: PoliticalStatus = PoliticalStatus.MASSES
    education: str = Field("", max_length=20)
    workplace: str = Field("", max_length=100)
    allow_similar: bool = Field(False, description="确认与同名同电话的人员不是同一人")


class PersonPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=50)
    id_number: str | None = None
    phone: str | None = None
    address: str | None = Field(None, max_length=200)
    gender: Gender | None = None
    birth_date: dt.date | None = None
    ethnicity: str | None = Field(None, max_length=20)
    political_status: PoliticalStatus | None = None
    education: str | None = Field(None, max_length=20)
    workplace: str | None = Field(None, max_length=100)


class PersonFilters(Schema):
    unit: Id | None = Field(None, description="登记单位编号（含其下级）")
    q: str | None = Field(None, description="姓名；或完整的身份证号、手机号（精确匹配）")
    political_status: PoliticalStatus | None = None
    gender: Gender | None = None
    include_merged: bool = Field(False, description="包括已合并到其他档案的记录")


class PersonMoveIn(Schema):
    unit_id: int = Field(..., description="调入单位编号（须在调用者的管理范围内）")
    reason: str = Field(..., max_length=200, description="调整原因（至少2字），记入修改记录")


class RevealIn(Schema):
    fields: list[str] = Field(["id_number", "phone", "address"], description="id_number / phone / address")
    purpose: str = Field("", max_length=200, description="查看用途（必填，至少2字），连同查看记入敏感信息访问日志")


class RevealOut(Schema):
    id: int
    id_number: str | None = None
    phone: str | None = None
    address: str | None = None


class MembershipOut(Schema):
    id: int
    person_id: int
    person_name: str = Field(..., alias="person.name")
    line_id: int
    line_name: str = Field(..., alias="line.name")
    unit_id: int
    unit_name: str = Field(..., alias="unit.name")
    number: str
    joined_on: dt.date | None
    status: str


class MembershipIn(Schema):
    person_id: int
    line_id: int
    unit_id: int
    number: str = Field("", max_length=40)
    joined_on: dt.date | None = None


class MembershipFilters(Schema):
    person: Id | None = None
    unit: Id | None = Field(None, description="所在组织编号（含其下级）")
    line: Id | None = None
    status: MembershipStatus | None = None


class StatusIn(Schema):
    status: MembershipStatus


class TrainingOut(Schema):
    id: int
    on: dt.date
    title: str
    hours: Decimal


class RecognitionOut(Schema):
    id: int
    on: dt.date
    title: str
    level: str


class VolunteerOut(Schema):
    id: int
    person_id: int
    person_name: str = Field(..., alias="person.name")
    unit_id: int
    unit_name: str = Field(..., alias="unit.name")
    category: str
    category_display: str = Field(..., alias="get_category_display")
    skills: str
    certificate_no: str
    certificate_date: dt.date | None
    status: str
    registered_on: dt.date


class VolunteerDetail(VolunteerOut):
    trainings: list[TrainingOut]
    recognitions: list[RecognitionOut]

    @staticmethod
    def resolve_trainings(obj):
        return list(obj.trainings.all())

    @staticmethod
    def resolve_recognitions(obj):
        return list(obj.recognitions.all())


class VolunteerIn(Schema):
    person_id: int
    unit_id: int = Field(..., description="所属关工委编号")
    category: VolunteerCategory
    skills: str = Field("", max_length=200)
    certificate_no: str = Field("", max_length=40)
    certificate_date: dt.date | None = None


class VolunteerFilters(Schema):
    unit: Id | None = Field(None, description="单位编号（含其下级）")
    category: VolunteerCategory | None = None
    status: choice(VolunteerProfile.Status) | None = None
    q: str | None = Field(None, description="姓名或特长")


class TrainingIn(Schema):
    on: dt.date
    title: str = Field(..., min_length=1, max_length=100)
    hours: Decimal = Field(Decimal("0"), ge=0, max_digits=5, decimal_places=1)


class RecognitionIn(Schema):
    on: dt.date
    title: str = Field(..., min_length=1, max_length=100)
    level: str = Field("", max_length=20)


class TeamOut(Schema):
    id: int
    unit_id: int
    unit_name: str = Field(..., alias="unit.name")
    name: str
    kind: str
    kind_display: str = Field(..., alias="get_kind_display")
    leader_id: int | None
    founded_on: dt.date | None


class TeamIn(Schema):
    unit_id: int
    name: str = Field(..., min_length=1, max_length=100)
    kind: TeamKind
    leader_id: Id | None = None
    founded_on: dt.date | None = None


class TeamFilters(Schema):
    unit: Id | None = Field(None, description="组建单位编号（含其下级）")
    kind: TeamKind | None = None
    q: str | None = None


class TeamMemberOut(Schema):
    id: int
    team_id: int
    person_id: int
    person_name: str = Field(..., alias="person.name")
    role: str
    joined_on: dt.date | None


class TeamMemberIn(Schema):
    person_id: int
    role: str = Field("", max_length=30)
    joined_on: dt.date | None = None


# --- helpers ---------------------------------------------------------------------------------

def _persons(user):
    return Person.objects.visible_to(user).select_related("unit")


def _line(line_id: int) -> Line:
    line = Line.objects.filter(pk=line_id, is_active=True).first()
    if line is None:
        raise ActionError(f"条线（编号 {line_id}）不存在或已停用。")
    return line


# --- persons ---------------------------------------------------------------------------------

@router.get("/persons", response=list[PersonOut], summary="人员列表（敏感信息脱敏）")
@paginate(Pagination)
def list_persons(request, filters: Query[PersonFilters]):
    qs = under_unit(_persons(request.auth), filters.unit)
    if not filters.include_merged:
        qs = qs.filter(merged_into__isnull=True)
    if filters.political_status:
        qs = qs.filter(political_status=filters.political_status)
    if filters.gender:
        qs = qs.filter(gender=filters.gender)
    if filters.q:
        q = halfwidth(filters.q).strip()
        if len(q) == 18 and q[:17].isascii() and q[:17].isdecimal():
            qs = qs.with_id_number_hash(blind_index(q.upper()))
        elif len(q) == 11 and q.isascii() and q.isdecimal():
            qs = qs.filter(phone_hash=blind_index(q))
        else:
            qs = qs.filter(name__icontains=q)
    return qs.order_by("pk")


@router.get("/persons/{int:person_id}", response=PersonOut, summary="人员详情（敏感信息脱敏）")
def get_person(request, person_id: int):
    return get_visible(_persons(request.auth), request.auth, person_id)


@router.post("/persons", response={201: PersonOut}, summary="登记人员")
def create_person(request, payload: PersonIn):
    data = payload.dict()
    unit = get_referenced(Unit, request.auth, data.pop("unit_id"), "单位")
    if data.get("gender") is None:
        data.pop("gender")
    person = actions.register_person(request.auth, unit=unit, **data)
    return Status(201, get_visible(_persons(request.auth), request.auth, person.pk))


@router.patch("/persons/{int:person_id}", response=PersonOut, summary="修改人员信息")
def update_person(request, person_id: int, payload: PersonPatch):
    person = get_visible(_persons(request.auth), request.auth, person_id)
    actions.update_person(request.auth, person, **patch_fields(payload, Person))
    return get_visible(_persons(request.auth), request.auth, person.pk)


@router.post("/persons/{int:person_id}/move", response=PersonOut, summary="调整登记单位",
             description="只调整人员档案的登记单位；会员、志愿者、干部、队伍和任职不随之改变。"
                         "需要对该人员和调入单位都有管理权限。")
def move_person(request, person_id: int, payload: PersonMoveIn):
    person = get_visible(_persons(request.auth), request.auth, person_id)
    unit = get_referenced(Unit, request.auth, payload.unit_id, "单位")
    actions.move_person(request.auth, person, unit=unit, reason=payload.reason)
    return get_visible(_persons(request.auth), request.auth, person.pk)


@router.post("/persons/{int:person_id}/reveal", response=RevealOut, summary="查看完整敏感信息",
             description="需要对该人员有管理权限；每次调用都记入敏感信息访问日志。")
def reveal(request, person_id: int, payload: RevealIn):
    person = get_visible(_persons(request.auth), request.auth, person_id)
    unknown = [f for f in payload.fields if f not in Person.SENSITIVE]
    if unknown or not payload.fields:
        raise ActionError(f"可查看的字段为：{'、'.join(f'{k}（{v}）' for k, v in Person.SENSITIVE.items())}。")
    values = actions.reveal_person(request.auth, person, payload.fields, payload.purpose)
    return {"id": person.pk, **values}


# --- memberships ------------------------------------------------------------------------------

def _memberships(user):
    return Membership.objects.visible_to(user).select_related("person", "line", "unit")


@router.get("/memberships", response=list[MembershipOut], summary="会员（团员）")
@paginate(Pagination)
def list_memberships(request, filters: Query[MembershipFilters]):
    qs = under_unit(_memberships(request.auth), filters.unit)
    if filters.person is not None:
        qs = qs.filter(person_id=filters.person)
    if filters.line is not None:
        qs = qs.filter(line_id=filters.line)
    if filters.status:
        qs = qs.filter(status=filters.status)
    return qs.order_by("pk")


@router.post("/memberships", response={201: MembershipOut}, summary="登记会员（团员）")
def create_membership(request, payload: MembershipIn):
    person = get_referenced(Person, request.auth, payload.person_id, "人员")
    unit = get_referenced(Unit, request.auth, payload.unit_id, "组织")
    m = actions.add_membership(request.auth, person=person, line=_line(payload.line_id), unit=unit,
                               number=payload.number, joined_on=payload.joined_on)
    return Status(201, m)


@router.post("/memberships/{int:membership_id}/status", response=MembershipOut, summary="变更会员状态")
def set_membership_status(request, membership_id: int, payload: StatusIn):
    m = get_visible(_memberships(request.auth), request.auth, membership_id)
    return actions.set_membership_status(request.auth, m, payload.status)


# --- 五老 volunteers ---------------------------------------------------------------------------

def _volunteers(user):
    return VolunteerProfile.objects.visible_to(user).select_related("person", "unit")


@router.get("/volunteers", response=list[VolunteerOut], summary="五老志愿者")
@paginate(Pagination)
def list_volunteers(request, filters: Query[VolunteerFilters]):
    qs = under_unit(_volunteers(request.auth), filters.unit)
    if filters.category:
        qs = qs.filter(category=filters.category)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.q:
        q = filters.q.strip()
        qs = qs.filter(Q(person__name__icontains=q) | Q(skills__icontains=q))
    return qs.order_by("pk")


@router.get("/volunteers/{int:volunteer_id}", response=VolunteerDetail, summary="五老志愿者详情")
def get_volunteer(request, volunteer_id: int):
    return get_visible(_volunteers(request.auth).prefetch_related("trainings", "recognitions"), request.auth,
                       volunteer_id)


@router.post("/volunteers", response={201: VolunteerOut}, summary="登记五老志愿者")
def create_volunteer(request, payload: VolunteerIn):
    data = payload.dict()
    person = get_referenced(Person, request.auth, data.pop("person_id"), "人员")
    unit = get_referenced(Unit, request.auth, data.pop("unit_id"), "单位")
    v = actions.register_volunteer(request.auth, person=person, unit=unit, **data)
    return Status(201, v)


@router.post("/volunteers/{int:volunteer_id}/trainings", response={201: TrainingOut}, summary="记录培训")
def add_training(request, volunteer_id: int, payload: TrainingIn):
    v = get_visible(_volunteers(request.auth), request.auth, volunteer_id)
    return Status(201, actions.add_training(request.auth, v, **payload.dict()))


@router.post("/volunteers/{int:volunteer_id}/recognitions", response={201: RecognitionOut}, summary="记录表彰")
def add_recognition(request, volunteer_id: int, payload: RecognitionIn):
    v = get_visible(_volunteers(request.auth), request.auth, volunteer_id)
    return Status(201, actions.add_recognition(request.auth, v, **payload.dict()))


# --- teams ---------------------------------------------------------------------------------------

def _teams(user):
    return Team.objects.visible_to(user).select_related("unit")


@router.get("/teams", response=list[TeamOut], summary="队伍")
@paginate(Pagination)
def list_teams(request, filters: Query[TeamFilters]):
    qs = under_unit(_teams(request.auth), filters.unit)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    if filters.q:
        qs = qs.filter(name__icontains=filters.q.strip())
    return qs.order_by("unit__path", "name", "pk")


@router.get("/teams/{int:team_id}", response=TeamOut, summary="队伍详情")
def get_team(request, team_id: int):
    return get_visible(_teams(request.auth), request.auth, team_id)


@router.post("/teams", response={201: TeamOut}, summary="组建队伍")
def create_team(request, payload: TeamIn):
    unit = get_referenced(Unit, request.auth, payload.unit_id, "单位")
    leader = get_referenced(Person, request.auth, payload.leader_id, "负责人")
    team = actions.create_team(request.auth, unit=unit, name=payload.name, kind=payload.kind, leader=leader,
                               founded_on=payload.founded_on)
    return Status(201, team)


@router.get("/teams/{int:team_id}/members", response=list[TeamMemberOut], summary="队伍成员")
@paginate(Pagination)
def list_team_members(request, team_id: int):
    team = get_visible(_teams(request.auth), request.auth, team_id)
    return team.memberships.select_related("person").order_by("pk")


@router.post("/teams/{int:team_id}/members", response={201: TeamMemberOut}, summary="加入队伍")
def add_team_member(request, team_id: int, payload: TeamMemberIn):
    team = get_visible(_teams(request.auth), request.auth, team_id)
    person = get_referenced(Person, request.auth, payload.person_id, "人员")
    return Status(201, actions.add_team_member(request.auth, team, person, role=payload.role, joined_on=payload.joined_on))


@router.delete("/teams/{int:team_id}/members/{int:member_id}", response={204: None}, summary="移出队伍")
def remove_team_member(request, team_id: int, member_id: int):
    team = get_visible(_teams(request.auth), request.auth, team_id)
    member = get_visible(TeamMember.objects.filter(team=team).select_related("team__unit", "person"), request.auth,
                         member_id)
    actions.remove_team_member(request.auth, member)
    return Status(204, None)
