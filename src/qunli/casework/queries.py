"""Read-side questions about cases: search, due and overdue, the on-time rate, the
receiving staff's referral inbox; who acts for a case's own unit; the overdue flag of practical projects. Every case
queryset passed in comes from ``Case.objects.visible_to`` (need-to-know)."""

from collections import Counter

from django.db import models
from django.db.models import Count, F, Q
from django.utils import timezone

from qunli.core.crypto import blind_index
from qunli.core.identifiers import InvalidIdentifier, validate_phone
from qunli.core.scoping import CHANGE, can, scope_q

from .models import TRACKING_ALPHABET, Case, PracticalProject, Referral, Request
from .workdays import add_working_days

SOON_DAYS = 3


def sending_side(user, case: Case) -> bool:
    """Whether the user acts for the case's own unit: its caseworker or supervisor, or — while
    nobody is assigned — its intake staff (not the receiving unit's staff of a referral,
    who see the case only to decide on it)."""
    if case.caseworker_id is not None:
        return user.pk in (case.caseworker_id, case.supervisor_id)
    return can(user, CHANGE, case.unit)


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


# --- the casework dashboard (服务群众概览) ------------------------------------------------------
#
# Need-to-know and aggregates: a case is opened only by its team (``case_q``), but a count
# reveals no case. The dashboard therefore counts cases over the unit subtree the user's
# grant covers (``scope_q(Case.scope, …)`` — the grant rule without the team condition) and
# returns numbers only: no id, code, name or link of any case leaves these functions.

def dashboard(user, unit=None, today=None, branches=()) -> dict:
    """Every figure of the casework dashboard for ``unit``'s subtree (None: all the user's
    grants). ``branches``: units (typically the selected unit's children) to break the wish
    figures down by; a branch without any wish is left out. A fixed number of GROUP BY queries
    whatever the subtree size."""
    from django.db.models import Sum

    from qunli.core.scoping import VIEW, scope_q
    from qunli.reports.queries import area_q

    from .models import Category as ServedCategory
    from .models import Channel, Pairing, PairingKind, PairingTarget, RequestType, Wish
    from .pairing_views import reference_date

    today = today or timezone.localdate()
    grant = scope_q(Case.scope, user, VIEW)
    cases = (Case.objects.filter(grant) if grant is not None else Case.objects.none()).filter(
        area_q(user, unit, "unit")).order_by()

    # one GROUP BY over (channel, type, status, satisfaction), folded in Python over its few groups
    by_channel, by_type, by_status, satisfaction = Counter(), Counter(), Counter(), Counter()
    closed_n = on_time_n = overdue = 0
    for ch, ty, st, sat, n, ok, late in (
            cases.values_list("request__channel", "request__type", "status", "satisfaction")
            .annotate(n=Count("pk"), ok=Count("pk", filter=Q(status=Case.Status.CLOSED,
                                                              closed_at__date__lte=F("resolve_due"))),
                      late=Count("pk", filter=overdue_q(today)))):
        by_channel[ch] += n
        by_type[ty] += n
        by_status[st] += n
        overdue += late
        if st == Case.Status.CLOSED:
            closed_n += n
            on_time_n += ok
            if sat is not None:
                satisfaction[sat] += n
    timeliness = {"closed": closed_n, "on_time": on_time_n,
                  "rate": round(100 * on_time_n / closed_n, 1) if closed_n else None}
    type_names = {t.pk: t.name for t in RequestType.objects.all()}

    # pairing coverage: targets set at the selected unit (or the grant units) for this year,
    # against distinct persons served with a pairing active today in the subtree
    ref = reference_date(today.year, today)
    if unit is not None:
        target_units = [unit.pk]
    else:
        from qunli.core.scoping import grants_of

        target_units = sorted({g.unit_id for g in grants_of(user)})
    targets = {(r["kind"], r["category"]): r["t"] for r in PairingTarget.objects.visible_to(user, VIEW)
               .filter(unit__in=target_units, year=today.year).order_by().values("kind", "category")
               .annotate(t=Sum("target"))}
    active = {(r["kind"], r["category"]): r["n"] for r in Pairing.objects.visible_to(user, VIEW)
              .filter(area_q(user, unit, "unit"), Q(ended_on__isnull=True) | Q(ended_on__gt=ref),
                      started_on__lte=ref).order_by().values("kind", "category")
              .annotate(n=Count("served", distinct=True))}
    cat_labels, kind_labels = dict(ServedCategory.choices), dict(PairingKind.choices)
    coverage = [{"kind": k, "category": c, "label": f"{kind_labels[k]}·{cat_labels[c]}",
                 "target": targets.get((k, c)), "active": active.get((k, c), 0),
                 "pct": round(100 * active.get((k, c), 0) / targets[(k, c)], 1) if targets.get((k, c)) else None}
                for k in PairingKind.values for c in ServedCategory.values if (k, c) in targets or (k, c) in active]

    # wishes: counts per stage and amounts, in total and per branch
    wishes = Wish.objects.visible_to(user, VIEW).filter(area_q(user, unit, "unit")).order_by()
    wish_totals = _wish_figures(wishes.aggregate(**_wish_aggregates()))
    per_branch = []
    if branches:
        by_len: dict[int, list] = {}
        for b in branches:
            by_len.setdefault(len(b.path), []).append(b)
        from django.db.models.functions import Substr

        found = {}
        for width, units in by_len.items():
            rows = (wishes.annotate(branch=Substr("unit__path", 1, width))
                    .filter(branch__in=[u.path for u in units]).values("branch").annotate(**_wish_aggregates()))
            for row in rows:
                found[row.pop("branch")] = _wish_figures(row)
        # only the branches with a wish: a county's dozens of bureaus and schools that collect
        # none would bury the few that do under rows of 0
        per_branch = [{"unit": b, **found[b.path]} for b in branches if b.path in found]

    closed = by_status.get(Case.Status.CLOSED, 0)
    sat_total = sum(satisfaction.values())
    return {
        "today": today,
        "cases_total": sum(by_status.values()),
        "open": sum(by_status.values()) - closed,
        "overdue": overdue,
        "by_channel": [{"code": v, "label": lbl, "n": by_channel[v]} for v, lbl in Channel.choices if by_channel.get(v)],
        "by_type": sorted(({"code": t, "label": type_names.get(t, str(t)), "n": n} for t, n in by_type.items()),
                          key=lambda r: -r["n"]),
        "by_status": [{"code": v, "label": lbl, "n": by_status[v]} for v, lbl in Case.Status.choices
                      if by_status.get(v)],
        "on_time": timeliness,
        "satisfaction": [{"score": s, "n": satisfaction.get(s, 0)} for s in range(1, 6)],
        "satisfaction_avg": round(sum(s * n for s, n in satisfaction.items()) / sat_total, 2) if sat_total else None,
        "satisfaction_total": sat_total,
        "coverage": coverage,
        "coverage_year": today.year,
        "wishes": wish_totals,
        "wishes_by_unit": per_branch,
    }


def _wish_aggregates() -> dict:
    from django.db.models import Sum
    from django.db.models.functions import Coalesce

    from .models import Wish

    S = Wish.Status
    return {"collected": Count("pk"),
            "published": Count("pk", filter=Q(status__in=[S.PUBLISHED, S.CLAIMED, S.FULFILLED])),
            "claimed": Count("pk", filter=Q(status__in=[S.CLAIMED, S.FULFILLED])),
            "fulfilled": Count("pk", filter=Q(status=S.FULFILLED)),
            # what was actually spent when told at 圆梦, else the 预计金额
            "amount_fulfilled": Sum(Coalesce("fulfilled_amount", "amount"), filter=Q(status=S.FULFILLED)),
            "amount_collected": Sum("amount")}


def _wish_figures(row: dict) -> dict:
    from decimal import Decimal

    return {"collected": row.get("collected") or 0, "published": row.get("published") or 0,
            "claimed": row.get("claimed") or 0, "fulfilled": row.get("fulfilled") or 0,
            "amount_fulfilled": row.get("amount_fulfilled") or Decimal("0"),
            "amount_collected": row.get("amount_collected") or Decimal("0")}


def referral_inbox(user):
    """Pending 转办/转介 to units where ``user`` holds a CHANGE grant: what they may accept
    or decline (the referral inbox page and the API's ``?inbox=true``)."""
    to_q = scope_q(Referral.receiver_scope, user, CHANGE)
    if to_q is None:
        return Referral.objects.none()
    return (Referral.objects.visible_to(user, CHANGE).filter(to_q, status=Referral.Status.PENDING)
            .select_related("case__request__type", "from_unit", "to_unit", "created_by").order_by("created_at"))


def with_overdue(qs, today=None):
    """Practical projects annotated ``overdue``: past the deadline and not completed (in SQL,
    so lists filter and sort on it)."""
    today = today or timezone.localdate()
    late = Q(deadline__lt=today) & ~Q(status=PracticalProject.Status.COMPLETED)
    return qs.annotate(overdue=models.Case(models.When(late, then=models.Value(True)), default=models.Value(False),
                                           output_field=models.BooleanField()))


# --- the history tab (修改记录) of cases, pairings, wishes and projects -----------------------------
#
# ``core.history.describe`` labels a column by its model field's verbose_name and names units,
# lines and accounts. Casework rows also carry columns that mean nothing to a reader — a
# blind index, a stored file's address, digest, type and size (the photo itself is on the
# page), a marker that sealed text changed — and extras a verb adds for its own bookkeeping
# (the step is the row's 操作 already; the referral's number). They are dropped here, before
# ``describe`` sees the snapshots.

HISTORY_HIDDEN = {"photo_name", "photo_sm3", "photo_mime", "photo_size", "step", "referral"}
# extras kept under a reader's label (not model fields: ``describe`` shows the key as is)
HISTORY_RENAMED = {"member": "成员"}
PHOTO_LABEL = "照片"


def readable_history(rows) -> list:
    """Change-log rows of a casework object with their snapshots cleaned for the history tab
    (in memory only: the stored rows, hashed into the audit chain, are never touched)."""
    rows = list(rows)
    # a case's request by its tracking code (the code the staff know it by), not its row number
    request_ids = {row.after.get("request_id") for row in rows
                   if row.object_type == "casework.case" and isinstance(row.after, dict)}
    codes = dict(Request.objects.filter(pk__in=request_ids - {None}).values_list("pk", "tracking_code"))
    for row in rows:
        for attr in ("before", "after"):
            snap = getattr(row, attr)
            if not isinstance(snap, dict):
                continue
            clean = {}
            for key, value in snap.items():
                if key == "photo_name":
                    clean[PHOTO_LABEL] = "已上传" if value else ""
                elif key in HISTORY_HIDDEN or key.endswith("_enc") or key.endswith("_hash"):
                    continue
                elif key == "request_id" and value in codes:
                    clean[key] = codes[value]
                else:
                    clean[HISTORY_RENAMED.get(key, key)] = value
            setattr(row, attr, clean)
    return rows
