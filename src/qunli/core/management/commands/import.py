"""``qunli import KIND FILE --user USERNAME [--dry-run]``: the same engine as the import
pages, with a rich progress bar. Scoping is the named user's: every referenced unit must be
one they may change."""

import hashlib
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from qunli.core.imports import IMPORTERS, run_import
from qunli.core.models import ImportJob, User


class Command(BaseCommand):
    help = "导入单位、人员、会员、五老志愿者、班子成员或队伍成员（全部校验通过才写入）"

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=sorted(IMPORTERS))
        parser.add_argument("file")
        parser.add_argument("--user", required=True, help="以哪个业务账户的权限导入")
        parser.add_argument("--dry-run", action="store_true", help="只校验，不写入")

    def handle(self, kind, file, user, dry_run=False, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"文件不存在：{file}")
        try:
            actor = User.objects.get(username=user, is_active=True)
        except User.DoesNotExist:
            raise CommandError(f"没有名为 {user} 的有效账户") from None
        if not actor.is_business:
            raise CommandError("三员账户不能导入业务数据")
        digest = hashlib.new("sm3")
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        job = ImportJob.objects.create(kind=kind, user=actor, file_name=path.name, file_path=str(path.resolve()),
                                       file_sm3=digest.hexdigest(), status=ImportJob.Status.RUNNING)
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("行"), TimeElapsedColumn(), console=None, transient=False) as bar:
            task = bar.add_task("校验" if dry_run else "导入", total=None)
            out = run_import(kind, path, user=actor, file_name=path.name, commit=not dry_run, job=job,
                             file_sm3=job.file_sm3, progress=lambda n: bar.update(task, completed=n))
        job.total_rows, job.error_rows, job.errors, job.preview = out.total_rows, out.error_rows, out.errors, out.preview
        job.processed_rows, job.created_rows = out.total_rows, out.created_rows
        if out.message:
            job.status, job.message = ImportJob.Status.FAILED, out.message
        elif dry_run:
            job.status, job.message = ImportJob.Status.VALIDATED, f"共{out.total_rows}行，全部校验通过。"
        else:
            job.status, job.message = ImportJob.Status.DONE, f"已导入{out.created_rows}行。"
        job.save()
        for e in out.errors[:50]:
            self.stderr.write(f"第{e['row']}行 {e['column']}：{e['reason']}")
        for w in out.warnings:
            self.stderr.write(f"注意：{w}")
        if out.message:
            raise CommandError(out.message)
        self.stdout.write(self.style.SUCCESS(job.message + f"（任务 {job.pk}）"))
