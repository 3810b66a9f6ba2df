"""The one place where grants become row filters.

Every business model names the path to its owning unit and to its line (``ScopeSpec``);
``Model.objects.visible_to(user, action)`` turns the user's grants into a single OR of
``unit.path LIKE 'xxxx%'`` conditions (an indexed range scan on the materialized path), as
NetBox's ``RestrictedQuerySet.restrict()`` does. Views, API, exports, search and reports read
through it; nothing reads around it."""

from dataclasses import dataclass

from django.db import models
from django.db.models import Q

VIEW = "view"
CHANGE = "change"

# What each grant role may do. Leaders read their subtree; staff read and write it; a
# grassroots clerk reads and writes its own unit only.
ROLE_ACTIONS = {
    "leader": {VIEW},
    "staff": {VIEW, CHANGE},
    "clerk": {VIEW, CHANGE},
}


@dataclass(frozen=True)
class ScopeSpec:
    unit: str  # lookup from the model to its Unit ("" means the model *is* Unit)
    line: str | None  # lookup from the model to its Line id, None if line-neutral


@dataclass(frozen=True)
class GrantInfo:
    role: str
    unit_id: int
    path: str
    all_lines: bool
    line_ids: frozenset
    line_codes: frozenset = frozenset()


def grants_of(user) -> list[GrantInfo]:
    """The user's grants, loaded once per user object (i.e. once per request)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    cached = getattr(user, "_qunli_grants", None)
    if cached is not None:
        return cached
    from .models import Grant

    infos = []
    for g in Grant.objects.filter(user=user).select_related("unit").prefetch_related("lines"):
        lines = g.lines.all()
        infos.append(GrantInfo(g.role, g.unit_id, g.unit.path, g.all_lines, frozenset(line.pk for line in lines),
                               frozenset(line.code for line in lines)))
    user._qunli_grants = infos
    return infos


def writes_anywhere(user) -> bool:
    """Whether any grant lets the account change data (a leader's only reads)."""
    return any(CHANGE in ROLE_ACTIONS.get(g.role, set()) for g in grants_of(user))


def may_place_in_line(user, unit, line_id: int | None) -> bool:
    """Whether ``user`` may put a unit at ``unit``'s place in the tree (``unit`` itself, or the
    parent of a new one) in line ``line_id``. A unit's line decides whose staff see it and its
    people, so this needs a grant that changes that line there — and for no line (a 党委 or
    geographic node, which every line's staff see) a grant over all lines."""
    for g in grants_of(user):
        if CHANGE not in ROLE_ACTIONS.get(g.role, set()):
            continue
        inside = unit.pk == g.unit_id if g.role == "clerk" else unit.path.startswith(g.path)
        if inside and (g.all_lines or (line_id is not None and line_id in g.line_ids)):
            return True
    return False


def may_restructure(user, unit) -> bool:
    """Whether ``user`` may change the tree at ``unit`` (add a child, merge, split, move,
    dissolve): a CHANGE grant over its subtree. A grassroots clerk's grant is its one unit —
    it keeps that unit's data, but a child it created would be out of its sight at once."""
    return staff_reach(user, unit)


def staff_reach(user, unit) -> bool:
    """A CHANGE grant over ``unit``'s subtree that is not a grassroots clerk's: what the
    office work of a level needs (restructuring the tree, founding a fonds, filing). A clerk
    enters its own unit's data and no more."""
    line_id = getattr(unit, "line_id", None)
    for g in grants_of(user):
        if g.role == "clerk" or CHANGE not in ROLE_ACTIONS.get(g.role, set()):
            continue
        if unit.path.startswith(g.path) and (g.all_lines or line_id is None or line_id in g.line_ids):
            return True
    return False


def forget_grants(user) -> None:
    if hasattr(user, "_qunli_grants"):
        del user._qunli_grants


def _prefix(spec: ScopeSpec, name: str) -> str:
    return f"{spec.unit}__{name}" if spec.unit else name


def grant_q(spec: ScopeSpec, g: GrantInfo) -> Q:
    if g.role == "clerk":
        where = Q(**{_prefix(spec, "pk"): g.unit_id})
    else:
        where = Q(**{_prefix(spec, "path__startswith"): g.path})
    if not g.all_lines and spec.line is not None:
        # Line-neutral rows (region nodes, line-less units) stay visible inside the subtree.
        where &= Q(**{f"{spec.line}__in": sorted(g.line_ids)}) | Q(**{f"{spec.line}__isnull": True})
    return where


def scope_q(spec: ScopeSpec, user, action: str = VIEW) -> Q | None:
    """The filter for what ``user`` may do ``action`` on, or None when nothing."""
    return any_of([grant_q(spec, g) for g in grants_of(user) if action in ROLE_ACTIONS.get(g.role, set())])


def any_of(parts: list[Q]) -> Q | None:
    """The OR of row filters, or None (nothing visible) when there are none."""
    if not parts:
        return None
    q = parts[0]
    for p in parts[1:]:
        q |= p
    return q


class ScopedQuerySet(models.QuerySet):
    def visible_to(self, user, action: str = VIEW):
        q = scope_q(self.model.scope, user, action)
        return self.none() if q is None else self.filter(q)


class EitherScopeQuerySet(ScopedQuerySet):
    """Rows seen through the model's own scope or through a second one (``also``): a transfer
    batch by its sender or its receiver, an opening review by its fonds or by the archives
    keeping the item. Subclasses set ``also``."""

    also: ScopeSpec

    def visible_to(self, user, action: str = VIEW):
        q = any_of([q for q in (scope_q(self.model.scope, user, action), scope_q(self.also, user, action))
                    if q is not None])
        return self.none() if q is None else self.filter(q)


ScopedManager = models.Manager.from_queryset(ScopedQuerySet)


def can(user, action: str, obj) -> bool:
    """Whether ``user`` may do ``action`` on one object: the same rule as ``visible_to``,
    checked in Python against the loaded object so actions don't need another query."""
    spec = obj.scope
    unit = obj if not spec.unit else _resolve(obj, spec.unit)
    if unit is None:
        return False
    line_id = _resolve(obj, spec.line.replace("__id", "") + "_id") if spec.line else None
    for g in grants_of(user):
        if action not in ROLE_ACTIONS.get(g.role, set()):
            continue
        inside = unit.pk == g.unit_id if g.role == "clerk" else unit.path.startswith(g.path)
        if inside and (g.all_lines or spec.line is None or line_id is None or line_id in g.line_ids):
            return True
    return False


def _resolve(obj, lookup: str):
    value = obj
    for part in lookup.split("__"):
        value = getattr(value, part, None)
        if value is None:
            return None
    return value
