"""The records indexes, kept up to date through the search outbox by ``records.actions``
(capture, update, file, renumber) and the other writers of items. See ``qunli.core.search``.

* ``records.item`` (full text) — one document per item (件): 题名, 责任者, 文件编号, 档号, 备注 and
  the extracted text of its files when there is any: the catalogue and the full text in one
  index. Staff search only.
* ``records.catalogue`` (目录数据库) — the same catalogue fields and nothing else. Every public
  path (portal catalogue search, its xlsx export, the public API) matches and highlights through
  this one: the public sees catalogue information only; a file's content is read through a 利用
  request, watermarked, and must not be findable — let alone quoted in a snippet — by a word
  that only the file contains. Nor does it hold the 备注: a note is the describing staff's own
  remark (a closed case's notes name what was done for the person) and is not published."""

from qunli.core import search

from .models import Item

KIND = "records.item"
CATALOGUE_KIND = "records.catalogue"
FIELDS = ("title", "responsible", "doc_no", "archival_code")  # the public catalogue's
FULLTEXT_FIELDS = (*FIELDS, "note")  # staff: the catalogue fields with the 备注, then the files' text
# written only by capture and update_item, both of which re-enqueue the item
FACETS = ("fonds_id", "year", "category_id", "retention")


def document(item: Item) -> str:
    parts = [getattr(item, f) or "" for f in FULLTEXT_FIELDS]
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

    return Item.objects.only("id", *FULLTEXT_FIELDS, *FACETS).prefetch_related(
        Prefetch("files", queryset=_files_with_text(), to_attr="_indexed_files"))


INDEX = search.register(search.SearchIndex(kind=KIND, model=Item, document=document, queryset=_queryset,
                                           table="search_records_item", facets=FACETS))


def catalogue_document(item: Item) -> str:
    """The public catalogue's text of an item: the catalogue fields only, never file text."""
    return "\n".join(getattr(item, f) or "" for f in FIELDS)


def _catalogue_queryset():
    return Item.objects.only("id", *FIELDS, *FACETS)


# Every item is in it, public or not: the public candidates (``Item.objects.public()``) decide
# what may match at query time, so an opening decision needs no reindexing.
CATALOGUE = search.register(search.SearchIndex(kind=CATALOGUE_KIND, model=Item, document=catalogue_document,
                                               queryset=_catalogue_queryset, table="search_records_catalogue",
                                               facets=FACETS))


def enqueue(pks) -> None:
    pks = list(pks)
    search.enqueue(KIND, pks)
    search.enqueue(CATALOGUE_KIND, pks)
