"""``qunli sweep_due [--date YYYY-MM-DD] [--json]``: the daily due-date sweep (due-soon and
overdue notifications, escalation of overdue cases to their supervisors). Idempotent: safe to
run more than once a day, or again after a failure."""

import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError

from qunli.casework.escalation import sweep_due


class Command(BaseCommand):
    help = "到期提醒、超期提醒与超期上报（每日运行，可重复运行）"

    def add_arguments(self, parser):
        parser.add_argument("--date", help="按该日期计算（默认今天），格式 YYYY-MM-DD")
        parser.add_argument("--json", action="store_true", help="输出一行 JSON")

    def handle(self, *args, **opts):
        day = None
        if opts.get("date"):
            try:
                day = dt.date.fromisoformat(opts["date"])
            except ValueError as e:
                raise CommandError("日期格式应为 YYYY-MM-DD。") from e
        result = sweep_due(day)
        if opts.get("json"):
            self.stdout.write(json.dumps(result, ensure_ascii=False))
        else:
            self.stdout.write(f"{result['today']}：即将到期提醒 {result['due_soon']} 条，超期提醒 {result['overdue']} 条，"
                              f"超期上报 {result['escalated']} 件，共新增通知 {result['notified']} 条。")
