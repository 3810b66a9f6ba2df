"""``qunli records …``: archives maintenance run by the operator or cron.

- ``qunli records fixity [--all|--due] [--fonds CODE]`` — re-hash the stored files (see
  ``records.fixity``); exit status 1 when a file is missing or altered (for cron/monitoring).
- ``qunli records offsite sync|verify`` — copy missing objects to the off-site copy, re-hash it.
- ``qunli records offsite restore [NAME …] [--problems]`` — bring primary objects back from
  the off-site copy (verified before replacing)."""

import sys

from django.core.management.base import BaseCommand, CommandError

from qunli.core.actions import ActionError


class Command(BaseCommand):
    help = "档案保管：固定性检查、异地备份复制/核验/恢复"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="verb", required=True)
        fx = sub.add_parser("fixity", help="重新计算存储中文件的 SM3 与 SHA-256 并与登记值比对")
        which = fx.add_mutually_exclusive_group()
        which.add_argument("--all", action="store_true", help="检查全部文件")
        which.add_argument("--due", action="store_true", help="只检查到期的文件（默认）")
        fx.add_argument("--fonds", help="只检查该全宗号的文件")
        fx.add_argument("--interval-days", type=int, help="到期间隔（天），默认 QUNLI_FIXITY_INTERVAL_DAYS")
        fx.add_argument("--no-progress", action="store_true", help="不显示进度条")
        fx.add_argument("--keep-going", action="store_true", help="发现问题时仍以 0 退出")
        off = sub.add_parser("offsite", help="异地备份")
        off.add_argument("op", choices=["sync", "verify", "restore"])
        off.add_argument("names", nargs="*", help="restore：要恢复的存储位置（files/xx/…）")
        off.add_argument("--problems", action="store_true", help="restore：恢复最近一次检查中缺失或不符的全部文件")
        off.add_argument("--no-progress", action="store_true")

    def handle(self, verb, **opts):
        if verb == "fixity":
            return self.fixity(**opts)
        return self.offsite(**opts)

    def _progress(self, enabled: bool):
        if not enabled:
            return None, (lambda total: None), (lambda n: None)
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        bar = Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                       TransferSpeedColumn(), TimeRemainingColumn(), transient=True)
        task = bar.add_task("固定性检查", total=None)
        return bar, (lambda total: bar.update(task, total=total)), (lambda n: bar.advance(task, n))

    def fixity(self, all, due, fonds, interval_days, no_progress, keep_going, **_):
        from qunli.records.fixity import run_fixity
        from qunli.records.models import Fonds

        f = None
        if fonds:
            f = Fonds.objects.select_related("unit").filter(code=fonds.strip().upper()).first()
            if f is None:
                raise CommandError(f"全宗号“{fonds}”不存在。")
        bar, on_total, progress = self._progress(not no_progress and sys.stderr.isatty())
        if bar:
            bar.start()
        try:
            run = run_fixity(mode="all" if all else "due", fonds=f, interval_days=interval_days, progress=progress,
                             on_total=on_total)
        finally:
            if bar:
                bar.stop()
        mb = run.bytes_checked / 1024 / 1024
        self.stdout.write(f"固定性检查 #{run.pk}（{run.scope_label}{'，全宗 ' + f.code if f else ''}）："
                          f"对象 {run.objects_checked} 个，{mb:.1f} MB，{run.seconds:.1f} 秒；"
                          f"一致 {run.ok_count}，摘要不符 {run.mismatch_count}，缺失 {run.missing_count}")
        if run.problems and not keep_going:
            sys.exit(1)

    def offsite(self, op, names, problems, **_):
        from qunli.records import offsite

        try:
            if op == "sync":
                out = offsite.sync()
                self.stdout.write(f"异地复制（{out['store']}）：应有 {out['objects']}，已有 {out['already']}，"
                                  f"本次复制 {out['copied']}，因主存储问题跳过 {len(out['skipped'])}")
                for n in out["skipped"]:
                    self.stdout.write(f"  跳过 {n}")
                bad = bool(out["skipped"])
            elif op == "verify":
                out = offsite.verify()
                self.stdout.write(f"异地核验（{out['store']}）：一致 {out['ok']}，缺失 {len(out['missing'])}，"
                                  f"不符 {len(out['mismatch'])}")
                for n in out["missing"]:
                    self.stdout.write(f"  缺失 {n}")
                for n in out["mismatch"]:
                    self.stdout.write(f"  不符 {n}")
                bad = bool(out["missing"] or out["mismatch"])
            else:
                targets = list(names) + (offsite.problem_objects() if problems else [])
                if not targets:
                    raise CommandError("请给出要恢复的存储位置，或使用 --problems。")
                bad = False
                for name in targets:
                    try:
                        out = offsite.restore(None, name)
                        self.stdout.write(f"已恢复 {name}（原文件{out['was']}）")
                    except ActionError as e:
                        bad = True
                        self.stdout.write(f"未恢复 {name}：{'；'.join(e.messages)}")
        except ActionError as e:
            raise CommandError("；".join(e.messages)) from e
        if bad:
            sys.exit(1)
