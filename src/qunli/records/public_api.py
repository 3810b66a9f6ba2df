"""The public, read-only archives API (no authentication): the open catalogue only.

Every answer comes from ``Item.objects.public()`` through the portal's own filter and search
(``portal.catalogue_views.filtered`` / ``matching_ids``), so the API can show nothing the
public catalogue would not: a controlled, unopened, secret or unfiled item is a 404 here and
never part of a list or a search, and a search matches catalogue fields only (never a file's
text, which is read through a 利用 request)."""

import datetime as dt

from django.http import Http404
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate

from qunli.core.api import NOT_VISIBLE, Id, Pagination

router = Router(tags=["public"], auth=None)

SEARCH_CAP = 2000


class PublicItemOut(Schema):
    id: int
    archival_code: str
    title: str
    responsible: str
    date: dt.date | None
    doc_no: str
    year: int
    retention: str
    pages: int | None
    fonds_id: int = Field(..., description="全宗编号（filters 的 fonds）")
    category_id: int = Field(..., description="门类编号（filters 的 category）")
    fonds_code: str = Field(..., alias="fonds.code")
    fonds_name: str = Field(..., alias="fonds.name")
    category: str = Field(..., alias="category.name")


class PublicFilters(Schema):
    q: str = Field("", max_length=100, description="关键词（检索题名、责任者、文号、档号等目录信息；不检索电子文件内容）")
    fonds: Id | None = Field(None, description="全宗编号")
    year: int | None = Field(None, ge=1000, le=9999, description="年度")
    category: Id | None = Field(None, description="门类编号")


@router.get("/items", response=list[PublicItemOut], summary="开放档案目录",
            description="仅含已开放、非涉密、已归档的档案；无需认证。")
@paginate(Pagination)
def list_items(request, filters: Query[PublicFilters]):
    from qunli.portal.catalogue_views import filtered, matching_ids

    data = {k: v for k, v in filters.dict().items() if v not in (None, "")}
    qs, q, form = filtered(data)
    if form.is_bound and form.errors:  # a fonds or 门类 with no open items: nothing, not everything
        return qs.none()
    qs = qs.select_related("fonds", "category")
    ids = matching_ids(qs, q, SEARCH_CAP)
    if ids is None:
        return qs.order_by("-pk")
    found = {o.pk: o for o in qs.filter(pk__in=ids)}
    return [found[i] for i in ids if i in found]


@router.get("/items/{int:item_id}", response=PublicItemOut, summary="开放档案条目")
def get_item(request, item_id: int):
    from qunli.portal.catalogue_views import public_items

    item = public_items().select_related("fonds", "category").filter(pk=item_id).first()
    if item is None:
        raise Http404(NOT_VISIBLE)
    return item
