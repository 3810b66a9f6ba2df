"""The records index: one document per item (件) — 题名, 责任者, 文件编号, 档号 and the
extracted text of its files when there is any — kept up to date through the search outbox by
``records.actions`` (capture, update, file, renumber). See ``qunli.core.search``."""

from qunli.core import search

from .models import Item

KIND = "records.item"
FIELDS = ("title", "responsible", "doc_no", "archival_code")
# written only by capture and update_item, both of which re-enqueue the item
FACETS = ("fonds_id", "year", "category_id", "retention")


def document(item: Item) -> str:
    parts = [getattr(item, f) or "" for f in FIELDS]
    parts.extend(extracted_texts(item))
    return "\n".join(parts)


def extracted_texts(item: Item) -> list[str]:
    """The stored text (``FileContent``, one per digest: never parsed again here) of the
    item's files, each distinct content once, in file order."""
    files = getattr(item, "_indexed_files", None)
    if files is None:
        files = list(_files_with_text().filter(item_id=item.pk))
    seen, out = set(), []
    for f in files:
        if f.sm3 not in seen and f.stored_text:
            seen.add(f.sm3)
            out.append(f.stored_text)
    return out


def _files_with_text():
    from django.db.models import OuterRef, Subquery

    from .file_models import FileContent
    from .models import ItemFile

    text = FileContent.objects.filter(sm3=OuterRef("sm3"), status=FileContent.Status.TEXT).values("text")[:1]
    return ItemFile.objects.only("id", "item_id", "sm3").annotate(stored_text=Subquery(text)).order_by("id")


def _queryset():
    from django.db.models import Prefetch

    return Item.objects.only("id", *FIELDS, *FACETS).prefetch_related(
        Prefetch("files", queryset=_files_with_text(), to_attr="_indexed_files"))


INDEX = search.register(search.SearchIndex(kind=KIND, model=Item, document=document, queryset=_queryset,
                                           table="search_records_item", facets=FACETS))


def enqueue(pks) -> None:
    search.enqueue(KIND, pks)
