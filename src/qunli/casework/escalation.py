"""Time limits enforced: the due-date sweep (``qunli sweep_due``) and the escalation record.

Run daily (cron / systemd timer, docs/OPERATIONS.md). For the day it is run on, on the
working-day calendar (``workdays.py``: holidays and make-up working days):

* **due soon** — an open assigned case whose resolve date is today or within the next
  ``SOON_DAYS`` working days: its caseworker is told once per (case, due date);
* **overdue** — an open assigned case whose resolve date has passed: its caseworker is told
  once per (case, due date);
* **not assigned in time** — a case still unassigned after its acknowledge date: the intake
  staff of its unit (``staff_of_units``) are told once per (case, acknowledge date);
* **referral not decided in time** — a 转办/转介 still pending after its 接收时限 (the request
  type's acknowledge days from when it was sent): the receiving unit's staff are told once
  per (referral, limit);
* **escalated** — a limit missed by at least one whole working day (the limit lies before the
  latest working day up to today, so a case due on the Friday before a holiday week is
  escalated on the first working day after it, not on the holiday): a ``CaseEscalation`` row
  (unique per case, stage and limit) and a notification — an overdue assigned case to its
  supervisor; a case still unassigned, or a referral still undecided, a working day later
  (the unit had its reminder first) to the staff of the unit above (``_escalate_up``; the
  referral's sender too).

Set-based: a fixed number of queries whatever the number of cases (the calendar window, one
SELECT per kind, one bulk insert of escalations, one look-up of existing notification keys,
one bulk insert of notifications, one counter UPDATE). Running it twice on the same day
inserts nothing the second time (the unique constraints and dedupe keys)."""

import datetime as dt

from django.conf import settings
from django.db import models, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from qunli.core.scoping import ScopeSpec

from .models import Case, Referral, _manager
from .workdays import Calendar, add_working_days

SOON_DAYS = 3


class CaseEscalation(models.Model):
    """A time limit missed by a whole working day, brought to the level above (超期上报):
    an overdue case to its supervisor, a case left unassigned or a 转办/转介 left undecided
    to the staff of the unit above. Visible with its case (need-to-know)."""

    class Stage(models.TextChoices):
        RESOLVE = "resolve", "超期未办结"
        ACKNOWLEDGE = "acknowledge", "超期未分派"
        REFERRAL = "referral", "超期未接收"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="escalations", verbose_name="个案")
    stage = models.CharField("超期事项", max_length=12, choices=Stage.choices, default=Stage.RESOLVE)
    due_date = models.DateField("时限")
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
        constraints = [models.UniqueConstraint(fields=["case", "stage", "due_date"], name="escalation_once_per_stage_due")]

    def __str__(self):
        return f"超期上报 {self.case}"

    def get_absolute_url(self):
        return reverse("casework:case_detail", args=[self.case_id])

    @property
    def overdue_days(self) -> int:
        return (self.escalated_on - self.due_date).days


Stage = CaseEscalation.Stage


def current_escalation(case: Case, pending_referral=None, today: dt.date | None = None):
    """The escalation of a limit ``case`` is still missing (``still_late_q``: unassigned past
    its 受理时限, unresolved past its 办结时限, its pending referral undecided past its 接收时限)
    or None. Queries only when the case is late on something."""
    today = today or timezone.localdate()
    late = case.is_open and (case.is_overdue(today)
                             or (pending_referral is not None and pending_referral.is_late(today)))
    return case.escalations.filter(still_late_q()).first() if late else None


def still_late_q() -> Q:
    """Escalations whose matter is still undone: the case still open and missing that very
    limit — not settled since by an assignment, a decision on the referral, a hand-over
    (which sets new limits) or closing."""
    pending = Referral.objects.filter(case=OuterRef("case"), status=Referral.Status.PENDING,
                                      decide_due=OuterRef("due_date"))
    return ~Q(case__status=Case.Status.CLOSED) & (
        Q(stage=Stage.RESOLVE, case__caseworker__isnull=False, case__resolve_due=F("due_date"))
        | Q(stage=Stage.ACKNOWLEDGE, case__caseworker__isnull=True, case__acknowledge_due=F("due_date"))
        | Q(Exists(pending), stage=Stage.REFERRAL))


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
    inbox_url = reverse("casework:referral_inbox")
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

    # a 转办/转介 neither accepted nor declined past its limit: the receiving staff
    late_referrals = list(Referral.objects.filter(status=Referral.Status.PENDING, decide_due__lt=today)
                          .select_related("to_unit", "from_unit", "case__request").order_by())
    receivers = staff_of_units({r.to_unit_id: r.to_unit for r in late_referrals}.values())
    for r in late_referrals:
        for uid in receivers.get(r.to_unit_id, []):
            items.append(Pending(uid, Kind.OVERDUE, f"{r.case} 的{r.get_kind_display()}超过接收时限仍未处理"
                                 f"（接收时限 {r.decide_due:%Y-%m-%d}）", inbox_url, "casework.case", str(r.case_id),
                                 f"refdue:{r.pk}:{r.decide_due}"))

    with transaction.atomic():
        to_escalate = list(open_assigned.filter(resolve_due__lt=cutoff, supervisor__isnull=False)
                           .filter(~Exists(CaseEscalation.objects.filter(case=OuterRef("pk"), stage=Stage.RESOLVE,
                                                                         due_date=OuterRef("resolve_due"))))
                           .values_list(*fields))
        escalations = [CaseEscalation(case_id=pk, stage=Stage.RESOLVE, due_date=due, supervisor_id=sup,
                                      caseworker_id=worker, escalated_on=today)
                       for pk, worker, sup, due, code in to_escalate]
        for pk, _worker, sup, due, code in to_escalate:
            pending(sup, Kind.ESCALATED, f"个案 {code} 超期未办结，已上报督导（办结时限 {due:%Y-%m-%d}）", pk, due)
        # up the tree, the unit that should have acted gets its reminder a working day first
        escalations += _escalate_up(items, url, today, latest_workday(cutoff - dt.timedelta(days=1), cal),
                                    unassigned, late_referrals)
        CaseEscalation.objects.bulk_create(escalations, ignore_conflicts=True)
        created = deliver_now(items)
    send_outbound(created)
    by_kind = {}
    for n in created:
        by_kind[n.kind] = by_kind.get(n.kind, 0) + 1
    return {"today": today.isoformat(), "due_soon": by_kind.get(Kind.DUE_SOON, 0),
            "overdue": by_kind.get(Kind.OVERDUE, 0), "escalated": len(escalations),
            "unassigned_late": len(unassigned), "referrals_late": len(late_referrals),
            "notified": len(created)}


def _escalate_up(items: list, url: str, today: dt.date, cutoff: dt.date, unassigned, late_referrals) -> list:
    """A case left unassigned, or a 转办/转介 left undecided, past its limit and then through
    the working day after it (``cutoff``: the working day before the latest one — the unit
    had its reminder that day) goes to the staff of the unit above the one that should have
    acted (上级督办) —
    they reach the case through their wider grant. At the top of the tree, where no staff
    sit above, to the unit's leaders, without a link: need-to-know keeps the case from a
    read-only grant. The sender of a late referral is told too, so it can withdraw and
    send the case elsewhere. One escalation per case, stage and limit; a single query
    finds those already made."""
    from qunli.core.notifications import Kind, Pending, leaders_of_units, staff_of_units

    late_ack = [c for c in unassigned if c.acknowledge_due < cutoff]
    late_ref = [r for r in late_referrals if r.decide_due < cutoff]
    done = set(CaseEscalation.objects.filter(
        Q(stage=Stage.ACKNOWLEDGE, case__in=[c.pk for c in late_ack])
        | Q(stage=Stage.REFERRAL, case__in=[r.case_id for r in late_ref]))
        .values_list("case_id", "stage", "due_date")) if late_ack or late_ref else set()
    late_ack = [c for c in late_ack if (c.pk, Stage.ACKNOWLEDGE, c.acknowledge_due) not in done]
    late_ref = [r for r in late_ref if (r.case_id, Stage.REFERRAL, r.decide_due) not in done]
    units = {c.unit_id: c.unit for c in late_ack} | {r.to_unit_id: r.to_unit for r in late_ref}
    above = staff_of_units(units.values(), above=True)
    leaders = leaders_of_units([u for u in units.values() if not above.get(u.pk)])
    out = []

    def tell(unit_id, case_id, title, key, exclude=None):
        link = url.format(case_id) if above.get(unit_id) else ""
        for uid in above.get(unit_id) or leaders.get(unit_id, []):
            if uid != exclude:
                items.append(Pending(uid, Kind.ESCALATED, title, link, "casework.case", str(case_id), key))

    for c in late_ack:
        out.append(CaseEscalation(case_id=c.pk, stage=Stage.ACKNOWLEDGE, due_date=c.acknowledge_due, escalated_on=today))
        tell(c.unit_id, c.pk, f"{c.unit.name}的{c} 超过受理时限仍未分派，已上报（受理时限 {c.acknowledge_due:%Y-%m-%d}）",
             f"esc-ack:{c.pk}:{c.acknowledge_due}")
    for r in late_ref:
        out.append(CaseEscalation(case_id=r.case_id, stage=Stage.REFERRAL, due_date=r.decide_due, escalated_on=today))
        title = (f"{r.from_unit.name}{r.get_kind_display()}给{r.to_unit.name}的{r.case} 超过接收时限仍未处理，"
                 f"已上报（接收时限 {r.decide_due:%Y-%m-%d}）")
        tell(r.to_unit_id, r.case_id, title, f"esc-ref:{r.pk}:{r.decide_due}", exclude=r.created_by_id)
        items.append(Pending(r.created_by_id, Kind.ESCALATED, title + "；可撤回后另行转出", url.format(r.case_id),
                             "casework.case", str(r.case_id), f"esc-ref-sender:{r.pk}:{r.decide_due}"))
    return out
