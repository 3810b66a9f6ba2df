"""Pages for the archives: fonds with their org codes and retention schedules, the pending
list with the 归档 bulk action, the item list and detail, manual capture, and the 归档文件目录.

Reads go through ``visible_to`` (an object outside the grant is a 404); writes call
``records.actions`` (a refusal is a message or a form error, a missing right a 403)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import FileResponse, Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html
from django.views import View

from qunli.core.actions import ActionError
from qunli.core.exports import stream_xlsx
from qunli.core.generic import (
    ActionFormView,
    BusinessRequiredMixin,
    CappedPaginator,
    Column,
    ObjectDetailView,
    ObjectListView,
)
from qunli.core.models import ChangeLog
from qunli.core.params import parse_ids
from qunli.core.scoping import CHANGE, VIEW, can
from qunli.orgs.views import ObjectActionView, get_visible

from . import actions, gaps, printing, queries, use
from .filters import ItemFilterForm, PendingFilterForm
from .forms import (
    CaptureForm,
    CatalogueForm,
    FondsForm,
    GapForm,
    ItemEditForm,
    OrgCodeForm,
    RenumberForm,
    ScheduleVersionForm,
)
from .models import Custody, Fonds, Item, ItemFile, PieceGap, Retention, RetentionSchedule

# --- fonds ------------------------------------------------------------------------------------


class FondsListView(ObjectListView):
    model = Fonds
    title = "全宗"
    add_url_name = "records:fonds_add"
    export_name = "全宗"
    select_related = ("unit",)
    search_fields = ("name__icontains", "code__istartswith")
    search_placeholder = "全宗号或名称"
    default_sort = "code"
    columns = [
        Column("code", "全宗号", sort="code", link=True),
        Column("name", "全宗名称", sort="name", link=True),
        Column("unit", "立档单位", accessor="unit.name", sort="unit__name"),
    ]


class FondsAddView(ActionFormView):
    form_class = FondsForm
    template_name = "orgs/action_form.html"
    title = "建立全宗"

    def perform(self, data):
        return actions.create_fonds(self.request.user, unit=data["unit"], code=data["code"], name=data["name"])


FONDS_TABS = [("detail", "概况"), ("schedules", "保管期限表"), ("gaps", "缺号说明"), ("history", "修改记录")]


class FondsDetailView(ObjectDetailView):
    model = Fonds
    template_name = "records/fonds_detail.html"
    select_related = ("unit",)

    def extra_context_for(self, fonds) -> dict:
        user = self.request.user
        ctx = {"title": str(fonds), "tabs": FONDS_TABS, "can_change": can(user, CHANGE, fonds),
               "org_codes": list(fonds.org_codes.all())}
        ctx["counts"] = {r["status"]: r["n"] for r in fonds.items.values("status").annotate(n=Count("id"))}
        ctx["schedules"] = list(RetentionSchedule.objects.filter(unit_id=fonds.unit_id).prefetch_related("rules")
                                .order_by("-version"))
        ctx["org_form"] = OrgCodeForm(user=user)
        ctx["schedule_form"] = ScheduleVersionForm(user=user)
        ctx["catalogue_form"] = CatalogueForm(initial={"retention": Retention.PERMANENT, "category": "WS"})
        ctx["retentions"] = Retention.choices
        if self.request.GET.get("tab") == "gaps":
            ctx["gaps"] = gaps.with_filled(fonds, list(PieceGap.objects.filter(fonds=fonds).select_related(
                "fonds", "category", "org_code", "recorded_by")))
            ctx["gap_form"] = GapForm(user=user, fonds=fonds)
        return ctx


class GapAddView(ObjectActionView):
    """登记缺号说明 for one class of the fonds (``records.gaps.explain_gaps``)."""

    model = Fonds
    select_related = ("unit",)
    form_class = GapForm
    title = "登记缺号说明"
    success_message = "已登记缺号说明。"

    def form_kwargs(self) -> dict:
        return {**super().form_kwargs(), "fonds": self.get_object()}

    def perform(self, data):
        fonds = self.get_object()
        gaps.explain_gaps(self.request.user, fonds, **data)
        return fonds

    def success_url(self, fonds):
        return f"{fonds.get_absolute_url()}?tab=gaps"


class GapWithdrawView(BusinessRequiredMixin, View):
    """POST only: take back one 缺号说明."""

    def post(self, request, pk):
        gap = get_visible(PieceGap, request.user, pk, select_related=("fonds", "fonds__unit", "category", "org_code"),
                          action=CHANGE)
        gaps.withdraw_gap(request.user, gap)
        messages.success(request, f"已撤销 {gap.class_label} 件号 {gap.piece_no:04d} 的缺号说明。")
        return redirect(f"{gap.fonds.get_absolute_url()}?tab=gaps")


class OrgCodeAddView(ObjectActionView):
    model = Fonds
    select_related = ("unit",)
    form_class = OrgCodeForm
    title = "新增机构（问题）代码"
    success_message = "已新增机构（问题）代码。"

    def perform(self, data):
        actions.add_org_code(self.request.user, self.get_object(), code=data["code"], name=data["name"])
        return self.get_object()


class ScheduleAddView(ObjectActionView):
    model = Fonds
    select_related = ("unit",)
    form_class = ScheduleVersionForm
    title = "新增保管期限表版本"
    success_message = "已新增保管期限表版本。"

    def perform(self, data):
        fonds = self.get_object()
        actions.add_schedule_version(self.request.user, fonds.unit, effective_on=data["effective_on"],
                                     rules=data["rules"], note=data.get("note", ""))
        return fonds

    def success_url(self, result) -> str:
        return result.get_absolute_url() + "?tab=schedules"


# 归档文件目录 as xlsx: with the PDF in records/printing.py (one layout, a section per class)
CatalogueView = printing.CatalogueXlsxView


# --- items -----------------------------------------------------------------------------------------

ITEM_COLUMNS = [
    Column("archival_code", "档号", sort="archival_code", link=True),
    Column("title", "题名", sort="title", link=True, wrap=True),
    Column("responsible", "责任者"),
    Column("date", "日期", sort="date"),
    Column("doc_no", "文件编号"),
    Column("fonds", "全宗", accessor="fonds.code", sort="fonds__code"),
    Column("category", "门类", accessor="category.name"),
    Column("year", "年度", sort="year"),
    Column("retention", "保管期限", sort="retention"),
    Column("classification", "密级"),
    Column("openness", "开放标识"),
    Column("pages", "页数"),
    Column("status", "状态", sort="status"),
]


class _IdPaginator(Paginator):
    """Pages over the ranked ids of a search (at most CappedPaginator.CAP + 1 of them)."""

    CAP = CappedPaginator.CAP

    @property
    def capped(self) -> bool:
        return self.count > self.CAP


SNIPPET_COLUMN = Column("search_snippet", "匹配内容", display=False, link=True)  # a pending item has no 档号 to click
# the list's cells do not wrap (.table-qunli td): a snippet pushed 档号 and 题名 off a 1366 px
# screen. It now comes after them, wraps at a bounded width and is clamped to two lines
# (records/_search_snippet_style.html); cut with the match ~12 characters in, so the match is
# inside those two lines
SNIPPET_WIDTH = 24


def with_snippet(columns: list) -> list:
    """The snippet column right after 题名 (档号 and 题名 first: they tell the hits apart)."""
    at = next((n + 1 for n, c in enumerate(columns) if c.name == "title"), 0)
    return [*columns[:at], SNIPPET_COLUMN, *columns[at:]]


class ItemListView(ObjectListView):
    """``?q=`` searches the Chinese full-text index (题名, 责任者, 文件编号, 档号, 备注, files' text): the hits are
    ranked, intersected in SQL with the visible items and the filters, and shown with their
    highlighted snippets. Without ``q`` it is the plain generic list."""

    model = Item
    title = "档案条目"
    add_url_name = "records:item_add"
    export_name = "档案条目"
    filter_form = ItemFilterForm
    select_related = ("fonds", "category")
    search_fields = queries.SEARCH_FIELDS
    search_placeholder = "题名、责任者、文件编号、档号或备注（全文检索）"
    default_sort = "-pk"
    columns = ITEM_COLUMNS
    template_name = "records/item_list.html"  # the generic list with the snippet's style
    import_kind = "records_legacy"  # 历史档案目录 (records/legacy_import.py)

    def base_queryset(self):  # records.queries: the same candidates as the staff API's
        qs = queries.listed_items(self.request.user, self.request.GET.get("status", ""))
        return qs.select_related(*self.select_related)

    def apply_filters(self, qs, data: dict):
        return queries.filter_items(qs, data)

    def get(self, request, *args, **kwargs):
        q = request.GET.get("q", "").strip()
        if not queries.is_fulltext(q):
            return super().get(request, *args, **kwargs)
        self.search_fields = ()  # the generic list would apply q as icontains; here the index does
        try:
            qs, form = self.filtered_queryset()
        finally:
            del self.search_fields
        ids = queries.search_ids(qs, q)
        sort = self.request.GET.get("sort", "")
        if sort and self.sort_key() == sort:  # an explicit sort orders the matches; else newest match first
            ids = list(qs.filter(pk__in=ids).order_by(sort, "pk").values_list("pk", flat=True))
        else:
            sort = "rank"
        columns = with_snippet(self.columns)
        if request.GET.get("export") == "xlsx":
            return stream_xlsx(self.export_name, [c.label for c in self.columns],
                               ([c.value(o) for c in self.columns] for o in self._ordered(qs, ids)))
        page = _IdPaginator(ids, self.paginate_by).get_page(request.GET.get("page"))
        objs = self._ordered(qs, list(page.object_list))
        marks = queries.snippets(q, [o.pk for o in objs], width=SNIPPET_WIDTH)
        for o in objs:
            o.search_snippet = marks.get(o.pk, "")
        context = self.get_context_data(page=page, filter_form=form, sort=sort, columns=columns,
                                        rows=[(o, [c.value(o) for c in columns]) for o in objs],
                                        title=self.title, q=q, search_enabled=True,
                                        search_placeholder=self.search_placeholder,
                                        add_url_name=self.add_url_name, import_kind=self.import_kind,
                                        querystring=self._querystring())
        if request.htmx and not request.htmx.boosted:
            self.template_name = "core/_object_table.html"
        return self.render_to_response(context)

    _ordered = staticmethod(queries.in_order)


class PendingListView(ItemListView):
    title = "待归档"
    template_name = "records/pending_list.html"
    filter_form = PendingFilterForm
    export_name = "待归档"
    import_kind = ""
    columns = [c for c in ITEM_COLUMNS if c.name not in ("archival_code", "status")]

    def base_queryset(self):
        return super().base_queryset().filter(status=Item.Status.PENDING)


class FileItemsView(BusinessRequiredMixin, View):
    """The 归档 bulk action of the pending list: all the checked items, or none."""

    def post(self, request):
        ids = parse_ids(request.POST.getlist("pk"))
        back = reverse("records:pending_list")
        if not ids:
            messages.warning(request, "请先勾选要归档的条目。")
            return redirect(back)
        visible = set(Item.objects.visible_to(request.user).filter(pk__in=ids).values_list("pk", flat=True))
        if len(visible) != len(set(ids)):
            raise Http404("部分条目不存在或不在您的数据范围内。")
        try:
            out = actions.file_items(request.user, ids)
        except ActionError as e:
            named = getattr(e, "named_items", None) or []
            for n, msg in enumerate(e.messages):
                if n < len(named):  # each line links to the item it names, to complete or look at it
                    pk, why = named[n]
                    url, label = ((reverse("records:item_edit", args=[pk]), "补全著录项") if why == "missing"
                                  else (reverse("records:item_detail", args=[pk]), "查看条目"))
                    msg = format_html('{} <a class="alert-link" href="{}">{}</a>', msg, url, label)
                messages.error(request, msg)
            messages.error(request, "以上问题未解决前，所选条目均未归档。")
            return redirect(back)
        except PermissionDenied:
            messages.error(request, "您对所选条目只有查看权限，不能归档。")
            return redirect(back)
        messages.success(request, f"已归档 {out['count']} 件，分 {len(out['classes'])} 类编号。")
        from .transfer import check_after_filing  # 四性检测 at filing (归档检测)

        for run in check_after_filing(request.user, ids):
            (messages.info if run.passed else messages.warning)(request, f"归档检测（四性检测）{run.verdict}：{run.subject}。")
        return redirect(reverse("records:item_list") + "?status=filed")


SOURCE_LABELS = {"manual": "手工登记", "api": "接口登记", "legacy_import": "历史目录导入"}


def source_label(item: Item) -> str:
    """Where an item came from, in Chinese: the capture kinds by name, a business record by its
    model's verbose name (个案, 机构变动 …). ``source_type`` is a code (manual,
    casework.case) and is never shown as such."""
    kind = item.source_type
    if not kind:
        return ""
    if kind in SOURCE_LABELS:
        label = SOURCE_LABELS[kind]
    else:
        from django.apps import apps

        try:
            label = str(apps.get_model(kind)._meta.verbose_name)
        except (LookupError, ValueError):
            label = "业务系统"  # a model since removed: still no raw code on the page
    if kind == "api" and item.source_id:  # the caller's own reference number, meaningful to its users
        label = f"{label}，来源编号 {item.source_id}"
    return "" if label == item.source_repr else label


ITEM_TABS = [("detail", "著录项"), ("files", "电子文件"), ("history", "修改记录")]
ITEM_TABS.insert(2, ("preservation", "保管事件"))  # records.preservation_views: fixity, off-site, destruction


class ItemDetailView(ObjectDetailView):
    model = Item
    template_name = "records/item_detail.html"
    select_related = ("fonds__unit", "category", "org_code", "volume")

    def history(self, obj):
        cond = Q(object_type=obj._meta.label_lower, object_id=str(obj.pk))
        if obj.filing_batch:
            cond |= Q(object_type="records.filing", object_id=obj.filing_batch)
        return ChangeLog.objects.filter(cond).select_related("actor").order_by("-seq")[:100]

    def get_object(self):
        # the archives holding an item opens it too (its fonds stays the sender's)
        return use.kept_item(self.request.user, self.kwargs["pk"], self.select_related)

    def extra_context_for(self, item) -> dict:
        custody = Custody.objects.filter(item_id=item.pk).select_related("unit", "batch").first()
        # after an accepted transfer the archives keeps the item: the sender reads it, changes nothing
        keeper = custody.unit if custody else item
        # the archives holding a received item reads it, not the sender's fonds (its other items)
        ctx = {"title": str(item), "tabs": ITEM_TABS, "custody": custody,
               "can_change": can(self.request.user, CHANGE, keeper),
               "fonds_visible": can(self.request.user, VIEW, item.fonds)}
        if self.request.GET.get("tab", "detail") in ("detail", "files"):
            ctx["files"] = list(item.files.all())
            from .scan_views import annotate_files

            annotate_files(ctx["files"])
            from .scan_views import item_progress  # counted as the fonds' 数字化进度 page counts it

            origins = {f.origin for f in ctx["files"]}
            ctx["scan"] = item_progress(item.scanned_pages, item.pages,
                                        born_digital_only=origins == {ItemFile.Origin.BORN_DIGITAL})
            ctx["source_label"] = source_label(item)
        if item.status == Item.Status.DISPOSED:
            ctx["destruction_entry"] = (item.destruction_entries.filter(batch__status="executed")
                                        .select_related("batch", "appraisal").first())
        if self.request.GET.get("tab") == "preservation":
            ctx["preservation_events"] = list(item.preservation_events.select_related("run")[:200])
        return ctx


class ItemAddView(ActionFormView):
    form_class = CaptureForm
    template_name = "records/capture_form.html"
    title = "登记档案条目"

    def get_form(self, data=None):
        files = self.request.FILES if data is not None else None
        return self.form_class(data, files, **self.form_kwargs())

    def perform(self, data):
        item = actions.capture_record(
            self.request.user, unit=data["unit"], title=data["title"], responsible=data["responsible"],
            date=data["date"], doc_no=data["doc_no"], category=data["category"], retention=data["retention"] or None,
            org_code=data["org_code"], classification=data["classification"], openness=data["openness"],
            pages=data["pages"], note=data["note"], files=data["files"] or (), file_origin=data["file_origin"],
            source={"source_type": "manual", "source_repr": "手工登记"})
        messages.success(self.request, "已登记，条目待归档。")
        return item


class KeptItemMixin:
    """An item form for whoever keeps the item: its fonds' unit, or after an accepted transfer
    the archives holding it (``actions.require_keeper`` decides; a 403 here, before the form)."""

    def get_object(self):
        if not hasattr(self, "_object"):
            item = use.kept_item(self.request.user, self.kwargs["pk"], self.select_related)
            actions.require_keeper(self.request.user, item)
            self._object = item
        return self._object


class ItemFileOriginView(BusinessRequiredMixin, View):
    """POST only: correct one file's 生成方式 from the item's 电子文件 tab."""

    def post(self, request, pk):
        f = use.reachable_file(request.user, pk)
        back = f"{reverse('records:item_detail', args=[f.item_id])}?tab=files"
        try:
            actions.set_file_origin(request.user, f, origin=request.POST.get("origin", ""))
        except ActionError as e:
            for m in e.messages:
                messages.error(request, m)
            return redirect(back)
        messages.success(request, f"已将“{f.name}”的生成方式改为“{f.get_origin_display()}”，数字化进度已重新计算。")
        return redirect(back)


class ItemEditView(KeptItemMixin, ObjectActionView):
    """修改著录项 of a pending item; 更正著录项 of a filed one — the 档号 parts and the 开放标识
    are shown read-only (disabled: the posted values are ignored, the current ones kept)."""

    model = Item
    select_related = ("fonds__unit", "category", "org_code")
    form_class = ItemEditForm
    template_name = "records/item_edit.html"
    title = "修改著录项"

    def get_title(self) -> str:
        return "更正著录项" if self.get_object().is_filed else self.title

    def get_form(self, data=None):
        item = self.get_object()
        initial = {k: getattr(item, k) for k in actions.EDITABLE}
        initial.update(category=item.category.code, org_code=item.org_code.code if item.org_code_id else "")
        form = self.form_class(data, initial=initial, **self.form_kwargs())
        if item.is_filed:
            for name in actions.FILED_LOCKED:
                form.fields[name].disabled = True
                form.fields[name].help_text = ("开放标识由开放鉴定决定。" if name == "openness"
                                               else "档号的组成部分，已归档后只读。")
            form.fields["date"].help_text = f"须在{item.year}年内（年度是档号的组成部分）。"
        return form

    def perform(self, data):
        changes = {k: data.get(k) for k in actions.EDITABLE}
        return actions.update_item(self.request.user, self.get_object(), org_code=data.get("org_code") or "",
                                   category=data.get("category"), **changes)


class RenumberView(KeptItemMixin, ObjectActionView):
    model = Item
    select_related = ("fonds__unit", "category", "org_code")
    form_class = RenumberForm
    title = "调整件号"
    success_message = "件号已调整，同类条目已顺延。"

    def perform(self, data):
        return actions.renumber_item(self.request.user, self.get_object(), piece_no=data["piece_no"],
                                     reason=data["reason"])


class ItemFileDownloadView(BusinessRequiredMixin, View):
    def get(self, request, pk):
        f = use.reachable_file(request.user, pk)
        from django.core.files.storage import default_storage

        if not default_storage.exists(f.storage_name):
            raise Http404("文件在存储中缺失。")
        return FileResponse(default_storage.open(f.storage_name), as_attachment=True, filename=f.name,
                            content_type=f.mime)
