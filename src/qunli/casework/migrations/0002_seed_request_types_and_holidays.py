"""Seed the request types (configurable afterwards) and the holiday calendar from the
chinese-calendar package for the years it covers."""

from django.db import migrations

TYPES = [
    # code, name, line code, acknowledge_days, resolve_days
    ("wage_dispute", "劳资纠纷/拖欠工资", "union", 1, 15),
    ("domestic_violence", "家庭暴力/妇女儿童权益", "women", 1, 10),
    ("study_aid", "助学", "ggw", 2, 20),
    ("counselling", "心理辅导", "ggw", 1, 15),
    ("mentoring", "帮教", "ggw", 2, 30),
    ("legal_aid", "法律援助", None, 1, 20),
    ("other", "其他", None, 2, 15),
]


def seed(apps, schema_editor):
    Line = apps.get_model("orgs", "Line")
    RequestType = apps.get_model("casework", "RequestType")
    Holiday = apps.get_model("casework", "Holiday")
    lines = {line.code: line for line in Line.objects.all()}
    for order, (code, name, line, ack, res) in enumerate(TYPES):
        RequestType.objects.get_or_create(code=code, defaults={
            "name": name, "line": lines.get(line), "acknowledge_days": ack, "resolve_days": res, "order": order})
    from qunli.casework.workdays import package_rows

    have = set(Holiday.objects.values_list("date", flat=True))
    Holiday.objects.bulk_create([Holiday(date=d, is_workday=w, name=n) for d, w, n in package_rows() if d not in have])


class Migration(migrations.Migration):
    dependencies = [("casework", "0001_initial"), ("orgs", "0003_seed_lines_and_checklists")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
