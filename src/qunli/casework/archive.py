"""The closed-case capture hook for the archives (档案).

``capture_closed_case(case)`` runs after ``close_case`` commits. When the records app offers
``qunli.records.actions.capture_record`` it is called with the case's summary; until it exists
this hook does nothing (and says so here), so closing a case never depends on the archives."""

import importlib
import inspect
import logging

log = logging.getLogger(__name__)


def case_summary(case) -> dict:
    """What the archives get: identifiers, dates, type, unit and outcome — no requester name,
    phone, description or notes (those stay sealed in the case)."""
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
        "events": case.events.count(),
    }


def _capture_record():
    try:
        module = importlib.import_module("qunli.records.actions")
    except ImportError:
        return None
    return getattr(module, "capture_record", None)


def capture_closed_case(case) -> bool:
    """Offer a closed case to the archives. Returns whether it was captured.

    If ``qunli.records.actions.capture_record`` does not exist (yet), nothing happens and
    False is returned. When it does, it is called with the keyword arguments it accepts among
    ``source`` (the case), ``actor`` (the caseworker), ``unit``, ``title``, ``responsible``
    (the unit's name), ``date`` (closing day), ``record_type`` ("个案"), ``summary`` and ``kind``; the title carries no sensitive plaintext."""
    capture = _capture_record()
    if capture is None:
        return False
    summary = case_summary(case)
    from django.utils import timezone

    offered = {"source": case, "obj": case, "actor": case.caseworker, "unit": case.unit, "title": summary["title"],
               "responsible": case.unit.name, "date": timezone.localdate(case.closed_at) if case.closed_at else None,
               "record_type": "个案", "summary": summary, "kind": "casework.case"}
    params = inspect.signature(capture).parameters
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        kwargs = {k: v for k, v in offered.items() if k != "obj"}
    else:
        kwargs = {k: v for k, v in offered.items() if k in params}
    try:
        capture(**kwargs)
    except Exception:  # the case is closed either way; the archives can capture it later
        log.exception("capture_record failed for case %s", case.pk)
        return False
    return True
