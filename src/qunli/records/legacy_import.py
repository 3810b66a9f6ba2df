"""Bulk import of legacy catalogues (历史目录, xlsx/csv) through the one import engine
(``core.imports``: template, dry run, row errors in Chinese, all or nothing).

Each row is an item already filed on paper, with its 档号: the code is parsed with the fonds'
format (``records.numbering``) and gives the item's 门类, 年度, 保管期限, 机构代码 and 件号;
a 档号 already in the database or twice in the file is refused. Gaps in the 件号 of a class
(counting the items already in the database) are reported as warnings, not errors: legacy
holdings have them. The class counters (``FilingCounter``) are raised to the highest 件号
imported, so later filings continue after it. An optional 案卷档号 (+ 案卷题名) puts the item in
a volume (案卷) of legacy paper, created on first use."""

from __future__ import annotations

from django.db.models import Max

from qunli.core.imports import Col, Importer, RowError, p_choice, p_date, p_text
from qunli.records.public import SECRET_LEVELS

MAX_GAPS_LISTED = 20


def _numbered():
    """Statuses holding a 件号 in their class: filed, and destroyed (its entry and 件号 stay)."""
    from .models import Item

    return (Item.Status.FILED, Item.Status.DISPOSED)


def _p_pages(v: str) -> int:
    if not v.isdecimal() or int(v) < 1:
        raise RowError(f"页数“{v}”应为正整数")
    return int(v)


class LegacyCatalogueImporter(Importer):
    kind = "records_legacy"
    label = "历史档案目录"
    model_label = "records.item"

    def __init__(self):
        from .models import Classification, Openness

        self.columns = [
            Col("全宗号", "fonds", True, p_text(20), "本系统中已建立的全宗号", "J001"),
            Col("档号", "archival_code", True, p_text(60), "须符合该全宗的档号格式", "J001-WS·2015-Y-BGS-0001",
                text=True),
            Col("题名", "title", True, p_text(300), "", "关于召开第十次妇女代表大会的通知"),
            Col("责任者", "responsible", True, p_text(100), "", "示范县妇联"),
            Col("日期", "date", True, p_date, "年度须与档号一致", "2015-03-08"),
            Col("文件编号", "doc_no", False, p_text(60), "", "示妇发〔2015〕3号", ("文号",)),
            Col("密级", "classification", False, p_choice(Classification), "公开、内部、秘密、机密；默认内部", "内部"),
            Col("开放标识", "openness", False, p_choice(Openness), "开放、控制、待定；默认待定", "待定"),
            Col("页数", "pages", True, _p_pages, "", "3"),
            Col("备注", "note", False, p_text(200), "", ""),
            Col("案卷档号", "volume", False, p_text(60), "纸质案卷的档号（可选）", "", text=True),
            Col("案卷题名", "volume_title", False, p_text(300), "", ""),
        ]

    def prepare(self, user):
        from .models import Category, Fonds

        ctx = super().prepare(user)
        visible = set(Fonds.objects.visible_to(user, "change").values_list("id", flat=True))
        fonds = {}
        for f in Fonds.objects.filter(pk__in=visible).prefetch_related("org_codes"):
            fonds[f.code] = f
        ctx.extra.update(fonds=fonds, categories=dict(Category.objects.values_list("code", "id")),
                         classes={}, volumes={})
        return ctx

    def validate_row(self, row, ctx):
        from . import numbering

        cleaned = self.clean_or_raise(row)
        fonds = ctx.extra["fonds"].get(cleaned["fonds"].upper())
        if fonds is None:
            raise RowError("全宗不存在或不在您的权限范围内", "全宗号")
        code = cleaned["archival_code"]
        try:
            p = numbering.parse_archival_code(code, fonds)
        except numbering.CodeFormatError as e:
            raise RowError(str(e), "档号") from None
        if p.category not in ctx.extra["categories"]:
            raise RowError(f"档号中的门类代码“{p.category}”不存在", "档号")
        org_id = None
        if p.org:
            org_id = next((o.id for o in fonds.org_codes.all() if o.code == p.org), None)
            if org_id is None:
                raise RowError(f"全宗{fonds.code}没有机构（问题）代码“{p.org}”，请先在全宗中新增", "档号")
        if cleaned["date"].year != p.year:
            raise RowError(f"日期年度{cleaned['date'].year}与档号中的年度{p.year}不一致", "日期")
        if cleaned.get("openness") == "open" and cleaned.get("classification") in SECRET_LEVELS:
            raise RowError("涉密档案（秘密、机密）不能标为开放：须先解密，再经开放鉴定", "开放标识")
        first = ctx.first_seen(("code", code), row["_row"])
        if first is not None:
            raise RowError(f"与第{first}行重复（档号相同）", "档号")
        first = ctx.first_seen(("piece", fonds.pk, p.category, p.year, p.retention, p.org, p.piece), row["_row"])
        if first is not None:
            raise RowError(f"与第{first}行的件号重复（同一类别中件号{p.piece}出现两次）", "档号")
        vol = cleaned.get("volume", "")
        if vol:
            known = ctx.extra["volumes"].get(vol)
            if known is not None and known != fonds.pk:
                raise RowError(f"案卷“{vol}”在本文件中属于另一个全宗", "案卷档号")
            ctx.extra["volumes"][vol] = fonds.pk
        cleaned.update(fonds_id=fonds.pk, category_id=ctx.extra["categories"][p.category], year=p.year,
                       retention=p.retention, org_id=org_id, org=p.org, piece_no=p.piece)
        ctx.extra["classes"].setdefault((fonds.pk, cleaned["category_id"], p.year, p.retention, p.org),
                                        set()).add(p.piece)
        return cleaned

    def check_batch(self, batch, ctx):
        from .models import Item, Volume

        codes = [c["archival_code"] for _, c in batch]
        taken = set()
        for i in range(0, len(codes), 900):
            taken.update(Item.objects.filter(archival_code__in=codes[i:i + 900]).values_list("archival_code", flat=True))
        out = {n: RowError("该档号已存在，不能重复导入", "档号") for n, c in batch if c["archival_code"] in taken}
        vols = {c["volume"] for _, c in batch if c.get("volume")}
        if vols:
            other = dict(Volume.objects.filter(archival_code__in=vols).values_list("archival_code", "fonds_id"))
            for n, c in batch:
                v = c.get("volume")
                if v and v in other and other[v] != c["fonds_id"]:
                    out.setdefault(n, RowError(f"案卷“{v}”已属于另一个全宗", "案卷档号"))
        pieces = {}
        for _, c in batch:
            pieces.setdefault((c["fonds_id"], c["category_id"], c["year"], c["retention"], c["org_id"]),
                              set()).add(c["piece_no"])
        for (fid, cid, year, ret, org_id), nos in pieces.items():
            clash = set(Item.objects.filter(fonds_id=fid, category_id=cid, year=year, retention=ret, org_code_id=org_id,
                                            status__in=_numbered(), piece_no__in=nos)
                        .values_list("piece_no", flat=True))
            for n, c in batch:
                if (c["fonds_id"], c["category_id"], c["year"], c["retention"], c["org_id"]) == \
                        (fid, cid, year, ret, org_id) and c["piece_no"] in clash:
                    out.setdefault(n, RowError(f"该类别中件号{c['piece_no']}已被其他条目占用", "档号"))
        return out

    def write_batch(self, actor, batch, ctx):
        from django.utils import timezone

        from .models import Classification, Item, Openness, Volume

        now = timezone.now()
        vol_ids = ctx.extra.setdefault("volume_ids", {})
        for _, c in batch:
            v = c.get("volume")
            if v and v not in vol_ids:
                vol, _created = Volume.objects.get_or_create(
                    archival_code=v, defaults={"fonds_id": c["fonds_id"], "title": c.get("volume_title", ""),
                                               "year": c["year"], "retention": c["retention"]})
                vol_ids[v] = vol.pk
        objs = [Item(fonds_id=c["fonds_id"], category_id=c["category_id"], year=c["year"], retention=c["retention"],
                     org_code_id=c["org_id"], piece_no=c["piece_no"], archival_code=c["archival_code"],
                     title=c["title"], responsible=c["responsible"], date=c["date"], doc_no=c.get("doc_no", ""),
                     classification=c.get("classification") or Classification.INTERNAL,
                     openness=c.get("openness") or Openness.PENDING, pages=c["pages"], note=c.get("note", ""),
                     status=Item.Status.FILED, filed_at=now, filing_batch="legacy", source_type="legacy_import",
                     source_repr="历史目录导入", volume_id=vol_ids.get(c.get("volume")) if c.get("volume") else None)
                for _, c in batch]
        created = Item.objects.bulk_create(objs, batch_size=500)
        ids = [o.pk for o in created if o.pk]
        if not ids:  # backends that do not return ids: find them by code
            ids = list(Item.objects.filter(archival_code__in=[o.archival_code for o in objs])
                       .values_list("pk", flat=True))
        ctx.extra.setdefault("item_ids", []).extend(ids)
        return ids

    def finish(self, ctx):
        """Raise each class counter to its highest 件号 and index the new items."""
        from . import search
        from .actions import _locked_counters
        from .models import FilingCounter, Item

        keys = [{"fonds_id": f, "category_id": c, "year": y, "retention": r, "org": o}
                for (f, c, y, r, o) in ctx.extra["classes"]]
        if keys:
            counters = _locked_counters(keys)
            for k in keys:
                org_filter = {"org_code__code": k["org"]} if k["org"] else {"org_code__isnull": True}
                top = Item.objects.filter(fonds_id=k["fonds_id"], category_id=k["category_id"], year=k["year"],
                                          retention=k["retention"], status__in=_numbered(), **org_filter) \
                    .aggregate(m=Max("piece_no"))["m"] or 0
                counter = counters[(k["fonds_id"], k["category_id"], k["year"], k["retention"], k["org"])]
                if top > counter.last_no:
                    FilingCounter.objects.filter(pk=counter.pk).update(last_no=top)
        search.enqueue(ctx.extra.get("item_ids", []))

    def warnings(self, ctx) -> list[str]:
        """Gaps in the 件号 of each class of the file (with the items already filed), but for
        those a 缺号说明 already explains (``records.gaps``), where the others can be explained."""
        from .models import Item, PieceGap

        out = []
        cats = {v: k for k, v in ctx.extra["categories"].items()}
        codes = {f.pk: f.code for f in ctx.extra["fonds"].values()}
        for (fid, cid, year, ret, org), nos in sorted(ctx.extra["classes"].items(), key=lambda kv: str(kv[0])):
            org_filter = {"org_code__code": org} if org else {"org_code__isnull": True}
            existing = set(Item.objects.filter(fonds_id=fid, category_id=cid, year=year, retention=ret,
                                               status__in=_numbered(), **org_filter)
                           .values_list("piece_no", flat=True))
            have = nos | existing
            explained = set(PieceGap.objects.filter(fonds_id=fid, category_id=cid, year=year, retention=ret,
                                                    **org_filter).values_list("piece_no", flat=True))
            missing = sorted(set(range(1, max(have) + 1)) - have - explained)
            if missing:
                label = f"{codes.get(fid, fid)}-{cats.get(cid, cid)}·{year}-{ret}" + (f"-{org}" if org else "")
                shown = "、".join(str(n) for n in missing[:MAX_GAPS_LISTED])
                more = f" 等{len(missing)}个" if len(missing) > MAX_GAPS_LISTED else ""
                out.append(f"{label} 缺少件号 {shown}{more}（无法补齐的，可在全宗的“缺号说明”中登记原因）")
        return out


def register() -> None:
    from qunli.core import imports

    imports.IMPORTERS.setdefault(LegacyCatalogueImporter.kind, LegacyCatalogueImporter)
