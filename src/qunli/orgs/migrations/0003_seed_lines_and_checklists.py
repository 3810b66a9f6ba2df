from django.db import migrations

LINES = [
    ("party", "党委群团办", "主任", True),
    ("union", "工会", "主席", False),
    ("league", "共青团", "书记", False),
    ("women", "妇联", "主席", False),
    ("science", "科协", "主席", False),
    ("ggw", "关工委", "主任", False),
    ("disabled", "残联", "理事长", False),
    ("commerce", "工商联", "主席", False),
    ("overseas", "侨联", "主席", False),
    ("archives", "档案", "局长", False),
]

CHECKLISTS = [
    ("七有", "群团阵地“七有”标准", ["workers_home", "youth_home", "womens_home", "care_station", "tutoring"],
     ["有场所", "有牌子", "有制度", "有人员", "有经费", "有活动", "有档案"]),
    ("五有一能", "村级档案室“五有一能”标准", ["archive_room"],
     ["有专门用房", "有专用装具", "有专兼职人员", "有利用制度", "有数据微机", "能提供利用"]),
]


def seed(apps, schema_editor):
    Line = apps.get_model("orgs", "Line")
    for order, (code, name, chair, party) in enumerate(LINES):
        Line.objects.get_or_create(code=code, defaults={"name": name, "chair_title": chair,
                                                        "is_party_office": party, "order": order * 10})
    Checklist = apps.get_model("orgs", "Checklist")
    Item = apps.get_model("orgs", "ChecklistItem")
    for name, desc, kinds, items in CHECKLISTS:
        points = 100 // len(items)
        cl, created = Checklist.objects.get_or_create(
            name=name, defaults={"description": desc, "venue_kinds": kinds, "pass_score": 100 - points})
        if created:
            for i, text in enumerate(items):
                Item.objects.create(checklist=cl, order=i, text=text, points=points)


class Migration(migrations.Migration):
    dependencies = [("orgs", "0002_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
