"""``qunli serve``: migrate, collect static assets, create the demo county on first run,
then serve with gunicorn on 127.0.0.1:$PORT (default 8000), with one background worker
(``qunli worker``) beside it for large imports and exports (``--no-worker`` to leave it out
when workers run elsewhere)."""

import os
import subprocess
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "启动群力平台（默认 SQLite、本地文件，首次运行生成示范县演示数据）"

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("QUNLI_WORKERS", "2")))
        parser.add_argument("--no-demo", action="store_true", help="不生成演示数据")
        parser.add_argument("--no-worker", action="store_true", help="不在本机启动后台任务处理进程")

    def handle(self, host, port, workers, no_demo, no_worker=False, **options):
        self.stdout.write("正在准备数据库和前端文件……")
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        from qunli.orgs.models import Unit

        generated = not no_demo and not Unit.objects.exists()
        if generated:
            self.stdout.write("首次运行：正在生成示范县演示数据……")
            call_command("demo", scale="county", seed=2026)  # prints the demo accounts itself
        url = f"http://{host}:{port}/"
        self.stdout.write(self.style.SUCCESS(f"群力已启动：{url}"))
        if not generated:
            self._print_accounts()
        argv = [sys.executable, "-m", "gunicorn", "qunli.wsgi:application", "--bind", f"{host}:{port}",
                "--workers", str(workers), "--access-logfile", "-", "--timeout", "120"]
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qunli.settings")
        sys.stdout.flush()
        if not no_worker:
            # gunicorn replaces this process (same pid): the worker exits when its parent does
            subprocess.Popen([sys.executable, "-m", "qunli.cli", "worker", "--parent-pid", str(os.getpid())])
        os.execv(sys.executable, argv)

    def _print_accounts(self):
        try:
            from qunli.demo import DEMO_ACCOUNTS, DEMO_PASSWORD
        except ImportError:
            return
        from qunli.core.models import User

        present = set(User.objects.filter(username__in=[a[0] for a in DEMO_ACCOUNTS]).values_list("username", flat=True))
        if not present:
            return
        self.stdout.write(f"演示账户（密码均为 {DEMO_PASSWORD}，仅供演示）：")
        for username, label in ((u, lbl) for u, lbl, *_ in DEMO_ACCOUNTS if u in present):
            self.stdout.write(f"  {username:<12} {label}")
