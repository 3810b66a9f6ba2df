"""``qunli records_check --fonds J001 --user NAME [--json]``: 四性检测 (DA/T 70-2018) of a
fonds' filed items as stored (长期保存), run as a business account that may change the fonds;
the run is saved and logged like one started from the fonds page. Exit status 1 when a
blocking item fails (for schedulers)."""

import json as jsonlib

from django.core.management.base import BaseCommand, CommandError

from qunli.core.actions import ActionError
from qunli.core.models import User
from qunli.records import transfer
from qunli.records.models import Fonds


class Command(BaseCommand):
    help = "对全宗的已归档条目进行四性检测（DA/T 70-2018）"

    def add_arguments(self, parser):
        parser.add_argument("--fonds", required=True, help="全宗号")
        parser.add_argument("--user", required=True, help="执行检测的业务账户（须有该全宗的修改权限）")
        parser.add_argument("--json", action="store_true")

    def handle(self, fonds, user, json: bool = False, **options):
        actor = User.objects.filter(username=user, kind=User.Kind.BUSINESS).first()
        if actor is None:
            raise CommandError(f"业务账户“{user}”不存在。")
        f = Fonds.objects.filter(code=fonds).select_related("unit").first()
        if f is None:
            raise CommandError(f"全宗“{fonds}”不存在。")
        try:
            run = transfer.check_holdings(actor, f)
        except ActionError as e:
            raise CommandError("；".join(e.messages)) from e
        for r in run.results:
            self.stdout.write(f"{r['code']} {r['aspect']} {r['name']}：{r['status_label']}"
                              f"（{r['checked']}，问题 {r['failure_count']}）{r['note']}")
        if json:
            self.stdout.write(_dumps({"check_run": run.pk, "passed": run.passed, "items": run.item_count,
                                      "failed": run.failed_items, "not_performed": run.not_performed_items}))
        if not run.passed:
            raise SystemExit(1)


def _dumps(obj) -> str:
    return jsonlib.dumps(obj, ensure_ascii=False)
