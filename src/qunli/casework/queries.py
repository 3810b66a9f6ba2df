"""Read-side questions about cases: search, due and overdue, the on-time rate. Every
queryset passed in comes from ``Case.objects.visible_to`` (need-to-know)."""

from django.db.models import Count, F, Q
from django.utils import timezone

from qunli.core.crypto import blind_index
from qunli.core.identifiers import InvalidIdentifier, validate_phone

from .models import TRACKING_ALPHABET, Case
from .workdays import add_working_days

SOON_DAYS = 3


def search_cases(qs, q: str):
    """A tracking code (exact, case-insensitive) or a requester's full phone number (blind
    index). Nothing else is searchable: names and descriptions are sealed."""
    q = (q or "").strip().upper()
    if not q:
        return qs
    if len(q) == 10 and all(c in TRACKING_ALPHABET for c in q):
        return qs.filter(request__tracking_code=q)
    try:
        phone = validate_phone(q)
    except InvalidIdentifier:
        return qs.none()
    return qs.filter(request__requester_phone_hash=blind_index(phone))


def overdue_q(today=None) -> Q:
    today = today or timezone.localdate()
    return ~Q(status=Case.Status.CLOSED) & (Q(resolve_due__lt=today)
                                            | Q(acknowledged_at__isnull=True, acknowledge_due__lt=today))


def due_soon_q(today=None) -> Q:
    today = today or timezone.localdate()
    horizon = add_working_days(today, SOON_DAYS)
    return ~Q(status=Case.Status.CLOSED) & (Q(resolve_due__gte=today, resolve_due__lte=horizon)
                                            | Q(acknowledged_at__isnull=True, acknowledge_due__gte=today,
                                                acknowledge_due__lte=horizon))


def on_time(qs) -> dict:
    """Closed cases closed by their resolve date, out of all closed cases."""
    row = qs.filter(status=Case.Status.CLOSED).aggregate(
        closed=Count("pk"), on_time=Count("pk", filter=Q(closed_at__date__lte=F("resolve_due"))))
    closed, ok = row["closed"] or 0, row["on_time"] or 0
    return {"closed": closed, "on_time": ok, "rate": round(100 * ok / closed, 1) if closed else None}
