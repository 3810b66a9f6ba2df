"""``qunli export KIND --user NAME [--unit ID] [--unmasked --purpose TEXT] [--out FILE]``: the
re-importable export of the export page (``core.export_jobs``), run here and now.

The same action as the page: the account's scope decides what is in the file, the job and
its change-log row are recorded under that account, sensitive fields are masks unless
``--unmasked`` is given by an account that may change those people, with a purpose (one
access-log row). The job is run in this process; if a ``qunli worker`` claimed it first, this
command waits for it (and reports 已中断 if that worker dies). When the queue itself cannot
take the job (Redis down), the job fails with that message, as on the page. The finished file
is copied to ``--out``."""

import shutil
import time
from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from qunli.core import jobs
from qunli.core.actions import ActionError
from qunli.core.export_jobs import KINDS, start_export
from qunli.core.models import ExportJob, User

FINISHED = (ExportJob.Status.DONE, ExportJob.Status.ERROR, ExportJob.Status.INTERRUPTED)


class Command(BaseCommand):
    help = "按导入模板的列导出 xlsx（以指定账户的数据范围；敏感字段默认脱敏）"

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=sorted(KINDS))
        parser.add_argument("--user", required=True, help="以该账户的身份和数据范围导出")
        parser.add_argument("--unit", type=int, help="只导出该单位及其下级")
        parser.add_argument("--unmasked", action="store_true", help="导出完整身份证号等（需维护权限并填写用途）")
        parser.add_argument("--purpose", default="", help="导出完整信息的用途")
        parser.add_argument("--out", help="输出文件（默认 KIND-时间.xlsx）")

    def handle(self, kind, user, unit=None, unmasked=False, purpose="", out=None, **options):
        from qunli.orgs.models import Unit

        actor = User.objects.filter(username=user, is_active=True).first()
        if actor is None:
            raise CommandError(f"账户 {user} 不存在或已停用")
        root = None
        if unit is not None:
            root = Unit.objects.filter(pk=unit).first()
            if root is None:
                raise CommandError(f"单位 {unit} 不存在")
        try:
            job = start_export(actor, kind, unit=root, unmasked=unmasked, purpose=purpose)
        except (ActionError, PermissionDenied) as e:
            raise CommandError("；".join(getattr(e, "messages", None) or [str(e)])) from e
        job = self._finish(job)
        if job.status != ExportJob.Status.DONE:
            raise CommandError(job.message or "导出失败")
        path = Path(out or f"{kind}-{timezone.localtime():%Y%m%d%H%M}.xlsx")
        shutil.copyfile(job.file_path, path)
        self.stdout.write(self.style.SUCCESS(f"{job.message} 文件：{path}"))

    def _finish(self, job: ExportJob) -> ExportJob:
        from rich.progress import Progress, SpinnerColumn, TextColumn

        with Progress(SpinnerColumn(), TextColumn("{task.description}"), transient=True) as bar:
            task = bar.add_task(f"导出{KINDS[job.kind]}…")
            jobs.export_job_task.call(str(job.pk))  # "skipped" when a worker has it already
            job.refresh_from_db()
            while job.status not in FINISHED:
                if jobs.recover_job(job):  # the worker that took it died: 已中断, not a wait for ever
                    job.refresh_from_db()
                    break
                done = jobs.read_beat(job.pk).get("rows", 0)
                bar.update(task, description=f"导出{KINDS[job.kind]}…（后台进程）{done} 行")
                time.sleep(0.5)
                job.refresh_from_db()
        return job
