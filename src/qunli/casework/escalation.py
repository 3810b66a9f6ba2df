"""Time limits enforced: the due-date sweep (``qunli sweep_due``) and the escalation record.

Run daily (cron / systemd timer, docs/OPERATIONS.md). For the day it is run on, on the
working-day calendar (``workdays.py``: holidays and make-up working days):

* **due soon** — an open assigned case whose resolve date is today or within the next
  ``SOON_DAYS`` working days: its caseworker is told once per (case, due date);
* **overdue** — an open assigned case whose resolve date has passed: its caseworker is told
  once per (case, due date);
* **not assigned in time** — a case still unassigned after its acknowledge date: the intake
  staff of its unit (``staff_of_units``) are told once per (case, acknowledge date);
* **escalated** — an overdue case that has missed at least one whole working day (its resolve
  date lies before the latest working day up to today, so a case due on the Friday before a
  holiday week is escalated on the first working day after it, not on the holiday): a
  ``CaseEscalation`` row (unique per case and due date) and a notification to the supervisor.

Set-based: a fixed number of queries whatever the number of cases (the calendar window, one
SELECT per kind, one bulk insert of escalations, one look-up of existing notification keys,
one bulk insert of notifications, one counter UPDATE). Running it twice on the same day
inserts nothing the second time (the unique constraints and dedupe keys)."""

import datetime as dt

from django.conf import settings
from django.db import models, transaction
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone

from qunli.core.scoping import ScopeSpec

from .models import Case, _manager
from .workdays import Calendar, add_working_days

SOON_DAYS = 3


class CaseEscalation(models.Model):
    """An overdue case brought to its supervisor's attention (超期上报). Visible with its case
    (need-to-know)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="escalations", verbose_name="个案")
    due_date = models.DateField("办结时限")
    supervisor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+",
                                   verbose_name="督导")
    caseworker = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+",
                                   verbose_name="个案社工")
    escalated_at = models.DateTimeField("上报时间", default=timezone.now)
    escalated_on = models.DateField("上报日期")

    scope = ScopeSpec(unit="case__unit", line="case__unit__line")
    objects = _manager("case")

    class Meta:
        ordering = ["-escalated_at", "-id"]
        verbose_name = "超期上报"
        verbose_name_plural = "超期上报"
        constraints = [models.UniqueConstraint(fields=["case", "due_date"], name="escalation_once_per_due")]

    def __str__(self):
        return f"超期上报 {self.case}"

    def get_absolute_url(self):
        return reverse("casework:case_detail", args=[self.case_id])

    @property
    def overdue_days(self) -> int:
        return (self.escalated_on - self.due_date).days


def latest_workday(day: dt.date, cal: Calendar) -> dt.date:
    while not cal.is_workday(day):
        day -= dt.timedelta(days=1)
    return day


def sweep_due(today: dt.date | None = None) -> dict:
    """Notify and escalate for ``today`` (default: the local date). Idempotent."""
    from qunli.core.notifications import Kind, Pending, deliver_now, send_outbound, staff_of_units

    today = today or timezone.localdate()
    cal = Calendar.load(today - dt.timedelta(days=40), today + dt.timedelta(days=SOON_DAYS * 3 + 30))
    horizon = add_working_days(today, SOON_DAYS, cal)
    cutoff = latest_workday(today, cal)
    url = reverse("casework:case_detail", args=[0]).replace("/0/", "/{}/")
    open_assigned = Case.objects.exclude(status=Case.Status.CLOSED).filter(caseworker__isnull=False).order_by()
    fields = ("pk", "caseworker_id", "supervisor_id", "resolve_due", "request__tracking_code")
    items: list[Pending] = []

    def pending(recipient, kind, title, pk, due):
        items.append(Pending(recipient, kind, title, url.format(pk), "casework.case", str(pk), f"case:{pk}:{due}"))

    soon = open_assigned.filter(resolve_due__gte=today, resolve_due__lte=horizon).values_list(*fields)
    for pk, worker, _sup, due, code in soon.iterator(chunk_size=2000):
        pending(worker, Kind.DUE_SOON, f"个案 {code} 将于 {due:%Y-%m-%d} 到期", pk, due)
    overdue = open_assigned.filter(resolve_due__lt=today).values_list(*fields)
    for pk, worker, _sup, due, code in overdue.iterator(chunk_size=2000):
        pending(worker, Kind.OVERDUE, f"个案 {code} 已超期（办结时限 {due:%Y-%m-%d}）", pk, due)

    # not yet assigned past the acknowledge limit: the receiving unit's intake staff (one
    # query for the cases, one for the staff of all their units)
    unassigned = list(Case.objects.filter(status=Case.Status.RECEIVED, caseworker__isnull=True,
                                          acknowledged_at__isnull=True, acknowledge_due__lt=today)
                      .select_related("unit", "request").order_by())
    staff = staff_of_units({c.unit_id: c.unit for c in unassigned}.values())
    for c in unassigned:
        for uid in staff.get(c.unit_id, []):
            items.append(Pending(uid, Kind.OVERDUE, f"{c} 超过受理时限仍未分派（受理时限 {c.acknowledge_due:%Y-%m-%d}）",
                                 url.format(c.pk), "casework.case", str(c.pk), f"ack:{c.pk}:{c.acknowledge_due}"))

    with transaction.atomic():
        to_escalate = list(open_assigned.filter(resolve_due__lt=cutoff, supervisor__isnull=False)
                           .filter(~Exists(CaseEscalation.objects.filter(case=OuterRef("pk"),
                                                                         due_date=OuterRef("resolve_due"))))
                           .values_list(*fields))
        CaseEscalation.objects.bulk_create(
            [CaseEscalation(case_id=pk, due_date=due, supervisor_id=sup, caseworker_id=worker, escalated_on=today)
             for pk, worker, sup, due, code in to_escalate], ignore_conflicts=True)
        for pk, _worker, sup, due, code in to_escalate:
            pending(sup, Kind.ESCALATED, f"个案 {code} 超期未办结，已上报督导（办结时限 {due:%Y-%m-%d}）", pk, due)
        created = deliver_now(items)
    send_outbound(created)
    by_kind = {}
    for n in created:
        by_kind[n.kind] = by_kind.get(n.kind, 0) + 1
    return {"today": today.isoformat(), "due_soon": by_kind.get(Kind.DUE_SOON, 0),
            "overdue": by_kind.get(Kind.OVERDUE, 0), "escalated": len(to_escalate),
            "unassigned_late": len(unassigned),
            "notified": len(created)}
