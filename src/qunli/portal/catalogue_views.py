"""The public archives catalogue (档案目录查询), online use requests, the online reading
room and certificate verification — all without login.

Every item shown, searched, exported or requested here comes from ``Item.objects.public()``
(``records/public.py``) and nothing else: a controlled, unopened, secret, unfiled (or
destroyed) item is a 404 here, never in a list, a search hit or an export. Detail pages show
catalogue fields only; files are never offered — an approved reader sees page images
rendered with a watermark (``records.use.render_page``). Search, its snippets and the export
go through the catalogue index (``records.search.CATALOGUE_KIND``: 题名, 责任者, 文件编号,
档号), never the full-text one: a word found only in a file's text finds nothing here. Anti-abuse as on the other portal
forms: body size limit (413), rate limits per IP, phone and code (429), honeypot (400)."""

from django import forms
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_http_methods

from qunli.core import search as fulltext
from qunli.core.actions import ActionError
from qunli.core.exports import stream_xlsx
from qunli.core.generic import CappedPaginator
from qunli.records import search as records_search
from qunli.records import use
from qunli.records.models import Category, Fonds, Item, Purpose, UseLine

from . import actions, ratelimit
from .forms import PublicForm, name_field, phone_field
from .views import _body_too_big, _flooded, _refuse, _too_big_plain, guarded_form

PAGE = 20
SEARCH_CAP = 500  # hits counted per search (25 pages); beyond that the page asks to narrow with filters
EXPORT_MAX = 1000  # rows in one public export
SESSION_CODE = "portal_use_code"
SESSION_REQUEST = "portal_use_request"
FIELDS = ("id", "fonds__code", "fonds__name", "category__name", "year", "retention", "archival_code", "title",
          "responsible", "date", "doc_no", "pages")
EXPORT_HEADERS = ["档号", "题名", "责任者", "日期", "文件编号", "全宗", "门类", "年度", "保管期限", "页数"]


def public_items():
    """The only queryset of this module (and of the public API)."""
    return Item.objects.public()


class CatalogueFilter(forms.Form):
    q = forms.CharField(label="关键词", max_length=100, required=False)
    fonds = forms.ModelChoiceField(label="全宗", queryset=Fonds.objects.none(), required=False, empty_label="全部全宗")
    year = forms.IntegerField(label="年度", min_value=1000, max_value=9999, required=False)
    category = forms.ModelChoiceField(label="门类", queryset=Category.objects.all(), required=False,
                                      empty_label="全部门类")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # fonds with at least one public item: one correlated EXISTS per fonds on the
        # (fonds, status, year) index, not a scan of the public items
        self.fields["fonds"].queryset = Fonds.objects.filter(Exists(public_items().filter(fonds=OuterRef("pk"))))
        for f in self.fields.values():
            f.widget.attrs["class"] = "form-select" if isinstance(f, forms.ModelChoiceField) else "form-control"


def filtered(data) -> tuple:
    """(public items matching the filters, the search text, the bound form). An invalid
    filter value is ignored (the form shows why); the valid ones still apply."""
    form = CatalogueFilter(data or None)
    qs = public_items()
    q = ""
    if form.is_bound:
        form.is_valid()  # each valid field applies even when another one is not
        d = form.cleaned_data
        q = (d.get("q") or "").strip()
        if d.get("fonds"):
            qs = qs.filter(fonds=d["fonds"])
        if d.get("year"):
            qs = qs.filter(year=d["year"])
        if d.get("category"):
            qs = qs.filter(category=d["category"])
    return qs, q, form


def matching_ids(qs, q: str, limit: int) -> list[int] | None:
    """Ids of the catalogue hits among ``qs`` (newest first), or None when ``q`` is no query.
    The public matches catalogue fields only: the files' text is not public."""
    if not fulltext.parse(q):
        return None
    return [h.pk for h in fulltext.search(records_search.CATALOGUE_KIND, q, qs, limit=limit, snippets=False)]


def snippets(q: str, ids: list[int]) -> dict:
    """Highlighted catalogue text of these (public) items — never a file's text."""
    return fulltext.snippets_for(records_search.CATALOGUE_KIND, q, ids)


def _rows(qs, ids):
    qs = qs.values(*FIELDS)
    if ids is None:
        return qs.order_by("-pk")  # newest first, as search hits are: the primary key, no sort
    found = {r["id"]: r for r in qs.filter(pk__in=ids)}
    return [found[i] for i in ids if i in found]


@require_GET
def catalogue(request):
    qs, q, form = filtered(request.GET)
    if request.GET.get("export") == "xlsx":
        if not ratelimit.hit("catalogue_export_ip", ratelimit.client_ip(request)):
            return _flooded(request)
        ids = matching_ids(qs, q, EXPORT_MAX)
        rows = _rows(qs, ids)
        rows = rows[:EXPORT_MAX] if ids is None else rows
        labels = dict(Item._meta.get_field("retention").choices)
        return stream_xlsx("档案目录", EXPORT_HEADERS, (
            [r["archival_code"], r["title"], r["responsible"], r["date"], r["doc_no"], f"{r['fonds__code']} {r['fonds__name']}",
             r["category__name"], r["year"], labels.get(r["retention"], r["retention"]), r["pages"]] for r in rows))
    ids = matching_ids(qs, q, SEARCH_CAP + 1)
    if ids is None:
        page = CappedPaginator(_rows(qs, None), PAGE).get_page(request.GET.get("page"))
        objs, capped = list(page.object_list), page.paginator.capped
    else:
        capped = len(ids) > SEARCH_CAP
        page = Paginator(ids[:SEARCH_CAP], PAGE).get_page(request.GET.get("page"))
        objs = _rows(qs, list(page.object_list))
        marks = snippets(q, [r["id"] for r in objs])
        for r in objs:
            r["snippet"] = marks.get(r["id"], "")
    params = request.GET.copy()
    params.pop("page", None)
    params.pop("export", None)
    return render(request, "portal/catalogue.html", {"form": form, "q": q, "page": page, "items": objs,
                                                     "capped": capped, "querystring": params.urlencode(),
                                                     "export_max": EXPORT_MAX})


def _public_item(pk) -> Item:
    item = public_items().select_related("fonds__unit", "category").filter(pk=pk).first()
    if item is None:
        raise Http404("该档案不存在或未开放。")
    return item


@require_GET
def item_detail(request, pk):
    return render(request, "portal/catalogue_item.html", {"item": _public_item(pk)})


class UseForm(PublicForm):
    name = name_field()
    phone = phone_field("进入在线阅览时需要后四位；号码加密保存。")
    organization = forms.CharField(label="工作单位（可选）", max_length=100, required=False)
    purpose = forms.ChoiceField(label="利用目的", choices=[("", "请选择"), *Purpose.choices],
                                error_messages={"required": "请选择利用目的。", "invalid_choice": "请选择利用目的。"})
    description = forms.CharField(label="需求说明（可选）", max_length=500, required=False,
                                  widget=forms.Textarea(attrs={"rows": 3}),
                                  help_text="如还需查找其他档案（例如本人某年的婚姻登记档案），请写明，工作人员会帮您调阅。",
                                  error_messages={"max_length": "需求说明不能超过500字。"})
    consent = forms.BooleanField(label="我同意档案部门为办理本次利用使用以上信息。",
                                 error_messages={"required": "请勾选同意，我们才能受理。"})


@require_http_methods(["GET", "POST"])
def request_use(request, pk):
    item = _public_item(pk)

    def perform(d):
        req = use.submit_online(actions.portal_account(), item_pk=item.pk, reader_name=d["name"], phone=d["phone"],
                                purpose=d["purpose"], organization=d["organization"], description=d["description"])
        request.session[SESSION_CODE] = req.code
        request.session[SESSION_REQUEST] = req.pk
        return redirect("portal:use_submitted")

    return guarded_form(request, form_class=UseForm, template="portal/use_request.html", context=lambda: {"item": item},
                        ip_limit="use_ip", phone_limit="use_phone", posts_limit="use_posts_ip", perform=perform,
                        too_big=_too_big_plain)


@require_GET
def use_submitted(request):
    code = request.session.pop(SESSION_CODE, None)
    response = render(request, "portal/use_submitted.html", {"code": code})
    add_never_cache_headers(response)
    return response


class AccessForm(forms.Form):
    code = forms.CharField(label="利用单号", max_length=20, error_messages={"required": "请填写利用单号。"})
    last4 = forms.RegexField(label="手机号后四位", regex=r"^\d{4}$", max_length=4,
                             error_messages={"required": "请填写手机号后四位。", "invalid": "请填写4位数字。"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for f in self.fields.values():
            f.widget.attrs["class"] = "form-control"
        self.fields["last4"].widget.attrs["inputmode"] = "numeric"


def _session_request(request):
    pk = request.session.get(SESSION_REQUEST)
    if not pk:
        return None
    from qunli.records.models import UseRequest

    return UseRequest.objects.filter(pk=pk).select_related("fonds__unit").first()


@require_http_methods(["GET", "POST"])
def reading_room(request):
    """利用单号 + the phone's last four digits open the reader's own request."""
    failed = False
    if request.method == "POST":
        if _body_too_big(request):
            return _refuse(request, 413, "提交内容过大", "提交的内容过大。")
        if not ratelimit.hit("reading_ip", ratelimit.client_ip(request)):
            return _flooded(request)
        form = AccessForm(request.POST)
        if form.is_valid():
            code = use.normalize_code(form.cleaned_data["code"])
            if not ratelimit.hit("reading_code", code):
                return _flooded(request)
            req = use.find_request(code, form.cleaned_data["last4"])
            if req is None:
                failed = True
            else:
                request.session[SESSION_REQUEST] = req.pk
                return redirect("portal:reading_room")
    else:
        form = AccessForm()
        if request.GET.get("other"):  # 查询其他利用单: this browser forgets the open one
            request.session.pop(SESSION_REQUEST, None)
    req = _session_request(request)
    lines = list(req.lines.select_related("item").order_by("id")) if req else []
    for line in lines:
        line.can_read = use.readable(line)
    response = render(request, "portal/reading_room.html", {"form": form, "failed": failed, "req": req,
                                                            "lines": lines})
    add_never_cache_headers(response)
    return response


def _reader_line(request, pk) -> UseLine:
    req = _session_request(request)
    line = UseLine.objects.select_related("item", "request").filter(pk=pk).first() if req else None
    if line is None or line.request_id != req.pk or not use.readable(line):
        raise Http404("该条目不存在、未获批准或阅览期限已过。")
    return line


@require_GET
def read_line(request, pk):
    line = _reader_line(request, pk)
    pages = len(use.page_map(line.item))
    response = render(request, "portal/reading.html", {"line": line, "item": line.item, "req": line.request,
                                                       "pages": range(1, pages + 1)})
    add_never_cache_headers(response)
    return response


@require_GET
def read_page(request, pk, page):
    line = _reader_line(request, pk)
    if not ratelimit.hit("page_ip", ratelimit.client_ip(request)):
        return _flooded(request)
    try:
        data = use.render_page(line, page, actor=actions.portal_account(), reader_name=line.request.reader_name,
                               ip=ratelimit.client_ip(request))
    except ActionError as e:
        raise Http404(e.messages[0]) from None
    response = HttpResponse(data, content_type="image/jpeg")
    add_never_cache_headers(response)
    response["Content-Disposition"] = "inline"
    return response


class VerifyForm(forms.Form):
    code = forms.CharField(label="验证码", max_length=20, error_messages={"required": "请填写证明上的验证码。"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].widget.attrs["class"] = "form-control"


@require_http_methods(["GET", "POST"])
def verify(request):
    cert, failed = None, False
    if request.method == "POST":
        if _body_too_big(request):
            return _refuse(request, 413, "提交内容过大", "提交的内容过大。")
        if not ratelimit.hit("verify_ip", ratelimit.client_ip(request)):
            return _flooded(request)
        form = VerifyForm(request.POST)
        if form.is_valid():
            cert = use.verify_certificate(form.cleaned_data["code"])
            failed = cert is None
    else:
        form = VerifyForm()
    response = render(request, "portal/verify.html", {"form": form, "cert": cert, "failed": failed})
    add_never_cache_headers(response)
    return response
