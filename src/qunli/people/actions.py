"""The verbs that change people and their roles."""

import datetime as dt

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.utils import timezone

from qunli.core.actions import (
    ActionError,
    action,
    full_clean_or_raise,
    require_active_unit,
    require_change,
    require_not_future,
)
from qunli.core.audit import log_access, log_change, snapshot
from qunli.core.crypto import blind_index
from qunli.core.identifiers import (
    InvalidIdentifier,
    id_birth_date,
    id_gender,
    validate_id_number,
    validate_phone,
)
from qunli.core.scoping import CHANGE, VIEW, can

from .models import (
    CadreProfile,
    Membership,
    MembershipStatus,
    Person,
    Recognition,
    Team,
    TeamMember,
    Training,
    VolunteerProfile,
)

# 五老 are retired cadres, veterans, experts, teachers and model workers: nobody young
WULAO_MIN_AGE = 45
PLAIN_FIELDS = ("name", "gender", "birth_date", "ethnicity", "political_status", "education", "workplace")


def clean_identity(id_number: str = "", phone: str = "") -> tuple[str, str]:
    """Validate an ID number and phone, raising ActionError with the reason in Chinese."""
    try:
        id_number = validate_id_number(id_number) if id_number else ""
        phone = validate_phone(phone) if phone else ""
    except InvalidIdentifier as e:
        raise ActionError(str(e)) from e
    return id_number, phone


def duplicate_by_id(id_number: str, exclude_pk=None) -> Person | None:
    qs = Person.objects.with_id_number_hash(blind_index(id_number))
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    return qs.select_related("unit").first()


def possible_duplicates(name: str, phone: str, exclude_pk=None):
    """People without an ID number matched on name + phone (the merge tool's candidates)."""
    if not phone:
        return Person.objects.none()
    qs = Person.objects.filter(name=name, phone_hash=blind_index(phone), merged_into__isnull=True)
    return qs.exclude(pk=exclude_pk) if exclude_pk else qs


def _apply_identity(person: Person, id_number: str, phone: str | None, address: str | None) -> None:
    if id_number:
        person.set_sensitive("id_number", id_number)
        person.birth_date = id_birth_date(id_number)
        person.gender = id_gender(id_number)
    if phone is not None:
        person.set_sensitive("phone", phone)
    if address is not None:
        person.set_sensitive("address", address)


@action
def register_person(actor, *, unit, name: str, id_number: str = "", phone: str = "", address: str = "",
                    allow_similar: bool = False, **data) -> Person:
    require_change(actor, unit)
    name = (name or "").strip()
    if not name:
        raise ActionError("姓名不能为空。")
    id_number, phone = clean_identity(id_number, phone)
    if id_number and (existing := duplicate_by_id(id_number)):
        if can(actor, VIEW, existing):
            raise ActionError(f"该身份证号已登记（人员编号 {existing.pk}），同一人只建一份档案（一人一档）；"
                              "请打开已有档案，在其上添加会员、志愿者等身份。")
        # registered outside the actor's reach: say what to do, not where or whose it is
        raise ActionError("该身份证号已在您权限范围以外的单位登记，同一人只建一份档案（一人一档）。"
                          "如该人员已迁入本单位，请联系上级单位将其档案调整到本单位后再添加身份。")
    similar = not id_number and possible_duplicates(name, phone).exists()
    if similar and not allow_similar:
        raise ActionError(f"已有同名且电话相同的人员“{name}”，可能是同一人；确认不是同一人后再登记。")
    person = Person(unit=unit, name=name, confirmed_distinct=similar,
                    **{k: v for k, v in data.items() if k in PLAIN_FIELDS})
    _apply_identity(person, id_number, phone, address)
    full_clean_or_raise(person, exclude=["merged_into"])
    person.save()
    log_change(actor, "people.register_person", person, None, snapshot(person), unit_path=unit.path)
    return person


@action
def update_person(actor, person: Person, *, id_number: str | None = None, phone: str | None = None,
                  address: str | None = None, **data) -> Person:
    require_change(actor, person)
    before = snapshot(person)
    clean_id, clean_phone = clean_identity(id_number or "", phone or "")
    if clean_id and duplicate_by_id(clean_id, exclude_pk=person.pk):
        raise ActionError("该身份证号已登记给另一人员；如为同一人，请使用合并功能。")
    for k, v in data.items():
        if k in PLAIN_FIELDS:
            setattr(person, k, v)
    _apply_identity(person, clean_id, clean_phone if phone is not None else None, address)
    person.updated_at = timezone.now()
    full_clean_or_raise(person, exclude=["merged_into"])
    person.save()
    log_change(actor, "people.update_person", person, before, snapshot(person), unit_path=person.unit.path)
    return person


@action
def move_person(actor, person: Person, *, unit, reason: str = "") -> Person:
    """Register a person at another unit (迁入迁出: moved house, changed school or employer).
    Only the registration moves: memberships, 五老 and cadre profiles, team places and posts
    belong to their own units and lines and stay as they are. The actor needs write reach
    on both sides — a township's staff move people within the township; between townships
    it is the county's (the level above both)."""
    require_change(actor, person)
    require_change(actor, unit)
    if person.merged_into_id:
        raise ActionError("该档案已合并，请调整保留的档案。")
    if unit.pk == person.unit_id:
        raise ActionError(f"该人员已登记在“{unit.name}”。")
    require_active_unit(unit, "登记人员")
    reason = (reason or "").strip()
    if len(reason) < 2:
        raise ActionError("请填写调整原因（如：迁居、转学、调动工作），至少2个字。")
    before = snapshot(person)
    person.unit = unit
    person.updated_at = timezone.now()
    person.save(update_fields=["unit", "updated_at"])
    log_change(actor, "people.move_person", person, before, {**snapshot(person), "reason": reason},
               unit_path=unit.path)
    return person


def can_reveal(user, person: Person) -> bool:
    """Unmasking needs write reach over the person (staff or clerk), not mere reading."""
    return can(user, CHANGE, person)


def reveal_person(actor, person: Person, fields: list[str], purpose: str = "") -> dict[str, str]:
    """Plaintext of sensitive fields, checked and written to the access log first, with the
    purpose the reader gives (an access log of "查看" says nothing an auditor can check)."""
    if not can_reveal(actor, person):
        raise PermissionDenied("您没有查看该人员完整敏感信息的权限。")
    purpose = (purpose or "").strip()
    if len(purpose) < 2:
        raise ActionError("请填写查看用途（如：核实身份、入户走访），查看将连同用途记入敏感信息访问日志。")
    if len(purpose) > 200:
        raise ActionError("查看用途不能超过200字。")
    fields = [f for f in fields if f in Person.SENSITIVE]
    log_access(actor, person, fields, purpose)
    return {f: person.reveal(f) for f in fields}


@action
def merge_persons(actor, keep: Person, duplicate: Person, *, reason: str = "") -> Person:
    """Fold ``duplicate`` into ``keep``: its roles move over, and it remains as a pointer."""
    require_change(actor, keep)
    require_change(actor, duplicate)
    if keep.pk == duplicate.pk or duplicate.merged_into_id:
        raise ActionError("请选择两份不同且未合并过的人员档案。")
    if keep.id_number_hash and duplicate.id_number_hash and keep.id_number_hash != duplicate.id_number_hash:
        raise ActionError("两份档案的身份证号不同，不是同一人，不能合并。")
    for rel in ("volunteer", "cadre"):
        if hasattr(keep, rel) and hasattr(duplicate, rel):
            raise ActionError("两份档案都有志愿者或干部身份，请先处理其中一份再合并。")
    before = {"keep": snapshot(keep), "duplicate": snapshot(duplicate)}
    for m in duplicate.memberships.all():
        if keep.memberships.filter(line=m.line, unit=m.unit).exists():
            m.delete()
        else:
            m.person = keep
            m.save(update_fields=["person"])
    duplicate.positions.update(person=keep)
    VolunteerProfile.objects.filter(person=duplicate).update(person=keep)
    CadreProfile.objects.filter(person=duplicate).update(person=keep)
    for tm in duplicate.team_memberships.all():
        if TeamMember.objects.filter(team=tm.team, person=keep).exists():
            tm.delete()
        else:
            tm.person = keep
            tm.save(update_fields=["person"])
    if not keep.id_number_hash and duplicate.id_number_hash:
        keep.id_number_enc, keep.id_number_hash, keep.id_number_mask = (
            duplicate.id_number_enc, duplicate.id_number_hash, duplicate.id_number_mask)
        duplicate.id_number_enc = duplicate.id_number_hash = duplicate.id_number_mask = ""
        duplicate.save(update_fields=["id_number_enc", "id_number_hash", "id_number_mask"])
        keep.birth_date, keep.gender = keep.birth_date or duplicate.birth_date, keep.gender or duplicate.gender
        keep.save()
    duplicate.merged_into = keep
    duplicate.save(update_fields=["merged_into"])
    log_change(actor, "people.merge_persons", keep, before,
               {"keep": snapshot(keep), "merged_id": duplicate.pk, "reason": reason}, unit_path=keep.unit.path)
    return keep


def duplicate_groups(user, limit: int = 50):
    """Visible people without ID numbers sharing name + phone: the merge tool's worklist. A
    group whose later registrations were each confirmed as a different person (确认不是同一人)
    is settled and left out; a newcomer without that confirmation brings it back."""
    return (Person.objects.visible_to(user).filter(merged_into__isnull=True, id_number_hash="")
            .exclude(phone_hash="").values("name", "phone_hash")
            .annotate(n=Count("id"), open=Count("id", filter=Q(confirmed_distinct=False)))
            .filter(n__gt=1, open__gt=1).order_by("-n", "name")[:limit])


# --- roles ---------------------------------------------------------------------------

@action
def add_membership(actor, *, person: Person, line, unit, number: str = "", joined_on: dt.date | None = None) -> Membership:
    require_change(actor, unit)
    require_active_unit(unit, "登记会员")
    require_not_future(joined_on, "加入日期")
    if unit.line_id and unit.line_id != line.pk:
        raise ActionError(f"“{unit.name}”属于{unit.line}条线，不能登记{line}会员。")
    if Membership.objects.filter(person=person, line=line, unit=unit).exists():
        raise ActionError(f"{person.name}已是“{unit.name}”的会员。")
    m = Membership(person=person, line=line, unit=unit, number=number, joined_on=joined_on)
    full_clean_or_raise(m)
    m.save()
    log_change(actor, "people.add_membership", m, None, snapshot(m), unit_path=unit.path)
    return m


@action
def set_membership_status(actor, membership: Membership, status: str) -> Membership:
    require_change(actor, membership)
    if status not in MembershipStatus.values:
        raise ActionError("状态无效。")
    before = snapshot(membership)
    membership.status = status
    membership.save(update_fields=["status"])
    log_change(actor, "people.set_membership_status", membership, before, snapshot(membership),
               unit_path=membership.unit.path)
    return membership


@action
def set_cadre_profile(actor, *, person: Person, unit, **data) -> CadreProfile:
    require_change(actor, unit)
    profile = CadreProfile.objects.filter(person=person).select_related("unit").first()
    if profile is not None and not can(actor, CHANGE, profile):
        raise ActionError(f"{person.name}的干部信息由您权限范围以外的单位管理，不能修改。")
    before = snapshot(profile) if profile else None
    profile = profile or CadreProfile(person=person)
    profile.unit = unit
    for k, v in data.items():
        if k in ("post", "source", "is_fulltime", "grassroots_years"):
            setattr(profile, k, v)
    full_clean_or_raise(profile)
    profile.save()
    log_change(actor, "people.set_cadre_profile", profile, before, snapshot(profile), unit_path=unit.path,
               obj_repr=f"{person.name} 干部信息")
    return profile


@action
def register_volunteer(actor, *, person: Person, unit, category: str, skills: str = "", certificate_no: str = "",
                       certificate_date: dt.date | None = None) -> VolunteerProfile:
    require_change(actor, unit)
    require_active_unit(unit, "登记五老志愿者")
    require_not_future(certificate_date, "聘书日期")
    if person.age is not None and person.age < WULAO_MIN_AGE:
        raise ActionError(f"五老志愿者是离退休的老干部、老战士、老专家、老教师、老模范；{person.name}现年{person.age}岁，"
                          "请核对人员或出生日期。")
    if unit.line_id and unit.line.code != "ggw":
        raise ActionError(f"五老志愿者登记在关工委组织下，“{unit.name}”属于{unit.line}条线。")
    if VolunteerProfile.objects.filter(person=person).exists():
        raise ActionError(f"{person.name}已登记为五老志愿者。")
    v = VolunteerProfile(person=person, unit=unit, category=category, skills=skills, certificate_no=certificate_no,
                         certificate_date=certificate_date)
    full_clean_or_raise(v)
    v.save()
    log_change(actor, "people.register_volunteer", v, None, snapshot(v), unit_path=unit.path)
    return v


@action
def add_training(actor, volunteer: VolunteerProfile, *, on: dt.date, title: str, hours=0) -> Training:
    require_change(actor, volunteer)
    require_not_future(on, "培训日期")
    t = Training(volunteer=volunteer, on=on, title=title, hours=hours)
    full_clean_or_raise(t)
    t.save()
    log_change(actor, "people.add_training", t, None, snapshot(t), unit_path=volunteer.unit.path,
               obj_repr=f"{volunteer.person.name} {title}")
    return t


@action
def add_recognition(actor, volunteer: VolunteerProfile, *, on: dt.date, title: str, level: str = "") -> Recognition:
    require_change(actor, volunteer)
    require_not_future(on, "表彰日期")
    r = Recognition(volunteer=volunteer, on=on, title=title, level=level)
    full_clean_or_raise(r)
    r.save()
    log_change(actor, "people.add_recognition", r, None, snapshot(r), unit_path=volunteer.unit.path,
               obj_repr=f"{volunteer.person.name} {title}")
    return r


@action
def create_team(actor, *, unit, name: str, kind: str, leader: Person | None = None,
                founded_on: dt.date | None = None) -> Team:
    require_change(actor, unit)
    team = Team(unit=unit, name=name, kind=kind, leader=leader, founded_on=founded_on)
    full_clean_or_raise(team)
    team.save()
    log_change(actor, "people.create_team", team, None, snapshot(team), unit_path=unit.path)
    return team


@action
def add_team_member(actor, team: Team, person: Person, *, role: str = "", joined_on: dt.date | None = None) -> TeamMember:
    require_change(actor, team)
    if TeamMember.objects.filter(team=team, person=person).exists():
        raise ActionError(f"{person.name}已在“{team.name}”中。")
    tm = TeamMember.objects.create(team=team, person=person, role=role, joined_on=joined_on)
    log_change(actor, "people.add_team_member", tm, None, snapshot(tm), unit_path=team.unit.path,
               obj_repr=f"{team.name} · {person.name}")
    return tm


@action
def remove_team_member(actor, member: TeamMember) -> None:
    require_change(actor, member.team)
    log_change(actor, "people.remove_team_member", member, snapshot(member), None, unit_path=member.team.unit.path,
               obj_repr=f"{member.team.name} · {member.person.name}")
    member.delete()
