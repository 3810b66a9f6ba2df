"""``qunli demo [--scale county|city|province] [--seed N] [--force]``: generate demo data.

Refuses to run on a database that already holds units; ``--force`` deletes units, persons,
everything hanging from them and the demo accounts first. The demo accounts share one
published password and skip the first-login password change: demo only, never production."""

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.table import Table

from qunli import demo
from qunli.core.maintenance import refresh_planner_statistics


class Command(BaseCommand):
    help = "生成演示数据（可复现、按种子生成）：单位树、人员、会员、五老、班子、阵地与检查、演示账户"

    def add_arguments(self, parser):
        parser.add_argument("--scale", choices=sorted(demo.SCALES), default="county",
                            help="county≈3千单位/5万人；city≈1.5万单位/50万人；province≈10万单位/500万人")
        parser.add_argument("--seed", type=int, default=demo.DEFAULT_SEED)
        parser.add_argument("--force", action="store_true", help="删除现有单位、人员及演示账户后重新生成")
        parser.add_argument("--fast-unsafe", action="store_true",
                            help="SQLite 关闭日志与同步写（仅用于新建的基准测试缓存库）")

    def handle(self, scale, seed, force, fast_unsafe, **options):
        console = Console(file=self.stdout._out, force_terminal=None)
        try:
            summary = demo.generate(scale=scale, seed=seed, force=force, console=console, fast_unsafe=fast_unsafe)
            refresh_planner_statistics()
        except RuntimeError as e:
            raise CommandError(str(e)) from e
        table = Table(title=f"演示数据（规模 {scale}，种子 {seed}，用时 {summary['seconds']} 秒）")
        table.add_column("项目")
        table.add_column("数量", justify="right")
        labels = {"units": "单位", "persons": "人员", "memberships": "会员（团员）", "volunteers": "五老志愿者",
                  "positions": "班子成员（含历任）", "venues": "阵地", "inspections": "阵地检查", "teams": "队伍"}
        labels_work = {"cases": "个案（各办理环节）", "pairings": "结对帮扶", "visits": "走访记录", "wishes": "微心愿",
                       "projects": "办实事项目", "notices": "网上群团通知", "archive_items": "档案条目（含已归档）"}
        for key, label in labels.items():
            table.add_row(label, f"{summary[key]:,}")
        for key, label in labels_work.items():
            if key in summary.get("work", {}):
                table.add_row(label, f"{summary['work'][key]:,}")
        console.print(table)
        accounts = Table(title=f"演示账户（仅供演示！统一密码 {demo.DEMO_PASSWORD}，免首次改密）")
        accounts.add_column("用户名")
        accounts.add_column("说明")
        for username, display in summary.get("accounts", []):
            accounts.add_row(username, display)
        console.print(accounts)
        console.print(f"县级演示范围：{summary.get('county')}。生产环境请勿使用这些账户。")
