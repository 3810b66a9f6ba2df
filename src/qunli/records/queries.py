"""Read-side queries of the item list, shared by the staff pages (``records.views``) and the
staff API (``records.api``), so both show the same items for the same filters and words:

* ``listed_items`` — the list's candidates: ``Item.objects.visible_to(user)``; destroyed
  items (已销毁) only when that status is asked for. Controlled (划控) and secret items are
  *not* hidden from staff: scoping alone decides what staff see (the public rule is
  ``Item.objects.public()``, the 利用 rule is ``records.use.rule_for``);
* ``filter_items`` — the filter form's cleaned data as exact lookups (全宗, 年度, 保管期限,
  门类, 状态, 开放标识, 密级);
* ``search_ids`` — the full-text matches among those candidates, newest first, at most
  ``CAP`` + 1 of them (the count the list shows is capped like every list's);
* ``fallback_search`` — a query without an indexable word (punctuation only) filters by
  substring, as the generic list does;
* ``born_digital_only_q`` — items whose files are all born-digital (电子档案 needing no
  scanning), for the digitization figures;
* ``kept_items`` — the items kept by units the user sees (an archives' holdings after a
  transfer, a fonds' own items otherwise), for the appraisal and destruction queues."""

from django.db.models import Exists, F, OuterRef, Q

from qunli.core import search as fulltext
from qunli.core.generic import CappedPaginator
from qunli.core.scoping import VIEW

from . import search as records_search
from .models import Item, ItemFile

CAP = CappedPaginator.CAP
SEARCH_FIELDS = ("title__icontains", "archival_code__startswith", "doc_no__icontains", "note__icontains")


def listed_items(user, status: str = ""):
    """Items of fonds in reach, and — for an archives — the items it holds after accepting a
    transfer (their fonds stays the sender's). The custody check keeps the plain scope's
    query, and its indexes, for the accounts that hold nothing."""
    from .models import Custody
    from .use import reachable_items

    held = Custody.objects.visible_to(user, VIEW).exclude(unit=F("item__fonds__unit"))
    qs = reachable_items(user, VIEW) if held.exists() else Item.objects.visible_to(user, VIEW)
    if status != Item.Status.DISPOSED:  # 已销毁 only when asked for
        qs = qs.exclude(status=Item.Status.DISPOSED)
    return qs


def filter_items(qs, data: dict):
    """Each non-empty filter is an exact lookup of the same name (the generic list's rule)."""
    for key, value in data.items():
        if value not in (None, "", [], False):
            qs = qs.filter(**{key: value})
    return qs


def is_fulltext(q: str) -> bool:
    return bool(fulltext.parse(q))


def search_ids(qs, q: str) -> list[int]:
    """Ids of the items of ``qs`` whose indexed text matches ``q``, newest first (at most CAP + 1)."""
    return [h.pk for h in fulltext.search(records_search.KIND, q, qs, limit=CAP + 1, snippets=False)]


def fallback_search(qs, q: str):
    cond = Q()
    for f in SEARCH_FIELDS:
        cond |= Q(**{f: q})
    return qs.filter(cond)


def snippets(q: str, ids: list[int], width: int = 60) -> dict:
    """Highlighted snippets (everything escaped but ``<mark>``) of these items' indexed text:
    about ``width`` // 2 characters before the first match and 2 × ``width`` in all."""
    return fulltext.snippets_for(records_search.KIND, q, ids, width)


def in_order(qs, ids: list[int]) -> list:
    """The rows of ``qs`` with these ids, in the order of ``ids`` (absent ones skipped)."""
    found = {}
    for i in range(0, len(ids), 2000):
        found.update((o.pk, o) for o in qs.filter(pk__in=ids[i : i + 2000]))
    return [found[i] for i in ids if i in found]


def born_digital_only_q() -> Q:
    """Items holding a born-digital file and no scan: their original is electronic, so there
    is no paper to digitize; they count as 电子档案, outside the digitization rate."""
    files = ItemFile.objects.filter(item=OuterRef("pk"))
    return Q(Exists(files.filter(origin=ItemFile.Origin.BORN_DIGITAL))) & ~Q(
        Exists(files.filter(origin=ItemFile.Origin.SCAN)))


def kept_items(user, select_related=()):
    """Items kept by units ``user`` sees: an archives' holdings after a transfer, the fonds'
    own items otherwise — not what a fonds handed on (``actions.kept_by_q``)."""
    from .actions import kept_by_q

    qs = Item.objects.filter(kept_by_q(user, VIEW))
    return qs.select_related(*select_related) if select_related else qs
