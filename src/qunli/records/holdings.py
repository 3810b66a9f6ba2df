"""Holdings statistics (馆藏统计) in the shape of the annual archives statistics report
(档案馆（室）基本情况年报): per fonds — items held by retention, digitized items and rate,
electronic volume, items filed, destroyed and used in the year — plus breakdowns by 门类,
年度 and 保管期限. Everything is counted over ``Item.objects.visible_to(user)``. An item
handed to an archives (a ``Custody`` row naming another unit) is no longer held by its fonds'
unit: it leaves 馆藏 and is counted under 已移交.

Use (利用) figures per fonds come from the 利用 register (``records.use.figures_by_fonds``):
人次 = requests made in the year, 件次 = their approved items."""

from django.db.models import Count, F, Q, Sum

from .models import Item, ItemFile, Retention


def access_figures(user, fonds_ids: list[int], year: int) -> dict[int, dict[str, int]]:
    from .use import figures_by_fonds

    return figures_by_fonds(fonds_ids, year, user)


FILED = Q(status=Item.Status.FILED)
# handed to an archives (移交): a Custody row naming a unit other than the fonds' own
TRANSFERRED = FILED & Q(custody__isnull=False) & ~Q(custody__unit=F("fonds__unit"))
HELD = FILED & (Q(custody__isnull=True) | Q(custody__unit=F("fonds__unit")))


def _held_counts():
    return dict(total=Count("id", filter=HELD),
                y=Count("id", filter=HELD & Q(retention=Retention.PERMANENT)),
                d30=Count("id", filter=HELD & Q(retention=Retention.D30)),
                d10=Count("id", filter=HELD & Q(retention=Retention.D10)))


def annual_report(user, year: int, fonds=None) -> dict:
    """The report rows per fonds and a total row, plus the breakdowns."""
    items = Item.objects.visible_to(user)
    if fonds is not None:
        items = items.filter(fonds=fonds)
    per_fonds = list(items.values("fonds_id", "fonds__code", "fonds__name").order_by("fonds__code").annotate(
        **_held_counts(),
        pending=Count("id", filter=Q(status=Item.Status.PENDING)),
        filed_in_year=Count("id", filter=FILED & Q(filed_at__year=year)),
        disposed=Count("id", filter=Q(status=Item.Status.DISPOSED)),
        transferred=Count("id", filter=TRANSFERRED),
        pages=Sum("pages", filter=HELD)))
    files = ItemFile.objects.filter(item__in=items.filter(HELD).values("pk"))
    digitized = {r["item__fonds_id"]: r for r in files.values("item__fonds_id").order_by().annotate(
        items=Count("item_id", distinct=True), bytes=Sum("size"))}
    use = access_figures(user, [r["fonds_id"] for r in per_fonds], year)
    rows = []
    for r in per_fonds:
        d = digitized.get(r["fonds_id"], {})
        rows.append({**r, "pages": r["pages"] or 0, "digitized": d.get("items", 0),
                     "mb": round((d.get("bytes") or 0) / 1024 / 1024, 2),
                     "rate": _rate(d.get("items", 0), r["total"]),
                     "use_persons": use[r["fonds_id"]]["persons"], "use_items": use[r["fonds_id"]]["items"]})
    keys = ("total", "y", "d30", "d10", "pending", "filed_in_year", "disposed", "pages", "digitized", "mb",
            "use_persons", "use_items", "transferred")
    total = {k: sum(r[k] for r in rows) for k in keys}
    total["mb"] = round(total["mb"], 2)
    total["rate"] = _rate(total["digitized"], total["total"])
    held = items.filter(HELD)
    return {
        "year": year, "rows": rows, "total": total, "fonds_count": len(rows),
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
    ("rate", "数字化率（%）"), ("mb", "电子文件（MB）"), ("disposed", "累计销毁（件）"),
    ("use_persons", "本年利用（人次）"), ("use_items", "本年利用（件次）"), ("transferred", "已移交（件）"),
]
