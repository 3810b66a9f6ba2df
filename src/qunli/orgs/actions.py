"""The verbs that change the organization tree and its leadership teams."""

import datetime as dt

from django.core.exceptions import PermissionDenied
from django.utils import timezone

from qunli.core.actions import (
    ActionError,
    action,
    full_clean_or_raise,
    require_active_unit,
    require_change,
    require_kind,
    require_not_future,
)
from qunli.core.audit import log_change, snapshot
from qunli.core.identifiers import InvalidIdentifier, validate_division_code, validate_uscc
from qunli.core.models import User
from qunli.core.scoping import may_place_in_line, may_restructure
from qunli.records import capture

from .models import (
    LEVEL_ORDER,
    BaseCondition,
    Checklist,
    ChecklistItem,
    Inspection,
    Line,
    Position,
    PositionTitle,
    Unit,
    UnitEvent,
    UnitStatus,
    Venue,
)

UNIT_FIELDS = ("name", "short_name", "level", "line", "kind", "division_code", "uscc", "address",
               "established_on")


def _clean_codes(data: dict) -> dict:
    try:
        if data.get("division_code"):
            data["division_code"] = validate_division_code(data["division_code"])
        if data.get("uscc"):
            data["uscc"] = validate_uscc(data["uscc"])
    except InvalidIdentifier as e:
        raise ActionError(str(e)) from e
    return data


def _check_level(parent: Unit | None, level: str) -> None:
    if level not in LEVEL_ORDER:
        raise ActionError("请选择有效的层级。")
    if parent is not None and LEVEL_ORDER[level] < LEVEL_ORDER[parent.level]:
        raise ActionError(f"下级单位的层级不能高于上级单位（上级为{parent.get_level_display()}）。")


def _require_restructure(actor, unit: Unit) -> None:
    require_change(actor, unit)
    if not may_restructure(actor, unit):
        raise PermissionDenied("基层填报员只能维护本单位的信息；新增下级、合并、拆分、调整隶属和撤销单位请由上级单位办理。")


def _require_line(actor, where: Unit, line: Line | None) -> None:
    if not may_place_in_line(actor, where, line.pk if line else None):
        target = f"“{line.name}”条线" if line else "“无条线（属地党委节点）”"
        raise ActionError(f"您没有{target}的管理权限，不能把单位设为该条线（单位的条线决定哪些人员能看到它及其人员）。")


@action
def create_unit(actor, *, parent: Unit | None, **data) -> Unit:
    if parent is None:
        require_kind(actor, User.Kind.SYSADMIN)
    else:
        _require_restructure(actor, parent)
        if not parent.is_active:
            raise ActionError(f"上级单位“{parent.name}”{parent.get_status_display()}，不能新增下级。")
    data = _clean_codes({k: v for k, v in data.items() if k in UNIT_FIELDS})
    if not data.get("name"):
        raise ActionError("单位名称不能为空。")
    _check_level(parent, data.get("level", ""))
    require_not_future(data.get("established_on"), "成立日期")
    if parent is not None:
        _require_line(actor, parent, data.get("line"))
    probe = Unit(**data, path="0", depth=1)
    full_clean_or_raise(probe, exclude=["path", "depth", "numchild"])
    unit = Unit.objects.add_child(parent, data) if parent else Unit.objects.add_root(data)
    UnitEvent.objects.create(unit=unit, kind=UnitEvent.Kind.CREATED, on=data.get("established_on") or dt.date.today())
    log_change(actor, "orgs.create_unit", unit, None, snapshot(unit), unit_path=unit.path)
    return unit


@action
def update_unit(actor, unit: Unit, **changes) -> Unit:
    require_change(actor, unit)
    before = snapshot(unit)
    old_name = unit.name
    changes = _clean_codes({k: v for k, v in changes.items() if k in UNIT_FIELDS})
    require_not_future(changes.get("established_on"), "成立日期")
    if "line" in changes and (changes["line"].pk if changes["line"] else None) != unit.line_id:
        _require_line(actor, unit, changes["line"])
    for k, v in changes.items():
        setattr(unit, k, v)
    parent = Unit.objects.get_parent(unit)
    if "level" in changes:
        _check_level(parent, unit.level)
    full_clean_or_raise(unit, exclude=["path", "depth", "numchild"])
    unit.save()
    if unit.name != old_name:
        UnitEvent.objects.create(unit=unit, kind=UnitEvent.Kind.RENAMED, note=f"由“{old_name}”更名为“{unit.name}”")
    log_change(actor, "orgs.update_unit", unit, before, snapshot(unit), unit_path=unit.path)
    return unit


def _require_no_active_children(unit: Unit) -> None:
    if Unit.objects.get_children(unit).filter(status=UnitStatus.ACTIVE).exists():
        raise ActionError(f"“{unit.name}”还有正常状态的下级单位，请先处理下级单位。")


def _end_unit(actor, unit: Unit, status: str, kind: str, on: dt.date, note: str, document_no: str,
              related=(), successor: Unit | None = None) -> UnitEvent:
    _require_restructure(actor, unit)
    if not unit.is_active:
        raise ActionError(f"“{unit.name}”{unit.get_status_display()}，不能再办理。")
    _require_no_active_children(unit)
    before = snapshot(unit)
    unit.status = status
    unit.successor = successor
    unit.save(update_fields=["status", "successor"])
    event = UnitEvent.objects.create(unit=unit, kind=kind, on=on, note=note, document_no=document_no)
    if related:
        event.related.set(related)
    log_change(actor, f"orgs.{kind}_unit", unit, before, snapshot(unit), unit_path=unit.path)
    capture.unit_changed(actor, unit)  # 前端控制: archived after commit when a fonds covers the unit
    _wind_up(actor, unit, on, successor)
    return event


def wind_up_summary(unit: Unit) -> dict[str, int]:
    """What ending ``unit`` will change, for the form's warning: seats in office, members 在册
    and people registered there."""
    from qunli.people.models import Membership, MembershipStatus, Person

    return {"positions": Position.objects.filter(unit=unit, ended_on__isnull=True).count(),
            "members": Membership.objects.filter(unit=unit, status=MembershipStatus.ACTIVE).count(),
            "persons": Person.objects.filter(unit=unit, merged_into__isnull=True).count()}


def _wind_up(actor, unit: Unit, on: dt.date, successor: Unit | None) -> None:
    """An ended unit's 班子 leaves office on the day it ended (each a 离任 with its archival
    record); its members 在册 follow it into the unit it merged into, or are 已转出 when it was
    split or dissolved (to be registered with the new units); the people registered there are
    registered with the successor of a merge (after a split or dissolution they stay, reachable
    under the same region, until someone moves them)."""
    from qunli.people.models import Membership, MembershipStatus, Person

    reason = f"单位{unit.get_status_display()}"
    for pos in Position.objects.filter(unit=unit, ended_on__isnull=True).select_related("person", "unit"):
        before = snapshot(pos)
        pos.ended_on, pos.end_reason, pos.ended_early = max(on, pos.started_on), reason, False
        pos.save(update_fields=["ended_on", "end_reason", "ended_early"])
        log_change(actor, "orgs.end_position", pos, before, snapshot(pos), unit_path=unit.path)
        capture.position_changed(actor, pos, ended=True)
    members = Membership.objects.filter(unit=unit, status=MembershipStatus.ACTIVE)
    moved = transferred = persons = 0
    if successor is not None:
        already = set(Membership.objects.filter(unit=successor).values_list("person_id", "line_id"))
        stay = [m.pk for m in members if (m.person_id, m.line_id) not in already]
        moved = Membership.objects.filter(pk__in=stay).update(unit=successor)
        persons = Person.objects.filter(unit=unit, merged_into__isnull=True).update(unit=successor)
    transferred = members.update(status=MembershipStatus.TRANSFERRED)  # what did not move with a merge
    if moved or transferred or persons:
        log_change(actor, "orgs.wind_up_unit", unit, None,
                   {"members_moved_to": successor.pk if successor else None, "members_moved": moved,
                    "members_transferred": transferred, "persons_moved": persons}, unit_path=unit.path,
                   obj_repr=f"{unit.name}（{reason}）")


@action
def merge_unit(actor, unit: Unit, into: Unit, *, on: dt.date | None = None, note: str = "",
               document_no: str = "") -> UnitEvent:
    """Merge ``unit`` into ``into``. The old unit keeps its place and records; it points to
    its successor."""
    if into.pk == unit.pk or not into.is_active:
        raise ActionError("合并的目标单位必须是另一个正常状态的单位。")
    require_change(actor, into)
    event = _end_unit(actor, unit, UnitStatus.MERGED, UnitEvent.Kind.MERGED, on or dt.date.today(),
                      note or f"并入“{into.name}”", document_no, [into], successor=into)
    UnitEvent.objects.create(unit=into, kind=UnitEvent.Kind.MERGED, on=event.on, note=f"“{unit.name}”并入本单位",
                             document_no=document_no).related.set([unit])
    return event


@action
def split_unit(actor, unit: Unit, new_units: list[dict], *, on: dt.date | None = None,
               document_no: str = "") -> list[Unit]:
    """Split ``unit`` into new sibling units; the old one is closed as 已拆分."""
    if len(new_units) < 2:
        raise ActionError("拆分至少需要两个新单位。")
    _require_restructure(actor, unit)
    _require_no_active_children(unit)  # before the new units exist: the refusal names the real cause
    parent = Unit.objects.get_parent(unit)
    created = [create_unit(actor, parent=parent, **data) for data in new_units]
    names = "、".join(u.name for u in created)
    _end_unit(actor, unit, UnitStatus.SPLIT, UnitEvent.Kind.SPLIT, on or dt.date.today(),
              f"拆分为{names}", document_no, created)
    return created


@action
def dissolve_unit(actor, unit: Unit, *, on: dt.date | None = None, note: str = "", document_no: str = "") -> UnitEvent:
    return _end_unit(actor, unit, UnitStatus.DISSOLVED, UnitEvent.Kind.DISSOLVED, on or dt.date.today(),
                     note, document_no)


@action
def move_unit(actor, unit: Unit, new_parent: Unit) -> Unit:
    _require_restructure(actor, unit)
    _require_restructure(actor, new_parent)
    if new_parent.path.startswith(unit.path):
        raise ActionError("不能把单位移到它自己的下级之下。")
    _check_level(new_parent, unit.level)
    before = snapshot(unit)
    old_parent = Unit.objects.get_parent(unit)
    Unit.objects.move(unit, new_parent, pos="last-child")
    unit.refresh_from_db()
    UnitEvent.objects.create(unit=unit, kind=UnitEvent.Kind.MOVED,
                             note=f"由“{old_parent}”调整至“{new_parent}”").related.set([new_parent])
    log_change(actor, "orgs.move_unit", unit, before, snapshot(unit), unit_path=unit.path)
    return unit


# --- leadership teams (班子) ------------------------------------------------------

@action
def appoint(actor, *, unit: Unit, person, title: str, started_on: dt.date, term_ends_on: dt.date | None = None,
            title_label: str = "", is_parttime: bool = False) -> Position:
    require_change(actor, unit)
    require_active_unit(unit, "任职")
    if title not in PositionTitle.values:
        raise ActionError("职务无效。")
    if term_ends_on and term_ends_on <= started_on:
        raise ActionError("任期届满日期必须晚于任职日期。")
    if title == PositionTitle.CHAIR and Position.objects.filter(unit=unit, title=title, ended_on__isnull=True).exists():
        raise ActionError(f"“{unit.name}”已有在任的主要负责人，请先办理其离任。")
    if Position.objects.filter(unit=unit, person=person, title=title, ended_on__isnull=True).exists():
        raise ActionError(f"{person.name}已在“{unit.name}”担任该职务。")
    if not title_label and title == PositionTitle.CHAIR and unit.line_id:
        title_label = unit.line.chair_title
    pos = Position(unit=unit, person=person, title=title, title_label=title_label, started_on=started_on,
                   term_ends_on=term_ends_on, is_parttime=is_parttime)
    full_clean_or_raise(pos)
    pos.save()
    log_change(actor, "orgs.appoint", pos, None, snapshot(pos), unit_path=unit.path)
    capture.position_changed(actor, pos)
    return pos


def early_departure_warning(position: Position, on: dt.date) -> str | None:
    """"负责人保持相对稳定，任期未满的不能任意调动": the warning shown before ending a term early."""
    if position.term_ends_on and on < position.term_ends_on:
        return (f"{position.person.name}的任期至{position.term_ends_on:%Y年%m月%d日}届满，尚未期满。"
                "负责人应保持相对稳定，任期未满不得任意调动；如确需调整，请填写原因并确认。")
    return None


@action
def end_position(actor, position: Position, *, on: dt.date, reason: str, confirm_early: bool = False) -> Position:
    require_change(actor, position.unit)
    if not position.is_current:
        raise ActionError("该职务已离任。")
    if on < position.started_on:
        raise ActionError("离任日期不能早于任职日期。")
    require_not_future(on, "离任日期")
    warning = early_departure_warning(position, on)
    if warning and not (confirm_early and reason.strip()):
        raise ActionError(warning)
    before = snapshot(position)
    position.ended_on = on
    position.end_reason = reason
    position.ended_early = bool(warning)
    position.save(update_fields=["ended_on", "end_reason", "ended_early"])
    log_change(actor, "orgs.end_position", position, before, snapshot(position), unit_path=position.unit.path)
    capture.position_changed(actor, position, ended=True)
    return position


# --- base conditions and venues ----------------------------------------------------

@action
def set_conditions(actor, unit: Unit, **values) -> BaseCondition:
    require_change(actor, unit)
    require_active_unit(unit, "填报基础条件")
    cond, _ = BaseCondition.objects.get_or_create(unit=unit)
    before = snapshot(cond)
    for k, v in values.items():
        if k not in {"lacks_staff", "lacks_establishment", "lacks_venue", "lacks_funding", "staff_count",
                     "annual_funding", "note"}:
            raise ActionError(f"不能修改字段 {k}")
        setattr(cond, k, v)
    if not cond.lacks_staff and cond.staff_count == 0:
        raise ActionError("专兼职人数为 0，却未勾选“缺人员”：请勾选，或填写实际人数。")
    if not cond.lacks_funding and cond.annual_funding is not None and cond.annual_funding == 0:
        raise ActionError("年度经费为 0，却未勾选“缺经费”：请勾选，或填写实际经费。")
    cond.updated_at = timezone.now()
    full_clean_or_raise(cond)
    cond.save()
    log_change(actor, "orgs.set_conditions", cond, before, snapshot(cond), unit_path=unit.path,
               obj_repr=f"{unit.name} 基础条件")
    return cond


@action
def create_venue(actor, *, unit: Unit, **data) -> Venue:
    require_change(actor, unit)
    require_active_unit(unit, "新增阵地")
    venue = Venue(unit=unit, **data)
    full_clean_or_raise(venue)
    venue.save()
    log_change(actor, "orgs.create_venue", venue, None, snapshot(venue), unit_path=unit.path)
    return venue


def percent_score(met_points: int, full_points: int) -> int:
    """A checklist's score on the 百分制 its 达标分 uses: the points met out of its full marks,
    rounded half up — every item met is 100 whatever the points add up to (7 × 14 = 98), and
    no item met is 0."""
    if full_points <= 0:
        return 0
    return (200 * met_points + full_points) // (2 * full_points)


@action
def record_inspection(actor, venue: Venue, *, checklist: Checklist, on: dt.date, inspector: str,
                      met_item_ids: list[int], findings: str = "") -> Inspection:
    """Score a venue against a checklist; the venue keeps its latest result."""
    require_change(actor, venue.unit)
    require_active_unit(venue.unit, "检查阵地")
    require_not_future(on, "检查日期")
    items = {i.pk: i for i in checklist.items.all()}
    unknown = set(met_item_ids) - set(items)
    if unknown:
        raise ActionError("检查项不属于所选检查标准。")
    score = percent_score(sum(items[i].points for i in set(met_item_ids)), sum(i.points for i in items.values()))
    passed = score >= checklist.pass_score
    insp = Inspection.objects.create(venue=venue, checklist=checklist, on=on, inspector=inspector, score=score,
                                     passed=passed, findings=findings)
    insp.met_items.set(met_item_ids)
    if venue.latest_inspected_on is None or on >= venue.latest_inspected_on:
        venue.latest_score, venue.latest_passed, venue.latest_inspected_on = score, passed, on
        venue.save(update_fields=["latest_score", "latest_passed", "latest_inspected_on"])
    log_change(actor, "orgs.record_inspection", insp, None, snapshot(insp), unit_path=venue.unit.path,
               obj_repr=f"{venue.name} {on}")
    return insp


def _checklist_items(text: str) -> list[tuple[str, int]]:
    """“检查项|分值” one per line (分值 defaults to 10)."""
    items = []
    for n, raw in enumerate((text or "").splitlines(), start=1):
        raw = raw.strip()
        if not raw:
            continue
        item, _, points = raw.rpartition("|") if "|" in raw else (raw, "", "10")
        item, points = item.strip(), points.strip() or "10"
        if not item or not points.isdecimal() or not 0 < int(points) <= 100:
            raise ActionError(f"第{n}行“{raw[:30]}”格式不对：应为“检查项|分值”，分值为 1–100 的整数。")
        if len(item) > 100:
            raise ActionError(f"第{n}行检查项超过100字。")
        items.append((item, int(points)))
    if not items:
        raise ActionError("请至少填写一个检查项。")
    return items


@action
def save_checklist(actor, checklist: Checklist | None = None, *, name: str, description: str = "",
                   venue_kinds=(), pass_score: int, items_text: str) -> Checklist:
    """Create or edit an inspection checklist (the system administrator's configuration). An
    item already used by an inspection keeps its wording and points — a past score must keep
    meaning what it meant — so such a checklist takes new items but does not lose or change
    its used ones."""
    require_kind(actor, User.Kind.SYSADMIN)
    items = _checklist_items(items_text)
    if not 0 < int(pass_score) <= 100:
        raise ActionError("达标分应为 1–100。")
    if Checklist.objects.filter(name=name.strip()).exclude(pk=checklist.pk if checklist else None).exists():
        raise ActionError(f"已有名为“{name.strip()}”的检查标准。")
    before = snapshot(checklist) if checklist else None
    checklist = checklist or Checklist()
    checklist.name, checklist.description = name.strip(), description.strip()
    checklist.venue_kinds, checklist.pass_score = sorted(set(venue_kinds)), int(pass_score)
    full_clean_or_raise(checklist)
    checklist.save()
    existing = {(i.text, i.points): i for i in checklist.items.all()} if checklist.pk else {}
    used = set(Inspection.met_items.through.objects.filter(checklistitem__checklist=checklist)
               .values_list("checklistitem_id", flat=True))
    wanted = set(items)
    lost = [i.text for key, i in existing.items() if key not in wanted and i.pk in used]
    if lost:
        raise ActionError(f"检查项“{'、'.join(lost)}”已用于检查记录，不能删除或修改（可新增检查项）。")
    checklist.items.exclude(pk__in=[existing[k].pk for k in wanted if k in existing]).delete()
    for order, key in enumerate(items, start=1):
        if key in existing:
            ChecklistItem.objects.filter(pk=existing[key].pk).update(order=order)
        else:
            ChecklistItem.objects.create(checklist=checklist, order=order, text=key[0], points=key[1])
    after = {**snapshot(checklist), "items": [f"{t}|{p}" for t, p in items]}
    log_change(actor, "orgs.save_checklist", checklist, before, after)
    return checklist


@action
def create_line(actor, *, code: str, name: str, chair_title: str = "主席") -> Line:
    require_kind(actor, User.Kind.SYSADMIN)
    if Line.objects.filter(code=code).exists() or Line.objects.filter(name=name).exists():
        raise ActionError("条线代码或名称已存在。")
    line = Line(code=code, name=name, chair_title=chair_title, order=Line.objects.count() * 10 + 10)
    full_clean_or_raise(line)
    line.save()
    log_change(actor, "orgs.create_line", line, None, snapshot(line))
    return line


