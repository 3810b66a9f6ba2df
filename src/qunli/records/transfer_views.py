"""Pages of 四性检测 and 移交/接收: the batches of both sides, a new transfer (select filed
items by 全宗·年度·保管期限), offline receipt (upload a package), the batch page with the
sender's and the receiver's buttons, the package download, the receiver's holdings (馆藏), and
the check reports (web page, xlsx, PDF).

Reads go through ``visible_to`` (a batch is seen by its sender and its receiver; an object
outside the grant is a 404); writes call ``records.transfer`` (a refusal is a message, a
missing right a 403)."""


from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views import View

from qunli.core.actions import ActionError
from qunli.core.exports import stream_xlsx
from qunli.core.generic import (
    ActionFormView,
    BusinessRequiredMixin,
    Column,
    ObjectDetailView,
    ObjectListView,
    message_action_error,
)
from qunli.core.scoping import CHANGE, can
from qunli.orgs.views import ObjectActionView, get_visible

from . import transfer
from .models import CheckRun, Custody, Fonds, Item, TransferBatch
from .transfer_forms import ReceiveForm, ReturnForm, TransferForm


class TransferListView(ObjectListView):
    model = TransferBatch
    title = "移交与接收"
    template_name = "records/transfer/batch_list.html"
    export_name = "移交批次"
    select_related = ("receiver",)
    search_fields = ("number__icontains", "title__icontains", "fonds_code__istartswith")
    search_placeholder = "批次号、名称或全宗号"
    default_sort = "-pk"
    columns = [
        Column("number", "批次号", sort="number", link=True),
        Column("title", "批次名称", link=True),
        Column("mode", "方式"),
        Column("status", "状态", sort="status"),
        Column("fonds_code", "全宗号", sort="fonds_code"),
        Column("sender_name", "移交单位"),
        Column("receiver", "接收单位", accessor="receiver.name"),
        Column("item_count", "件数"),
        Column("created_at", "组包时间", sort="created_at"),
    ]


class TransferAddView(ActionFormView):
    form_class = TransferForm
    template_name = "records/transfer/form.html"
    title = "新建移交批次"

    def perform(self, data):
        fonds = data["fonds"]
        ids = transfer.selection(fonds, year=data["year"], retention=data.get("retention") or "")
        batch = transfer.create_transfer(self.request.user, fonds, receiver=data["receiver"], item_ids=ids,
                                         title=data.get("title") or "")
        run = transfer.latest_run(batch, CheckRun.Phase.TRANSFER)
        if run.passed:  # the verdict names items not performed (no virus scanner): never a bare 通过
            messages.success(self.request, f"已组包 {batch.item_count} 件，移交检测{run.verdict}，可以移交。")
        else:
            messages.error(self.request, "移交检测（四性检测）有不通过项，本批次不能移交，请查看检测报告。")
        return batch


class TransferReceiveView(ActionFormView):
    form_class = ReceiveForm
    template_name = "records/transfer/form.html"
    title = "离线接收（上传移交数据包）"
    side = "receive"  # form.html explains receipt, not packaging

    def get_form(self, data=None):
        return self.form_class(data, self.request.FILES if data is not None else None, **self.form_kwargs())

    def perform(self, data):
        batch = transfer.receive_package(self.request.user, receiver=data["receiver"], uploaded=data["package"],
                                         title=data.get("title") or "")
        run = transfer.latest_run(batch, CheckRun.Phase.RECEIPT)
        if run.passed:
            messages.success(self.request, f"已接收数据包 {batch.item_count} 件，接收检测{run.verdict}，可以接收。")
        else:
            messages.error(self.request, f"已接收数据包 {batch.item_count} 件，接收检测{run.verdict}，"
                                         "问题见检测报告；不能接收，请退回移交单位并说明原因。")
        return batch


BATCH_TABS = [("detail", "概况"), ("items", "条目"), ("checks", "四性检测"), ("history", "操作记录")]


class TransferDetailView(ObjectDetailView):
    model = TransferBatch
    template_name = "records/transfer/batch_detail.html"
    select_related = ("receiver", "sender_unit", "fonds__unit", "created_by", "decided_by")

    def extra_context_for(self, batch) -> dict:
        user = self.request.user
        tab = self.request.GET.get("tab", "detail")
        ctx = {"title": str(batch), "tabs": BATCH_TABS,
               "is_sender": batch.fonds is not None and can(user, CHANGE, batch.fonds),
               "is_receiver": can(user, CHANGE, batch.receiver),
               "runs": list(batch.check_runs.order_by("-id")[:20])}
        ctx["receipt_checked"] = any(r.phase == CheckRun.Phase.RECEIPT for r in ctx["runs"])
        if tab == "items":
            ctx["members"] = list(batch.members.select_related("item")[:500])
        return ctx


def _batch(request, pk) -> TransferBatch:
    return get_visible(TransferBatch, request.user, pk, select_related=("receiver", "fonds__unit", "sender_unit"))


class _BatchAction(BusinessRequiredMixin, View):
    """A POST button of the batch page: the action's refusal becomes a message."""

    verb = None
    done = ""

    def post(self, request, pk):
        batch = _batch(request, pk)
        try:
            out = type(self).verb(request.user, batch)
        except ActionError as e:
            message_action_error(request, e)
            return redirect(batch.get_absolute_url())
        if isinstance(out, CheckRun):
            (messages.success if out.passed else messages.warning)(request, f"{self.done.rstrip('。')}：{out.verdict}。")
            return redirect(out.get_absolute_url())
        messages.success(request, self.done)
        return redirect(batch.get_absolute_url())


class TransferSendView(_BatchAction):
    verb = transfer.send_transfer
    done = "已移交，等待接收单位检测和接收。"


class TransferWithdrawView(_BatchAction):
    verb = transfer.withdraw_transfer
    done = "已撤回，条目可重新组包移交。"


class TransferCheckView(_BatchAction):
    verb = transfer.check_receipt
    done = "接收检测已完成。"


class TransferAcceptView(_BatchAction):
    verb = transfer.accept_transfer
    done = "已接收，条目已进入本单位馆藏。"


class TransferReturnView(ObjectActionView):
    model = TransferBatch
    form_class = ReturnForm
    title = "退回移交批次"
    submit_label = "退回"
    success_message = "已退回，移交单位可以看到退回原因。"

    def get_object(self):
        if not hasattr(self, "_object"):
            self._object = _batch(self.request, self.kwargs["pk"])
            if not can(self.request.user, CHANGE, self._object.receiver):
                raise PermissionDenied("只有接收单位的档案管理人员才能退回。")
        return self._object

    def perform(self, data):
        return transfer.return_transfer(self.request.user, self.get_object(), reason=data["reason"])


class TransferPackageView(BusinessRequiredMixin, View):
    """The package as a zip (离线移交: carry it to the receiver)."""

    def get(self, request, pk):
        return transfer.download_response(_batch(request, pk))


class HoldingsListView(ObjectListView):
    """馆藏: items whose custody passed to a unit the user may see (accepted transfers)."""

    model = Item
    title = "馆藏（已接收档案）"
    export_name = "馆藏"
    select_related = ("fonds", "category", "custody__unit")
    search_fields = ("title__icontains", "archival_code__startswith", "doc_no__icontains")
    search_placeholder = "题名、档号或文件编号"
    default_sort = "archival_code"
    columns = [
        Column("archival_code", "档号", sort="archival_code", link=True),
        Column("title", "题名", sort="title"),
        Column("responsible", "责任者"),
        Column("date", "日期", sort="date"),
        Column("fonds", "全宗", accessor="fonds.code"),
        Column("retention", "保管期限"),
        Column("custody", "保管单位", accessor="custody.unit.name"),
        Column("since", "接收时间", accessor="custody.since"),
    ]

    def base_queryset(self):
        return (Item.objects.filter(custody__in=Custody.objects.visible_to(self.request.user))
                .select_related(*self.select_related))


class CheckRunListView(ObjectListView):
    model = CheckRun
    title = "四性检测"
    export_name = "四性检测"
    select_related = ("unit",)
    default_sort = "-pk"
    columns = [
        Column("started_at", "检测时间", sort="started_at", link=True),
        Column("phase", "环节", sort="phase"),
        Column("subject", "检测对象", link=True),
        Column("verdict", "结论"),
        Column("failed_items", "不通过项"),
        Column("not_performed_items", "未执行项"),
        Column("item_count", "件数"),
        Column("total_bytes", "字节数"),
        Column("unit", "单位", accessor="unit.name"),
    ]


def _report_context(run: CheckRun) -> dict:
    aspects = []
    for r in run.results:
        if not aspects or aspects[-1][0] != r["aspect"]:
            aspects.append((r["aspect"], []))
        aspects[-1][1].append(r)
    return {"run": run, "aspects": aspects, "printed_at": timezone.localtime()}


class CheckRunDetailView(ObjectDetailView):
    model = CheckRun
    template_name = "records/transfer/check_run.html"
    select_related = ("unit", "batch", "fonds", "created_by")

    def extra_context_for(self, run) -> dict:
        return {"title": str(run), **_report_context(run)}


REPORT_HEADERS = ["编号", "检测项目", "检测内容", "结论", "检测数量", "问题数", "说明"]


def _problems(r: dict):
    """问题数: the failures, or for a row that only warns its warnings, marked as such (an
    explained 缺号 is not “0 problems”)."""
    if r["failure_count"] or not r["warnings"]:
        return r["failure_count"]
    return f"{len(r['warnings'])}（警告）"


def _report_rows(run: CheckRun):
    # the headline first, as on the page and the PDF (it names the items not performed)
    yield ["", "总体结论", f"{run.get_phase_display()}检测：{run.subject}", run.verdict, f"{run.item_count} 件",
           run.failed_items, f"不通过 {run.failed_items} 项，警告 {run.warning_items} 项，未执行 {run.not_performed_items} 项"]
    for r in run.results:
        yield [r["code"], r["aspect"], r["name"], r["status_label"], r.get("checked_label", r["checked"]),
               _problems(r), r["note"]]
        for line in r["failures"]:
            yield ["", "", f"　不通过：{line}", "", "", "", ""]
        for line in r["warnings"]:
            yield ["", "", f"　警告：{line}", "", "", "", ""]


class CheckRunXlsxView(BusinessRequiredMixin, View):
    def get(self, request, pk):
        run = get_visible(CheckRun, request.user, pk)
        return stream_xlsx(f"四性检测报告-{run.pk}", REPORT_HEADERS, _report_rows(run))


class CheckRunPdfView(BusinessRequiredMixin, View):
    """The report printed to PDF with WeasyPrint (the fonts are the system's CJK fonts)."""

    def get(self, request, pk):
        from weasyprint import HTML

        run = get_visible(CheckRun, request.user, pk, select_related=("unit", "created_by"))
        html = render_to_string("records/transfer/check_report_print.html", _report_context(run))
        response = HttpResponse(HTML(string=html).write_pdf(), content_type="application/pdf")
        response["Content-Disposition"] = content_disposition_header(True, f"四性检测报告-{run.pk}.pdf")
        return response


class FondsCheckView(BusinessRequiredMixin, View):
    """“四性检测” on the fonds page: the filed items of the fonds, as stored (长期保存)."""

    def post(self, request, pk):
        fonds = get_visible(Fonds, request.user, pk, select_related=("unit",), action=CHANGE)
        try:
            run = transfer.check_holdings(request.user, fonds)
        except ActionError as e:
            message_action_error(request, e)
            return redirect(fonds.get_absolute_url())
        return redirect(run.get_absolute_url())
