"""``qunli extract_files``: derive text, page count and thumbnail for every stored file whose
content (SM3) has not been analysed yet — files captured before extraction existed, or after a
restore of the database without ``records_filecontent``. Each file is parsed in the isolated
child (``records.extract``); a broken file is reported, never deleted. Then the items'
digitized pages are refreshed and their index entries queued (``qunli reindex`` not needed)."""

from django.core.management.base import BaseCommand
from django.db import transaction

from qunli.core import search as fulltext
from qunli.records import extract, search
from qunli.records.actions import refresh_scanned_pages
from qunli.records.file_models import FileContent
from qunli.records.models import Item, ItemFile


class Command(BaseCommand):
    help = "为尚未提取的电子文件提取全文、页数和缩略图（每个内容摘要只处理一次）"

    def handle(self, **options):
        todo = {}
        pending = ItemFile.objects.exclude(sm3__in=FileContent.objects.values("sm3"))
        for sm3, storage_name, name, item_id in pending.values_list(
                "sm3", "storage_name", "name", "item_id").order_by("pk").iterator(chunk_size=2000):
            todo.setdefault(sm3, (storage_name, name, []))[2].append(item_id)
        ok = broken = 0
        items = set()
        for sm3, (storage_name, name, item_ids) in todo.items():
            try:
                extract.ensure_content(sm3, storage_name, name.rsplit(".", 1)[-1] if "." in name else "", name)
                ok += 1
                items.update(item_ids)
            except (extract.BrokenFile, OSError) as e:
                broken += 1
                self.stderr.write(f"{name}（SM3 {sm3[:12]}…）：{e}")
        for item in Item.objects.filter(pk__in=items).only("pk"):
            with transaction.atomic():
                refresh_scanned_pages(item)
        search.enqueue(list(items))
        fulltext.drain()
        self.stdout.write(f"已提取 {ok} 个文件内容，涉及 {len(items)} 个条目；无法解析 {broken} 个。")
