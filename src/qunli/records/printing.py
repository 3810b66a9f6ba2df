"""Printing of the 归档文件目录 (PDF; the xlsx is ``views.CatalogueView``) and of the 归档章
fields (DA/T 22-2015 §9: 全宗号, 年度, 件号, 机构（问题）, 保管期限, 页数) for one fonds, year,
retention (and 门类), through weasyprint (HTML → PDF).

A PDF needs a CJK font: ``cjk_font()`` asks fontconfig for one of ``QUNLI_PDF_CJK_FONTS``
(Debian: ``fonts-noto-cjk``). Without one the views answer 503 with a Chinese message naming the
package, instead of a PDF of empty boxes."""

from __future__ import annotations

import shutil
import subprocess

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.views import View

from qunli.core.generic import BusinessRequiredMixin
from qunli.orgs.views import get_visible

from .forms import CatalogueForm
from .models import Fonds, Item

DEFAULT_FONTS = ("Noto Sans CJK SC", "Noto Serif CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei",
                 "WenQuanYi Zen Hei", "AR PL UMing CN")
MAX_PRINT_ITEMS = 3000  # weasyprint lays out some 30–100 rows a second: keep a request bounded
NO_FONT = ("服务器未安装中文字体，无法生成 PDF。请系统管理员安装中文字体（Debian/Ubuntu：apt-get install "
           "fonts-noto-cjk）后重试；目录也可先导出为 Excel。")


def cjk_font() -> str | None:
    """The first configured CJK font family fontconfig knows, or None."""
    wanted = getattr(settings, "QUNLI_PDF_CJK_FONTS", DEFAULT_FONTS)
    if not shutil.which("fc-list"):
        return None
    try:
        out = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    known = {f.strip() for line in out.splitlines() for f in line.split(",")}
    return next((f for f in wanted if f in known), None)


def render_pdf(template: str, context: dict) -> bytes:
    from weasyprint import HTML

    html = render_to_string(template, context)
    return HTML(string=html).write_pdf()


def _pdf_response(data: bytes, filename: str) -> HttpResponse:
    from urllib.parse import quote

    resp = HttpResponse(data, content_type="application/pdf")
    resp["Content-Disposition"] = f"inline; filename*=UTF-8''{quote(filename)}"
    return resp


class _PrintView(BusinessRequiredMixin, View):
    template = ""
    what = ""
    statuses = (Item.Status.FILED,)

    def get(self, request, pk):
        fonds = get_visible(Fonds, request.user, pk, select_related=("unit",))
        form = CatalogueForm(request.GET)
        if not form.is_valid():
            messages.error(request, "请填写年度和保管期限。")
            return redirect(fonds.get_absolute_url())
        font = cjk_font()
        if font is None:
            return HttpResponse(NO_FONT, status=503, content_type="text/plain; charset=utf-8")
        d = form.cleaned_data
        qs = (Item.objects.visible_to(request.user)
              .filter(fonds=fonds, year=d["year"], retention=d["retention"], status__in=self.statuses)
              .select_related("org_code", "category").order_by("org_code__code", "piece_no"))
        if d.get("category"):
            qs = qs.filter(category__code=d["category"])
        items = list(qs[:MAX_PRINT_ITEMS + 1])
        if len(items) > MAX_PRINT_ITEMS:
            return HttpResponse(f"所选条目超过{MAX_PRINT_ITEMS}件，无法一次生成 PDF；请按门类分别打印，或导出 Excel 目录。", status=413,
                                content_type="text/plain; charset=utf-8")
        ctx = {"fonds": fonds, "items": items, "year": d["year"], "retention": d["retention"],
               "retention_label": dict(Item._meta.get_field("retention").choices).get(d["retention"], ""),
               "font": font}
        data = render_pdf(self.template, ctx)
        return _pdf_response(data, f"{self.what}-{fonds.code}-{d['year']}-{d['retention']}.pdf")


class CataloguePdfView(_PrintView):
    """The catalogue keeps destroyed entries (their 件号 stay), marked 已销毁 in 备注."""

    template = "records/print_catalogue.html"
    what = "归档文件目录"
    statuses = (Item.Status.FILED, Item.Status.DISPOSED)


class StampsPdfView(_PrintView):
    template = "records/print_stamps.html"
    what = "归档章"
