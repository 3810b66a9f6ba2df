"""Dashboard aggregates for one subtree, computed in the database.

Every figure is a GROUP BY / aggregate query over ``Model.objects.visible_to(user)`` (the
grant filter) narrowed to the selected subtree by an indexable range on the materialized
path (``path >= P AND path < P + 'a'``: steps use only 0-9A-Z, which sort below 'a'). No
query walks rows in Python; the whole dashboard is a fixed handful of queries whatever the
subtree size. With no unit selected the range is that of the user's grants (``area_q``):
the grant filter alone is a ``LIKE`` SQLite cannot run on the path index.

The planner then reads the subtree's units from the path index and probes each table's
``(unit, …)`` index per unit: index-only for memberships (unit, status, line), volunteers
(unit, status, category), persons (unit, name) and current seats (unit, ended_on, title,
term_ends_on). Grouped figures group by the unit's path first where rows are many
(``_sum_by``), which SQLite streams instead of sorting."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Case, Count, F, Q, Sum, Value, When
from django.utils import timezone

from qunli.core.scoping import VIEW
from qunli.orgs.models import (
    REQUIRED_SEATS,
    BaseCondition,
    Level,
    Line,
    Position,
    Unit,
    UnitStatus,
    Venue,
    VenueKind,
)
from qunli.people.models import Membership, MembershipStatus, Person, VolunteerCategory, VolunteerProfile

# Characters after every path character ('0'-'9', 'A'-'Z'): the exclusive upper bound of a subtree.
_PATH_END = "a"


def subtree_q(unit: Unit | None, lookup: str = "") -> Q:
    """Rows under ``unit`` (inclusive) via ``lookup`` to the owning unit; no filter when None."""
    if unit is None:
        return Q()
    prefix = f"{lookup}__path" if lookup else "path"
    return Q(**{f"{prefix}__gte": unit.path, f"{prefix}__lt": unit.path + _PATH_END})


def area_q(user, unit: Unit | None, lookup: str = "") -> Q:
    """``subtree_q(unit)``; with no unit, the union of the user's view-grant subtrees (a clerk
    grant is its one unit). Only narrows for the index: ``visible_to`` is applied as well and
    stays the authority (line-restricted grants, roles)."""
    if unit is not None:
        return subtree_q(unit, lookup)
    from qunli.core.scoping import ROLE_ACTIONS, grants_of

    q = Q(pk__in=[])  # no view grant: nothing (visible_to returns none() anyway)
    for g in grants_of(user):
        if VIEW in ROLE_ACTIONS.get(g.role, set()):
            q |= (Q(**{f"{lookup}__pk" if lookup else "pk": g.unit_id}) if g.role == "clerk"
                  else subtree_q(Unit(path=g.path), lookup))
    return q


def dashboard(user, unit: Unit | None = None, today: dt.date | None = None) -> dict:
    """All dashboard figures for ``user`` within ``unit``'s subtree (or all they may see)."""
    today = today or timezone.localdate()
    lines = {line.pk: line for line in Line.objects.all()}

    # 1. units per level × line (one GROUP BY, folded in Python over ≤ 6 × 11 groups)
    units = Unit.objects.visible_to(user, VIEW).filter(area_q(user, unit), status=UnitStatus.ACTIVE)
    by_level: dict[str, int] = {}
    by_line: dict[int | None, int] = {}
    line_units = 0
    for row in units.order_by().values("level", "line").annotate(n=Count("id")):
        by_level[row["level"]] = by_level.get(row["level"], 0) + row["n"]
        by_line[row["line"]] = by_line.get(row["line"], 0) + row["n"]
        if row["line"] is not None:
            line_units += row["n"]

    # 2. leadership teams: line units whose required seats are all currently held, and the
    # terms of all current seats — one pass over the subtree's current seats (see _teams)
    current = Position.objects.visible_to(user, VIEW).filter(
        area_q(user, unit, "unit"), ended_on__isnull=True, unit__status=UnitStatus.ACTIVE)
    complete, terms = _teams(current, today)

    # 3. base conditions (四缺)
    cond = BaseCondition.objects.visible_to(user, VIEW).filter(area_q(user, unit, "unit")).order_by().aggregate(
        total=Count("id"), staff=Count("id", filter=Q(lacks_staff=True)),
        establishment=Count("id", filter=Q(lacks_establishment=True)),
        venue=Count("id", filter=Q(lacks_venue=True)), funding=Count("id", filter=Q(lacks_funding=True)),
        any=Count("id", filter=Q(lacks_staff=True) | Q(lacks_establishment=True) | Q(lacks_venue=True)
                  | Q(lacks_funding=True)),
        all4=Count("id", filter=Q(lacks_staff=True, lacks_establishment=True, lacks_venue=True, lacks_funding=True)),
        staff_count=Sum("staff_count"), funding_sum=Sum("annual_funding"))

    # 4. members per line (active memberships), counted per unit first (see _sum_by)
    members = _sum_by(Membership.objects.visible_to(user, VIEW)
                      .filter(area_q(user, unit, "unit"), status=MembershipStatus.ACTIVE))

    # 5. 五老 volunteers per category
    vols = {row["category"]: row["n"] for row in VolunteerProfile.objects.visible_to(user, VIEW)
            .filter(area_q(user, unit, "unit"), status=VolunteerProfile.Status.ACTIVE).order_by()
            .values("category").annotate(n=Count("id"))}

    # 6. venues per kind with their latest inspection result
    venue_rows = list(Venue.objects.visible_to(user, VIEW).filter(area_q(user, unit, "unit")).order_by()
                      .values("kind").annotate(n=Count("id"), inspected=Count("id", filter=Q(latest_passed__isnull=False)),
                                               passed=Count("id", filter=Q(latest_passed=True))))

    # 7. persons registered in the subtree: all records minus those merged into another
    # (two index-only counts; filtering merged_into directly would read every row)
    people = Person.objects.visible_to(user, VIEW).filter(area_q(user, unit, "unit"))
    persons = people.count() - people.filter(
        pk__in=Person.objects.filter(merged_into__isnull=False).values("pk")).count()

    venue_total = sum(r["n"] for r in venue_rows)
    inspected = sum(r["inspected"] for r in venue_rows)
    passed = sum(r["passed"] for r in venue_rows)
    kind_labels = dict(VenueKind.choices)
    cat_labels = dict(VolunteerCategory.choices)
    line_order = sorted(lines.values(), key=lambda ln: (ln.order, ln.pk))
    return {
        "unit": unit,
        "today": today,
        "units_total": sum(by_level.values()),
        "units_by_level": [{"code": v, "label": lbl, "n": by_level.get(v, 0)} for v, lbl in Level.choices
                           if by_level.get(v)],
        "units_by_line": [{"code": ln.code, "label": ln.name, "n": by_line.get(ln.pk, 0)} for ln in line_order
                          if by_line.get(ln.pk)] + ([{"code": "", "label": "地域/综合", "n": by_line[None]}]
                                                    if by_line.get(None) else []),
        "teams": {"line_units": line_units, "complete": complete, "incomplete": max(0, line_units - complete),
                  "rate": _pct(complete, line_units), "seats": terms["seats"], "expired": terms["expired"],
                  "expiring": terms["expiring"]},
        "conditions": {k: (v or 0) for k, v in cond.items()},
        "members_by_line": [{"code": ln.code, "label": ln.name, "n": members[ln.pk]} for ln in line_order
                            if members.get(ln.pk)],
        "members_total": sum(members.values()),
        "volunteers_by_category": [{"code": c, "label": cat_labels[c], "n": vols[c]}
                                   for c in VolunteerCategory.values if vols.get(c)],
        "volunteers_total": sum(vols.values()),
        "venues": {"total": venue_total, "inspected": inspected, "passed": passed,
                   "pass_rate": _pct(passed, inspected),
                   "by_kind": sorted(({"code": r["kind"], "label": kind_labels.get(r["kind"], r["kind"]),
                                       "n": r["n"], "inspected": r["inspected"], "passed": r["passed"],
                                       "rate": _pct(r["passed"], r["inspected"])} for r in venue_rows),
                                     key=lambda x: -x["n"])},
        "persons_total": persons,
    }


def _teams(current, today: dt.date) -> tuple[int, dict]:
    """(line units whose required seats are all held, {seats, expired, expiring}) over the
    current seats ``current``. Per unit (grouped by its path — unique like its id, and the
    order the path index delivers rows in): the distinct required seats held when the unit
    is a line unit, and the seat and term counts; summed around that in one query."""
    seat = Case(*[When(unit__line__isnull=False, title__in=titles, then=Value(name))
                  for name, titles in REQUIRED_SEATS.items()])
    inner = current.order_by().values(p=F("unit__path")).annotate(
        held=Count(seat, distinct=True), seats=Count("id"), expired=Count("id", filter=Q(term_ends_on__lt=today)),
        expiring=Count("id", filter=Q(term_ends_on__gte=today, term_ends_on__lt=today + dt.timedelta(days=180))))
    try:
        sql, params = inner.query.sql_with_params()
    except EmptyResultSet:  # visible_to(...) gave none(): no grant
        return 0, {"seats": 0, "expired": 0, "expiring": 0}
    with connection.cursor() as cur:
        cur.execute("SELECT COALESCE(SUM(CASE WHEN held = %s THEN 1 ELSE 0 END), 0), COALESCE(SUM(seats), 0), "
                    f"COALESCE(SUM(expired), 0), COALESCE(SUM(expiring), 0) FROM ({sql}) per_unit",
                    (len(REQUIRED_SEATS), *params))
        complete, seats, expired, expiring = (int(v) for v in cur.fetchone())
    return complete, {"seats": seats, "expired": expired, "expiring": expiring}


def _sum_by(rows) -> dict:
    """``{line_id: count}`` of ``rows`` (a queryset of a model with ``unit`` and ``line``),
    grouped per (unit path, line) first and summed per line around that.

    A plain ``GROUP BY line`` feeds every row of the subtree through a sort (a temporary
    B-tree: ~70 % of the query for 200,000 memberships). Grouped by the unit's path and the
    line, the rows already arrive in that order — the path index drives the join and
    ``(unit, status, line)`` is read in line order within a unit — so SQLite streams the
    groups and only a few thousand per-unit subtotals are summed. One query."""
    inner = rows.order_by().values(p=F("unit__path"), ln=F("line")).annotate(n=Count("id"))
    try:
        sql, params = inner.query.sql_with_params()
    except EmptyResultSet:  # visible_to(...) gave none(): no grant
        return {}
    with connection.cursor() as cur:
        cur.execute(f"SELECT ln, SUM(n) FROM ({sql}) per_unit GROUP BY ln", params)
        return {line: int(n) for line, n in cur.fetchall()}


def _pct(a: int, b: int) -> float | None:
    return round(100.0 * a / b, 1) if b else None
