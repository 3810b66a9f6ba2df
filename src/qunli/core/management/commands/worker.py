"""``qunli worker``: run background jobs (imports, exports, outbound SMS / WeChat notifications)
from the queue chosen by ``QUNLI_JOBS`` — the database (django-tasks-db's ``db_worker``) or
Redis (django-rq's ``rqworker`` with django-tasks-rq's job class). On start it closes the jobs
of workers that died (core.jobs.recover_interrupted); while it runs it keeps a heartbeat file
so the web pages know a worker is there. ``qunli serve`` starts one beside the web server."""

import atexit
import os
import signal
import threading

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from qunli.core import jobs


class Command(BaseCommand):
    help = "运行后台任务处理进程（大文件导入、导出，短信和微信通知外发）"

    def add_arguments(self, parser):
        parser.add_argument("--burst", action="store_true", help="处理完队列中的任务后退出")
        parser.add_argument("--parent-pid", type=int, default=0, help="该进程退出时随之退出（qunli serve 使用）")
        parser.add_argument("--queue", default="default")

    def handle(self, burst=False, parent_pid=0, queue="default", **options):
        recovered = jobs.recover_interrupted()
        if recovered:
            self.stdout.write(f"已关闭{recovered}个因处理进程退出而中断的任务。")
        ident = jobs.worker_identity()
        beat = jobs.worker_beat_path(ident)
        stop = threading.Event()

        def keep_alive():
            while not stop.wait(jobs.HEARTBEAT_EVERY_S):
                jobs._touch(beat)
                if parent_pid and os.getppid() != parent_pid:  # the web server is gone
                    os.kill(os.getpid(), signal.SIGTERM)
                    return

        jobs._touch(beat, {"worker": ident, "queue": settings.QUNLI_JOBS})
        atexit.register(lambda: beat.unlink(missing_ok=True))
        threading.Thread(target=keep_alive, daemon=True, name="worker-heartbeat").start()
        self.stdout.write(f"后台任务处理进程已启动（队列：{settings.QUNLI_JOBS}，{ident}）")
        self.stdout.flush()
        try:
            if settings.QUNLI_JOBS == "redis":
                call_command("rqworker", queue, job_class="django_tasks_rq.Job", burst=burst,
                             verbosity=options.get("verbosity", 1))
            else:
                call_command("db_worker", queue_name=queue, batch=burst, reload=False, startup_delay=False,
                             interval=1, worker_id=ident[-64:], verbosity=options.get("verbosity", 1))
        finally:
            stop.set()
            beat.unlink(missing_ok=True)
