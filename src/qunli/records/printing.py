"""Printing of the 归档文件目录 (PDF and xlsx) and of the 归档章 fields (DA/T 22-2015 §9:
全宗号, 年度, 件号, 机构（问题）, 保管期限, 页数) for one fonds, year, retention (and 门类),
through weasyprint (HTML → PDF) and xlsxwriter.

The catalogue is laid out per class (门类 · 年度 · 保管期限 · 机构（问题）), as DA/T 22 numbers
件号 per class: each class is its own section (PDF: a heading, a table, a new page; xlsx: a
sheet with its heading rows), so 件号 1, 1, 2, 3 of two 机构 never share one table.

Two paths, one selection and one renderer:

* a class of at most ``QUNLI_PRINT_SYNC_MAX_ITEMS`` (500) items is rendered in the request
  (``CataloguePdfView`` / ``StampsPdfView``, GET);
* a larger one is offered to the background worker instead: the GET answers with a page that
  says how many items the class has and posts back to the same URL, the POST calls the action
  ``start_print_job``, which queues an ``ExportJob`` of kind ``records_catalogue`` /
  ``records_stamps`` (``core/export_jobs.py`` file kinds: the job page shows the pages laid out
  so far, the owner downloads the PDF there). weasyprint lays out some 60 rows a second and
  holds the whole layout in memory (about 150 MB per 1,000 rows), so the job path too has an
  upper bound, ``QUNLI_PRINT_JOB_MAX_ITEMS`` (10,000), refused with a Chinese message that
  points to the xlsx catalogue (no limit).

Scoping is the same on both paths: the fonds through ``get_visible`` / ``visible_to`` (a
foreign fonds is a 404), the items through ``Item.objects.visible_to(user)`` of the person who
asked — in the request, or the job's owner when the worker runs it. The job checks the fonds
again when it runs and when its file is downloaded.

A PDF needs a CJK font: ``cjk_font()`` asks fontconfig for one of ``QUNLI_PDF_CJK_FONTS``
(Debian: ``fonts-noto-cjk``). Without one the views answer 503 with a Chinese message naming the
package, instead of a PDF of empty boxes; a job fails with the same message."""

from __future__ import annotations

import contextlib
import itertools
import logging
import re
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views import View

from qunli.core import export_jobs
from qunli.core.actions import ActionError, action
from qunli.core.generic import BusinessRequiredMixin, message_action_error
from qunli.core.models import ExportJob
from qunli.orgs.views import get_visible

from .forms import CatalogueForm
from .models import Category, Fonds, Item, Retention

DEFAULT_FONTS = (
    "Noto Sans CJK SC",
    "Noto Serif CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "AR PL UMing CN",
)
NO_FONT = (
    "服务器未安装中文字体，无法生成 PDF。请系统管理员安装中文字体（Debian/Ubuntu：apt-get install "
    "fonts-noto-cjk）后重试；目录也可先导出为 Excel。"
)
NO_FONDS = "全宗不存在或不在您的权限范围内。"


@dataclass(frozen=True)
class PrintKind:
    template: str
    what: str  # 归档文件目录, 归档章
    statuses: tuple[str, ...]
    url_name: str  # the view (GET: PDF or the offer of a job; POST: start the job)


PRINTS = {
    # the catalogue keeps destroyed entries (their 件号 stay), marked 已销毁 in 备注
    "catalogue": PrintKind(
        "records/print_catalogue.html",
        "归档文件目录",
        (Item.Status.FILED, Item.Status.DISPOSED),
        "records:catalogue_pdf",
    ),
    "stamps": PrintKind("records/print_stamps.html", "归档章", (Item.Status.FILED,), "records:stamps_pdf"),
}


def sync_max() -> int:
    return settings.QUNLI_PRINT_SYNC_MAX_ITEMS


def job_max() -> int:
    return settings.QUNLI_PRINT_JOB_MAX_ITEMS


def too_many(n: int) -> str:
    return (
        f"所选类别共{n}件，超过一次生成 PDF 的上限{job_max()}件；请按门类分别打印，"
        "或导出 Excel 目录（不限件数）。"
    )


def cjk_font() -> str | None:
    """The first configured CJK font family fontconfig knows, or None."""
    wanted = getattr(settings, "QUNLI_PDF_CJK_FONTS", DEFAULT_FONTS)
    if not shutil.which("fc-list"):
        return None
    try:
        out = subprocess.run(
            ["fc-list", ":lang=zh", "family"], capture_output=True, text=True, timeout=20
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    known = {f.strip() for line in out.splitlines() for f in line.split(",")}
    return next((f for f in wanted if f in known), None)


# --- the selection and the renderer, shared by the request and the job -------------------------


def selection(user, fonds: Fonds, year: int, retention: str, category: str, statuses):
    """The items of one year and retention the user may see, in catalogue order: class by
    class (门类, then 机构（问题）), 件号 within each."""
    qs = (
        Item.objects.visible_to(user)
        .filter(fonds=fonds, year=year, retention=retention, status__in=statuses)
        .select_related("org_code", "category")
        .order_by("category__order", "category__code", "org_code__code", "piece_no")
    )
    if category:
        qs = qs.filter(category__code=category)
    return qs


@dataclass
class CatalogueClass:
    """One class of the catalogue (门类 · 年度 · 保管期限 · 机构（问题）) and its items."""

    fonds: Fonds
    category: Category
    year: int
    retention: str
    org_code: str
    org_name: str
    items: list

    @property
    def retention_label(self) -> str:
        return dict(Retention.choices).get(self.retention, self.retention)

    @property
    def org_label(self) -> str:
        return f"{self.org_name}（{self.org_code}）" if self.org_code else ""

    @property
    def heading(self) -> str:
        parts = [f"{self.category.name}（{self.category.code}）", f"{self.year}年度", self.retention_label]
        if self.org_code:
            parts.append(f"机构（问题）：{self.org_label}")
        return " · ".join(parts)

    @property
    def meta(self) -> str:
        """The line under the title, as on a DA/T 22 catalogue's cover of a class."""
        line = (f"全宗：{self.fonds.code} {self.fonds.name}　门类：{self.category.name}（{self.category.code}）"
                f"　年度：{self.year}　保管期限：{self.retention_label}")
        return line + (f"　机构（问题）：{self.org_label}" if self.org_code else "")

    @property
    def sheet_name(self) -> str:
        """The class as an xlsx sheet name (≤ 31 characters, none of []:*?/\\)."""
        name = f"{self.category.code}·{self.year}-{self.retention}" + (f"-{self.org_code}" if self.org_code else "")
        return re.sub(r"[\[\]:*?/\\]", "_", name)[:31]


def catalogue_classes(fonds: Fonds, items, year: int, retention: str, lists: bool = True):
    """The items (in ``selection`` order) cut into their classes. ``lists=False`` keeps each
    class's items a lazy iterator (the xlsx streams any number of items)."""
    for _, group in itertools.groupby(items, key=lambda i: (i.category_id, i.org_code_id)):
        first, members = _peek(group)
        oc = first.org_code
        yield CatalogueClass(fonds, first.category, year, retention, oc.code if oc else "", oc.name if oc else "",
                             list(members) if lists else members)


def _peek(it):
    """(first, all of ``it`` including first) of a non-empty iterator."""
    first = next(it)
    return first, itertools.chain((first,), it)


def print_context(fonds: Fonds, items: list, year: int, retention: str, font: str) -> dict:
    return {
        "fonds": fonds,
        "items": items,
        "classes": list(catalogue_classes(fonds, items, year, retention)),
        "year": year,
        "retention": retention,
        "retention_label": dict(Retention.choices).get(retention, ""),
        "font": font,
    }


# --- the catalogue as xlsx: one sheet per class ----------------------------------------------------

CATALOGUE_HEADERS = ["件号", "档号", "文号", "责任者", "题名", "日期", "密级", "页数", "备注"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_WIDTHS = [6, 26, 18, 16, 50, 10, 6, 6, 16]


def catalogue_row(i: Item) -> list:
    # a destroyed entry stays in the catalogue with its 件号, marked 已销毁
    remark = i.note if i.status != Item.Status.DISPOSED else (f"已销毁；{i.note}" if i.note else "已销毁")
    return [i.piece_no, i.archival_code or "", i.doc_no, i.responsible, i.title,
            f"{i.date:%Y%m%d}" if i.date else "", i.get_classification_display(),
            i.pages if i.pages is not None else "", remark]


def write_catalogue_xlsx(fh, fonds: Fonds, items, year: int, retention: str) -> int:
    """The catalogue workbook: a sheet per class, each with the title, the class line and the
    column headers on top (repeated on every printed page), A4 landscape, one page wide.
    Streams: constant memory, the items read once in order. Returns the number of items."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(fh, {"constant_memory": True, "in_memory": False, "tmpdir": tempfile.gettempdir(),
                                  "strings_to_numbers": False, "strings_to_formulas": False})
    title = wb.add_format({"bold": True, "font_size": 16, "align": "center"})
    head = wb.add_format({"bold": True, "bg_color": "#F2F2F2", "border": 1, "align": "center"})
    cell = wb.add_format({"border": 1, "valign": "top", "text_wrap": True})

    def sheet(name: str, meta: str):
        ws = wb.add_worksheet(name)
        ws.set_landscape()
        ws.set_paper(9)  # A4
        ws.fit_to_pages(1, 0)
        ws.repeat_rows(0, 2)
        ws.set_footer("&C第 &P 页 共 &N 页")
        for col, width in enumerate(_WIDTHS):
            ws.set_column(col, col, width)
        ws.merge_range(0, 0, 0, len(CATALOGUE_HEADERS) - 1, "归档文件目录", title)
        ws.write_string(1, 0, meta)
        ws.write_row(2, 0, CATALOGUE_HEADERS, head)
        ws.freeze_panes(3, 0)
        return ws

    n, used = 0, set()
    for cls in catalogue_classes(fonds, items, year, retention, lists=False):
        name = cls.sheet_name
        while name.lower() in used:  # sheet names are unique regardless of case
            name = f"{name[:28]}~{len(used)}"
        used.add(name.lower())
        ws = sheet(name, cls.meta)
        for row, item in enumerate(cls.items, start=3):
            ws.write_row(row, 0, catalogue_row(item), cell)
            n += 1
    if n == 0:
        ws = sheet("归档文件目录", f"全宗：{fonds.code} {fonds.name}　年度：{year}"
                                  f"　保管期限：{dict(Retention.choices).get(retention, retention)}")
        ws.write_string(3, 0, "（无已归档条目）")
    wb.close()
    return n


class _LaidOutPages(logging.Handler):
    """Counts the pages weasyprint lays out in this thread (its ``weasyprint.progress`` logger
    says "Step 5 - Creating layout - Page %d" per page) and reports them."""

    def __init__(self, report):
        super().__init__(logging.INFO)
        self.report, self.thread, self.pages = report, threading.get_ident(), 0

    def emit(self, record):
        if record.thread != self.thread or not str(record.msg).startswith("Step 5") or not record.args:
            return
        page = record.args[0] if isinstance(record.args, tuple) else None
        if isinstance(page, int) and page > self.pages:
            self.pages = page
            self.report(page)


@contextlib.contextmanager
def _progress(report):
    if report is None:
        yield
        return
    log = logging.getLogger("weasyprint.progress")
    handler = _LaidOutPages(report)
    level, propagate = log.level, log.propagate
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False  # the page-by-page steps are for the job page, not the worker's log
    try:
        yield
    finally:
        log.removeHandler(handler)
        log.setLevel(level)
        log.propagate = propagate


def render_pdf(template: str, context: dict, target=None, progress=None):
    """The PDF's bytes; with ``target`` (an open binary file) written there and the page count
    returned instead. ``progress(pages)`` is called as pages are laid out."""
    from weasyprint import HTML

    html = render_to_string(template, context)
    with _progress(progress):
        document = HTML(string=html).render()
    if target is None:
        return document.write_pdf()
    document.write_pdf(target=target)
    return len(document.pages)


# --- the background path -----------------------------------------------------------------------


def _clean_selection(year, retention, category) -> tuple[int, str, str]:
    try:
        year = int(year)
    except (TypeError, ValueError):
        raise ActionError("请填写年度和保管期限。") from None
    if not 1900 <= year <= 2100 or retention not in Retention.values:
        raise ActionError("请填写年度和保管期限。")
    category = (category or "").strip()[:10]
    if category and not Category.objects.filter(code=category).exists():  # else an empty catalogue, silently
        raise ActionError(f"门类代码“{category}”不存在，请从门类列表中选择。")
    return year, retention, category


@action
def start_print_job(actor, fonds: Fonds, kind: str, *, year, retention: str, category: str = "") -> ExportJob:
    """Queue the PDF of one class (归档文件目录 or 归档章) for the background worker."""
    if not getattr(actor, "is_business", False):
        raise PermissionDenied("三员账户不能打印业务数据。")
    if kind not in PRINTS:
        raise ActionError(f"不支持的打印类型“{kind}”。")
    if not Fonds.objects.visible_to(actor).filter(pk=fonds.pk).exists():
        raise PermissionDenied(NO_FONDS)
    year, retention, category = _clean_selection(year, retention, category)
    n = selection(actor, fonds, year, retention, category, PRINTS[kind].statuses).count()
    if n > job_max():
        raise ActionError(too_many(n))
    params = {"print": kind, "fonds": fonds.pk, "year": year, "retention": retention, "category": category}
    return export_jobs.queue_file_job(actor, f"records_{kind}", params)


def _job_fonds(job: ExportJob) -> Fonds:
    fonds = (
        Fonds.objects.visible_to(job.user).select_related("unit").filter(pk=job.params.get("fonds")).first()
    )
    if fonds is None:
        raise PermissionDenied(NO_FONDS)
    return fonds


def write_job(job: ExportJob, fh, progress) -> tuple[int, str]:
    """The worker's side: the same selection and renderer as the request, written to ``fh``."""
    p = job.params
    kind = PRINTS[p["print"]]
    fonds = _job_fonds(job)
    font = cjk_font()
    if font is None:
        raise ActionError(NO_FONT)
    year, retention, category = _clean_selection(p.get("year"), p.get("retention"), p.get("category"))
    items = list(selection(job.user, fonds, year, retention, category, kind.statuses)[: job_max() + 1])
    if len(items) > job_max():
        raise ActionError(too_many(len(items)))
    ExportJob.objects.filter(pk=job.pk).update(message=f"共{len(items)}件条目。")
    pages = render_pdf(
        kind.template, print_context(fonds, items, year, retention, font), target=fh, progress=progress
    )
    return len(items), f"已生成{kind.what}，共{len(items)}件条目、{pages}页。"


def _filename(job: ExportJob) -> str:
    p = job.params
    code = Fonds.objects.filter(pk=p.get("fonds")).values_list("code", flat=True).first() or ""
    return f"{PRINTS[p['print']].what}-{code}-{p.get('year')}-{p.get('retention')}.pdf"


def _title(job: ExportJob) -> str:
    p = job.params
    fonds = Fonds.objects.filter(pk=p.get("fonds")).values_list("code", "name").first() or ("", "")
    retention = dict(Retention.choices).get(p.get("retention"), "")
    category = f" 门类 {p['category']}" if p.get("category") else ""
    return f"{PRINTS[p['print']].what}（PDF）：{fonds[0]} {fonds[1]} {p.get('year')}年 {retention}{category}"


def _back(job: ExportJob) -> str:
    return reverse("records:fonds_detail", args=[job.params.get("fonds")])


def register() -> None:
    """The print kinds of core's export jobs (called from RecordsConfig.ready)."""
    for kind, pk in PRINTS.items():
        export_jobs.register_file_kind(
            f"records_{kind}",
            export_jobs.FileKind(
                label=f"{pk.what}（PDF）",
                suffix="pdf",
                content_type="application/pdf",
                write=write_job,
                check=_job_fonds,
                filename=_filename,
                title=_title,
                back=_back,
            ),
        )


# --- the views ------------------------------------------------------------------------------------


def _pdf_response(data: bytes, filename: str) -> HttpResponse:
    from urllib.parse import quote

    resp = HttpResponse(data, content_type="application/pdf")
    resp["Content-Disposition"] = f"inline; filename*=UTF-8''{quote(filename)}"
    return resp


def _text(message: str, status: int) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


class _PrintView(BusinessRequiredMixin, View):
    """GET: the PDF of a small class, or the offer to have a large one generated in the
    background; POST: start that background job."""

    kind = ""

    def get(self, request, pk):
        fonds = get_visible(Fonds, request.user, pk, select_related=("unit",))
        form = CatalogueForm(request.GET)
        if not form.is_valid():
            for m in form.problems():
                messages.error(request, m)
            return redirect(fonds.get_absolute_url())
        font = cjk_font()
        if font is None:
            return _text(NO_FONT, 503)
        d, kind = form.cleaned_data, PRINTS[self.kind]
        qs = selection(request.user, fonds, d["year"], d["retention"], d.get("category") or "", kind.statuses)
        items = list(qs[: sync_max() + 1])
        if len(items) > sync_max():
            n = qs.count()
            if n > job_max():
                return _text(too_many(n), 413)
            return render(
                request,
                "records/print_job_offer.html",
                {
                    "title": kind.what,
                    "fonds": fonds,
                    "what": kind.what,
                    "count": n,
                    "limit": sync_max(),
                    "year": d["year"],
                    "retention": d["retention"],
                    "category": d.get("category") or "",
                    "retention_label": dict(Retention.choices).get(d["retention"], ""),
                    "url_name": kind.url_name,
                },
            )
        data = render_pdf(kind.template, print_context(fonds, items, d["year"], d["retention"], font))
        return _pdf_response(data, f"{kind.what}-{fonds.code}-{d['year']}-{d['retention']}.pdf")

    def post(self, request, pk):
        fonds = get_visible(Fonds, request.user, pk, select_related=("unit",))
        form = CatalogueForm(request.POST)
        if not form.is_valid():
            for m in form.problems():
                messages.error(request, m)
            return redirect(fonds.get_absolute_url())
        d = form.cleaned_data
        try:
            job = start_print_job(
                request.user,
                fonds,
                self.kind,
                year=d["year"],
                retention=d["retention"],
                category=d.get("category") or "",
            )
        except ActionError as e:
            message_action_error(request, e)
            return redirect(fonds.get_absolute_url())
        return redirect("core:export_job", pk=job.pk)


class CataloguePdfView(_PrintView):
    kind = "catalogue"


class CatalogueXlsxView(BusinessRequiredMixin, View):
    """归档文件目录 as xlsx, a sheet per class; no item limit (the workbook streams)."""

    def get(self, request, pk):
        fonds = get_visible(Fonds, request.user, pk)
        form = CatalogueForm(request.GET)
        if not form.is_valid():
            for m in form.problems():
                messages.error(request, m)
            return redirect(fonds.get_absolute_url())
        d = form.cleaned_data
        qs = selection(request.user, fonds, d["year"], d["retention"], d.get("category") or "",
                       PRINTS["catalogue"].statuses)
        tmp = tempfile.TemporaryFile(suffix=".xlsx")
        write_catalogue_xlsx(tmp, fonds, qs.iterator(chunk_size=2000), d["year"], d["retention"])
        tmp.seek(0)
        return FileResponse(tmp, as_attachment=True, content_type=XLSX,
                            filename=f"归档文件目录-{fonds.code}-{d['year']}-{d['retention']}"
                                     f"-{timezone.localtime():%Y%m%d%H%M}.xlsx")


class StampsPdfView(_PrintView):
    kind = "stamps"
