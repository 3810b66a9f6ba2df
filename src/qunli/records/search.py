"""The records index: one document per item (件) — 题名, 责任者, 文件编号, 档号 and the
extracted text of its files when there is any — kept up to date through the search outbox by
``records.actions`` (capture, update, file, renumber). See ``qunli.core.search``."""

from qunli.core import search

from .models import Item

KIND = "records.item"
FIELDS = ("title", "responsible", "doc_no", "archival_code")


def document(item: Item) -> str:
    parts = [getattr(item, f) or "" for f in FIELDS]
    extracted = getattr(item, "extracted_text", "")  # no text extraction yet; the hook is here
    if extracted:
        parts.append(extracted)
    return "\n".join(parts)


def _queryset():
    return Item.objects.only("id", *FIELDS)


INDEX = search.register(search.SearchIndex(kind=KIND, model=Item, document=document, queryset=_queryset,
                                           table="search_records_item"))


def enqueue(pks) -> None:
    search.enqueue(KIND, pks)
