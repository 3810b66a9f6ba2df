"""前端控制 for the foundation's own events: a unit change (合并, 拆分, 撤销) or an appointment
or departure is captured as a pending archival record after its transaction commits, when
the unit or one of its ancestors has a fonds. ``orgs.actions`` calls these two functions;
a failure to capture is logged and never undoes the business change.

The captured item carries what filing needs (必著项 of DA/T 18), so it can be filed from the
pending list as it is: 页数 1 (the record is one registration sheet: what changed, when, by
which document) and the 机构（问题）代码 of the department that keeps organization and cadre
records (``classing.org_code_for`` with ``ORGANIZATION_RECORD_HINTS``) when the fonds classes
by codes."""

import logging
from functools import partial

from django.db import transaction

log = logging.getLogger(__name__)


def unit_changed(actor, unit) -> None:
    transaction.on_commit(partial(_capture_unit_event, actor, unit.pk), robust=True)


def position_changed(actor, position, ended: bool = False) -> None:
    transaction.on_commit(partial(_capture_position, actor, position.pk, ended), robust=True)


def _capture_unit_event(actor, unit_id):
    from qunli.orgs.models import Unit, UnitEvent

    from .actions import capture_record, fonds_for

    unit = Unit.objects.select_related("successor").get(pk=unit_id)
    fonds = fonds_for(unit)
    if fonds is None:
        return None
    event = UnitEvent.objects.filter(unit=unit).exclude(kind=UnitEvent.Kind.CREATED).order_by("-id").first()
    if event is None:
        return None
    if event.kind == UnitEvent.Kind.MERGED and unit.successor_id:
        what = f"{unit.name}并入{unit.successor.name}"
    elif event.kind == UnitEvent.Kind.SPLIT:
        what = f"{unit.name}拆分为{'、'.join(u.name for u in event.related.order_by('id'))}"
    elif event.kind == UnitEvent.Kind.DISSOLVED:
        what = f"撤销{unit.name}"
    else:
        what = f"{unit.name}{event.get_kind_display()}"
    note = "；".join(p for p in (f"变动日期：{event.on:%Y-%m-%d}", event.note and f"说明：{event.note}") if p)
    return capture_record(actor, unit=unit, title=f"关于{what}的机构变动记录", responsible=unit.name, date=event.on,
                          source=event, doc_no=event.document_no, record_type="机构变动", note=note,
                          **_filing_fields(fonds, unit))


def _capture_position(actor, position_id, ended):
    from qunli.orgs.models import Position

    from .actions import capture_record, fonds_for

    pos = Position.objects.select_related("unit", "person").get(pk=position_id)
    fonds = fonds_for(pos.unit)
    if fonds is None:
        return None
    if ended:
        title = f"关于{pos.person.name}免去{pos.unit.name}{pos.display_title}职务的离任记录"
        on = pos.ended_on
    else:
        title = f"关于{pos.person.name}任{pos.unit.name}{pos.display_title}的任职记录"
        on = pos.started_on
    return capture_record(actor, unit=pos.unit, title=title, responsible=pos.unit.name, date=on, source=pos,
                          record_type="干部任免", note=_term_note(pos, ended), **_filing_fields(fonds, pos.unit))


def _term_note(pos, ended) -> str:
    parts = [f"任职日期：{pos.started_on:%Y-%m-%d}"]
    if pos.term_ends_on:
        parts.append(f"任期届满：{pos.term_ends_on:%Y-%m-%d}")
    if ended:
        parts.append(f"离任日期：{pos.ended_on:%Y-%m-%d}")
        if pos.end_reason:
            parts.append(f"离任原因：{pos.end_reason}")
    return "；".join(parts)


def _filing_fields(fonds, unit) -> dict:
    from .classing import ORGANIZATION_RECORD_HINTS, org_code_for

    return {"pages": 1, "org_code": org_code_for(fonds, unit, hints=ORGANIZATION_RECORD_HINTS)}
