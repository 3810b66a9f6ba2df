"""Closed cases go to the archives (前端控制) through the records capture interface.

``capture_closed_case(case)`` runs after ``close_case`` commits and calls
``records.actions.capture_record`` with the case's summary: identifiers, dates, type, unit,
steps and outcome — never the requester's name, phone, description or the service notes,
which stay sealed in the case. Closing a case never depends on the archives: when the unit
(and its ancestors) keep no fonds, or capture refuses, the case stays closed and the reason is
logged; the archives office can capture it later."""

import logging

from django.utils import timezone

log = logging.getLogger(__name__)


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


def _note(summary: dict) -> str:
    return (f"渠道：{summary['channel']}；受理：{summary['received_at'][:10]}；结案：{(summary['closed_at'] or '')[:10]}；"
            f"结果：{summary['outcome']}；满意度：{summary['satisfaction']}；办理环节：{len(summary['steps'])}个")


def capture_closed_case(case) -> bool:
    """Offer a closed case to the archives as a pending item. Returns whether it was captured."""
    from django.core.exceptions import PermissionDenied

    from qunli.core.actions import ActionError
    from qunli.records.actions import capture_record
    from qunli.records.models import Item

    if Item.objects.filter(source_type=case._meta.label_lower, source_id=str(case.pk)).exists():
        return False  # a reopened and closed-again case is captured once; the catalogue keeps that one
    case.refresh_from_db()  # the stored times (an importer or the demo may have set them after the close)
    summary = case_summary(case)
    actor = case.caseworker or case.supervisor
    closed_on = timezone.localdate(case.closed_at) if case.closed_at else timezone.localdate()
    try:
        capture_record(actor, unit=case.unit, title=summary["title"], responsible=case.unit.name, date=closed_on,
                       source=case, doc_no=summary["tracking_code"], record_type="个案", note=_note(summary))
    except (ActionError, PermissionDenied) as e:
        log.info("closed case %s not captured for the archives: %s", case.pk, e)
        return False
    return True
