"""Holdings statistics (馆藏统计) in the shape of the annual archives statistics report
(档案馆（室）基本情况年报): per fonds — items held by retention, digitized items (with a scan of
the paper) and rate over the paper items, born-digital items (电子档案), electronic volume, items filed, destroyed and used in the year — plus breakdowns by 门类,
年度 and 保管期限.

Two sets are counted, each a row per fonds:

* the fonds in reach (``Item.objects.visible_to(user)``): an item handed to an archives (a
  ``Custody`` row naming another unit) is no longer held by its fonds' unit — it leaves 馆藏
  and is counted under 已移交;
* what units in reach hold in custody after accepting a transfer (``Custody.objects
  .visible_to(user)``): the receiving archives' 馆藏, one row per (archives, fonds) named
  "全宗名称（某档案馆保管）", its 本年归档 being the items received in the year.

An account reaching both sides sees both rows: each held item is counted once, in the row of
the unit that holds it.

Use (利用) figures come from the 利用 register (``records.use.figures_by_holder``): 人次 =
requests made in the year, 件次 = their approved items, each counted for the unit that
provided it."""

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce

from .models import Custody, Item, ItemFile, Retention
from .queries import born_digital_only_q


def access_figures(user, keys: list[tuple[int, int]], year: int) -> dict[tuple[int, int], dict[str, int]]:
    """Use figures per (holder unit id, fonds id)."""
    from .use import figures_by_holder

    return figures_by_holder(keys, year, user)


FILED = Q(status=Item.Status.FILED)
# handed to an archives (移交): a Custody row naming a unit other than the fonds' own
TRANSFERRED = FILED & Q(custody__isnull=False) & ~Q(custody__unit=F("fonds__unit"))
HELD = FILED & (Q(custody__isnull=True) | Q(custody__unit=F("fonds__unit")))


def _held_counts():
    return dict(total=Count("id", filter=HELD),
                y=Count("id", filter=HELD & Q(retention=Retention.PERMANENT)),
                d30=Count("id", filter=HELD & Q(retention=Retention.D30)),
                d10=Count("id", filter=HELD & Q(retention=Retention.D10)))


def received_items(user):
    """Items held in custody by a unit in reach after an accepted transfer from another unit
    (the receiving archives' holdings; the fonds stays the sender's)."""
    return Item.objects.filter(custody__in=Custody.objects.visible_to(user)).exclude(custody__unit=F("fonds__unit"))


def annual_report(user, year: int, fonds=None) -> dict:
    """The report rows per fonds (and per receiving archives) and a total row, plus the breakdowns."""
    items = Item.objects.visible_to(user)
    received = received_items(user).filter(FILED)
    if fonds is not None:
        items, received = items.filter(fonds=fonds), received.filter(fonds=fonds)
    per_fonds = list(items.values("fonds_id", "fonds__code", "fonds__name", holder_id=F("fonds__unit_id"))
                     .order_by("fonds__code").annotate(
        **_held_counts(),
        pending=Count("id", filter=Q(status=Item.Status.PENDING)),
        # what it still holds: an item filed and handed on in the year is the receiver's 本年归档
        # (received), so a total over both rows counts it once
        filed_in_year=Count("id", filter=HELD & Q(filed_at__year=year)),
        disposed=Count("id", filter=Q(status=Item.Status.DISPOSED)),
        transferred=Count("id", filter=TRANSFERRED),
        pages=Sum("pages", filter=HELD)))
    by_receiver = list(received.values("fonds_id", "fonds__code", "fonds__name", holder_id=F("custody__unit_id"),
                                       holder_name=F("custody__unit__name"))
                       .order_by("fonds__code", "custody__unit_id").annotate(
        total=Count("id"), y=Count("id", filter=Q(retention=Retention.PERMANENT)),
        d30=Count("id", filter=Q(retention=Retention.D30)), d10=Count("id", filter=Q(retention=Retention.D10)),
        filed_in_year=Count("id", filter=Q(custody__since__year=year)),  # received in the year
        pages=Sum("pages")))
    for r in by_receiver:  # nothing pending, destroyed or handed on is the receiver's to count here
        r.update(pending=0, disposed=0, transferred=0, fonds__name=f"{r['fonds__name']}（{r.pop('holder_name')}保管）")
    # one held set: what the fonds' units keep, and what archives in reach received
    held = Item.objects.filter(Q(pk__in=items.filter(HELD).values("pk")) | Q(pk__in=received.values("pk")))
    # the holder of a held item is its custodian when there is one, else its fonds' unit
    files = ItemFile.objects.filter(item__in=held.values("pk"))
    digitized = {(r["h"], r["item__fonds_id"]): r for r in files.values(
        "item__fonds_id", h=Coalesce("item__custody__unit_id", "item__fonds__unit_id")).order_by().annotate(
        items=Count("item_id", distinct=True, filter=Q(origin=ItemFile.Origin.SCAN)), bytes=Sum("size"))}
    electronic = {(r["h"], r["fonds_id"]): r["n"] for r in held.filter(born_digital_only_q()).values(
        "fonds_id", h=Coalesce("custody__unit_id", "fonds__unit_id")).order_by().annotate(n=Count("id"))}
    all_rows = sorted(per_fonds + by_receiver, key=lambda r: r["fonds__code"])  # stable: the fonds' own row first
    use = access_figures(user, [(r["holder_id"], r["fonds_id"]) for r in all_rows], year)
    rows = []
    for r in all_rows:
        key = (r["holder_id"], r["fonds_id"])
        d = digitized.get(key, {})
        born = electronic.get(key, 0)
        rows.append({**r, "pages": r["pages"] or 0, "digitized": d.get("items", 0), "electronic": born,
                     "mb": round((d.get("bytes") or 0) / 1024 / 1024, 2),
                     "rate": _rate(d.get("items", 0), r["total"] - born),
                     "use_persons": use[key]["persons"], "use_items": use[key]["items"]})
    keys = ("total", "y", "d30", "d10", "pending", "filed_in_year", "disposed", "pages", "digitized", "electronic",
            "mb", "use_persons", "use_items", "transferred")
    total = {k: sum(r[k] for r in rows) for k in keys}
    total["mb"] = round(total["mb"], 2)
    total["rate"] = _rate(total["digitized"], total["total"] - total["electronic"])
    return {
        "year": year, "rows": rows, "total": total, "fonds_count": len({r["fonds_id"] for r in rows}),
        "by_category": list(held.values("category__code", "category__name").order_by("category__order")
                            .annotate(n=Count("id"))),
        "by_year": list(held.values("year").order_by("-year").annotate(n=Count("id"))),
        "by_retention": [{"retention": dict(Retention.choices)[r["retention"]], "n": r["n"]}
                         for r in held.values("retention").order_by("retention").annotate(n=Count("id"))
                         if r["retention"]],
    }


def _rate(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


REPORT_COLUMNS = [
    ("fonds__code", "全宗号"), ("fonds__name", "全宗名称"), ("total", "馆（室）藏档案（件）"),
    ("y", "其中：永久"), ("d30", "定期30年"), ("d10", "定期10年"), ("pages", "页数"),
    ("filed_in_year", "本年归档（件）"), ("pending", "待归档（件）"), ("digitized", "已数字化（件）"),
    ("rate", "数字化率（按件，%）"), ("electronic", "电子档案（件）"), ("mb", "电子文件（MB）"), ("disposed", "累计销毁（件）"),
    ("use_persons", "本年利用（人次）"), ("use_items", "本年利用（件次）"), ("transferred", "已移交（件）"),
]
