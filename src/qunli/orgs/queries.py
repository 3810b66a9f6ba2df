"""Read helpers for the organization pages. Everything starts from
``Model.objects.visible_to(user)``; nothing here reads around the grant."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Length, Substr

from qunli.core.scoping import VIEW, grants_of

from .models import BaseCondition, Position, Unit, UnitEvent, Venue, vacant_seats


def visible_units(user, action: str = VIEW):
    return Unit.objects.visible_to(user, action)


def tree_roots(user):
    """The highest visible units: one per grant, dropping grants nested inside another."""
    paths = sorted({g.path for g in grants_of(user)})
    tops = [p for p in paths if not any(p != q and p.startswith(q) for q in paths)]
    clerk_units = [g.unit_id for g in grants_of(user) if g.role == "clerk"]
    qs = visible_units(user).select_related("line")
    roots = list(qs.filter(path__in=tops)) + list(qs.filter(pk__in=clerk_units).exclude(path__in=tops))
    seen, out = set(), []
    for u in sorted(roots, key=lambda u: u.path):
        if u.pk not in seen and not any(u.path.startswith(o.path) and u.pk != o.pk for o in out):
            seen.add(u.pk)
            out.append(u)
    return with_child_counts(user, out)


def visible_children(user, unit: Unit):
    return (visible_units(user).filter(path__startswith=unit.path, depth=unit.depth + 1)
            .select_related("line").order_by("path"))


def with_child_counts(user, units: list[Unit]) -> list[Unit]:
    """Set ``visible_child_count`` on each unit with one grouped query."""
    units = list(units)
    if not units:
        return units
    by_depth: dict[int, list[Unit]] = {}
    for u in units:
        by_depth.setdefault(u.depth, []).append(u)
    counts: dict[str, int] = {}
    for depth, group in by_depth.items():
        n = depth * Unit.steplen
        under = Q()
        for u in group:
            under |= Q(path__startswith=u.path)
        rows = (visible_units(user).filter(under, depth=depth + 1)
                .annotate(parent_path=Substr("path", 1, n)).values("parent_path").annotate(c=Count("id"))
                .order_by())
        counts.update({r["parent_path"]: r["c"] for r in rows})
    for u in units:
        u.visible_child_count = counts.get(u.path, 0)
    return units


def children_of(user, unit: Unit) -> list[Unit]:
    return with_child_counts(user, visible_children(user, unit))


def visible_ancestors(user, unit: Unit) -> list[Unit]:
    """The parent chain for breadcrumbs, limited to what the user may see."""
    paths = [unit.path[: i * unit.steplen] for i in range(1, unit.depth)]
    if not paths:
        return []
    return list(visible_units(user).filter(path__in=paths).order_by("depth"))


def search_units(user, q: str, limit: int = 50):
    q = q.strip()
    if not q:
        return Unit.objects.none()
    qs = visible_units(user).select_related("line")
    if q.isdecimal():
        qs = qs.filter(division_code__startswith=q)
    else:
        qs = qs.filter(name__icontains=q)
    return qs.order_by("depth", "path")[:limit]


# --- leadership teams ---------------------------------------------------------------

@dataclass
class TeamReview:
    positions: list[Position]
    vacancies: list[str]  # REQUIRED_SEATS nobody holds
    expired: list[Position]


def current_positions(user, unit: Unit):
    return (Position.objects.visible_to(user).filter(unit=unit, ended_on__isnull=True)
            .select_related("person", "unit", "unit__line").order_by("title", "started_on"))


def review_team(positions, today: dt.date | None = None) -> TeamReview:
    today = today or dt.date.today()
    positions = list(positions)
    held = {p.title for p in positions}
    vacancies = vacant_seats(held)
    expired = [p for p in positions if p.term_expired(today)]
    return TeamReview(positions, vacancies, expired)


def past_positions(user, unit: Unit, limit: int = 50):
    return (Position.objects.visible_to(user).filter(unit=unit, ended_on__isnull=False)
            .select_related("person").order_by("-ended_on")[:limit])


def condition_of(user, unit: Unit) -> BaseCondition | None:
    return BaseCondition.objects.visible_to(user).filter(unit=unit).first()


def venues_of(user, unit: Unit):
    return Venue.objects.visible_to(user).filter(unit=unit).order_by("name")


def events_of(user, unit: Unit):
    return UnitEvent.objects.visible_to(user).filter(unit=unit).prefetch_related("related")


def with_team_state(units, *, complete: bool):
    """Line units whose required seats (REQUIRED_SEATS: 主要负责人, a 副职) are all held now —
    or, ``complete=False``, those missing one: the dashboard's 班子健全/不健全, as a list.
    One EXISTS per seat on the position index (unit, ended_on, title)."""
    from django.db.models import Exists, OuterRef

    from .models import REQUIRED_SEATS, UnitStatus

    held = [Exists(Position.objects.filter(unit=OuterRef("pk"), ended_on__isnull=True, title__in=titles))
            for titles in REQUIRED_SEATS.values()]
    all_held = Q()
    for e in held:
        all_held &= Q(e)
    units = units.filter(line__isnull=False, status=UnitStatus.ACTIVE)
    return units.filter(all_held) if complete else units.exclude(all_held)


LACKS = ("staff", "establishment", "venue", "funding")


def lacks_q(which: str) -> Q:
    """Units with 四缺 as the dashboard counts them: any of the four, all four, or one."""
    if which == "all4":
        return Q(**{f"condition__lacks_{k}": True for k in LACKS})
    if which in LACKS:
        return Q(**{f"condition__lacks_{which}": True})
    cond = Q()
    for k in LACKS:
        cond |= Q(**{f"condition__lacks_{k}": True})
    return cond


def with_parent_name(units):
    """Units annotated with ``parent_name``: the name of the unit one step up the path (a
    look-up through the unique path index per row shown, whatever the user's reach — the
    tree search names parents too)."""
    parent = Unit.objects.filter(path=Substr(OuterRef("path"), 1, Length(OuterRef("path")) - Unit.steplen))
    return units.annotate(parent_name=Subquery(parent.values("name")[:1]))
