"""``qunli bench NAME [--scale S] [--json]``: run a benchmark scenario from ``bench/``.

A scenario measures Qunli and a named peer in the same run and returns a result built by
``bench.common.result``; with --json the last stdout line is that object."""

import importlib
import json
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


def load_scenario(name: str):
    root = str(settings.PROJECT_DIR)
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        return importlib.import_module(f"bench.{name.replace('-', '_')}")
    except ModuleNotFoundError as e:
        raise CommandError(f"没有名为 {name} 的基准场景（bench/{name.replace('-', '_')}.py）") from e


class Command(BaseCommand):
    help = "运行基准测试场景，并与同场测量的对照（peer）比较"

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--scale", default=None, help="数据规模，各场景自行解释（如 county、city、province 或行数）")
        parser.add_argument("--json", action="store_true", help="最后一行输出 JSON 结果")

    def handle(self, name, scale, json: bool = False, **options):
        scenario = load_scenario(name)
        outcome = scenario.run(scale=scale, stdout=self.stdout)
        if json:
            self.stdout.write(_dumps(outcome))
        else:
            for k, v in outcome.items():
                self.stdout.write(f"{k}: {v}")


def _dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False)
