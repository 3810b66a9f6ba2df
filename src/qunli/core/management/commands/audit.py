"""``qunli audit verify``: walk both audit chains and report any break."""

from django.core.management.base import BaseCommand, CommandError

from qunli.core.audit import verify_all


class Command(BaseCommand):
    help = "审计日志工具：verify 校验变更日志与访问日志的 SM3 哈希链"

    def add_arguments(self, parser):
        parser.add_argument("op", choices=["verify"])

    def handle(self, op, **options):
        names = {"change": "变更日志", "access": "敏感信息访问日志"}
        broken = 0
        for chain, (checked, breaks) in verify_all().items():
            if breaks:
                broken += len(breaks)
                self.stdout.write(self.style.ERROR(f"{names[chain]}：检查 {checked} 条，发现 {len(breaks)} 处断裂"))
                for b in breaks[:50]:
                    self.stdout.write(f"  第 {b.seq} 条：{b.reason}")
            else:
                self.stdout.write(self.style.SUCCESS(f"{names[chain]}：检查 {checked} 条，哈希链完整"))
        if broken:
            raise CommandError(f"审计日志哈希链有 {broken} 处断裂")
