"""前端控制 for the foundation's own events: a unit change (合并, 拆分, 撤销) or an appointment
or departure is captured as a pending archival record after its transaction commits, when
the unit or one of its ancestors has a fonds. ``orgs.actions`` calls these two functions;
a failure to capture is logged and never undoes the business change."""

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
    if fonds_for(unit) is None:
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
    return capture_record(actor, unit=unit, title=f"关于{what}的机构变动记录", responsible=unit.name, date=event.on,
                          source=event, doc_no=event.document_no, record_type="机构变动")


def _capture_position(actor, position_id, ended):
    from qunli.orgs.models import Position

    from .actions import capture_record, fonds_for

    pos = Position.objects.select_related("unit", "person").get(pk=position_id)
    if fonds_for(pos.unit) is None:
        return None
    if ended:
        title = f"关于{pos.person.name}免去{pos.unit.name}{pos.display_title}职务的离任记录"
        on = pos.ended_on
    else:
        title = f"关于{pos.person.name}任{pos.unit.name}{pos.display_title}的任职记录"
        on = pos.started_on
    return capture_record(actor, unit=pos.unit, title=title, responsible=pos.unit.name, date=on, source=pos,
                          record_type="干部任免")
