"""Pages for preservation: fixity runs and problems (with restore from the off-site copy),
the appraisal list of expired items, destruction batches with their 销毁清册 (xlsx, PDF) and
approvals, and the holdings statistics. Reads through ``visible_to``; writes through
``records.destruction`` / ``records.offsite`` actions."""

import io
import tempfile

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import FileResponse, Http404
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView

from qunli.core.actions import ActionError
from qunli.core.exports import stream_xlsx
from qunli.core.generic import (
    BusinessRequiredMixin,
    Column,
    ObjectDetailView,
    ObjectListView,
    message_action_error,
)
from qunli.core.params import parse_id, parse_ids
from qunli.core.scoping import CHANGE, VIEW, can
from qunli.orgs.views import get_visible

from . import destruction, holdings, offsite, use
from .actions import kept_by_q, require_keeper
from .checks import size_label
from .filters import ItemFilterForm
from .models import (
    DestructionBatch,
    FixityRun,
    Item,
    PreservationEvent,
    Retention,
)
from .queries import kept_items
from .views import ITEM_COLUMNS


def _checked(request) -> list[int]:
    return parse_ids(request.POST.getlist("pk"))


# --- fixity -----------------------------------------------------------------------------------

# the events that speak for the primary copy of a stored object (a fixity check, a restore) and
# those that speak for the off-site copy (sync, verify): a later good event of the same family
# settles an earlier problem, one of the other family does not
PRIMARY = (PreservationEvent.Kind.FIXITY, PreservationEvent.Kind.RESTORE)
OFFSITE = (PreservationEvent.Kind.OFFSITE_SYNC, PreservationEvent.Kind.OFFSITE_VERIFY)


def _same_object(family):
    """Events of ``family`` for the outer event's item and stored object."""
    return PreservationEvent.objects.filter(item_id=OuterRef("item_id"), storage_name=OuterRef("storage_name"),
                                            kind__in=family)


def open_problems(events, limit: int = 200) -> list:
    """One row per problem still open: the latest event of its item, stored object and family,
    when that event is not 正常. A file found altered by three runs is one problem (``times``
    counts the events that found it since it was last good); restored from the off-site copy
    (verified), it is settled and leaves the list."""
    ok = PreservationEvent.Outcome.OK
    rows = []
    for family in (PRIMARY, OFFSITE):
        last_good = _same_object(family).filter(outcome=ok).order_by("-pk").values("pk")[:1]
        times = (_same_object(family).filter(pk__gt=Coalesce(Subquery(last_good), 0)).exclude(outcome=ok)
                 .values("item_id").annotate(n=Count("pk")).values("n"))
        rows += list(events.filter(kind__in=family).exclude(outcome=ok)
                     .filter(~Exists(_same_object(family).filter(pk__gt=OuterRef("pk"))))
                     .annotate(times=Subquery(times)).select_related("item__fonds__unit", "run")
                     .order_by("-pk")[:limit])
    return sorted(rows, key=lambda e: -e.pk)[:limit]


def settled_problems(events):
    """Problems settled by a verified restore (the off-site bytes matched the catalogue before
    they replaced the primary): the restore events, newest first."""
    return events.filter(kind=PreservationEvent.Kind.RESTORE, outcome=PreservationEvent.Outcome.OK).order_by("-pk")


class FixityView(BusinessRequiredMixin, TemplateView):
    """Runs (those over all the storage, and those of a visible fonds), the problems still open
    in the items the user may see (once each, however many runs found them), and the problems
    recently settled by a restore. ``?run=`` shows what one run found, each marked open or 已恢复."""

    template_name = "records/preservation_fixity.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        fonds = use.fonds_for_use(user, VIEW)  # an archives sees the runs over the fonds it holds items of
        runs = list(FixityRun.objects.filter(Q(fonds__isnull=True) | Q(fonds__in=fonds))
                    .select_related("fonds")[:30])
        for r in runs:  # the outcomes count item files (one event each), not stored objects
            r.files_checked = r.ok_count + r.mismatch_count + r.missing_count
            r.size_label = size_label(r.bytes_checked)
        visible = PreservationEvent.objects.visible_to(user)
        run_id = parse_id(self.request.GET.get("run"))
        if run_id is not None:  # what that run found, each marked settled once a later event was good
            later_good = _same_object(PRIMARY).filter(pk__gt=OuterRef("pk"), outcome=PreservationEvent.Outcome.OK)
            problems = list(visible.filter(run_id=run_id).exclude(outcome=PreservationEvent.Outcome.OK)
                            .annotate(settled=Exists(later_good)).select_related("item__fonds__unit", "run")[:200])
            settled = []
        else:
            problems = open_problems(visible)
            for p in problems:
                p.settled = False
            settled = list(settled_problems(visible).select_related("item__fonds__unit")[:20])
        # the unit keeping the item restores it: after a transfer the archives, not the sender
        kept = set(Item.objects.filter(pk__in={p.item_id for p in problems}).filter(kept_by_q(user))
                   .values_list("pk", flat=True)) if problems else set()
        for p in problems:
            p.can_restore = (not p.settled and p.item_id in kept and p.kind in PRIMARY
                             and bool(p.storage_name))
        return super().get_context_data(title="固定性检查", runs=runs, problems=problems, settled=settled,
                                         offsite_store=offsite.configured_store(), **kwargs)


class RestoreView(BusinessRequiredMixin, View):
    """Restore the stored object of a problem event from the off-site copy (verified first)."""

    def post(self, request, pk):
        event = get_visible(PreservationEvent, request.user, pk, select_related=("item__fonds__unit",))
        require_keeper(request.user, event.item)
        if not event.storage_name:
            raise Http404("该事件没有对应的存储对象。")
        try:
            out = offsite.restore(request.user, event.storage_name)
            messages.success(request, f"已从异地副本恢复（原文件{out['was']}），摘要核验一致。")
        except ActionError as e:
            message_action_error(request, e)
        return redirect("records:fixity")


# --- appraisal ----------------------------------------------------------------------------------

class _ExpiredFilter(ItemFilterForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("status", "openness", "classification"):
            del self.fields[name]


APPRAISAL_COLUMNS = [c for c in ITEM_COLUMNS if c.name not in ("status", "openness", "classification")]


class AppraisalListView(ObjectListView):
    """Filed D10/D30 items whose retention has ended and that await an appraisal."""

    model = Item
    title = "到期鉴定"
    template_name = "records/preservation_appraisal.html"
    filter_form = _ExpiredFilter
    select_related = ("fonds", "category")
    search_fields = ("title__icontains", "archival_code__startswith")
    search_placeholder = "题名或档号"
    default_sort = "archival_code"
    columns = APPRAISAL_COLUMNS

    def base_queryset(self):
        return destruction.due_for_appraisal(kept_items(self.request.user, self.select_related))

    def get_context_data(self, **kwargs):
        return super().get_context_data(retentions=Retention.choices, **kwargs)


class AppraiseView(BusinessRequiredMixin, View):
    def post(self, request):
        back = reverse("records:appraisal_list")
        ids = _checked(request)
        if not ids:
            messages.warning(request, "请先勾选要鉴定的条目。")
            return redirect(back)
        if kept_items(request.user).filter(pk__in=ids).count() != len(set(ids)):
            raise Http404("部分条目不存在或不在您的数据范围内。")
        try:
            out = destruction.appraise(request.user, ids, decision=request.POST.get("decision", ""),
                                       reason=request.POST.get("reason", ""),
                                       new_retention=request.POST.get("new_retention", ""))
        except ActionError as e:
            message_action_error(request, e)
            messages.error(request, "以上问题未解决前，所选条目均未鉴定。")
            return redirect(back)
        except PermissionDenied:
            messages.error(request, "您对所选条目只有查看权限，不能鉴定。")
            return redirect(back)
        messages.success(request, f"已鉴定 {len(out)} 件：{out[0].get_decision_display()}。")
        return redirect(back)


# --- destruction ---------------------------------------------------------------------------------

class DestructionListView(ObjectListView):
    model = DestructionBatch
    title = "销毁清册"
    template_name = "records/preservation_destruction_list.html"
    select_related = ("fonds", "proposed_by", "decided_by")
    search_fields = ("title__icontains",)
    search_placeholder = "清册名称"
    default_sort = "-pk"
    columns = [
        Column("title", "清册名称", sort="title", link=True),
        Column("fonds", "全宗", accessor="fonds.code", sort="fonds__code"),
        Column("status", "状态", sort="status"),
        Column("proposed_by", "提出人", accessor="proposed_by.display_name"),
        Column("proposed_at", "提出时间", sort="proposed_at"),
        Column("decided_by", "审批人", accessor="decided_by.display_name"),
        Column("executed_at", "销毁时间", sort="executed_at"),
    ]


class CandidatesView(ObjectListView):
    """Items appraised 拟销毁 and in no batch yet: tick them and propose a batch."""

    model = Item
    title = "待列入销毁清册"
    template_name = "records/preservation_candidates.html"
    filter_form = _ExpiredFilter
    select_related = ("fonds", "category")
    default_sort = "archival_code"
    columns = APPRAISAL_COLUMNS

    def base_queryset(self):
        return destruction.awaiting_destruction(kept_items(self.request.user, self.select_related))

    def get_context_data(self, **kwargs):
        fonds = use.fonds_for_use(self.request.user, CHANGE).distinct().order_by("code")
        return super().get_context_data(fonds_choices=fonds, **kwargs)


class DestructionAddView(BusinessRequiredMixin, View):
    def post(self, request):
        back = reverse("records:destruction_candidates")
        ids = _checked(request)
        fonds_id = parse_id(request.POST.get("fonds"))
        if not ids or fonds_id is None:
            messages.warning(request, "请选择全宗并勾选要列入清册的条目。")
            return redirect(back)
        fonds = use.fonds_for_use(request.user, VIEW).filter(pk=fonds_id).select_related("unit").first()
        if fonds is None or kept_items(request.user).filter(pk__in=ids).count() != len(set(ids)):
            raise Http404("部分条目不存在或不在您的数据范围内。")
        try:
            batch = destruction.propose_destruction(request.user, fonds, ids, title=request.POST.get("title", ""),
                                                    reason=request.POST.get("reason", ""))
        except ActionError as e:
            message_action_error(request, e)
            return redirect(back)
        except PermissionDenied as e:
            messages.error(request, str(e) or "您对所选条目只有查看权限，不能提出销毁。")
            return redirect(back)
        messages.success(request, f"已提出销毁清册“{batch.title}”，共 {batch.entries.count()} 件，待领导审批。")
        return redirect(batch.get_absolute_url())


class DestructionDetailView(ObjectDetailView):
    model = DestructionBatch
    template_name = "records/preservation_destruction_detail.html"
    select_related = ("fonds__unit", "holder", "proposed_by", "decided_by", "executed_by")

    def extra_context_for(self, batch) -> dict:
        user = self.request.user
        return {"title": batch.title, "tabs": [("detail", "清册"), ("history", "修改记录")],
                "entries": list(batch.entries.select_related("item__category", "appraisal")),
                "can_decide": destruction.can_decide(user, batch),
                "can_execute": batch.status == DestructionBatch.Status.APPROVED and can(user, CHANGE, batch.holder)}


class DestructionDecideView(BusinessRequiredMixin, View):
    def post(self, request, pk):
        batch = get_visible(DestructionBatch, request.user, pk, select_related=("fonds__unit",))
        try:
            batch = destruction.decide_destruction(request.user, batch, approve=request.POST.get("approve") == "1",
                                                   note=request.POST.get("note", ""))
        except ActionError as e:
            message_action_error(request, e)
        else:
            messages.success(request, "已批准，经办人可执行销毁。" if batch.status == DestructionBatch.Status.APPROVED
                             else "已驳回，清册中的条目可重新列入销毁清册。")
        return redirect(batch.get_absolute_url())


class DestructionExecuteView(BusinessRequiredMixin, View):
    def post(self, request, pk):
        # seen through its fonds or its holder; execute_destruction lets only the holder's staff act
        batch = get_visible(DestructionBatch, request.user, pk, select_related=("fonds__unit", "holder"))
        try:
            batch = destruction.execute_destruction(request.user, batch)
        except ActionError as e:
            message_action_error(request, e)
        else:
            messages.success(request, destruction.execution_message(batch))
        return redirect(batch.get_absolute_url())


LIST_HEADERS = ["序号", "档号", "题名", "责任者", "日期", "保管期限", "页数", "鉴定意见", "备注"]


def _list_rows(batch):
    for n, e in enumerate(batch.entries.select_related("item", "appraisal").order_by("id"), start=1):
        it = e.item
        yield [n, it.archival_code, it.title, it.responsible, f"{it.date:%Y%m%d}" if it.date else "",
               it.get_retention_display(), it.pages, e.appraisal.reason, it.note]


def _person(user) -> str:
    return (user.display_name or user.username) if user else ""


def decision_label(batch) -> str:
    """What the approver did, whatever happened after: an executed batch was 已批准 first
    (the batch's status says 已销毁, which is the executor's act, not the approver's)."""
    if not batch.decided_by_id:
        return ""
    return "已驳回" if batch.status == DestructionBatch.Status.REJECTED else "已批准"


def list_facts(batch, count: int) -> list[tuple[str, str]]:
    """The 销毁清册's header facts, the same on the PDF and in the xlsx."""
    decided = (f"{_person(batch.decided_by)}（{decision_label(batch)}，{batch.decided_at:%Y-%m-%d}）"
               if batch.decided_by_id and batch.decided_at else "")
    executed = (f"{_person(batch.executed_by)}（{batch.executed_at:%Y-%m-%d}）"
                if batch.executed_by_id and batch.executed_at else "")
    return [("全宗", f"{batch.fonds.code} {batch.fonds.name}"), ("清册名称", batch.title), ("件数", f"共 {count} 件"),
            ("销毁理由", batch.reason),
            ("提出人", f"{_person(batch.proposed_by)}（{batch.proposed_at:%Y-%m-%d}）"),
            ("审批人", decided), ("审批意见", batch.decision_note), ("销毁执行", executed),
            ("监销人", "")]  # signed on paper at the destruction


def write_list_xlsx(fh, batch, rows) -> None:
    """The 销毁清册 as a workbook: the title and the header facts of the PDF on top, then the
    list (the column headers repeated on every printed page), A4 landscape, one page wide."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(fh, {"constant_memory": True, "in_memory": False, "tmpdir": tempfile.gettempdir(),
                                  "strings_to_numbers": False, "strings_to_formulas": False})
    title = wb.add_format({"bold": True, "font_size": 16, "align": "center"})
    label = wb.add_format({"bold": True})
    head = wb.add_format({"bold": True, "bg_color": "#F2F2F2", "border": 1, "align": "center"})
    cell = wb.add_format({"border": 1, "valign": "top", "text_wrap": True})
    ws = wb.add_worksheet("销毁清册")
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)
    ws.set_footer("&C第 &P 页 共 &N 页")
    for col, width in enumerate([6, 26, 40, 16, 10, 8, 6, 30, 16]):
        ws.set_column(col, col, width)
    ws.merge_range(0, 0, 0, len(LIST_HEADERS) - 1, "档案销毁清册", title)
    facts = list_facts(batch, batch.entries.count())
    for n, (key, value) in enumerate(facts, start=1):
        ws.write_string(n, 0, key, label)
        ws.merge_range(n, 1, n, len(LIST_HEADERS) - 1, value or "＿＿＿＿＿＿")
    top = len(facts) + 2
    ws.write_row(top, 0, LIST_HEADERS, head)
    ws.repeat_rows(top)
    ws.freeze_panes(top + 1, 0)
    for n, row in enumerate(rows, start=top + 1):
        ws.write_row(n, 0, ["" if v is None else v for v in row], cell)
    wb.close()


class DestructionListXlsxView(BusinessRequiredMixin, View):
    def get(self, request, pk):
        batch = get_visible(DestructionBatch, request.user, pk,
                            select_related=("fonds", "proposed_by", "decided_by", "executed_by"))
        tmp = tempfile.TemporaryFile(suffix=".xlsx")  # streamed to disk, as every export
        write_list_xlsx(tmp, batch, _list_rows(batch))
        tmp.seek(0)
        return FileResponse(tmp, as_attachment=True,
                            filename=f"销毁清册-{batch.fonds.code}-{batch.pk}-{timezone.localtime():%Y%m%d%H%M}.xlsx",
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


class DestructionListPdfView(BusinessRequiredMixin, View):
    """The printable 销毁清册 with the signature lines (weasyprint)."""

    def get(self, request, pk):
        from weasyprint import HTML

        batch = get_visible(DestructionBatch, request.user, pk,
                            select_related=("fonds__unit", "proposed_by", "decided_by", "executed_by"))
        html = render_to_string("records/destruction_list_print.html",
                                {"batch": batch, "headers": LIST_HEADERS, "rows": list(_list_rows(batch)),
                                 "decision_label": decision_label(batch), "printed_at": timezone.localtime()})
        pdf = HTML(string=html).write_pdf()
        return FileResponse(io.BytesIO(pdf), as_attachment=True, content_type="application/pdf",
                            filename=f"销毁清册-{batch.fonds.code}-{batch.pk}.pdf")


# --- holdings statistics ---------------------------------------------------------------------------

class HoldingsView(BusinessRequiredMixin, TemplateView):
    template_name = "records/preservation_holdings.html"

    def get(self, request, *args, **kwargs):
        year = request.GET.get("year", "")
        year = int(year) if year.isdecimal() and 1900 <= int(year) <= 2100 else timezone.localdate().year
        report = holdings.annual_report(request.user, year)
        rows = [[r[k] for k, _ in holdings.REPORT_COLUMNS] for r in report["rows"]]
        total_cells = [report["total"][k] for k, _ in holdings.REPORT_COLUMNS[2:]]
        if request.GET.get("export") == "xlsx":
            rows.append(["合计", f"{report['fonds_count']} 个全宗", *total_cells])
            return stream_xlsx(f"档案馆藏统计-{year}", [label for _, label in holdings.REPORT_COLUMNS], rows)
        total_cells = [f"{v}%" if k == "rate" else v for (k, _), v in zip(holdings.REPORT_COLUMNS[2:], total_cells,
                                                                           strict=True)]
        return self.render_to_response(self.get_context_data(title="馆藏统计", report=report, year=year, rows=rows,
                                                             columns=holdings.REPORT_COLUMNS, total_cells=total_cells))

