"""Pages of the capture features: thumbnails and inline playback of an item's files (HTTP
Range, for audio and video), digitization progress per fonds and year, the bulk upload of
scans named by 档号, and the 档号 format of a fonds. Every file is reached through a visible
``ItemFile`` (404 outside the grant)."""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce, Least
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.views import View

from qunli.core.actions import ActionError
from qunli.core.generic import BusinessRequiredMixin
from qunli.core.scoping import writes_anywhere
from qunli.orgs.views import ObjectActionView, get_visible
from qunli.people.forms import UserForm

from . import capture_actions, numbering, use
from .actions import ALLOWED_TYPES
from .file_models import FileContent
from .forms import MultipleFileField
from .models import Fonds, Item
from .queries import born_digital_only_q

INLINE_MIMES = ("audio/", "video/", "image/png", "image/jpeg", "application/pdf", "text/plain")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 256 * 1024


def _format_labels() -> dict[str, str]:
    """MIME type → the format's common name (PDF, DOCX, JPEG …), from the accepted types:
    archivists know formats by these names, not by MIME strings. Of two extensions of one type
    the longer is the name (jpeg, tiff)."""
    labels: dict[str, str] = {}
    for ext, (mime, _) in ALLOWED_TYPES.items():
        labels[mime] = max(labels.get(mime, ""), ext.upper(), key=len)
    return labels


FORMAT_LABELS = _format_labels()


def format_label(f) -> str:
    ext = f.name.rsplit(".", 1)[-1].upper() if "." in f.name else ""
    return FORMAT_LABELS.get(f.mime) or ext or "其他"


def annotate_files(files) -> None:
    """Set ``thumb`` (a thumbnail exists), ``inline``, ``player``, ``format_label`` and
    ``size_label`` on an item's files."""
    from .checks import size_label  # KB / MB as the fixity page shows them

    thumbs = set(FileContent.objects.filter(sm3__in={f.sm3 for f in files}).exclude(thumb_name="")
                 .values_list("sm3", flat=True))
    for f in files:
        f.format_label = format_label(f)
        f.size_label = size_label(f.size)
        f.thumb = f.sm3 in thumbs
        f.inline = f.mime.startswith(INLINE_MIMES)
        f.player = "audio" if f.mime.startswith("audio/") else "video" if f.mime.startswith("video/") else ""


class ItemFileThumbView(BusinessRequiredMixin, View):
    def get(self, request, pk):
        f = use.reachable_file(request.user, pk)
        content = FileContent.objects.filter(sm3=f.sm3).exclude(thumb_name="").first()
        if content is None or not default_storage.exists(content.thumb_name):
            raise Http404("该文件没有缩略图。")
        with default_storage.open(content.thumb_name, "rb") as fh:
            resp = HttpResponse(fh.read(), content_type="image/png")
        resp["Cache-Control"] = "private, max-age=86400"
        return resp


def _ranged(fh, start: int, length: int):
    fh.seek(start)
    left = length
    try:
        while left > 0:
            chunk = fh.read(min(CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk
    finally:
        fh.close()


class ItemFileInlineView(BusinessRequiredMixin, View):
    """A file shown in the page (audio/video players, images, PDF, text) with single-range
    ``Range`` requests answered 206, so players can seek; other types are downloads."""

    def get(self, request, pk):
        f = use.reachable_file(request.user, pk)
        if not f.mime.startswith(INLINE_MIMES):
            raise Http404("该类型的文件不能在线查看，请下载。")
        if not default_storage.exists(f.storage_name):
            raise Http404("文件在存储中缺失。")
        size = default_storage.size(f.storage_name)
        header = request.headers.get("Range", "").strip()
        start, end, status = 0, size - 1, 200
        if header:
            m = _RANGE.match(header)
            if not m or (not m[1] and not m[2]):
                return self._unsatisfiable(size)
            if m[1]:
                start = int(m[1])
                end = min(int(m[2]), size - 1) if m[2] else size - 1
            else:  # suffix: the last N bytes
                start = max(size - int(m[2]), 0)
            if start >= size or end < start:
                return self._unsatisfiable(size)
            status = 206
        length = end - start + 1
        resp = StreamingHttpResponse(_ranged(default_storage.open(f.storage_name, "rb"), start, length),
                                     status=status, content_type=f.mime)
        resp["Content-Length"] = str(length)
        resp["Accept-Ranges"] = "bytes"
        if status == 206:
            resp["Content-Range"] = f"bytes {start}-{end}/{size}"
        resp["Content-Disposition"] = "inline"
        resp["X-Content-Type-Options"] = "nosniff"
        resp["Cache-Control"] = "private, no-store"
        return resp

    @staticmethod
    def _unsatisfiable(size):
        resp = HttpResponse("请求的范围无效。", status=416, content_type="text/plain; charset=utf-8")
        resp["Content-Range"] = f"bytes */{size}"
        return resp


def _rate(scanned: int, pages: int | None) -> float:
    return round(100 * scanned / pages, 1) if pages else 0.0


def item_progress(scanned: int, pages: int | None, born_digital_only: bool = False) -> dict:
    """One item's digitization progress, counted as ``digitization_rows`` counts it for the
    fonds: scanned pages count at most the item's 页数, so the item page and the fonds page
    agree; more pages scanned than described is flagged (``over``) for the 页数 to be checked.
    An item whose files are all born-digital has nothing to scan and no progress to show."""
    counted = min(scanned, pages) if pages and not born_digital_only else 0
    return {"scanned": scanned, "pages": pages, "counted": counted, "rate": _rate(counted, pages),
            "over": bool(pages) and scanned > pages, "born_digital_only": born_digital_only}


def digitization_rows(items_qs):
    """Per year: items, born-digital items (电子档案, nothing to scan), and of the others:
    pages, pages digitized (an item counts at most its 页数), items fully digitized, items
    with more pages scanned than described, and the rate."""
    paper = ~born_digital_only_q()
    rows = (items_qs.values("year").order_by("-year")
            .annotate(n_items=Count("id"), n_electronic=Count("id", filter=~paper),
                      n_pages=Coalesce(Sum("pages", filter=paper), 0),
                      n_scanned=Coalesce(Sum(Least(F("scanned_pages"), Coalesce(F("pages"), 0)), filter=paper), 0),
                      n_done=Count("id", filter=Q(pages__gt=0, scanned_pages__gte=F("pages")) & paper),
                      n_over=Count("id", filter=Q(pages__gt=0, scanned_pages__gt=F("pages")) & paper)))
    out = []
    for r in rows:
        row = {"year": r["year"], "items": r["n_items"], "electronic": r["n_electronic"], "pages": r["n_pages"],
               "scanned": r["n_scanned"], "done": r["n_done"], "over": r["n_over"]}
        row["rate"] = _rate(row["scanned"], row["pages"])
        out.append(row)
    return out


class DigitizationView(BusinessRequiredMixin, View):
    def get(self, request, pk):
        fonds = get_visible(Fonds, request.user, pk, select_related=("unit",))
        items = Item.objects.visible_to(request.user).filter(fonds=fonds)
        rows = digitization_rows(items)
        total = {k: sum(r[k] for r in rows) for k in ("items", "electronic", "pages", "scanned", "done", "over")}
        total["rate"] = _rate(total["scanned"], total["pages"])
        # the items whose 页数 to check, named (the first 20), not only counted
        over = list(items.filter(pages__gt=0, scanned_pages__gt=F("pages")).order_by("archival_code", "pk")
                    .only("pk", "archival_code", "title", "pages", "scanned_pages")[:20]) if total["over"] else []
        return render(request, "records/digitization.html", {"title": f"{fonds} 数字化进度", "fonds": fonds,
                                                             "rows": rows, "total": total, "over_items": over})


class ScanUploadForm(forms.Form):
    files = MultipleFileField(label="扫描件", help_text="文件名为档号（如 J001-WS·2023-Y-BGS-0001.pdf，同一件多个文件可加"
                                                      "“_1”“_2”后缀），可多选，或上传一个 zip 压缩包。")


class ScanUploadView(BusinessRequiredMixin, View):
    template = "records/scan_upload.html"

    def dispatch(self, request, *args, **kwargs):
        # a read-only account (领导) is told so before it uploads scans that would all come back
        # as “未找到对应档号”: it may change no item, so no 档号 can match
        if request.user.is_authenticated and request.user.is_business and not writes_anywhere(request.user):
            raise PermissionDenied("您的账户只有查看权限，不能挂接扫描件。")
        return super().dispatch(request, *args, **kwargs)

    def get(self, request):
        return render(request, self.template, {"title": "批量挂接扫描件", "form": ScanUploadForm()})

    def post(self, request):
        form = ScanUploadForm(request.POST, request.FILES)
        ctx = {"title": "批量挂接扫描件", "form": form}
        if form.is_valid():
            try:
                ctx["report"] = capture_actions.attach_scans(request.user, form.cleaned_data["files"])
            except ActionError as e:
                ctx["errors"] = e.messages
        return render(request, self.template, ctx)


class CodeFormatForm(UserForm):
    template = forms.CharField(label="档号格式", max_length=120,
                               help_text="可用字段：" + "、".join("{" + f + "}" for f in numbering.FIELDS)
                               + "；无机构代码时该段连同其前的分隔符省略。")
    digits = forms.IntegerField(label="件号位数", min_value=1, max_value=8)
    reason = forms.CharField(label="调整原因", max_length=200)


class CodeFormatView(ObjectActionView):
    model = Fonds
    select_related = ("unit",)
    form_class = CodeFormatForm
    title = "档号格式"
    success_message = "档号格式已修改，仅对今后归档的条目生效。"

    def get_form(self, data=None):
        fonds = self.get_object()
        return self.form_class(data, initial={"template": fonds.code_format, "digits": fonds.piece_digits},
                               **self.form_kwargs())

    def perform(self, data):
        return capture_actions.set_code_format(self.request.user, self.get_object(), template=data["template"],
                                               digits=data["digits"], reason=data["reason"])
