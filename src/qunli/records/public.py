"""The one definition of what the public may see of the archives.

``Item.objects.public()`` is the sole source of every public path — the portal catalogue
(list, search, detail, xlsx export), the public API, online requests and automatic approval
of use. An item is public only when all of these hold:

* it is filed (``status == "filed"``): pending items, and any later status such as a
  destroyed one, are out — whatever is not plainly 已归档 never reaches the public;
* its 开放标识 is 开放 (``openness == "open"``): 控制使用 (划控) and 待定 items never appear;
* its 密级 is not 秘密 or 机密;
* no registered exclusion matches it (``exclude_from_public``): a module that adds a state
  which must hide an item without a new status registers a function returning a ``Q`` of
  the items to hide, once, at import time. (Destruction needs none: a destroyed item is
  ``disposed``, not filed.)

Nothing public reads ``Item.objects`` any other way; the leak tests in
``records/tests/test_public_leaks.py`` try every public path with a controlled, a pending,
a secret and an unfiled item."""

from collections.abc import Callable

from django.db.models import Q

from qunli.core.scoping import ScopedQuerySet

SECRET_LEVELS = ("secret", "confidential")

_EXCLUSIONS: list[Callable[[], Q]] = []


def exclude_from_public(fn: Callable[[], Q]) -> Callable[[], Q]:
    """Register ``fn() -> Q`` naming items that must never be public (usable as a decorator)."""
    if fn not in _EXCLUSIONS:
        _EXCLUSIONS.append(fn)
    return fn


def public_q() -> Q:
    return Q(status="filed", openness="open") & ~Q(classification__in=SECRET_LEVELS)


class ItemQuerySet(ScopedQuerySet):
    def public(self):
        qs = self.filter(public_q())
        for fn in _EXCLUSIONS:
            qs = qs.exclude(fn())
        return qs

