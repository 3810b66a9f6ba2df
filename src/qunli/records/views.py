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
from qunli.core.scoping import CHANGE, can
from qunli.orgs.views import ObjectActionView, get_visible

from . import actions, queries
from .filters import ItemFilterForm, PendingFilterForm
from .forms import (
    CaptureForm,
    CatalogueForm,
    FondsForm,
    ItemEditForm,
    OrgCodeForm,
    RenumberForm,
    ScheduleVersionForm,
)
from .models import Fonds, Item, ItemFile, Retention, RetentionSchedule

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


FONDS_TABS = [("detail", "概况"), ("schedules", "保管期限表"), ("history", "修改记录")]


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
        return ctx


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


CATALOGUE_HEADERS = ["件号", "档号", "文号", "责任者", "题名", "日期", "密级", "页数", "备注"]


class CatalogueView(BusinessRequiredMixin, View):
    """归档文件目录 (DA/T 22) of one fonds, year, retention (and 门类) as xlsx; destroyed entries
    stay in it, marked 已销毁 in 备注."""

    def get(self, request, pk):
        fonds = get_visible(Fonds, request.user, pk)
        form = CatalogueForm(request.GET)
        if not form.is_valid():
            messages.error(request, "请填写年度和保管期限。")
            return redirect(fonds.get_absolute_url())
        d = form.cleaned_data
        qs = (Item.objects.visible_to(request.user).filter(fonds=fonds, year=d["year"], retention=d["retention"],
                                                           status__in=(Item.Status.FILED, Item.Status.DISPOSED))
              .select_related("org_code").order_by("org_code__code", "piece_no"))
        if d.get("category"):
            qs = qs.filter(category__code=d["category"])

        def remark(i):  # a destroyed entry stays in the catalogue with its 件号, marked 已销毁
            if i.status != Item.Status.DISPOSED:
                return i.note
            return f"已销毁；{i.note}" if i.note else "已销毁"

        rows = ([i.piece_no, i.archival_code, i.doc_no, i.responsible, i.title, f"{i.date:%Y%m%d}" if i.date else "",
                 i.get_classification_display(), i.pages, remark(i)] for i in qs.iterator(chunk_size=2000))
        return stream_xlsx(f"归档文件目录-{fonds.code}-{d['year']}-{d['retention']}", CATALOGUE_HEADERS, rows)


# --- items -----------------------------------------------------------------------------------------

ITEM_COLUMNS = [
    Column("archival_code", "档号", sort="archival_code", link=True),
    Column("title", "题名", sort="title", link=True),
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


class ItemListView(ObjectListView):
    """``?q=`` searches the Chinese full-text index (题名, 责任者, 文件编号, 档号): the hits are
    ranked, intersected in SQL with the visible items and the filters, and shown with their
    highlighted snippets. Without ``q`` it is the plain generic list."""

    model = Item
    title = "档案条目"
    add_url_name = "records:item_add"
    export_name = "档案条目"
    filter_form = ItemFilterForm
    select_related = ("fonds", "category")
    search_fields = queries.SEARCH_FIELDS
    search_placeholder = "题名、责任者、文件编号或档号（全文检索）"
    default_sort = "-pk"
    columns = ITEM_COLUMNS
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
        columns = [SNIPPET_COLUMN, *self.columns]
        if request.GET.get("export") == "xlsx":
            return stream_xlsx(self.export_name, [c.label for c in self.columns],
                               ([c.value(o) for c in self.columns] for o in self._ordered(qs, ids)))
        page = _IdPaginator(ids, self.paginate_by).get_page(request.GET.get("page"))
        objs = self._ordered(qs, list(page.object_list))
        marks = queries.snippets(q, [o.pk for o in objs])
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
            for msg in e.messages:
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

    def extra_context_for(self, item) -> dict:
        ctx = {"title": str(item), "tabs": ITEM_TABS, "can_change": can(self.request.user, CHANGE, item)}
        if self.request.GET.get("tab", "detail") in ("detail", "files"):
            ctx["files"] = list(item.files.all())
            from .scan_views import annotate_files

            annotate_files(ctx["files"])
            ctx["scan_rate"] = round(100 * min(item.scanned_pages, item.pages) / item.pages) if item.pages else 0
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
            pages=data["pages"], note=data["note"], files=data["files"] or (),
            source={"source_type": "manual", "source_repr": "手工登记"})
        messages.success(self.request, "已登记，条目待归档。")
        return item


class ItemEditView(ObjectActionView):
    model = Item
    select_related = ("fonds__unit", "category", "org_code")
    form_class = ItemEditForm
    title = "修改著录项"

    def get_form(self, data=None):
        item = self.get_object()
        initial = {k: getattr(item, k) for k in actions.EDITABLE}
        initial.update(category=item.category.code, org_code=item.org_code.code if item.org_code_id else "")
        return self.form_class(data, initial=initial, **self.form_kwargs())

    def perform(self, data):
        changes = {k: data.get(k) for k in actions.EDITABLE}
        return actions.update_item(self.request.user, self.get_object(), org_code=data.get("org_code") or "",
                                   category=data.get("category"), **changes)


class RenumberView(ObjectActionView):
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
        f = get_visible(ItemFile, request.user, pk)
        from django.core.files.storage import default_storage

        if not default_storage.exists(f.storage_name):
            raise Http404("文件在存储中缺失。")
        return FileResponse(default_storage.open(f.storage_name), as_attachment=True, filename=f.name,
                            content_type=f.mime)
