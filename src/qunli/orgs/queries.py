"""Read helpers for the organization pages. Everything starts from
``Model.objects.visible_to(user)``; nothing here reads around the grant."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q
from django.db.models.functions import Substr

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
