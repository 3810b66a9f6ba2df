"""Closed cases go to the archives (前端控制) through the records capture interface.

``capture_closed_case(case)`` runs after ``close_case`` commits and calls
``records.actions.capture_record`` with the case's summary: identifiers, dates, type, unit,
steps and outcome — never the requester's name, phone, description or the service notes,
which stay sealed in the case. Closing a case never depends on the archives: when the unit
(and its ancestors) keep no fonds, or capture refuses, the case stays closed and the reason is
logged; the archives office can capture it later.

The captured item carries what filing (DA/T 22, 必著项 of DA/T 18) needs, so it can be filed
from the pending list as it is:

* 页数 (``case_pages``): no document is generated for a case — its papers stay sealed in the
  case — so the count is of the case file's documents the summary stands for: one page per
  recorded handling step (受理, 分派, 评估, 计划, 服务, 回访, 结案 …), at least one.
* 机构（问题）代码 (``case_org_code``), only when the fonds classes by them (has codes), by
  ``records.classing.org_code_for``: the unit that handled the case or a department above it,
  then the request type as the problem, then the department that serves the masses' cases in
  a 群团 organ (``CASE_DEPARTMENT_HINTS``: 权益, 维权, 信访, 社会工作 …), then the fonds' only
  code. None fits: left empty, and the pending list names the item (with a link) when it is
  filed."""

import logging

from django.utils import timezone

log = logging.getLogger(__name__)

# departments of 群团 organs that handle the masses' requests (妇联权益部, 工会法律/权益保障部,
# 团委维护青少年权益部, 信访办, 社会工作部), most specific first
CASE_DEPARTMENT_HINTS = ("权益", "维权", "信访", "群众工作", "社会工作", "社工", "服务")


def case_summary(case) -> dict:
    req = case.request
    return {
        "title": f"个案 {req.tracking_code}（{req.type.name}）结案",
        "tracking_code": req.tracking_code,
        "request_type": req.type.name,
        "channel": req.get_channel_display(),
        "unit_id": case.unit_id,
        "received_at": req.received_at.isoformat(),
        "closed_at": case.closed_at.isoformat() if case.closed_at else None,
        "outcome": case.outcome,
        "satisfaction": case.satisfaction,
        "steps": [f"{timezone.localtime(e.at):%Y-%m-%d} {e.step}" for e in case.events.order_by("at", "pk")],
    }


def case_pages(summary: dict) -> int:
    """页数 of the captured record: one page per recorded handling step, at least one."""
    return max(1, len(summary["steps"]))


def case_org_code(fonds, case) -> str:
    """The 机构（问题）代码 for a closed case in ``fonds`` (rules in the module docstring), or ""."""
    from qunli.records.classing import org_code_for

    return org_code_for(fonds, case.unit, problem=case.request.type.name, hints=CASE_DEPARTMENT_HINTS)


def _note(summary: dict) -> str:
    return (f"渠道：{summary['channel']}；受理：{summary['received_at'][:10]}；结案：{(summary['closed_at'] or '')[:10]}；"
            f"结果：{summary['outcome']}；满意度：{summary['satisfaction'] or '未评价'}；办理环节：{len(summary['steps'])}个")


def capture_closed_case(case) -> bool:
    """Offer a closed case to the archives as a pending item. Returns whether it was captured."""
    from django.core.exceptions import PermissionDenied

    from qunli.core.actions import ActionError
    from qunli.records.actions import capture_record, fonds_for
    from qunli.records.models import Item

    if Item.objects.filter(source_type=case._meta.label_lower, source_id=str(case.pk)).exists():
        return False  # a reopened and closed-again case is captured once; the catalogue keeps that one
    case.refresh_from_db()  # the stored times (an importer or the demo may have set them after the close)
    summary = case_summary(case)
    actor = case.caseworker or case.supervisor
    closed_on = timezone.localdate(case.closed_at) if case.closed_at else timezone.localdate()
    fonds = fonds_for(case.unit)
    try:
        capture_record(actor, unit=case.unit, title=summary["title"], responsible=case.unit.name, date=closed_on,
                       source=case, doc_no=summary["tracking_code"], record_type="个案", note=_note(summary),
                       pages=case_pages(summary), org_code=case_org_code(fonds, case) if fonds else "")
    except (ActionError, PermissionDenied) as e:
        log.info("closed case %s not captured for the archives: %s", case.pk, e)
        return False
    return True
