"""``qunli reindex [--check | --warm] [--kind K]``: drain the search outbox and rebuild the
full-text indexes from the database, or (``--check``) report drift — ids in the database
missing from the index, index rows whose object is gone, stale text digests — exiting 1 when
there is any, or (``--warm``) read the indexes into memory after the database server restarted
(``search.warm``)."""

import sys
import time

from django.core.management.base import BaseCommand, CommandError

from qunli.core import search


class Command(BaseCommand):
    help = "重建全文索引，或（--check）检查索引与数据库是否一致"

    def add_arguments(self, parser):
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--check", action="store_true", help="只检查差异，有差异时以非零状态退出")
        mode.add_argument("--warm", action="store_true", help="把索引读入内存（数据库重启后运行，首批检索不再等磁盘）")
        parser.add_argument("--kind", action="append", help="只处理该类索引（如 records.item），可重复")

    def handle(self, check: bool = False, warm: bool = False, kind=None, **options):
        kinds = kind or search.kinds()
        if warm:
            for k in kinds:
                started = time.perf_counter()
                try:
                    read = search.warm(k)
                except search.WarmError as e:
                    raise CommandError(str(e)) from None
                parts = "，".join(f"{rel} {n / 1048576:.1f} MB" for rel, n in read)
                self.stdout.write(f"{k}: 已读入内存 {parts}（用时 {time.perf_counter() - started:.1f} 秒）")
            return
        if check:
            drifted = False
            for k in kinds:
                d = search.check(k)
                drifted = drifted or bool(d)
                self.stdout.write(f"{k}: 缺失 {len(d.missing)}，多余 {len(d.orphans)}，过期 {len(d.stale)}，"
                                  f"待处理 {d.pending}")
                for label, ids in (("缺失", d.missing), ("多余", d.orphans), ("过期", d.stale)):
                    if ids:
                        self.stdout.write(f"  {label}: {', '.join(map(str, ids[:20]))}{' …' if len(ids) > 20 else ''}")
            if drifted:
                self.stderr.write("索引与数据库不一致，请运行 qunli reindex。")
                sys.exit(1)
            self.stdout.write("索引与数据库一致。")
            return
        drained = search.drain()
        for k in kinds:
            n = search.rebuild(k)
            self.stdout.write(f"{k}: 已重建 {n} 条（先处理了待索引 {drained} 条）")
